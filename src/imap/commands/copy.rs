//! `[UID] COPY` and `[UID] MOVE` (RFC 6851), with UIDPLUS' COPYUID.
//! Never reports the expunges of a MOVE itself: the refresh after each
//! command does, after the untagged COPYUID.

use crate::imap::commands::selected::{mailbox_error, read_only_no, untagged_ok};
use crate::imap::context::{mailbox_name, resolve, selected, wire_uid_set, Ctx, Reply};
use crate::imap::wire::command::{MailboxArg, SeqSet};
use crate::imap::wire::response::ResponseCode;
use crate::store::account::MailboxInfo;
use crate::store::mailbox::Mailbox;

/// The mailbox a COPY, MOVE or REPLACE writes to, from the account as it
/// is now; a missing one is `NO [TRYCREATE]` (RFC 9051 §6.4.7, RFC 8508
/// §3.1), answered before any message is looked at.
pub(crate) fn destination(ctx: &mut Ctx, dest: &MailboxArg) -> Result<MailboxInfo, Reply> {
    let name = mailbox_name(dest)?;
    if let Err(e) = ctx.account.refresh() {
        return Err(Reply::server_bug("reading the account", &e));
    }
    ctx.account.state().mailbox(&name).cloned().ok_or_else(|| {
        Reply::no(
            Some(ResponseCode::TryCreate),
            "The destination mailbox does not exist",
        )
    })
}

/// `[UID] COPY` (`is_move` false) and `[UID] MOVE`.
pub(crate) fn copy(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    uid: bool,
    set: &SeqSet,
    dest: &MailboxArg,
    is_move: bool,
) -> Reply {
    let verb = if is_move { "MOVE" } else { "COPY" };
    if ctx.selected.is_none() {
        return Reply::bad("No mailbox selected");
    }
    let info = match destination(ctx, dest) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let keys = ctx.keys.clone();
    let dir = ctx.dir().clone();
    let sel = match selected(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if is_move && sel.read_only {
        return read_only_no();
    }
    let uids = match resolve(sel, set, uid) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if uids.is_empty() {
        return Reply::ok(format!("{verb} completed: no messages"));
    }
    // Compared as values: the store hands the selected mailbox's id out as
    // text only, so it is parsed back rather than compared as a string.
    let same_mailbox = sel.mailbox.id() == info.id;
    let result = if is_move && same_mailbox {
        // Dovecot: new UIDs, old ones expunged (reported by the refresh).
        sel.mailbox.move_within(&uids)
    } else {
        // A second handle even for a same-mailbox COPY: the selected
        // handle's view must change only at a refresh.
        let mut target = match Mailbox::open(keys, &dir, &info.id, info.uid_validity) {
            Ok(m) => m,
            Err(e) => return Reply::server_bug("opening the destination", &e),
        };
        if is_move {
            sel.mailbox.move_to(&uids, &mut target)
        } else {
            sel.mailbox.copy_to(&uids, &mut target)
        }
    };
    let map = match result {
        Ok(m) => m,
        Err(e) => return mailbox_error(if is_move { "moving" } else { "copying" }, &e),
    };
    let code = match (
        wire_uid_set(map.iter().map(|(s, _)| *s)),
        wire_uid_set(map.iter().map(|(_, d)| *d)),
    ) {
        (Some(source), Some(dest)) => Some(ResponseCode::CopyUid {
            uid_validity: info.uid_validity,
            source,
            dest,
        }),
        _ => None,
    };
    match (is_move, code) {
        (true, Some(code)) => {
            // RFC 6851 §4.3: COPYUID goes in an untagged OK before the
            // expunges, which the post-command refresh writes.
            untagged_ok(out, code, "Moved");
            Reply::ok("MOVE completed")
        }
        (false, Some(code)) => Reply::ok_code(code, "COPY completed"),
        (_, None) => Reply::ok(format!("{verb} completed")),
    }
}
