//! The response parser: bytes from a server to a typed
//! [`Response`](crate::imap::wire::response::Response), for clients (the
//! `remote` command, the tests) and for round-trip tests and fuzzing of
//! the encoder.
//!
//! Reading happens in two steps. [`frame_response`] finds where one
//! response ends, following `{n}` and `~{n}` literals, and reports
//! `Incomplete` while the buffer holds less; then the grammar rules below
//! (RFC 9051 §9 and the extensions this server speaks) run on exactly
//! those bytes, reusing the command lexer. Status and continuation lines
//! are single lines: a `{n}` at the end of their free text is text, not a
//! literal. Never reads from the network and never allocates for message
//! bytes: strings and literals borrow from the input where they can.

use std::borrow::Cow;
use std::num::NonZeroUsize;

use super::*;
use crate::imap::wire::response::{
    ESearchItem, EncodedMailbox, FetchItem, IdField, ListExtended, ListKind, ListResponse,
    NamespaceDescr, Response, ResponseCode, Rfc822Part, Status, StatusValue, Structure, ThreadList,
};
use crate::store::account::UidValidity;
use crate::store::types::{Modseq, SeqNum as MsgSeq, Uid};

/// Why bytes could not be read as a response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseParseError {
    /// The buffer ends before the response does; read more and retry.
    /// `needed` is how many more bytes at least, when a literal says so.
    #[error("incomplete response")]
    Incomplete {
        /// At least this many more bytes are needed, when known.
        needed: Option<NonZeroUsize>,
    },
    /// A literal announces more bytes than this machine can address.
    #[error("literal of {digits} bytes is too large")]
    LiteralTooLarge {
        /// The announced size as written.
        digits: String,
    },
    /// The bytes break the response grammar.
    #[error("invalid response: {reason}")]
    Syntax {
        /// What was wrong.
        reason: String,
    },
}

/// The number of bytes the first response in `input` takes, CRLF and
/// literals included, or `Incomplete` when `input` holds only part of it.
/// The bytes are not checked beyond finding the end.
pub fn frame_response(input: &[u8]) -> Result<usize, ResponseParseError> {
    let incomplete = |needed: Option<usize>| ResponseParseError::Incomplete {
        needed: needed.and_then(NonZeroUsize::new),
    };
    let mut pos = 0;
    let mut single_line = None;
    loop {
        let rest = input.get(pos..).unwrap_or_default();
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Err(incomplete(None));
        };
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let end = pos + nl + 1;
        let single = *single_line.get_or_insert_with(|| is_text_line(line));
        match literal_announced(line)? {
            Some(n) if !single => {
                let next = end.checked_add(n).ok_or_else(|| too_large(line))?;
                if input.len() < next {
                    return Err(incomplete(Some(next - input.len())));
                }
                pos = next;
            }
            _ => return Ok(end),
        }
    }
}

fn too_large(line: &[u8]) -> ResponseParseError {
    let open = line.iter().rposition(|&b| b == b'{').unwrap_or(0);
    ResponseParseError::LiteralTooLarge {
        digits: String::from_utf8_lossy(line.get(open..).unwrap_or_default()).into_owned(),
    }
}

/// A continuation or status line, whose free text runs to the line end.
fn is_text_line(line: &[u8]) -> bool {
    if line.starts_with(b"+") {
        return true;
    }
    let mut words = line.splitn(3, |&b| b == b' ');
    let (_, Some(word)) = (words.next(), words.next()) else {
        return false;
    };
    ["OK", "NO", "BAD", "BYE", "PREAUTH"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
}

/// The size of the literal a line ends with (`{n}` or `~{n}`), if any.
fn literal_announced(line: &[u8]) -> Result<Option<usize>, ResponseParseError> {
    let Some(body) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = body.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let digits = body.get(open + 1..).unwrap_or_default();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    digits
        .iter()
        .try_fold(0usize, |n, &d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        })
        .map(Some)
        .ok_or_else(|| too_large(line))
}

/// Parses the first response in `input`; returns it with the number of
/// bytes it took. Strings and literals borrow from `input`.
pub fn parse_response(input: &[u8]) -> Result<(Response<'_>, usize), ResponseParseError> {
    let len = frame_response(input)?;
    let framed = input.get(..len).unwrap_or_default();
    match response(framed) {
        Ok(([], r)) => Ok((r, len)),
        Ok(_) => Err(ResponseParseError::Syntax {
            reason: "unexpected data after the response".into(),
        }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(ResponseParseError::Syntax {
            reason: e.reason.into_owned(),
        }),
        Err(nom::Err::Incomplete(_)) => Err(ResponseParseError::Incomplete { needed: None }),
    }
}

// ------------------------------------------------------------------ tokens

/// A string (quoted or `{n}` literal). A literal may not hold NUL (CHAR8).
fn rstring(i: &[u8]) -> R<'_, Cow<'_, [u8]>> {
    let (rest, s) = string(i)?;
    if matches!(s, Cow::Borrowed(_)) && s.contains(&0) {
        return fail("NUL in a literal");
    }
    Ok((rest, s))
}

fn rnstring(i: &[u8]) -> R<'_, Option<Cow<'_, [u8]>>> {
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, None));
    }
    let (rest, s) = rstring(i)?;
    Ok((rest, Some(s)))
}

