//! `[UID] SORT` (RFC 5256, SORT=DISPLAY RFC 5957, ESORT RFC 5267) and
//! `[UID] THREAD` (RFC 5256 ORDEREDSUBJECT and REFERENCES, and REFS of
//! draft-ietf-morg-inthread). The messages
//! come from the shared SEARCH evaluation; the keys and references from
//! each message's sealed summary (`mime::sort`), the algorithms from
//! `mime::thread`. Never changes the mailbox; the only state it writes is
//! the saved result (`$`) of `SORT RETURN (SAVE)`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use crate::imap::commands::search::{self, Hit, Hits};
use crate::imap::commands::{returned, updates};
use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::command::{
    SearchReturnOpt, SortCommand, SortCriterion, SortKey, ThreadAlgorithm, ThreadCommand,
};
use crate::imap::wire::response::{Response, Status, ThreadList};
use crate::mime::sort::SortFields;
use crate::mime::thread::{self, ThreadInput, Tree};
use crate::store::account::MailboxId;
use crate::store::mailbox::{Mailbox, MailboxError};
use crate::store::types::Uid;

/// Entries kept before the cache is dropped and refilled: about 300 bytes
/// each, so a 200,000-message mailbox costs some 60 MB while it is sorted
/// or threaded, and an idle session nothing.
const SORT_CACHE_LIMIT: usize = 200_000;

/// What SORT and THREAD need of each message (the Date header's instant
/// and the summary's sort fields), kept for the session so a repeated SORT
/// on a large mailbox does not unseal every summary again: summaries are
/// immutable per UID, so entries never go stale. Unlike `SummaryCache`
/// (whole summaries, 4,096 at most) it holds only these small keys.
#[derive(Default)]
pub(crate) struct SortKeyCache {
    mailbox: Option<MailboxId>,
    map: HashMap<Uid, Keys>,
    /// The mailbox's sealed sort-key file was read into `map`.
    stored_read: bool,
}

/// Keys read from summaries in one fill at or above which the sealed
/// sort-key file is rewritten: enough that the next session saves real
/// work, few enough rewrites that a mailbox receiving mail one message at
/// a time does not rewrite a large file after every SORT.
const STORE_MIN: usize = 64;

/// Below this many uncached messages the keys are read on this thread.
const PARALLEL_MIN: usize = 256;

/// A message's Date header instant and sort fields.
type Keys = Arc<(Option<i64>, SortFields)>;

fn load(mb: &Mailbox, uid: Uid) -> Result<Keys, MailboxError> {
    let s = mb.summary(uid)?;
    Ok(Arc::new((s.search.date.map(|d| d.unix_seconds), s.sort)))
}

