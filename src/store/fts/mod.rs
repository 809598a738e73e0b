//! The encrypted full-text index of a mailbox (issue 13; `doc/fts.md`):
//! per mailbox, append-only sealed segments mapping each word of the
//! messages' folded search text to the UIDs containing it, a sealed
//! manifest naming the live segments, compaction that merges them and
//! drops expunged UIDs. Built lazily and resumably: [`FtsIndex::sync`]
//! indexes the messages not yet covered (in chunks, each durable), and
//! [`FtsIndex::query`] answers which covered messages can match a
//! substring. Never knows IMAP; never answers for a message it does not
//! cover (the caller scans those), and a missing, damaged or
//! unauthenticated index is rebuilt, never trusted.

mod bits;
mod files;
mod segment;
#[cfg(test)]
mod tests;
mod text;

use std::collections::HashMap;
use std::sync::Arc;

pub use bits::UidBits;
pub(crate) use text::search_text;

use self::files::{Manifest, Place, Read};
use self::segment::{Builder, Segment, IN_BODY, IN_HEADER};
use crate::mime::tokens::{self, Bound, Plan};
use crate::store::account::{MailboxId, UidValidity};
use crate::store::crash;
use crate::store::mailbox::Mailbox;
use crate::store::types::Uid;
use crate::sys::durable::FsError;

/// Subkey purpose of the index key (HKDF from the master key).
const KEY_PURPOSE: &str = "fts-index";
/// Messages indexed per segment (and per durable step of a build); small
/// in unit tests so they cover chunking and compaction.
const CHUNK: usize = if cfg!(test) { 5 } else { 4096 };
/// More live segments than this are merged into one.
const MAX_SEGMENTS: usize = 8;

/// Why the index could not be read or written (the caller then scans).
#[derive(Debug, thiserror::Error)]
pub enum FtsError {
    /// A file-system step failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The index directory is a link, not a directory, or open to others.
    #[error("full-text index directory {} is not trusted", path.display())]
    Untrusted {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// The manifest could not be serialised (a bug).
    #[error("encoding the full-text manifest")]
    Encode,
}

/// Which text a SEARCH key looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// SEARCH TEXT: the header or the body.
    Text,
    /// SEARCH BODY: the body only.
    Body,
}

/// The messages the index speaks for.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    covered_to: u32,
    failed: Vec<u32>,
}

impl Coverage {
    /// Whether the index's answer holds for `uid` (else it must be
    /// checked without the index).
    pub fn covers(&self, uid: Uid) -> bool {
        uid.get() < self.covered_to && self.failed.binary_search(&uid.get()).is_err()
    }
}

/// The index's answer for one needle.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `hits` are exactly the covered messages that match (no check
    /// needed); otherwise they are a superset to be checked.
    pub exact: bool,
    /// Covered messages that match (or may match).
    pub hits: UidBits,
    /// The messages the answer is about.
    pub coverage: Arc<Coverage>,
}

/// A session's handle on the index of its selected mailbox: the decoded
/// live segments, kept between searches and reloaded when the manifest
/// changes.
#[derive(Default)]
pub struct FtsIndex {
    at: Option<(MailboxId, UidValidity)>,
    manifest: Manifest,
    segments: Vec<(u128, Arc<Segment>)>,
    coverage: Arc<Coverage>,
}

/// Outcome of loading the manifest and its segments.
enum Load {
    Ok,
    Damaged(String),
}

impl FtsIndex {
    /// Gives its memory back unless it is mailbox `keep`'s index (a
    /// session's selected mailbox, if any).
    pub fn release_unless(&mut self, keep: Option<MailboxId>) {
        if self.at.is_some_and(|(id, _)| Some(id) != keep) {
            *self = FtsIndex::default();
        }
    }

    /// Whether it holds a mailbox's index.
    pub fn is_loaded(&self) -> bool {
        self.at.is_some()
    }

