//! nom parsers from one complete, framed client command (its lines and the
//! bytes of its literals, exactly as received) to the typed [`Command`] AST,
//! plus the two non-command lines a client may send: AUTHENTICATE
//! continuation data and IDLE's `DONE`.
//!
//! Owns the grammar only: it never reads from the network (see
//! `framing`), never checks whether a command is allowed in the current
//! session state and never looks at the store. Every failure is a
//! [`ParseError`] whose reason says what was wrong, with the tag when it
//! could be read, so the session can answer `tag BAD reason`.
//! Recursion (SEARCH's NOT/OR/parentheses) is capped at [`MAX_DEPTH`].

use std::borrow::Cow;
use std::num::NonZeroU32;

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use nom::bytes::complete::{tag_no_case, take_while1};
use nom::IResult;
use thiserror::Error;

use super::command::*;
use super::mutf7;
use super::response::is_atom_char;

/// Maximum nesting of SEARCH criteria (parentheses, NOT, OR).
pub const MAX_DEPTH: usize = 100;

/// Session settings that change how commands are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// UTF8=ACCEPT is enabled: mailbox names are raw UTF-8, not modified UTF-7.
    pub utf8_accept: bool,
}

/// Why a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct ParseError {
    /// The tag, when it could be read (answer `tag BAD`), else `None` (`* BAD`).
    pub tag: Option<String>,
    /// Human-readable reason, safe to send after `BAD`.
    pub reason: String,
    /// The command is well formed but names something that cannot exist
    /// (a mailbox name that is not valid modified UTF-7): answer `NO`,
    /// as Dovecot does, rather than `BAD`.
    pub no: bool,
}

/// A line received after `+` during AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResponse {
    /// Decoded SASL data (empty for an empty line or `=`).
    Data(Vec<u8>),
    /// `*`: the client aborts the exchange.
    Cancel,
}

/// Internal nom error: just the reason.
#[derive(Debug)]
struct PErr {
    reason: Cow<'static, str>,
    /// See [`ParseError::no`].
    no: bool,
}

impl<'a> nom::error::ParseError<&'a [u8]> for PErr {
    fn from_error_kind(_input: &'a [u8], kind: nom::error::ErrorKind) -> Self {
        PErr {
            reason: Cow::Owned(format!("syntax error ({})", kind.description())),
            no: false,
        }
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type R<'a, T> = IResult<&'a [u8], T, PErr>;

fn fail<'a, T>(reason: impl Into<Cow<'static, str>>) -> R<'a, T> {
    Err(nom::Err::Failure(PErr {
        reason: reason.into(),
        no: false,
    }))
}

/// Runs `p`, replacing any error by `reason` (for tokens whose own error
/// would be less helpful than the context).
fn ctx<'a, T>(
    reason: &'static str,
    mut p: impl FnMut(&'a [u8]) -> R<'a, T>,
) -> impl FnMut(&'a [u8]) -> R<'a, T> {
    move |i| p(i).or_else(|_| fail(reason))
}

fn expect<'a>(i: &'a [u8], token: &'static [u8], reason: &'static str) -> R<'a, ()> {
    match i.strip_prefix(token) {
        Some(rest) => Ok((rest, ())),
        None => fail(reason),
    }
}

fn sp(i: &[u8]) -> R<'_, ()> {
    expect(i, b" ", "expected SP")
}

fn peek(i: &[u8]) -> Option<u8> {
    i.first().copied()
}

fn keyword<'a>(i: &'a [u8], word: &'static str) -> Option<&'a [u8]> {
    let r: R<'a, &'a [u8]> = tag_no_case(word.as_bytes())(i);
    r.ok().map(|(rest, _)| rest)
}

// ---------------------------------------------------------------- tokens

/// A client-supplied word for an error message: bounded so a huge token
/// cannot make a huge response (callers pass only printable ASCII).
fn shown(word: &[u8]) -> String {
    String::from_utf8_lossy(word.get(..32).unwrap_or(word)).into_owned()
}

fn digits(i: &[u8]) -> R<'_, &[u8]> {
    take_while1(|b: u8| b.is_ascii_digit())(i)
}

fn number64(i: &[u8]) -> R<'_, u64> {
    let (rest, d) = ctx("expected number", digits)(i)?;
    let mut n: u64 = 0;
    for &c in d {
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
        {
            Some(n) => n,
            None => return fail("number too large"),
        };
    }
    Ok((rest, n))
}

fn number(i: &[u8]) -> R<'_, u32> {
    let (rest, n) = number64(i)?;
    match u32::try_from(n) {
        Ok(n) => Ok((rest, n)),
        Err(_) => fail("number too large"),
    }
}

fn nz_number(i: &[u8]) -> R<'_, NonZeroU32> {
    let (rest, n) = number(i)?;
    match NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        None => fail("number must not be zero"),
    }
}

/// `mod-sequence-valzer`: 0 ..= 2^63-1.
fn mod_seq_valzer(i: &[u8]) -> R<'_, ModSeq> {
    let (rest, n) = number64(i)?;
    if n > i64::MAX as u64 {
        return fail("mod-sequence too large");
    }
    Ok((rest, ModSeq(n)))
}

fn mod_seq_value(i: &[u8]) -> R<'_, ModSeq> {
    let (rest, m) = mod_seq_valzer(i)?;
    if m.0 == 0 {
        return fail("mod-sequence must not be zero");
    }
    Ok((rest, m))
}

fn atom(i: &[u8]) -> R<'_, &[u8]> {
    take_while1(is_atom_char)(i)
}

fn atom_string(i: &[u8]) -> R<'_, String> {
    let (rest, a) = atom(i)?;
    // Atom chars are 7-bit, so this never loses anything.
    Ok((rest, String::from_utf8_lossy(a).into_owned()))
}

fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

fn quoted(i: &[u8]) -> R<'_, Vec<u8>> {
    let (body, ()) = expect(i, b"\"", "expected quoted string")?;
    let mut out = Vec::new();
    let mut k = 0;
    while let Some(&b) = body.get(k) {
        match b {
            b'"' => return Ok((body.get(k + 1..).unwrap_or_default(), out)),
            b'\\' => match body.get(k + 1) {
                Some(&e @ (b'"' | b'\\')) => {
                    out.push(e);
                    k += 2;
                    continue;
                }
                _ => return fail("invalid escape in quoted string"),
            },
            b'\r' | b'\n' => return fail("unterminated quoted string"),
            0 => return fail("NUL in quoted string"),
            _ => out.push(b),
        }
        k += 1;
    }
    fail("unterminated quoted string")
}

