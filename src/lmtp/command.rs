//! The LMTP command grammar (RFC 2033 over RFC 5321 §4.1, with the
//! parameters of 8BITMIME, SIZE, CHUNKING and SMTPUTF8): one command line,
//! without its CRLF, in; a typed [`Command`] or a typed [`CommandError`]
//! out. Owns the syntax only; never decides what a command means in the
//! session's current state.

use std::fmt;

use thiserror::Error;

/// The longest command line accepted, without CRLF. RFC 5321 §4.5.3.1.4
/// asks for 512 octets; parameters and UTF-8 addresses may need more.
pub const MAX_LINE: usize = 2048;

/// A mail path (`<...>` of MAIL FROM or RCPT TO) with any source route
/// dropped; `<>` is the null reverse path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// The null reverse path `<>`.
    pub fn null() -> Path {
        Path(String::new())
    }

    /// Whether this is `<>`.
    pub fn is_null(&self) -> bool {
        self.0.is_empty()
    }

    /// The address, `local@domain` (empty for `<>`).
    pub fn address(&self) -> &str {
        &self.0
    }

    /// Whether the address holds non-ASCII characters (needs SMTPUTF8).
    pub fn is_utf8(&self) -> bool {
        !self.0.is_ascii()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// The BODY= parameter of MAIL (RFC 6152).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// The parameters of MAIL FROM this server understands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=n` (RFC 1870): the sender's estimate.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152).
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
}

/// One LMTP command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `LHLO domain`.
    Lhlo(String),
    /// `HELO` or `EHLO`, which LMTP does not accept (RFC 2033 §4.1).
    HeloOrEhlo,
    /// `MAIL FROM:<path> params`.
    Mail(Path, MailParams),
    /// `RCPT TO:<path>` (no parameters are supported).
    Rcpt(Path),
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        /// Octets of the chunk that follows the command line.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string` (answered 252: never verified).
    Vrfy,
    /// `HELP [string]`.
    Help,
}

/// Why a command line is not a command; each maps to one reply.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CommandError {
    /// The line is longer than [`MAX_LINE`].
    #[error("line too long")]
    TooLong,
    /// The line holds a NUL, a bare CR or invalid UTF-8.
    #[error("invalid characters in command")]
    BadCharacters,
    /// The verb is not an LMTP command.
    #[error("command unrecognized")]
    Unknown,
    /// The verb is known but its arguments are malformed.
    #[error("syntax error in arguments of {0}")]
    Syntax(&'static str),
    /// A path is malformed.
    #[error("bad address syntax")]
    BadPath,
    /// A parameter is not supported (e.g. DSN's NOTIFY) or its value is.
    #[error("parameter {0} not supported")]
    UnsupportedParam(String),
}

fn verb_args(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((v, rest)) => (v, rest),
        None => (line, ""),
    }
}

