//! The session's byte stream: cleartext or TLS over one connection, with the
//! STARTTLS upgrade and the "is anything readable?" wait used for the idle
//! timeout. Never parses IMAP.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use openssl::ssl::{SslAcceptor, SslStream};

use crate::sys::conn::Conn;

/// A connection before or after TLS.
pub(crate) enum Stream {
    /// Cleartext.
    Plain(Conn),
    /// TLS over the same connection.
    Tls(Box<SslStream<Conn>>),
}

/// Why TLS negotiation failed.
#[derive(Debug, thiserror::Error)]
#[error("TLS handshake failed: {0}")]
pub(crate) struct HandshakeError(pub String);

impl Stream {
    /// Performs the server side of a TLS handshake over a cleartext stream.
    pub(crate) fn accept_tls(self, acceptor: &SslAcceptor) -> Result<Stream, HandshakeError> {
        match self {
            Stream::Tls(_) => Err(HandshakeError("already in TLS".to_owned())),
            Stream::Plain(conn) => match acceptor.accept(conn) {
                Ok(s) => Ok(Stream::Tls(Box::new(s))),
                Err(e) => Err(HandshakeError(e.to_string())),
            },
        }
    }

    /// Ends TLS properly (close_notify) before the connection closes, so
    /// clients see a clean end rather than a truncation. Best effort: the
    /// peer may already be gone.
    pub(crate) fn shutdown_tls(&mut self) {
        if let Stream::Tls(s) = self {
            let _ = s.shutdown();
        }
    }

    /// Bounds every read from now on by `deadline` (see
    /// [`Conn::set_deadline`]); `None` leaves only the per-read timeout.
    pub(crate) fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        match self {
            Stream::Plain(c) => c.set_deadline(deadline),
            Stream::Tls(s) => s.get_mut().set_deadline(deadline),
        }
    }

    /// Whether TLS is active.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The descriptor input arrives on, for waiting on it together with
    /// others (IDLE). Check [`Stream::has_pending`] first: TLS may hold
    /// decrypted data the descriptor no longer shows.
    pub(crate) fn read_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Plain(c) => c.as_fd(),
            Stream::Tls(s) => s.get_ref().as_fd(),
        }
    }

    /// Whether TLS holds already-decrypted input.
    pub(crate) fn has_pending(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.ssl().pending() > 0,
        }
    }

    /// Waits until input may be available, up to `timeout`. Data that TLS
    /// has already decrypted counts as available.
    pub(crate) fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        match self {
            Stream::Plain(c) => c.wait_readable(Some(timeout)).map_err(io::Error::other),
            Stream::Tls(s) => {
                if s.ssl().pending() > 0 {
                    return Ok(true);
                }
                s.get_ref()
                    .wait_readable(Some(timeout))
                    .map_err(io::Error::other)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(c) => c.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A peer that closes without close_notify has still ended the
                // session; treat it as end of input, not as an error to log.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(c) => c.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(c) => c.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