    fn place(mb: &Mailbox) -> Place {
        Place {
            dir: mb.dir().join(files::DIR),
            tmp: mb.tmp_dir(),
            key: mb.keys().master().subkey(KEY_PURPOSE),
            mailbox: mb.id(),
            uid_validity: mb.uid_validity(),
        }
    }

    /// Brings the index up to date with the messages `mb` shows: loads
    /// what other sessions wrote, then (unless another process is building)
    /// indexes the messages not yet covered, rebuilding a damaged index.
    /// On error the index covers what it covered before.
    pub fn sync(&mut self, mb: &Mailbox) -> Result<(), FtsError> {
        self.sync_up_to(mb, usize::MAX).map(|_| ())
    }

    /// [`FtsIndex::sync`], indexing at most `most` new messages; says
    /// whether messages are left to index afterwards (false too when
    /// another process holds the builder's lock: the work is theirs). What
    /// an idling session calls between looks at its client, so that mail
    /// is indexed as it arrives while the client's DONE waits at most one
    /// small step.
    pub fn sync_up_to(&mut self, mb: &Mailbox, most: usize) -> Result<bool, FtsError> {
        let at = (mb.id(), mb.uid_validity());
        if self.at != Some(at) {
            *self = FtsIndex {
                at: Some(at),
                ..FtsIndex::default()
            };
        }
        let place = Self::place(mb);
        place.ensure_dir()?;
        let damaged = match self.load(&place)? {
            Load::Ok => false,
            Load::Damaged(why) => {
                log::warn!("full-text index of mailbox {}: {why}; rebuilding", mb.id());
                true
            }
        };
        if !damaged && self.pending(mb).is_empty() {
            return Ok(false);
        }
        let Some(_lock) = place.try_lock()? else {
            // Another session is building; this search scans what is not
            // covered yet.
            return Ok(false);
        };
        // Reload under the lock: the other builder may have finished.
        if let Load::Damaged(_) = self.load(&place)? {
            self.reset();
        }
        self.build(mb, &place, most)?;
        place.remove_unnamed(&self.manifest.segments)?;
        Ok(!self.pending(mb).is_empty())
    }

    fn reset(&mut self) {
        self.manifest = Manifest::default();
        self.segments.clear();
        self.coverage = Arc::default();
    }

