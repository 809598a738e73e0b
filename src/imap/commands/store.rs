//! `[UID] STORE`: flag and keyword changes (with CONDSTORE's UNCHANGEDSINCE),
//! as one store call and one log record whatever the number of messages.
//! Never writes unsolicited FETCH for other sessions' changes: the refresh
//! after each command does.

use crate::imap::commands::selected::{
    announce_new_flags, mailbox_error, read_only_no, write_fetch, write_highest_modseq, FetchItems,
};
use crate::imap::context::{
    modseq, resolve, selected, store_flag, wire_seq_set, wire_uid_set, Ctx, Reply,
};
use crate::imap::wire::command::{StoreCommand, StoreMode, WireFlag};
use crate::imap::wire::response::ResponseCode;
use crate::store::mailbox::StoreOutcome;
use crate::store::types::{Flag, FlagOp, SeqNum};

/// Converts STORE's wire flags into store flags: `\Recent` is ignored
/// (only the server sets it), unknown system flags and unusable keywords
/// are a `BAD`.
fn storable_flags(flags: &[WireFlag]) -> Result<Vec<Flag>, Reply> {
    let mut out = Vec::with_capacity(flags.len());
    for f in flags {
        match f {
            WireFlag::Recent => {}
            WireFlag::Extension(e) => {
                return Err(Reply::bad(format!("\\{e} is not a flag this server knows")))
            }
            other => match store_flag(other) {
                Some(sf) => out.push(sf),
                None => return Err(Reply::bad("Invalid keyword")),
            },
        }
    }
    Ok(out)
}

/// `[UID] STORE`. One store call whatever the number of messages, so the
/// change is one log record and one fsync.
pub(crate) fn store(ctx: &mut Ctx, out: &mut Vec<u8>, cmd: &StoreCommand) -> Reply {
    if cmd.unchanged_since.is_some() && !ctx.enabled.condstore {
        // RFC 7162 §3.1: UNCHANGEDSINCE is a CONDSTORE-enabling command.
        ctx.enabled.condstore = true;
        if let Some(sel) = &ctx.selected {
            write_highest_modseq(out, &sel.mailbox);
        }
    }
    let enabled = ctx.enabled;
    let sel = match selected(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if sel.read_only {
        return read_only_no();
    }
    let flags = match storable_flags(&cmd.flags) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let uids = match resolve(sel, &cmd.set, cmd.uid) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let op = match cmd.mode {
        StoreMode::Replace => FlagOp::Replace,
        StoreMode::Add => FlagOp::Add,
        StoreMode::Remove => FlagOp::Remove,
    };
    let outcome = match cmd.unchanged_since.map(modseq) {
        // UNCHANGEDSINCE 0: every message has a modseq above it.
        Some(None) => StoreOutcome {
            failed_modified: uids.clone(),
            ..StoreOutcome::default()
        },
        since => match sel.mailbox.store_flags(&uids, op, &flags, since.flatten()) {
            Ok(o) => o,
            Err(e) => return mailbox_error("storing flags", &e),
        },
    };
    announce_new_flags(sel, out);
    let mb = &sel.mailbox;
    // RFC 7162 §3.1: once CONDSTORE is on, every FETCH a STORE causes
    // carries UID and MODSEQ.
    let with_uid = cmd.uid || enabled.condstore || enabled.rev2;
    if !cmd.silent {
        let items = FetchItems {
            flags: true,
            uid: with_uid,
            modseq: enabled.condstore,
        };
        for uid in uids.iter().filter(|u| !outcome.failed_modified.contains(u)) {
            if let Some(seq) = mb.seq_of(*uid) {
                write_fetch(out, mb, seq, *uid, items, enabled);
            }
        }
    } else if enabled.condstore {
        // RFC 7162 §3.1.3: the new modseq is reported even with .SILENT.
        let items = FetchItems {
            flags: false,
            uid: with_uid,
            modseq: true,
        };
        for uid in &outcome.changed {
            if let Some(seq) = mb.seq_of(*uid) {
                write_fetch(out, mb, seq, *uid, items, enabled);
            }
        }
    }
    if outcome.failed_modified.is_empty() {
        return Reply::ok("STORE completed");
    }
    let modified = if cmd.uid {
        wire_uid_set(outcome.failed_modified.iter().copied())
    } else {
        let mut seqs: Vec<SeqNum> = outcome
            .failed_modified
            .iter()
            .filter_map(|u| mb.seq_of(*u))
            .collect();
        seqs.sort_unstable();
        wire_seq_set(seqs)
    };
    match modified {
        Some(set) => Reply::ok_code(
            ResponseCode::Modified(set),
            "Some messages were modified since",
        ),
        None => Reply::ok("STORE completed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::response::Status;

    #[test]
    fn unknown_system_flags_are_refused_and_recent_ignored() {
        let ok = storable_flags(&[
            WireFlag::Seen,
            WireFlag::Recent,
            WireFlag::Keyword("$A".into()),
        ])
        .unwrap();
        assert_eq!(ok, vec![Flag::Seen, Flag::Keyword("$A".into())]);
        let bad = storable_flags(&[WireFlag::Extension("Bogus".into())]).unwrap_err();
        assert_eq!(bad.status, Status::Bad);
    }
}
