//! Sequence sets resolved against the selected mailbox: the one place where
//! a client's `sequence-set` (RFC 9051 §9, with RFC 5182's `$`) becomes the
//! store's [`Uid`]s. Every rule lives here and nowhere else:
//!
//! - `*` is the largest number in use: the message count for sequence
//!   numbers, the UID of the last message for UIDs (RFC 9051 §9).
//! - `n:m` is the same set as `m:n`.
//! - `$` is the result the last `SEARCH RETURN (SAVE)` saved (RFC 5182),
//!   empty when nothing was saved in this selection; it names messages by
//!   UID, so a saved message expunged since is skipped like any missing UID.
//! - Duplicates collapse: the result is ascending, each UID once.
//! - A sequence number beyond the last message (or `*` in an empty mailbox)
//!   is an error for FETCH, STORE, COPY and MOVE (RFC 9051 §9, "the server
//!   should respond with a tagged BAD"), but SEARCH only matches nothing;
//!   UIDs that do not exist are skipped everywhere (RFC 9051 §6.4.9).
//!
//! It never reads the store beyond the [`View`] it is given and never writes
//! responses: callers turn a [`SeqSetError`] into their `BAD`.

use crate::imap::context::Selected;
use crate::imap::wire::command::{SeqBound, SeqRange, SeqSet};
use crate::store::types::Uid;

/// Whether a set holds message sequence numbers or UIDs (`UID FETCH` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// Message sequence numbers (FETCH, STORE, COPY, MOVE, SEARCH keys).
    Seq,
    /// UIDs (the `UID` forms, `UID` search key, UID EXPUNGE, QRESYNC).
    Uid,
}

impl Numbers {
    /// `Uid` for a `UID` command, `Seq` otherwise.
    pub(crate) fn of_uid_command(uid: bool) -> Numbers {
        if uid {
            Numbers::Uid
        } else {
            Numbers::Seq
        }
    }
}

/// Why a sequence set names no valid messages (only for sequence numbers
/// in commands other than SEARCH).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SeqSetError {
    /// A number greater than the message count.
    #[error("Sequence number {number} is beyond the last message ({exists})")]
    BeyondLast {
        /// The number the client sent.
        number: u32,
        /// How many messages the session knows.
        exists: u32,
    },
    /// `*` while the mailbox is empty: no number is in use.
    #[error("No messages: * is not a valid number")]
    StarInEmpty,
}

/// The messages a set is resolved against: the session's view of the
/// selected mailbox and its saved search result.
#[derive(Debug, Clone)]
pub(crate) struct View<'a> {
    /// UIDs in sequence order (ascending): sequence number `n` is
    /// `uids[n - 1]`.
    uids: Vec<Uid>,
    /// The saved search result (`$`), in any order.
    saved: &'a [Uid],
    /// The mailbox's UIDNEXT: every UID ever assigned is below it.
    uidnext: Uid,
}

