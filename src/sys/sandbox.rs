//! The kernel sandbox of a logged-in IMAP session: after the chroot into
//! the user's directory and the drop to its owner (`no_new_privs` already
//! set), Landlock confines file access to that directory where the kernel
//! supports it, and a seccomp allow-list confines the process to the
//! system calls a session makes; any other call kills the process (only
//! that session: one process per connection).
//!
//! Owns the list and its installation; never decides *when* a process is
//! sandboxed (the caller does, after isolating it) and never loosens the
//! list at run time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Why the sandbox could not be installed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SandboxError {
    /// The filter could not be built (an unsupported architecture).
    #[error("building the seccomp filter: {0}")]
    Build(String),
    /// The kernel refused the filter.
    #[error("installing the seccomp filter: {0}")]
    Install(String),
    /// The kernel supports Landlock but refused the ruleset.
    #[error("restricting file access with Landlock: {0}")]
    Landlock(String),
}

/// What the sandbox achieved, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LandlockState {
    /// File access is confined to the directory.
    Enforced,
    /// Confined for the access rights this kernel knows.
    PartiallyEnforced,
    /// The kernel has no Landlock: the chroot alone confines file access.
    Unsupported,
}

/// The system calls a session makes after login: socket I/O on the
/// descriptors it already holds (TLS, COMPRESS), files under its directory
/// (message files, logs, spool filing, PURGE, password change: open, read,
/// write, mkdir, rename, link, unlink, fsync, syncfs, flock), IDLE
/// (inotify, poll), memory, time, signals and exit. Absent on purpose,
/// among others: socket, connect, bind, execve, fork/clone of processes,
/// ptrace, mount, chroot, set*id, kernel keyrings, bpf, io_uring.
const ALLOWED: &[libc::c_long] = &[
    // I/O on open descriptors.
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_lseek,
    libc::SYS_close,
    libc::SYS_fcntl,
    libc::SYS_ioctl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_shutdown,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_getpeername,
    libc::SYS_getsockname,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_select,
    libc::SYS_pselect6,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_pipe2,
    // Files under the directory.
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_stat,
    libc::SYS_fstat,
    libc::SYS_lstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_access,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getdents64,
    libc::SYS_readlink,
    libc::SYS_readlinkat,
    libc::SYS_mkdir,
    libc::SYS_mkdirat,
    libc::SYS_rmdir,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_link,
    libc::SYS_linkat,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_symlinkat,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_syncfs,
    libc::SYS_sync_file_range,
    libc::SYS_flock,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_chmod,
    libc::SYS_utimensat,
    libc::SYS_futimesat,
    libc::SYS_umask,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_fadvise64,
    libc::SYS_copy_file_range,
    libc::SYS_sendfile,
    // IDLE.
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    // Memory.
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    // Time, randomness, identity.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_time,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_getrandom,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getgroups,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    libc::SYS_getrlimit,
    libc::SYS_prlimit64,
    libc::SYS_getrusage,
    libc::SYS_sched_getaffinity,
    libc::SYS_sched_yield,
    // Threads of the runtime, signals, exit.
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_alarm,
    libc::SYS_setitimer,
    libc::SYS_getitimer,
    libc::SYS_timer_create,
    libc::SYS_timer_settime,
    libc::SYS_timer_delete,
    libc::SYS_kill,
    libc::SYS_tgkill,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// The allow-list as a seccomp program for this machine; kills the process
/// on any other call.
pub(crate) fn filter() -> Result<BpfProgram, SandboxError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SandboxError::Build(e.to_string()))?;
    let build = |e: seccompiler::BackendError| SandboxError::Build(e.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|&n| (n, Vec::new())).collect();
    // SEARCH and SORT run on scoped threads: `clone` is allowed only for a
    // thread (CLONE_THREAD set), never a new process; naming a thread is
    // the one `prctl` allowed.
    let thread =
        u64::try_from(libc::CLONE_THREAD).map_err(|e| SandboxError::Build(e.to_string()))?;
    let cond = |arg, op, value| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value)
            .and_then(|c| SeccompRule::new(vec![c]))
            .map_err(build)
    };
    rules.insert(
        libc::SYS_clone,
        vec![cond(0, SeccompCmpOp::MaskedEq(thread), thread)?],
    );
    // Passed here so that the ENOSYS of [`no_clone3`] (installed with
    // it, always) decides: a kill here would win over that errno.
    rules.insert(libc::SYS_clone3, Vec::new());
    rules.insert(
        libc::SYS_prctl,
        vec![cond(0, SeccompCmpOp::Eq, libc::PR_SET_NAME as u64)?],
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(build)?;
    filter.try_into().map_err(build)
}

