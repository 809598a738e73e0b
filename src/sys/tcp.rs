//! TCP socket options that `nix` does not wrap: today only `TCP_QUICKACK`.
//! Owns nothing but the call; never decides when it is made (`conn` does).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;

/// Sends the ACK of what was read so far on `fd` now instead of up to
/// 40 ms later (`TCP_QUICKACK`). Anything but a TCP socket is left alone
/// (the call fails with ENOTSOCK or EOPNOTSUPP, which callers ignore).
pub(crate) fn ack_now(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: setsockopt reads exactly `len` bytes from `&on`, a live c_int
    // on this stack frame, and writes no memory; `fd` is borrowed, so the
    // descriptor stays open for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            std::ptr::from_ref(&on).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn quickack_is_set_on_tcp_and_refused_elsewhere() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        ack_now(client.as_fd()).expect("TCP takes TCP_QUICKACK");
        let (a, _b) = std::os::unix::net::UnixStream::pair().expect("pair");
        assert!(ack_now(a.as_fd()).is_err(), "a UNIX socket refuses it");
    }
}