fn line_end(i: &[u8]) -> R<'_, ()> {
    if let Some(rest) = i.strip_prefix(b"\r\n") {
        Ok((rest, ()))
    } else if let Some(rest) = i.strip_prefix(b"\n") {
        Ok((rest, ()))
    } else {
        fail("expected CRLF")
    }
}

/// `{n}` / `{n+}` CRLF then n bytes; returns the bytes without copying.
fn literal(i: &[u8]) -> R<'_, &[u8]> {
    let (i, ()) = expect(i, b"{", "expected literal")?;
    let (i, n) = number64(i)?;
    let i = i.strip_prefix(b"+").unwrap_or(i);
    let (i, ()) = expect(i, b"}", "invalid literal header")?;
    let (i, ()) = ctx("expected CRLF after literal header", line_end)(i)?;
    let Ok(n) = usize::try_from(n) else {
        return fail("literal too large");
    };
    match (i.get(..n), i.get(n..)) {
        (Some(data), Some(rest)) => Ok((rest, data)),
        _ => fail("literal shorter than announced"),
    }
}

fn literal8(i: &[u8]) -> R<'_, &[u8]> {
    let (i, ()) = expect(i, b"~", "expected literal8")?;
    literal(i)
}

fn string(i: &[u8]) -> R<'_, Cow<'_, [u8]>> {
    match peek(i) {
        Some(b'"') => quoted(i).map(|(r, v)| (r, Cow::Owned(v))),
        Some(b'{') => literal(i).map(|(r, v)| (r, Cow::Borrowed(v))),
        _ => fail("expected string"),
    }
}

fn astring<'a>(i: &'a [u8], what: &'static str) -> R<'a, Cow<'a, [u8]>> {
    match peek(i) {
        Some(b'"' | b'{') => string(i),
        _ => ctx(what, take_while1(is_astring_char))(i).map(|(r, v)| (r, Cow::Borrowed(v))),
    }
}

fn nstring(i: &[u8]) -> R<'_, Option<Cow<'_, [u8]>>> {
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, None));
    }
    let (rest, s) = string(i)?;
    Ok((rest, Some(s)))
}

fn utf8_string(bytes: Cow<'_, [u8]>, reason: &'static str) -> Result<String, nom::Err<PErr>> {
    String::from_utf8(bytes.into_owned()).map_err(|_| {
        nom::Err::Failure(PErr {
            reason: reason.into(),
            no: false,
        })
    })
}

fn decode_name(raw: &[u8], opts: &ParseOptions) -> Result<String, nom::Err<PErr>> {
    let decoded = if opts.utf8_accept {
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| Cow::Borrowed("mailbox name is not valid UTF-8"))
    } else {
        mutf7::decode(raw)
            .map_err(|e| Cow::Owned(format!("mailbox name is not valid modified UTF-7: {e}")))
    };
    decoded.map_err(|reason| nom::Err::Failure(PErr { reason, no: true }))
}

fn mailbox<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, MailboxName> {
    let (rest, raw) = astring(i, "expected mailbox name")?;
    Ok((rest, MailboxName::new(decode_name(&raw, opts)?)))
}

/// A reference name: decoded like a mailbox name but not INBOX-normalised.
fn reference<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, String> {
    let (rest, raw) = astring(i, "expected reference name")?;
    Ok((rest, decode_name(&raw, opts)?))
}

/// A LIST/LSUB pattern. One that does not decode is kept as written, so
/// it matches no valid name and LIST answers OK with nothing, as Dovecot
/// does (imaptest `atoms`), instead of failing the command.
fn list_mailbox<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, String> {
    let (rest, raw) = match peek(i) {
        Some(b'"' | b'{') => string(i)?,
        _ => ctx("expected mailbox pattern", take_while1(is_list_char))(i)
            .map(|(r, v)| (r, Cow::Borrowed(v)))?,
    };
    let pattern =
        decode_name(&raw, opts).unwrap_or_else(|_| String::from_utf8_lossy(&raw).into_owned());
    Ok((rest, pattern))
}

/// Parses `( item *(SP item) )`, allowing `()` only when `allow_empty`.
fn paren_list<'a, T>(
    i: &'a [u8],
    allow_empty: bool,
    mut item: impl FnMut(&'a [u8]) -> R<'a, T>,
) -> R<'a, Vec<T>> {
    let (mut i, ()) = expect(i, b"(", "expected '('")?;
    let mut out = Vec::new();
    if let Some(rest) = i.strip_prefix(b")") {
        if allow_empty {
            return Ok((rest, out));
        }
        return fail("empty list not allowed here");
    }
    loop {
        let (rest, v) = item(i)?;
        out.push(v);
        match peek(rest) {
            Some(b' ') => i = rest.get(1..).unwrap_or_default(),
            Some(b')') => return Ok((rest.get(1..).unwrap_or_default(), out)),
            _ => return fail("expected SP or ')' in list"),
        }
    }
}

// ------------------------------------------------------------ flags, sets

fn flag(i: &[u8]) -> R<'_, Flag> {
    if let Some(rest) = i.strip_prefix(b"\\") {
        let (rest, name) = ctx("invalid flag", atom)(rest)?;
        let f = match name.to_ascii_uppercase().as_slice() {
            b"ANSWERED" => Flag::Answered,
            b"FLAGGED" => Flag::Flagged,
            b"DELETED" => Flag::Deleted,
            b"SEEN" => Flag::Seen,
            b"DRAFT" => Flag::Draft,
            b"RECENT" => Flag::Recent,
            _ => Flag::Extension(String::from_utf8_lossy(name).into_owned()),
        };
        Ok((rest, f))
    } else {
        let (rest, k) = ctx("invalid flag", atom_string)(i)?;
        Ok((rest, Flag::Keyword(k)))
    }
}

fn flag_list(i: &[u8]) -> R<'_, Vec<Flag>> {
    paren_list(i, true, flag)
}

fn seq_num(i: &[u8]) -> R<'_, SeqNum> {
    if let Some(rest) = i.strip_prefix(b"*") {
        return Ok((rest, SeqNum::Star));
    }
    let (rest, n) = ctx("invalid sequence set", nz_number)(i)?;
    Ok((rest, SeqNum::Value(n)))
}

