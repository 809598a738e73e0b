//! `[UID] SORT` (RFC 5256, SORT=DISPLAY RFC 5957, ESORT RFC 5267) and
//! `[UID] THREAD` (RFC 5256 ORDEREDSUBJECT and REFERENCES, and REFS of
//! draft-ietf-morg-inthread). The messages
//! come from the shared SEARCH evaluation; the keys and references from
//! each message's sealed summary (`mime::sort`) through the session's
//! `sort_cache` (ranks, numbered IDs), the algorithms from `mime::thread`. Never changes the mailbox; the only state it writes is
//! the saved result (`$`) of `SORT RETURN (SAVE)`.

use std::cmp::Ordering;
use std::num::NonZeroU32;

use crate::imap::commands::search::{self, Hit, Hits};
use crate::imap::commands::{returned, updates};
use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::command::{
    SearchReturnOpt, SortCommand, SortCriterion, SortKey, ThreadAlgorithm, ThreadCommand,
};
use crate::imap::wire::response::{Response, Status, ThreadList};
use crate::mime::thread::{self, Tree};
use crate::store::sort_keys::SortEntry;
use crate::store::types::Uid;

pub(crate) use super::sort_cache::SortKeyCache;

fn needs_summary(criteria: &[SortCriterion]) -> bool {
    criteria
        .iter()
        .any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size))
}

/// What one hit is sorted or threaded by: its entry in the session's
/// [`SortKeyCache`] and the store's facts.
struct Row {
    /// Position among the hits (sequence order), the last tie-breaker.
    pos: u32,
    /// Its entry in the sort-key cache (when a criterion needs one).
    entry: Option<u32>,
    arrival: i64,
    size: u32,
    /// Sent date in UTC seconds, INTERNALDATE when the Date header is
    /// missing or unparsable (RFC 5256 §2.2).
    date: i64,
}

/// Loads the rows of `hits` from the selected mailbox, filling the sort-key
/// cache first when `with_summary`.
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
    let mut cursor = 0;
    for (pos, &(seq, uid, _)) in hits.iter().enumerate() {
        let Some(facts) = mb.facts_near(uid, seq.index()) else {
            continue;
        };
        let arrival = facts.internal.unix_secs;
        let entry = if with_summary {
            sort_keys.index_of(uid, &mut cursor)
        } else {
            None
        };
        let date = entry
            .and_then(|i| sort_keys.keys(i))
            .and_then(SortEntry::date)
            .unwrap_or(arrival);
        out.push(Row {
            pos: u32::try_from(pos).unwrap_or(u32::MAX),
            entry: entry.and_then(|i| u32::try_from(i).ok()),
            arrival,
            size: facts.size,
            date,
        });
    }
    Ok(out)
}

/// `i` mapped to a `u64` in the same order.
fn ordered(i: i64) -> u64 {
    (i as u64) ^ (1 << 63)
}