    /// Reads the manifest and any segment not yet held.
    fn load(&mut self, place: &Place) -> Result<Load, FtsError> {
        // A segment named by a manifest may vanish under a concurrent
        // compaction: the newer manifest then names its replacement.
        'attempt: for _ in 0..3 {
            let m = match place.read_manifest()? {
                None => Manifest::default(),
                Some(Ok(m)) => m,
                Some(Err(why)) => {
                    self.reset();
                    return Ok(Load::Damaged(why));
                }
            };
            if m == self.manifest {
                return Ok(Load::Ok);
            }
            let mut segs = Vec::with_capacity(m.segments.len());
            for &id in &m.segments {
                if let Some((_, s)) = self.segments.iter().find(|(i, _)| *i == id) {
                    segs.push((id, s.clone()));
                    continue;
                }
                match place.read_segment(id)? {
                    Read::Missing => continue 'attempt,
                    Read::Bad(why) => {
                        self.reset();
                        return Ok(Load::Damaged(why));
                    }
                    Read::Plain(p) => match Segment::decode(&p) {
                        Ok(s) => segs.push((id, Arc::new(s))),
                        Err(e) => {
                            self.reset();
                            return Ok(Load::Damaged(e.to_string()));
                        }
                    },
                }
            }
            self.set(m, segs);
            return Ok(Load::Ok);
        }
        self.reset();
        Ok(Load::Damaged(
            "segments named by the manifest are missing".into(),
        ))
    }

    fn set(&mut self, m: Manifest, segs: Vec<(u128, Arc<Segment>)>) {
        self.coverage = Arc::new(Coverage {
            covered_to: m.covered_to,
            failed: m.failed.clone(),
        });
        self.manifest = m;
        self.segments = segs;
    }

    /// The messages `mb` shows that the index does not cover yet.
    fn pending(&self, mb: &Mailbox) -> Vec<Uid> {
        let from = self.manifest.covered_to;
        // UIDs ascend with sequence numbers: the uncovered ones are a tail.
        let uids: Vec<Uid> = mb.uids().collect();
        let start = uids.partition_point(|u| u.get() < from);
        uids.get(start..).unwrap_or_default().to_vec()
    }

    /// Indexes the pending messages (at most `most`) chunk by chunk; each
    /// chunk is a new segment and a new manifest, so an interrupted build
    /// resumes.
    fn build(&mut self, mb: &Mailbox, place: &Place, most: usize) -> Result<(), FtsError> {
        let mut pending = self.pending(mb);
        pending.truncate(most.max(1));
        for chunk in pending.chunks(CHUNK) {
            let Some(last) = chunk.last() else { break };
            let (builder, failed) = index_messages(mb, chunk);
            let mut m = self.manifest.clone();
            let mut segs = self.segments.clone();
            if !builder.is_empty() {
                let plain = builder.encode();
                // Decoded before it is written: a segment that does not
                // read back must not become an orphan file on each retry.
                let seg = Segment::decode(&plain).map_err(|_| FtsError::Encode)?;
                let id = place.write_segment(&plain, "fts.after-segment")?;
                m.segments.push(id);
                segs.push((id, Arc::new(seg)));
            }
            m.covered_to = last.get().saturating_add(1);
            m.failed.extend(failed);
            place.write_manifest(&m)?;
            self.set(m, segs);
        }
        // Once per build, not per chunk: a long first build merges once.
        if self.segments.len() > MAX_SEGMENTS {
            self.compact(mb, place)?;
        }
        Ok(())
    }

    /// Merges live segments into one, dropping the UIDs `mb` no longer
    /// shows (expunged and reported) from those it merges; the old segment
    /// files are removed once the new manifest is durable.
    ///
    /// Size-tiered: the largest segment is left alone while it outweighs
    /// all the others together, so mail indexed a few messages at a time
    /// (as it arrives) merges small segments, and the whole index is
    /// rewritten only each time the rest has grown to its size.
    fn compact(&mut self, mb: &Mailbox, place: &Place) -> Result<(), FtsError> {
        let largest = self
            .segments
            .iter()
            .enumerate()
            .max_by_key(|(_, (_, s))| s.memory())
            .map(|(i, (_, s))| (i, s.memory()));
        let rest: usize = self.segments.iter().map(|(_, s)| s.memory()).sum::<usize>()
            - largest.map_or(0, |l| l.1);
        let kept = largest.filter(|l| l.1 > rest).map(|l| l.0);
        let kept_seg = kept.and_then(|i| self.segments.get(i).cloned());
        let old: Vec<&Segment> = self
            .segments
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != kept)
            .map(|(_, (_, s))| s.as_ref())
            .collect();
        // Kept while this session still shows it (expunged by another
        // session but not yet reported): the index must answer for it.
        // UIDs above the last this session shows are others' news: kept.
        let top = mb.uids().last().map_or(0, Uid::get);
        let keep = |u: u32| u > top || Uid::new(u).and_then(|u| mb.info(u)).is_some();
        let plain = segment::merge(&old, keep);
        let seg = Segment::decode(&plain).map_err(|_| FtsError::Encode)?;
        let id = place.write_segment(&plain, "fts.compact-after-segment")?;
        let mut m = self.manifest.clone();
        let mut segs: Vec<(u128, Arc<Segment>)> = kept_seg.into_iter().collect();
        segs.push((id, Arc::new(seg)));
        m.segments = segs.iter().map(|(i, _)| *i).collect();
        place.write_manifest(&m)?;
        self.set(m, segs);
        crash::point("fts.compact-after-manifest");
        place.remove_unnamed(&self.manifest.segments)?;
        Ok(())
    }

    /// Which covered messages can contain `needle` (already folded) in
    /// `scope`; `None` when the index cannot narrow it (no word characters,
    /// or the index was never synced for this mailbox).
    pub fn query(&self, needle: &str, scope: Scope) -> Option<Answer> {
        self.at?;
        let mask = match scope {
            Scope::Text => IN_HEADER | IN_BODY,
            Scope::Body => IN_BODY,
        };
        let (runs, exact) = match tokens::plan(needle) {
            Plan::Exact(w) => (vec![(w, Bound::Inside)], true),
            Plan::Pair(p) => {
                let mut hits = UidBits::default();
                for (_, s) in &self.segments {
                    s.lookup_pair(&p, mask, &mut hits);
                }
                return Some(Answer {
                    exact: true,
                    hits,
                    coverage: self.coverage.clone(),
                });
            }
            Plan::Narrow(runs) => (runs, false),
            Plan::Scan => return None,
        };
        // Narrowing only: consecutive runs must also sit in one pair.
        let mut pairs = Vec::new();
        if !exact {
            for p in tokens::inner_pairs(needle) {
                let mut bits = UidBits::default();
                for (_, s) in &self.segments {
                    s.lookup_pair(p, mask, &mut bits);
                }
                pairs.push(bits);
            }
        }
        let mut acc: Option<UidBits> = None;
        for (run, bound) in runs {
            let mut bits = UidBits::default();
            for (_, s) in &self.segments {
                s.lookup(&run, bound, mask, &mut bits);
            }
            acc = Some(match acc {
                None => bits,
                Some(mut a) => {
                    a.intersect(&bits);
                    a
                }
            });
        }
        if let Some(a) = acc.as_mut() {
            for p in &pairs {
                a.intersect(p);
            }
        }
        Some(Answer {
            exact,
            hits: acc.unwrap_or_default(),
            coverage: self.coverage.clone(),
        })
    }

    /// Live segments and the bytes they hold in memory (for `doc/fts.md`
    /// figures and tests).
    pub fn stats(&self) -> (usize, usize) {
        let mem = self.segments.iter().map(|(_, s)| s.memory()).sum();
        (self.segments.len(), mem)
    }
}

