//! The session's cache of what SORT and THREAD need of each message of the
//! selected mailbox (the Date header's instant and the summary's sort
//! fields), and what is derived from it once for every later command: per
//! key ranks, so a SORT orders integers, and interned Message-IDs, so
//! THREAD links integers. Reads keys only through the mailbox (its sealed
//! sort-key file, its summaries); never decides an order and never writes
//! a response.

use std::collections::HashMap;

use crate::imap::wire::command::SortKey;
use crate::mime::thread::Numbered;
use crate::store::account::MailboxId;
use crate::store::mailbox::{Mailbox, MailboxError};
use crate::store::sort_keys::SortEntry;
use crate::store::types::Uid;

/// Entries kept before the cache is dropped and refilled: about 300 bytes
/// each, so a 200,000-message mailbox costs some 60 MB while it is sorted
/// or threaded, and an idle session nothing.
const SORT_CACHE_LIMIT: usize = 200_000;

/// Keys read from summaries in one fill at or above which the sealed
/// sort-key file is rewritten: enough that the next session saves real
/// work, few enough rewrites that a mailbox receiving mail one message at
/// a time does not rewrite a large file after every SORT.
const STORE_MIN: usize = 64;

/// Below this many uncached messages the keys are read on this thread.
const PARALLEL_MIN: usize = 256;

/// The keys of the selected mailbox's messages, by ascending UID, kept
/// for the session: summaries are immutable per UID, so entries never go
/// stale (an expunged message's entry lingers, unused, until the session
/// selects another mailbox or the cache passes its limit).
#[derive(Default)]
pub(crate) struct SortKeyCache {
    mailbox: Option<MailboxId>,
    /// Ascending.
    uids: Vec<Uid>,
    /// `keys[i]` belongs to `uids[i]`.
    keys: Vec<SortEntry>,
    /// The mailbox's sealed sort-key file was read.
    stored_read: bool,
    /// Derived from `keys`; dropped whenever an entry is added.
    derived: Derived,
}

#[derive(Default)]
struct Derived {
    /// By [`string_slot`]: for each entry, the rank of its string among
    /// all entries' (equal strings, equal ranks; byte order).
    ranks: [Option<Vec<u32>>; 6],
    ids: Option<ThreadIds>,
}

/// The Message-IDs and References of every entry as dense integers
/// (equal IDs, equal numbers).
struct ThreadIds {
    /// By entry: its Message-ID's number.
    message_id: Vec<Option<u32>>,
    /// By entry: the range of `refs` holding its References.
    spans: Vec<(u32, u32)>,
    refs: Vec<u32>,
}

impl ThreadIds {
    /// Entry `i`'s Message-ID number.
    fn message_id(&self, i: usize) -> Option<u32> {
        self.message_id.get(i).copied().flatten()
    }

    /// Entry `i`'s References numbers, oldest first.
    fn references(&self, i: usize) -> &[u32] {
        self.spans
            .get(i)
            .and_then(|&(a, b)| self.refs.get(a as usize..b as usize))
            .unwrap_or(&[])
    }
}

/// The slot of a string key in [`Derived::ranks`]; None for the others.
fn string_slot(key: SortKey) -> Option<usize> {
    Some(match key {
        SortKey::Subject => 0,
        SortKey::From => 1,
        SortKey::To => 2,
        SortKey::Cc => 3,
        SortKey::DisplayFrom => 4,
        SortKey::DisplayTo => 5,
        SortKey::Arrival | SortKey::Date | SortKey::Size => return None,
    })
}

/// The string a key of [`string_slot`] `slot` sorts by in `e`.
fn string_of(e: &SortEntry, slot: usize) -> &str {
    match slot {
        0 => e.base_subject(),
        1 => e.from(),
        2 => e.to(),
        3 => e.cc(),
        4 => e.display_from(),
        _ => e.display_to(),
    }
}

fn load(mb: &Mailbox, uid: Uid) -> Result<(Uid, SortEntry), MailboxError> {
    let s = mb.summary(uid)?;
    Ok((
        uid,
        SortEntry::new(s.search.date.map(|d| d.unix_seconds), &s.sort),
    ))
}