/// `clone3` passes its flags in memory, where a filter cannot look: it
/// answers ENOSYS, so the C library falls back to `clone`, whose flags
/// the allow-list checks. A second filter, because one filter has one
/// action for its matches; the kernel applies the stricter result.
pub(crate) fn no_clone3() -> Result<BpfProgram, SandboxError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SandboxError::Build(e.to_string()))?;
    let build = |e: seccompiler::BackendError| SandboxError::Build(e.to_string());
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [(libc::SYS_clone3, Vec::new())].into();
    let errno = u32::try_from(libc::ENOSYS).map_err(|e| SandboxError::Build(e.to_string()))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        arch,
    )
    .map_err(build)?;
    filter.try_into().map_err(build)
}

/// Confines the (chrooted, dropped, `no_new_privs`) process: Landlock to
/// the current root, i.e. the user's directory, then the seccomp
/// allow-list on every thread. A kernel without Landlock is not an error;
/// the caller logs the returned state once.
pub(crate) fn confine() -> Result<LandlockState, SandboxError> {
    let landlock = restrict_files_to_root()?;
    // The allow-list last: it does not allow `seccomp` itself.
    for program in [no_clone3()?, filter()?] {
        seccompiler::apply_filter_all_threads(&program)
            .map_err(|e| SandboxError::Install(e.to_string()))?;
    }
    Ok(landlock)
}

/// Whether "no Landlock" has been reported by this process already.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// True the first time it is called: the absence of Landlock is logged once.
pub(crate) fn first_report() -> bool {
    !REPORTED.swap(true, Ordering::Relaxed)
}

/// Every file access right Landlock knows, granted beneath `/` (after the
/// chroot: the user's directory) and nowhere else.
fn restrict_files_to_root() -> Result<LandlockState, SandboxError> {
    use landlock::{
        path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, ABI,
    };
    let err = |e: landlock::RulesetError| SandboxError::Landlock(e.to_string());
    let abi = ABI::V5;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_all(abi)))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockState::Enforced,
        RulesetStatus::PartiallyEnforced => LandlockState::PartiallyEnforced,
        RulesetStatus::NotEnforced => LandlockState::Unsupported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_builds_for_this_machine_and_names_no_escape() {
        assert!(!filter().expect("filter").is_empty());
        for forbidden in [
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_ptrace,
            libc::SYS_chroot,
            libc::SYS_setuid,
            libc::SYS_mount,
            libc::SYS_fork,
            libc::SYS_vfork,
        ] {
            assert!(!ALLOWED.contains(&forbidden), "{forbidden}");
        }
    }

    /// The filter's deny behaviour, through the library: a re-executed
    /// child installs it (after `no_new_privs`, as a session has) and then
    /// makes a call outside the list (`socket`); the kernel kills that
    /// process with SIGSYS, and this one goes on.
    #[test]
    fn a_call_outside_the_list_kills_only_the_confined_process() {
        use crate::sys::test_support::{child_command, in_child};
        use std::os::unix::process::ExitStatusExt;
        if in_child() {
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            seccompiler::apply_filter(&no_clone3().expect("filter")).expect("apply");
            seccompiler::apply_filter(&filter().expect("filter")).expect("apply");
            // Allowed calls still work, threads included (SEARCH, SORT).
            let _ = std::fs::metadata("/");
            std::thread::scope(|s| {
                s.spawn(|| std::fs::metadata("/").is_ok());
            });
            let _ = std::net::UdpSocket::bind("127.0.0.1:0");
            // Not reached: the socket call above kills the process.
            println!("survived-a-forbidden-call");
            return;
        }
        let out = child_command(
            "sys::sandbox::tests::a_call_outside_the_list_kills_only_the_confined_process",
        )
        .output()
        .expect("spawn child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("survived-a-forbidden-call"), "{stdout}");
        assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{:?}", out.status);
    }
}
