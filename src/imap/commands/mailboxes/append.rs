//! APPEND (RFC 3501 §6.3.11, RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502),
//! APPENDUID (RFC 4315), APPENDLIMIT (RFC 7889), `~{n}` literals (RFC 3516),
//! the `UTF8 (~{n})` form (RFC 6855) and CATENATE (RFC 4469, built by
//! `catenate`); [`prepare`] is also what REPLACE (RFC 8508) checks its
//! message with.
//!
//! Messages are stored as received (bare LFs included), with two
//! exceptions decided here: a message sent as a literal8 has its
//! `Content-Transfer-Encoding: binary` parts base64-encoded
//! (`mime::binary`, as Dovecot), so `BODY[]` is a valid RFC 5322 message
//! while `BINARY[]` returns the original octets; and 8-bit header bytes
//! are refused unless UTF8=ACCEPT is enabled (RFC 6855 §4). The store
//! owns encryption and summaries; this module validates the command and
//! keeps MULTIAPPEND all-or-nothing.

use std::borrow::Cow;

use super::catenate;
use super::status::append_limit;
use crate::imap::context::{mailbox_name, store_flag, wire_uid_set, Ctx, Reply};
use crate::imap::wire::command::{AppendKind, AppendMessage, CatPart, MailboxArg, WireFlag};
use crate::imap::wire::response::ResponseCode;
use crate::mime::binary::{encode_binary_parts, header_has_8bit};
use crate::store::mailbox::{MailboxError, NewMessage};
use crate::store::types::{Flag, InternalDate, Uid};

/// One message checked and ready to store.
pub(crate) struct Ready<'a> {
    raw: Cow<'a, [u8]>,
    flags: Vec<Flag>,
    internal: InternalDate,
}

impl Ready<'_> {
    /// The message as the store takes it.
    pub(crate) fn as_new(&self) -> NewMessage<'_> {
        NewMessage {
            raw: &self.raw,
            flags: &self.flags,
            internal: self.internal,
        }
    }
}

/// Checks every message (building the CATENATE ones) before any is
/// stored, so that MULTIAPPEND stays all or nothing; `Err` is the tagged
/// answer for the whole command.
pub(crate) fn prepare<'a>(
    ctx: &mut Ctx,
    messages: &'a [AppendMessage],
) -> Result<Vec<Ready<'a>>, Reply> {
    let limit = append_limit(ctx);
    let utf8_accept = ctx.enabled.utf8_accept;
    // One budget for the whole command: a MULTIAPPEND of many CATENATEs
    // is bounded as one CATENATE is.
    let mut catenator = catenate::Catenator::new(limit);
    messages
        .iter()
        .map(|m| {
            let built = match &m.kind {
                AppendKind::Catenate(parts) => Some(catenator.build(ctx, parts)?),
                _ => None,
            };
            validate(m, built, limit, utf8_accept)
        })
        .collect()
}

/// Checks one message against the limits and flag rules; `built` is the
/// message a CATENATE assembled (else the literal is the message).
fn validate(
    m: &AppendMessage,
    built: Option<Vec<u8>>,
    limit: u64,
    utf8_accept: bool,
) -> Result<Ready<'_>, Reply> {
    let data: Cow<'_, [u8]> = match built {
        Some(b) => Cow::Owned(b),
        None => Cow::Borrowed(&m.data[..]),
    };
    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
    if len > limit {
        return Err(Reply::no(
            Some(ResponseCode::TooBig),
            format!("Message of {len} bytes exceeds the limit of {limit} bytes"),
        ));
    }
    // RFC 6855 §4: without ENABLE UTF8=ACCEPT, a message whose header has
    // 8-bit bytes is refused with NO (the `UTF8 (...)` form says the
    // client knows what it sends).
    if !utf8_accept && m.kind != AppendKind::Utf8 && header_has_8bit(&data) {
        return Err(Reply::no(
            None,
            "8-bit characters in the message header need ENABLE UTF8=ACCEPT",
        ));
    }
    let mut flags: Vec<Flag> = Vec::with_capacity(m.flags.len());
    for f in &m.flags {
        let stored = match f {
            // RFC 3501: \Recent cannot be set by a client; ignoring it is
            // what Dovecot does and what clients copying flags expect.
            WireFlag::Recent => continue,
            WireFlag::Extension(name) => {
                return Err(Reply::bad(format!("Invalid system flag \\{name}")))
            }
            other => store_flag(other).ok_or_else(|| Reply::bad("Invalid keyword"))?,
        };
        if !flags.iter().any(|have| have.same_as(&stored)) {
            flags.push(stored);
        }
    }
    let internal = m
        .internal_date
        .map(InternalDate::from_chrono)
        .unwrap_or_else(InternalDate::now);
    // RFC 3516 §4.4: a literal8 may carry a `binary` part, which is
    // base64-encoded for storage (Dovecot) so that BODY[] stays a valid
    // message; BINARY[] decodes it back.
    // A CATENATE with a `TEXT ~{n}` part may carry binary octets, like a
    // literal8 message.
    let binary = match &m.kind {
        AppendKind::Literal => false,
        AppendKind::Literal8 | AppendKind::Utf8 => true,
        AppendKind::Catenate(parts) => parts.iter().any(|p| matches!(p, CatPart::Text8(_))),
    };
    let raw = match binary.then(|| encode_binary_parts(&data)).flatten() {
        Some(encoded) => Cow::Owned(encoded),
        None => data,
    };
    let stored = u64::try_from(raw.len()).unwrap_or(u64::MAX);
    if stored > limit {
        // Base64 grows a binary part by a third: the limit holds for what
        // is stored, so it is checked again.
        return Err(Reply::no(
            Some(ResponseCode::TooBig),
            format!(
                "Message of {stored} bytes once base64-encoded exceeds the limit of {limit} bytes"
            ),
        ));
    }
    Ok(Ready {
        raw,
        flags,
        internal,
    })
}