fn seq_set(i: &[u8]) -> R<'_, SeqSet> {
    if let Some(rest) = i.strip_prefix(b"$") {
        return Ok((rest, SeqSet::Saved));
    }
    let mut ranges = Vec::new();
    let mut i = i;
    loop {
        let (rest, a) = seq_num(i)?;
        let (rest, r) = match rest.strip_prefix(b":") {
            Some(rest) => {
                let (rest, b) = seq_num(rest)?;
                (rest, SeqRange::Range(a, b))
            }
            None => (rest, SeqRange::Single(a)),
        };
        ranges.push(r);
        match rest.strip_prefix(b",") {
            Some(more) => i = more,
            None => {
                if matches!(peek(rest), Some(c) if c.is_ascii_digit() || c == b'*' || c == b':' || c == b'$')
                {
                    return fail("invalid sequence set");
                }
                return Ok((rest, SeqSet::Ranges(ranges)));
            }
        }
    }
}

/// A UID set that may not use `*` or `$` (QRESYNC known-uids).
fn known_set(i: &[u8]) -> R<'_, SeqSet> {
    let (rest, set) = seq_set(i)?;
    match &set {
        SeqSet::Ranges(r)
            if r.iter().all(|r| match r {
                SeqRange::Single(a) => *a != SeqNum::Star,
                SeqRange::Range(a, b) => *a != SeqNum::Star && *b != SeqNum::Star,
            }) =>
        {
            Ok((rest, set))
        }
        _ => fail("'*' and '$' are not allowed in QRESYNC sets"),
    }
}

// ------------------------------------------------------------------ dates

fn month(i: &[u8]) -> R<'_, u32> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    for (n, m) in (1u32..).zip(MONTHS) {
        if let Some(rest) = keyword(i, m) {
            return Ok((rest, n));
        }
    }
    fail("invalid month in date")
}

fn fixed_digits(i: &[u8], n: usize) -> Option<(&[u8], u32)> {
    let d = i.get(..n)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    Some((i.get(n..)?, v))
}

fn date_text(i: &[u8]) -> R<'_, NaiveDate> {
    let (i, d) = ctx("invalid date", digits)(i)?;
    if d.len() > 2 {
        return fail("invalid date");
    }
    let day = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    let (i, ()) = expect(i, b"-", "invalid date")?;
    let (i, m) = month(i)?;
    let (i, ()) = expect(i, b"-", "invalid date")?;
    let Some((i, y)) = fixed_digits(i, 4) else {
        return fail("invalid year in date");
    };
    match NaiveDate::from_ymd_opt(y as i32, m, day) {
        Some(date) => Ok((i, date)),
        None => fail("invalid date"),
    }
}

fn date(i: &[u8]) -> R<'_, NaiveDate> {
    match i.strip_prefix(b"\"") {
        Some(inner) => {
            let (rest, d) = date_text(inner)?;
            let (rest, ()) = expect(rest, b"\"", "invalid date")?;
            Ok((rest, d))
        }
        None => date_text(i),
    }
}

fn date_time(i: &[u8]) -> R<'_, DateTime<FixedOffset>> {
    const BAD: &str = "invalid date-time";
    let (i, ()) = expect(i, b"\"", BAD)?;
    // date-day-fixed is SP DIGIT or 2DIGIT; a single digit is accepted too.
    let i = i.strip_prefix(b" ").unwrap_or(i);
    let (i, date) = date_text(i)?;
    let (i, ()) = expect(i, b" ", BAD)?;
    let parsed = (|| {
        let (i, h) = fixed_digits(i, 2)?;
        let i = i.strip_prefix(b":")?;
        let (i, m) = fixed_digits(i, 2)?;
        let i = i.strip_prefix(b":")?;
        let (i, s) = fixed_digits(i, 2)?;
        let i = i.strip_prefix(b" ")?;
        let (sign, i) = match i.first()? {
            b'+' => (1, i.get(1..)?),
            b'-' => (-1, i.get(1..)?),
            _ => return None,
        };
        let (i, zh) = fixed_digits(i, 2)?;
        let (i, zm) = fixed_digits(i, 2)?;
        let i = i.strip_prefix(b"\"")?;
        if zm >= 60 {
            return None;
        }
        let offset = FixedOffset::east_opt(sign * (zh * 3600 + zm * 60) as i32)?;
        let time = NaiveTime::from_hms_opt(h, m, s)?;
        let dt = offset.from_local_datetime(&date.and_time(time)).single()?;
        Some((i, dt))
    })();
    match parsed {
        Some((rest, dt)) => Ok((rest, dt)),
        None => fail(BAD),
    }
}

// ------------------------------------------------------------------ SEARCH

