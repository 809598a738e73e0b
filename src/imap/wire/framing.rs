//! Command framing: reads one complete client command (its lines plus the
//! bytes of every literal) from a buffered byte stream, sending `+`
//! continuation requests for synchronising literals.
//!
//! Owns the size limits: every line and literal is checked BEFORE it is
//! buffered, oversized input is discarded without being stored, and the
//! reader resynchronises on the next command. It never interprets a command
//! beyond its tag, its name (to apply the APPEND limits) and literal
//! headers; grammar is `parser`'s business.

use std::io::{self, BufRead, Read, Write};

use crate::imap::wire::response::Response;

/// The text of the continuation request sent for a synchronising literal.
pub const CONTINUE_TEXT: &str = "go ahead";

/// `+ go ahead`, encoded by the one response encoder.
pub fn continue_request() -> Vec<u8> {
    Response::Continue(CONTINUE_TEXT.into()).to_bytes()
}

/// Size limits, all in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (outside literals), terminator included.
    pub max_line: usize,
    /// Largest literal in commands other than APPEND.
    pub max_literal: usize,
    /// Largest literal (message) in APPEND.
    pub max_append_literal: usize,
    /// Largest total command other than APPEND, literals included.
    pub max_command: usize,
    /// Largest total APPEND command (MULTIAPPEND sends several messages).
    pub max_append_command: usize,
    /// Largest oversized non-synchronising literal that is read and thrown
    /// away to keep the session alive; beyond it the session is closed.
    pub max_discard: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024,
            max_append_literal: 64 * 1024 * 1024,
            max_command: 1024 * 1024,
            max_append_command: 128 * 1024 * 1024,
            max_discard: 128 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The bounds before authentication, when the process is still root and
    /// the client is anyone: no command needs more than a user name and a
    /// password, so a literal over 4 KiB gets no `+` (refused), a
    /// non-synchronising one over it ends the connection (nothing is skipped
    /// for a stranger), and APPEND gets no larger bound than any command.
    /// The one larger thing a client may send before login is RFC 2971's
    /// `ID`: up to 30 field/value pairs of up to 1,024 octets each, about
    /// 32 KiB quoted on one line, so lines and commands get 40 KiB.
    pub fn before_login() -> Limits {
        const LITERAL_CAP: usize = 4 * 1024;
        const LINE_CAP: usize = 40 * 1024;
        Limits {
            max_line: LINE_CAP,
            max_literal: LITERAL_CAP,
            max_append_literal: LITERAL_CAP,
            max_command: LINE_CAP,
            max_append_command: LINE_CAP,
            max_discard: 0,
        }
    }
}

/// Why no command could be returned.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The client closed the connection (possibly in mid-command).
    #[error("connection closed")]
    Eof,
    /// Reading or writing failed; the stream position is unknown, so the
    /// session must end.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The command was refused; its input has been consumed or discarded
    /// and the next call reads the next command. Answer `tag NO [TOOBIG]
    /// reason` when `no`, else `tag BAD reason` (`*` when `tag` is `None`).
    #[error("command rejected: {reason}")]
    Rejected {
        /// The tag of the refused command, when it could be read.
        tag: Option<String>,
        /// Human-readable reason.
        reason: String,
        /// `NO [TOOBIG]` (an APPEND over its limit) rather than `BAD`.
        no: bool,
    },
    /// The input cannot be resynchronised: send `* BYE reason` and close.
    #[error("fatal protocol error: {0}")]
    Fatal(String),
}

/// A literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LiteralHeader {
    /// Announced length (saturated at `u64::MAX` on overflow).
    len: u64,
    /// `{n}` (wait for `+`) rather than `{n+}`.
    sync: bool,
}

/// Finds `{n}`, `{n+}`, `~{n}` or `~{n+}` at the end of a line. A line can
/// only end in `}` when its last token is a literal header: atoms cannot
/// contain `{` and quoted strings end in `"`.
fn literal_header(line: &[u8]) -> Option<LiteralHeader> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let (inner, sync) = match inner.strip_suffix(b"+") {
        Some(i) => (i, false),
        None => (inner, true),
    };
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner.get(open + 1..)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(LiteralHeader { len, sync })
}

/// The tag at the start of a command line, if it looks like one.
fn line_tag(line: &[u8]) -> Option<String> {
    let end = line.iter().position(|&b| b == b' ')?;
    let tag = line.get(..end)?;
    let ok = !tag.is_empty()
        && tag.iter().all(|&b| {
            b > 0x20
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        });
    ok.then(|| String::from_utf8_lossy(tag).into_owned())
}