/// The words of each message of `uids` (ascending) with their field bits,
/// on every core; returns the postings and the UIDs that could not be read.
fn index_messages(mb: &Mailbox, uids: &[Uid]) -> (Builder, Vec<u32>) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = uids.len().div_ceil(threads).max(1);
    let parts: Vec<Option<(Builder, Vec<u32>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = uids
            .chunks(per)
            .map(|part| scope.spawn(move || index_part(mb, part)))
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    let mut builder = Builder::default();
    let mut failed = Vec::new();
    for (part, result) in uids.chunks(per).zip(parts) {
        match result {
            Some((b, f)) => {
                builder.append(b);
                failed.extend(f);
            }
            // A panicking indexer (a bug) leaves its messages uncovered.
            None => failed.extend(part.iter().map(|u| u.get())),
        }
    }
    (builder, failed)
}

fn index_part(mb: &Mailbox, uids: &[Uid]) -> (Builder, Vec<u32>) {
    let mut b = Builder::default();
    let mut failed = Vec::new();
    for &uid in uids {
        let text = mb.summary(uid).and_then(|s| text::search_text(mb, uid, &s));
        let t = match text {
            Ok(t) => t,
            Err(e) => {
                log::warn!("full-text index: message {uid} not indexed: {e}");
                failed.push(uid.get());
                continue;
            }
        };
        let mut words: HashMap<&str, u8> = HashMap::new();
        let mut pairs: HashMap<&str, u8> = HashMap::new();
        for (text, field) in [(&t.headers, IN_HEADER), (&t.body, IN_BODY)] {
            for w in tokens::words(text) {
                *words.entry(w).or_default() |= field;
            }
            for p in tokens::pairs(text) {
                *pairs.entry(p).or_default() |= field;
            }
        }
        b.add(uid.get(), &words, &pairs);
    }
    (b, failed)
}