/// Parses one command line (without CRLF).
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    if line.len() > MAX_LINE {
        return Err(CommandError::TooLong);
    }
    if line.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(CommandError::BadCharacters);
    }
    let line = std::str::from_utf8(line).map_err(|_| CommandError::BadCharacters)?;
    let (verb, args) = verb_args(line);
    let no_args = |name: &'static str, cmd: Command| {
        if args.trim().is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::Syntax(name))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "LHLO" => {
            let domain = args.trim();
            // The name goes into Received: headers: no spaces or controls.
            if domain.is_empty() || domain.chars().any(|c| c == ' ' || c.is_control()) {
                return Err(CommandError::Syntax("LHLO"));
            }
            Ok(Command::Lhlo(domain.to_owned()))
        }
        "HELO" | "EHLO" => Ok(Command::HeloOrEhlo),
        "MAIL" => {
            let rest = strip_prefix_ci(args, "FROM:").ok_or(CommandError::Syntax("MAIL"))?;
            let (path, params) = parse_path(rest)?;
            Ok(Command::Mail(path, parse_mail_params(params)?))
        }
        "RCPT" => {
            let rest = strip_prefix_ci(args, "TO:").ok_or(CommandError::Syntax("RCPT"))?;
            let (path, params) = parse_path(rest)?;
            if path.is_null() {
                return Err(CommandError::BadPath);
            }
            if let Some(p) = params.split(' ').find(|p| !p.is_empty()) {
                return Err(CommandError::UnsupportedParam(param_name(p)));
            }
            Ok(Command::Rcpt(path))
        }
        "DATA" => no_args("DATA", Command::Data),
        "BDAT" => parse_bdat(args),
        "RSET" => no_args("RSET", Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args("QUIT", Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "HELP" => Ok(Command::Help),
        _ => Err(CommandError::Unknown),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn param_name(p: &str) -> String {
    p.split('=').next().unwrap_or_default().to_ascii_uppercase()
}

/// Parses `<path>` (a space after the colon is tolerated, as many clients
/// send one) and returns it with the text after it.
fn parse_path(s: &str) -> Result<(Path, &str), CommandError> {
    let s = s.strip_prefix(' ').unwrap_or(s);
    let inner_and_rest = s.strip_prefix('<').ok_or(CommandError::BadPath)?;
    let (inner, rest) = split_path(inner_and_rest)?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(CommandError::BadPath);
    }
    // A source route `@a,@b:` is obsolete and ignored (RFC 5321 §4.1.2).
    let mailbox = if inner.starts_with('@') {
        inner
            .split_once(':')
            .map(|(_, m)| m)
            .ok_or(CommandError::BadPath)?
    } else {
        inner
    };
    if mailbox.is_empty() {
        return if inner.is_empty() {
            Ok((Path::null(), rest))
        } else {
            Err(CommandError::BadPath)
        };
    }
    check_mailbox(mailbox)?;
    Ok((Path(mailbox.to_owned()), rest))
}

/// Splits at the `>` that closes the path, honouring a quoted local part.
fn split_path(s: &str) -> Result<(&str, &str), CommandError> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                let rest = s.get(i + 1..).ok_or(CommandError::BadPath)?;
                return Ok((s.get(..i).ok_or(CommandError::BadPath)?, rest));
            }
            _ => {}
        }
    }
    Err(CommandError::BadPath)
}

/// `local@domain`: a dot-string or quoted local part, a non-empty domain
/// without spaces or controls. Non-ASCII is allowed (RFC 6531); whether the
/// transaction may use it is the session's decision.
fn check_mailbox(m: &str) -> Result<(), CommandError> {
    let at = m.rfind('@').ok_or(CommandError::BadPath)?;
    let (local, domain) = (
        m.get(..at).unwrap_or_default(),
        m.get(at + 1..).unwrap_or_default(),
    );
    if local.is_empty() || domain.is_empty() || local.len() > 256 || domain.len() > 255 {
        return Err(CommandError::BadPath);
    }
    let bad_char = |c: char| c.is_control() || c == ' ';
    if domain
        .chars()
        .any(|c| bad_char(c) || matches!(c, '<' | '>' | '"' | '@' | ','))
    {
        return Err(CommandError::BadPath);
    }
    if local.starts_with('"') {
        if local.len() < 2 || !local.ends_with('"') || local.chars().any(char::is_control) {
            return Err(CommandError::BadPath);
        }
    } else if local
        .chars()
        .any(|c| bad_char(c) || "<>()[]\\,;:\"@".contains(c))
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(CommandError::BadPath);
    }
    Ok(())
}

fn parse_mail_params(s: &str) -> Result<MailParams, CommandError> {
    let mut out = MailParams::default();
    for p in s.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                out.size = Some(v.parse().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {
                out.body = Some(Body::SevenBit);
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                out.body = Some(Body::EightBitMime);
            }
            ("SMTPUTF8", None) => out.smtputf8 = true,
            ("SIZE" | "BODY", _) => return Err(CommandError::Syntax("MAIL")),
            _ => return Err(CommandError::UnsupportedParam(param_name(p))),
        }
    }
    Ok(out)
}