/// nstring or `~{n}` literal8 (BINARY data).
fn nstring8(i: &[u8]) -> R<'_, Option<Cow<'_, [u8]>>> {
    if peek(i) == Some(b'~') {
        let (rest, d) = literal8(i)?;
        return Ok((rest, Some(Cow::Borrowed(d))));
    }
    rnstring(i)
}

fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn cow_text(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => String::from_utf8_lossy(b),
        Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
    }
}

fn rastring(i: &[u8]) -> R<'_, Cow<'_, [u8]>> {
    if matches!(peek(i), Some(b'{')) {
        return rstring(i);
    }
    astring(i, "expected string")
}

fn atom_text(i: &[u8]) -> R<'_, Cow<'_, str>> {
    let (rest, a) = atom(i)?;
    Ok((rest, text_of(a)))
}

/// Free text up to the line end: no NUL, no lone CR.
fn text(i: &[u8]) -> R<'_, Cow<'_, str>> {
    let end = i
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(i.len());
    let (t, rest) = i.split_at(end);
    if t.contains(&0) {
        return fail("NUL in text");
    }
    Ok((rest, text_of(t)))
}

/// The keyword `word`, or a failure naming it.
fn kw<'a>(i: &'a [u8], word: &'static str) -> R<'a, ()> {
    match keyword(i, word) {
        Some(rest) => Ok((rest, ())),
        None => fail(format!("expected {word}")),
    }
}

fn uid(i: &[u8]) -> R<'_, Uid> {
    let (rest, n) = nz_number(i)?;
    match Uid::new(n.get()) {
        Some(u) => Ok((rest, u)),
        None => fail("UID must not be zero"),
    }
}

fn modseq(i: &[u8]) -> R<'_, Modseq> {
    let (rest, m) = mod_seq_value(i)?;
    match Modseq::new(m.0) {
        Some(m) => Ok((rest, m)),
        None => fail("mod-sequence must not be zero"),
    }
}

/// Parses a space-separated run of `item`s (none allowed).
fn sp_list<'a, T>(mut i: &'a [u8], mut item: impl FnMut(&'a [u8]) -> R<'a, T>) -> R<'a, Vec<T>> {
    let mut out = Vec::new();
    while let Some(rest) = i.strip_prefix(b" ") {
        let (rest, v) = item(rest)?;
        out.push(v);
        i = rest;
    }
    Ok((i, out))
}

fn mailbox_name(i: &[u8]) -> R<'_, EncodedMailbox<'_>> {
    let (rest, m) = rastring(i)?;
    Ok((rest, EncodedMailbox(cow_text(m))))
}

/// `"c"` or NIL (QUOTED-CHAR is 7-bit).
fn delimiter(i: &[u8]) -> R<'_, Option<char>> {
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, None));
    }
    let (rest, q) = quoted(i)?;
    let s = String::from_utf8_lossy(&q);
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() => Ok((rest, Some(c))),
        _ => fail("a delimiter is one 7-bit character"),
    }
}

// ------------------------------------------------------- response codes

fn flag_perm(i: &[u8]) -> R<'_, FlagPerm> {
    if let Some(rest) = i.strip_prefix(b"\\*") {
        return Ok((rest, FlagPerm::Any));
    }
    let (rest, f) = flag(i)?;
    Ok((rest, FlagPerm::Flag(f)))
}

fn sp_number(i: &[u8]) -> R<'_, u32> {
    let (i, ()) = sp(i)?;
    number(i)
}

/// ` n` as a UIDVALIDITY (never zero).
fn sp_validity(i: &[u8]) -> R<'_, UidValidity> {
    let (i, n) = sp_number(i)?;
    match UidValidity::new(n) {
        Some(v) => Ok((i, v)),
        None => fail("UIDVALIDITY must not be zero"),
    }
}

fn owned_atom(i: &[u8]) -> R<'_, String> {
    atom_text(i).map(|(r, a)| (r, a.into_owned()))
}

