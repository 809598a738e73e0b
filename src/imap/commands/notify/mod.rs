//! RFC 5465 NOTIFY: the command, and the notifications it asks for. A
//! [`Notifier`] lives in the session's context while a NOTIFY SET is in
//! force; it owns one inotify instance watching the account log's
//! directory, the spool, the selected mailbox's log (with SELECTED or
//! SELECTED-DELAYED) and the log of every other mailbox whose message
//! events were asked for. The session polls [`Notifier::fd`] beside the
//! connection between commands and during IDLE and calls [`deliver`] when
//! it is readable. Never reads the connection; writes untagged responses
//! to the output buffer like every handler. Decisions are in
//! `doc/imap-notify.md`.

mod spec;
mod track;

use std::collections::{BTreeMap, HashMap};
use std::os::fd::BorrowedFd;

use crate::imap::commands::fetch;
use crate::imap::commands::selected;
use crate::imap::context::{wire_uid_set, Ctx, Reply};
use crate::imap::output::Spill;
use crate::imap::wire::command::{FetchAttr, FetchAttrs, FetchCommand, NotifyCommand};
use crate::imap::wire::response::{Response, ResponseCode, Status};
use crate::store::account::{MailboxId, MailboxName, ACCOUNT_LOG_PATH};
use crate::store::types::Uid;
use crate::sys::inotify::{Added, DirWatcher, Fired, WatchId};

use spec::{Events, Facts, SelectedSpec, Spec};
use track::{AccountChange, AccountView, Counts, Kind};

/// Mailboxes one NOTIFY may watch for message events (each costs an
/// inotify watch and a STATUS-sized look when it changes). A NOTIFY SET
/// that would watch more is refused with `NO [NOTIFICATIONOVERFLOW]`; an
/// account that grows past it later ends the notifications with `OK
/// [NOTIFICATIONOVERFLOW]` (RFC 5465 §5.8).
pub(crate) const MAX_WATCHED: usize = 1000;

/// When [`deliver`] runs: what the RFCs allow to be said then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    /// No command in progress: SELECTED reports everything,
    /// SELECTED-DELAYED everything but expunges.
    BetweenCommands,
    /// During IDLE, where expunges may always be sent (RFC 5465 §4).
    Idle,
    /// At the end of a command: the command's own refresh already
    /// reported the selected mailbox.
    AfterCommand,
}

/// A mailbox watched for message events.
struct Tracked {
    watch: WatchId,
    events: Events,
    counts: Option<Counts>,
}

/// The state of a NOTIFY SET in force.
pub(crate) struct Notifier {
    spec: Spec,
    watcher: DirWatcher,
    account_watch: WatchId,
    spool_watch: WatchId,
    /// Which mailbox each watch belongs to (a watch is shared when the
    /// selected mailbox is also tracked: inotify gives one per directory).
    owners: HashMap<WatchId, MailboxId>,
    tracked: BTreeMap<MailboxId, Tracked>,
    /// The selected mailbox's watch, with SELECTED / SELECTED-DELAYED.
    selected: Option<(MailboxId, WatchId)>,
    /// The selected mailbox changed while a command ran: what that
    /// command's refresh could not report goes out once it is over.
    selected_due: bool,
    account: AccountView,
    open: track::OpenCache,
}

/// Why a Notifier could not be (re)built.
enum Trouble {
    /// Too many mailboxes, or no inotify watch to be had.
    Overflow(String),
    /// A store failure.
    Store(String),
}

impl Notifier {
    /// The descriptor that becomes readable when something may have
    /// changed.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.watcher.fd()
    }

    /// Something waits to be pushed now, without a watch firing.
    pub(crate) fn due(&self) -> bool {
        self.selected_due
    }
}

struct AccountFacts<'a>(&'a crate::store::account::Account);

impl Facts for AccountFacts<'_> {
    fn subscribed(&self, name: &MailboxName) -> bool {
        self.0.is_subscribed(name)
    }
    fn delivers_everywhere(&self) -> bool {
        self.0
            .setting(crate::store::delivery::DETAIL_SETTING)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }
}