fn search_key<'a>(i: &'a [u8], depth: usize) -> R<'a, SearchKey> {
    if depth > MAX_DEPTH {
        return fail("search criteria nested too deeply");
    }
    match peek(i) {
        Some(b'(') => {
            let (rest, keys) = paren_list(i, false, |i| search_key(i, depth + 1))?;
            return Ok((rest, SearchKey::And(keys)));
        }
        Some(c) if c.is_ascii_digit() || c == b'*' || c == b'$' => {
            let (rest, set) = seq_set(i)?;
            return Ok((rest, SearchKey::SeqSet(set)));
        }
        _ => {}
    }
    let (i, name) = ctx("expected search key", atom)(i)?;
    let name = name.to_ascii_uppercase();
    let simple = match name.as_slice() {
        b"ALL" => Some(SearchKey::All),
        b"ANSWERED" => Some(SearchKey::Answered),
        b"DELETED" => Some(SearchKey::Deleted),
        b"DRAFT" => Some(SearchKey::Draft),
        b"FLAGGED" => Some(SearchKey::Flagged),
        b"NEW" => Some(SearchKey::New),
        b"OLD" => Some(SearchKey::Old),
        b"RECENT" => Some(SearchKey::Recent),
        b"SEEN" => Some(SearchKey::Seen),
        b"UNANSWERED" => Some(SearchKey::Unanswered),
        b"UNDELETED" => Some(SearchKey::Undeleted),
        b"UNDRAFT" => Some(SearchKey::Undraft),
        b"UNFLAGGED" => Some(SearchKey::Unflagged),
        b"UNSEEN" => Some(SearchKey::Unseen),
        b"SAVEDATESUPPORTED" => Some(SearchKey::SaveDateSupported),
        _ => None,
    };
    if let Some(k) = simple {
        return Ok((i, k));
    }
    const WITH_ARGS: &[&[u8]] = &[
        b"BCC",
        b"BODY",
        b"CC",
        b"FROM",
        b"SUBJECT",
        b"TEXT",
        b"TO",
        b"BEFORE",
        b"ON",
        b"SINCE",
        b"SENTBEFORE",
        b"SENTON",
        b"SENTSINCE",
        b"SAVEDBEFORE",
        b"SAVEDON",
        b"SAVEDSINCE",
        b"HEADER",
        b"KEYWORD",
        b"UNKEYWORD",
        b"LARGER",
        b"SMALLER",
        b"UID",
        b"NOT",
        b"OR",
        b"MODSEQ",
        b"EMAILID",
        b"THREADID",
    ];
    if !WITH_ARGS.contains(&name.as_slice()) {
        return fail(format!("unknown search key {}", shown(&name)));
    }
    let (i, ()) = sp(i).or_else(|_| fail("expected SP after search key"))?;
    let text = |i: &'a [u8], f: fn(Vec<u8>) -> SearchKey| {
        astring(i, "expected search string").map(|(r, s)| (r, f(s.into_owned())))
    };
    let on_date = |i: &'a [u8], f: fn(NaiveDate) -> SearchKey| date(i).map(|(r, d)| (r, f(d)));
    match name.as_slice() {
        b"BCC" => text(i, SearchKey::Bcc),
        b"BODY" => text(i, SearchKey::Body),
        b"CC" => text(i, SearchKey::Cc),
        b"FROM" => text(i, SearchKey::From),
        b"SUBJECT" => text(i, SearchKey::Subject),
        b"TEXT" => text(i, SearchKey::Text),
        b"TO" => text(i, SearchKey::To),
        b"BEFORE" => on_date(i, SearchKey::Before),
        b"ON" => on_date(i, SearchKey::On),
        b"SINCE" => on_date(i, SearchKey::Since),
        b"SENTBEFORE" => on_date(i, SearchKey::SentBefore),
        b"SENTON" => on_date(i, SearchKey::SentOn),
        b"SENTSINCE" => on_date(i, SearchKey::SentSince),
        b"SAVEDBEFORE" => on_date(i, SearchKey::SavedBefore),
        b"SAVEDON" => on_date(i, SearchKey::SavedOn),
        b"SAVEDSINCE" => on_date(i, SearchKey::SavedSince),
        b"HEADER" => {
            let (i, field) = astring(i, "expected header field name")?;
            let (i, ()) = sp(i)?;
            let (i, value) = astring(i, "expected search string")?;
            Ok((i, SearchKey::Header(field.into_owned(), value.into_owned())))
        }
        b"KEYWORD" => {
            ctx("expected keyword", atom_string)(i).map(|(r, k)| (r, SearchKey::Keyword(k)))
        }
        b"UNKEYWORD" => {
            ctx("expected keyword", atom_string)(i).map(|(r, k)| (r, SearchKey::Unkeyword(k)))
        }
        b"LARGER" => number64(i).map(|(r, n)| (r, SearchKey::Larger(n))),
        b"SMALLER" => number64(i).map(|(r, n)| (r, SearchKey::Smaller(n))),
        b"UID" => seq_set(i).map(|(r, s)| (r, SearchKey::Uid(s))),
        b"NOT" => {
            let (i, k) = search_key(i, depth + 1)?;
            Ok((i, SearchKey::Not(Box::new(k))))
        }
        b"OR" => {
            let (i, a) = search_key(i, depth + 1)?;
            let (i, ()) = sp(i)?;
            let (i, b) = search_key(i, depth + 1)?;
            Ok((i, SearchKey::Or(Box::new(a), Box::new(b))))
        }
        b"MODSEQ" => {
            let (i, entry) = if peek(i) == Some(b'"') || peek(i) == Some(b'{') {
                let (i, name) = string(i)?;
                let (i, ()) = sp(i)?;
                let (i, t) = ctx("expected entry type", atom)(i)?;
                let t = match t.to_ascii_lowercase().as_slice() {
                    b"priv" => EntryType::Private,
                    b"shared" => EntryType::Shared,
                    b"all" => EntryType::All,
                    _ => return fail("invalid MODSEQ entry type"),
                };
                let (i, ()) = sp(i)?;
                (i, Some((name.into_owned(), t)))
            } else {
                (i, None)
            };
            let (i, mod_seq) = mod_seq_valzer(i)?;
            Ok((i, SearchKey::ModSeq { entry, mod_seq }))
        }
        b"EMAILID" => object_id(i).map(|(r, s)| (r, SearchKey::EmailId(s))),
        b"THREADID" => object_id(i).map(|(r, s)| (r, SearchKey::ThreadId(s))),
        _ => fail(format!(
            "unknown search key {}",
            String::from_utf8_lossy(&name)
        )),
    }
}

fn object_id(i: &[u8]) -> R<'_, String> {
    let (rest, id) = ctx(
        "invalid object id",
        take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
    )(i)?;
    if id.len() > 255 {
        return fail("object id too long");
    }
    Ok((rest, String::from_utf8_lossy(id).into_owned()))
}

fn search(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (mut i, ()) = sp(i)?;
    let mut return_opts = None;
    if let Some(rest) = keyword(i, "RETURN ") {
        let (rest, list) = paren_list(rest, true, |i| {
            let (r, a) = ctx("expected SEARCH RETURN option", atom)(i)?;
            let o = match a.to_ascii_uppercase().as_slice() {
                b"MIN" => SearchReturnOpt::Min,
                b"MAX" => SearchReturnOpt::Max,
                b"ALL" => SearchReturnOpt::All,
                b"COUNT" => SearchReturnOpt::Count,
                b"SAVE" => SearchReturnOpt::Save,
                _ => return fail("unknown SEARCH RETURN option"),
            };
            Ok((r, o))
        })?;
        return_opts = Some(list);
        (i, ()) = sp(rest)?;
    }
    let mut charset = None;
    if let Some(rest) = keyword(i, "CHARSET ") {
        let (rest, cs) = astring(rest, "expected charset")?;
        charset = Some(utf8_string(cs, "invalid charset name")?);
        (i, ()) = sp(rest)?;
    }
    let mut criteria = Vec::new();
    loop {
        let (rest, k) = search_key(i, 1)?;
        criteria.push(k);
        match rest.strip_prefix(b" ") {
            Some(more) => i = more,
            None => {
                return Ok((
                    rest,
                    CommandBody::Search(SearchCommand {
                        uid,
                        return_opts,
                        charset,
                        criteria,
                    }),
                ))
            }
        }
    }
}

// ------------------------------------------------------------------- FETCH

fn section_part(i: &[u8]) -> R<'_, Vec<NonZeroU32>> {
    let mut part = Vec::new();
    let mut i = i;
    while matches!(peek(i), Some(c) if c.is_ascii_digit()) {
        let (rest, n) = ctx("invalid section part number", nz_number)(i)?;
        part.push(n);
        i = rest;
        match rest.strip_prefix(b".") {
            Some(more) if matches!(peek(more), Some(c) if c.is_ascii_digit()) => i = more,
            _ => break,
        }
    }
    Ok((i, part))
}

