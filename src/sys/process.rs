//! Running a piece of work in a short-lived forked child and waiting for
//! it: the LMTP server's way of writing as each recipient's uid, inside
//! that recipient's directory, without ever giving up its own root (which
//! it needs for the next recipient). Owns `fork`, `_exit`, `waitpid` and
//! the `kill` of a child that overstayed; never decides what the child
//! does or how long it may take.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
}

/// Why no child could be run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForkError {
    /// The process has more than one thread, where a forked child could
    /// find a lock held forever.
    #[error("refusing to fork: the process has {0} threads")]
    Threaded(usize),
    /// `fork`, `pipe` or `sigaction` failed.
    #[error("fork: {0}")]
    Fork(Errno),
    /// `waitpid` failed.
    #[error("waitpid: {0}")]
    Wait(Errno),
    /// `kill` failed.
    #[error("kill: {0}")]
    Kill(Errno),
}

/// The number of threads of this process, where `/proc` tells it.
pub(crate) fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Starts `work` in a forked child and returns its pid; the child first
/// closes its copies of `close_in_child` (pipe ends meant for its
/// siblings, so their end-of-file still means "the parent is gone"). The
/// child's exit
/// code is what `work` returns (70, EX_SOFTWARE, if it panics). The child
/// leaves through `_exit`, so no exit handler or buffer of the parent runs
/// twice. Reap it with [`wait_child`].
///
/// The caller must be single-threaded; this is checked through `/proc`
/// where it is visible (before any chroot).
pub(crate) fn spawn_child(
    close_in_child: &[BorrowedFd<'_>],
    work: impl FnOnce() -> i32,
) -> Result<Pid, ForkError> {
    let to_close: Vec<RawFd> = close_in_child.iter().map(|fd| fd.as_raw_fd()).collect();
    if let Some(n) = thread_count().filter(|&n| n > 1) {
        return Err(ForkError::Threaded(n));
    }
    // A launcher may have left SIGCHLD ignored, which makes the kernel reap
    // children itself and waitpid fail with ECHILD: restore the default.
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing the default disposition runs no handler code, so
    // nothing can be interrupted in an unsafe state.
    unsafe { sigaction(Signal::SIGCHLD, &default) }.map_err(ForkError::Fork)?;
    // SAFETY: fork is sound in a single-threaded process: the child gets a
    // copy of the only thread, so no lock can be held by a thread that does
    // not exist in the child. The check above refuses a threaded process
    // when /proc is visible; the LMTP session, the only caller, starts no
    // threads (its logger and I/O are synchronous).
    let forked = unsafe { fork() }.map_err(ForkError::Fork)?;
    match forked {
        ForkResult::Child => {
            for fd in to_close {
                // The parent's objects owning these are never dropped in
                // the child (it leaves through _exit), so nothing closes
                // them twice.
                let _ = nix::unistd::close(fd);
            }
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(70);
            // SAFETY: _exit takes a plain integer, cannot fail and never
            // returns; it ends only this (child) process.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// Waits for child `pid` to end.
pub(crate) fn wait_child(pid: Pid) -> Result<ChildStatus, ForkError> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ChildStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ChildStatus::Signaled(sig)),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(ForkError::Wait(e)),
        }
    }
}

/// Waits for child `pid` to end until `deadline`, then kills it and
/// reaps it: for a child whose outcome is already known, which its owner
/// may have stopped (`kill -STOP`) before it could exit. Polls (1 ms,
/// doubling up to 50 ms): a child that already reported exits at once.
pub(crate) fn reap_child_by(
    pid: Pid,
    deadline: std::time::Instant,
) -> Result<ChildStatus, ForkError> {
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ChildStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ChildStatus::Signaled(sig)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(ForkError::Wait(e)),
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            kill_child(pid)?;
            return wait_child(pid);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
    }
}

/// Kills child `pid` (`SIGKILL`, which also ends a stopped one); reap it
/// with [`wait_child`].
pub(crate) fn kill_child(pid: Pid) -> Result<(), ForkError> {
    nix::sys::signal::kill(pid, Signal::SIGKILL).map_err(ForkError::Kill)
}

/// A pipe: (read end, write end).
pub(crate) fn pipe() -> Result<(std::fs::File, std::fs::File), ForkError> {
    let (r, w) = nix::unistd::pipe().map_err(ForkError::Fork)?;
    Ok((r.into(), w.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test harness runs tests on threads, so these call the parts that
    // do not fork, and the fork itself is covered by the LMTP end-to-end
    // tests through the real binary.
    #[test]
    fn threads_are_counted_and_forking_refused_when_threaded() {
        let handle = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(1)));
        assert!(thread_count().is_some_and(|n| n > 1));
        assert!(matches!(
            spawn_child(&[], || 0),
            Err(ForkError::Threaded(_))
        ));
        handle.join().unwrap();
    }
}