/// `NOTIFY NONE` / `NOTIFY SET [STATUS] ...`.
pub(crate) fn notify(ctx: &mut Ctx, out: &mut Vec<u8>, cmd: &NotifyCommand) -> Reply {
    let NotifyCommand::Set { status, groups } = cmd else {
        ctx.notify = None;
        return Reply::ok("NOTIFY completed, no notifications");
    };
    let spec = match Spec::from_wire(groups) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = ctx.account.refresh() {
        return Reply::server_bug("reading the account", &e);
    }
    let mut n = match build(ctx, spec) {
        Ok(n) => n,
        Err(Trouble::Overflow(why)) => {
            return Reply::no(Some(ResponseCode::NotificationOverflow), why)
        }
        Err(Trouble::Store(why)) => return Reply::server_bug("starting notifications", &why),
    };
    // Baselines (and, with STATUS, the responses RFC 5465 §3.1 wants
    // before the tagged OK) for every watched mailbox but the selected one.
    let selected = ctx.selected.as_ref().map(|s| s.mailbox.id());
    let account = ctx.account.state();
    for info in account.mailboxes() {
        let id = &info.id;
        let Some(t) = n.tracked.get_mut(id) else {
            continue;
        };
        let counts = match Counts::read(&ctx.keys, ctx.user.dir.as_path(), info) {
            Ok(c) => c,
            Err(e) => return Reply::server_bug("reading a watched mailbox", &e),
        };
        t.counts = Some(counts);
        if *status && Some(*id) != selected {
            track::status_line(
                out,
                &info.name,
                counts,
                Kind::None,
                ctx.enabled.condstore || t.events.flags,
                ctx.enabled.utf8_accept,
            );
        }
    }
    ctx.notify = Some(Box::new(n));
    Reply::ok("NOTIFY completed")
}

/// A Notifier for `spec` over the account as it is now: its watches and
/// its tracked set (counts not read yet).
fn build(ctx: &Ctx, spec: Spec) -> Result<Notifier, Trouble> {
    let mut watcher = DirWatcher::new();
    let dir = ctx.dir();
    let add = |w: &mut DirWatcher, path: std::path::PathBuf| match w.add(&path) {
        Ok(Added::Watching(id)) => Ok(id),
        Ok(Added::Exhausted) => Err(Trouble::Overflow(
            "No more inotify watches can be had for notifications".into(),
        )),
        Err(e) => Err(Trouble::Store(e.to_string())),
    };
    let account_dir = dir
        .join(ACCOUNT_LOG_PATH)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| dir.clone());
    let account_watch = add(&mut watcher, account_dir)?;
    let spool_watch = add(&mut watcher, dir.join("spool"))?;
    let mut n = Notifier {
        spec,
        watcher,
        account_watch,
        spool_watch,
        owners: HashMap::new(),
        tracked: BTreeMap::new(),
        selected: None,
        selected_due: false,
        account: AccountView::of(ctx.account.state()),
        open: track::OpenCache::default(),
    };
    n.retrack(ctx)?;
    n.watch_selected(ctx)?;
    Ok(n)
}

fn log_dir(ctx: &Ctx, id: &MailboxId) -> std::path::PathBuf {
    ctx.dir().join("mailboxes").join(id.to_string()).join("log")
}

