//! The selected state: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, UID
//! EXPUNGE, XVANQUISH, and
//! the unsolicited responses (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS, RECENT)
//! at the points RFC 3501/9051 allow them, including filing the delivery
//! spool. Never parses message content and never touches store files
//! except through `store` calls.

use std::borrow::Cow;
use std::fs;
use std::path::PathBuf;

use crate::imap::commands::updates;
use crate::imap::context::Selected;
use crate::imap::context::{
    mailbox_name, modseq, resolve, same_uid_validity, selected, wire_flag, wire_modseq,
    wire_uid_set, Ctx, Enabled, Reply,
};
use crate::imap::seqset::View;
use crate::imap::wire::command::{self, MailboxArg, QResyncParams, SelectParams, SeqSet, WireFlag};
use crate::imap::wire::response::{
    EncodedMailbox, FetchItem, ListKind, ListResponse, Response, ResponseCode, Status,
};
use crate::store::mailbox::{Changes, Mailbox, MailboxError};
use crate::store::spool;
use crate::store::types::{Flag, SeqNum, Uid};

/// Runs once after login: files deliveries that arrived while the user was
/// offline, so they are in their mailboxes before the first command.
pub(crate) fn after_login(ctx: &mut Ctx) {
    retire_old_password(ctx);
    if let Some(problem) = ctx.account.problem() {
        ctx.alerts.push(format!(
            "The account is read-only: {problem}; no mailbox will be created, renamed, deleted or removed until it is repaired"
        ));
    }
    verify_public_keys(ctx);
    let foreign = file_spool(ctx);
    if foreign > 0 {
        ctx.alerts.push(format!(
            "{foreign} delivered message(s) were encrypted to a public key that is not yours and cannot be read here; they are kept in the spool and whoever holds that key can read them"
        ));
    }
}

/// Checks every public key against its sealed private half (a key
/// `deliver` encrypts to could have been replaced by someone with write
/// access); repairs and reports what was wrong.
fn verify_public_keys(ctx: &mut Ctx) {
    match ctx.keys.keystore().verify_public_keys(ctx.keys.master()) {
        Ok(audit) => {
            for name in &audit.restored {
                ctx.alerts.push(format!(
                    "Your public key {name} had been replaced by someone else's; mail delivered since may be readable by them. The genuine key is restored"
                ));
            }
            for name in &audit.rejected {
                ctx.alerts.push(format!(
                    "A public key {name} that is not yours was found and set aside; mail delivered to it may be readable by someone else"
                ));
            }
        }
        Err(e) => {
            log::error!("verifying the public keys: {e}");
            ctx.alerts
                .push("Your public keys could not be verified; see the server log".into());
        }
    }
}

/// Removes password-change backups whose grace period has passed, so the
/// old password stops opening this directory (doc/cryptography.md).
fn retire_old_password(ctx: &Ctx) {
    match crate::store::user_file::retire_old_backups(ctx.dir(), chrono::Utc::now()) {
        Ok(0) => {}
        Ok(n) => log::info!("removed {n} expired user.toml backup(s)"),
        Err(e) => log::warn!("retiring old user.toml backups: {e}"),
    }
}

/// Files pending spool entries. Listing the directory first keeps the
/// common case (nothing delivered) to one `getdents`. Returns how many
/// entries were sealed to a public key that is not the account's.
pub(crate) fn file_spool(ctx: &mut Ctx) -> usize {
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
        return 0;
    }
    match spool::file_pending(&dir, &ctx.keys, &mut ctx.account) {
        Ok((filed, failed)) => {
            if !filed.is_empty() {
                log::info!("filed {} delivered message(s)", filed.len());
            }
            if !failed.is_empty() {
                log::error!("{} spool entries could not be filed", failed.len());
            }
            failed
                .iter()
                .filter(|e| matches!(e, spool::SpoolError::ForeignKey { .. }))
                .count()
        }
        Err(e) => {
            log::error!("filing the spool: {e}");
            0
        }
    }
}

