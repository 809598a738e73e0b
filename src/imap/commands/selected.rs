//! The selected state: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, UID
//! EXPUNGE, XVANQUISH, and
//! the unsolicited responses (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS, RECENT)
//! at the points RFC 3501/9051 allow them, including filing the delivery
//! spool. Never parses message content and never touches store files
//! except through `store` calls.

use std::fs;
use std::path::PathBuf;

use crate::imap::context::Selected;
use crate::imap::context::{mailbox_name, resolve, selected, wire_flag, Ctx, Enabled, Reply};
use crate::imap::wire::command::{
    self, Flag as WireFlag, MailboxName, QResyncParams, SelectParams, SeqNum as WireSeq, SeqRange,
    SeqSet,
};
use crate::imap::wire::response::{
    self, status_line, write_flag_list, write_flag_perm_list, write_seq_set, ResponseCode, Status,
};
use crate::store::mailbox::{Changes, Mailbox, MailboxError};
use crate::store::spool;
use crate::store::types::{Flag as StoreFlag, Modseq, Uid};

/// Capabilities this module implements end to end.
pub const CAPABILITIES: &[&str] = &[
    "IDLE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CONDSTORE",
    "QRESYNC",
    "UTF8=ACCEPT",
];

/// Runs once after login: files deliveries that arrived while the user was
/// offline, so they are in their mailboxes before the first command.
pub fn after_login(ctx: &mut Ctx) {
    file_spool(ctx);
}

/// Files pending spool entries. Listing the directory first keeps the
/// common case (nothing delivered) to one `getdents`.
fn file_spool(ctx: &mut Ctx) {
    let dir = ctx.dir().clone();
    let spool_dir = dir.join("spool");
    let has_entries = match fs::read_dir(&spool_dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) => {
            log::warn!("listing {}: {e}", spool_dir.display());
            false
        }
    };
    if !has_entries {
        return;
    }
    match spool::file_pending(&dir, &ctx.keys, &mut ctx.account) {
        Ok((filed, failed)) => {
            if !filed.is_empty() {
                log::info!("filed {} delivered message(s)", filed.len());
            }
            if !failed.is_empty() {
                log::error!("{} spool entries could not be filed", failed.len());
            }
        }
        Err(e) => log::error!("filing the spool: {e}"),
    }
}

/// The directories whose changes IDLE must notice: the spool and, with a
/// mailbox selected, its directory and change-log directory.
pub fn watch_dirs(ctx: &Ctx) -> Vec<PathBuf> {
    let mut dirs = vec![ctx.dir().join("spool")];
    if let Some(sel) = &ctx.selected {
        let mb = ctx.dir().join("mailboxes").join(sel.mailbox.id());
        dirs.push(mb.join("log"));
        dirs.push(mb);
    }
    dirs
}

/// Brings the selected mailbox up to date and writes the untagged responses
/// that report it. `expunge_allowed` is false during FETCH, STORE and
/// SEARCH by sequence number (RFC 3501 §7.4.1); then nothing is reported,
/// because the store makes flag changes, expunges and new messages visible
/// together.
pub fn refresh(ctx: &mut Ctx, out: &mut Vec<u8>, expunge_allowed: bool) {
    file_spool(ctx);
    if !expunge_allowed {
        return;
    }
    let enabled = ctx.enabled;
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    match sel.mailbox.refresh() {
        Ok(changes) => report(sel, enabled, out, &changes),
        Err(e) => {
            log::error!("refreshing the mailbox: {e}");
            out.extend(status_line(
                None,
                Status::No,
                Some(&ResponseCode::ServerBug),
                "Cannot read mailbox changes; see the server log",
            ));
        }
    }
}

/// Writes what a refresh found, claiming \Recent for new messages in a
/// read-write selection.
fn report(sel: &mut Selected, enabled: Enabled, out: &mut Vec<u8>, changes: &Changes) {
    announce_new_flags(sel, out);
    let items = FetchItems {
        flags: true,
        uid: enabled.qresync || enabled.rev2,
        modseq: enabled.condstore,
    };
    for (seq, uid) in &changes.flags_changed {
        write_fetch(out, &sel.mailbox, seq.get(), *uid, items, enabled.rev2);
    }
    if !changes.expunged.is_empty() {
        if enabled.qresync {
            let mut uids: Vec<u32> = changes.expunged.iter().map(|(_, u)| u.get()).collect();
            uids.sort_unstable();
            write_vanished(out, &uids, false);
        } else {
            for (seq, _) in &changes.expunged {
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", seq.get()).as_bytes());
            }
        }
    }
    if !changes.new_uids.is_empty() {
        if !sel.read_only {
            if let Err(e) = sel.mailbox.claim_recent() {
                log::error!("claiming \\Recent: {e}");
            }
        }
        out.extend_from_slice(format!("* {} EXISTS\r\n", changes.exists).as_bytes());
        if !enabled.rev2 {
            out.extend_from_slice(
                format!(
                    "* {} RECENT\r\n",
                    visible_recent(&sel.mailbox, sel.read_only)
                )
                .as_bytes(),
            );
        }
    }
}