impl Notifier {
    /// Brings the tracked set in line with the account: mailboxes that
    /// now match get a watch (their counts are read when first needed),
    /// mailboxes that no longer match lose theirs.
    fn retrack(&mut self, ctx: &Ctx) -> Result<(), Trouble> {
        let account = ctx.account.state();
        let facts = AccountFacts(account);
        let mut wanted: BTreeMap<MailboxId, Events> = BTreeMap::new();
        if self.spec.watches_messages() {
            for info in account.mailboxes() {
                let e = self.spec.events_for(&info.name, &facts);
                if e.any_message_event() {
                    wanted.insert(info.id, e);
                }
            }
        }
        if wanted.len() > MAX_WATCHED {
            return Err(Trouble::Overflow(format!(
                "Notifications would watch {} mailboxes; at most {MAX_WATCHED} can be watched",
                wanted.len()
            )));
        }
        let gone: Vec<MailboxId> = self
            .tracked
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(t) = self.tracked.remove(&id) {
                self.drop_watch(id, t.watch);
                self.open.forget(id);
            }
        }
        for (id, events) in wanted {
            if let Some(t) = self.tracked.get_mut(&id) {
                t.events = events;
                continue;
            }
            let watch = self.watch_mailbox(ctx, id)?;
            self.tracked.insert(
                id,
                Tracked {
                    watch,
                    events,
                    counts: None,
                },
            );
        }
        Ok(())
    }

    fn watch_mailbox(&mut self, ctx: &Ctx, id: MailboxId) -> Result<WatchId, Trouble> {
        let dir = log_dir(ctx, &id);
        if !dir.is_dir() {
            // A mailbox nobody has opened yet has no log directory: opening
            // it makes one (its counts are read after the watch is set).
            if let Some(info) = ctx.account.state().mailbox_by_id(&id) {
                Counts::read(&ctx.keys, ctx.user.dir.as_path(), info)
                    .map_err(|e| Trouble::Store(e.to_string()))?;
            }
        }
        match self.watcher.add(&dir) {
            Ok(Added::Watching(w)) => {
                self.owners.insert(w, id);
                Ok(w)
            }
            Ok(Added::Exhausted) => Err(Trouble::Overflow(
                "No more inotify watches can be had for notifications".into(),
            )),
            Err(e) => Err(Trouble::Store(e.to_string())),
        }
    }

    /// Removes a mailbox's watch unless the other use (tracked or
    /// selected) still needs it.
    fn drop_watch(&mut self, id: MailboxId, watch: WatchId) {
        let still_used =
            self.tracked.contains_key(&id) || self.selected.is_some_and(|(sel, _)| sel == id);
        if !still_used {
            self.watcher.remove(watch);
            self.owners.remove(&watch);
        }
    }

    /// Follows SELECT / CLOSE: the selected mailbox is watched while
    /// SELECTED or SELECTED-DELAYED asks for its events.
    fn watch_selected(&mut self, ctx: &Ctx) -> Result<(), Trouble> {
        let now = ctx
            .selected
            .as_ref()
            .filter(|_| self.spec.selected.is_some())
            .map(|s| s.mailbox.id());
        if self.selected.map(|(id, _)| id) == now {
            return Ok(());
        }
        if let Some((old, watch)) = self.selected.take() {
            self.drop_watch(old, watch);
        }
        if let Some(id) = now {
            let watch = self.watch_mailbox(ctx, id)?;
            self.selected = Some((id, watch));
        }
        Ok(())
    }
}

/// Reports what changed since the last look, as the NOTIFY in force asks
/// and `moment` allows. Ends the notifications with `OK
/// [NOTIFICATIONOVERFLOW]` when they cannot go on (RFC 5465 §5.8).
/// MessageNew's FETCH streams to `spill` like any FETCH (after what `out`
/// already holds, so nothing overtakes it): a thousand large new messages
/// cost a chunk and one message of memory, not their sum.
pub(crate) fn deliver(ctx: &mut Ctx, out: &mut Vec<u8>, moment: Moment, spill: &mut dyn Spill) {
    let Some(mut n) = ctx.notify.take() else {
        return;
    };
    match run(&mut n, ctx, out, moment, spill) {
        Ok(()) => ctx.notify = Some(n),
        Err(Trouble::Overflow(why)) => {
            log::info!("notifications ended: {why}");
            selected::untagged_ok(out, ResponseCode::NotificationOverflow, &why);
        }
        Err(Trouble::Store(why)) => {
            log::error!("notifications ended: {why}");
            selected::untagged_ok(
                out,
                ResponseCode::NotificationOverflow,
                "Notifications stopped by a server error; see the server log",
            );
        }
    }
}

