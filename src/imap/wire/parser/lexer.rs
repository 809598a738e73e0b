//! The grammar's tokens (RFC 9051 §9): numbers, atoms, quoted strings and
//! literals, mailbox names, flags, sequence sets and dates, and the nom
//! error type every rule shares. Never parses a whole command.

use std::borrow::Cow;
use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use nom::bytes::complete::{tag_no_case, take_while1};
use nom::IResult;

use super::*;

/// Internal nom error: just the reason.
#[derive(Debug)]
pub(super) struct PErr {
    pub(super) reason: Cow<'static, str>,
    /// See [`ParseError::no`].
    pub(super) no: bool,
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

pub(super) type R<'a, T> = IResult<&'a [u8], T, PErr>;

pub(super) fn fail<'a, T>(reason: impl Into<Cow<'static, str>>) -> R<'a, T> {
    Err(nom::Err::Failure(PErr {
        reason: reason.into(),
        no: false,
    }))
}

/// Runs `p`, replacing any error by `reason` (for tokens whose own error
/// would be less helpful than the context).
pub(super) fn ctx<'a, T>(
    reason: &'static str,
    mut p: impl FnMut(&'a [u8]) -> R<'a, T>,
) -> impl FnMut(&'a [u8]) -> R<'a, T> {
    move |i| p(i).or_else(|_| fail(reason))
}

pub(super) fn expect<'a>(i: &'a [u8], token: &'static [u8], reason: &'static str) -> R<'a, ()> {
    match i.strip_prefix(token) {
        Some(rest) => Ok((rest, ())),
        None => fail(reason),
    }
}

pub(super) fn sp(i: &[u8]) -> R<'_, ()> {
    expect(i, b" ", "expected SP")
}

pub(super) fn peek(i: &[u8]) -> Option<u8> {
    i.first().copied()
}

pub(super) fn keyword<'a>(i: &'a [u8], word: &'static str) -> Option<&'a [u8]> {
    let r: R<'a, &'a [u8]> = tag_no_case(word.as_bytes())(i);
    r.ok().map(|(rest, _)| rest)
}

// ---------------------------------------------------------------- tokens

/// A client-supplied word for an error message: bounded so a huge token
/// cannot make a huge response (callers pass only printable ASCII).
pub(super) fn shown(word: &[u8]) -> String {
    String::from_utf8_lossy(word.get(..32).unwrap_or(word)).into_owned()
}

pub(super) fn digits(i: &[u8]) -> R<'_, &[u8]> {
    take_while1(|b: u8| b.is_ascii_digit())(i)
}

pub(super) fn number64(i: &[u8]) -> R<'_, u64> {
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

pub(super) fn number(i: &[u8]) -> R<'_, u32> {
    let (rest, n) = number64(i)?;
    match u32::try_from(n) {
        Ok(n) => Ok((rest, n)),
        Err(_) => fail("number too large"),
    }
}

pub(super) fn nz_number(i: &[u8]) -> R<'_, NonZeroU32> {
    let (rest, n) = number(i)?;
    match NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        None => fail("number must not be zero"),
    }
}

/// `mod-sequence-valzer`: 0 ..= 2^63-1.
pub(super) fn mod_seq_valzer(i: &[u8]) -> R<'_, ModseqValue> {
    let (rest, n) = number64(i)?;
    if n > i64::MAX as u64 {
        return fail("mod-sequence too large");
    }
    Ok((rest, ModseqValue(n)))
}

pub(super) fn mod_seq_value(i: &[u8]) -> R<'_, ModseqValue> {
    let (rest, m) = mod_seq_valzer(i)?;
    if m.0 == 0 {
        return fail("mod-sequence must not be zero");
    }
    Ok((rest, m))
}

pub(super) fn atom(i: &[u8]) -> R<'_, &[u8]> {
    take_while1(is_atom_char)(i)
}

pub(super) fn atom_string(i: &[u8]) -> R<'_, String> {
    let (rest, a) = atom(i)?;
    // Atom chars are 7-bit, so this never loses anything.
    Ok((rest, String::from_utf8_lossy(a).into_owned()))
}

pub(super) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

pub(super) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

pub(super) fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

pub(super) fn quoted(i: &[u8]) -> R<'_, Vec<u8>> {
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

pub(super) fn line_end(i: &[u8]) -> R<'_, ()> {
    if let Some(rest) = i.strip_prefix(b"\r\n") {
        Ok((rest, ()))
    } else if let Some(rest) = i.strip_prefix(b"\n") {
        Ok((rest, ()))
    } else {
        fail("expected CRLF")
    }
}

/// `{n}` / `{n+}` CRLF then n bytes; returns the bytes without copying.
pub(super) fn literal(i: &[u8]) -> R<'_, &[u8]> {
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

pub(super) fn literal8(i: &[u8]) -> R<'_, &[u8]> {
    let (i, ()) = expect(i, b"~", "expected literal8")?;
    literal(i)
}