fn header_list(i: &[u8]) -> R<'_, Vec<String>> {
    paren_list(i, false, |i| {
        let (r, s) = astring(i, "expected header field name")?;
        Ok((r, utf8_string(s, "invalid header field name")?))
    })
}

fn section(i: &[u8]) -> R<'_, Section> {
    let (i, ()) = expect(i, b"[", "expected '['")?;
    let (i, part) = section_part(i)?;
    let (i, text) = if peek(i) == Some(b']') {
        (i, None)
    } else {
        let i = if part.is_empty() {
            i
        } else {
            expect(i, b".", "invalid section")?.0
        };
        let (i, name) = ctx(
            "invalid section",
            take_while1(|b: u8| b.is_ascii_alphabetic() || b == b'.'),
        )(i)?;
        let (i, t) = match name.to_ascii_uppercase().as_slice() {
            b"HEADER" => (i, SectionText::Header),
            b"TEXT" => (i, SectionText::Text),
            b"MIME" if !part.is_empty() => (i, SectionText::Mime),
            b"HEADER.FIELDS" => {
                let (i, ()) = sp(i)?;
                let (i, l) = header_list(i)?;
                (i, SectionText::HeaderFields(l))
            }
            b"HEADER.FIELDS.NOT" => {
                let (i, ()) = sp(i)?;
                let (i, l) = header_list(i)?;
                (i, SectionText::HeaderFieldsNot(l))
            }
            _ => return fail("invalid section"),
        };
        (i, Some(t))
    };
    let (i, ()) = expect(i, b"]", "expected ']' after section")?;
    Ok((i, Section { part, text }))
}

fn binary_section(i: &[u8]) -> R<'_, Vec<NonZeroU32>> {
    let (i, ()) = expect(i, b"[", "expected '['")?;
    let (i, part) = section_part(i)?;
    let (i, ()) = expect(i, b"]", "expected ']' after binary section")?;
    Ok((i, part))
}

fn partial(i: &[u8]) -> R<'_, Option<Partial>> {
    let Some(i) = i.strip_prefix(b"<") else {
        return Ok((i, None));
    };
    let (i, offset) = number64(i)?;
    let (i, ()) = expect(i, b".", "invalid partial range")?;
    let (i, length) = number64(i)?;
    if length == 0 {
        return fail("partial length must not be zero");
    }
    let (i, ()) = expect(i, b">", "invalid partial range")?;
    Ok((i, Some(Partial { offset, length })))
}

fn fetch_att(i: &[u8]) -> R<'_, FetchAttr> {
    let (i, name) = ctx(
        "expected fetch attribute",
        take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'.'),
    )(i)?;
    let name = name.to_ascii_uppercase();
    let a = match name.as_slice() {
        b"ENVELOPE" => FetchAttr::Envelope,
        b"FLAGS" => FetchAttr::Flags,
        b"INTERNALDATE" => FetchAttr::InternalDate,
        b"RFC822" => FetchAttr::Rfc822,
        b"RFC822.HEADER" => FetchAttr::Rfc822Header,
        b"RFC822.SIZE" => FetchAttr::Rfc822Size,
        b"RFC822.TEXT" => FetchAttr::Rfc822Text,
        b"BODYSTRUCTURE" => FetchAttr::BodyStructure,
        b"UID" => FetchAttr::Uid,
        b"MODSEQ" => FetchAttr::ModSeq,
        b"EMAILID" => FetchAttr::EmailId,
        b"THREADID" => FetchAttr::ThreadId,
        b"SAVEDATE" => FetchAttr::SaveDate,
        b"BODY" if peek(i) != Some(b'[') => FetchAttr::Body,
        b"BODY" | b"BODY.PEEK" => {
            let (i, section) = section(i)?;
            let (i, partial) = partial(i)?;
            let peek = name.len() > 4;
            return Ok((
                i,
                FetchAttr::BodySection {
                    peek,
                    section,
                    partial,
                },
            ));
        }
        b"BINARY" | b"BINARY.PEEK" => {
            let (i, part) = binary_section(i)?;
            let (i, partial) = partial(i)?;
            let peek = name.len() > 6;
            return Ok((
                i,
                FetchAttr::Binary {
                    peek,
                    part,
                    partial,
                },
            ));
        }
        b"BINARY.SIZE" => {
            let (i, part) = binary_section(i)?;
            return Ok((i, FetchAttr::BinarySize { part }));
        }
        _ => return fail(format!("unknown fetch attribute {}", shown(&name))),
    };
    Ok((i, a))
}

fn fetch(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, set) = seq_set(i)?;
    let (i, ()) = sp(i)?;
    let (i, attrs) = if peek(i) == Some(b'(') {
        let (i, l) = paren_list(i, false, fetch_att)?;
        (i, FetchAttrs::List(l))
    } else if let Some(r) = keyword(i, "ALL").filter(|r| !starts_word(r)) {
        (r, FetchAttrs::All)
    } else if let Some(r) = keyword(i, "FAST").filter(|r| !starts_word(r)) {
        (r, FetchAttrs::Fast)
    } else if let Some(r) = keyword(i, "FULL").filter(|r| !starts_word(r)) {
        (r, FetchAttrs::Full)
    } else {
        let (i, a) = fetch_att(i)?;
        (i, FetchAttrs::List(vec![a]))
    };
    let mut changed_since = None;
    let mut vanished = false;
    let i = match i.strip_prefix(b" ") {
        Some(r) => {
            let (r, mods) = paren_list(r, false, |i| {
                if let Some(r) = keyword(i, "CHANGEDSINCE ") {
                    let (r, m) = mod_seq_value(r)?;
                    Ok((r, (Some(m), false)))
                } else if let Some(r) = keyword(i, "VANISHED") {
                    Ok((r, (None, true)))
                } else {
                    fail("unknown FETCH modifier")
                }
            })?;
            for (m, v) in mods {
                if (m.is_some() && changed_since.is_some()) || (v && vanished) {
                    return fail("duplicate FETCH modifier");
                }
                changed_since = changed_since.or(m);
                vanished |= v;
            }
            if vanished && !uid {
                return fail("VANISHED requires UID FETCH");
            }
            if vanished && changed_since.is_none() {
                return fail("VANISHED requires CHANGEDSINCE");
            }
            r
        }
        None => i,
    };
    Ok((
        i,
        CommandBody::Fetch(FetchCommand {
            uid,
            set,
            attrs,
            changed_since,
            vanished,
        }),
    ))
}