fn run(
    n: &mut Notifier,
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    moment: Moment,
    spill: &mut dyn Spill,
) -> Result<(), Trouble> {
    n.watch_selected(ctx)?;
    let fired = match n.watcher.drain_which() {
        Ok(f) => f,
        Err(e) => return Err(Trouble::Store(e.to_string())),
    };
    let all = fired.overflow;
    if all || fired.ids.contains(&n.spool_watch) {
        // Filing writes the mailboxes' logs: their watches fire next.
        selected::file_spool(ctx);
    }
    if all || fired.ids.contains(&n.account_watch) {
        account_events(n, ctx, out)?;
    }
    mailbox_events(n, ctx, out, &fired)?;
    let selected_fired = n
        .selected
        .is_some_and(|(_, w)| all || fired.ids.contains(&w));
    if moment == Moment::AfterCommand {
        n.selected_due |= selected_fired;
    } else if selected_fired || n.selected_due {
        n.selected_due = false;
        if let Some(spec) = n.spec.selected.clone() {
            push_selected(ctx, out, &spec, moment, spill);
        }
    }
    Ok(())
}

/// MailboxName and SubscriptionChange (RFC 5465 §5.4, §5.5), then the
/// tracked set follows the account.
fn account_events(n: &mut Notifier, ctx: &mut Ctx, out: &mut Vec<u8>) -> Result<(), Trouble> {
    if let Err(e) = ctx.account.refresh() {
        return Err(Trouble::Store(e.to_string()));
    }
    let account = ctx.account.state();
    let after = AccountView::of(account);
    let facts = AccountFacts(account);
    let utf8 = ctx.enabled.utf8_accept;
    for change in track::account_changes(&n.account, &after) {
        let wants = |name: &MailboxName| n.spec.events_for(name, &facts);
        match &change {
            AccountChange::Created(name) | AccountChange::Deleted(name) => {
                if wants(name).names {
                    track::list_line(out, account, name, None, utf8);
                }
            }
            AccountChange::Renamed { from, to } => {
                if wants(from).names || wants(to).names {
                    track::list_line(out, account, to, Some(from), utf8);
                }
            }
            AccountChange::Subscription(name) => {
                if wants(name).subscriptions {
                    track::list_line(out, account, name, None, utf8);
                }
            }
        }
    }
    n.account = after;
    n.retrack(ctx)?;
    // A mailbox that starts being watched now (created, subscribed,
    // renamed into a filter) may have changed before its watch was set:
    // unless it is as empty as a new mailbox, its counts are reported as
    // a MessageNew would report them, so the client misses nothing.
    let account = ctx.account.state();
    let selected = ctx.selected.as_ref().map(|s| s.mailbox.id());
    for (id, t) in n.tracked.iter_mut().filter(|(_, t)| t.counts.is_none()) {
        let Some(info) = account.mailbox_by_id(id) else {
            continue;
        };
        let c = Counts::read(&ctx.keys, ctx.user.dir.as_path(), info)
            .map_err(|e| Trouble::Store(e.to_string()))?;
        t.counts = Some(c);
        let fresh = c.messages == 0 && c.uidnext == Uid::MIN;
        if !fresh && t.events.messages && Some(*id) != selected {
            track::status_line(
                out,
                &info.name,
                c,
                Kind::Messages,
                ctx.enabled.condstore || t.events.flags,
                ctx.enabled.utf8_accept,
            );
        }
    }
    Ok(())
}

/// STATUS for the tracked mailboxes that changed (RFC 5465 §5.1–§5.3),
/// never for the selected one.
fn mailbox_events(
    n: &mut Notifier,
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    fired: &Fired,
) -> Result<(), Trouble> {
    let selected = ctx.selected.as_ref().map(|s| s.mailbox.id());
    let changed: Vec<MailboxId> = if fired.overflow {
        n.tracked.keys().copied().collect()
    } else {
        fired
            .ids
            .iter()
            .filter_map(|w| n.owners.get(w))
            .filter(|id| n.tracked.contains_key(id))
            .copied()
            .collect()
    };
    let account = ctx.account.state();
    for id in changed {
        let (Some(t), Some(info)) = (n.tracked.get_mut(&id), account.mailbox_by_id(&id)) else {
            continue;
        };
        let now = match n.open.counts(&ctx.keys, ctx.user.dir.as_path(), info) {
            Ok(c) => c,
            Err(e) => return Err(Trouble::Store(e.to_string())),
        };
        let before = t.counts.replace(now);
        if Some(id) == selected {
            continue;
        }
        let kind = before.map_or(Kind::Messages, |b| track::kind(b, now));
        let wanted = match kind {
            Kind::None => false,
            Kind::Messages => t.events.messages,
            Kind::Flags => t.events.flags,
        };
        if wanted {
            track::status_line(
                out,
                &info.name,
                now,
                kind,
                ctx.enabled.condstore || t.events.flags,
                ctx.enabled.utf8_accept,
            );
        }
    }
    Ok(())
}