fn parse_bdat(args: &str) -> Result<Command, CommandError> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse().ok())
        .ok_or(CommandError::Syntax("BDAT"))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(CommandError::Syntax("BDAT")),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax("BDAT"));
    }
    Ok(Command::Bdat { size, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, CommandError> {
        parse(s.as_bytes())
    }

    fn path(s: &str) -> Path {
        Path(s.to_owned())
    }

    #[test]
    fn commands_parse() {
        assert_eq!(p("LHLO mx.example"), Ok(Command::Lhlo("mx.example".into())));
        assert_eq!(
            p("lhlo [127.0.0.1]"),
            Ok(Command::Lhlo("[127.0.0.1]".into()))
        );
        assert_eq!(p("EHLO x"), Ok(Command::HeloOrEhlo));
        assert_eq!(
            p("MAIL FROM:<a@b.c> SIZE=100 BODY=8BITMIME SMTPUTF8"),
            Ok(Command::Mail(
                path("a@b.c"),
                MailParams {
                    size: Some(100),
                    body: Some(Body::EightBitMime),
                    smtputf8: true
                }
            ))
        );
        assert_eq!(
            p("mail from: <>"),
            Ok(Command::Mail(Path::null(), MailParams::default()))
        );
        assert_eq!(p("RCPT TO:<bob+x@d>"), Ok(Command::Rcpt(path("bob+x@d"))));
        assert_eq!(
            p("RCPT TO:<@relay,@r2:bob@d>"),
            Ok(Command::Rcpt(path("bob@d")))
        );
        assert_eq!(
            p("RCPT TO:<\"a>b\"@d>"),
            Ok(Command::Rcpt(path("\"a>b\"@d")))
        );
        assert_eq!(
            p("RCPT TO:<jörg@例え.jp>"),
            Ok(Command::Rcpt(path("jörg@例え.jp")))
        );
        assert_eq!(
            p("BDAT 0 LAST"),
            Ok(Command::Bdat {
                size: 0,
                last: true
            })
        );
        assert_eq!(
            p("bdat 512"),
            Ok(Command::Bdat {
                size: 512,
                last: false
            })
        );
        assert_eq!(p("DATA"), Ok(Command::Data));
        assert_eq!(p("NOOP hello"), Ok(Command::Noop));
        assert_eq!(p("QUIT"), Ok(Command::Quit));
    }

    #[test]
    fn bad_commands_get_typed_errors() {
        assert_eq!(p("FROB"), Err(CommandError::Unknown));
        assert_eq!(p(""), Err(CommandError::Unknown));
        assert_eq!(p("LHLO"), Err(CommandError::Syntax("LHLO")));
        assert_eq!(p("LHLO a\tb"), Err(CommandError::Syntax("LHLO")));
        assert_eq!(p("MAIL <a@b>"), Err(CommandError::Syntax("MAIL")));
        assert_eq!(p("MAIL FROM:a@b"), Err(CommandError::BadPath));
        assert_eq!(p("MAIL FROM:<a@b"), Err(CommandError::BadPath));
        assert_eq!(p("RCPT TO:<>"), Err(CommandError::BadPath));
        assert_eq!(p("RCPT TO:<nodomain>"), Err(CommandError::BadPath));
        assert_eq!(p("RCPT TO:<a..b@c>"), Err(CommandError::BadPath));
        assert_eq!(p("RCPT TO:<a@b>x"), Err(CommandError::BadPath));
        assert_eq!(
            p("RCPT TO:<a@b> NOTIFY=NEVER"),
            Err(CommandError::UnsupportedParam("NOTIFY".into()))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> RET=FULL"),
            Err(CommandError::UnsupportedParam("RET".into()))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE=x"),
            Err(CommandError::Syntax("MAIL"))
        );
        assert_eq!(p("BDAT"), Err(CommandError::Syntax("BDAT")));
        assert_eq!(p("BDAT -1"), Err(CommandError::Syntax("BDAT")));
        assert_eq!(p("BDAT 1 LAST x"), Err(CommandError::Syntax("BDAT")));
        assert_eq!(
            p("BDAT 99999999999999999999"),
            Err(CommandError::Syntax("BDAT"))
        );
        assert_eq!(p("DATA now"), Err(CommandError::Syntax("DATA")));
        assert_eq!(parse(b"NOOP \0"), Err(CommandError::BadCharacters));
        assert_eq!(parse(b"NOOP \xff"), Err(CommandError::BadCharacters));
        assert_eq!(parse(&[b'A'; MAX_LINE + 1]), Err(CommandError::TooLong));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_u32;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    b"MAILRCPTFROM:TO<>@\"\\ ,.=BDAT0123LAST\xc3\xa9"[(seed % 36) as usize]
                })
                .collect();
            let _ = parse(&line);
        }
    }
}
