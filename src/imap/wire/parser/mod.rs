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

use base64::Engine as _;
use nom::bytes::complete::take_while1;
use thiserror::Error;

use crate::imap::wire::command::*;
use crate::imap::wire::mutf7;
use crate::imap::wire::response::is_atom_char;
use crate::imap::wire::user_setting::UserSetting;

mod fetch;
mod lexer;
mod notify;
pub mod response;
mod search;

use fetch::*;
use lexer::*;
use search::*;

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

fn use_attr(i: &[u8]) -> R<'_, UseAttr> {
    let (i, ()) = expect(i, b"\\", "expected special-use attribute")?;
    let (i, a) = ctx("expected special-use attribute", atom)(i)?;
    let name = String::from_utf8_lossy(a).into_owned();
    let u = match crate::store::account::SpecialUse::from_imap(&format!("\\{name}")) {
        Some(k) => UseAttr::Known(k),
        None => UseAttr::Other(name),
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
        let (r, m) = append_message(r)?;
        messages.push(m);
        i = r;
    }
    if messages.is_empty() {
        return fail("expected message literal");
    }
    Ok((i, CommandBody::Append { mailbox, messages }))
}

/// RFC 4466 `append-message`: optional flags and date, then the data (a
/// literal, a literal8, `UTF8 (...)` or `CATENATE (...)`).
fn append_message(i: &[u8]) -> R<'_, AppendMessage> {
    let (r, flags) = if peek(i) == Some(b'(') {
        let (r, f) = flag_list(i)?;
        (sp(r)?.0, f)
    } else {
        (i, Vec::new())
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
        _ => {
            if let Some(r) = keyword(r, "UTF8 (") {
                let (r, d) = if peek(r) == Some(b'~') {
                    literal8(r)?
                } else {
                    literal(r)?
                };
                let (r, ()) = expect(r, b")", "expected ')' after UTF8 literal")?;
                (r, AppendKind::Utf8, d)
            } else if let Some(r) = keyword(r, "CATENATE ") {
                let (r, parts) = paren_list(r, false, cat_part)?;
                (r, AppendKind::Catenate(parts), &r[..0])
            } else {
                return fail("expected message literal");
            }
        }
    };
    Ok((
        r,
        AppendMessage {
            flags,
            internal_date,
            kind,
            data: data.to_vec(),
        },
    ))
}

/// RFC 4469 `cat-part`: `TEXT literal`, `TEXT literal8` or `URL astring`.
fn cat_part(i: &[u8]) -> R<'_, CatPart> {
    if let Some(r) = keyword(i, "TEXT ") {
        if peek(r) == Some(b'~') {
            let (r, d) = literal8(r)?;
            return Ok((r, CatPart::Text8(d.to_vec())));
        }
        let (r, d) = literal(r)?;
        return Ok((r, CatPart::Text(d.to_vec())));
    }
    if let Some(r) = keyword(i, "URL ") {
        let (r, u) = astring(r, "expected URL")?;
        return Ok((r, CatPart::Url(utf8_string(u, "URL is not UTF-8")?)));
    }
    fail("expected TEXT or URL in CATENATE")
}

/// RFC 8508 `replace`: `REPLACE seq-number mailbox append-message` (and
/// after UID, a UID).
fn replace<'a>(i: &'a [u8], opts: &ParseOptions, uid: bool) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, target) = seq_num(i)?;
    let (i, ()) = sp(i)?;
    let (i, mailbox) = mailbox(i, opts)?;
    let (i, ()) = sp(i)?;
    let (i, message) = append_message(i)?;
    Ok((
        i,
        CommandBody::Replace {
            uid,
            target,
            mailbox,
            message,
        },
    ))
}

/// A FETCH section spec without its brackets (`1.2.HEADER`, `TEXT`,
/// `HEADER.FIELDS (A B)`, empty for the whole message), as an IMAP URL's
/// `;SECTION=` carries it; `None` unless all of `text` is one.
pub(crate) fn parse_section(text: &[u8]) -> Option<Section> {
    let mut framed = Vec::with_capacity(text.len() + 2);
    framed.push(b'[');
    framed.extend_from_slice(text);
    framed.push(b']');
    match section(&framed) {
        Ok((b"", s)) => Some(s),
        _ => None,
    }
}

// ------------------------------------------------------------ dispatcher

fn uid_command<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, name) = ctx("expected command after UID", atom)(i)?;
    match name.to_ascii_uppercase().as_slice() {
        b"FETCH" => fetch(i, true),
        b"SEARCH" => search(i, true),
        b"SORT" => sort(i, true),
        b"THREAD" => thread(i, true),
        b"STORE" => store(i, true),
        b"COPY" | b"MOVE" => copy_move(i, opts, true, name.eq_ignore_ascii_case(b"MOVE")),
        b"REPLACE" => replace(i, opts, true),
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
                pairs.push(UserSetting::parse(&key, value.into_owned()));
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
    let mbox = |i: &'a [u8]| -> R<'a, MailboxArg> {
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
        b"SORT" => sort(i, false),
        b"THREAD" => thread(i, false),
        b"FETCH" => fetch(i, false),
        b"STORE" => store(i, false),
        b"COPY" => copy_move(i, opts, false, false),
        b"MOVE" => copy_move(i, opts, false, true),
        b"REPLACE" => replace(i, opts, false),
        b"XCRY" => xcry(i),
        b"NOTIFY" => notify::notify(i, opts),
        b"CANCELUPDATE" => {
            let mut tags = Vec::new();
            let mut i = i;
            while let Some(r) = i.strip_prefix(b" ") {
                let (r, t) = ctx("expected a quoted tag", quoted)(r)?;
                // Only a tag can name a context; anything else is no tag.
                if t.is_empty() || !t.iter().all(|&b| is_tag_char(b)) {
                    return fail("CANCELUPDATE takes command tags");
                }
                tags.push(String::from_utf8_lossy(&t).into_owned());
                i = r;
            }
            if tags.is_empty() {
                return fail("CANCELUPDATE needs at least one tag");
            }
            Ok((i, CommandBody::CancelUpdate { tags }))
        }
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