/// The selected mailbox's changes between commands or during IDLE: all of
/// them with SELECTED (or in IDLE), all but expunges with
/// SELECTED-DELAYED; flag changes only with FlagChange (RFC 5465 §5.1).
fn push_selected(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    spec: &SelectedSpec,
    moment: Moment,
    spill: &mut dyn Spill,
) {
    let enabled = ctx.enabled;
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    let expunges = !spec.delayed || moment == Moment::Idle;
    let changes = if expunges {
        sel.mailbox.refresh()
    } else {
        sel.mailbox.refresh_keeping_expunged()
    };
    let mut changes = match changes {
        Ok(c) => c,
        Err(e) => {
            log::error!("refreshing the selected mailbox for NOTIFY: {e}");
            return;
        }
    };
    if !spec.flags {
        changes.flags_changed.clear();
    }
    selected::report_with_updates(ctx, enabled, out, &changes);
    fetch_new(ctx, out, &spec.new_attrs, &changes.new_uids, spill);
}

/// MessageNew's FETCH attributes for new messages of the selected mailbox
/// (RFC 5465 §5.2), after their EXISTS; with the UID, which the client
/// needs to tell them apart. Streamed through `spill` in chunks, as a
/// FETCH command's answer is (`imap::output`).
fn fetch_new(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    attrs: &[FetchAttr],
    uids: &[Uid],
    spill: &mut dyn Spill,
) {
    if attrs.is_empty() {
        return;
    }
    let Some(set) = wire_uid_set(uids.iter().copied()) else {
        return;
    };
    let mut list = attrs.to_vec();
    if !list.contains(&FetchAttr::Uid) {
        list.insert(0, FetchAttr::Uid);
    }
    let cmd = FetchCommand {
        uid: true,
        set,
        attrs: FetchAttrs::List(list),
        changed_since: None,
        vanished: false,
        partial: None,
    };
    // Streamed: `out` holds only whole responses here (the EXISTS before
    // them, whatever the command answered), so handing it over keeps the
    // order of the wire, and the tagged line is written only after this.
    let reply = fetch::fetch(ctx, out, &cmd, spill);
    if reply.status != Status::Ok {
        // The messages were reported; a part that cannot be read is in
        // the log, and the client can still FETCH what it wants.
        log::warn!("NOTIFY MessageNew FETCH: {}", reply.text);
        Response::status(None, Status::No, reply.code, &reply.text).encode(out);
    }
}

/// The refresh at the end of every command (`selected::refresh`), with
/// NOTIFY in force: what changed elsewhere is reported first (so nothing
/// that happens after the refresh is drained unreported), then the
/// selected mailbox, then MessageNew's FETCH for the new messages it
/// reported, unless the command could have added them itself (RFC 5465
/// §5.2: SHOULD NOT).
pub(crate) fn refresh_after_command(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    expunge_allowed: bool,
    own_adds: bool,
    spill: &mut dyn Spill,
) {
    if ctx.notify.is_none() {
        selected::refresh(ctx, out, expunge_allowed);
        return;
    }
    deliver(ctx, out, Moment::AfterCommand, spill);
    let new_uids = selected::refresh(ctx, out, expunge_allowed);
    let attrs = ctx
        .notify
        .as_ref()
        .and_then(|n| n.spec.selected.as_ref())
        .map(|s| s.new_attrs.clone())
        .unwrap_or_default();
    if !own_adds {
        fetch_new(ctx, out, &attrs, &new_uids, spill);
    }
}