impl SortKeyCache {
    /// Reads the keys of those of `uids` not cached yet: first from the
    /// mailbox's sealed sort-key file (one file for the whole mailbox),
    /// then from the summaries of the rest, on every core when there are
    /// many (each summary is a file to unseal and decode); many of those
    /// are written back to the sort-key file for the next session.
    fn fill(&mut self, mb: &Mailbox, uids: &[Uid]) -> Result<(), MailboxError> {
        if self.mailbox != Some(mb.id()) {
            self.map.clear();
            self.mailbox = Some(mb.id());
            self.stored_read = false;
        }
        if !self.stored_read {
            self.stored_read = true;
            for (uid, date, fields) in mb.cached_sort_keys() {
                self.map.insert(uid, Arc::new((date, fields)));
            }
        }
        let missing: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|u| !self.map.contains_key(u))
            .collect();
        self.read_summaries(mb, &missing)?;
        if missing.len() >= STORE_MIN {
            let known: Vec<(Uid, Option<i64>, &SortFields)> = mb
                .uids()
                .filter_map(|u| self.map.get(&u).map(|k| (u, k.0, &k.1)))
                .collect();
            // Only a complete set is written: after the cache was cleared
            // (a mailbox past SORT_CACHE_LIMIT) it would shrink the file.
            if known.len() == mb.uids().count() {
                mb.store_sort_keys(&known);
            }
        }
        Ok(())
    }

    /// Reads the keys of `missing` from their summaries, on every core
    /// when there are many.
    fn read_summaries(&mut self, mb: &Mailbox, missing: &[Uid]) -> Result<(), MailboxError> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        if missing.len() < PARALLEL_MIN || threads < 2 {
            for &u in missing {
                let k = load(mb, u)?;
                self.map.insert(u, k);
            }
            return Ok(());
        }
        let chunk = missing.len().div_ceil(threads);
        let parts: Vec<Result<Vec<(Uid, Keys)>, MailboxError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = missing
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&u| load(mb, u).map(|k| (u, k)))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        if self.map.len() + missing.len() > SORT_CACHE_LIMIT {
            self.map.clear();
            self.stored_read = false;
        }
        for p in parts {
            self.map.extend(p?);
        }
        // A panicked reader leaves its messages uncached; `get` reads
        // them one by one.
        Ok(())
    }

    fn get(
        &mut self,
        mb: &Mailbox,
        uid: Uid,
    ) -> Result<Arc<(Option<i64>, SortFields)>, MailboxError> {
        if self.mailbox != Some(mb.id()) {
            self.map.clear();
            self.mailbox = Some(mb.id());
            self.stored_read = false;
        }
        if let Some(k) = self.map.get(&uid) {
            return Ok(k.clone());
        }
        let k = load(mb, uid)?;
        if self.map.len() >= SORT_CACHE_LIMIT {
            self.map.clear();
            self.stored_read = false;
        }
        self.map.insert(uid, k.clone());
        Ok(k)
    }
}

/// What one message is sorted by: its facts from the store and, when a
/// criterion needs them, its summary's sort fields.
struct Row {
    /// Position among the hits (sequence order), the last tie-breaker.
    pos: usize,
    arrival: i64,
    size: u32,
    /// Sent date in UTC seconds, INTERNALDATE when the Date header is
    /// missing or unparsable (RFC 5256 §2.2).
    date: i64,
    fields: Keys,
    /// The first criterion's string key, its first 8 bytes big-endian
    /// (0 when it is not a string): compared first, it decides most
    /// comparisons without following `fields` to the heap.
    prefix: u64,
}

/// The string a criterion sorts by, if it sorts by a string.
fn string_key(row: &Row, key: SortKey) -> Option<&str> {
    let f = &row.fields.1;
    Some(match key {
        SortKey::Subject => &f.base_subject,
        SortKey::From => &f.from,
        SortKey::To => &f.to,
        SortKey::Cc => &f.cc,
        SortKey::DisplayFrom => &f.display_from,
        SortKey::DisplayTo => &f.display_to,
        SortKey::Arrival | SortKey::Date | SortKey::Size => return None,
    })
}

/// Fills [`Row::prefix`] for the first criterion. Zero padding keeps the
/// order: where two prefixes differ, the strings compare the same way.
fn set_prefixes(rows: &mut [Row], criteria: &[SortCriterion]) {
    let Some(first) = criteria.first() else {
        return;
    };
    for r in rows {
        if let Some(s) = string_key(r, first.key) {
            let mut b = [0u8; 8];
            let n = s.len().min(8);
            b[..n].copy_from_slice(&s.as_bytes()[..n]);
            r.prefix = u64::from_be_bytes(b);
        }
    }
}

fn needs_summary(criteria: &[SortCriterion]) -> bool {
    criteria
        .iter()
        .any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size))
}