/// The directories whose changes IDLE must notice: the spool and, with a
/// mailbox selected, its directory and change-log directory.
pub(crate) fn watch_dirs(ctx: &Ctx) -> Vec<PathBuf> {
    let mut dirs = vec![ctx.dir().join("spool")];
    if let Some(sel) = &ctx.selected {
        let mb = ctx
            .dir()
            .join("mailboxes")
            .join(sel.mailbox.id().to_string());
        dirs.push(mb.join("log"));
        dirs.push(mb);
    }
    dirs
}

/// Brings the selected mailbox up to date and writes the untagged responses
/// that report it. `expunge_allowed` is false during FETCH, STORE and
/// SEARCH by sequence number (RFC 3501 §7.4.1); then nothing is reported
/// here: [`refresh_flags`] already reported flag changes before the
/// command, and expunges and new messages wait. Returns the new messages
/// it reported.
pub(crate) fn refresh(ctx: &mut Ctx, out: &mut Vec<u8>, expunge_allowed: bool) -> Vec<Uid> {
    for alert in std::mem::take(&mut ctx.alerts) {
        untagged_ok(out, ResponseCode::Alert, &alert);
    }
    // Entries sealed to a foreign key were reported after login.
    let _ = file_spool(ctx);
    if !expunge_allowed {
        // Flag changes were reported before the command; live search
        // contexts follow them now (no EXISTS or EXPUNGE is due here).
        updates::report_changes(ctx, out);
        return Vec::new();
    }
    let enabled = ctx.enabled;
    let Some(sel) = ctx.selected.as_mut() else {
        return Vec::new();
    };
    match sel.mailbox.refresh() {
        Ok(changes) => {
            report_with_updates(ctx, enabled, out, &changes);
            changes.new_uids
        }
        Err(e) => {
            log::error!("refreshing the mailbox: {e}");
            Response::status(
                None,
                Status::No,
                Some(ResponseCode::ServerBug),
                "Cannot read mailbox changes; see the server log",
            )
            .encode(out);
            Vec::new()
        }
    }
}

/// [`report`], with the CONTEXT=SEARCH/SORT updates around it: RFC 5267
/// §4.3.4: REMOVEFROM before the EXPUNGE it follows from; §4.3.3: ADDTO
/// after the EXISTS. Also what NOTIFY pushes between commands.
pub(crate) fn report_with_updates(
    ctx: &mut Ctx,
    enabled: Enabled,
    out: &mut Vec<u8>,
    changes: &Changes,
) {
    updates::report_expunged(ctx, out, &changes.expunged);
    if let Some(sel) = ctx.selected.as_mut() {
        report(sel, enabled, out, changes);
    }
    updates::report_changes(ctx, out);
}

/// Before FETCH, STORE or SEARCH by sequence number: reports other
/// sessions' flag changes to messages the client still has (also those
/// expunged meanwhile, whose EXPUNGE must wait), so the command answers
/// with current flags. RFC 9051 §7.5.1 forbids only EXPUNGE there.
pub(crate) fn refresh_flags(ctx: &mut Ctx, out: &mut Vec<u8>) {
    let enabled = ctx.enabled;
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    match sel.mailbox.refresh_flags() {
        Ok(changed) => {
            announce_new_flags(sel, out);
            let items = FetchItems {
                flags: true,
                uid: enabled.condstore || enabled.rev2,
                modseq: enabled.condstore,
            };
            for (seq, uid) in &changed {
                write_fetch(out, &sel.mailbox, *seq, *uid, items, enabled);
            }
        }
        Err(e) => log::error!("reading flag changes: {e}"),
    }
}

