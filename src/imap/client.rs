//! A minimal synchronous IMAP client: enough to log in and speak XCRY for
//! `crymap-like remote`. Owns reading responses (with literals) and sending
//! tagged commands; never interprets mailbox data.

use std::io::{BufRead, BufReader, Read, Write};

/// Why a client exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server sent something this client cannot read.
    #[error("unreadable response: {0}")]
    Protocol(String),
    /// The server answered the command with NO or BAD.
    #[error("{0}")]
    Refused(String),
}

/// A response line with its literals inlined, as raw bytes.
pub type Line = Vec<u8>;

/// The responses to one command: the untagged ones and the tagged status.
#[derive(Debug)]
pub struct Reply {
    /// Untagged responses (`* ...`), in order.
    pub untagged: Vec<Line>,
    /// The tagged completion line without the tag.
    pub status: Line,
}

/// An IMAP client over any byte stream.
pub struct Client<S: Read + Write> {
    io: BufReader<S>,
    next_tag: u32,
}

const MAX_LINE: usize = 1 << 20;

impl<S: Read + Write> Client<S> {
    /// Wraps a connected stream and reads the greeting.
    pub fn new(stream: S) -> Result<(Client<S>, Line), ClientError> {
        let mut c = Client {
            io: BufReader::new(stream),
            next_tag: 1,
        };
        let greeting = c.read_response()?;
        if !greeting.starts_with(b"* OK") && !greeting.starts_with(b"* PREAUTH") {
            return Err(ClientError::Refused(lossy(&greeting)));
        }
        Ok((c, greeting))
    }

    /// Reads one response line, inlining any literals it announces.
    pub fn read_response(&mut self) -> Result<Line, ClientError> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.io)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            if !line.ends_with(b"\n") {
                return Err(ClientError::Protocol("response line too long".into()));
            }
            out.extend_from_slice(&line);
            match literal_len(&line) {
                Some(len) if len <= MAX_LINE => {
                    let start = out.len();
                    out.resize(start + len, 0);
                    self.io.read_exact(&mut out[start..])?;
                }
                Some(_) => return Err(ClientError::Protocol("literal too large".into())),
                None => return Ok(out),
            }
        }
    }

    /// Sends one command (the text after the tag; arguments already
    /// encoded, literals as LITERAL+ `{n+}`) and collects its reply. A NO or
    /// BAD completion becomes `ClientError::Refused`.
    pub fn command(&mut self, parts: &[Part<'_>]) -> Result<Reply, ClientError> {
        let tag = format!("c{}", self.next_tag);
        self.next_tag += 1;
        let mut buf = Vec::new();
        buf.extend_from_slice(tag.as_bytes());
        for p in parts {
            buf.push(b' ');
            match p {
                Part::Atom(a) => buf.extend_from_slice(a.as_bytes()),
                Part::Literal(bytes) => {
                    buf.extend_from_slice(format!("{{{}+}}\r\n", bytes.len()).as_bytes());
                    buf.extend_from_slice(bytes);
                }
            }
        }
        buf.extend_from_slice(b"\r\n");
        let w = self.io.get_mut();
        w.write_all(&buf)?;
        w.flush()?;
        let mut untagged = Vec::new();
        loop {
            let line = self.read_response()?;
            if let Some(rest) = line
                .strip_prefix(tag.as_bytes())
                .and_then(|r| r.strip_prefix(b" "))
            {
                let status = rest.to_vec();
                if status.len() >= 2 && status[..2].eq_ignore_ascii_case(b"OK") {
                    return Ok(Reply { untagged, status });
                }
                return Err(ClientError::Refused(lossy(&status)));
            }
            if line.starts_with(b"* BYE") {
                return Err(ClientError::Refused(lossy(&line)));
            }
            untagged.push(line);
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Sent as is (atoms, already-quoted strings).
    Atom(&'a str),
    /// Sent as a non-synchronising literal, so any bytes are safe.
    Literal(&'a [u8]),
}

/// The length announced by a line ending in `{n}` or `{n+}` (then CRLF).
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Bytes as text for messages, with invalid UTF-8 replaced and the line end
/// removed.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Script {
        input: std::io::Cursor<Vec<u8>>,
        sent: Vec<u8>,
    }
    impl Read for Script {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(b)
        }
    }
    impl Write for Script {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.sent.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reads_literals_and_tagged_status() {
        let input = b"* OK hi\r\n* XCRY BACKUP-FILE {5}\r\na\r\nbc\r\nc1 OK done\r\n".to_vec();
        let s = Script {
            input: std::io::Cursor::new(input),
            sent: Vec::new(),
        };
        let (mut c, _) = Client::new(s).unwrap();
        let r = c
            .command(&[Part::Atom("XCRY"), Part::Literal(b"p w")])
            .unwrap();
        assert_eq!(
            r.untagged,
            vec![b"* XCRY BACKUP-FILE {5}\r\na\r\nbc\r\n".to_vec()]
        );
        assert_eq!(c.io.get_ref().sent, b"c1 XCRY {3+}\r\np w\r\n");
    }

    #[test]
    fn no_is_an_error_with_the_text() {
        let s = Script {
            input: std::io::Cursor::new(
                b"* OK hi\r\nc1 NO [AUTHENTICATIONFAILED] nope\r\n".to_vec(),
            ),
            sent: Vec::new(),
        };
        let (mut c, _) = Client::new(s).unwrap();
        let e = c.command(&[Part::Atom("LOGIN")]).unwrap_err();
        assert!(e.to_string().contains("AUTHENTICATIONFAILED"));
    }
}