/// Loads the rows of `hits` from the selected mailbox.
fn rows(ctx: &mut Ctx, hits: &Hits, with_summary: bool) -> Result<Vec<Row>, Reply> {
    let Ctx {
        selected,
        sort_keys,
        ..
    } = ctx;
    let Some(sel) = selected.as_ref() else {
        return Err(Reply::bad("No mailbox selected"));
    };
    let mb = &sel.mailbox;
    if with_summary {
        let uids: Vec<Uid> = hits.iter().map(|h| h.1).collect();
        sort_keys
            .fill(mb, &uids)
            .map_err(|e| Reply::server_bug("SORT", &e))?;
    }
    let mut out = Vec::with_capacity(hits.len());
    for (pos, &(_, uid, _)) in hits.iter().enumerate() {
        let Some(info) = mb.info(uid) else { continue };
        let arrival = info.internal.unix_secs;
        let (date, fields) = if with_summary {
            let k = sort_keys
                .get(mb, uid)
                .map_err(|e| Reply::server_bug("SORT", &e))?;
            (k.0.unwrap_or(arrival), k)
        } else {
            (arrival, Arc::default())
        };
        out.push(Row {
            pos,
            arrival,
            size: info.size,
            date,
            fields,
            prefix: 0,
        });
    }
    Ok(out)
}