/// Writes what a refresh found, claiming \Recent for new messages in a
/// read-write selection.
fn report(sel: &mut Selected, enabled: Enabled, out: &mut Vec<u8>, changes: &Changes) {
    announce_new_flags(sel, out);
    // RFC 7162 §3.1: with CONDSTORE on, unsolicited FETCH carries UID and
    // MODSEQ.
    let items = FetchItems {
        flags: true,
        uid: enabled.condstore || enabled.rev2,
        modseq: enabled.condstore,
    };
    for (seq, uid) in &changes.flags_changed {
        write_fetch(out, &sel.mailbox, *seq, *uid, items, enabled);
    }
    if !changes.expunged.is_empty() {
        // RFC 9586 §3.4, §3.6: UIDONLY reports expunges as VANISHED too.
        if enabled.qresync || enabled.uidonly {
            let mut uids: Vec<Uid> = changes.expunged.iter().map(|(_, u)| *u).collect();
            uids.sort_unstable();
            write_vanished(out, &uids, false);
        } else {
            for (seq, _) in &changes.expunged {
                Response::Expunge(*seq).encode(out);
            }
        }
    }
    if !changes.new_uids.is_empty() {
        if sel.read_only {
            sel.mailbox.observe_unclaimed_recent();
        } else if let Err(e) = sel.mailbox.claim_recent() {
            log::error!("claiming \\Recent: {e}");
        }
        Response::Exists(changes.exists).encode(out);
        if !enabled.rev2 {
            Response::Recent(sel.mailbox.recent_count()).encode(out);
        }
    }
}

/// Which data items an unsolicited or STORE-caused FETCH carries.
#[derive(Clone, Copy)]
pub(crate) struct FetchItems {
    pub(crate) flags: bool,
    pub(crate) uid: bool,
    pub(crate) modseq: bool,
}

/// `* seq FETCH (...)` for a message the client knows, or `* uid UIDFETCH
/// (...)` once UIDONLY is enabled (RFC 9586 §3.3, §3.6), where the UID
/// names the message and is not repeated as an item; nothing if the
/// message has gone from the session's view.
pub(crate) fn write_fetch(
    out: &mut Vec<u8>,
    mb: &Mailbox,
    seq: SeqNum,
    uid: Uid,
    items: FetchItems,
    enabled: Enabled,
) {
    let Some(info) = mb.info(uid) else {
        return;
    };
    let mut data = Vec::with_capacity(3);
    if items.uid && !enabled.uidonly {
        data.push(FetchItem::Uid(uid));
    }
    if items.flags {
        let mut flags: Vec<WireFlag> = info.flags.iter().map(wire_flag).collect();
        if info.recent && !enabled.rev2 {
            flags.push(WireFlag::Recent);
        }
        data.push(FetchItem::Flags(flags));
    }
    if items.modseq {
        data.push(FetchItem::ModSeq(info.modseq));
    }
    if enabled.uidonly {
        Response::UidFetch { uid, items: data }.encode(out);
    } else {
        Response::Fetch { seq, items: data }.encode(out);
    }
}

/// `* VANISHED [(EARLIER)] uids`; `uids` ascending.
pub(crate) fn write_vanished(out: &mut Vec<u8>, uids: &[Uid], earlier: bool) {
    let Some(set) = wire_uid_set(uids.iter().copied()) else {
        return;
    };
    Response::Vanished { earlier, uids: set }.encode(out);
}

/// The flags every mailbox offers: the system flags plus its keywords.
fn mailbox_flags(mb: &Mailbox) -> Vec<WireFlag> {
    let mut flags: Vec<WireFlag> = Flag::SYSTEM.iter().map(wire_flag).collect();
    for f in mb.defined_flags() {
        if matches!(f, Flag::Keyword(_)) {
            flags.push(wire_flag(f));
        }
    }
    flags
}

/// `* OK [HIGHESTMODSEQ n]`: RFC 7162 §3.1 wants it when a command
/// enables CONDSTORE while a mailbox is selected (Dovecot sends it even
/// though SELECT already did; imaptest `esearch-condstore` expects it).
/// The value is the one the client may cache: below any change it has
/// not been told of yet.
pub(crate) fn write_highest_modseq(out: &mut Vec<u8>, mb: &Mailbox) {
    untagged_ok(
        out,
        ResponseCode::HighestModSeq(wire_modseq(mb.reported_modseq())),
        "Highest",
    );
}

/// What a command's tagged OK says about HIGHESTMODSEQ under QRESYNC.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaggedModseq {
    /// Always `[HIGHESTMODSEQ]`: EXPUNGE, UID EXPUNGE, XVANQUISH (RFC
    /// 7162 §3.2.7, §3.2.9), MOVE (RFC 6851 §4.4) and STORE (Dovecot;
    /// RFC 7162 §3.2: the STORE's own MODSEQs may lie above an expunge
    /// the client has not been told of).
    Always,
    /// Only when a change waits unreported (FETCH and SEARCH, during
    /// which expunges cannot be reported), so the MODSEQs these
    /// responses carry are not taken for the mailbox's.
    WhenBehind,
    /// Never.
    Never,
}