fn code_arg<'a>(i: &'a [u8], name: &[u8]) -> R<'a, Option<ResponseCode>> {
    let num = sp_number;
    let code = match name {
        b"ALERT" => (i, ResponseCode::Alert),
        b"BADCHARSET" => match i.strip_prefix(b" ") {
            Some(rest) => {
                let (i, l) = paren_list(rest, false, owned_atom)?;
                (i, ResponseCode::BadCharset(l))
            }
            None => (i, ResponseCode::BadCharset(Vec::new())),
        },
        b"CAPABILITY" => {
            let (i, caps) = sp_list(i, owned_atom)?;
            (i, ResponseCode::Capability(caps))
        }
        b"PARSE" => (i, ResponseCode::Parse),
        b"PERMANENTFLAGS" => {
            let (i, ()) = sp(i)?;
            let (i, f) = paren_list(i, true, flag_perm)?;
            (i, ResponseCode::PermanentFlags(f))
        }
        b"READ-ONLY" => (i, ResponseCode::ReadOnly),
        b"READ-WRITE" => (i, ResponseCode::ReadWrite),
        b"TRYCREATE" => (i, ResponseCode::TryCreate),
        b"UIDNEXT" => {
            let (i, ()) = sp(i)?;
            uid(i).map(|(i, u)| (i, ResponseCode::UidNext(u)))?
        }
        b"UIDVALIDITY" => sp_validity(i).map(|(i, v)| (i, ResponseCode::UidValidity(v)))?,
        b"UNSEEN" => {
            let (i, n) = num(i)?;
            match MsgSeq::new(n) {
                Some(s) => (i, ResponseCode::Unseen(s)),
                None => return fail("UNSEEN must not be zero"),
            }
        }
        b"APPENDUID" => {
            let (i, uid_validity) = sp_validity(i)?;
            let (i, ()) = sp(i)?;
            let (i, uids) = seq_set(i)?;
            (i, ResponseCode::AppendUid { uid_validity, uids })
        }
        b"COPYUID" => {
            let (i, uid_validity) = sp_validity(i)?;
            let (i, ()) = sp(i)?;
            let (i, source) = seq_set(i)?;
            let (i, ()) = sp(i)?;
            let (i, dest) = seq_set(i)?;
            (
                i,
                ResponseCode::CopyUid {
                    uid_validity,
                    source,
                    dest,
                },
            )
        }
        b"UIDNOTSTICKY" => (i, ResponseCode::UidNotSticky),
        b"HIGHESTMODSEQ" => {
            let (i, ()) = sp(i)?;
            let (i, m) = mod_seq_valzer(i)?;
            (i, ResponseCode::HighestModSeq(m))
        }
        b"NOMODSEQ" => (i, ResponseCode::NoModSeq),
        b"MODIFIED" => {
            let (i, ()) = sp(i)?;
            let (i, s) = seq_set(i)?;
            (i, ResponseCode::Modified(s))
        }
        b"CLOSED" => (i, ResponseCode::Closed),
        b"TOOBIG" => (i, ResponseCode::TooBig),
        b"NOUPDATE" => {
            let (i, ()) = sp(i)?;
            let (i, t) = quoted(i)?;
            // The tag is the client's command tag: tag characters only,
            // which is also all the encoder writes unchanged.
            if t.is_empty() || !t.iter().all(|&b| is_tag_char(b)) {
                return fail("NOUPDATE needs a command tag");
            }
            (
                i,
                ResponseCode::NoUpdate(String::from_utf8_lossy(&t).into_owned()),
            )
        }
        b"BADURL" => {
            let (i, ()) = sp(i)?;
            let end = i
                .iter()
                .position(|&b| matches!(b, b']' | b'\r' | b'\n' | 0))
                .unwrap_or(i.len());
            if end == 0 {
                return fail("BADURL needs a URL");
            }
            let (url, rest) = i.split_at(end);
            (rest, ResponseCode::BadUrl(text_of(url).into_owned()))
        }
        b"UNKNOWN-CTE" => (i, ResponseCode::UnknownCte),
        b"NONEXISTENT" => (i, ResponseCode::Nonexistent),
        b"ALREADYEXISTS" => (i, ResponseCode::AlreadyExists),
        b"AUTHENTICATIONFAILED" => (i, ResponseCode::AuthenticationFailed),
        b"AUTHORIZATIONFAILED" => (i, ResponseCode::AuthorizationFailed),
        b"CANNOT" => (i, ResponseCode::Cannot),
        b"CLIENTBUG" => (i, ResponseCode::ClientBug),
        b"CONTACTADMIN" => (i, ResponseCode::ContactAdmin),
        b"EXPUNGEISSUED" => (i, ResponseCode::ExpungeIssued),
        b"INUSE" => (i, ResponseCode::InUse),
        b"LIMIT" => (i, ResponseCode::Limit),
        b"NOPERM" => (i, ResponseCode::NoPerm),
        b"OVERQUOTA" => (i, ResponseCode::OverQuota),
        b"PRIVACYREQUIRED" => (i, ResponseCode::PrivacyRequired),
        b"PRIVACYNOTREQUIRED" => (i, ResponseCode::PrivacyNotRequired),
        b"SERVERBUG" => (i, ResponseCode::ServerBug),
        b"UNAVAILABLE" => (i, ResponseCode::Unavailable),
        b"EXPIRED" => (i, ResponseCode::Expired),
        b"CORRUPTION" => (i, ResponseCode::Corruption),
        b"HASCHILDREN" => (i, ResponseCode::HasChildren),
        b"MAILBOXID" => {
            let (i, ()) = sp(i)?;
            let (i, ()) = expect(i, b"(", "expected '('")?;
            let (i, id) = atom_text(i)?;
            let (i, ()) = expect(i, b")", "expected ')'")?;
            (i, ResponseCode::MailboxId(id.into_owned()))
        }
        b"NOTSAVED" => (i, ResponseCode::NotSaved),
        b"USEATTR" => (i, ResponseCode::UseAttr),
        b"COMPRESSIONACTIVE" => (i, ResponseCode::CompressionActive),
        b"NOTIFICATIONOVERFLOW" => (i, ResponseCode::NotificationOverflow),
        b"BADEVENT" => {
            let (i, ()) = expect(i, b" ", "expected SP")?;
            let (i, l) = paren_list(i, false, owned_atom)?;
            (i, ResponseCode::BadEvent(l))
        }
        b"UIDREQUIRED" => (i, ResponseCode::UidRequired),
        _ => return Ok((i, None)),
    };
    Ok((code.0, Some(code.1)))
}

