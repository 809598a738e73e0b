//! Bounded reading and buffered writing on the LMTP connection: lines with
//! a length cap (whatever exceeds it is read and thrown away, never
//! buffered), exact-size BDAT chunks, and replies collected until the
//! client's pipelined input is used up (RFC 2920 §3.2). Owns no protocol
//! state; never reads more than a bounded buffer ahead.

use std::io::{self, Read, Write};

const READ_CHUNK: usize = 16 * 1024;

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// CR LF.
    CrLf,
    /// A bare LF.
    Lf,
}

/// One line as read.
#[derive(Debug)]
pub(crate) struct Line {
    /// The bytes before the line ending, at most the cap.
    pub bytes: Vec<u8>,
    /// Whether bytes beyond the cap were discarded.
    pub overflow: bool,
    /// The line ending.
    pub ending: Ending,
}

/// The connection with its buffers.
pub(crate) struct Wire<S> {
    stream: S,
    inbuf: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
}

impl<S: Read + Write> Wire<S> {
    /// Wraps a connected stream.
    pub(crate) fn new(stream: S) -> Wire<S> {
        Wire {
            stream,
            inbuf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            out: Vec::new(),
        }
    }

    fn buffered(&self) -> &[u8] {
        self.inbuf.get(self.pos..).unwrap_or_default()
    }

    /// Fills the input buffer; flushes pending replies first, since the
    /// client may be waiting for them. `Ok(false)` at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        self.flush()?;
        self.inbuf.clear();
        self.pos = 0;
        self.inbuf.resize(READ_CHUNK, 0);
        let n = loop {
            match self.stream.read(&mut self.inbuf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.inbuf.clear();
                    return Err(e);
                }
            }
        };
        self.inbuf.truncate(n);
        Ok(n > 0)
    }

    /// Reads one line of at most `cap` bytes (more are discarded and
    /// flagged). `Ok(None)` if the input ends before a line ending.
    pub(crate) fn read_line(&mut self, cap: usize) -> io::Result<Option<Line>> {
        let mut line = Line {
            bytes: Vec::new(),
            overflow: false,
            ending: Ending::CrLf,
        };
        loop {
            if self.buffered().is_empty() && !self.fill()? {
                return Ok(None);
            }
            let buf = self.buffered();
            let (take, found) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let chunk = buf.get(..take).unwrap_or_default();
            let room = (cap + 2).saturating_sub(line.bytes.len());
            if chunk.len() > room {
                line.overflow = true;
            }
            line.bytes
                .extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
            self.pos += take;
            if found {
                if line.bytes.last() == Some(&b'\n') {
                    line.bytes.pop();
                }
                line.ending = if line.bytes.last() == Some(&b'\r') {
                    line.bytes.pop();
                    Ending::CrLf
                } else {
                    Ending::Lf
                };
                if line.bytes.len() > cap {
                    line.bytes.truncate(cap);
                    line.overflow = true;
                }
                return Ok(Some(line));
            }
        }
    }

    /// Reads exactly `size` octets, handing each piece to `sink`.
    /// `Ok(false)` if the input ends first.
    pub(crate) fn read_chunk(
        &mut self,
        mut size: u64,
        mut sink: impl FnMut(&[u8]),
    ) -> io::Result<bool> {
        while size > 0 {
            if self.buffered().is_empty() && !self.fill()? {
                return Ok(false);
            }
            let buf = self.buffered();
            let take = usize::try_from(size).unwrap_or(usize::MAX).min(buf.len());
            sink(buf.get(..take).unwrap_or_default());
            self.pos += take;
            size -= take as u64;
        }
        Ok(true)
    }

    /// Queues one reply line (`code` and text, CRLF added); `more` makes it
    /// a continuation line (`250-`).
    pub(crate) fn reply(&mut self, code: u16, more: bool, text: &str) {
        let sep = if more { '-' } else { ' ' };
        self.out
            .extend_from_slice(format!("{code}{sep}{text}\r\n").as_bytes());
    }

    /// Sends queued replies.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out)?;
            self.out.clear();
            self.stream.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Duplex(io::Cursor<Vec<u8>>, Vec<u8>);
    impl Read for Duplex {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            // One byte at a time, the worst case for the line logic.
            let n = b.len().min(1);
            self.0.read(&mut b[..n])
        }
    }
    impl Write for Duplex {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.1.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_capped_and_endings_reported() {
        let input = b"ab\r\nabcdef\r\nx\ny\r".to_vec();
        let mut w = Wire::new(Duplex(io::Cursor::new(input), Vec::new()));
        let l = w.read_line(4).unwrap().unwrap();
        assert_eq!(
            (l.bytes.as_slice(), l.overflow, l.ending),
            (&b"ab"[..], false, Ending::CrLf)
        );
        let l = w.read_line(4).unwrap().unwrap();
        assert_eq!((l.bytes.as_slice(), l.overflow), (&b"abcd"[..], true));
        let l = w.read_line(4).unwrap().unwrap();
        assert_eq!((l.bytes.as_slice(), l.ending), (&b"x"[..], Ending::Lf));
        assert!(w.read_line(4).unwrap().is_none());
    }

    #[test]
    fn chunks_are_exact() {
        let mut w = Wire::new(Duplex(
            io::Cursor::new(b"12345NOOP\r\n".to_vec()),
            Vec::new(),
        ));
        let mut got = Vec::new();
        assert!(w.read_chunk(5, |b| got.extend_from_slice(b)).unwrap());
        assert_eq!(got, b"12345");
        assert_eq!(w.read_line(100).unwrap().unwrap().bytes, b"NOOP");
        assert!(!w.read_chunk(1, |_| {}).unwrap());
    }
}