/// True when the first line is a command that carries messages: APPEND,
/// or `[UID] REPLACE` (RFC 8508), which get the APPEND limits.
fn is_append(line: &[u8]) -> bool {
    let mut words = line
        .split(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .skip(1)
        .filter(|w| !w.is_empty());
    let is = |w: Option<&[u8]>, name: &[u8]| w.is_some_and(|w| w.eq_ignore_ascii_case(name));
    let verb = words.next();
    is(verb, b"APPEND")
        || is(verb, b"REPLACE")
        || (is(verb, b"UID") && is(words.next(), b"REPLACE"))
}

/// Outcome of reading one bounded line.
enum Line {
    /// A complete line, terminator included.
    Full(Vec<u8>),
    /// The line exceeded the limit and was discarded up to its LF; `head`
    /// holds its first bytes (for the tag) and `tail` its last ones (to see
    /// whether it announced a literal).
    TooLong { head: Vec<u8>, tail: Vec<u8> },
}

const KEEP: usize = 64;

/// A reader and a writer joined into the one duplex stream
/// [`CommandReader::read_command`] takes: for tests, fuzzing, and any
/// transport whose two directions are separate objects.
#[derive(Debug)]
pub struct Duplex<R, W> {
    /// Where commands come from.
    pub r: R,
    /// Where continuation requests go.
    pub w: W,
}

impl<R: BufRead, W> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.r.read(buf)
    }
}

impl<R: BufRead, W> BufRead for Duplex<R, W> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.r.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.r.consume(n)
    }
}

impl<R, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Reads one command at a time; see the module documentation.
#[derive(Debug, Clone)]
pub struct CommandReader {
    limits: Limits,
}

impl CommandReader {
    /// A reader enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        CommandReader { limits }
    }

    /// Applies other bounds from the next command on (the session widens
    /// them after login).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Reads one complete command from `io`, writing `+ go ahead` back to it
    /// (and flushing it) before each synchronising literal. Blank lines between
    /// commands are skipped. The result ends with the final line's LF.
    pub fn read_command<S: BufRead + Write>(&mut self, io: &mut S) -> Result<Vec<u8>, FrameError> {
        let mut buf: Vec<u8> = Vec::new();
        let mut tag: Option<String> = None;
        let mut append = false;
        loop {
            let first = buf.is_empty();
            let line = match read_bounded_line(io, self.limits.max_line)? {
                Line::Full(l) => l,
                Line::TooLong { head, tail } => {
                    if first {
                        tag = line_tag(&head);
                    }
                    self.discard_rest(io, literal_header(&tail))?;
                    return Err(rejected(tag, "line too long", false));
                }
            };
            if first {
                if line == b"\r\n" || line == b"\n" {
                    continue;
                }
                tag = line_tag(&line);
                append = is_append(&line);
            }
            let lit = literal_header(&line);
            if line.contains(&0) {
                self.discard_rest(io, lit)?;
                return Err(rejected(tag, "NUL byte in command line", false));
            }
            let (max_lit, max_total) = if append {
                (
                    self.limits.max_append_literal,
                    self.limits.max_append_command,
                )
            } else {
                (self.limits.max_literal, self.limits.max_command)
            };
            if buf.len() + line.len() > max_total {
                self.discard_rest(io, lit)?;
                return Err(rejected(tag, "command too long", append));
            }
            buf.extend_from_slice(&line);
            let Some(lit) = lit else {
                return Ok(buf);
            };
            let fits = usize::try_from(lit.len)
                .ok()
                .filter(|&n| n <= max_lit && buf.len().saturating_add(n) <= max_total);
            let Some(n) = fits else {
                self.discard_rest(io, Some(lit))?;
                return Err(rejected(tag, "literal too large", append));
            };
            if lit.sync {
                io.write_all(&continue_request())?;
                io.flush()?;
            }
            buf.reserve(n);
            let got = read_into(io, &mut buf, n)?;
            if got < n {
                return Err(FrameError::Eof);
            }
        }
    }

    /// Reads one line (AUTHENTICATE data, IDLE's DONE), bounded by
    /// `max_line`, and returns it without its CRLF or LF.
    pub fn read_line<R: BufRead>(&mut self, r: &mut R) -> Result<Vec<u8>, FrameError> {
        match read_bounded_line(r, self.limits.max_line)? {
            Line::Full(mut l) => {
                l.pop();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                Ok(l)
            }
            Line::TooLong { .. } => Err(rejected(None, "line too long", false)),
        }
    }

    /// Skips what remains of a refused command whose last line announced
    /// `lit`: a synchronising literal will never come (we send no `+`), a
    /// non-synchronising one comes anyway and is read and thrown away,
    /// together with the lines and literals that follow it.
    fn discard_rest<R: BufRead>(
        &self,
        r: &mut R,
        mut lit: Option<LiteralHeader>,
    ) -> Result<(), FrameError> {
        let mut budget = self.limits.max_discard as u64;
        while let Some(l) = lit {
            if l.sync {
                return Ok(());
            }
            if l.len > budget {
                return Err(FrameError::Fatal(
                    "non-synchronising literal too large to skip".into(),
                ));
            }
            budget -= l.len;
            let skipped = io::copy(&mut r.by_ref().take(l.len), &mut io::sink())?;
            if skipped < l.len {
                return Err(FrameError::Eof);
            }
            lit = match read_bounded_line(r, self.limits.max_line)? {
                Line::Full(line) => literal_header(&line),
                Line::TooLong { tail, .. } => literal_header(&tail),
            };
        }
        Ok(())
    }
}