/// `[code]` without the brackets, then the closing `]`. A known code with
/// arguments it cannot have is kept as [`ResponseCode::Other`], so what
/// was parsed is always what gets written back.
fn resp_code(i: &[u8]) -> R<'_, ResponseCode> {
    let (after_name, name) = atom(i)?;
    let upper = name.to_ascii_uppercase();
    if let Ok((rest, Some(code))) = code_arg(after_name, &upper) {
        if let Some(rest) = rest.strip_prefix(b"]") {
            return Ok((rest, code));
        }
    }
    let atom = text_of(name).into_owned();
    if let Some(rest) = after_name.strip_prefix(b"]") {
        return Ok((rest, ResponseCode::Other(atom, None)));
    }
    let (args, ()) = sp(after_name)?;
    let end = args
        .iter()
        .position(|&b| matches!(b, b']' | b'\r' | b'\n' | 0))
        .unwrap_or(args.len());
    let (t, rest) = args.split_at(end);
    let (rest, ()) = expect(rest, b"]", "expected ']' after response code")?;
    Ok((
        rest,
        ResponseCode::Other(atom, Some(text_of(t).into_owned())),
    ))
}

/// `[SP] ["[" code "]" [SP]] text` after the status word.
fn resp_text(i: &[u8]) -> R<'_, (Option<ResponseCode>, Cow<'_, str>)> {
    let i = i.strip_prefix(b" ").unwrap_or(i);
    let (i, code) = match i.strip_prefix(b"[") {
        Some(rest) => {
            let (rest, c) = resp_code(rest)?;
            (rest.strip_prefix(b" ").unwrap_or(rest), Some(c))
        }
        None => (i, None),
    };
    let (i, t) = text(i)?;
    Ok((i, (code, t)))
}

fn status_word(i: &[u8]) -> Option<(&[u8], Status)> {
    [
        ("OK", Status::Ok),
        ("NO", Status::No),
        ("BAD", Status::Bad),
        ("PREAUTH", Status::PreAuth),
        ("BYE", Status::Bye),
    ]
    .into_iter()
    .find_map(|(w, s)| {
        let rest = keyword(i, w)?;
        matches!(peek(rest), None | Some(b' ' | b'\r' | b'\n')).then_some((rest, s))
    })
}

// ------------------------------------------------------------------ FETCH

/// ENVELOPE/BODY/BODYSTRUCTURE data: one parenthesised list of NIL,
/// numbers, strings and lists, kept as the bytes received.
fn structure(i: &[u8]) -> R<'_, Structure<'_>> {
    fn value(i: &[u8], depth: usize) -> R<'_, ()> {
        if depth > MAX_DEPTH {
            return fail("structure nested too deeply");
        }
        match peek(i) {
            Some(b'(') => {
                let mut i = i.get(1..).unwrap_or_default();
                loop {
                    if let Some(rest) = i.strip_prefix(b")") {
                        return Ok((rest, ()));
                    }
                    let (rest, ()) = value(i, depth + 1)?;
                    i = rest.strip_prefix(b" ").unwrap_or(rest);
                }
            }
            Some(c) if c.is_ascii_digit() => number64(i).map(|(r, _)| (r, ())),
            _ => rnstring(i).map(|(r, _)| (r, ())),
        }
    }
    if peek(i) != Some(b'(') {
        return fail("expected '('");
    }
    let (rest, ()) = value(i, 0)?;
    let raw = i.get(..i.len() - rest.len()).unwrap_or_default();
    Ok((rest, Structure::Raw(Cow::Borrowed(raw))))
}

fn origin(i: &[u8]) -> R<'_, Option<u64>> {
    let Some(i) = i.strip_prefix(b"<") else {
        return Ok((i, None));
    };
    let (i, n) = number64(i)?;
    let (i, ()) = expect(i, b">", "expected '>'")?;
    Ok((i, Some(n)))
}

fn object_id(i: &[u8]) -> R<'_, Cow<'_, str>> {
    let (i, ()) = expect(i, b"(", "expected '('")?;
    let (i, id) = atom_text(i)?;
    let (i, ()) = expect(i, b")", "expected ')'")?;
    Ok((i, id))
}

