//! The session's byte stream: cleartext or TLS over one connection, with the
//! STARTTLS upgrade, COMPRESS=DEFLATE (RFC 4978) on top of either, and the
//! "is anything readable?" wait used for the idle timeout. Never parses
//! IMAP, and never inflates more than the reader asks for: a decompression
//! bomb is bounded by the same line and literal limits as plain input,
//! because the command reader pulls inflated bytes one buffer at a time.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use openssl::ssl::{SslAcceptor, SslStream};

use crate::sys::conn::Conn;

/// A connection before or after TLS.
pub(crate) enum Stream {
    /// Cleartext.
    Plain(Conn),
    /// TLS over the same connection.
    Tls(Box<SslStream<Conn>>),
    /// Raw DEFLATE (RFC 1951, no zlib header) over either, after COMPRESS.
    Deflate(Box<Deflated>),
}

/// Compressed input read so far, per read from the connection.
const DEFLATE_CHUNK: usize = 16 * 1024;

/// The state of a compressed stream in both directions.
pub(crate) struct Deflated {
    inner: Stream,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed bytes read but not yet inflated (`in_buf[in_pos..]`).
    in_buf: Vec<u8>,
    in_pos: usize,
    /// The last inflate filled the whole output buffer, so the inflater may
    /// hold output without needing more input.
    more_out: bool,
    /// The client ended its deflate stream: nothing more can come.
    ended: bool,
    out_buf: Vec<u8>,
}

impl Deflated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.ended {
                return Ok(0);
            }
            if self.in_pos >= self.in_buf.len() && !self.more_out {
                self.in_buf.resize(DEFLATE_CHUNK, 0);
                let n = self.inner.read(&mut self.in_buf)?;
                self.in_buf.truncate(n);
                self.in_pos = 0;
                if n == 0 {
                    // Truncated or closed: the end of the session's input.
                    return Ok(0);
                }
            }
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let input = self.in_buf.get(self.in_pos..).unwrap_or(&[]);
            let status = self
                .inflate
                .decompress(input, buf, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let used = usize::try_from(self.inflate.total_in() - before_in).unwrap_or(0);
            let made = usize::try_from(self.inflate.total_out() - before_out).unwrap_or(0);
            self.in_pos += used;
            self.more_out = made == buf.len();
            if status == Status::StreamEnd {
                self.ended = true;
            }
            if made > 0 {
                return Ok(made);
            }
            if used == 0 && self.in_pos < self.in_buf.len() {
                // No progress on input that is there: corrupt.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "compressed input makes no progress",
                ));
            }
        }
    }

    fn has_pending(&self) -> bool {
        self.more_out || self.in_pos < self.in_buf.len() || self.inner.has_pending()
    }

    fn compress(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            self.out_buf.clear();
            // Bounded: the loop takes input in turns, and the buffer is
            // kept for the session's life, so one large answer must not
            // size it for good.
            self.out_buf
                .reserve(DEFLATE_CHUNK + (input.len() / 2).min(8 * DEFLATE_CHUNK));
            let before_in = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut self.out_buf, flush)
                .map_err(io::Error::other)?;
            let used = usize::try_from(self.deflate.total_in() - before_in).unwrap_or(0);
            input = input.get(used..).unwrap_or(&[]);
            self.inner.write_all(&self.out_buf)?;
            // Done once all input is taken and the flush left room to spare
            // (a full buffer may mean more flushed output is waiting).
            if input.is_empty() && self.out_buf.len() < self.out_buf.capacity() {
                return Ok(());
            }
        }
    }
}

/// Why TLS negotiation failed.
#[derive(Debug, thiserror::Error)]
#[error("TLS handshake failed: {0}")]
pub(crate) struct HandshakeError(pub String);

impl Stream {
    /// Turns on COMPRESS=DEFLATE in both directions (RFC 4978): everything
    /// read and written from now on is raw DEFLATE.
    pub(crate) fn start_deflate(self) -> Stream {
        Stream::Deflate(Box::new(Deflated {
            inner: self,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::default(), false),
            in_buf: Vec::new(),
            in_pos: 0,
            more_out: false,
            ended: false,
            out_buf: Vec::new(),
        }))
    }

    /// Whether COMPRESS is active.
    pub(crate) fn is_compressed(&self) -> bool {
        matches!(self, Stream::Deflate(_))
    }

    /// Performs the server side of a TLS handshake over a cleartext stream.
    pub(crate) fn accept_tls(self, acceptor: &SslAcceptor) -> Result<Stream, HandshakeError> {
        match self {
            Stream::Tls(_) => Err(HandshakeError("already in TLS".to_owned())),
            Stream::Deflate(_) => Err(HandshakeError("compression is active".to_owned())),
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
        match self {
            Stream::Tls(s) => {
                let _ = s.shutdown();
            }
            Stream::Deflate(d) => d.inner.shutdown_tls(),
            Stream::Plain(_) => {}
        }
    }

    /// Bounds every read from now on by `deadline` (see
    /// [`Conn::set_deadline`]); `None` leaves only the per-read timeout.
    pub(crate) fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        match self {
            Stream::Plain(c) => c.set_deadline(deadline),
            Stream::Tls(s) => s.get_mut().set_deadline(deadline),
            Stream::Deflate(d) => d.inner.set_deadline(deadline),
        }
    }

    /// Whether TLS is active.
    pub(crate) fn is_tls(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(_) => true,
            Stream::Deflate(d) => d.inner.is_tls(),
        }
    }

    /// The descriptor input arrives on, for waiting on it together with
    /// others (IDLE). Check [`Stream::has_pending`] first: TLS may hold
    /// decrypted data the descriptor no longer shows.
    pub(crate) fn read_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Plain(c) => c.as_fd(),
            Stream::Tls(s) => s.get_ref().as_fd(),
            Stream::Deflate(d) => d.inner.read_fd(),
        }
    }

    /// Whether TLS holds already-decrypted input.
    pub(crate) fn has_pending(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.ssl().pending() > 0,
            Stream::Deflate(d) => d.has_pending(),
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
            Stream::Deflate(d) => {
                if d.has_pending() {
                    return Ok(true);
                }
                d.inner.wait_readable(timeout)
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
            Stream::Deflate(d) => d.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(c) => c.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Deflate(d) => {
                d.compress(buf, FlushCompress::None)?;
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(c) => c.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Deflate(d) => {
                // A sync flush: the client can inflate everything sent so far.
                d.compress(&[], FlushCompress::Sync)?;
                d.inner.flush()
            }
        }
    }
}