pub(crate) fn append_error(e: MailboxError) -> Reply {
    match e {
        MailboxError::TooManyKeywords => Reply::no(
            Some(ResponseCode::Limit),
            "Too many distinct keywords in this mailbox",
        ),
        MailboxError::UidsExhausted => Reply::no(
            Some(ResponseCode::Limit),
            "This mailbox has run out of UIDs",
        ),
        other => Reply::server_bug("appending a message", &other),
    }
}

/// `APPEND` with one or more messages.
pub(crate) fn append(
    ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    name: &MailboxArg,
    messages: &[AppendMessage],
) -> Reply {
    let name = match mailbox_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let target = |r: Reply| match r.code {
        Some(ResponseCode::Nonexistent) => {
            Reply::no(Some(ResponseCode::TryCreate), "No such mailbox")
        }
        _ => r,
    };
    // The destination first: a missing one is TRYCREATE whatever the
    // messages are (imaptest `catenate`, Dovecot), so a client creates
    // it and retries rather than fixing a message that was fine.
    if let Err(r) = ctx.append_target(&name) {
        return target(r);
    }
    // MULTIAPPEND is all or nothing: every message is checked (and every
    // CATENATE built) before the first one is stored.
    let ready = match prepare(ctx, messages) {
        Ok(r) => r,
        Err(r) => return r,
    };
    // The handle kept open above (CATENATE may have read other mailboxes
    // in between; this lookup is a stat of the account log).
    let mb = match ctx.append_target(&name) {
        Ok(mb) => mb,
        Err(r) => return target(r),
    };
    // One batch: the store commits all messages with one record, so a
    // MULTIAPPEND is atomic (RFC 3502) even across a crash.
    let batch: Vec<NewMessage<'_>> = ready.iter().map(Ready::as_new).collect();
    let uids: Vec<Uid> = match mb.append_many(&batch) {
        Ok(u) => u,
        Err(e) => return append_error(e),
    };
    let uid_validity = mb.uid_validity();
    match wire_uid_set(uids.iter().copied()) {
        Some(set) => Reply::ok_code(
            ResponseCode::AppendUid {
                uid_validity,
                uids: set,
            },
            "APPEND completed",
        ),
        None => Reply::ok("APPEND completed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::response::Status;

    fn msg(flags: Vec<WireFlag>, len: usize) -> AppendMessage {
        AppendMessage {
            flags,
            internal_date: None,
            kind: AppendKind::Literal,
            data: vec![b'x'; len],
        }
    }

    #[test]
    fn recent_is_dropped_and_keywords_deduplicated() {
        let m = msg(
            vec![
                WireFlag::Recent,
                WireFlag::Seen,
                WireFlag::Keyword("$Work".into()),
                WireFlag::Keyword("$WORK".into()),
                WireFlag::Seen,
            ],
            3,
        );
        let r = validate(&m, None, 10, false).map_err(|r| r.text).unwrap();
        assert_eq!(r.flags, [Flag::Seen, Flag::Keyword("$Work".into())]);
        assert_eq!(&*r.raw, b"xxx");
    }

    #[test]
    fn unknown_system_flag_is_bad_and_size_is_checked() {
        let odd = msg(vec![WireFlag::Extension("Foo".into())], 1);
        let bad = validate(&odd, None, 10, false);
        assert!(matches!(bad, Err(ref r) if r.status == Status::Bad && r.text.contains("\\Foo")));
        let large = msg(vec![], 11);
        let big = validate(&large, None, 10, false);
        assert!(matches!(big, Err(ref r) if r.code == Some(ResponseCode::TooBig)));
        assert!(validate(&msg(vec![], 10), None, 10, false).is_ok());
        assert!(validate(&msg(vec![], 0), None, 10, false).is_ok());
    }

    #[test]
    fn the_limit_holds_for_the_base64_encoded_form() {
        let data = b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"
            .to_vec();
        let m = AppendMessage {
            flags: Vec::new(),
            internal_date: None,
            kind: AppendKind::Literal8,
            data: data.clone(),
        };
        let limit = data.len() as u64;
        let r = validate(&m, None, limit, false);
        assert!(matches!(r, Err(ref r) if r.code == Some(ResponseCode::TooBig)));
        let ok = validate(&m, None, limit + 64, false)
            .map_err(|r| r.text)
            .unwrap();
        assert!(ok.raw.ends_with(b"AAAAAAAAAAAA\r\n"), "{:?}", ok.raw);
    }
}