fn opt_date(i: &[u8]) -> R<'_, Option<chrono::DateTime<chrono::FixedOffset>>> {
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, None));
    }
    let (rest, d) = date_time(i)?;
    Ok((rest, Some(d)))
}

fn fetch_item(i: &[u8]) -> R<'_, FetchItem<'_>> {
    let (i, name) = ctx(
        "expected fetch item",
        nom::bytes::complete::take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'.'),
    )(i)?;
    let name = name.to_ascii_uppercase();
    if let (b"BODY", Some(b'[')) = (name.as_slice(), peek(i)) {
        let (i, section) = fetch::section(i)?;
        let (i, origin) = origin(i)?;
        let (i, ()) = sp(i)?;
        let (i, data) = rnstring(i)?;
        let section = Cow::Owned(section);
        return Ok((
            i,
            FetchItem::BodySection {
                section,
                origin,
                data,
            },
        ));
    }
    if name == b"BINARY" {
        let (i, part) = fetch::binary_section(i)?;
        let (i, origin) = origin(i)?;
        let (i, ()) = sp(i)?;
        let (i, data) = nstring8(i)?;
        let part = Cow::Owned(part);
        return Ok((i, FetchItem::Binary { part, origin, data }));
    }
    if name == b"BINARY.SIZE" {
        let (i, part) = fetch::binary_section(i)?;
        let (i, ()) = sp(i)?;
        let (i, size) = match keyword(i, "NIL") {
            Some(rest) => (rest, None),
            None => number64(i).map(|(r, n)| (r, Some(n)))?,
        };
        let part = Cow::Owned(part);
        return Ok((i, FetchItem::BinarySize { part, size }));
    }
    let (i, ()) = sp(i)?;
    fn rfc822(i: &[u8], part: Rfc822Part) -> R<'_, FetchItem<'_>> {
        rnstring(i).map(|(r, data)| (r, FetchItem::Rfc822 { part, data }))
    }
    match name.as_slice() {
        b"FLAGS" => flag_list(i).map(|(r, f)| (r, FetchItem::Flags(f))),
        b"UID" => uid(i).map(|(r, u)| (r, FetchItem::Uid(u))),
        b"MODSEQ" => {
            let (i, ()) = expect(i, b"(", "expected '('")?;
            let (i, m) = modseq(i)?;
            let (i, ()) = expect(i, b")", "expected ')'")?;
            Ok((i, FetchItem::ModSeq(m)))
        }
        b"INTERNALDATE" => date_time(i).map(|(r, d)| (r, FetchItem::InternalDate(d))),
        b"RFC822.SIZE" => number(i).map(|(r, n)| (r, FetchItem::Rfc822Size(n))),
        b"RFC822" => rfc822(i, Rfc822Part::Whole),
        b"RFC822.HEADER" => rfc822(i, Rfc822Part::Header),
        b"RFC822.TEXT" => rfc822(i, Rfc822Part::Text),
        b"ENVELOPE" => structure(i).map(|(r, s)| (r, FetchItem::Envelope(s))),
        b"BODY" => structure(i).map(|(r, s)| (r, FetchItem::Body(s))),
        b"BODYSTRUCTURE" => structure(i).map(|(r, s)| (r, FetchItem::BodyStructure(s))),
        b"EMAILID" => object_id(i).map(|(r, id)| (r, FetchItem::EmailId(id))),
        b"THREADID" => match keyword(i, "NIL") {
            Some(rest) => Ok((rest, FetchItem::ThreadId(None))),
            None => object_id(i).map(|(r, id)| (r, FetchItem::ThreadId(Some(id)))),
        },
        b"SAVEDATE" => opt_date(i).map(|(r, d)| (r, FetchItem::SaveDate(d))),
        b"PREVIEW" => rnstring(i).map(|(r, p)| (r, FetchItem::Preview(p.map(cow_text)))),
        _ => fail(format!("unknown FETCH item {}", shown(&name))),
    }
}

// --------------------------------------------------------- untagged data

fn namespaces(i: &[u8]) -> R<'_, Vec<NamespaceDescr<'_>>> {
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, Vec::new()));
    }
    let (mut i, ()) = expect(i, b"(", "expected '(' or NIL")?;
    let mut out = Vec::new();
    while let Some(rest) = i.strip_prefix(b"(") {
        let (rest, prefix) = rstring(rest)?;
        let (rest, ()) = sp(rest)?;
        let (rest, delimiter) = delimiter(rest)?;
        let (rest, ()) = expect(rest, b")", "expected ')'")?;
        out.push(NamespaceDescr {
            prefix: cow_text(prefix),
            delimiter,
        });
        i = rest;
    }
    let (i, ()) = expect(i, b")", "expected ')'")?;
    Ok((i, out))
}