/// Adds `[HIGHESTMODSEQ n]` to a tagged OK that has no code, for a
/// QRESYNC session with a mailbox selected, as `when` says. `n` is what
/// the client may cache: every change up to it has been reported
/// (`Mailbox::reported_modseq`), so a later `SELECT (QRESYNC (v n))`
/// reports whatever it has not seen.
pub(crate) fn tag_highest_modseq(ctx: &Ctx, when: TaggedModseq, reply: &mut Reply) {
    if !ctx.enabled.qresync || reply.status != Status::Ok || reply.code.is_some() {
        return;
    }
    let Some(sel) = &ctx.selected else { return };
    let mb = &sel.mailbox;
    let add = match when {
        TaggedModseq::Always => true,
        TaggedModseq::WhenBehind => mb.reported_modseq() < mb.highest_modseq(),
        TaggedModseq::Never => false,
    };
    if add {
        reply.code = Some(ResponseCode::HighestModSeq(wire_modseq(
            mb.reported_modseq(),
        )));
    }
}

/// Sends `* FLAGS` (and `PERMANENTFLAGS` when writable) when the mailbox
/// has keywords the client has not been told of, so no FETCH names a flag
/// missing from the last FLAGS response (RFC 3501 §7.2.6; imaptest checks).
pub(crate) fn announce_new_flags(sel: &mut Selected, out: &mut Vec<u8>) {
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
    Response::Flags(flags.clone()).encode(out);
    let perm: Vec<command::FlagPerm> = if read_only {
        Vec::new()
    } else {
        flags
            .into_iter()
            .map(command::FlagPerm::Flag)
            .chain([command::FlagPerm::Any])
            .collect()
    };
    let text = if read_only {
        "Read-only mailbox"
    } else {
        "Flags permitted"
    };
    untagged_ok(out, ResponseCode::PermanentFlags(perm), text);
}

pub(crate) fn untagged_ok(out: &mut Vec<u8>, code: ResponseCode, text: &str) {
    Response::status(None, Status::Ok, Some(code), text).encode(out);
}

/// `SELECT` (`read_only` false) and `EXAMINE` (true). Whether it succeeds
/// or not, what the session cached for another mailbox is given back
/// ([`Ctx::release_caches`]); a SELECT of the same mailbox keeps it.
pub(crate) fn select(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    name: &MailboxArg,
    params: &SelectParams,
    read_only: bool,
) -> Reply {
    let reply = open_selection(ctx, out, name, params, read_only);
    ctx.release_caches();
    reply
}

