//! The one IMAP client of the end-to-end tests.
//!
//! - Well-formed commands are built as the library's own command values
//!   (`imap::wire::command::Command`) and put on the wire by the library's
//!   encoder (`Command::encode_with`). A test may write such a command as
//!   text: [`Client::parse`] turns it into a `Command` with the library's
//!   parser, and a text that is not a well-formed command fails the test at
//!   once, naming the text, instead of reaching the server.
//! - Deliberately malformed input goes out as raw bytes, only through
//!   [`Client::send`] or [`Client::raw_cmd`], so every malformed command in
//!   a test is visible as such.
//! - Reading one server response is [`Client::read_response`], the only
//!   function that reads: the library's `frame_response` says where the
//!   response ends (following its literals), the library's
//!   `parse_response` reads it into the typed `wire::response::Response`
//!   (a response it cannot read fails the test: the server wrote
//!   something off the grammar, or the parser is wrong), and the raw
//!   bytes stay beside it, literals as bytes, for exact comparisons.
//! - A server that dies is a value ([`Closed`]) in the `try_` functions,
//!   for the crash tests; the others panic, naming the command.
//! - It runs over any byte stream: TLS (`Client::imaps`), plain TCP or a
//!   socket pair (`Client::plain`), or an upgraded stream (`Client::new`).

use std::io::{BufRead, BufReader, Read, Write};

pub use crymap_like::imap::wire::command::WireFlag as Flag;
use crymap_like::imap::wire::command::{
    AppendKind, AppendMessage, Command, CommandBody, MailboxArg, Tag,
};
use crymap_like::imap::wire::parser::{parse_command, ParseOptions};
use crymap_like::imap::wire::response::{
    frame_response, parse_response, write_flag, ResponseParseError,
};
pub use crymap_like::imap::wire::response::{
    FetchItem, Response as Parsed, ResponseCode, StatusValue,
};

use super::{tls_over, Transport};

/// The connection ended (or failed) before the expected response: the
/// server process died or hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// One server response, as received and as the library parses it.
#[derive(Debug, Clone)]
pub struct Response {
    /// Every byte, literals inline, final CRLF included.
    pub bytes: Vec<u8>,
    /// The typed value the library's response parser reads from `bytes`.
    pub parsed: Parsed<'static>,
    /// The contents of its literals, in order.
    pub literals: Vec<Vec<u8>>,
    /// `bytes` as (lossy) text without the final CRLF, literals inline.
    pub text: String,
    /// Like `text` with each literal's content left out (its `{n}` kept):
    /// what to search for data items without matching message content.
    pub skeleton: String,
}

impl Response {
    /// The first word: a tag, `*` or `+`.
    pub fn tag(&self) -> &str {
        self.text.split(' ').next().unwrap_or("")
    }

    /// The second word (`OK`, `NO`, `BAD`, `BYE`, a number...).
    pub fn status(&self) -> Option<&str> {
        self.text.split(' ').nth(1)
    }

    pub fn is_untagged(&self) -> bool {
        self.bytes.starts_with(b"* ")
    }

    /// The FETCH items of a `* n FETCH` or `* uid UIDFETCH` response;
    /// empty for any other.
    pub fn fetch_items(&self) -> &[FetchItem<'static>] {
        match &self.parsed {
            Parsed::Fetch { items, .. } | Parsed::UidFetch { items, .. } => items,
            _ => &[],
        }
    }

    /// The UID a `* uid UIDFETCH` response (RFC 9586) leads with.
    pub fn uidfetch_uid(&self) -> Option<u32> {
        match &self.parsed {
            Parsed::UidFetch { uid, .. } => Some(uid.get()),
            _ => None,
        }
    }
}

/// One message as a `UID FETCH ... (UID FLAGS BODY.PEEK[])` returned it,
/// read from the parsed responses.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub uid: u32,
    /// Flags as written on the wire, sorted, without \Recent.
    pub flags: Vec<String>,
    /// The `BODY[]` bytes exactly as sent.
    pub body: Vec<u8>,
}