impl SortKeyCache {
    /// Gives its memory back unless it holds mailbox `keep`'s keys (the
    /// mailbox selected now, if any).
    pub(crate) fn release_unless(&mut self, keep: Option<MailboxId>) {
        if self.mailbox.is_some() && self.mailbox != keep {
            *self = SortKeyCache::default();
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    fn reset(&mut self) {
        self.uids = Vec::new();
        self.keys = Vec::new();
        self.stored_read = false;
        self.derived = Derived::default();
    }

    /// Makes sure every one of `uids` (ascending) has its entry: first
    /// from the mailbox's sealed sort-key file (one file for the whole
    /// mailbox), then from the summaries of the rest, on every core when
    /// there are many (each summary is a file to unseal and decode); many
    /// of those are written back to the sort-key file for the next
    /// session.
    pub(crate) fn fill(&mut self, mb: &Mailbox, uids: &[Uid]) -> Result<(), MailboxError> {
        if self.mailbox != Some(mb.id()) {
            self.reset();
            self.mailbox = Some(mb.id());
        }
        if !self.stored_read {
            self.stored_read = true;
            self.insert(mb.cached_sort_keys());
        }
        let mut missing = self.missing(uids);
        if missing.is_empty() {
            return Ok(());
        }
        if self.uids.len() + missing.len() > SORT_CACHE_LIMIT {
            // Start again with only what this command needs; the next
            // fill reads the file again.
            self.reset();
            self.mailbox = Some(mb.id());
            let mut stored = mb.cached_sort_keys();
            stored.retain(|(u, _)| uids.binary_search(u).is_ok());
            self.insert(stored);
            missing = self.missing(uids);
        }
        let loaded = read_summaries(mb, &missing)?;
        self.insert(loaded);
        if missing.len() >= STORE_MIN {
            let mut cursor = 0;
            let known: Vec<(Uid, &SortEntry)> = mb
                .uids()
                .filter_map(|u| Some((u, self.keys.get(self.index_of(u, &mut cursor)?)?)))
                .collect();
            // Only a complete set is written: after the cache was cleared
            // (a mailbox past SORT_CACHE_LIMIT) it would shrink the file.
            if known.len() == mb.uids().count() {
                mb.store_sort_keys(&known);
            }
        }
        Ok(())
    }

    /// Those of `uids` (ascending) without an entry.
    fn missing(&self, uids: &[Uid]) -> Vec<Uid> {
        let mut cursor = 0;
        uids.iter()
            .copied()
            .filter(|&u| self.index_of(u, &mut cursor).is_none())
            .collect()
    }

    /// Adds entries (any order; UIDs already cached are ignored).
    fn insert(&mut self, mut new: Vec<(Uid, SortEntry)>) {
        if new.is_empty() {
            return;
        }
        self.derived = Derived::default();
        if !new.windows(2).all(|w| w[0].0 <= w[1].0) {
            new.sort_unstable_by_key(|e| e.0);
        }
        new.dedup_by_key(|e| e.0);
        let only_newer = match (self.uids.last(), new.first()) {
            (Some(last), Some(first)) => first.0 > *last,
            _ => true,
        };
        if only_newer {
            // New mail: UIDs only grow.
            for (u, k) in new {
                self.uids.push(u);
                self.keys.push(k);
            }
            return;
        }
        let old_uids = std::mem::take(&mut self.uids);
        let old_keys = std::mem::take(&mut self.keys);
        let mut old = old_uids.into_iter().zip(old_keys).peekable();
        let mut new = new.into_iter().peekable();
        loop {
            let take_old = match (old.peek(), new.peek()) {
                (Some(o), Some(n)) => o.0 <= n.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_old { old.next() } else { new.next() };
            if let Some((u, k)) = next {
                if self.uids.last() == Some(&u) {
                    continue;
                }
                self.uids.push(u);
                self.keys.push(k);
            }
        }
    }

    /// The entry index of `uid`. `cursor` is where the previous, smaller
    /// UID was found: walking ascending UIDs costs a comparison each.
    pub(crate) fn index_of(&self, uid: Uid, cursor: &mut usize) -> Option<usize> {
        let rest = self.uids.get(*cursor..).unwrap_or(&[]);
        let i = match rest.first() {
            Some(&u) if u == uid => *cursor,
            Some(&u) if u < uid => {
                *cursor + 1 + rest.get(1..).unwrap_or(&[]).partition_point(|&x| x < uid)
            }
            _ => self.uids.partition_point(|&x| x < uid),
        };
        *cursor = i;
        (self.uids.get(i) == Some(&uid)).then_some(i)
    }

    /// The keys of entry `i`.
    pub(crate) fn keys(&self, i: usize) -> Option<&SortEntry> {
        self.keys.get(i)
    }

    /// Each entry's rank for the string key `key` (None for the other
    /// keys), computed on first use with one sort of all entries.
    pub(crate) fn ranks(&mut self, key: SortKey) -> Option<&[u32]> {
        let slot = string_slot(key)?;
        self.ensure_ranks(slot);
        self.derived.ranks.get(slot)?.as_deref()
    }

    fn ensure_ranks(&mut self, slot: usize) {
        let keys = &self.keys;
        let Some(place) = self.derived.ranks.get_mut(slot) else {
            return;
        };
        if place.is_some() {
            return;
        }
        // Each string's first 8 bytes (zero padded) decide most
        // comparisons without following the string: where two prefixes
        // differ, the strings compare the same way. The strings are taken
        // out of their entries once, not at every comparison.
        let prefix = |t: &str| {
            let mut b = [0u8; 8];
            let n = t.len().min(8);
            b[..n].copy_from_slice(&t.as_bytes()[..n]);
            u64::from_be_bytes(b)
        };
        let mut order: Vec<(u64, &str, u32)> = keys
            .iter()
            .zip(0..u32::MAX)
            .map(|(k, i)| {
                let t = string_of(k, slot);
                (prefix(t), t, i)
            })
            .collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let mut ranks = vec![0u32; keys.len()];
        let mut rank = 0u32;
        let mut prev: Option<&str> = None;
        for (_, cur, i) in order {
            if prev.is_some_and(|p| p != cur) {
                rank += 1;
            }
            prev = Some(cur);
            if let Some(r) = ranks.get_mut(i as usize) {
                *r = rank;
            }
        }
        *place = Some(ranks);
    }

    fn ensure_thread_ids(&mut self) {
        if self.derived.ids.is_some() {
            return;
        }
        let keys = &self.keys;
        let mut table: HashMap<&str, u32> = HashMap::with_capacity(keys.len() * 2);
        fn number<'k>(table: &mut HashMap<&'k str, u32>, id: &'k str) -> u32 {
            let next = u32::try_from(table.len()).unwrap_or(u32::MAX);
            *table.entry(id).or_insert(next)
        }
        let mut ids = ThreadIds {
            message_id: Vec::with_capacity(keys.len()),
            spans: Vec::with_capacity(keys.len()),
            refs: Vec::with_capacity(keys.len()),
        };
        for k in keys {
            ids.message_id
                .push(k.message_id().map(|id| number(&mut table, id)));
            let start = u32::try_from(ids.refs.len()).unwrap_or(u32::MAX);
            ids.refs
                .extend(k.references().map(|r| number(&mut table, r)));
            let end = u32::try_from(ids.refs.len()).unwrap_or(u32::MAX);
            ids.spans.push((start, end));
        }
        self.derived.ids = Some(ids);
    }

    /// The THREAD input of messages given as (entry, sent date), with
    /// IDs numbered and, when `subjects`, non-empty base subjects
    /// numbered by their rank, so in byte order (a message without an
    /// entry threads alone).
    pub(crate) fn numbered(
        &mut self,
        msgs: impl Iterator<Item = (Option<usize>, i64)>,
        subjects: bool,
    ) -> Vec<Numbered<'_>> {
        const SUBJECT: usize = 0;
        if subjects {
            self.ensure_ranks(SUBJECT);
        }
        self.ensure_thread_ids();
        let ranks = self.derived.ranks.get(SUBJECT).and_then(Option::as_deref);
        let ids = self.derived.ids.as_ref();
        let keys = &self.keys;
        msgs.map(|(entry, date)| {
            let k = entry.and_then(|i| keys.get(i));
            let i = entry.unwrap_or(usize::MAX);
            Numbered {
                date,
                message_id: ids.and_then(|t| t.message_id(i)),
                references: ids.map_or(&[], |t| t.references(i)),
                subject: k
                    .filter(|k| subjects && !k.base_subject().is_empty())
                    .and_then(|_| ranks?.get(i).copied()),
                is_reply: k.is_some_and(SortEntry::is_reply),
            }
        })
        .collect()
    }
}

/// What one reader thread read: entries, or the first failure.
type Loaded = Result<Vec<(Uid, SortEntry)>, MailboxError>;

/// Reads the keys of `missing` from their summaries, on every core when
/// there are many.
fn read_summaries(mb: &Mailbox, missing: &[Uid]) -> Result<Vec<(Uid, SortEntry)>, MailboxError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if missing.len() < PARALLEL_MIN || threads < 2 {
        return missing.iter().map(|&u| load(mb, u)).collect();
    }
    let chunk = missing.len().div_ceil(threads);
    let parts: Vec<Option<Loaded>> = std::thread::scope(|scope| {
        let handles: Vec<_> = missing
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&u| load(mb, u))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    let mut out = Vec::with_capacity(missing.len());
    for (part, uids) in parts.into_iter().zip(missing.chunks(chunk)) {
        match part {
            Some(p) => out.extend(p?),
            // A panicked reader: its messages are read again here.
            None => {
                for &u in uids {
                    out.push(load(mb, u)?);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
impl SortKeyCache {
    /// A cache holding `entries` (any order), as if read from a mailbox.
    pub(crate) fn of_entries(entries: Vec<(Uid, SortEntry)>) -> SortKeyCache {
        let mut c = SortKeyCache::default();
        c.insert(entries);
        c
    }
}
