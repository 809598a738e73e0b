//! One LMTP session (RFC 2033): the state machine from the greeting to
//! QUIT, the replies and their enhanced status codes (RFC 3463), DATA with
//! dot-unstuffing and BDAT chunks (RFC 3030), the content checks, the trace
//! headers of final delivery, and one reply per accepted recipient after
//! the message. Owns protocol decisions only; the store is reached through
//! the [`Deliverer`] the caller supplies, so this file never touches a
//! user's directory and never holds a key.

use std::io::{self, Read, Write};

use log::{info, warn};

use super::command::{self, Command, CommandError, Path};
use super::wire::{Ending, Wire};
use crate::store::delivery::{AddressError, Outcome, Recipient};

/// RFC 5322 §2.1.1: at most 998 octets before CRLF.
pub const MAX_TEXT_LINE: usize = 998;
/// Consecutive protocol errors before the session is closed.
const MAX_ERRORS: u32 = 20;

/// What the session needs to know from its configuration and connection.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// This host's name, for the greeting and `Received:`.
    pub hostname: String,
    /// The client, as `Received:` shows it.
    pub peer: String,
    /// The SIZE limit.
    pub max_message_size: u64,
    /// Recipients accepted per transaction.
    pub max_recipients: usize,
}

/// Whether a recipient can be accepted at RCPT time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptCheck {
    /// The account exists.
    Ok,
    /// No such account.
    NoSuchUser,
    /// The account cannot be examined now.
    Unavailable,
}

/// The store side of the session.
pub trait Deliverer {
    /// Checks at RCPT time that the recipient's account exists.
    fn check(&mut self, recipient: &Recipient) -> RcptCheck;
    /// Stores, for each `(recipient, headers)` of `jobs`, the headers
    /// followed by `body`, and calls `report(i, outcome)` for each job in
    /// order, as soon as that copy is durable or has failed. When `report`
    /// returns false (the reply could not be sent), no further copy may be
    /// stored: the MTA would never learn of it.
    fn deliver(
        &mut self,
        jobs: &[(Recipient, Vec<u8>)],
        body: &[u8],
        report: &mut dyn FnMut(usize, Outcome) -> bool,
    );
}

/// Why a session ended other than by QUIT.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed or timed out.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The client closed the connection without QUIT.
    #[error("client closed the connection{0}")]
    Closed(&'static str),
    /// Too many protocol errors.
    #[error("too many errors")]
    TooManyErrors,
}

struct Accepted {
    path: Path,
    recipient: Recipient,
}

#[derive(Default)]
struct Transaction {
    from: Option<Path>,
    smtputf8: bool,
    rcpts: Vec<Accepted>,
    /// BDAT chunks received so far.
    chunks: Option<Message>,
}

/// A message being received.
#[derive(Default)]
struct Message {
    body: Vec<u8>,
    too_large: bool,
    bad: Option<&'static str>,
}

impl Message {
    fn push(&mut self, bytes: &[u8], limit: u64) {
        if self.too_large {
            return;
        }
        if (self.body.len() + bytes.len()) as u64 > limit {
            self.too_large = true;
            self.body = Vec::new();
            return;
        }
        self.body.extend_from_slice(bytes);
    }
}

/// Checks message content: not empty, no NUL, CR and LF only as CRLF, lines of at
/// most 998 octets. Returns what is wrong.
pub fn check_content(body: &[u8]) -> Result<(), &'static str> {
    // An empty message is a mistake upstream, not mail (RFC 5322 needs at
    // least the header fields); `deliver` refuses one with EX_DATAERR.
    if body.is_empty() {
        return Err("empty message");
    }
    let mut line_len = 0usize;
    let mut prev = 0u8;
    for (i, &b) in body.iter().enumerate() {
        match b {
            0 => return Err("NUL in message"),
            b'\r' if body.get(i + 1) != Some(&b'\n') => return Err("bare CR in message"),
            b'\n' if prev != b'\r' => return Err("bare LF in message"),
            b'\n' => line_len = 0,
            b'\r' => {}
            _ => {
                line_len += 1;
                if line_len > MAX_TEXT_LINE {
                    return Err("line longer than 998 octets");
                }
            }
        }
        prev = b;
    }
    Ok(())
}