/// The rows' positions in the order `criteria` give (ties in mailbox
/// order). Every criterion becomes an integer per row first (string keys
/// their rank in the cache, REVERSE a bitwise complement), so sorting
/// compares integers only.
fn order(rows: &[Row], keys: &mut SortKeyCache, criteria: &[SortCriterion]) -> Vec<u32> {
    let mut columns: Vec<Vec<u64>> = Vec::with_capacity(criteria.len());
    for c in criteria {
        let col: Vec<u64> = match keys.ranks(c.key) {
            Some(ranks) => rows
                .iter()
                .map(|r| {
                    let rank = r.entry.and_then(|i| ranks.get(i as usize));
                    rank.map_or(0, |&x| u64::from(x))
                })
                .collect(),
            None => rows
                .iter()
                .map(|r| match c.key {
                    SortKey::Arrival => ordered(r.arrival),
                    SortKey::Size => u64::from(r.size),
                    _ => ordered(r.date),
                })
                .collect(),
        };
        columns.push(if c.reverse {
            col.into_iter().map(|v| !v).collect()
        } else {
            col
        });
    }
    match columns.as_slice() {
        [] => rows.iter().map(|r| r.pos).collect(),
        [only] => {
            let mut v: Vec<(u64, u32)> = only.iter().zip(rows).map(|(&k, r)| (k, r.pos)).collect();
            v.sort_unstable();
            v.into_iter().map(|(_, p)| p).collect()
        }
        cols => {
            let mut idx: Vec<u32> = (0..u32::try_from(rows.len()).unwrap_or(u32::MAX)).collect();
            let pos = |i: u32| rows.get(i as usize).map_or(u32::MAX, |r| r.pos);
            idx.sort_unstable_by(|&a, &b| {
                for col in cols {
                    let o = col.get(a as usize).cmp(&col.get(b as usize));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                // RFC 5256 §3: exact matches stay in mailbox order
                // (REVERSE does not apply to this tie-break).
                pos(a).cmp(&pos(b))
            });
            idx.into_iter().map(pos).collect()
        }
    }
}

/// `hits` sorted by `criteria` (RFC 5256 §3).
fn sorted_hits<'h>(
    ctx: &mut Ctx,
    hits: &'h Hits,
    criteria: &[SortCriterion],
) -> Result<Vec<&'h Hit>, Reply> {
    let rows = rows(ctx, hits, needs_summary(criteria))?;
    let positions = order(&rows, &mut ctx.sort_keys, criteria);
    Ok(positions
        .into_iter()
        .filter_map(|p| hits.get(p as usize))
        .collect())
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
    let sorted = match sorted_hits(ctx, &hits, &cmd.criteria) {
        Ok(s) => s,
        Err(r) => return r,
    };
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
    Ok(sorted_hits(ctx, &hits, criteria)?
        .into_iter()
        .map(|h| h.1)
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
    let numbers: Vec<Option<NonZeroU32>> = rows
        .iter()
        .map(|r| hits.get(r.pos as usize).and_then(|h| number(cmd.uid, h)))
        .collect();
    let refs = cmd.algorithm == ThreadAlgorithm::Refs;
    // REFS does not look at subjects: they stay unnumbered.
    let input = ctx.sort_keys.numbered(
        rows.iter().map(|r| (r.entry.map(|i| i as usize), r.date)),
        !refs,
    );
    let trees = match cmd.algorithm {
        ThreadAlgorithm::OrderedSubject => thread::ordered_subject_numbered(&input),
        ThreadAlgorithm::References => thread::references_numbered(&input),
        ThreadAlgorithm::Refs => thread::refs_numbered(&input),
    };
    Response::Thread(trees.iter().map(|t| to_wire(t, &numbers)).collect()).encode(out);
    Reply::ok("THREAD completed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::sort::SortFields;
    use crate::mime::thread::ThreadInput;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    const KEYS: [SortKey; 9] = [
        SortKey::Arrival,
        SortKey::Cc,
        SortKey::Date,
        SortKey::From,
        SortKey::Size,
        SortKey::Subject,
        SortKey::To,
        SortKey::DisplayFrom,
        SortKey::DisplayTo,
    ];

    /// A random mailbox: the cache (entries inserted in a random order,
    /// UIDs with gaps) and the hits' rows (a random subset, ascending).
    /// Each message's Date header instant and fields, by cache entry.
    type Plain = Vec<(Option<i64>, SortFields)>;

    fn mailbox(rng: &mut Rng) -> (SortKeyCache, Vec<Row>, Plain) {
        let words = [
            "",
            "a",
            "A",
            "ab",
            "b",
            "é",
            "e\u{301}",
            "zz",
            "abcdefghij",
            "abcdefghi",
        ];
        let n = 1 + rng.next(60) as usize;
        let mut uid = 0u32;
        let mut entries = Vec::new();
        let mut all = Vec::new();
        for _ in 0..n {
            uid += 1 + rng.next(3) as u32;
            let mut w = || words[rng.next(words.len() as u64) as usize].to_owned();
            let fields = SortFields {
                base_subject: w(),
                from: w(),
                to: w(),
                cc: w(),
                display_from: w(),
                display_to: w(),
                ..SortFields::default()
            };
            let date = (rng.next(4) != 0).then(|| rng.next(6) as i64 - 3);
            entries.push((Uid::new(uid).unwrap(), SortEntry::new(date, &fields)));
            all.push((date, fields));
        }
        for i in (1..entries.len()).rev() {
            entries.swap(i, rng.next(i as u64 + 1) as usize);
        }
        let cache = SortKeyCache::of_entries(entries);
        let mut rows = Vec::new();
        for (entry, k) in all.iter().enumerate() {
            if rng.next(4) == 0 {
                continue;
            }
            let arrival = rng.next(6) as i64 - 3;
            rows.push(Row {
                pos: rows.len() as u32,
                entry: Some(entry as u32),
                arrival,
                size: rng.next(4) as u32,
                date: k.0.unwrap_or(arrival),
            });
        }
        (cache, rows, all)
    }

    /// The plain answer: a comparison sort on the strings themselves.
    fn plain(
        rows: &[Row],
        all: &[(Option<i64>, SortFields)],
        criteria: &[SortCriterion],
    ) -> Vec<u32> {
        let f = |r: &Row| &all[r.entry.unwrap() as usize].1;
        let mut v: Vec<&Row> = rows.iter().collect();
        v.sort_by(|a, b| {
            for c in criteria {
                let o = match c.key {
                    SortKey::Arrival => a.arrival.cmp(&b.arrival),
                    SortKey::Date => a.date.cmp(&b.date),
                    SortKey::Size => a.size.cmp(&b.size),
                    SortKey::Subject => f(a).base_subject.cmp(&f(b).base_subject),
                    SortKey::From => f(a).from.cmp(&f(b).from),
                    SortKey::To => f(a).to.cmp(&f(b).to),
                    SortKey::Cc => f(a).cc.cmp(&f(b).cc),
                    SortKey::DisplayFrom => f(a).display_from.cmp(&f(b).display_from),
                    SortKey::DisplayTo => f(a).display_to.cmp(&f(b).display_to),
                };
                let o = if c.reverse { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.pos.cmp(&b.pos)
        });
        v.into_iter().map(|r| r.pos).collect()
    }

    #[test]
    fn property_rank_sort_equals_comparison_sort() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let (mut cache, rows, all) = mailbox(&mut rng);
            let criteria: Vec<SortCriterion> = (0..1 + rng.next(3))
                .map(|_| SortCriterion {
                    reverse: rng.next(2) == 0,
                    key: KEYS[rng.next(KEYS.len() as u64) as usize],
                })
                .collect();
            assert_eq!(
                order(&rows, &mut cache, &criteria),
                plain(&rows, &all, &criteria),
                "{criteria:?}"
            );
        }
    }

    #[test]
    fn property_numbered_threads_equal_threads_of_strings() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let subjects = ["", "a", "b", "c", "ab"];
        for _ in 0..500 {
            let n = 1 + rng.next(40) as usize;
            let mut entries = Vec::new();
            let mut all = Vec::new();
            for i in 0..n {
                let id = |k: u64| format!("{k}@x");
                let fields = SortFields {
                    base_subject: subjects[rng.next(5) as usize].to_owned(),
                    is_reply: rng.next(2) == 0,
                    message_id: (rng.next(5) != 0).then(|| id(rng.next(12))),
                    references: (0..rng.next(6)).map(|_| id(rng.next(12))).collect(),
                    ..SortFields::default()
                };
                let date = rng.next(5) as i64;
                all.push((date, fields.clone()));
                entries.push((
                    Uid::new(i as u32 + 1).unwrap(),
                    SortEntry::new(Some(date), &fields),
                ));
            }
            let mut cache = SortKeyCache::of_entries(entries);
            let strings: Vec<ThreadInput> = all
                .iter()
                .map(|(date, fields)| ThreadInput {
                    date: *date,
                    fields,
                })
                .collect();
            let msgs = || (0..n).map(|i| (Some(i), all[i].0));
            let numbered = cache.numbered(msgs(), true);
            assert_eq!(
                thread::references_numbered(&numbered),
                thread::references(&strings)
            );
            assert_eq!(
                thread::ordered_subject_numbered(&numbered),
                thread::ordered_subject(&strings)
            );
            let numbered = cache.numbered(msgs(), false);
            assert_eq!(thread::refs_numbered(&numbered), thread::refs(&strings));
        }
    }
}