pub(super) fn string(i: &[u8]) -> R<'_, Cow<'_, [u8]>> {
    match peek(i) {
        Some(b'"') => quoted(i).map(|(r, v)| (r, Cow::Owned(v))),
        Some(b'{') => literal(i).map(|(r, v)| (r, Cow::Borrowed(v))),
        _ => fail("expected string"),
    }
}

pub(super) fn astring<'a>(i: &'a [u8], what: &'static str) -> R<'a, Cow<'a, [u8]>> {
    match peek(i) {
        Some(b'"' | b'{') => string(i),
        _ => ctx(what, take_while1(is_astring_char))(i).map(|(r, v)| (r, Cow::Borrowed(v))),
    }
}

pub(super) fn nstring(i: &[u8]) -> R<'_, Option<Cow<'_, [u8]>>> {
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, None));
    }
    let (rest, s) = string(i)?;
    Ok((rest, Some(s)))
}

pub(super) fn utf8_string(
    bytes: Cow<'_, [u8]>,
    reason: &'static str,
) -> Result<String, nom::Err<PErr>> {
    String::from_utf8(bytes.into_owned()).map_err(|_| {
        nom::Err::Failure(PErr {
            reason: reason.into(),
            no: false,
        })
    })
}

pub(super) fn decode_name(raw: &[u8], opts: &ParseOptions) -> Result<String, nom::Err<PErr>> {
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

pub(super) fn mailbox<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, MailboxArg> {
    let (rest, raw) = astring(i, "expected mailbox name")?;
    Ok((rest, MailboxArg::new(decode_name(&raw, opts)?)))
}

/// A reference name: decoded like a mailbox name but not INBOX-normalised.
pub(super) fn reference<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, String> {
    let (rest, raw) = astring(i, "expected reference name")?;
    Ok((rest, decode_name(&raw, opts)?))
}

/// A LIST/LSUB pattern. One that does not decode is kept as written, so
/// it matches no valid name and LIST answers OK with nothing, as Dovecot
/// does (imaptest `atoms`), instead of failing the command.
pub(super) fn list_mailbox<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, String> {
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
pub(super) fn paren_list<'a, T>(
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

pub(super) fn flag(i: &[u8]) -> R<'_, WireFlag> {
    if let Some(rest) = i.strip_prefix(b"\\") {
        let (rest, name) = ctx("invalid flag", atom)(rest)?;
        let f = match name.to_ascii_uppercase().as_slice() {
            b"ANSWERED" => WireFlag::Answered,
            b"FLAGGED" => WireFlag::Flagged,
            b"DELETED" => WireFlag::Deleted,
            b"SEEN" => WireFlag::Seen,
            b"DRAFT" => WireFlag::Draft,
            b"RECENT" => WireFlag::Recent,
            _ => WireFlag::Extension(String::from_utf8_lossy(name).into_owned()),
        };
        Ok((rest, f))
    } else {
        let (rest, k) = ctx("invalid flag", atom_string)(i)?;
        Ok((rest, WireFlag::Keyword(k)))
    }
}

pub(super) fn flag_list(i: &[u8]) -> R<'_, Vec<WireFlag>> {
    paren_list(i, true, flag)
}

pub(super) fn seq_num(i: &[u8]) -> R<'_, SeqBound> {
    if let Some(rest) = i.strip_prefix(b"*") {
        return Ok((rest, SeqBound::Star));
    }
    let (rest, n) = ctx("invalid sequence set", nz_number)(i)?;
    Ok((rest, SeqBound::Value(n)))
}

pub(super) fn seq_set(i: &[u8]) -> R<'_, SeqSet> {
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
pub(super) fn known_set(i: &[u8]) -> R<'_, SeqSet> {
    let (rest, set) = seq_set(i)?;
    match &set {
        SeqSet::Ranges(r)
            if r.iter().all(|r| match r {
                SeqRange::Single(a) => *a != SeqBound::Star,
                SeqRange::Range(a, b) => *a != SeqBound::Star && *b != SeqBound::Star,
            }) =>
        {
            Ok((rest, set))
        }
        _ => fail("'*' and '$' are not allowed in QRESYNC sets"),
    }
}

// ------------------------------------------------------------------ dates

pub(super) fn month(i: &[u8]) -> R<'_, u32> {
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

pub(super) fn fixed_digits(i: &[u8], n: usize) -> Option<(&[u8], u32)> {
    let d = i.get(..n)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    Some((i.get(n..)?, v))
}

pub(super) fn date_text(i: &[u8]) -> R<'_, NaiveDate> {
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

pub(super) fn date(i: &[u8]) -> R<'_, NaiveDate> {
    match i.strip_prefix(b"\"") {
        Some(inner) => {
            let (rest, d) = date_text(inner)?;
            let (rest, ()) = expect(rest, b"\"", "invalid date")?;
            Ok((rest, d))
        }
        None => date_text(i),
    }
}

pub(super) fn date_time(i: &[u8]) -> R<'_, DateTime<FixedOffset>> {
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