fn rejected(tag: Option<String>, reason: &str, no: bool) -> FrameError {
    FrameError::Rejected {
        tag,
        reason: reason.to_owned(),
        no,
    }
}

/// Appends exactly `n` bytes from `r` to `buf` (fewer only at EOF), copying
/// each byte once.
fn read_into<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, n: usize) -> Result<usize, FrameError> {
    let mut take = r.by_ref().take(n as u64);
    loop {
        match take.read_to_end(buf) {
            Ok(got) => return Ok(got),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `fill_buf`, retrying on EINTR.
fn fill<R: BufRead>(r: &mut R) -> Result<&[u8], FrameError> {
    loop {
        match r.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    // The data is buffered now, so this second call performs no I/O; it
    // exists because returning the first borrow from the loop is rejected
    // by the borrow checker.
    Ok(r.fill_buf()?)
}

/// Reads up to and including the next LF, never buffering more than `max`
/// bytes of it. An overlong line is consumed to its LF; if it goes on past
/// ten times the limit the connection is considered hostile (Fatal).
fn read_bounded_line<R: BufRead>(r: &mut R, max: usize) -> Result<Line, FrameError> {
    let mut line: Vec<u8> = Vec::new();
    let mut discarded: Option<(Vec<u8>, Vec<u8>, usize)> = None;
    loop {
        let chunk = fill(r)?;
        if chunk.is_empty() {
            return Err(FrameError::Eof);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(p) => (p + 1, true),
            None => (chunk.len(), false),
        };
        let piece = chunk.get(..take).unwrap_or_default();
        match &mut discarded {
            None if line.len() + take <= max => line.extend_from_slice(piece),
            None => {
                let mut head = std::mem::take(&mut line);
                head.extend_from_slice(
                    piece
                        .get(..KEEP.saturating_sub(head.len()))
                        .unwrap_or(piece),
                );
                head.truncate(KEEP);
                let tail = piece
                    .get(piece.len().saturating_sub(KEEP)..)
                    .unwrap_or_default()
                    .to_vec();
                discarded = Some((head, tail, take));
            }
            Some((_, tail, count)) => {
                *count += take;
                tail.extend_from_slice(piece);
                let cut = tail.len().saturating_sub(KEEP);
                tail.drain(..cut);
            }
        }
        r.consume(take);
        if let Some((_, _, count)) = &discarded {
            if *count > max.saturating_mul(10) {
                return Err(FrameError::Fatal("line too long".into()));
            }
        }
        if done {
            return Ok(match discarded {
                None => Line::Full(line),
                Some((head, tail, _)) => Line::TooLong { head, tail },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn small() -> Limits {
        Limits {
            max_line: 100,
            max_literal: 50,
            max_append_literal: 1000,
            max_command: 400,
            max_append_command: 3000,
            max_discard: 5000,
        }
    }

    /// Reads every command of `input`; returns results and what was written.
    fn run(input: &[u8], limits: Limits) -> (Vec<Result<Vec<u8>, String>>, Vec<u8>) {
        let mut io = Duplex {
            r: BufReader::with_capacity(16, input),
            w: Vec::<u8>::new(),
        };
        let mut reader = CommandReader::new(limits);
        let mut out = Vec::new();
        loop {
            match reader.read_command(&mut io) {
                Ok(c) => out.push(Ok(c)),
                Err(FrameError::Eof) => break,
                Err(FrameError::Rejected { tag, reason, no }) => {
                    out.push(Err(format!("{tag:?} {reason} no={no}")))
                }
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        (out, io.w)
    }

    /// Runs `input`, in which `t1` must be rejected for `reason` (tagged NO
    /// when `no`) and the reader must resynchronise on the `t2 NOOP` after
    /// it; returns what was written back.
    fn rejects_t1_then_reads_t2(input: &[u8], reason: &str, no: bool) -> Vec<u8> {
        let (cmds, w) = run(input, small());
        assert_eq!(
            cmds.first(),
            Some(&Err(format!("Some(\"t1\") {reason} no={no}")))
        );
        assert_eq!(cmds.get(1), Some(&Ok(b"t2 NOOP\r\n".to_vec())));
        w
    }

    /// `head`, `n` copies of `byte`, then `tail`: an oversized line or
    /// literal body.
    fn filled(head: &[u8], byte: u8, n: usize, tail: &[u8]) -> Vec<u8> {
        [head, &vec![byte; n], tail].concat()
    }

    /// Runs `input`, which must end the connection with nothing but the
    /// fatal error `reason`.
    fn is_fatal(input: &[u8], reason: &str) {
        let (cmds, _) = run(input, small());
        assert_eq!(cmds, vec![Err(format!("fatal protocol error: {reason}"))]);
    }

    #[test]
    fn simple_and_bare_lf() {
        let (cmds, w) = run(b"a NOOP\r\n\r\nb CAPABILITY\nc LOGOUT\r\n", small());
        assert_eq!(
            cmds,
            vec![
                Ok(b"a NOOP\r\n".to_vec()),
                Ok(b"b CAPABILITY\n".to_vec()),
                Ok(b"c LOGOUT\r\n".to_vec())
            ]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn literals_sync_and_nonsync() {
        let input = b"a LOGIN {3}\r\nbob {5+}\r\nse\r\nt\r\nb NOOP\r\n";
        let (cmds, w) = run(input, small());
        assert_eq!(
            cmds[0],
            Ok(b"a LOGIN {3}\r\nbob {5+}\r\nse\r\nt\r\n".to_vec())
        );
        assert_eq!(cmds[1], Ok(b"b NOOP\r\n".to_vec()));
        assert_eq!(w, continue_request());
    }

    #[test]
    fn line_too_long_is_rejected_and_resyncs() {
        let input = filled(b"t1 SEARCH TEXT ", b'x', 300, b"\r\nt2 NOOP\r\n");
        rejects_t1_then_reads_t2(&input, "line too long", false);
    }

    #[test]
    fn absurdly_long_line_is_fatal() {
        let input = vec![b'x'; 5000];
        is_fatal(&input, "line too long");
    }

    #[test]
    fn oversized_sync_literal_gets_no_continuation() {
        let input = b"t1 LOGIN {51}\r\nt2 NOOP\r\n";
        assert!(rejects_t1_then_reads_t2(input, "literal too large", false).is_empty());
        let input = b"t1 APPEND INBOX {1001}\r\nt2 NOOP\r\n";
        assert!(rejects_t1_then_reads_t2(input, "literal too large", true).is_empty());
    }

    #[test]
    fn replace_gets_the_append_limit_and_other_commands_do_not() {
        for (line, want) in [
            (&b"t1 APPEND INBOX {5}\r\n"[..], true),
            (b"t1 append INBOX {5}\r\n", true),
            (b"t1 REPLACE 1 INBOX {5}\r\n", true),
            (b"t1 uid replace 1 INBOX {5}\r\n", true),
            (b"t1 UID FETCH 1 BODY[]\r\n", false),
            (b"t1 APPENDX INBOX {5}\r\n", false),
            (b"t1 LOGIN {5}\r\n", false),
            (b"APPEND", false),
        ] {
            assert_eq!(is_append(line), want, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn append_gets_its_bigger_limit() {
        let input = filled(b"t1 APPEND INBOX ~{600}\r\n", b'm', 600, b"\r\n");
        let (cmds, w) = run(&input, small());
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].as_ref().map(Vec::len), Ok(input.len()));
        assert_eq!(w, continue_request());
    }

    #[test]
    fn oversized_nonsync_literal_is_skipped() {
        let input = filled(
            b"t1 LOGIN {60+}\r\n",
            b'z',
            60,
            b" {2+}\r\nzz\r\nt2 NOOP\r\n",
        );
        rejects_t1_then_reads_t2(&input, "literal too large", false);
    }

    #[test]
    fn huge_nonsync_literal_is_fatal() {
        is_fatal(
            b"t1 LOGIN {99999999999999999999999+}\r\n",
            "non-synchronising literal too large to skip",
        );
    }

    #[test]
    fn total_command_limit() {
        // Each literal fits, their sum does not.
        let mut input = Vec::new();
        input.extend_from_slice(b"t1 SEARCH TEXT {50+}\r\n");
        for _ in 0..8 {
            input.extend(std::iter::repeat(b'a').take(50));
            input.extend_from_slice(b" TEXT {50+}\r\n");
        }
        input.extend(std::iter::repeat(b'a').take(50));
        input.extend_from_slice(b"\r\nt2 NOOP\r\n");
        rejects_t1_then_reads_t2(&input, "literal too large", false);
    }

    #[test]
    fn nul_byte_rejected() {
        rejects_t1_then_reads_t2(
            b"t1 NO\0OP\r\nt2 NOOP\r\n",
            "NUL byte in command line",
            false,
        );
    }

    #[test]
    fn nul_inside_literal_is_data() {
        let (cmds, _) = run(b"t1 LOGIN {2+}\r\n\0a b\r\n", small());
        assert_eq!(cmds[0], Ok(b"t1 LOGIN {2+}\r\n\0a b\r\n".to_vec()));
    }

    #[test]
    fn eof_inside_literal_or_line() {
        let (cmds, _) = run(b"t1 LOGIN {10+}\r\nabc", small());
        assert!(cmds.is_empty());
        let (cmds, _) = run(b"t1 NOO", small());
        assert!(cmds.is_empty());
    }

    #[test]
    fn read_line_strips_terminator() {
        let mut r = BufReader::new(&b"DONE\r\nabc\n"[..]);
        let mut reader = CommandReader::new(small());
        assert_eq!(reader.read_line(&mut r).ok(), Some(b"DONE".to_vec()));
        assert_eq!(reader.read_line(&mut r).ok(), Some(b"abc".to_vec()));
        assert!(matches!(reader.read_line(&mut r), Err(FrameError::Eof)));
        let long = [vec![b'a'; 150], b"\r\nok\r\n".to_vec()].concat();
        let mut r = BufReader::new(&long[..]);
        assert!(matches!(
            reader.read_line(&mut r),
            Err(FrameError::Rejected { .. })
        ));
        assert_eq!(reader.read_line(&mut r).ok(), Some(b"ok".to_vec()));
    }

    #[test]
    fn megabyte_append_frames_and_parses() {
        use crate::imap::wire::command::CommandBody;
        use crate::imap::wire::parser::{parse_command, ParseOptions};
        let msg = vec![b'q'; 1 << 20];
        let mut input = format!("A1 APPEND INBOX (\\Seen) {{{}}}\r\n", msg.len()).into_bytes();
        input.extend_from_slice(&msg);
        input.extend_from_slice(b"\r\n");
        let mut io = Duplex {
            r: BufReader::new(&input[..]),
            w: Vec::<u8>::new(),
        };
        let mut reader = CommandReader::new(Limits::default());
        let cmd = match reader.read_command(&mut io) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(io.w, continue_request());
        match parse_command(&cmd, &ParseOptions::default()).map(|c| c.body) {
            Ok(CommandBody::Append { messages, .. }) => {
                assert_eq!(messages.first().map(|m| m.data == msg), Some(true));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn literal_header_detection() {
        assert_eq!(
            literal_header(b"a {5}\r\n"),
            Some(LiteralHeader { len: 5, sync: true })
        );
        assert_eq!(
            literal_header(b"a ~{5+}\n"),
            Some(LiteralHeader {
                len: 5,
                sync: false
            })
        );
        assert_eq!(literal_header(b"a \"{5}\"\r\n"), None);
        assert_eq!(literal_header(b"a {}\r\n"), None);
        assert_eq!(literal_header(b"a {5}"), None);
    }
}