fn list_extended(i: &[u8]) -> R<'_, ListExtended<'_>> {
    let (i, tag) = rastring(i)?;
    let (i, ()) = sp(i)?;
    if tag.eq_ignore_ascii_case(b"CHILDINFO") {
        let (i, opts) = paren_list(i, false, |i| rstring(i).map(|(r, s)| (r, cow_text(s))))?;
        return Ok((i, ListExtended::ChildInfo(opts)));
    }
    if tag.eq_ignore_ascii_case(b"OLDNAME") {
        let (i, ()) = expect(i, b"(", "expected '('")?;
        let (i, m) = mailbox_name(i)?;
        let (i, ()) = expect(i, b")", "expected ')'")?;
        return Ok((i, ListExtended::OldName(m)));
    }
    fail(format!("unknown LIST extended item {}", shown(&tag)))
}

/// A LIST attribute, `\\` included.
fn list_attribute(i: &[u8]) -> R<'_, Cow<'_, str>> {
    let start = i;
    let i = i.strip_prefix(b"\\").unwrap_or(i);
    let (rest, _) = atom(i)?;
    let raw = start.get(..start.len() - rest.len()).unwrap_or_default();
    Ok((rest, text_of(raw)))
}

fn list(i: &[u8], kind: ListKind) -> R<'_, Response<'_>> {
    let (i, ()) = sp(i)?;
    let (i, attributes) = paren_list(i, true, list_attribute)?;
    let (i, ()) = sp(i)?;
    let (i, delimiter) = delimiter(i)?;
    let (i, ()) = sp(i)?;
    let (i, mailbox) = mailbox_name(i)?;
    let (i, extended) = match i.strip_prefix(b" ") {
        Some(rest) => paren_list(rest, true, list_extended)?,
        None => (i, Vec::new()),
    };
    let l = ListResponse {
        kind,
        attributes,
        delimiter,
        mailbox,
        extended,
    };
    Ok((i, Response::List(l)))
}

fn status_value(i: &[u8]) -> R<'_, StatusValue> {
    let (i, name) = atom(i)?;
    let name = name.to_ascii_uppercase();
    let (i, ()) = sp(i)?;
    if name == b"MAILBOXID" {
        let (i, id) = object_id(i)?;
        return Ok((i, StatusValue::MailboxId(id.into_owned())));
    }
    if name == b"UIDNEXT" {
        return uid(i).map(|(r, u)| (r, StatusValue::UidNext(u)));
    }
    let (i, n) = number64(i)?;
    let small = |f: fn(u32) -> StatusValue| u32::try_from(n).ok().map(f);
    let v = match name.as_slice() {
        b"MESSAGES" => small(StatusValue::Messages),
        b"RECENT" => small(StatusValue::Recent),
        b"UIDVALIDITY" => small(StatusValue::UidValidity),
        b"UNSEEN" => small(StatusValue::Unseen),
        b"DELETED" => small(StatusValue::Deleted),
        b"SIZE" => Some(StatusValue::Size(n)),
        b"HIGHESTMODSEQ" => Some(StatusValue::HighestModSeq(n)),
        b"APPENDLIMIT" => Some(StatusValue::AppendLimit(n)),
        _ => return fail(format!("unknown STATUS item {}", shown(&name))),
    };
    match v {
        Some(v) => Ok((i, v)),
        None => fail("STATUS value too large"),
    }
}

fn search(i: &[u8]) -> R<'_, Response<'_>> {
    let mut numbers = Vec::new();
    let mut i = i;
    while let Some(rest) = i.strip_prefix(b" ") {
        if let Some(rest) = rest.strip_prefix(b"(") {
            let (rest, ()) = kw(rest, "MODSEQ")?;
            let (rest, ()) = sp(rest)?;
            let (rest, m) = modseq(rest)?;
            let (rest, ()) = expect(rest, b")", "expected ')'")?;
            let modseq = Some(m);
            return Ok((rest, Response::Search { numbers, modseq }));
        }
        let (rest, n) = nz_number(rest)?;
        numbers.push(n);
        i = rest;
    }
    Ok((
        i,
        Response::Search {
            numbers,
            modseq: None,
        },
    ))
}

fn sort(i: &[u8]) -> R<'_, Response<'_>> {
    let (i, r) = search(i)?;
    match r {
        Response::Search { numbers, modseq } => Ok((i, Response::Sort { numbers, modseq })),
        _ => fail("expected SORT numbers"),
    }
}

/// Nesting of THREAD lists the parser follows (each level is a branch).
const MAX_THREAD_DEPTH: usize = 1000;

/// `"(" (thread-members / thread-nested) ")"` (RFC 5256 §5).
fn thread_list(i: &[u8], depth: usize) -> R<'_, ThreadList> {
    if depth > MAX_THREAD_DEPTH {
        return fail("THREAD nested too deeply");
    }
    let (mut i, ()) = expect(i, b"(", "expected '('")?;
    let mut t = ThreadList::default();
    while peek(i).is_some_and(|c| c.is_ascii_digit()) {
        let (rest, n) = nz_number(i)?;
        t.members.push(n);
        i = match rest.strip_prefix(b" ") {
            Some(r) => r,
            None => rest,
        };
    }
    while peek(i) == Some(b'(') {
        let (rest, c) = thread_list(i, depth + 1)?;
        t.children.push(c);
        i = rest;
    }
    let (i, ()) = expect(i, b")", "expected ')'")?;
    if t.members.is_empty() && t.children.is_empty() {
        return fail("empty THREAD list");
    }
    Ok((i, t))
}