fn open_selection(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    name: &MailboxArg,
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
    // A mailbox whose log does not verify is only ever shown read-only, and
    // the user is told why (the store refuses writes to it anyway).
    let asked_read_only = read_only;
    let read_only = match mailbox.integrity_problem() {
        Some(problem) => {
            untagged_ok(
                out,
                ResponseCode::Alert,
                &format!("This mailbox is read-only: {problem}; nothing in it will be changed or removed until it is repaired"),
            );
            true
        }
        None => read_only,
    };
    // A read-only selection claims nothing, but, like Dovecot's EXAMINE,
    // shows the messages no session has claimed yet as \Recent (imaptest
    // `select`) in RECENT, FETCH and SEARCH alike, without taking them
    // from a later SELECT.
    if read_only {
        mailbox.observe_unclaimed_recent();
    } else if let Err(e) = mailbox.claim_recent() {
        return Reply::server_bug("claiming \\Recent", &e);
    }
    let enabled = ctx.enabled;
    write_flags(out, &mailbox, read_only);
    Response::Exists(mailbox.exists()).encode(out);
    if !enabled.rev2 {
        Response::Recent(mailbox.recent_count()).encode(out);
    }
    // UNSEEN is a sequence number: neither IMAP4rev2 nor UIDONLY (RFC
    // 9586 §3) sends it.
    if !enabled.rev2 && !enabled.uidonly {
        if let Some(seq) = mailbox.first_unseen() {
            untagged_ok(out, ResponseCode::Unseen(seq), "First unseen");
        }
    }
    untagged_ok(
        out,
        ResponseCode::UidValidity(mailbox.uid_validity()),
        "UIDs valid",
    );
    untagged_ok(
        out,
        ResponseCode::UidNext(mailbox.uidnext()),
        "Predicted next UID",
    );
    untagged_ok(
        out,
        ResponseCode::HighestModSeq(wire_modseq(mailbox.highest_modseq())),
        "Highest",
    );
    untagged_ok(
        out,
        ResponseCode::MailboxId(mailbox.id().to_string()),
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
        live: Default::default(),
    });
    if read_only {
        let text = if asked_read_only {
            "EXAMINE completed"
        } else {
            "SELECT completed, read-only"
        };
        Reply::ok_code(ResponseCode::ReadOnly, text)
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
    let mut attrs: Vec<Cow<'_, str>> = vec![Cow::Borrowed(if account.has_children(name) {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    })];
    if let Some(info) = account.mailbox(name) {
        attrs.extend(info.special_use.iter().map(|s| Cow::Borrowed(s.as_imap())));
    }
    Response::List(ListResponse {
        kind: ListKind::List,
        attributes: attrs,
        delimiter: Some('/'),
        mailbox: EncodedMailbox::new(name.as_str(), utf8),
        extended: Vec::new(),
    })
    .encode(out);
}

/// RFC 7162 §3.2.5: what changed since the client's last known modseq,
/// when its UIDVALIDITY still holds.
fn resync(out: &mut Vec<u8>, mb: &Mailbox, q: &QResyncParams, enabled: Enabled) {
    if !same_uid_validity(q.uid_validity, mb.uid_validity()) {
        return;
    }
    let Some(since) = modseq(q.mod_seq) else {
        return;
    };
    let mut vanished = mb.vanished_since(since);
    let mut changed: Vec<Uid> = mb
        .uids()
        .filter(|u| mb.info(*u).is_some_and(|info| info.modseq > since))
        .collect();
    if let Some(known) = &q.known_uids {
        // RFC 7162 §3.2.5.1: with known UIDs, only changes to those are
        // reported. A new selection has no saved search result: `$`
        // names nothing.
        let view = View::new(mb, &[], mb.uidnext());
        vanished = view.named_among(known, &vanished);
        changed = view.named_among(known, &changed);
    } else {
        vanished.sort_unstable();
        vanished.dedup();
    }
    write_vanished(out, &vanished, true);
    let items = FetchItems {
        flags: true,
        uid: true,
        modseq: true,
    };
    for uid in changed {
        if let Some(seq) = mb.seq_of(uid) {
            write_fetch(out, mb, seq, uid, items, enabled);
        }
    }
}

/// `CLOSE` (`expunge` true) and `UNSELECT` (false).
pub(crate) fn close(ctx: &mut Ctx, _out: &mut Vec<u8>, expunge: bool) -> Reply {
    let Some(mut sel) = ctx.selected.take() else {
        return Reply::bad("No mailbox selected");
    };
    ctx.release_caches();
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
                .is_some_and(|i| !i.expunged && i.flags.contains(&Flag::Deleted))
        })
        .collect()
}

pub(crate) fn read_only_no() -> Reply {
    Reply::no(None, "The mailbox is read-only")
}

