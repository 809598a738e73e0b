//! How the connection reached this process: systemd socket activation
//! (`LISTEN_PID`/`LISTEN_FDS`/`LISTEN_FDNAMES`, descriptors from 3) or the
//! inetd convention (the connection is stdin/stdout).
//!
//! Owns adopting the inherited descriptors exactly once; never accepts
//! connections or speaks any protocol. The one module of the crate allowed
//! `unsafe` (`OwnedFd::from_raw_fd` has no safe equivalent), each block
//! with a `SAFETY:` comment.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::sys::conn::{Conn, ConnError};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub(crate) const LISTEN_FDS_START: RawFd = 3;

/// More descriptors than any sane unit passes; guards against a corrupt
/// environment making us claim the whole descriptor table.
const MAX_LISTEN_FDS: usize = 4096;

/// Set once descriptors were adopted, so they are never owned twice.
static ADOPTED: AtomicBool = AtomicBool::new(false);

/// Failure to interpret or adopt socket-activation descriptors.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActivationError {
    /// An environment variable is present but malformed.
    #[error("malformed {var}={value:?}")]
    BadVar {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// `LISTEN_FDNAMES` does not name exactly one entry per descriptor.
    #[error("LISTEN_FDNAMES has {names} name(s) for {fds} descriptor(s)")]
    NameCount {
        /// Names given.
        names: usize,
        /// Descriptors given.
        fds: usize,
    },
    /// A descriptor announced by systemd is not open.
    #[error("inherited descriptor {fd} is not usable: {source}")]
    BadFd {
        /// The descriptor number.
        fd: RawFd,
        /// The underlying errno.
        source: Errno,
    },
    /// Descriptors were already adopted earlier in this process.
    #[error("socket-activation descriptors were already taken")]
    AlreadyTaken,
    /// `serve` expects one connection; systemd passed several descriptors.
    #[error("expected one connected socket (Accept=yes), got {0}")]
    NotOneConnection(usize),
    /// Falling back to stdin/stdout failed.
    #[error(transparent)]
    Stdio(#[from] ConnError),
}

/// What the environment announces, before any descriptor is touched.
#[derive(Debug, PartialEq, Eq)]
struct ListenSpec {
    count: usize,
    names: Option<Vec<String>>,
}

/// Interprets the three variables as `sd_listen_fds_with_names` does:
/// missing `LISTEN_PID`/`LISTEN_FDS` or a different pid means "not for us".
fn parse_env(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    my_pid: u32,
) -> Result<Option<ListenSpec>, ActivationError> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    let bad = |var, value: &str| ActivationError::BadVar {
        var,
        value: value.to_owned(),
    };
    let pid: u32 = pid.trim().parse().map_err(|_| bad("LISTEN_PID", pid))?;
    if pid != my_pid {
        return Ok(None);
    }
    let count: usize = fds.trim().parse().map_err(|_| bad("LISTEN_FDS", fds))?;
    if count > MAX_LISTEN_FDS {
        return Err(bad("LISTEN_FDS", fds));
    }
    let names = match names {
        None => None,
        Some(n) => {
            let list: Vec<String> = if n.is_empty() {
                Vec::new()
            } else {
                n.split(':').map(str::to_owned).collect()
            };
            if list.len() != count {
                return Err(ActivationError::NameCount {
                    names: list.len(),
                    fds: count,
                });
            }
            Some(list)
        }
    };
    Ok(Some(ListenSpec { count, names }))
}

/// How many descriptors systemd passed to this process (0 when it was not
/// socket-activated or the variables are malformed), without taking them.
pub(crate) fn passed_fd_count() -> usize {
    let var = |name| std::env::var(name).ok();
    match parse_env(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    ) {
        Ok(Some(spec)) => spec.count,
        _ => 0,
    }
}