fn thread(i: &[u8]) -> R<'_, Response<'_>> {
    let mut i = match i.strip_prefix(b" ") {
        Some(r) => r,
        None => return Ok((i, Response::Thread(Vec::new()))),
    };
    let mut threads = Vec::new();
    while peek(i) == Some(b'(') {
        let (rest, t) = thread_list(i, 1)?;
        threads.push(t);
        i = rest;
    }
    Ok((i, Response::Thread(threads)))
}

fn esearch(i: &[u8]) -> R<'_, Response<'_>> {
    let (i, tag) = match i.strip_prefix(b" (") {
        Some(rest) => {
            let (rest, ()) = kw(rest, "TAG")?;
            let (rest, ()) = sp(rest)?;
            let (rest, t) = rstring(rest)?;
            let (rest, ()) = expect(rest, b")", "expected ')'")?;
            (rest, Some(cow_text(t)))
        }
        None => (i, None),
    };
    let (i, uid) = match i.strip_prefix(b" ").and_then(|r| keyword(r, "UID")) {
        Some(rest) if matches!(peek(rest), None | Some(b' ' | b'\r' | b'\n')) => (rest, true),
        _ => (i, false),
    };
    let (i, items) = sp_list(i, |i| {
        let (i, name) = atom(i)?;
        let name = name.to_ascii_uppercase();
        let (i, ()) = sp(i)?;
        match name.as_slice() {
            b"MIN" => nz_number(i).map(|(r, n)| (r, ESearchItem::Min(n))),
            b"MAX" => nz_number(i).map(|(r, n)| (r, ESearchItem::Max(n))),
            b"ALL" => seq_set(i).map(|(r, s)| (r, ESearchItem::All(s))),
            b"COUNT" => number(i).map(|(r, n)| (r, ESearchItem::Count(n))),
            b"MODSEQ" => modseq(i).map(|(r, m)| (r, ESearchItem::ModSeq(m))),
            b"PARTIAL" => {
                let (i, ()) = expect(i, b"(", "expected '('")?;
                let (i, range) = partial_range(i)?;
                let (i, ()) = sp(i)?;
                let (i, set) = match keyword(i, "NIL") {
                    Some(r) => (r, None),
                    None => seq_set(i).map(|(r, s)| (r, Some(s)))?,
                };
                let (i, ()) = expect(i, b")", "expected ')'")?;
                Ok((i, ESearchItem::Partial { range, set }))
            }
            b"ADDTO" => context_pairs(i).map(|(r, p)| (r, ESearchItem::AddTo(p))),
            b"REMOVEFROM" => context_pairs(i).map(|(r, p)| (r, ESearchItem::RemoveFrom(p))),
            _ => fail(format!("unknown ESEARCH item {}", shown(&name))),
        }
    })?;
    Ok((i, Response::ESearch { tag, uid, items }))
}

/// `(position set position set ...)` of ADDTO and REMOVEFROM.
fn context_pairs(i: &[u8]) -> R<'_, Vec<(u32, SeqSet)>> {
    let (mut i, ()) = expect(i, b"(", "expected '('")?;
    let mut pairs = Vec::new();
    loop {
        let (r, pos) = number(i)?;
        let (r, ()) = sp(r)?;
        let (r, set) = seq_set(r)?;
        pairs.push((pos, set));
        match r.strip_prefix(b" ") {
            Some(r) => i = r,
            None => {
                let (r, ()) = expect(r, b")", "expected ')'")?;
                return Ok((r, pairs));
            }
        }
    }
}

fn id(i: &[u8]) -> R<'_, Response<'_>> {
    let (i, ()) = sp(i)?;
    if let Some(rest) = keyword(i, "NIL") {
        return Ok((rest, Response::Id(None)));
    }
    fn field(i: &[u8]) -> R<'_, IdField<'_>> {
        let (i, k) = rstring(i)?;
        let (i, ()) = sp(i)?;
        let (i, v) = rnstring(i)?;
        Ok((i, (k, v)))
    }
    let (i, fields) = paren_list(i, true, field)?;
    Ok((i, Response::Id(Some(fields))))
}

fn xcry(i: &[u8]) -> R<'_, Response<'_>> {
    let (i, ()) = sp(i)?;
    if let Some(rest) = keyword(i, "USER-CONFIG ") {
        fn pair(i: &[u8]) -> R<'_, (Cow<'_, str>, Cow<'_, [u8]>)> {
            let (i, k) = rstring(i)?;
            let (i, ()) = sp(i)?;
            let (i, v) = rstring(i)?;
            Ok((i, (cow_text(k), v)))
        }
        let (rest, pairs) = paren_list(rest, true, pair)?;
        return Ok((rest, Response::XCryUserConfig(pairs)));
    }
    if let Some(rest) = keyword(i, "BACKUP-FILE ") {
        let (rest, p) = rstring(rest)?;
        return Ok((rest, Response::XCryBackupFile(cow_text(p))));
    }
    fail("unknown XCRY response")
}

