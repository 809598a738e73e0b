//! APPEND (RFC 3501 §6.3.11, RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502),
//! APPENDUID (RFC 4315), APPENDLIMIT (RFC 7889), `~{n}` literals (RFC 3516)
//! and the `UTF8 (~{n})` form (RFC 6855).
//!
//! Messages are stored exactly as received (NULs, bare LFs, 8-bit headers
//! included): the store owns their encryption and summaries, this module
//! only validates the command and keeps MULTIAPPEND all-or-nothing.

use super::status::append_limit;
use crate::imap::context::{mailbox_name, store_flag, wire_uid_set, Ctx, Reply};
use crate::imap::wire::command::{AppendMessage, MailboxArg, WireFlag};
use crate::imap::wire::response::ResponseCode;
use crate::store::mailbox::{MailboxError, NewMessage};
use crate::store::types::{Flag, InternalDate, Uid};

/// One message checked and ready to store.
struct Ready<'a> {
    raw: &'a [u8],
    flags: Vec<Flag>,
    internal: InternalDate,
}

/// Checks one message against the limits and flag rules; `Err` is the
/// tagged answer for the whole command.
fn validate<'a>(m: &'a AppendMessage, limit: u64) -> Result<Ready<'a>, Reply> {
    let len = u64::try_from(m.data.len()).unwrap_or(u64::MAX);
    if len > limit {
        return Err(Reply::no(
            Some(ResponseCode::TooBig),
            format!("Message of {len} bytes exceeds the limit of {limit} bytes"),
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
    Ok(Ready {
        raw: &m.data,
        flags,
        internal,
    })
}

fn append_error(e: MailboxError) -> Reply {
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
    let limit = append_limit(ctx);
    // MULTIAPPEND is all or nothing: every message is checked before the
    // first one is stored.
    let ready = match messages
        .iter()
        .map(|m| validate(m, limit))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut mb = match ctx.open_mailbox(&name) {
        Ok(mb) => mb,
        Err(r) if r.code == Some(ResponseCode::Nonexistent) => {
            return Reply::no(Some(ResponseCode::TryCreate), "No such mailbox")
        }
        Err(r) => return r,
    };
    // One batch: the store commits all messages with one record, so a
    // MULTIAPPEND is atomic (RFC 3502) even across a crash.
    let batch: Vec<NewMessage<'_>> = ready
        .iter()
        .map(|m| NewMessage {
            raw: m.raw,
            flags: &m.flags,
            internal: m.internal,
        })
        .collect();
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
    use crate::imap::wire::command::AppendKind;
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
        let r = validate(&m, 10).map_err(|r| r.text).unwrap();
        assert_eq!(r.flags, [Flag::Seen, Flag::Keyword("$Work".into())]);
        assert_eq!(r.raw, b"xxx");
    }

    #[test]
    fn unknown_system_flag_is_bad_and_size_is_checked() {
        let odd = msg(vec![WireFlag::Extension("Foo".into())], 1);
        let bad = validate(&odd, 10);
        assert!(matches!(bad, Err(ref r) if r.status == Status::Bad && r.text.contains("\\Foo")));
        let large = msg(vec![], 11);
        let big = validate(&large, 10);
        assert!(matches!(big, Err(ref r) if r.code == Some(ResponseCode::TooBig)));
        assert!(validate(&msg(vec![], 10), 10).is_ok());
        assert!(validate(&msg(vec![], 0), 10).is_ok());
    }
}
