//! `Conn`: the client connection as one bidirectional byte stream, whether it
//! arrived as a single socket (systemd `Accept=yes`, `listen`) or as a pair of
//! descriptors (inetd's stdin/stdout, pipes in tests).
//!
//! Owns reading with an idle timeout and the isolation of stdio; never
//! buffers, parses or encrypts (TLS and IMAP sit on top of it).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::sys::peer::{self, Peer, PeerError};
use crate::sys::poll::{self, PollError};
use crate::sys::tcp;

/// Failure to set up a connection from the process's descriptors.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    /// Duplicating standard input or output failed (e.g. it is closed).
    #[error("cannot take over {which}: {source}")]
    Dup {
        /// Which descriptor.
        which: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Pointing a standard descriptor at `/dev/null` failed.
    #[error("cannot detach {which} from the connection: {source}")]
    Detach {
        /// Which descriptor.
        which: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

/// A connected byte stream to one client.
///
/// Reads come from the read side, writes go to the write side (the same
/// descriptor for a socket). With a read timeout set, a read that sees no
/// data within the timeout fails with [`io::ErrorKind::TimedOut`], which is
/// what an idle-logout timer needs; the timeout applies the same way to
/// sockets and pipes because it is implemented with `poll`.
#[derive(Debug)]
pub(crate) struct Conn {
    read: File,
    write: Option<File>,
    read_timeout: Option<Duration>,
    /// A moment after which no read waits any more, whatever the per-read
    /// timeout: bounds a whole command (or the whole unauthenticated
    /// state), so a byte every few seconds cannot hold the process.
    deadline: Option<Instant>,
}

impl Conn {
    /// A connection over one connected socket.
    pub(crate) fn from_socket(fd: OwnedFd) -> Conn {
        Conn {
            read: File::from(fd),
            write: None,
            read_timeout: None,
            deadline: None,
        }
    }

    /// A connection reading from `read` and writing to `write`.
    pub(crate) fn from_pair(read: OwnedFd, write: OwnedFd) -> Conn {
        Conn {
            read: File::from(read),
            write: Some(File::from(write)),
            read_timeout: None,
            deadline: None,
        }
    }

    /// The inetd case: the connection is standard input and output.
    ///
    /// Both are duplicated into the `Conn`, then descriptors 0 and 1 (and 2,
    /// when inetd made it the same socket) are pointed at `/dev/null`, so a
    /// stray print can never inject bytes into the protocol stream. Call this
    /// before any chroot: it opens `/dev/null`.
    pub(crate) fn from_stdio() -> Result<Conn, ConnError> {
        let stdin = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| ConnError::Dup {
                which: "stdin",
                source,
            })?;
        let stdout = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| ConnError::Dup {
                which: "stdout",
                source,
            })?;
        let stderr_is_conn = same_file(io::stderr().as_fd(), stdin.as_fd())
            || same_file(io::stderr().as_fd(), stdout.as_fd());
        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|source| ConnError::Detach {
                which: "stdio",
                source,
            })?;
        let mut targets = vec![("stdin", 0), ("stdout", 1)];
        if stderr_is_conn {
            targets.push(("stderr", 2));
        }
        for (which, fd) in targets {
            nix::unistd::dup2(null.as_raw_fd(), fd).map_err(|e| ConnError::Detach {
                which,
                source: e.into(),
            })?;
        }
        Ok(Conn::from_pair(stdin, stdout))
    }

    /// Clears `O_NONBLOCK` on both sides. Some launchers (systemd's
    /// `systemd-socket-activate`, for one) hand over non-blocking sockets,
    /// while the session relies on blocking reads and writes with `poll`
    /// for its timeouts.
    pub(crate) fn make_blocking(&self) -> io::Result<()> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let sides = [Some(&self.read), self.write.as_ref()];
        for f in sides.into_iter().flatten() {
            let flags = fcntl(f.as_raw_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
            let mut flags = OFlag::from_bits_truncate(flags);
            if flags.contains(OFlag::O_NONBLOCK) {
                flags.remove(OFlag::O_NONBLOCK);
                fcntl(f.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
            }
        }
        Ok(())
    }

    /// Turns off Nagle's algorithm on TCP connections. A response written
    /// in several TLS records otherwise waits for the client's delayed ACK
    /// (40 ms on Linux) before its last packet leaves. Other kinds of
    /// descriptor (UNIX sockets, pipes) are left alone.
    pub(crate) fn set_nodelay(&self) {
        use nix::sys::socket::{setsockopt, sockopt::TcpNoDelay};
        let sides = [Some(&self.read), self.write.as_ref()];
        for f in sides.into_iter().flatten() {
            // ENOTSOCK / EOPNOTSUPP simply mean "not TCP": nothing to do.
            let _ = setsockopt(f, TcpNoDelay, &true);
        }
    }

    /// Bounds how long one write may block on a socket (`SO_SNDTIMEO`): a
    /// client that stops reading then ends its session instead of holding
    /// the process forever. Non-sockets are left alone.
    pub(crate) fn set_write_timeout(&self, timeout: Duration) {
        use nix::sys::socket::{setsockopt, sockopt::SendTimeout};
        use nix::sys::time::TimeVal;
        let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX);
        let tv = TimeVal::new(secs, 0);
        let sides = [Some(&self.read), self.write.as_ref()];
        for f in sides.into_iter().flatten() {
            // ENOTSOCK simply means "not a socket": nothing to bound.
            let _ = setsockopt(f, SendTimeout, &tv);
        }
    }

    /// Sets (or clears, with `None`) the idle timeout applied to each read.
    pub(crate) fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Sets (or clears, with `None`) the deadline every read is bounded by
    /// besides the per-read timeout; past it a read fails with
    /// [`io::ErrorKind::TimedOut`].
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Waits until the read side has data or end-of-file (`true`), or the
    /// timeout elapses (`false`). `None` waits forever.
    ///
    /// Under TLS, check the TLS layer's own buffer before waiting here: data
    /// it already decrypted no longer shows on the descriptor.
    pub(crate) fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool, PollError> {
        let ready = poll::wait_any(&[self.read.as_fd()], timeout)?;
        Ok(ready.first().copied().unwrap_or(false))
    }

    /// Before a read that may block: sends the ACK of what was read so
    /// far now (`sys::tcp::ack_now`). A client that sends a command in
    /// several TLS records without `TCP_NODELAY` (Python's `ssl`, for one)
    /// holds back its last, short packet until the earlier ones are
    /// acknowledged (Nagle), and Linux delays that ACK hoping to piggyback
    /// it on a response, which only comes once the command is complete:
    /// every APPEND of more than 16 KB stalled 40 ms on that.
    fn ack_now(&self) {
        // Not TCP (a socket pair from inetd, a pipe): nothing to speed up.
        let _ = tcp::ack_now(self.read.as_fd());
    }

    /// Who is at the other end (classified from the read side).
    pub(crate) fn peer(&self) -> Result<Peer, PeerError> {
        peer::peer_of(self.read.as_fd())
    }

    fn writer(&self) -> &File {
        self.write.as_ref().unwrap_or(&self.read)
    }
}