/// Serves one session on `stream` until QUIT, end of input, a timeout or
/// too many errors.
pub fn run<S: Read + Write>(
    stream: S,
    config: &SessionConfig,
    deliverer: &mut dyn Deliverer,
) -> Result<(), SessionError> {
    let mut wire = Wire::new(stream);
    let mut s = Session {
        config,
        deliverer,
        lhlo: None,
        tx: Transaction::default(),
        errors: 0,
        quit: false,
    };
    wire.reply(
        220,
        false,
        &format!("{} LMTP crymap-like ready", config.hostname),
    );
    let result = s.serve(&mut wire);
    match &result {
        Err(SessionError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            wire.reply(421, false, "4.4.2 Idle timeout, closing connection");
        }
        Err(SessionError::TooManyErrors) => {
            wire.reply(421, false, "4.7.0 Too many errors, closing connection");
        }
        _ => {}
    }
    let _ = wire.flush();
    if s.tx.from.is_some() {
        info!("session ended inside a transaction; nothing was stored for its recipients");
    }
    result
}

struct Session<'a> {
    config: &'a SessionConfig,
    deliverer: &'a mut dyn Deliverer,
    lhlo: Option<String>,
    tx: Transaction,
    errors: u32,
    quit: bool,
}

impl Session<'_> {
    fn serve<S: Read + Write>(&mut self, wire: &mut Wire<S>) -> Result<(), SessionError> {
        loop {
            let Some(line) = wire.read_line(command::MAX_LINE)? else {
                return Err(SessionError::Closed(""));
            };
            let parsed = if line.overflow {
                Err(CommandError::TooLong)
            } else {
                command::parse(&line.bytes)
            };
            let ok = match parsed {
                Ok(cmd) => self.command(wire, cmd)?,
                Err(e) => {
                    let (code, text) = match &e {
                        CommandError::TooLong => (500, "5.5.6 Line too long".to_owned()),
                        CommandError::BadCharacters => {
                            (500, "5.5.2 Invalid characters in command".to_owned())
                        }
                        CommandError::Unknown => (500, "5.5.2 Command unrecognized".to_owned()),
                        CommandError::Syntax(c) => (501, format!("5.5.4 Syntax error in {c}")),
                        CommandError::BadPath => (501, "5.1.3 Bad address syntax".to_owned()),
                        CommandError::UnsupportedParam(p) => {
                            (555, format!("5.5.4 Parameter {p} not supported"))
                        }
                    };
                    wire.reply(code, false, &text);
                    false
                }
            };
            match ok {
                true => self.errors = 0,
                false => {
                    self.errors += 1;
                    if self.errors >= MAX_ERRORS {
                        return Err(SessionError::TooManyErrors);
                    }
                }
            }
            if self.quit {
                return Ok(());
            }
        }
    }

    /// Handles one command; `Ok(false)` when it was refused.
    fn command<S: Read + Write>(
        &mut self,
        wire: &mut Wire<S>,
        cmd: Command,
    ) -> Result<bool, SessionError> {
        let bad_sequence = |wire: &mut Wire<S>, text: &str| {
            wire.reply(503, false, &format!("5.5.1 {text}"));
            Ok(false)
        };
        match cmd {
            Command::Lhlo(domain) => {
                self.tx = Transaction::default();
                self.lhlo = Some(domain);
                let c = self.config;
                wire.reply(250, true, &c.hostname);
                for ext in [
                    "PIPELINING",
                    "8BITMIME",
                    "ENHANCEDSTATUSCODES",
                    "CHUNKING",
                    "SMTPUTF8",
                ] {
                    wire.reply(250, true, ext);
                }
                wire.reply(250, false, &format!("SIZE {}", c.max_message_size));
                Ok(true)
            }
            Command::HeloOrEhlo => {
                wire.reply(500, false, "5.5.1 This is LMTP: use LHLO");
                Ok(false)
            }
            Command::Mail(path, params) => {
                if self.lhlo.is_none() {
                    return bad_sequence(wire, "Send LHLO first");
                }
                if self.tx.from.is_some() {
                    return bad_sequence(wire, "Nested MAIL command");
                }
                if path.is_utf8() && !params.smtputf8 {
                    wire.reply(553, false, "5.6.7 Non-ASCII address needs SMTPUTF8");
                    return Ok(false);
                }
                if params
                    .size
                    .is_some_and(|s| s > self.config.max_message_size)
                {
                    wire.reply(552, false, "5.3.4 Message size exceeds fixed limit");
                    return Ok(false);
                }
                self.tx.from = Some(path);
                self.tx.smtputf8 = params.smtputf8;
                wire.reply(250, false, "2.1.0 Sender OK");
                Ok(true)
            }
            Command::Rcpt(path) => {
                if self.tx.from.is_none() {
                    return bad_sequence(wire, "Send MAIL first");
                }
                if self.tx.chunks.is_some() {
                    return bad_sequence(wire, "RCPT after BDAT");
                }
                if path.is_utf8() && !self.tx.smtputf8 {
                    wire.reply(553, false, "5.6.7 Non-ASCII address needs SMTPUTF8");
                    return Ok(false);
                }
                if self.tx.rcpts.len() >= self.config.max_recipients {
                    wire.reply(452, false, "4.5.3 Too many recipients");
                    return Ok(true);
                }
                let recipient = match Recipient::from_address(path.address()) {
                    Ok(r) => r,
                    Err(AddressError::BadDetail(_)) => {
                        wire.reply(553, false, "5.1.3 Unusable +detail in address");
                        return Ok(false);
                    }
                    Err(_) => {
                        wire.reply(550, false, "5.1.1 No such user here");
                        return Ok(true);
                    }
                };
                match self.deliverer.check(&recipient) {
                    RcptCheck::Ok => {
                        wire.reply(250, false, "2.1.5 Recipient OK");
                        self.tx.rcpts.push(Accepted { path, recipient });
                    }
                    RcptCheck::NoSuchUser => wire.reply(550, false, "5.1.1 No such user here"),
                    RcptCheck::Unavailable => {
                        wire.reply(450, false, "4.2.1 Mailbox unavailable, try again later")
                    }
                }
                Ok(true)
            }
            Command::Data => {
                if self.tx.chunks.is_some() {
                    return bad_sequence(wire, "DATA after BDAT");
                }
                if self.tx.from.is_none() {
                    return bad_sequence(wire, "Send MAIL first");
                }
                if self.tx.rcpts.is_empty() {
                    return bad_sequence(wire, "No valid recipients");
                }
                wire.reply(354, false, "Start mail input; end with <CRLF>.<CRLF>");
                let message = self.read_data(wire)?;
                self.finish(wire, message);
                Ok(true)
            }
            Command::Bdat { size, last } => self.bdat(wire, size, last),
            Command::Rset => {
                self.tx = Transaction::default();
                wire.reply(250, false, "2.0.0 OK");
                Ok(true)
            }
            Command::Noop => {
                wire.reply(250, false, "2.0.0 OK");
                Ok(true)
            }
            Command::Vrfy => {
                wire.reply(252, false, "2.5.2 Cannot VRFY; send the mail and see");
                Ok(true)
            }
            Command::Help => {
                wire.reply(214, false, "2.0.0 See RFC 2033");
                Ok(true)
            }
            Command::Quit => {
                wire.reply(221, false, "2.0.0 Bye");
                self.quit = true;
                Ok(true)
            }
        }
    }

    /// Reads DATA up to the lone dot, unstuffing; the whole input is always
    /// consumed so the session stays in step even when the message is
    /// refused.
    fn read_data<S: Read + Write>(&mut self, wire: &mut Wire<S>) -> Result<Message, SessionError> {
        let mut m = Message::default();
        let limit = self.config.max_message_size;
        loop {
            let Some(line) = wire.read_line(MAX_TEXT_LINE + 1)? else {
                return Err(SessionError::Closed(" inside DATA"));
            };
            if line.bytes == b"." {
                if line.ending == Ending::Lf {
                    // A dot ended by a bare LF is not the end of the data
                    // here, but an MTA before us may have read it as one:
                    // refuse the message rather than guess (SMTP smuggling).
                    m.bad.get_or_insert("bare LF in message");
                } else {
                    return Ok(m);
                }
            }
            if line.ending == Ending::Lf {
                m.bad.get_or_insert("bare LF in message");
            }
            if line.overflow {
                m.bad.get_or_insert("line longer than 998 octets");
            }
            let text = match line.bytes.strip_prefix(b".") {
                Some(rest) => rest,
                None => &line.bytes[..],
            };
            m.push(text, limit);
            m.push(b"\r\n", limit);
        }
    }

    fn bdat<S: Read + Write>(
        &mut self,
        wire: &mut Wire<S>,
        size: u64,
        last: bool,
    ) -> Result<bool, SessionError> {
        let limit = self.config.max_message_size;
        // The chunk follows the command whatever happens: read it even when
        // refusing, so the next command is found where it should be.
        let refuse = if self.tx.from.is_none() {
            Some("Send MAIL first")
        } else if self.tx.rcpts.is_empty() {
            Some("No valid recipients")
        } else {
            None
        };
        let message = self.tx.chunks.get_or_insert_with(Message::default);
        let complete = wire.read_chunk(size, |piece| {
            if refuse.is_none() {
                message.push(piece, limit);
            }
        })?;
        if !complete {
            return Err(SessionError::Closed(" inside BDAT"));
        }
        if let Some(text) = refuse {
            self.tx.chunks = None;
            wire.reply(503, false, &format!("5.5.1 {text}"));
            return Ok(false);
        }
        if !last {
            wire.reply(250, false, &format!("2.0.0 {size} octets received"));
            return Ok(true);
        }
        let message = self.tx.chunks.take().unwrap_or_default();
        self.finish(wire, message);
        Ok(true)
    }

    /// Delivers a complete message to every accepted recipient, one reply
    /// each, in RCPT order, each sent as soon as that copy is durable.
    fn finish<S: Read + Write>(&mut self, wire: &mut Wire<S>, mut message: Message) {
        let tx = std::mem::take(&mut self.tx);
        if !message.too_large && message.bad.is_none() {
            if let Err(what) = check_content(&message.body) {
                message.bad = Some(what);
            }
        }
        crate::store::crash::point("lmtp.after-data");
        let mut send = |path: &Path, code: u16, text: &str| {
            wire.reply(code, false, &format!("{text} {path}"));
            // Each reply leaves as soon as its copy is durable, so a crash
            // later costs the MTA a retry only for recipients not yet told.
            let sent = match wire.flush() {
                Ok(()) => true,
                Err(e) => {
                    warn!("sending the reply for {path}: {e}; storing no further copy");
                    false
                }
            };
            crate::store::crash::point("lmtp.after-reply");
            sent
        };
        if message.too_large || message.bad.is_some() {
            for a in &tx.rcpts {
                let sent = match message.bad {
                    Some(what) => send(&a.path, 554, &format!("5.6.0 Refused: {what}")),
                    None => send(&a.path, 552, "5.3.4 Message too big"),
                };
                if !sent {
                    break;
                }
            }
        } else {
            let jobs: Vec<(Recipient, Vec<u8>)> = tx
                .rcpts
                .iter()
                .map(|a| (a.recipient.clone(), self.trace_headers(&tx, a)))
                .collect();
            self.deliverer
                .deliver(&jobs, &message.body, &mut |i, outcome| {
                    let Some(a) = tx.rcpts.get(i) else {
                        return false;
                    };
                    if outcome != Outcome::Delivered {
                        warn!("delivery to {} failed: {outcome:?}", a.path);
                    }
                    let (code, text) = reply_for(outcome);
                    send(&a.path, code, &text)
                });
        }
        if message.too_large || message.bad.is_some() {
            info!(
                "message refused for {} recipient(s): {}",
                tx.rcpts.len(),
                message.bad.unwrap_or("too large")
            );
        }
    }

    /// `Return-Path:`, `Delivered-To:` and `Received:` as a final delivery
    /// adds them (RFC 5321 §4.4, RFC 2033 §4.3 "with LMTP").
    fn trace_headers(&self, tx: &Transaction, a: &Accepted) -> Vec<u8> {
        let from = tx.from.clone().unwrap_or_else(Path::null);
        let with = if tx.smtputf8 { "UTF8LMTP" } else { "LMTP" };
        let date = chrono::Local::now().format("%a, %d %b %Y %H:%M:%S %z");
        let helo = self.lhlo.as_deref().unwrap_or("unknown");
        format!(
            "Return-Path: {from}\r\nDelivered-To: {}\r\nReceived: from {helo} ({})\r\n\tby {} (crymap-like) with {with}\r\n\tfor {}; {date}\r\n",
            a.path.address(),
            self.config.peer,
            self.config.hostname,
            a.path
        )
        .into_bytes()
    }
}