fn starts_word(i: &[u8]) -> bool {
    matches!(peek(i), Some(c) if c.is_ascii_alphanumeric() || c == b'.' || c == b'[')
}

// ------------------------------------------------------------------- STORE

fn store(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, set) = seq_set(i)?;
    let (mut i, ()) = sp(i)?;
    let mut unchanged_since = None;
    if peek(i) == Some(b'(') {
        let (r, mods) = paren_list(i, false, |i| match keyword(i, "UNCHANGEDSINCE ") {
            Some(r) => mod_seq_valzer(r),
            None => fail("unknown STORE modifier"),
        })?;
        if mods.len() > 1 {
            return fail("duplicate STORE modifier");
        }
        unchanged_since = mods.first().copied();
        (i, ()) = sp(r)?;
    }
    let (i, mode) = match peek(i) {
        Some(b'+') => (i.get(1..).unwrap_or_default(), StoreMode::Add),
        Some(b'-') => (i.get(1..).unwrap_or_default(), StoreMode::Remove),
        _ => (i, StoreMode::Replace),
    };
    let Some(i) = keyword(i, "FLAGS") else {
        return fail("expected FLAGS, +FLAGS or -FLAGS");
    };
    let (i, silent) = match keyword(i, ".SILENT") {
        Some(r) => (r, true),
        None => (i, false),
    };
    let (i, ()) = sp(i)?;
    let (i, flags) = if peek(i) == Some(b'(') {
        flag_list(i)?
    } else {
        let (mut i, f) = flag(i)?;
        let mut flags = vec![f];
        while let Some(r) = i.strip_prefix(b" ") {
            let (r, f) = flag(r)?;
            flags.push(f);
            i = r;
        }
        (i, flags)
    };
    Ok((
        i,
        CommandBody::Store(StoreCommand {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        }),
    ))
}

// ------------------------------------------------------- mailbox commands

fn status_item(i: &[u8]) -> R<'_, StatusItem> {
    let (r, a) = ctx("expected status item", atom)(i)?;
    let item = match a.to_ascii_uppercase().as_slice() {
        b"MESSAGES" => StatusItem::Messages,
        b"RECENT" => StatusItem::Recent,
        b"UIDNEXT" => StatusItem::UidNext,
        b"UIDVALIDITY" => StatusItem::UidValidity,
        b"UNSEEN" => StatusItem::Unseen,
        b"DELETED" => StatusItem::Deleted,
        b"SIZE" => StatusItem::Size,
        b"HIGHESTMODSEQ" => StatusItem::HighestModSeq,
        b"APPENDLIMIT" => StatusItem::AppendLimit,
        b"MAILBOXID" => StatusItem::MailboxId,
        _ => return fail("unknown status item"),
    };
    Ok((r, item))
}

fn select_params(i: &[u8]) -> R<'_, SelectParams> {
    let mut params = SelectParams::default();
    let Some(i) = i.strip_prefix(b" ") else {
        return Ok((i, params));
    };
    let (i, list) = paren_list(i, true, |i| {
        if let Some(r) = keyword(i, "QRESYNC ") {
            let (r, ()) = expect(r, b"(", "expected '(' after QRESYNC")?;
            let (r, uid_validity) = nz_number(r)?;
            let (r, ()) = sp(r)?;
            let (r, mod_seq) = mod_seq_value(r)?;
            let (r, known_uids) = match r.strip_prefix(b" ") {
                Some(k) if peek(k) != Some(b'(') => {
                    let (k, s) = known_set(k)?;
                    (k, Some(s))
                }
                _ => (r, None),
            };
            let (r, seq_match) = match r.strip_prefix(b" (") {
                Some(k) => {
                    let (k, seqs) = known_set(k)?;
                    let (k, ()) = sp(k)?;
                    let (k, uids) = known_set(k)?;
                    let (k, ()) = expect(k, b")", "expected ')' after QRESYNC match data")?;
                    (k, Some((seqs, uids)))
                }
                None => (r, None),
            };
            let (r, ()) = expect(r, b")", "expected ')' after QRESYNC parameters")?;
            Ok((
                r,
                Some(QResyncParams {
                    uid_validity,
                    mod_seq,
                    known_uids,
                    seq_match,
                }),
            ))
        } else if let Some(r) = keyword(i, "CONDSTORE").filter(|r| !starts_word(r)) {
            Ok((r, None))
        } else {
            fail("unknown SELECT parameter")
        }
    })?;
    for p in list {
        match p {
            None => params.condstore = true,
            Some(_) if params.qresync.is_some() => return fail("duplicate QRESYNC parameter"),
            Some(q) => params.qresync = Some(q),
        }
    }
    Ok((i, params))
}

fn use_attr(i: &[u8]) -> R<'_, SpecialUse> {
    let (i, ()) = expect(i, b"\\", "expected special-use attribute")?;
    let (i, a) = ctx("expected special-use attribute", atom)(i)?;
    let name = String::from_utf8_lossy(a).into_owned();
    let u = match crate::store::account::SpecialUse::from_imap(&format!("\\{name}")) {
        Some(k) => SpecialUse::Known(k),
        None => SpecialUse::Other(name),
    };
    Ok((i, u))
}

fn create<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, mailbox) = mailbox(i, opts)?;
    let mut special_use = Vec::new();
    let i = match i.strip_prefix(b" ") {
        Some(r) => {
            let (r, lists) = paren_list(r, false, |i| match keyword(i, "USE ") {
                Some(r) => paren_list(r, true, use_attr),
                None => fail("unknown CREATE parameter"),
            })?;
            special_use = lists.into_iter().flatten().collect();
            r
        }
        None => i,
    };
    Ok((
        i,
        CommandBody::Create {
            mailbox,
            special_use,
        },
    ))
}