/// Whether two descriptors refer to the same open object (device and inode).
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    let stat = |fd: BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .and_then(|o| File::from(o).metadata())
    };
    match (stat(a), stat(b)) {
        (Ok(x), Ok(y)) => super::durable::same_inode(&x, &y),
        _ => false,
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        let timeout = match (self.read_timeout, left) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        };
        if let Some(timeout) = timeout {
            self.ack_now();
            match self.wait_readable(Some(timeout)) {
                Ok(true) => {}
                Ok(false) if left.is_some_and(|l| l <= timeout) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
                }
                Ok(false) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle too long",
                    ))
                }
                Err(PollError::Poll { source, .. }) => return Err(io::Error::from(source)),
            }
        }
        (&self.read).read(buf)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Unbuffered: every write already reached the kernel.
        Ok(())
    }
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn is_timeout(e: &io::Error) -> bool {
        e.kind() == io::ErrorKind::TimedOut
    }

    #[test]
    fn pipe_pair_reads_and_writes() {
        let (to_server_r, to_server_w) = nix::unistd::pipe().expect("pipe");
        let (from_server_r, from_server_w) = nix::unistd::pipe().expect("pipe");
        let mut conn = Conn::from_pair(to_server_r, from_server_w);
        File::from(to_server_w)
            .write_all(b"a1 NOOP\r\n")
            .expect("client write");
        let mut buf = [0u8; 16];
        let n = conn.read(&mut buf).expect("read");
        assert_eq!(buf.get(..n), Some(&b"a1 NOOP\r\n"[..]));
        conn.write_all(b"a1 OK\r\n").expect("write");
        drop(conn);
        let mut out = Vec::new();
        File::from(from_server_r)
            .read_to_end(&mut out)
            .expect("read back");
        assert_eq!(out, b"a1 OK\r\n");
        assert_eq!(
            Conn::from_pair(
                nix::unistd::pipe().expect("p").0,
                nix::unistd::pipe().expect("p").1
            )
            .peer()
            .expect("peer"),
            Peer::NotASocket
        );
    }

    #[test]
    fn socket_reads_writes_and_reports_peer() {
        let (server, mut client) = UnixStream::pair().expect("pair");
        let mut conn = Conn::from_socket(OwnedFd::from(server));
        assert_eq!(conn.peer().expect("peer"), Peer::Unix);
        conn.write_all(b"* OK ready\r\n").expect("write");
        let mut buf = [0u8; 12];
        client.read_exact(&mut buf).expect("client read");
        assert_eq!(&buf, b"* OK ready\r\n");
        client.write_all(b"x").expect("client write");
        drop(client);
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).expect("read to eof");
        assert_eq!(rest, b"x");
    }

    #[test]
    fn idle_read_times_out_then_recovers() {
        let (server, mut client) = UnixStream::pair().expect("pair");
        let mut conn = Conn::from_socket(OwnedFd::from(server));
        conn.set_read_timeout(Some(Duration::from_millis(40)));
        let err = conn.read(&mut [0u8; 4]).expect_err("must time out");
        assert!(is_timeout(&err), "{err:?}");
        assert!(!conn.wait_readable(Some(Duration::ZERO)).expect("poll"));
        client.write_all(b"hi").expect("write");
        assert!(conn
            .wait_readable(Some(Duration::from_secs(5)))
            .expect("poll"));
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn idle_timeout_applies_to_pipes() {
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        let (_r2, w2) = nix::unistd::pipe().expect("pipe");
        let mut conn = Conn::from_pair(r, w2);
        conn.set_read_timeout(Some(Duration::from_millis(20)));
        assert!(is_timeout(&conn.read(&mut [0u8; 1]).expect_err("timeout")));
    }

    #[test]
    fn same_file_detects_shared_socket() {
        let (a, b) = UnixStream::pair().expect("pair");
        let a2 = a.try_clone().expect("clone");
        assert!(same_file(a.as_fd(), a2.as_fd()));
        assert!(!same_file(a.as_fd(), b.as_fd()));
    }

    fn self_signed() -> (
        openssl::pkey::PKey<openssl::pkey::Private>,
        openssl::x509::X509,
    ) {
        use openssl::{asn1::Asn1Time, ec, hash::MessageDigest, nid::Nid, pkey::PKey, x509};
        let group = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
        let key = PKey::from_ec_key(ec::EcKey::generate(&group).expect("key")).expect("pkey");
        let mut name = x509::X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "localhost").expect("cn");
        let name = name.build();
        let mut b = x509::X509Builder::new().expect("builder");
        b.set_version(2).expect("version");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&key).expect("pubkey");
        b.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
            .expect("nb");
        b.set_not_after(&Asn1Time::days_from_now(1).expect("t"))
            .expect("na");
        b.sign(&key, MessageDigest::sha256()).expect("sign");
        (key, b.build())
    }

    #[test]
    fn carries_a_tls_session() {
        use openssl::ssl::{SslAcceptor, SslConnector, SslMethod, SslVerifyMode};
        let (key, cert) = self_signed();
        let mut acceptor =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("acceptor");
        acceptor.set_private_key(&key).expect("key");
        acceptor.set_certificate(&cert).expect("cert");
        let acceptor = acceptor.build();
        let (server, client) = UnixStream::pair().expect("pair");
        let client_thread = std::thread::spawn(move || {
            let mut connector = SslConnector::builder(SslMethod::tls()).expect("connector");
            connector.set_verify(SslVerifyMode::NONE);
            let mut tls = connector
                .build()
                .connect("localhost", client)
                .expect("client handshake");
            tls.write_all(b"a1 CAPABILITY\r\n").expect("client write");
            let mut reply = [0u8; 7];
            tls.read_exact(&mut reply).expect("client read");
            reply
        });
        let mut conn = Conn::from_socket(OwnedFd::from(server));
        conn.set_read_timeout(Some(Duration::from_secs(10)));
        let mut tls = acceptor.accept(conn).expect("server handshake");
        let mut line = [0u8; 15];
        tls.read_exact(&mut line).expect("server read");
        assert_eq!(&line, b"a1 CAPABILITY\r\n");
        tls.write_all(b"a1 OK\r\n").expect("server write");
        assert_eq!(&client_thread.join().expect("client"), b"a1 OK\r\n");
    }

    /// inetd layout: stdin and stdout are one socket. The child takes it
    /// over; afterwards a raw write to stdout must not reach the client.
    #[test]
    fn from_stdio_takes_the_socket_and_detaches_stdout() {
        use crate::sys::test_support::{child_command, in_child};
        use std::process::Stdio;
        if in_child() {
            let mut conn = Conn::from_stdio().expect("from_stdio");
            conn.write_all(b"hello").expect("write");
            let mut ping = [0u8; 4];
            conn.read_exact(&mut ping).expect("read");
            assert_eq!(&ping, b"ping");
            io::stdout().write_all(b"LEAK").expect("stdout");
            io::stdout().flush().expect("flush");
            conn.write_all(b"done").expect("write");
            return;
        }
        let (ours, theirs) = UnixStream::pair().expect("pair");
        let theirs2 = theirs.try_clone().expect("clone");
        let mut cmd =
            child_command("sys::conn::tests::from_stdio_takes_the_socket_and_detaches_stdout");
        cmd.stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs2)))
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        drop(cmd);
        let mut ours = ours;
        ours.write_all(b"ping").expect("ping");
        let mut got = Vec::new();
        ours.read_to_end(&mut got).expect("read");
        let status = child.wait().expect("wait");
        let text = String::from_utf8_lossy(&got);
        assert!(status.success(), "child failed; stream: {text}");
        assert!(text.ends_with("hellodone"), "{text}");
        assert!(
            !text.contains("LEAK") && !text.contains("test result"),
            "{text}"
        );
    }
}