/// Every FETCH (or UIDFETCH) response among `responses` that carries a
/// UID and a `BODY[]`, as [`Fetched`].
pub fn fetched(responses: &[Response]) -> Vec<Fetched> {
    let mut out = Vec::new();
    for r in responses {
        let (mut uid, mut flags, mut body) = (r.uidfetch_uid(), Vec::new(), None);
        for item in r.fetch_items() {
            match item {
                FetchItem::Uid(u) => uid = Some(u.get()),
                FetchItem::Flags(f) => {
                    flags = f
                        .iter()
                        .filter(|f| **f != Flag::Recent)
                        .map(|f| {
                            let mut w = Vec::new();
                            write_flag(&mut w, f);
                            String::from_utf8_lossy(&w).into_owned()
                        })
                        .collect();
                    flags.sort();
                }
                FetchItem::BodySection { data, .. } => body = data.as_deref().map(<[u8]>::to_vec),
                _ => {}
            }
        }
        if let (Some(uid), Some(body)) = (uid, body) {
            out.push(Fetched { uid, flags, body });
        }
    }
    out
}

/// The `* n EXISTS` count among `responses`.
pub fn exists(responses: &[Response]) -> Option<u32> {
    responses.iter().find_map(|r| match r.parsed {
        Parsed::Exists(n) => Some(n),
        _ => None,
    })
}

