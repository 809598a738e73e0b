//! RFC 5267 §4 contexts (CONTEXT=SEARCH, CONTEXT=SORT): the live results
//! of `SEARCH`/`SORT ... RETURN (UPDATE ...)`, kept current as the selected
//! mailbox changes (this session's changes and others') and reported as
//! `ESEARCH (TAG ..) [UID] REMOVEFROM (..) ADDTO (..)`; `CANCELUPDATE`.
//! Owns no search or sort logic (`search::Program`, `sort::sorted_uids`)
//! and never changes the mailbox. The contexts live in the selection, so
//! they end when the mailbox is no longer selected (§4.3).

use std::borrow::Cow;
use std::collections::HashSet;

use crate::imap::commands::search::Program;
use crate::imap::commands::sort;
use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::command::{SeqSet, SortCriterion};
use crate::imap::wire::response::{ESearchItem, Response, ResponseCode, Status};
use crate::store::mailbox::Mailbox;
use crate::store::types::{Modseq, SeqNum, Uid};

/// Live contexts one session may hold at once (RFC 5267 §4.3.1 requires
/// at least one). Each costs a result list (4 bytes a message) and a scan
/// of the mailbox's modseqs after every command that changed something.
/// The next `RETURN (UPDATE)` beyond it is answered, with `* NO
/// [NOUPDATE "tag"]`, but not kept live. Dovecot's limit is the same.
pub(crate) const MAX_LIVE_CONTEXTS: usize = 10;

/// One live result.
struct Live {
    /// The searching command's tag (the ESEARCH correlator).
    tag: String,
    /// UID SEARCH / UID SORT: updates carry UIDs, else sequence numbers.
    uid: bool,
    program: Program,
    /// SORT criteria; `None` for a SEARCH context (mailbox order, and
    /// every position 0).
    order: Option<Vec<SortCriterion>>,
    /// The result as the client holds it, in its order.
    result: Vec<Uid>,
    /// Every message of the view whose modseq is at most this, or whose
    /// UID is at most `seen_uid`, has been evaluated for this context.
    seen_modseq: Option<Modseq>,
    seen_uid: Option<Uid>,
}

/// The live contexts of the selected mailbox.
#[derive(Default)]
pub(crate) struct LiveContexts {
    list: Vec<Live>,
}

impl LiveContexts {
    /// Whether a live context answers to `tag` (an UPDATE reusing it is
    /// refused, §4.3).
    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.list.iter().any(|l| l.tag == tag)
    }

    /// Ends the contexts of SEARCH/SORT by sequence number and returns
    /// their tags: once UIDONLY is enabled no response may carry a
    /// sequence number (RFC 9586 §3), and their updates would.
    pub(crate) fn end_sequence_number_contexts(&mut self) -> Vec<String> {
        let (keep, end): (Vec<Live>, Vec<Live>) = std::mem::take(&mut self.list)
            .into_iter()
            .partition(|l| l.uid);
        self.list = keep;
        end.into_iter().map(|l| l.tag).collect()
    }
}

/// What the searching command asks to keep live.
pub(crate) struct NewContext<'a> {
    /// The command's tag.
    pub tag: &'a str,
    /// UID form of the command.
    pub uid: bool,
    /// The compiled search.
    pub program: Program,
    /// SORT criteria, or `None` for SEARCH.
    pub order: Option<Vec<SortCriterion>>,
    /// The result just returned, in its order.
    pub result: Vec<Uid>,
}

/// The BAD for an UPDATE whose tag a live context already uses (§4.3),
/// checked before the command runs.
pub(crate) fn check_tag(ctx: &Ctx, tag: &str) -> Result<(), Reply> {
    match &ctx.selected {
        Some(sel) if sel.live.has_tag(tag) => Err(Reply::bad(
            "Tag reuse: a live search context already has this tag",
        )),
        _ => Ok(()),
    }
}

/// Keeps `new` live, or says with `* NO [NOUPDATE]` why not (the other
/// return options were answered all the same, §4.3.1).
pub(crate) fn register(ctx: &mut Ctx, out: &mut Vec<u8>, new: NewContext<'_>) {
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    let refuse = |out: &mut Vec<u8>, why: &str| {
        Response::status(
            None,
            Status::No,
            Some(ResponseCode::NoUpdate(new.tag.to_owned())),
            why,
        )
        .encode(out);
    };
    if new.program.time_dependent() {
        // RFC 5032's OLDER/YOUNGER change their answer as time passes,
        // with no change to the mailbox to notice it by.
        refuse(out, "Results of OLDER/YOUNGER are not kept up to date");
        return;
    }
    if sel.live.list.len() >= MAX_LIVE_CONTEXTS {
        refuse(out, "Too many live search contexts");
        return;
    }
    let (seen_modseq, seen_uid) = high_marks(&sel.mailbox);
    sel.live.list.push(Live {
        tag: new.tag.to_owned(),
        uid: new.uid,
        program: new.program,
        order: new.order,
        result: new.result,
        seen_modseq,
        seen_uid,
    });
}

