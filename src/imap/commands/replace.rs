//! `[UID] REPLACE` (RFC 8508): a new message (a literal or CATENATE parts)
//! appended to a mailbox and a message of the selected mailbox expunged,
//! as one store change when the two mailboxes are the same
//! (`Mailbox::replace`), and with the old message checked under its
//! mailbox's lock otherwise (`Mailbox::replace_into`).
//!
//! Answers as RFC 8508 §3.3 shows: `* OK [APPENDUID v uid]` first, then the
//! refresh after the command reports the EXISTS and the EXPUNGE (VANISHED
//! under QRESYNC). Nothing changes when the command fails: the message is
//! checked (and built) before the store is touched, and a message another
//! session expunged meanwhile is `NO [EXPUNGEISSUED]` with nothing
//! appended. Decisions: `doc/imap-append.md`.

use crate::imap::commands::copy::destination;
use crate::imap::commands::mailboxes::{append_error, prepare};
use crate::imap::commands::selected::{read_only_no, untagged_ok};
use crate::imap::context::{resolve, selected, wire_uid_set, Ctx, Reply};
use crate::imap::wire::command::{AppendMessage, MailboxArg, SeqBound, SeqRange, SeqSet};
use crate::imap::wire::response::ResponseCode;
use crate::store::mailbox::{Mailbox, MailboxError};

/// `[UID] REPLACE target mailbox message`.
pub(crate) fn replace(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    uid: bool,
    target: SeqBound,
    mailbox: &MailboxArg,
    message: &AppendMessage,
) -> Reply {
    match ctx.selected.as_ref() {
        None => return Reply::bad("No mailbox selected"),
        Some(sel) if sel.read_only => return read_only_no(),
        Some(_) => {}
    }
    // RFC 8508 §3.1: as APPEND, a missing destination is TRYCREATE, and
    // the old message stays.
    let info = match destination(ctx, mailbox) {
        Ok(i) => i,
        Err(r) => return r,
    };
    // Checked (and a CATENATE built) before anything changes; after the
    // destination, as APPEND does.
    let ready = match prepare(ctx, std::slice::from_ref(message)) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(msg) = ready.first().map(|r| r.as_new()) else {
        return Reply::bad("REPLACE needs a message");
    };
    let keys = ctx.keys.clone();
    let dir = ctx.dir().clone();
    let sel = match selected(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let set = SeqSet::Ranges(vec![SeqRange::Single(target)]);
    let old = match resolve(sel, &set, uid) {
        Ok(u) => match u.first() {
            Some(&old) => old,
            None => return Reply::no(None, "No such message to replace"),
        },
        Err(r) => return r,
    };
    let result = if sel.mailbox.id() == info.id {
        if sel.mailbox.integrity_problem().is_some() {
            return read_only_no();
        }
        sel.mailbox.replace(old, msg)
    } else {
        let mut dest = match Mailbox::open(keys, &dir, &info.id, info.uid_validity) {
            Ok(m) => m,
            Err(e) => return Reply::server_bug("opening the destination", &e),
        };
        if dest.integrity_problem().is_some() || sel.mailbox.integrity_problem().is_some() {
            return read_only_no();
        }
        sel.mailbox.replace_into(old, &mut dest, msg)
    };
    let new = match result {
        Ok(new) => new,
        Err(MailboxError::AlreadyExpunged(_)) => {
            return Reply::no(
                Some(ResponseCode::ExpungeIssued),
                "The message to replace has been expunged; nothing was appended",
            )
        }
        Err(e) => return append_error(e),
    };
    if let Some(uids) = wire_uid_set([new]) {
        untagged_ok(
            out,
            ResponseCode::AppendUid {
                uid_validity: info.uid_validity,
                uids,
            },
            "Replacement Message ready",
        );
    }
    Reply::ok("REPLACE completed")
}