/// The reply to one recipient after the message.
fn reply_for(outcome: Outcome) -> (u16, String) {
    let (code, text) = match outcome {
        Outcome::Delivered => (250, "2.0.0 Delivered"),
        Outcome::TooLarge => (552, "5.3.4 Message too big"),
        Outcome::BadInput => (554, "5.6.0 Message refused"),
        Outcome::NoSuchUser => (550, "5.1.1 No such user here"),
        Outcome::DiskFull => (452, "4.3.1 Mail system full"),
        Outcome::QuotaExceeded => (452, "4.2.2 Mailbox full"),
        Outcome::NotWritable => (450, "4.2.1 Mailbox unavailable"),
        Outcome::Temporary => (451, "4.3.0 Temporary failure, try again later"),
    };
    (code, text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_checks() {
        assert_eq!(check_content(b"a: b\r\n\r\nhi\r\n"), Ok(()));
        assert!(check_content(b"a\nb").is_err());
        assert!(check_content(b"a\rb\r\n").is_err());
        assert!(check_content(b"a\0b\r\n").is_err());
        assert_eq!(check_content(b""), Err("empty message"));
        let mut long = vec![b'x'; 998];
        long.extend_from_slice(b"\r\n");
        assert_eq!(check_content(&long), Ok(()));
        long.insert(0, b'y');
        assert!(check_content(&long).is_err());
    }
}
