//! STATUS (RFC 3501/9051, with SIZE of RFC 8438, HIGHESTMODSEQ of RFC 7162,
//! APPENDLIMIT of RFC 7889 and MAILBOXID of RFC 8474), also used by
//! LIST-STATUS. Works from a fresh handle on the mailbox's change log and
//! message metadata: it never decrypts a message and never claims \Recent.

use crate::imap::commands::selected::write_highest_modseq;
use crate::imap::context::{mailbox_name, Ctx, Reply};
use crate::imap::wire::command::{MailboxArg, StatusItem};
use crate::imap::wire::response::{EncodedMailbox, Response, StatusValue};
use crate::store::account::MailboxName;
use crate::store::mailbox::{Mailbox, MAX_MESSAGE_SIZE};
use crate::store::types::Flag;

/// `STATUS`.
pub(crate) fn status(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    name: &MailboxArg,
    items: &[StatusItem],
) -> Reply {
    let name = match mailbox_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if items.contains(&StatusItem::HighestModSeq) && !ctx.enabled.condstore {
        // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE-enabling
        // command; with a mailbox selected the client learns its
        // HIGHESTMODSEQ at once.
        ctx.enabled.condstore = true;
        if let Some(sel) = &ctx.selected {
            write_highest_modseq(out, &sel.mailbox);
        }
    }
    match status_response(ctx, &name, items) {
        Ok(r) => {
            r.encode(out);
            Reply::ok("STATUS completed")
        }
        Err(r) => r,
    }
}

/// The largest message APPEND accepts: the configured limit, never above
/// what the store can hold.
pub(super) fn append_limit(ctx: &Ctx) -> u64 {
    u64::try_from(ctx.limits.max_message_size)
        .unwrap_or(u64::MAX)
        .min(MAX_MESSAGE_SIZE)
}

/// Counts over every message, gathered in one pass and only when an item
/// needs them.
#[derive(Default)]
struct Counts {
    unseen: u32,
    deleted: u32,
    size: u64,
}

fn counts(mb: &Mailbox) -> Counts {
    let mut c = Counts::default();
    for uid in mb.uids() {
        let Some(info) = mb.info(uid) else { continue };
        if !info.flags.contains(&Flag::Seen) {
            c.unseen += 1;
        }
        if info.flags.contains(&Flag::Deleted) {
            c.deleted += 1;
        }
        c.size += u64::from(info.size);
    }
    c
}

/// `* STATUS name (items)` for mailbox `name`, or the tagged answer
/// explaining why not (`NO [NONEXISTENT]`, server bug).
pub(super) fn status_response(
    ctx: &mut Ctx,
    name: &MailboxName,
    items: &[StatusItem],
) -> Result<Response<'static>, Reply> {
    let mb = ctx.open_mailbox(name)?;
    let needs_counts = items.iter().any(|i| {
        matches!(
            i,
            StatusItem::Unseen | StatusItem::Deleted | StatusItem::Size
        )
    });
    let c = if needs_counts {
        counts(&mb)
    } else {
        Counts::default()
    };
    // This session's own \Recent claims are invisible to a fresh handle;
    // add them when the mailbox is the selected one.
    let own_recent = match &ctx.selected {
        // A read-only selection's \Recent messages are unclaimed ones,
        // already counted.
        Some(sel) if sel.mailbox.id() == mb.id() && !sel.read_only => sel.mailbox.recent_count(),
        _ => 0,
    };
    let values = items
        .iter()
        .map(|item| match item {
            StatusItem::Messages => StatusValue::Messages(mb.exists()),
            StatusItem::Recent => {
                StatusValue::Recent(mb.unclaimed_recent_count().saturating_add(own_recent))
            }
            StatusItem::UidNext => StatusValue::UidNext(mb.uidnext()),
            StatusItem::UidValidity => StatusValue::UidValidity(mb.uid_validity().get()),
            StatusItem::Unseen => StatusValue::Unseen(c.unseen),
            StatusItem::Deleted => StatusValue::Deleted(c.deleted),
            StatusItem::Size => StatusValue::Size(c.size),
            StatusItem::HighestModSeq => StatusValue::HighestModSeq(mb.highest_modseq().get()),
            StatusItem::AppendLimit => StatusValue::AppendLimit(append_limit(ctx)),
            StatusItem::MailboxId => StatusValue::MailboxId(mb.id().to_string()),
        })
        .collect();
    Ok(Response::MailboxStatus {
        mailbox: EncodedMailbox::new(name.as_str(), ctx.enabled.utf8_accept),
        items: values,
    })
}