fn compare(a: &Row, b: &Row, criteria: &[SortCriterion]) -> Ordering {
    for (i, c) in criteria.iter().enumerate() {
        let early = if i == 0 {
            a.prefix.cmp(&b.prefix)
        } else {
            Ordering::Equal
        };
        let o = match c.key {
            _ if early != Ordering::Equal => early,
            SortKey::Arrival => a.arrival.cmp(&b.arrival),
            SortKey::Date => a.date.cmp(&b.date),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Subject => a.fields.1.base_subject.cmp(&b.fields.1.base_subject),
            SortKey::From => a.fields.1.from.cmp(&b.fields.1.from),
            SortKey::To => a.fields.1.to.cmp(&b.fields.1.to),
            SortKey::Cc => a.fields.1.cc.cmp(&b.fields.1.cc),
            SortKey::DisplayFrom => a.fields.1.display_from.cmp(&b.fields.1.display_from),
            SortKey::DisplayTo => a.fields.1.display_to.cmp(&b.fields.1.display_to),
        };
        let o = if c.reverse { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    // RFC 5256 §3: exact matches stay in mailbox order (REVERSE does not
    // apply to this tie-break).
    a.pos.cmp(&b.pos)
}

/// The number a response carries for hit `h`.
fn number(uid_cmd: bool, h: &Hit) -> Option<NonZeroU32> {
    NonZeroU32::new(if uid_cmd { h.1.get() } else { h.0.get() })
}

/// `[UID] SORT`; `tag` is echoed by an ESORT answer.
pub(crate) fn sort(ctx: &mut Ctx, out: &mut Vec<u8>, tag: &str, cmd: &SortCommand) -> Reply {
    let save = cmd
        .return_opts
        .as_ref()
        .is_some_and(|o| o.contains(&SearchReturnOpt::Save));
    let reply = run_sort(ctx, out, tag, cmd);
    if save && reply.status != Status::Ok {
        // RFC 5182 §2.1: a failed command with RETURN (SAVE) empties `$`.
        if let Some(sel) = ctx.selected.as_mut() {
            sel.saved.clear();
        }
    }
    reply
}

fn run_sort(ctx: &mut Ctx, out: &mut Vec<u8>, tag: &str, cmd: &SortCommand) -> Reply {
    if let Err(r) = search::check_charset(&cmd.charset) {
        return r;
    }
    let update = cmd
        .return_opts
        .as_ref()
        .is_some_and(|o| o.contains(&SearchReturnOpt::Update));
    if update {
        if let Err(r) = updates::check_tag(ctx, tag) {
            return r;
        }
    }
    let (hits, uses_modseq, program) = match search::matching_program(ctx, out, &cmd.search) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut rows = match rows(ctx, &hits, needs_summary(&cmd.criteria)) {
        Ok(r) => r,
        Err(r) => return r,
    };
    set_prefixes(&mut rows, &cmd.criteria);
    rows.sort_by(|a, b| compare(a, b, &cmd.criteria));
    let sorted: Vec<&Hit> = rows.iter().filter_map(|r| hits.get(r.pos)).collect();
    let numbers: Vec<NonZeroU32> = sorted.iter().filter_map(|h| number(cmd.uid, h)).collect();
    let top_modseq = || sorted.iter().map(|h| h.2).max().filter(|_| uses_modseq);
    let Some(opts) = &cmd.return_opts else {
        Response::Sort {
            numbers,
            modseq: top_modseq(),
        }
        .encode(out);
        return Reply::ok("SORT completed");
    };
    // ESORT (RFC 5267 §3): as ESEARCH, with MIN/MAX the first/last in
    // sort order and ALL and PARTIAL in sort order.
    let sorted: Vec<Hit> = sorted.into_iter().copied().collect();
    let reply = returned::answer(
        opts,
        &sorted,
        cmd.uid,
        uses_modseq,
        ctx.selected.as_mut().map(|sel| &mut sel.saved),
        tag,
        out,
        "SORT",
    );
    if update && reply.status == Status::Ok {
        let new = updates::NewContext {
            tag,
            uid: cmd.uid,
            program,
            order: Some(cmd.criteria.clone()),
            result: sorted.iter().map(|h| h.1).collect(),
        };
        updates::register(ctx, out, new);
    }
    reply
}

/// `uids` (ascending) in the order `criteria` give, ties in mailbox
/// order: how a live SORT context places new members.
pub(crate) fn sorted_uids(
    ctx: &mut Ctx,
    uids: &[Uid],
    criteria: &[SortCriterion],
) -> Result<Vec<Uid>, Reply> {
    let Some(sel) = ctx.selected.as_ref() else {
        return Err(Reply::bad("No mailbox selected"));
    };
    let mb = &sel.mailbox;
    let hits: Hits = uids
        .iter()
        .filter_map(|&u| {
            let info = mb.info(u)?;
            Some((mb.seq_of(u)?, u, info.modseq))
        })
        .collect();
    let mut rows = rows(ctx, &hits, needs_summary(criteria))?;
    set_prefixes(&mut rows, criteria);
    rows.sort_by(|a, b| compare(a, b, criteria));
    Ok(rows
        .iter()
        .filter_map(|r| hits.get(r.pos).map(|h| h.1))
        .collect())
}

/// A `mime::thread` tree with message numbers in place of input indices.
fn to_wire(t: &Tree, numbers: &[Option<NonZeroU32>]) -> ThreadList {
    ThreadList {
        members: t
            .members
            .iter()
            .filter_map(|&i| numbers.get(i).copied().flatten())
            .collect(),
        children: t.children.iter().map(|c| to_wire(c, numbers)).collect(),
    }
}

/// `[UID] THREAD`.
pub(crate) fn thread(ctx: &mut Ctx, out: &mut Vec<u8>, cmd: &ThreadCommand) -> Reply {
    if let Err(r) = search::check_charset(&cmd.charset) {
        return r;
    }
    let (hits, _) = match search::matching(ctx, out, &cmd.search) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let rows = match rows(ctx, &hits, true) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let input: Vec<ThreadInput> = rows
        .iter()
        .map(|r| ThreadInput {
            date: r.date,
            fields: &r.fields.1,
        })
        .collect();
    let numbers: Vec<Option<NonZeroU32>> = rows
        .iter()
        .map(|r| hits.get(r.pos).and_then(|h| number(cmd.uid, h)))
        .collect();
    let trees = match cmd.algorithm {
        ThreadAlgorithm::OrderedSubject => thread::ordered_subject(&input),
        ThreadAlgorithm::References => thread::references(&input),
        ThreadAlgorithm::Refs => thread::refs(&input),
    };
    Response::Thread(trees.iter().map(|t| to_wire(t, &numbers)).collect()).encode(out);
    Reply::ok("THREAD completed")
}