/// `CANCELUPDATE "tag" ...` (§4.3.5): all tags must name live contexts,
/// else nothing is cancelled and the answer is NO.
pub(crate) fn cancel(ctx: &mut Ctx, tags: &[String]) -> Reply {
    let Some(sel) = ctx.selected.as_mut() else {
        return Reply::bad("No mailbox selected");
    };
    if let Some(t) = tags.iter().find(|t| !sel.live.has_tag(t)) {
        return Reply::no(None, format!("No live search context has tag {t:?}"));
    }
    sel.live.list.retain(|l| !tags.contains(&l.tag));
    Reply::ok("CANCELUPDATE completed")
}

fn high_marks(mb: &Mailbox) -> (Option<Modseq>, Option<Uid>) {
    let mut modseq = None;
    let mut uid = None;
    for (u, m) in mb.modseqs() {
        modseq = modseq.max(Some(m));
        uid = uid.max(Some(u));
    }
    (modseq, uid)
}

/// Sends `REMOVEFROM` for the messages a refresh found expunged, before
/// the EXPUNGE (or VANISHED) responses that report them (§4.3.4), with the
/// sequence numbers the client still has. `expunged` is the store's list
/// (sequence numbers as before the refresh).
pub(crate) fn report_expunged(ctx: &mut Ctx, out: &mut Vec<u8>, expunged: &[(SeqNum, Uid)]) {
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    if expunged.is_empty() || sel.live.list.is_empty() {
        return;
    }
    let gone: std::collections::HashMap<Uid, SeqNum> =
        expunged.iter().map(|&(s, u)| (u, s)).collect();
    for live in &mut sel.live.list {
        let uid_numbers = live.uid;
        let number = |u: Uid| -> Option<u32> {
            if uid_numbers {
                Some(u.get())
            } else {
                gone.get(&u).map(|s| s.get())
            }
        };
        let removed: HashSet<Uid> = live
            .result
            .iter()
            .copied()
            .filter(|u| gone.contains_key(u))
            .collect();
        if removed.is_empty() {
            continue;
        }
        let pairs = removals(live, &removed, number);
        send(out, live, pairs, Vec::new());
    }
}

/// Re-evaluates, for every live context, the messages that changed or
/// appeared since it last looked (their modseq or UID is above what it
/// has seen), and sends `REMOVEFROM`/`ADDTO` with the numbers the client
/// has now, so after any EXISTS that announced them (§4.3.3).
pub(crate) fn report_changes(ctx: &mut Ctx, out: &mut Vec<u8>) {
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    if sel.live.list.is_empty() {
        return;
    }
    let mut lives = std::mem::take(&mut sel.live.list);
    for live in &mut lives {
        if let Err(e) = update_one(ctx, out, live) {
            log::error!("updating search context {:?}: {}", live.tag, e.text);
        }
    }
    if let Some(sel) = ctx.selected.as_mut() {
        // A context registered meanwhile cannot exist (nothing runs
        // between the take and here), but keep any just in case.
        lives.append(&mut sel.live.list);
        sel.live.list = lives;
    }
}

fn update_one(ctx: &mut Ctx, out: &mut Vec<u8>, live: &mut Live) -> Result<(), Reply> {
    let Ctx {
        selected,
        summaries,
        ..
    } = &mut *ctx;
    let Some(sel) = selected.as_mut() else {
        return Ok(());
    };
    let mb = &sel.mailbox;
    let candidates: Vec<Uid> = mb
        .modseqs()
        .filter(|&(u, m)| Some(m) > live.seen_modseq || Some(u) > live.seen_uid)
        .map(|(u, _)| u)
        .collect();
    // Messages that left the view without an expunge report (a reload
    // after the change log lost its place) leave silently.
    live.result.retain(|&u| mb.seq_of(u).is_some());
    let (seen_modseq, seen_uid) = high_marks(mb);
    live.seen_modseq = seen_modseq;
    live.seen_uid = seen_uid;
    if candidates.is_empty() {
        return Ok(());
    }
    let matched: HashSet<Uid> = live
        .program
        .filter(mb, summaries, &candidates)
        .map_err(|e| Reply::server_bug("updating a search context", &e))?
        .into_iter()
        .collect();
    let held: HashSet<Uid> = live.result.iter().copied().collect();
    let removed: HashSet<Uid> = candidates
        .iter()
        .copied()
        .filter(|u| held.contains(u) && !matched.contains(u))
        .collect();
    let mut added: Vec<Uid> = candidates
        .iter()
        .copied()
        .filter(|u| matched.contains(u) && !held.contains(u))
        .collect();
    if removed.is_empty() && added.is_empty() {
        return Ok(());
    }
    let uid_numbers = live.uid;
    let number = |u: Uid| -> Option<u32> {
        if uid_numbers {
            Some(u.get())
        } else {
            mb.seq_of(u).map(|s| s.get())
        }
    };
    let remove_pairs = removals(live, &removed, number);
    let add_pairs = match live.order.clone() {
        None => {
            added.sort_unstable();
            live.result.extend(added.iter().copied());
            live.result.sort_unstable();
            set_of(added.iter().filter_map(|&u| number(u)))
                .map(|s| vec![(0, s)])
                .unwrap_or_default()
        }
        Some(criteria) => {
            let mut all = live.result.clone();
            all.extend(added.iter().copied());
            all.sort_unstable();
            let new_order = sort::sorted_uids(ctx, &all, &criteria)?;
            let Some(sel) = ctx.selected.as_ref() else {
                return Ok(());
            };
            let mb = &sel.mailbox;
            let number = |u: Uid| -> Option<u32> {
                if uid_numbers {
                    Some(u.get())
                } else {
                    mb.seq_of(u).map(|s| s.get())
                }
            };
            let added: HashSet<Uid> = added.into_iter().collect();
            let pairs = insertions(&new_order, &added, number);
            live.result = new_order;
            pairs
        }
    };
    send(out, live, remove_pairs, add_pairs);
    Ok(())
}

