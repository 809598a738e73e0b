//! A minimal synchronous IMAP client: enough to log in and speak XCRY for
//! `crymap-like remote`. Owns sending tagged commands and collecting the
//! responses, which the library's response parser reads (literals
//! included); never interprets mailbox data.

use std::io::{BufRead, BufReader, Read, Write};

use crate::imap::wire::response::{parse_response, Response, ResponseParseError, Status};

/// Why a client exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
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

/// The responses to a command that completed OK: the untagged ones (a
/// refusal is a [`ClientError::Refused`] instead).
#[derive(Debug)]
pub(crate) struct Reply {
    /// Untagged responses (`* ...`), in order.
    pub untagged: Vec<Response<'static>>,
}

/// An IMAP client over any byte stream.
pub(crate) struct Client<S: Read + Write> {
    io: BufReader<S>,
    /// Bytes read but not yet parsed (the start of the next response).
    buf: Vec<u8>,
    next_tag: u32,
}

/// No response this client reads is anywhere near this long; a server
/// that sends more is not one `remote` should trust.
const MAX_RESPONSE: usize = 4 << 20;

impl<S: Read + Write> Client<S> {
    /// Wraps a connected stream and reads the greeting.
    pub(crate) fn new(stream: S) -> Result<(Client<S>, Response<'static>), ClientError> {
        let mut c = Client {
            io: BufReader::new(stream),
            buf: Vec::new(),
            next_tag: 1,
        };
        let greeting = c.read_response()?;
        match &greeting {
            Response::Status {
                tag: None,
                status: Status::Ok | Status::PreAuth,
                ..
            } => Ok((c, greeting)),
            other => Err(ClientError::Refused(shown(other))),
        }
    }

    /// Reads one response, literals included, with the library's parser.
    pub(crate) fn read_response(&mut self) -> Result<Response<'static>, ClientError> {
        loop {
            let needed = match parse_response(&self.buf) {
                Ok((r, used)) => {
                    let r = r.into_owned();
                    self.buf.drain(..used);
                    return Ok(r);
                }
                Err(ResponseParseError::Incomplete { needed }) => needed,
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            };
            let wanted = needed.map_or(1, |n| n.get());
            if self.buf.len().saturating_add(wanted) > MAX_RESPONSE {
                return Err(ClientError::Protocol("response too large".into()));
            }
            let available = self.io.fill_buf()?;
            if available.is_empty() {
                return Err(ClientError::Closed);
            }
            let n = available.len();
            self.buf.extend_from_slice(available);
            self.io.consume(n);
        }
    }

    /// Sends one command (the text after the tag; arguments already
    /// encoded, literals as LITERAL+ `{n+}`) and collects its reply. A NO or
    /// BAD completion, or a BYE, becomes `ClientError::Refused`.
    pub(crate) fn command(&mut self, parts: &[Part<'_>]) -> Result<Reply, ClientError> {
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
            let r = self.read_response()?;
            match &r {
                Response::Status {
                    tag: Some(t),
                    status,
                    ..
                } if *t == tag => {
                    if *status == Status::Ok {
                        return Ok(Reply { untagged });
                    }
                    let line = shown(&r);
                    let text = line.strip_prefix(&format!("{tag} ")).unwrap_or(&line);
                    return Err(ClientError::Refused(text.to_owned()));
                }
                Response::Status {
                    tag: None,
                    status: Status::Bye,
                    ..
                } => return Err(ClientError::Refused(shown(&r))),
                _ => untagged.push(r),
            }
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    /// Sent as is (atoms, already-quoted strings).
    Atom(&'a str),
    /// Sent as a non-synchronising literal, so any bytes are safe.
    Literal(&'a [u8]),
}

/// Bytes as text for messages, with invalid UTF-8 replaced and the line end
/// removed.
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_owned()
}

/// A response as the server wrote it, for messages and `remote`'s output.
pub(crate) fn shown(r: &Response<'_>) -> String {
    lossy(&r.to_bytes())
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
        assert_eq!(r.untagged, vec![Response::XCryBackupFile("a\r\nbc".into())]);
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