/// `* n EXISTS|RECENT|EXPUNGE|FETCH`, or `* uid UIDFETCH` (RFC 9586).
fn numbered(i: &[u8]) -> R<'_, Response<'_>> {
    let (i, n) = number(i)?;
    let (i, ()) = sp(i)?;
    let (i, word) = atom(i)?;
    let word = word.to_ascii_uppercase();
    match word.as_slice() {
        b"EXISTS" => return Ok((i, Response::Exists(n))),
        b"RECENT" => return Ok((i, Response::Recent(n))),
        b"UIDFETCH" => {
            let Some(uid) = Uid::new(n) else {
                return fail("UID must not be zero");
            };
            let (i, ()) = sp(i)?;
            let (i, items) = paren_list(i, true, fetch_item)?;
            return Ok((i, Response::UidFetch { uid, items }));
        }
        _ => {}
    }
    let Some(seq) = MsgSeq::new(n) else {
        return fail("sequence number must not be zero");
    };
    match word.as_slice() {
        b"EXPUNGE" => Ok((i, Response::Expunge(seq))),
        b"FETCH" => {
            let (i, ()) = sp(i)?;
            let (i, items) = paren_list(i, true, fetch_item)?;
            Ok((i, Response::Fetch { seq, items }))
        }
        other => fail(format!("unknown response {}", shown(other))),
    }
}

fn untagged(i: &[u8]) -> R<'_, Response<'_>> {
    if matches!(peek(i), Some(c) if c.is_ascii_digit()) {
        return numbered(i);
    }
    if let Some((rest, status)) = status_word(i) {
        let (rest, (code, text)) = resp_text(rest)?;
        return Ok((
            rest,
            Response::Status {
                tag: None,
                status,
                code,
                text,
            },
        ));
    }
    let (i, word) = atom(i)?;
    let words = |i| sp_list(i, atom_text);
    match word.to_ascii_uppercase().as_slice() {
        b"CAPABILITY" => words(i).map(|(r, c)| (r, Response::Capability(c))),
        b"ENABLED" => words(i).map(|(r, c)| (r, Response::Enabled(c))),
        b"ID" => id(i),
        b"NAMESPACE" => {
            let (i, ()) = sp(i)?;
            let (i, personal) = namespaces(i)?;
            let (i, ()) = sp(i)?;
            let (i, other) = namespaces(i)?;
            let (i, ()) = sp(i)?;
            let (i, shared) = namespaces(i)?;
            let ns = Response::Namespace {
                personal,
                other,
                shared,
            };
            Ok((i, ns))
        }
        b"LIST" => list(i, ListKind::List),
        b"LSUB" => list(i, ListKind::Lsub),
        b"XLIST" => list(i, ListKind::XList),
        b"STATUS" => {
            let (i, ()) = sp(i)?;
            let (i, mailbox) = mailbox_name(i)?;
            let (i, ()) = sp(i)?;
            let (i, items) = paren_list(i, true, status_value)?;
            Ok((i, Response::MailboxStatus { mailbox, items }))
        }
        b"FLAGS" => {
            let (i, ()) = sp(i)?;
            flag_list(i).map(|(r, f)| (r, Response::Flags(f)))
        }
        b"VANISHED" => {
            let (i, ()) = sp(i)?;
            let (i, earlier) = match keyword(i, "(EARLIER) ") {
                Some(rest) => (rest, true),
                None => (i, false),
            };
            let (i, uids) = seq_set(i)?;
            Ok((i, Response::Vanished { earlier, uids }))
        }
        b"SEARCH" => search(i),
        b"SORT" => sort(i),
        b"THREAD" => thread(i),
        b"ESEARCH" => esearch(i),
        b"XCRY" => xcry(i),
        other => fail(format!("unknown response {}", shown(other))),
    }
}

fn response(i: &[u8]) -> R<'_, Response<'_>> {
    let (i, r) = if let Some(rest) = i.strip_prefix(b"+") {
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let (rest, t) = text(rest)?;
        (rest, Response::Continue(t))
    } else if let Some(rest) = i.strip_prefix(b"* ") {
        untagged(rest)?
    } else {
        let (rest, tag) = ctx("expected tag, '*' or '+'", take_while1(is_tag_char))(i)?;
        let (rest, ()) = sp(rest)?;
        let Some((rest, status)) = status_word(rest) else {
            return fail("expected OK, NO or BAD after the tag");
        };
        let (rest, (code, text)) = resp_text(rest)?;
        let tag = Some(text_of(tag));
        let status = Response::Status {
            tag,
            status,
            code,
            text,
        };
        (rest, status)
    };
    line_end(i).map(|(rest, ())| (rest, r))
}