/// The RECENT count. A read-only selection claims nothing, so, like
/// Dovecot's EXAMINE, it reports the messages no session has claimed yet
/// (imaptest `select`), without taking them from a later SELECT.
fn visible_recent(mb: &Mailbox, read_only: bool) -> u32 {
    if read_only {
        mb.recent_count()
            .saturating_add(mb.unclaimed_recent_count())
    } else {
        mb.recent_count()
    }
}

/// Which data items an unsolicited or STORE-caused FETCH carries.
#[derive(Clone, Copy)]
pub(crate) struct FetchItems {
    pub(crate) flags: bool,
    pub(crate) uid: bool,
    pub(crate) modseq: bool,
}

/// `* seq FETCH (...)` for a message the client knows; nothing if it has
/// gone from the session's view.
pub(crate) fn write_fetch(
    out: &mut Vec<u8>,
    mb: &Mailbox,
    seq: u32,
    uid: Uid,
    items: FetchItems,
    rev2: bool,
) {
    let Some(info) = mb.info(uid) else {
        return;
    };
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    if items.uid {
        sep(out);
        out.extend_from_slice(format!("UID {}", uid.get()).as_bytes());
    }
    if items.flags {
        sep(out);
        out.extend_from_slice(b"FLAGS ");
        let mut flags: Vec<WireFlag> = info.flags.iter().map(wire_flag).collect();
        if info.recent && !rev2 {
            flags.push(WireFlag::Recent);
        }
        write_flag_list(out, &flags);
    }
    if items.modseq {
        sep(out);
        out.extend_from_slice(format!("MODSEQ ({})", info.modseq.get()).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

/// `* VANISHED [(EARLIER)] uids`; `uids` ascending.
fn write_vanished(out: &mut Vec<u8>, uids: &[u32], earlier: bool) {
    let Some(set) = SeqSet::from_numbers(uids.iter().copied()) else {
        return;
    };
    out.extend_from_slice(b"* VANISHED ");
    if earlier {
        out.extend_from_slice(b"(EARLIER) ");
    }
    write_seq_set(out, &set);
    out.extend_from_slice(b"\r\n");
}

/// Whether `uid` is in a client-supplied UID set (`*` is the largest UID).
fn uid_set_contains(set: &SeqSet, uid: u32, max: u32) -> bool {
    let ranges = match set {
        SeqSet::Saved => return true,
        SeqSet::Ranges(r) => r,
    };
    let value = |n: &WireSeq| match n {
        WireSeq::Value(v) => v.get(),
        WireSeq::Star => max,
    };
    ranges.iter().any(|r| {
        let (a, b) = match r {
            SeqRange::Single(n) => (value(n), value(n)),
            SeqRange::Range(a, b) => (value(a), value(b)),
        };
        (a.min(b)..=a.max(b)).contains(&uid)
    })
}

/// The flags every mailbox offers: the system flags plus its keywords.
fn mailbox_flags(mb: &Mailbox) -> Vec<WireFlag> {
    let mut flags: Vec<WireFlag> = StoreFlag::SYSTEM.iter().map(wire_flag).collect();
    for f in mb.defined_flags() {
        if matches!(f, StoreFlag::Keyword(_)) {
            flags.push(wire_flag(f));
        }
    }
    flags
}

/// `* OK [HIGHESTMODSEQ n]`: RFC 7162 §3.1 wants it when a command
/// enables CONDSTORE while a mailbox is selected (Dovecot sends it even
/// though SELECT already did; imaptest `esearch-condstore` expects it).
pub fn write_highest_modseq(out: &mut Vec<u8>, mb: &Mailbox) {
    untagged_ok(
        out,
        ResponseCode::HighestModSeq(command::ModSeq(mb.highest_modseq().get())),
        "Highest",
    );
}

/// Sends `* FLAGS` (and `PERMANENTFLAGS` when writable) when the mailbox
/// has keywords the client has not been told of, so no FETCH names a flag
/// missing from the last FLAGS response (RFC 3501 §7.2.6; imaptest checks).
pub fn announce_new_flags(sel: &mut Selected, out: &mut Vec<u8>) {
    let known = sel.mailbox.defined_flags().len();
    if known == sel.announced_flags {
        return;
    }
    sel.announced_flags = known;
    write_flags(out, &sel.mailbox, sel.read_only);
}

/// `* FLAGS` and `* OK [PERMANENTFLAGS]` as SELECT sends them.
fn write_flags(out: &mut Vec<u8>, mb: &Mailbox, read_only: bool) {
    let flags = mailbox_flags(mb);
    out.extend_from_slice(b"* FLAGS ");
    write_flag_list(out, &flags);
    out.extend_from_slice(b"\r\n");
    let perm: Vec<command::FlagPerm> = if read_only {
        Vec::new()
    } else {
        flags
            .into_iter()
            .map(command::FlagPerm::Flag)
            .chain([command::FlagPerm::Any])
            .collect()
    };
    out.extend_from_slice(b"* OK [PERMANENTFLAGS ");
    write_flag_perm_list(out, &perm);
    out.extend_from_slice(if read_only {
        b"] Read-only mailbox\r\n".as_slice()
    } else {
        b"] Flags permitted\r\n".as_slice()
    });
}

pub(crate) fn untagged_ok(out: &mut Vec<u8>, code: ResponseCode, text: &str) {
    out.extend(status_line(None, Status::Ok, Some(&code), text));
}

/// `SELECT` (`read_only` false) and `EXAMINE` (true).
pub fn select(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    name: &MailboxName,
    params: &SelectParams,
    read_only: bool,
) -> Reply {
    if params.qresync.is_some() && !ctx.enabled.qresync {
        return Reply::bad("QRESYNC must be enabled before SELECT (QRESYNC ...)");
    }
    // RFC 3501 §6.3.1: the old mailbox is deselected even if this fails.
    if ctx.selected.take().is_some() {
        untagged_ok(out, ResponseCode::Closed, "Previous mailbox closed");
    }
    if params.condstore {
        ctx.enabled.condstore = true;
    }
    let store_name = match mailbox_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut mailbox = match ctx.open_mailbox(&store_name) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if !read_only {
        if let Err(e) = mailbox.claim_recent() {
            return Reply::server_bug("claiming \\Recent", &e);
        }
    }
    let enabled = ctx.enabled;
    write_flags(out, &mailbox, read_only);
    out.extend_from_slice(format!("* {} EXISTS\r\n", mailbox.exists()).as_bytes());
    if !enabled.rev2 {
        out.extend_from_slice(
            format!("* {} RECENT\r\n", visible_recent(&mailbox, read_only)).as_bytes(),
        );
        let first_unseen = mailbox.uids().position(|u| {
            mailbox
                .info(u)
                .is_some_and(|i| !i.flags.contains(&StoreFlag::Seen))
        });
        if let Some(i) = first_unseen.and_then(|i| u32::try_from(i + 1).ok()) {
            untagged_ok(out, ResponseCode::Unseen(i), "First unseen");
        }
    }
    untagged_ok(
        out,
        ResponseCode::UidValidity(mailbox.uid_validity().get()),
        "UIDs valid",
    );
    untagged_ok(
        out,
        ResponseCode::UidNext(mailbox.uidnext().get()),
        "Predicted next UID",
    );
    untagged_ok(
        out,
        ResponseCode::HighestModSeq(command::ModSeq(mailbox.highest_modseq().get())),
        "Highest",
    );
    untagged_ok(
        out,
        ResponseCode::MailboxId(mailbox.id().to_owned()),
        "Mailbox id",
    );
    if enabled.rev2 {
        write_list_line(ctx, out, &store_name, enabled.utf8_accept);
    }
    if let Some(q) = &params.qresync {
        resync(out, &mailbox, q, enabled);
    }
    ctx.selected = Some(Selected {
        name: store_name,
        announced_flags: mailbox.defined_flags().len(),
        mailbox,
        read_only,
        saved: Vec::new(),
    });
    if read_only {
        Reply::ok_code(ResponseCode::ReadOnly, "EXAMINE completed")
    } else {
        Reply::ok_code(ResponseCode::ReadWrite, "SELECT completed")
    }
}

/// The `* LIST` line RFC 9051 §6.3.2 asks SELECT to send.
fn write_list_line(
    ctx: &Ctx,
    out: &mut Vec<u8>,
    name: &crate::store::account::MailboxName,
    utf8: bool,
) {
    let account = ctx.account.state();
    let mut attrs: Vec<&str> = vec![if account.has_children(name) {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    }];
    if let Some(info) = account.mailbox(name) {
        attrs.extend(info.special_use.iter().map(|s| s.as_imap()));
    }
    out.extend_from_slice(format!("* LIST ({}) \"/\" ", attrs.join(" ")).as_bytes());
    response::write_mailbox(out, name.as_str(), utf8);
    out.extend_from_slice(b"\r\n");
}

/// RFC 7162 §3.2.5: what changed since the client's last known modseq,
/// when its UIDVALIDITY still holds.
fn resync(out: &mut Vec<u8>, mb: &Mailbox, q: &QResyncParams, enabled: Enabled) {
    if q.uid_validity.get() != mb.uid_validity().get() {
        return;
    }
    let Some(since) = Modseq::new(q.mod_seq.0) else {
        return;
    };
    let max = mb.uidnext().get().saturating_sub(1);
    let mut vanished: Vec<u32> = mb
        .vanished_since(since)
        .into_iter()
        .map(Uid::get)
        .filter(|u| {
            q.known_uids
                .as_ref()
                .map_or(true, |set| uid_set_contains(set, *u, max))
        })
        .collect();
    vanished.sort_unstable();
    vanished.dedup();
    write_vanished(out, &vanished, true);
    let items = FetchItems {
        flags: true,
        uid: true,
        modseq: true,
    };
    for (i, uid) in mb.uids().enumerate() {
        if mb.info(uid).is_some_and(|info| info.modseq > since) {
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            write_fetch(out, mb, seq, uid, items, enabled.rev2);
        }
    }
}

/// `CLOSE` (`expunge` true) and `UNSELECT` (false).
pub fn close(ctx: &mut Ctx, _out: &mut Vec<u8>, expunge: bool) -> Reply {
    let Some(mut sel) = ctx.selected.take() else {
        return Reply::bad("No mailbox selected");
    };
    if expunge && !sel.read_only {
        let deleted = deleted_uids(&sel.mailbox, sel.mailbox.uids().collect());
        if let Err(e) = sel.mailbox.expunge(&deleted) {
            return Reply::server_bug("expunging on CLOSE", &e);
        }
    }
    if expunge {
        Reply::ok("CLOSE completed")
    } else {
        Reply::ok("UNSELECT completed")
    }
}

/// The messages among `uids` that carry \Deleted and are not already gone.
fn deleted_uids(mb: &Mailbox, uids: Vec<Uid>) -> Vec<Uid> {
    uids.into_iter()
        .filter(|u| {
            mb.info(*u)
                .is_some_and(|i| !i.expunged && i.flags.contains(&StoreFlag::Deleted))
        })
        .collect()
}

pub(crate) fn read_only_no() -> Reply {
    Reply::no(None, "The mailbox is read-only")
}

/// `EXPUNGE` (`uids` None), `UID EXPUNGE` and `XVANQUISH` (`vanquish`: the
/// given UIDs go whether or not they are \Deleted). The expunges are
/// reported by the refresh that follows every command.
pub fn expunge(ctx: &mut Ctx, _out: &mut Vec<u8>, uids: Option<&SeqSet>, vanquish: bool) -> Reply {
    let sel = match selected(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if sel.read_only {
        return read_only_no();
    }
    let candidates = match uids {
        None => sel.mailbox.uids().collect(),
        Some(set) => match resolve(sel, set, true) {
            Ok(u) => u,
            Err(r) => return r,
        },
    };
    let doomed = if vanquish {
        candidates
    } else {
        deleted_uids(&sel.mailbox, candidates)
    };
    match sel.mailbox.expunge(&doomed) {
        Ok(_) => Reply::ok(if vanquish {
            "XVANQUISH completed"
        } else {
            "EXPUNGE completed"
        }),
        Err(e) => Reply::server_bug("expunging", &e),
    }
}

pub(crate) fn mailbox_error(what: &str, e: &MailboxError) -> Reply {
    match e {
        MailboxError::TooManyKeywords => Reply::no(Some(ResponseCode::Limit), e.to_string()),
        _ => Reply::server_bug(what, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn v(n: u32) -> WireSeq {
        WireSeq::Value(NonZeroU32::new(n).unwrap())
    }

    #[test]
    fn uid_sets_match_ranges_reversed_ranges_and_star() {
        let set = SeqSet::Ranges(vec![
            SeqRange::Single(v(2)),
            SeqRange::Range(v(9), v(7)),
            SeqRange::Range(v(20), WireSeq::Star),
        ]);
        let hits: Vec<u32> = (1..=30)
            .filter(|u| uid_set_contains(&set, *u, 25))
            .collect();
        assert_eq!(hits, vec![2, 7, 8, 9, 20, 21, 22, 23, 24, 25]);
    }

    #[test]
    fn vanished_is_compact_and_omitted_when_empty() {
        let mut out = Vec::new();
        write_vanished(&mut out, &[], true);
        assert!(out.is_empty());
        write_vanished(&mut out, &[1, 2, 3, 7], true);
        assert_eq!(out, b"* VANISHED (EARLIER) 1:3,7\r\n");
        out.clear();
        write_vanished(&mut out, &[4], false);
        assert_eq!(out, b"* VANISHED 4\r\n");
    }
}