/// The items of the `* STATUS` response among `responses`.
pub fn status_items(responses: &[Response]) -> Vec<StatusValue> {
    responses
        .iter()
        .find_map(|r| match &r.parsed {
            Parsed::MailboxStatus { items, .. } => Some(items.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The response code of the tagged response (the last one).
pub fn tagged_code(responses: &[Response]) -> Option<&ResponseCode> {
    match &responses.last()?.parsed {
        Parsed::Status { code, .. } => code.as_ref(),
        _ => None,
    }
}

/// The texts of `responses`.
pub fn texts(responses: &[Response]) -> Vec<String> {
    responses.iter().map(|r| r.text.clone()).collect()
}

/// The bytes of the untagged responses among `responses`.
pub fn untagged(responses: &[Response]) -> Vec<Vec<u8>> {
    responses
        .iter()
        .filter(|r| r.is_untagged())
        .map(|r| r.bytes.clone())
        .collect()
}

pub struct Client {
    io: BufReader<Box<dyn Transport>>,
    tag: u32,
    /// UTF8=ACCEPT was enabled: mailbox names go out as UTF-8.
    utf8: bool,
}

impl Client {
    /// A client over an established stream; reads nothing.
    pub fn new(t: Box<dyn Transport>) -> Client {
        Client {
            io: BufReader::new(t),
            tag: 0,
            utf8: false,
        }
    }

    /// TLS from the first byte, then the greeting's text.
    pub fn imaps<S: Read + Write + std::fmt::Debug + 'static>(s: S) -> (Client, String) {
        let mut c = Client::new(Box::new(tls_over(s)));
        let greeting = c.line();
        (c, greeting)
    }

    /// TLS from the first byte; the greeting must be `* OK`.
    pub fn imaps_ok<S: Read + Write + std::fmt::Debug + 'static>(s: S) -> Client {
        let (c, greeting) = Client::imaps(s);
        assert!(greeting.starts_with("* OK"), "{greeting}");
        c
    }

    /// Cleartext (TCP or a socket pair), then the greeting's text.
    pub fn plain<S: Read + Write + 'static>(s: S) -> (Client, String) {
        let mut c = Client::new(Box::new(s));
        let greeting = c.line();
        (c, greeting)
    }

    /// The stream, for STARTTLS; nothing may be buffered.
    pub fn into_inner(self) -> Box<dyn Transport> {
        assert!(self.io.buffer().is_empty());
        self.io.into_inner()
    }

    // ------------------------------------------------------------ reading

    /// Reads one complete response with the library's framing and parser:
    /// lines until `frame_response` finds the end, each literal it
    /// announces read in one piece.
    pub fn read_response(&mut self) -> Result<Response, Closed> {
        let mut bytes = Vec::new();
        let mut literals = Vec::new();
        let mut skeleton = Vec::new();
        loop {
            let start = bytes.len();
            match self.io.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => return Err(Closed),
                Ok(_) if !bytes.ends_with(b"\n") => return Err(Closed),
                Ok(_) => {}
            }
            skeleton.extend_from_slice(&bytes[start..]);
            match frame_response(&bytes) {
                Ok(len) => {
                    assert_eq!(len, bytes.len(), "a response ends at its line end");
                    break;
                }
                Err(ResponseParseError::Incomplete { needed: Some(n) }) => {
                    let mut lit = vec![0; n.get()];
                    self.io.read_exact(&mut lit).map_err(|_| Closed)?;
                    bytes.extend_from_slice(&lit);
                    literals.push(lit);
                }
                Err(ResponseParseError::Incomplete { needed: None }) => {}
                Err(e) => panic!("{e}: {:.200}", String::from_utf8_lossy(&bytes)),
            }
        }
        let parsed = match parse_response(&bytes) {
            Ok((parsed, _)) => parsed.into_owned(),
            Err(e) => panic!(
                "the library cannot parse what the server sent ({e}): {:.300}",
                String::from_utf8_lossy(&bytes)
            ),
        };
        let trim = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .trim_end_matches(['\r', '\n'])
                .to_owned()
        };
        Ok(Response {
            text: trim(&bytes),
            skeleton: trim(&skeleton).replace("\r\n", ""),
            bytes,
            parsed,
            literals,
        })
    }

    /// The text of the next response; panics if the connection ended.
    pub fn line(&mut self) -> String {
        self.try_line().expect("connection closed")
    }

    /// The text of the next response, `None` once the connection ended.
    pub fn try_line(&mut self) -> Option<String> {
        self.read_response().ok().map(|r| r.text)
    }

    /// Every response up to and including the one tagged `tag`.
    pub fn try_until_tagged(&mut self, tag: &str) -> Result<Vec<Response>, Closed> {
        let mut out = Vec::new();
        loop {
            let r = self.read_response()?;
            let done = r.tag() == tag;
            out.push(r);
            if done {
                return Ok(out);
            }
        }
    }

    /// Texts up to and including the response tagged `tag`.
    pub fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let r = self
            .try_until_tagged(tag)
            .unwrap_or_else(|_| panic!("connection closed before {tag} completed"));
        texts(&r)
    }

    /// Texts of everything until the server closes the connection.
    pub fn rest(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = self.try_line() {
            v.push(l);
        }
        v
    }

    // ------------------------------------------------------------ sending

    /// Raw bytes, exactly as given: for input that is malformed on
    /// purpose, IDLE's `DONE` and AUTHENTICATE's continuation lines.
    pub fn try_send(&mut self, raw: &[u8]) -> Result<(), Closed> {
        let w = self.io.get_mut();
        w.write_all(raw).map_err(|_| Closed)?;
        w.flush().map_err(|_| Closed)
    }

    /// [`Client::try_send`] that panics when the connection is gone.
    pub fn send(&mut self, raw: &[u8]) {
        self.try_send(raw).expect("sending: connection closed");
    }

    /// A fresh tag (`t1`, `t2`, ...).
    pub fn next_tag(&mut self) -> String {
        self.tag += 1;
        self.last_tag()
    }

    /// The tag of the last command sent.
    pub fn last_tag(&self) -> String {
        format!("t{}", self.tag)
    }

    /// `text` (a command without its tag) as the library's command value;
    /// panics if the library's parser does not take it as a well-formed
    /// command: malformed input must go through [`Client::raw_cmd`].
    pub fn parse(&self, tag: &str, text: &[u8]) -> Command {
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(text);
        line.extend_from_slice(b"\r\n");
        let opts = ParseOptions {
            utf8_accept: self.utf8,
        };
        parse_command(&line, &opts).unwrap_or_else(|e| {
            panic!(
                "not a well-formed command (use raw_cmd for malformed input): {:.200}: {e}",
                String::from_utf8_lossy(text)
            )
        })
    }

    /// Sends `cmd` with a fresh tag, encoded by the library, and returns
    /// every response up to the tagged one.
    pub fn try_command(&mut self, body: CommandBody) -> Result<Vec<Response>, Closed> {
        let tag = self.next_tag();
        let enables_utf8 = matches!(&body, CommandBody::Enable { capabilities }
            if capabilities.iter().any(|c| c.eq_ignore_ascii_case("UTF8=ACCEPT")));
        let cmd = Command {
            tag: Tag(tag.clone()),
            body,
        };
        self.try_send(&cmd.encode_with(self.utf8))?;
        let r = self.try_until_tagged(&tag)?;
        if enables_utf8
            && r.iter().any(|r| {
                r.text.starts_with("* ENABLED ")
                    && r.text
                        .split(' ')
                        .any(|c| c.eq_ignore_ascii_case("UTF8=ACCEPT"))
            })
        {
            self.utf8 = true;
        }
        Ok(r)
    }

    /// Sends the command written as `text` with a fresh tag and returns
    /// the tag without reading anything: for IDLE, whose completion comes
    /// after DONE.
    pub fn start(&mut self, text: &str) -> String {
        let tag = self.next_tag();
        let cmd = self.parse(&tag, text.as_bytes());
        self.send(&cmd.encode_with(self.utf8));
        tag
    }

    /// Runs the command written as `text` (without a tag; see
    /// [`Client::parse`]); `Err(Closed)` if the server went away.
    pub fn try_run(&mut self, text: &str) -> Result<Vec<Response>, Closed> {
        self.try_run_bytes(text.as_bytes())
    }

    /// [`Client::try_run`] for a command whose literals are not UTF-8:
    /// `text` may hold literals inline (`{n+}` CRLF and the bytes).
    pub fn try_run_bytes(&mut self, text: &[u8]) -> Result<Vec<Response>, Closed> {
        let body = self.parse("t0", text).body;
        self.try_command(body)
    }

    /// [`Client::try_run`] that panics if the server went away.
    pub fn run(&mut self, text: &str) -> Vec<Response> {
        self.try_run(text)
            .unwrap_or_else(|_| panic!("{text:.200}: the server closed the connection"))
    }

    /// The texts of the responses to `text`.
    pub fn cmd(&mut self, text: &str) -> Vec<String> {
        texts(&self.run(text))
    }

    /// The text of the tagged response to `text`.
    pub fn status(&mut self, text: &str) -> String {
        self.cmd(text).pop().unwrap()
    }

    /// Runs `text`, asserts the tagged status is `status`, returns the texts.
    pub fn expect(&mut self, text: &str, status: &str) -> Vec<String> {
        let lines = self.cmd(text);
        let last = lines.last().cloned().unwrap_or_default();
        assert_eq!(
            last.split(' ').nth(1),
            Some(status),
            "{text:.200}: {lines:#?}"
        );
        lines
    }

    /// Runs `text`, asserts it succeeded, returns the texts.
    pub fn ok(&mut self, text: &str) -> Vec<String> {
        self.expect(text, "OK")
    }

    /// Runs `text`, asserts it succeeded, returns the responses.
    pub fn ok_run(&mut self, text: &str) -> Vec<Response> {
        let r = self.run(text);
        let last = r.last().expect("a tagged response");
        assert_eq!(last.status(), Some("OK"), "{text:.200}: {:#?}", texts(&r));
        r
    }

    /// Every byte the server sent in answer to `text`, literals inline.
    pub fn bytes(&mut self, text: &str) -> Vec<u8> {
        self.run(text).into_iter().flat_map(|r| r.bytes).collect()
    }

    /// [`Client::bytes`] as (lossy) text.
    pub fn transcript(&mut self, text: &str) -> String {
        String::from_utf8_lossy(&self.bytes(text)).into_owned()
    }

    /// Sends `TAG text CRLF` byte for byte, without the library's parser
    /// and encoder: for commands that are malformed (or that the library
    /// would not write) on purpose. Returns the texts up to the tagged one.
    pub fn raw_cmd(&mut self, text: &str) -> Vec<String> {
        let tag = self.next_tag();
        self.send(format!("{tag} {text}\r\n").as_bytes());
        self.until_tagged(&tag)
    }

    /// `LOGIN user password`; `Err(Closed)` if the server went away.
    pub fn try_login(&mut self, user: &str, password: &str) -> Result<Vec<Response>, Closed> {
        self.try_command(CommandBody::Login {
            username: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        })
    }

    /// `LOGIN user password`; the text of the tagged response.
    pub fn login(&mut self, user: &str, password: &str) -> String {
        let r = self
            .try_login(user, password)
            .expect("LOGIN: the server closed the connection");
        r.last().unwrap().text.clone()
    }

    /// `APPEND mailbox (flags) literal` with `content` byte for byte.
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: &[Flag],
        content: &[u8],
    ) -> Result<Vec<Response>, Closed> {
        self.append_all(
            mailbox,
            vec![AppendMessage {
                flags: flags.to_vec(),
                ..literal(content.to_vec())
            }],
        )
    }

    /// APPEND (MULTIAPPEND with several messages).
    pub fn append_all(
        &mut self,
        mailbox: &str,
        messages: Vec<AppendMessage>,
    ) -> Result<Vec<Response>, Closed> {
        self.try_command(CommandBody::Append {
            mailbox: MailboxArg::new(mailbox.to_owned()),
            messages,
        })
    }
}

/// One message of a MULTIAPPEND: `data` as a synchronising literal, no
/// flags, no date.
pub fn literal(data: Vec<u8>) -> AppendMessage {
    AppendMessage {
        flags: Vec::new(),
        internal_date: None,
        kind: AppendKind::Literal,
        data,
    }
}
