//! Closing descriptors a launcher left open. A `serve` or `deliver` process
//! may inherit any descriptor its parent had without close-on-exec (inetd,
//! a shell, a test harness whose OpenSSL opened a CA bundle in another
//! thread): one pointing outside the user directory would survive the
//! chroot and defeat it. Owns that clean-up; never closes stdio or the
//! sockets systemd passed on purpose.

use std::io;
use std::os::fd::RawFd;

use super::activation::{passed_fd_count, LISTEN_FDS_START};

/// Closes every descriptor above 2 except those passed by systemd socket
/// activation. Must run first thing in `main`, before any thread exists and
/// before anything in this process opened a descriptor of its own. Returns
/// the descriptors it closed, for the log.
pub(crate) fn close_inherited() -> io::Result<Vec<RawFd>> {
    let keep = passed_fd_count();
    let keep = LISTEN_FDS_START..LISTEN_FDS_START.saturating_add(keep as RawFd);
    let open = open_fds()?;
    let mut closed = Vec::new();
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // Nothing in this process owns these descriptors yet (see the
            // function's contract), so closing them invalidates no handle.
            if nix::unistd::close(fd).is_ok() {
                closed.push(fd);
            }
        }
    }
    Ok(closed)
}

/// The descriptors open in this process, from `/proc/self/fd`. The
/// directory handle used to list them is closed before this returns, so it
/// is never in the result's effect.
fn open_fds() -> io::Result<Vec<RawFd>> {
    let mut fds = Vec::new();
    let dir = std::fs::read_dir("/proc/self/fd")?;
    for entry in dir {
        let entry = entry?;
        if let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            fds.push(fd);
        }
    }
    // The listing included the directory's own descriptor, which is closed
    // now; closing it again would fail harmlessly, but skip it anyway.
    fds.retain(|&fd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok());
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::{child_command, child_passed, in_child};

    #[test]
    fn inherited_descriptors_are_closed_stdio_kept() {
        if in_child() {
            let f = std::fs::File::open("/proc/self/status").expect("open");
            let fd = std::os::fd::IntoRawFd::into_raw_fd(f);
            let closed = close_inherited().expect("close");
            assert!(closed.contains(&fd), "{fd} not closed: {closed:?}");
            assert!(nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err());
            assert!(nix::fcntl::fcntl(1, nix::fcntl::FcntlArg::F_GETFD).is_ok());
            return;
        }
        let mut cmd = child_command("sys::fds::tests::inherited_descriptors_are_closed_stdio_kept");
        assert!(child_passed(&mut cmd));
    }
}