/// Takes ownership of the descriptors systemd passed. `LISTEN_FDNAMES`,
/// when set, is only checked for one name per descriptor: a `serve`
/// process needs no names, it serves the one socket it is given.
///
/// Returns an empty list when the process was not socket-activated. The
/// `LISTEN_*` variables are removed (so children do not inherit them) and
/// every descriptor is made close-on-exec. Call early, before other threads
/// exist, because it edits the environment.
pub(crate) fn take_listen_fds() -> Result<Vec<OwnedFd>, ActivationError> {
    let var = |name| std::env::var(name).ok();
    let spec = parse_env(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    );
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let Some(spec) = spec? else {
        return Ok(Vec::new());
    };
    if ADOPTED.swap(true, Ordering::SeqCst) {
        return Err(ActivationError::AlreadyTaken);
    }
    let mut out = Vec::with_capacity(spec.count);
    for fd in (LISTEN_FDS_START..).take(spec.count) {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
            .map_err(|source| ActivationError::BadFd { fd, source })?;
        // SAFETY: `fd` is open (F_SETFD just succeeded) and was handed to this
        // process by its parent per the sd_listen_fds protocol, which this
        // function is the only reader of; ADOPTED guarantees it runs once, so
        // nothing else in the process owns or will close these descriptors.
        out.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(out)
}

/// The connection of a `serve` process: the one socket systemd passed with
/// `Accept=yes`, or else stdin/stdout (inetd `nowait`, or a pipe in tests).
pub(crate) fn connection_from_environment() -> Result<Conn, ActivationError> {
    let mut fds = take_listen_fds()?;
    match fds.len() {
        0 => Ok(Conn::from_stdio()?),
        1 => match fds.pop() {
            Some(fd) => Ok(Conn::from_socket(fd)),
            None => Err(ActivationError::NotOneConnection(0)),
        },
        n => Err(ActivationError::NotOneConnection(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;

    use crate::sys::test_support::{child_command, child_passed, in_child};

    #[test]
    fn parse_follows_sd_listen_fds() {
        assert_eq!(parse_env(None, Some("1"), None, 7).expect("ok"), None);
        assert_eq!(parse_env(Some("8"), Some("1"), None, 7).expect("ok"), None);
        assert_eq!(
            parse_env(Some("7"), Some("2"), None, 7).expect("ok"),
            Some(ListenSpec {
                count: 2,
                names: None
            })
        );
        assert_eq!(
            parse_env(Some("7"), Some("2"), Some("imaps:imap"), 7).expect("ok"),
            Some(ListenSpec {
                count: 2,
                names: Some(vec!["imaps".into(), "imap".into()])
            })
        );
        assert!(matches!(
            parse_env(Some("x"), Some("1"), None, 7),
            Err(ActivationError::BadVar {
                var: "LISTEN_PID",
                ..
            })
        ));
        assert!(matches!(
            parse_env(Some("7"), Some("-1"), None, 7),
            Err(ActivationError::BadVar {
                var: "LISTEN_FDS",
                ..
            })
        ));
        assert!(matches!(
            parse_env(Some("7"), Some("99999"), None, 7),
            Err(ActivationError::BadVar { .. })
        ));
        assert!(matches!(
            parse_env(Some("7"), Some("2"), Some("one"), 7),
            Err(ActivationError::NameCount { names: 1, fds: 2 })
        ));
        assert_eq!(
            parse_env(Some("7"), Some("0"), Some(""), 7).expect("ok"),
            Some(ListenSpec {
                count: 0,
                names: Some(vec![])
            })
        );
    }

    /// Runs in a re-executed test binary whose descriptors 3 and 4 are the
    /// server ends of two socket pairs, like a unit with two sockets.
    #[test]
    fn adopts_real_descriptors_in_child() {
        if in_child() {
            // The parent cannot know our pid before exec; systemd sets it
            // after fork, we do it here in the single-threaded child.
            std::env::set_var("LISTEN_PID", std::process::id().to_string());
            std::env::set_var("LISTEN_FDS", "2");
            std::env::set_var("LISTEN_FDNAMES", "first:second");
            let fds = take_listen_fds().expect("take");
            assert_eq!(fds.len(), 2);
            assert!(
                std::env::var_os("LISTEN_FDS").is_none()
                    && std::env::var_os("LISTEN_PID").is_none()
            );
            for l in &fds {
                let flags = fcntl(l.as_raw_fd(), FcntlArg::F_GETFD).expect("getfd");
                assert!(FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC));
            }
            let mut it = fds.into_iter();
            let first = it.next().expect("first");
            let mut s = UnixStream::from(first);
            s.write_all(b"hello from fd 3").expect("write");
            // A second adoption must not hand out the same descriptors again.
            std::env::set_var("LISTEN_PID", std::process::id().to_string());
            std::env::set_var("LISTEN_FDS", "2");
            assert!(matches!(
                take_listen_fds(),
                Err(ActivationError::AlreadyTaken)
            ));
            return;
        }
        let (server1, mut client1) = UnixStream::pair().expect("pair");
        let (server2, _client2) = UnixStream::pair().expect("pair");
        assert!(run_with_fds_from_3(
            "sys::activation::tests::adopts_real_descriptors_in_child",
            &[server1.as_fd(), server2.as_fd()],
        ));
        drop(server1);
        let mut got = String::new();
        client1.read_to_string(&mut got).expect("read");
        assert_eq!(got, "hello from fd 3");
    }
    /// Runs `test` in a child whose descriptors 3, 4, … are `fds`, as
    /// systemd would arrange them.
    fn run_with_fds_from_3(test: &str, fds: &[BorrowedFd<'_>]) -> bool {
        // Park the descriptors far above 3.. so the dup2 calls cannot clobber
        // one another; close-on-exec keeps these copies out of the child.
        let high: Vec<OwnedFd> = fds
            .iter()
            .map(|fd| fd.try_clone_to_owned().expect("dup"))
            .map(|fd| {
                let raw = fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(100)).expect("dup high");
                // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor,
                // which nothing else owns.
                unsafe { OwnedFd::from_raw_fd(raw) }
            })
            .collect();
        let raws: Vec<RawFd> = high.iter().map(AsRawFd::as_raw_fd).collect();
        let mut cmd = child_command(test);
        // SAFETY: the closure runs between fork and exec and only calls dup2,
        // which is async-signal-safe; `high` outlives the child.
        unsafe {
            cmd.pre_exec(move || {
                for (target, raw) in (LISTEN_FDS_START..).zip(raws.iter()) {
                    nix::unistd::dup2(*raw, target)?;
                }
                Ok(())
            });
        }
        let passed = child_passed(&mut cmd);
        drop(high);
        passed
    }

    /// systemd `Accept=yes`: one connected socket at descriptor 3 becomes
    /// the session's `Conn`.
    #[test]
    fn serve_connection_comes_from_fd_3_in_child() {
        if in_child() {
            std::env::set_var("LISTEN_PID", std::process::id().to_string());
            std::env::set_var("LISTEN_FDS", "1");
            std::env::set_var("LISTEN_FDNAMES", "connection");
            let mut conn = connection_from_environment().expect("conn");
            assert_eq!(conn.peer().expect("peer"), crate::sys::peer::Peer::Unix);
            conn.write_all(b"* OK hello\r\n").expect("write");
            return;
        }
        let (server, mut client) = UnixStream::pair().expect("pair");
        assert!(run_with_fds_from_3(
            "sys::activation::tests::serve_connection_comes_from_fd_3_in_child",
            &[server.as_fd()],
        ));
        drop(server);
        let mut got = String::new();
        client.read_to_string(&mut got).expect("read");
        assert_eq!(got, "* OK hello\r\n");
    }

    #[test]
    fn several_descriptors_are_not_a_serve_connection_in_child() {
        if in_child() {
            std::env::set_var("LISTEN_PID", std::process::id().to_string());
            std::env::set_var("LISTEN_FDS", "2");
            assert!(matches!(
                connection_from_environment(),
                Err(ActivationError::NotOneConnection(2))
            ));
            return;
        }
        let (a, _b) = UnixStream::pair().expect("pair");
        let (c, _d) = UnixStream::pair().expect("pair");
        assert!(run_with_fds_from_3(
            "sys::activation::tests::several_descriptors_are_not_a_serve_connection_in_child",
            &[a.as_fd(), c.as_fd()],
        ));
    }
}
