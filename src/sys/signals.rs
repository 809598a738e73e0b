//! Child-process bookkeeping for the `listen` super-server.
//!
//! Decision: no SIGCHLD handler. `listen` waits in `poll` with a bounded
//! timeout (see [`REAP_INTERVAL`]) and calls [`reap_children`] after every
//! wake-up, so exited children are collected within that interval without
//! async-signal-safety concerns or a self-pipe. SIGPIPE is left as Rust
//! sets it (ignored), so broken connections surface as `EPIPE` errors.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The longest a super-server should block before reaping again.
pub const REAP_INTERVAL: Duration = Duration::from_secs(1);

/// Failure of `waitpid` other than "no children".
#[derive(Debug, thiserror::Error)]
#[error("waitpid failed: {0}")]
pub struct ReapError(#[source] pub Errno);

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// Exited with this status code.
    Exited(Pid, i32),
    /// Killed by this signal number.
    Signaled(Pid, i32),
}

impl ChildExit {
    /// The child's pid.
    pub fn pid(&self) -> Pid {
        match self {
            ChildExit::Exited(p, _) | ChildExit::Signaled(p, _) => *p,
        }
    }
}

/// Collects every child that has already exited, without blocking.
/// Returns them in the order the kernel reported; empty when none exited
/// (or there are no children at all).
pub fn reap_children() -> Result<Vec<ChildExit>, ReapError> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(out),
            Ok(WaitStatus::Exited(pid, code)) => out.push(ChildExit::Exited(pid, code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) => out.push(ChildExit::Signaled(pid, sig as i32)),
            // Stops and continues are not terminations; keep looking.
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(ReapError(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Instant;

    use crate::sys::test_support::{child_command, child_passed, in_child};

    /// Reaping takes any child of the process, which would steal the
    /// children other tests wait for; so the body runs in its own process.
    // The children are deliberately reaped by `reap_children`, not `wait`.
    #[allow(clippy::zombie_processes)]
    #[test]
    fn reaps_exited_children_without_blocking() {
        if !in_child() {
            assert!(child_passed(&mut child_command(
                "sys::signals::tests::reaps_exited_children_without_blocking"
            )));
            return;
        }
        let a = Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("spawn");
        let b = Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .spawn()
            .expect("spawn");
        let sleeper = Command::new("sleep").arg("5").spawn().expect("spawn");
        let want_a = Pid::from_raw(i32::try_from(a.id()).expect("pid"));
        let want_b = Pid::from_raw(i32::try_from(b.id()).expect("pid"));
        let sleeper_pid = Pid::from_raw(i32::try_from(sleeper.id()).expect("pid"));
        let mut seen = Vec::new();
        let start = Instant::now();
        while seen.len() < 2 && start.elapsed() < Duration::from_secs(10) {
            let reaped = reap_children().expect("reap");
            assert!(
                reaped.iter().all(|c| c.pid() != sleeper_pid),
                "a live child was reaped"
            );
            seen.extend(
                reaped
                    .into_iter()
                    .filter(|c| c.pid() == want_a || c.pid() == want_b),
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(seen.contains(&ChildExit::Exited(want_a, 3)), "{seen:?}");
        assert!(seen.contains(&ChildExit::Signaled(want_b, 15)), "{seen:?}");
        nix::sys::signal::kill(sleeper_pid, nix::sys::signal::Signal::SIGKILL).expect("kill");
        let start = Instant::now();
        let mut gone = false;
        while !gone && start.elapsed() < Duration::from_secs(10) {
            gone = reap_children()
                .expect("reap")
                .contains(&ChildExit::Signaled(sleeper_pid, 9));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone);
    }
}