impl<'a> View<'a> {
    /// A view of `uids` (ascending, the session's messages in sequence
    /// order) with `saved` as `$`.
    pub(crate) fn new(uids: Vec<Uid>, saved: &'a [Uid], uidnext: Uid) -> View<'a> {
        debug_assert!(uids.windows(2).all(|w| w[0] < w[1]), "UIDs ascend");
        View {
            uids,
            saved,
            uidnext,
        }
    }

    /// The view of the selected mailbox.
    pub(crate) fn of(sel: &'a Selected) -> View<'a> {
        View::new(
            sel.mailbox.uids().collect(),
            &sel.saved,
            sel.mailbox.uidnext(),
        )
    }

    /// The messages `set` names, as ascending UIDs without duplicates, for
    /// FETCH, STORE, COPY, MOVE, UID EXPUNGE and XVANQUISH: a sequence
    /// number beyond the last message is an error.
    pub(crate) fn resolve(&self, set: &SeqSet, numbers: Numbers) -> Result<Vec<Uid>, SeqSetError> {
        if let (Numbers::Seq, SeqSet::Ranges(ranges)) = (numbers, set) {
            let exists = self.exists();
            for bound in ranges.iter().flat_map(bounds) {
                match bound {
                    SeqBound::Value(v) if v.get() > exists => {
                        return Err(SeqSetError::BeyondLast {
                            number: v.get(),
                            exists,
                        })
                    }
                    SeqBound::Star if exists == 0 => return Err(SeqSetError::StarInEmpty),
                    _ => {}
                }
            }
        }
        Ok(self.matching(set, numbers))
    }

    /// The messages `set` names, as ascending UIDs without duplicates, for
    /// SEARCH: numbers beyond the last message match nothing.
    pub(crate) fn matching(&self, set: &SeqSet, numbers: Numbers) -> Vec<Uid> {
        let ranges = match set {
            SeqSet::Saved => {
                let mut v: Vec<Uid> = self
                    .saved
                    .iter()
                    .copied()
                    .filter(|u| self.uids.binary_search(u).is_ok())
                    .collect();
                v.sort_unstable();
                v.dedup();
                return v;
            }
            SeqSet::Ranges(r) => r,
        };
        let mut out = Vec::new();
        match numbers {
            Numbers::Seq => {
                for (lo, hi) in normalise(ranges, self.exists()) {
                    // Sequence number n is index n - 1; past the end is
                    // clamped, as SEARCH wants (`resolve` checked already).
                    let (lo, hi) = (to_index(lo.max(1) - 1), to_index(hi));
                    out.extend_from_slice(
                        self.uids.get(lo..hi.min(self.uids.len())).unwrap_or(&[]),
                    );
                }
            }
            Numbers::Uid => {
                // RFC 9051 §9: the last message's UID, or UIDNEXT when the
                // mailbox is empty (then no UID matches anyway).
                let star = self.uids.last().unwrap_or(&self.uidnext).get();
                for (lo, hi) in normalise(ranges, star) {
                    let start = self.uids.partition_point(|u| u.get() < lo);
                    let end = self.uids.partition_point(|u| u.get() <= hi);
                    out.extend_from_slice(self.uids.get(start..end).unwrap_or(&[]));
                }
            }
        }
        out
    }

    /// Of `candidates` (UIDs the mailbox assigned, present or expunged),
    /// those the UID set `set` names, ascending and without duplicates:
    /// VANISHED for `UID FETCH ... (VANISHED)` and QRESYNC's known UIDs.
    /// Here `*` is the largest UID ever assigned (UIDNEXT - 1), not the
    /// last present message: an expunged message above the last one is
    /// still one the client may know of.
    pub(crate) fn named_among(&self, set: &SeqSet, candidates: &[Uid]) -> Vec<Uid> {
        let mut out: Vec<Uid> = match set {
            SeqSet::Saved => candidates
                .iter()
                .copied()
                .filter(|u| self.saved.contains(u))
                .collect(),
            SeqSet::Ranges(r) => {
                let star = self.uidnext.get().saturating_sub(1);
                let ranges = normalise(r, star);
                candidates
                    .iter()
                    .copied()
                    .filter(|u| {
                        let i = ranges.partition_point(|&(_, hi)| hi < u.get());
                        ranges.get(i).is_some_and(|&(lo, _)| lo <= u.get())
                    })
                    .collect()
            }
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The message count (EXISTS).
    fn exists(&self) -> u32 {
        u32::try_from(self.uids.len()).unwrap_or(u32::MAX)
    }
}

/// The bounds a range names (one for a single number, two for `a:b`).
fn bounds(r: &SeqRange) -> impl Iterator<Item = SeqBound> {
    let (a, b) = match *r {
        SeqRange::Single(n) => (n, None),
        SeqRange::Range(a, b) => (a, Some(b)),
    };
    std::iter::once(a).chain(b)
}

/// The ranges as ascending, disjoint, non-adjacent inclusive pairs, with
/// `*` replaced by `star` and `n:m` turned into `m:n` where `m < n`. A
/// `star` of 0 (an empty mailbox) yields pairs starting at 0, which no
/// message has.
fn normalise(ranges: &[SeqRange], star: u32) -> Vec<(u32, u32)> {
    let value = |b: SeqBound| match b {
        SeqBound::Value(v) => v.get(),
        SeqBound::Star => star,
    };
    let mut pairs: Vec<(u32, u32)> = ranges
        .iter()
        .map(|r| {
            let (a, b) = match *r {
                SeqRange::Single(n) => (value(n), value(n)),
                SeqRange::Range(a, b) => (value(a), value(b)),
            };
            (a.min(b), a.max(b))
        })
        .collect();
    pairs.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(pairs.len());
    for (lo, hi) in pairs {
        match out.last_mut() {
            Some((_, last)) if lo <= last.saturating_add(1) => *last = (*last).max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// A sequence number as an index bound; u32 always fits usize on the
/// targets we build for (32 and 64 bit).
fn to_index(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn uid(n: u32) -> Uid {
        Uid::new(n).unwrap_or(Uid::MIN)
    }

    fn uids(v: &[u32]) -> Vec<Uid> {
        v.iter().copied().map(uid).collect()
    }

    fn n(v: u32) -> SeqBound {
        SeqBound::Value(NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN))
    }

    fn one(b: SeqBound) -> SeqRange {
        SeqRange::Single(b)
    }

    fn range(a: SeqBound, b: SeqBound) -> SeqRange {
        SeqRange::Range(a, b)
    }

    fn set(r: Vec<SeqRange>) -> SeqSet {
        SeqSet::Ranges(r)
    }

    /// Five messages with UIDs 10, 20, 30, 40, 50; UIDNEXT 61 (51..60
    /// were assigned and expunged).
    fn view(saved: &[Uid]) -> View<'_> {
        View::new(uids(&[10, 20, 30, 40, 50]), saved, uid(61))
    }

    #[test]
    fn rfc9051_9_star_is_largest_in_use() {
        let v = view(&[]);
        // Sequence numbers: `*` is the message count.
        let s = set(vec![one(SeqBound::Star)]);
        assert_eq!(v.resolve(&s, Numbers::Seq), Ok(uids(&[50])));
        // UIDs: `*` is the last message's UID, so `45:*` is `45:50`, and a
        // range starting above every UID still names the last message.
        let s = set(vec![range(n(45), SeqBound::Star)]);
        assert_eq!(v.resolve(&s, Numbers::Uid), Ok(uids(&[50])));
        let s = set(vec![range(n(559), SeqBound::Star)]);
        assert_eq!(v.resolve(&s, Numbers::Uid), Ok(uids(&[50])));
    }

    #[test]
    fn rfc9051_9_reversed_range() {
        let v = view(&[]);
        let fwd = set(vec![range(n(2), n(4))]);
        let rev = set(vec![range(n(4), n(2))]);
        assert_eq!(v.resolve(&rev, Numbers::Seq), Ok(uids(&[20, 30, 40])));
        assert_eq!(v.resolve(&rev, Numbers::Seq), v.resolve(&fwd, Numbers::Seq));
        let rev = set(vec![range(SeqBound::Star, n(25))]);
        assert_eq!(v.resolve(&rev, Numbers::Uid), Ok(uids(&[30, 40, 50])));
    }

    #[test]
    fn rfc9051_9_duplicates_collapse_and_result_ascends() {
        let v = view(&[]);
        let s = set(vec![
            one(n(5)),
            range(n(1), n(3)),
            range(n(3), n(2)),
            one(SeqBound::Star),
            one(n(1)),
        ]);
        assert_eq!(v.resolve(&s, Numbers::Seq), Ok(uids(&[10, 20, 30, 50])));
        let s = set(vec![one(n(40)), range(n(1), n(20)), one(n(20))]);
        assert_eq!(v.resolve(&s, Numbers::Uid), Ok(uids(&[10, 20, 40])));
    }

    #[test]
    fn rfc9051_9_seq_beyond_last_is_bad() {
        let v = view(&[]);
        let s = set(vec![range(n(2), n(6))]);
        assert_eq!(
            v.resolve(&s, Numbers::Seq),
            Err(SeqSetError::BeyondLast {
                number: 6,
                exists: 5
            })
        );
        // SEARCH matches what exists instead.
        assert_eq!(v.matching(&s, Numbers::Seq), uids(&[20, 30, 40, 50]));
        assert!(v.matching(&set(vec![one(n(9))]), Numbers::Seq).is_empty());
    }

    #[test]
    fn rfc9051_6_4_9_uid_out_of_range_ignored() {
        let v = view(&[]);
        let s = set(vec![one(n(15)), range(n(35), n(45)), one(n(1000))]);
        assert_eq!(v.resolve(&s, Numbers::Uid), Ok(uids(&[40])));
        let s = set(vec![one(n(999))]);
        assert_eq!(v.resolve(&s, Numbers::Uid), Ok(Vec::new()));
    }

    #[test]
    fn empty_mailbox() {
        let v = View::new(Vec::new(), &[], uid(7));
        let star = set(vec![one(SeqBound::Star)]);
        let all = set(vec![range(n(1), SeqBound::Star)]);
        // Sequence numbers: `*` names no number, so FETCH and STORE say BAD.
        assert_eq!(
            v.resolve(&star, Numbers::Seq),
            Err(SeqSetError::StarInEmpty)
        );
        assert_eq!(
            v.resolve(&set(vec![one(n(1))]), Numbers::Seq),
            Err(SeqSetError::BeyondLast {
                number: 1,
                exists: 0
            })
        );
        // SEARCH and UID commands find nothing.
        assert!(v.matching(&all, Numbers::Seq).is_empty());
        assert_eq!(v.resolve(&all, Numbers::Uid), Ok(Vec::new()));
        assert_eq!(v.resolve(&star, Numbers::Uid), Ok(Vec::new()));
    }

    #[test]
    fn rfc5182_dollar_is_saved_result() {
        // Saved in any order, with a UID expunged since (35): `$` names the
        // saved messages still present, ascending, in every numbering.
        let saved = uids(&[40, 10, 35, 40]);
        let v = view(&saved);
        let want = uids(&[10, 40]);
        assert_eq!(v.resolve(&SeqSet::Saved, Numbers::Seq), Ok(want.clone()));
        assert_eq!(v.resolve(&SeqSet::Saved, Numbers::Uid), Ok(want.clone()));
        assert_eq!(v.matching(&SeqSet::Saved, Numbers::Seq), want);
        // Among expunged UIDs, `$` names the saved ones.
        assert_eq!(v.named_among(&SeqSet::Saved, &uids(&[35, 55])), uids(&[35]));
    }

    #[test]
    fn rfc5182_dollar_without_saved_result_is_empty() {
        let v = view(&[]);
        assert_eq!(v.resolve(&SeqSet::Saved, Numbers::Seq), Ok(Vec::new()));
        assert_eq!(v.resolve(&SeqSet::Saved, Numbers::Uid), Ok(Vec::new()));
        assert!(v.matching(&SeqSet::Saved, Numbers::Uid).is_empty());
        assert!(v.named_among(&SeqSet::Saved, &uids(&[55])).is_empty());
    }

    #[test]
    fn rfc7162_3_2_expunged_uids_star_is_largest_assigned() {
        let v = view(&[]);
        let gone = uids(&[5, 15, 51, 60]);
        // `*` reaches UIDNEXT - 1 = 60, past the last present message (50).
        let s = set(vec![range(n(12), SeqBound::Star)]);
        assert_eq!(v.named_among(&s, &gone), uids(&[15, 51, 60]));
        let s = set(vec![range(n(52), n(14)), one(n(5))]);
        assert_eq!(v.named_among(&s, &gone), uids(&[5, 15, 51]));
    }

    #[test]
    fn normalise_merges_overlapping_and_adjacent_ranges() {
        let r = normalise(
            &[
                range(n(7), n(9)),
                one(n(1)),
                range(n(2), n(3)),
                one(n(8)),
                one(SeqBound::Star),
            ],
            20,
        );
        assert_eq!(r, vec![(1, 3), (7, 9), (20, 20)]);
    }
}