/// `EXPUNGE` (`uids` None), `UID EXPUNGE` and `XVANQUISH` (`vanquish`: the
/// given UIDs go whether or not they are \Deleted). The expunges are
/// reported by the refresh that follows every command.
pub(crate) fn expunge(
    ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    uids: Option<&SeqSet>,
    vanquish: bool,
) -> Reply {
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
    use crate::imap::wire::command::CommandBody;
    use crate::imap::wire::parser::{parse_command, ParseOptions};

    /// Where a test's FETCH output goes.
    struct Discard;

    impl crate::imap::output::Spill for Discard {
        fn spill(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
            out.clear();
            Ok(())
        }
    }

    fn run(ctx: &mut Ctx, text: &str) -> Reply {
        let cmd = parse_command(format!("t {text}\r\n").as_bytes(), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{text}: {e:?}"));
        let out = &mut Vec::new();
        match cmd.body {
            CommandBody::Select { mailbox, params } => select(ctx, out, &mailbox, &params, false),
            CommandBody::Sort(c) => crate::imap::commands::sort::sort(ctx, out, "t", &c),
            CommandBody::Fetch(c) => {
                crate::imap::commands::fetch::fetch(ctx, out, &c, &mut Discard)
            }
            CommandBody::Search(c) => crate::imap::commands::search::search(ctx, out, "t", &c),
            CommandBody::Unselect => close(ctx, out, false),
            CommandBody::Close => close(ctx, out, true),
            other => panic!("{other:?}"),
        }
    }

    /// UNSELECT, CLOSE and a SELECT of another mailbox give back what the
    /// session cached for the mailbox it leaves (sort keys, summaries,
    /// full-text index); a SELECT of the same mailbox keeps it. Before,
    /// all of it stayed until the next SORT or FETCH of another mailbox.
    #[test]
    fn leaving_a_mailbox_releases_its_caches() {
        use crate::store::types::InternalDate;
        let f = crate::store::test_fixture::Fixture::new("ctx-caches");
        let mut inbox = f.open("INBOX");
        for i in 0..5 {
            let m = format!("Subject: m{i}\r\nFrom: a{i}@example.org\r\n\r\nword{i}\r\n");
            inbox
                .append(m.as_bytes(), &[], InternalDate::now())
                .unwrap();
        }
        drop(inbox);
        let file = crate::store::user_file::UserFile::load(&f.user).unwrap();
        let account =
            crate::store::credentials::UnlockedAccount::unlock(&file, b"pw", file.password_cost())
                .unwrap();
        let mut ctx = Ctx::open(
            crate::imap::session::LoggedIn {
                account,
                dir: f.user.clone(),
                name: "u".into(),
            },
            crate::imap::context::CtxLimits {
                max_message_size: 1 << 20,
            },
        )
        .unwrap();
        let fill = |ctx: &mut Ctx| {
            for text in [
                "SELECT INBOX",
                "SORT (SUBJECT) UTF-8 ALL",
                "FETCH 1:* (BODYSTRUCTURE)",
                "SEARCH TEXT word3",
            ] {
                let r = run(ctx, text);
                assert_eq!(r.status, Status::Ok, "{text}: {}", r.text);
            }
            assert_eq!(ctx.sort_keys.len(), 5);
            assert_eq!(ctx.summaries.len(), 5);
            assert!(ctx.fts.is_loaded());
        };
        let empty = |ctx: &Ctx, after: &str| {
            assert_eq!(ctx.sort_keys.len(), 0, "{after}");
            assert_eq!(ctx.summaries.len(), 0, "{after}");
            assert!(!ctx.fts.is_loaded(), "{after}");
        };
        fill(&mut ctx);
        run(&mut ctx, "SELECT INBOX");
        assert_eq!(ctx.sort_keys.len(), 5, "the same mailbox again keeps them");
        assert_eq!(ctx.summaries.len(), 5);
        run(&mut ctx, "UNSELECT");
        empty(&ctx, "UNSELECT");
        fill(&mut ctx);
        run(&mut ctx, "CLOSE");
        empty(&ctx, "CLOSE");
        fill(&mut ctx);
        run(&mut ctx, "SELECT Archive");
        empty(&ctx, "SELECT of another mailbox");
    }

    #[test]
    fn vanished_is_compact_and_omitted_when_empty() {
        let mut out = Vec::new();
        write_vanished(&mut out, &[], true);
        assert!(out.is_empty());
        let uids = |v: &[u32]| -> Vec<Uid> { v.iter().copied().filter_map(Uid::new).collect() };
        write_vanished(&mut out, &uids(&[1, 2, 3, 7]), true);
        assert_eq!(out, b"* VANISHED (EARLIER) 1:3,7\r\n");
        out.clear();
        write_vanished(&mut out, &uids(&[4]), false);
        assert_eq!(out, b"* VANISHED 4\r\n");
    }
}