/// Takes `removed` out of the context's result and gives the REMOVEFROM
/// pairs that say so: position 0 and mailbox order for SEARCH; for SORT
/// each run of neighbours at its position (where the first of them stands
/// before removal), a run's numbers ascending so the set lists them in
/// their order (§3.2, §4.3.2).
fn removals(
    live: &mut Live,
    removed: &HashSet<Uid>,
    number: impl Fn(Uid) -> Option<u32>,
) -> Vec<(u32, SeqSet)> {
    if removed.is_empty() {
        return Vec::new();
    }
    if live.order.is_none() {
        let mut gone: Vec<Uid> = removed.iter().copied().collect();
        gone.sort_unstable();
        live.result.retain(|u| !removed.contains(u));
        return set_of(gone.into_iter().filter_map(number))
            .map(|s| vec![(0, s)])
            .unwrap_or_default();
    }
    let mut runs: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut taken = 0usize;
    let mut prev_taken_at: Option<usize> = None;
    for (i, u) in live.result.iter().enumerate() {
        if !removed.contains(u) {
            continue;
        }
        let Some(n) = number(*u) else {
            taken += 1;
            continue;
        };
        let pos = u32::try_from(i - taken + 1).unwrap_or(u32::MAX);
        let adjacent = prev_taken_at == Some(i.wrapping_sub(1));
        match runs.last_mut() {
            Some((p, ns)) if adjacent && *p == pos && ns.last().is_some_and(|&l| l < n) => {
                ns.push(n)
            }
            _ => runs.push((pos, vec![n])),
        }
        taken += 1;
        prev_taken_at = Some(i);
    }
    live.result.retain(|u| !removed.contains(u));
    runs.into_iter()
        .filter_map(|(p, ns)| set_of(ns).map(|s| (p, s)))
        .collect()
}

/// The ADDTO pairs that turn the old result into `new_order` (which holds
/// it, in the same relative order, plus `added`): each run of added
/// neighbours with ascending numbers at the position its first one takes.
/// Applied in order, every earlier position is already final.
fn insertions(
    new_order: &[Uid],
    added: &HashSet<Uid>,
    number: impl Fn(Uid) -> Option<u32>,
) -> Vec<(u32, SeqSet)> {
    let mut runs: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut prev_added_at: Option<usize> = None;
    for (i, u) in new_order.iter().enumerate() {
        if !added.contains(u) {
            continue;
        }
        let Some(n) = number(*u) else { continue };
        let pos = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let adjacent = prev_added_at == Some(i.wrapping_sub(1));
        match runs.last_mut() {
            Some((p, ns))
                if adjacent
                    && ns.last().is_some_and(|&l| l < n)
                    && *p as usize + ns.len() == pos as usize =>
            {
                ns.push(n)
            }
            _ => runs.push((pos, vec![n])),
        }
        prev_added_at = Some(i);
    }
    runs.into_iter()
        .filter_map(|(p, ns)| set_of(ns).map(|s| (p, s)))
        .collect()
}

fn set_of(numbers: impl IntoIterator<Item = u32>) -> Option<SeqSet> {
    SeqSet::from_numbers(numbers)
}

fn send(out: &mut Vec<u8>, live: &Live, remove: Vec<(u32, SeqSet)>, add: Vec<(u32, SeqSet)>) {
    let mut items = Vec::new();
    if !remove.is_empty() {
        items.push(ESearchItem::RemoveFrom(remove));
    }
    if !add.is_empty() {
        items.push(ESearchItem::AddTo(add));
    }
    if items.is_empty() {
        return;
    }
    Response::ESearch {
        tag: Some(Cow::Borrowed(&live.tag)),
        uid: live.uid,
        items,
    }
    .encode(out);
}
