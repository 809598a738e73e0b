//! COMPRESS=DEFLATE (RFC 4978): the authenticated state's command that
//! swaps the connection for a compressed one. Owns only the switch; the
//! compression itself is `imap::stream`'s. Never compresses before login
//! (logging in already required TLS or a connection nobody can listen in
//! on, and the command is invalid before it, RFC 4978 §3).

use std::io::{BufReader, Write};

use super::{Io, Login, Next, Session, SessionError};
use crate::imap::wire::response::{Response, ResponseCode, Status};

impl<L: Login> Session<L> {
    pub(super) fn compress(&mut self, tag: &str, algorithm: &str) -> Result<Next, SessionError> {
        if !algorithm.eq_ignore_ascii_case("DEFLATE") {
            // RFC 4978 §3: an unknown algorithm is a BAD.
            self.tagged(tag, Status::Bad, None, "Only DEFLATE is supported");
            return Ok(Next::Continue);
        }
        if self.is_compressed() {
            self.tagged(
                tag,
                Status::No,
                Some(ResponseCode::CompressionActive),
                "Compression is already active",
            );
            return Ok(Next::Continue);
        }
        // Pending untagged responses go out before the switch, uncompressed.
        self.flush()?;
        let Some(io) = self.io.take() else {
            return Ok(Next::Close);
        };
        // Input the client pipelined after COMPRESS is already compressed
        // (RFC 4978 §3 lets it send at once); it must go through the
        // inflater, so it cannot stay in the plain buffer.
        if !io.inner.buffer().is_empty() {
            self.io = Some(io);
            self.tagged(
                tag,
                Status::Bad,
                None,
                "Data after COMPRESS before its answer",
            );
            return Ok(Next::Continue);
        }
        let mut stream = io.inner.into_inner();
        let ok = Response::status(Some(tag), Status::Ok, None, "DEFLATE active").to_bytes();
        stream.write_all(&ok)?;
        stream.flush()?;
        self.io = Some(Io {
            inner: BufReader::with_capacity(64 * 1024, stream.start_deflate()),
        });
        Ok(Next::Continue)
    }
}