fn list<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (mut i, ()) = sp(i)?;
    let mut selection = Vec::new();
    if peek(i) == Some(b'(') {
        let (r, sel) = paren_list(i, true, |i| {
            let (r, a) = ctx("expected LIST selection option", atom)(i)?;
            let o = match a.to_ascii_uppercase().as_slice() {
                b"SUBSCRIBED" => ListSelectOpt::Subscribed,
                b"REMOTE" => ListSelectOpt::Remote,
                b"RECURSIVEMATCH" => ListSelectOpt::RecursiveMatch,
                b"SPECIAL-USE" => ListSelectOpt::SpecialUse,
                _ => return fail("unknown LIST selection option"),
            };
            Ok((r, o))
        })?;
        if sel.contains(&ListSelectOpt::RecursiveMatch)
            && !sel.contains(&ListSelectOpt::Subscribed)
            && !sel.contains(&ListSelectOpt::SpecialUse)
        {
            return fail("RECURSIVEMATCH requires another selection option");
        }
        selection = sel;
        (i, ()) = sp(r)?;
    }
    let (i, reference) = reference(i, opts)?;
    let (i, ()) = sp(i)?;
    let (i, patterns, multiple_patterns) = if peek(i) == Some(b'(') {
        let (r, p) = paren_list(i, false, |i| list_mailbox(i, opts))?;
        (r, p, true)
    } else {
        let (r, p) = list_mailbox(i, opts)?;
        (r, vec![p], false)
    };
    let (i, return_opts) = match keyword(i, " RETURN ") {
        Some(r) => {
            let (r, l) = paren_list(r, true, |i| {
                if let Some(r) = keyword(i, "STATUS ") {
                    let (r, items) = paren_list(r, false, status_item)?;
                    return Ok((r, ListReturnOpt::Status(items)));
                }
                let (r, a) = ctx("expected LIST return option", atom)(i)?;
                let o = match a.to_ascii_uppercase().as_slice() {
                    b"SUBSCRIBED" => ListReturnOpt::Subscribed,
                    b"CHILDREN" => ListReturnOpt::Children,
                    b"SPECIAL-USE" => ListReturnOpt::SpecialUse,
                    _ => return fail("unknown LIST return option"),
                };
                Ok((r, o))
            })?;
            (r, Some(l))
        }
        None => (i, None),
    };
    Ok((
        i,
        CommandBody::List(ListCommand {
            selection,
            reference,
            patterns,
            multiple_patterns,
            return_opts,
        }),
    ))
}

fn append<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    let (mut i, mailbox) = mailbox(i, opts)?;
    let mut messages = Vec::new();
    while let Some(r) = i.strip_prefix(b" ") {
        let (r, flags) = if peek(r) == Some(b'(') {
            let (r, f) = flag_list(r)?;
            (sp(r)?.0, f)
        } else {
            (r, Vec::new())
        };
        let (r, internal_date) = if peek(r) == Some(b'"') {
            let (r, d) = date_time(r)?;
            (sp(r)?.0, Some(d))
        } else {
            (r, None)
        };
        let (r, kind, data) = match peek(r) {
            Some(b'{') => {
                let (r, d) = literal(r)?;
                (r, AppendKind::Literal, d)
            }
            Some(b'~') => {
                let (r, d) = literal8(r)?;
                (r, AppendKind::Literal8, d)
            }
            _ => match keyword(r, "UTF8 (") {
                Some(r) => {
                    let (r, d) = if peek(r) == Some(b'~') {
                        literal8(r)?
                    } else {
                        literal(r)?
                    };
                    let (r, ()) = expect(r, b")", "expected ')' after UTF8 literal")?;
                    (r, AppendKind::Utf8, d)
                }
                None => return fail("expected message literal"),
            },
        };
        messages.push(AppendMessage {
            flags,
            internal_date,
            kind,
            data: data.to_vec(),
        });
        i = r;
    }
    if messages.is_empty() {
        return fail("expected message literal");
    }
    Ok((i, CommandBody::Append { mailbox, messages }))
}

// ------------------------------------------------------------ dispatcher

fn uid_command<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, name) = ctx("expected command after UID", atom)(i)?;
    match name.to_ascii_uppercase().as_slice() {
        b"FETCH" => fetch(i, true),
        b"SEARCH" => search(i, true),
        b"STORE" => store(i, true),
        b"COPY" | b"MOVE" => copy_move(i, opts, true, name.eq_ignore_ascii_case(b"MOVE")),
        b"EXPUNGE" => {
            let (i, ()) = sp(i)?;
            let (i, uids) = seq_set(i)?;
            Ok((i, CommandBody::UidExpunge { uids }))
        }
        _ => fail("unknown UID command"),
    }
}

fn copy_move<'a>(i: &'a [u8], opts: &ParseOptions, uid: bool, is_move: bool) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, set) = seq_set(i)?;
    let (i, ()) = sp(i)?;
    let (i, mailbox) = mailbox(i, opts)?;
    let body = if is_move {
        CommandBody::Move { uid, set, mailbox }
    } else {
        CommandBody::Copy { uid, set, mailbox }
    };
    Ok((i, body))
}

fn xcry(i: &[u8]) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, name) = ctx("expected XCRY subcommand", atom)(i)?;
    match name.to_ascii_uppercase().as_slice() {
        b"PURGE" => Ok((i, CommandBody::XCry(XCryCommand::Purge))),
        b"GET-USER-CONFIG" => Ok((i, CommandBody::XCry(XCryCommand::GetUserConfig))),
        b"SET-USER-CONFIG" => {
            let mut pairs = Vec::new();
            let mut i = i;
            while let Some(r) = i.strip_prefix(b" ") {
                let (r, key) = ctx("expected configuration key", atom_string)(r)?;
                let (r, ()) = sp(r)?;
                let (r, value) = astring(r, "expected configuration value")?;
                pairs.push((key, value.into_owned()));
                i = r;
            }
            if pairs.is_empty() {
                return fail("SET-USER-CONFIG needs at least one key and value");
            }
            Ok((i, CommandBody::XCry(XCryCommand::SetUserConfig(pairs))))
        }
        _ => fail("unknown XCRY subcommand"),
    }
}

fn id(i: &[u8]) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    if let Some(r) = keyword(i, "NIL") {
        return Ok((r, CommandBody::Id { params: None }));
    }
    let (i, pairs) = paren_list(i, true, |i| {
        let (i, k) = string(i)?;
        let (i, ()) = sp(i)?;
        let (i, v) = nstring(i)?;
        Ok((i, (k.into_owned(), v.map(Cow::into_owned))))
    })?;
    Ok((
        i,
        CommandBody::Id {
            params: Some(pairs),
        },
    ))
}

fn authenticate(i: &[u8]) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, mechanism) = ctx("expected SASL mechanism", atom_string)(i)?;
    let (i, initial_response) = match i.strip_prefix(b" ") {
        Some(r) => {
            let (r, data) = ctx(
                "expected base64 initial response",
                take_while1(|b: u8| {
                    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
                }),
            )(r)?;
            match decode_sasl(data) {
                Some(d) => (r, Some(d)),
                None => return fail("invalid base64 in initial response"),
            }
        }
        None => (i, None),
    };
    Ok((
        i,
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        },
    ))
}

fn decode_sasl(data: &[u8]) -> Option<Vec<u8>> {
    if data == b"=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

fn command_body<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (i, name) = ctx(
        "expected command name",
        take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
    )(i)?;
    let upper = name.to_ascii_uppercase();
    let mbox = |i: &'a [u8]| -> R<'a, MailboxName> {
        let (i, ()) = sp(i)?;
        mailbox(i, opts)
    };
    match upper.as_slice() {
        b"CAPABILITY" => Ok((i, CommandBody::Capability)),
        b"NOOP" => Ok((i, CommandBody::Noop)),
        b"LOGOUT" => Ok((i, CommandBody::Logout)),
        b"STARTTLS" => Ok((i, CommandBody::StartTls)),
        b"NAMESPACE" => Ok((i, CommandBody::Namespace)),
        b"IDLE" => Ok((i, CommandBody::Idle)),
        b"CHECK" => Ok((i, CommandBody::Check)),
        b"CLOSE" => Ok((i, CommandBody::Close)),
        b"UNSELECT" => Ok((i, CommandBody::Unselect)),
        b"EXPUNGE" => Ok((i, CommandBody::Expunge)),
        b"XYZZY" => Ok((i, CommandBody::Xyzzy)),
        b"AUTHENTICATE" => authenticate(i),
        b"LOGIN" => {
            let (i, ()) = sp(i)?;
            let (i, u) = astring(i, "expected user name")?;
            let (i, ()) = sp(i)?;
            let (i, p) = astring(i, "expected password")?;
            Ok((
                i,
                CommandBody::Login {
                    username: u.into_owned(),
                    password: p.into_owned(),
                },
            ))
        }
        b"SELECT" | b"EXAMINE" => {
            let (i, mailbox) = mbox(i)?;
            let (i, params) = select_params(i)?;
            let body = if upper.as_slice() == b"SELECT" {
                CommandBody::Select { mailbox, params }
            } else {
                CommandBody::Examine { mailbox, params }
            };
            Ok((i, body))
        }
        b"CREATE" => create(i, opts),
        b"DELETE" => mbox(i).map(|(r, mailbox)| (r, CommandBody::Delete { mailbox })),
        b"SUBSCRIBE" => mbox(i).map(|(r, mailbox)| (r, CommandBody::Subscribe { mailbox })),
        b"UNSUBSCRIBE" => mbox(i).map(|(r, mailbox)| (r, CommandBody::Unsubscribe { mailbox })),
        b"RENAME" => {
            let (i, from) = mbox(i)?;
            let (i, to) = mbox(i)?;
            Ok((i, CommandBody::Rename { from, to }))
        }
        b"LIST" => list(i, opts),
        b"LSUB" | b"XLIST" => {
            let (i, ()) = sp(i)?;
            let (i, reference) = reference(i, opts)?;
            let (i, ()) = sp(i)?;
            let (i, pattern) = list_mailbox(i, opts)?;
            let body = if upper.as_slice() == b"LSUB" {
                CommandBody::Lsub { reference, pattern }
            } else {
                CommandBody::XList { reference, pattern }
            };
            Ok((i, body))
        }
        b"STATUS" => {
            let (i, mailbox) = mbox(i)?;
            let (i, ()) = sp(i)?;
            let (i, items) = paren_list(i, false, status_item)?;
            Ok((i, CommandBody::Status { mailbox, items }))
        }
        b"APPEND" => append(i, opts),
        b"ENABLE" => {
            let mut capabilities = Vec::new();
            let mut i = i;
            while let Some(r) = i.strip_prefix(b" ") {
                let (r, c) = ctx("expected capability name", atom_string)(r)?;
                capabilities.push(c);
                i = r;
            }
            if capabilities.is_empty() {
                return fail("ENABLE needs at least one capability");
            }
            Ok((i, CommandBody::Enable { capabilities }))
        }
        b"ID" => id(i),
        b"COMPRESS" => {
            let (i, ()) = sp(i)?;
            let (i, algorithm) = ctx("expected compression algorithm", atom_string)(i)?;
            Ok((i, CommandBody::Compress { algorithm }))
        }
        b"UID" => uid_command(i, opts),
        b"SEARCH" => search(i, false),
        b"FETCH" => fetch(i, false),
        b"STORE" => store(i, false),
        b"COPY" => copy_move(i, opts, false, false),
        b"MOVE" => copy_move(i, opts, false, true),
        b"XCRY" => xcry(i),
        b"XVANQUISH" => {
            let (i, ()) = sp(i)?;
            let (i, uids) = seq_set(i)?;
            Ok((i, CommandBody::XVanquish { uids }))
        }
        _ => fail(format!("unknown command {}", shown(&upper))),
    }
}

/// Parses one complete command (tag, body, CRLF or bare LF, literals inline).
pub fn parse_command(input: &[u8], opts: &ParseOptions) -> Result<Command, ParseError> {
    let Ok((rest, tag)) = take_while1::<_, _, PErr>(is_tag_char)(input) else {
        return Err(ParseError {
            tag: None,
            reason: "missing or invalid tag".into(),
            no: false,
        });
    };
    let tag = String::from_utf8_lossy(tag).into_owned();
    let with_tag = |reason: Cow<'static, str>, no: bool| ParseError {
        tag: Some(tag.clone()),
        reason: reason.into_owned(),
        no,
    };
    let Some(rest) = rest.strip_prefix(b" ") else {
        return Err(with_tag("expected SP after tag".into(), false));
    };
    let (rest, body) = command_body(rest, opts).map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => with_tag(e.reason, e.no),
        nom::Err::Incomplete(_) => with_tag("incomplete command".into(), false),
    })?;
    match line_end(rest) {
        Ok(([], ())) => Ok(Command {
            tag: Tag(tag),
            body,
        }),
        Ok(_) => Err(with_tag(
            "unexpected data after end of command".into(),
            false,
        )),
        Err(_) => Err(with_tag(
            "unexpected characters at end of command".into(),
            false,
        )),
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses a client line sent in answer to an AUTHENTICATE challenge:
/// base64 data, `=` or an empty line for empty data, `*` to cancel.
pub fn parse_authenticate_response(line: &[u8]) -> Result<AuthResponse, ParseError> {
    let line = trim_line_end(line);
    if line == b"*" {
        return Ok(AuthResponse::Cancel);
    }
    if line.is_empty() {
        return Ok(AuthResponse::Data(Vec::new()));
    }
    decode_sasl(line).map(AuthResponse::Data).ok_or(ParseError {
        tag: None,
        reason: "invalid base64 in authentication response".into(),
        no: false,
    })
}

/// True when the line is `DONE` (any case), ending IDLE.
pub fn is_idle_done(line: &[u8]) -> bool {
    trim_line_end(line).eq_ignore_ascii_case(b"DONE")
}

#[cfg(test)]
mod tests;
