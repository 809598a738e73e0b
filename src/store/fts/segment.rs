//! One immutable segment of the full-text index, as plaintext: two tables
//! (words, and pairs of adjacent words with their separator, see
//! `mime::tokens`), each a sorted vocabulary and, per entry, the compressed
//! posting list of the messages containing it (UID deltas with two field
//! bits, LEB128). Owns
//! building, encoding (padded to a size bucket, so the sealed file reveals
//! no count), decoding with every offset checked, lookups and the
//! decoding for compaction. Never touches files or keys.

use std::collections::HashMap;

use super::bits::UidBits;
use crate::mime::tokens::Bound;

/// Field bit: the word occurs in the top-level header text.
pub(crate) const IN_HEADER: u8 = 1;
/// Field bit: the word occurs in the body text.
pub(crate) const IN_BODY: u8 = 2;

const MAGIC: &[u8; 4] = b"CLF1";
/// Smallest padded plaintext: a segment of one short message costs this.
pub(crate) const MIN_BUCKET: usize = 4096;

/// Why a segment's plaintext does not decode (it authenticated, so this is
/// a bug or a format this build does not know; either way it is rebuilt).
#[derive(Debug, thiserror::Error)]
#[error("full-text segment malformed: {0}")]
pub(crate) struct Malformed(&'static str);

/// Postings being collected: word → entries `(uid << 2) | fields`, in
/// ascending UID order.
#[derive(Default)]
pub(crate) struct Builder {
    words: Postings,
    pairs: Postings,
}

/// Entry → posting entries `(uid << 2) | fields`.
#[derive(Default)]
struct Postings(HashMap<String, Vec<u64>>);

impl Postings {
    fn push(&mut self, key: &str, uid: u32, fields: u8) {
        let e = (u64::from(uid) << 2) | u64::from(fields);
        match self.0.get_mut(key) {
            Some(v) => v.push(e),
            None => {
                self.0.insert(key.to_owned(), vec![e]);
            }
        }
    }

    fn append(&mut self, other: Postings) {
        for (w, mut v) in other.0 {
            match self.0.get_mut(&w) {
                Some(mine) => mine.append(&mut v),
                None => {
                    self.0.insert(w, v);
                }
            }
        }
    }

    /// `varint V ‖ vocabulary ‖ varint L ‖ lengths ‖ varint P ‖ postings`.
    fn encode(self, body: &mut Vec<u8>) {
        let mut words: Vec<(String, Vec<u64>)> = self.0.into_iter().collect();
        words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut vocab = Vec::new();
        let mut lens = Vec::new();
        let mut postings = Vec::new();
        for (w, mut list) in words {
            list.sort_unstable();
            vocab.extend_from_slice(w.as_bytes());
            vocab.push(0);
            let before = postings.len();
            let mut prev = 0u64;
            for e in list {
                let (uid, fields) = (e >> 2, e & 3);
                if uid < prev || (uid == prev && prev != 0) {
                    // A repeated UID (merging): the first entry stands.
                    continue;
                }
                put_varint(&mut postings, ((uid - prev) << 2) | fields);
                prev = uid;
            }
            put_varint(&mut lens, (postings.len() - before) as u64);
        }
        for part in [vocab, lens, postings] {
            put_varint(body, part.len() as u64);
            body.extend_from_slice(&part);
        }
    }
}

impl Builder {
    /// Adds message `uid` (greater than every UID added before) with its
    /// words and pairs and their field bits.
    pub(crate) fn add(&mut self, uid: u32, words: &HashMap<&str, u8>, pairs: &HashMap<&str, u8>) {
        for (w, fields) in words {
            self.words.push(w, uid, *fields);
        }
        for (p, fields) in pairs {
            self.pairs.push(p, uid, *fields);
        }
    }

    /// Appends `other`, whose UIDs are all above this builder's.
    pub(crate) fn append(&mut self, other: Builder) {
        self.words.append(other.words);
        self.pairs.append(other.pairs);
    }

    /// Whether nothing was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.words.0.is_empty() && self.pairs.0.is_empty()
    }

    /// The padded plaintext of the segment.
    pub(crate) fn encode(self) -> Vec<u8> {
        let mut body = Vec::new();
        self.words.encode(&mut body);
        self.pairs.encode(&mut body);
        pad(body)
    }
}

/// Size bucket of a plaintext of `len` bytes: at least [`MIN_BUCKET`],
/// else the smallest of 2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k that holds it.
/// A reader of the disk learns the bucket, about two bits beyond the
/// order of magnitude of the index's size.
pub(crate) fn bucket(len: usize) -> usize {
    if len <= MIN_BUCKET {
        return MIN_BUCKET;
    }
    let p = len.next_power_of_two() / 2;
    (1..=4)
        .map(|q| p + p / 4 * q)
        .find(|&b| b >= len)
        .unwrap_or(p * 2)
}

/// `MAGIC ‖ u32 length ‖ body ‖ zeros` up to the bucket.
pub(crate) fn pad(body: Vec<u8>) -> Vec<u8> {
    let len = body.len() + 8;
    let mut out = Vec::with_capacity(bucket(len));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(u32::try_from(body.len()).unwrap_or(u32::MAX)).to_le_bytes());
    out.extend_from_slice(&body);
    out.resize(bucket(len), 0);
    out
}

/// The body inside a padded plaintext.
pub(crate) fn unpad(plain: &[u8]) -> Result<&[u8], Malformed> {
    let rest = plain.strip_prefix(MAGIC).ok_or(Malformed("magic"))?;
    let (len, rest) = rest.split_at_checked(4).ok_or(Malformed("length"))?;
    let len = u32::from_le_bytes(len.try_into().map_err(|_| Malformed("length"))?);
    rest.get(..len as usize)
        .ok_or(Malformed("length beyond end"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A decoded segment: its word and pair tables.
pub(crate) struct Segment {
    words: Table,
    pairs: Table,
}

/// One decoded table: the vocabulary with the offsets of its entries and
/// posting lists (posting lists are decoded only when looked up).
struct Table {
    /// Entries, each followed by a zero byte, sorted.
    vocab: String,
    /// Start of each word in `vocab`, plus `vocab.len()`.
    starts: Vec<u32>,
    /// Start of each posting list in `postings`, plus its length.
    offsets: Vec<u32>,
    postings: Vec<u8>,
}

fn take<'a>(body: &'a [u8], pos: &mut usize, what: &'static str) -> Result<&'a [u8], Malformed> {
    let len = get_varint(body, pos).ok_or(Malformed(what))?;
    let len = usize::try_from(len).map_err(|_| Malformed(what))?;
    let end = pos.checked_add(len).ok_or(Malformed(what))?;
    let part = body.get(*pos..end).ok_or(Malformed(what))?;
    *pos = end;
    Ok(part)
}

impl Segment {
    /// Decodes a padded plaintext.
    pub(crate) fn decode(plain: &[u8]) -> Result<Segment, Malformed> {
        let body = unpad(plain)?;
        let mut pos = 0;
        let words = Table::decode(body, &mut pos)?;
        let pairs = Table::decode(body, &mut pos)?;
        if pos != body.len() {
            return Err(Malformed("trailing bytes"));
        }
        Ok(Segment { words, pairs })
    }

    /// Adds to `out` every message with a word that `run` fits under
    /// `bound`, in one of the fields of `mask`.
    pub(crate) fn lookup(&self, run: &str, bound: Bound, mask: u8, out: &mut UidBits) {
        self.words.lookup(run, bound, mask, out);
    }

    /// Adds to `out` every message with a pair containing `needle`.
    pub(crate) fn lookup_pair(&self, needle: &str, mask: u8, out: &mut UidBits) {
        self.pairs.lookup(needle, Bound::Inside, mask, out);
    }

    /// Bytes held in memory.
    pub(crate) fn memory(&self) -> usize {
        self.words.memory() + self.pairs.memory()
    }
}

impl Table {
    fn decode(body: &[u8], pos: &mut usize) -> Result<Table, Malformed> {
        let vocab = take(body, pos, "vocabulary")?;
        let lens = take(body, pos, "posting lengths")?;
        let postings = take(body, pos, "postings")?.to_vec();
        let vocab = std::str::from_utf8(vocab)
            .map_err(|_| Malformed("vocabulary not UTF-8"))?
            .to_owned();
        if !vocab.is_empty() && !vocab.ends_with('\0') {
            return Err(Malformed("vocabulary not terminated"));
        }
        let u32_of = |n: usize| u32::try_from(n).map_err(|_| Malformed("segment too large"));
        let mut starts = vec![0u32];
        for (i, _) in vocab.match_indices('\0') {
            starts.push(u32_of(i + 1)?);
        }
        let words = starts.len() - 1;
        let mut offsets = Vec::with_capacity(words + 1);
        offsets.push(0u32);
        let mut lp = 0;
        let mut total = 0usize;
        for _ in 0..words {
            let l = get_varint(lens, &mut lp).ok_or(Malformed("posting length"))?;
            total = total
                .checked_add(usize::try_from(l).map_err(|_| Malformed("posting length"))?)
                .ok_or(Malformed("posting length"))?;
            offsets.push(u32_of(total)?);
        }
        if lp != lens.len() || total != postings.len() {
            return Err(Malformed("posting lengths disagree"));
        }
        Ok(Table {
            vocab,
            starts,
            offsets,
            postings,
        })
    }

    fn words(&self) -> usize {
        self.starts.len() - 1
    }

    /// Word `i` (without its terminator).
    fn word(&self, i: usize) -> &str {
        let (s, e) = (self.starts[i] as usize, self.starts[i + 1] as usize - 1);
        self.vocab.get(s..e).unwrap_or_default()
    }

    /// Calls `f(uid, fields)` for each entry of word `i`'s posting list.
    fn postings_of(&self, i: usize, mut f: impl FnMut(u32, u8)) {
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        let list = self.postings.get(s..e).unwrap_or_default();
        let mut pos = 0;
        let mut uid = 0u64;
        while let Some(v) = get_varint(list, &mut pos) {
            uid += v >> 2;
            if let Ok(u) = u32::try_from(uid) {
                f(u, (v & 3) as u8);
            }
        }
    }

    fn lookup(&self, run: &str, bound: Bound, mask: u8, out: &mut UidBits) {
        let mut add = |i: usize| {
            self.postings_of(i, |uid, fields| {
                if fields & mask != 0 {
                    out.set(uid);
                }
            })
        };
        let first_at_least = |s: &str| {
            let (mut lo, mut hi) = (0, self.words());
            while lo < hi {
                let mid = (lo + hi) / 2;
                if self.word(mid) < s {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        match bound {
            Bound::Whole => {
                let i = first_at_least(run);
                if i < self.words() && self.word(i) == run {
                    add(i);
                }
            }
            Bound::Start => {
                let mut i = first_at_least(run);
                while i < self.words() && self.word(i).starts_with(run) {
                    add(i);
                    i += 1;
                }
            }
            Bound::Inside | Bound::End => {
                let mut last = None;
                for (pos, _) in self.vocab.match_indices(run) {
                    let i = self.starts.partition_point(|&s| s as usize <= pos) - 1;
                    if last == Some(i) {
                        continue;
                    }
                    let at = pos - self.starts[i] as usize;
                    if bound.fits(self.word(i), run, at) {
                        add(i);
                        last = Some(i);
                    }
                }
            }
        }
    }

    fn memory(&self) -> usize {
        self.vocab.len() + self.postings.len() + 4 * (self.starts.len() + self.offsets.len())
    }
}

/// Merges decoded segments (in ascending UID order) into the padded
/// plaintext of one, keeping the postings of the UIDs `keep` accepts: a
/// streaming merge of the sorted tables (no map, no copy of a word).
pub(crate) fn merge(segments: &[&Segment], keep: impl Fn(u32) -> bool) -> Vec<u8> {
    let mut body = Vec::new();
    let words: Vec<&Table> = segments.iter().map(|s| &s.words).collect();
    merge_tables(&words, &keep, &mut body);
    let pairs: Vec<&Table> = segments.iter().map(|s| &s.pairs).collect();
    merge_tables(&pairs, &keep, &mut body);
    pad(body)
}

fn merge_tables(tables: &[&Table], keep: &impl Fn(u32) -> bool, body: &mut Vec<u8>) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut next = vec![0usize; tables.len()];
    let mut heap = BinaryHeap::new();
    for (t, table) in tables.iter().enumerate() {
        if table.words() > 0 {
            heap.push(Reverse((table.word(0), t)));
        }
    }
    let (mut vocab, mut lens, mut postings) = (Vec::new(), Vec::new(), Vec::new());
    let mut group = Vec::new();
    while let Some(Reverse((word, t))) = heap.pop() {
        group.clear();
        group.push(t);
        while let Some(Reverse((w, u))) = heap.peek() {
            if *w != word {
                break;
            }
            group.push(*u);
            heap.pop();
        }
        // Segment order is UID order.
        group.sort_unstable();
        let before = postings.len();
        let mut prev = 0u32;
        for &t in &group {
            let i = next[t];
            tables[t].postings_of(i, |uid, fields| {
                if uid > prev && keep(uid) {
                    put_varint(
                        &mut postings,
                        (u64::from(uid - prev) << 2) | u64::from(fields),
                    );
                    prev = uid;
                }
            });
            next[t] = i + 1;
            if next[t] < tables[t].words() {
                heap.push(Reverse((tables[t].word(next[t]), t)));
            }
        }
        if postings.len() > before {
            vocab.extend_from_slice(word.as_bytes());
            vocab.push(0);
            put_varint(&mut lens, (postings.len() - before) as u64);
        }
    }
    for part in [vocab, lens, postings] {
        put_varint(body, part.len() as u64);
        body.extend_from_slice(&part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(msgs: &[(u32, &[(&str, u8)])]) -> Segment {
        let mut b = Builder::default();
        for (uid, words) in msgs {
            let pairs: HashMap<&str, u8> = words
                .iter()
                .filter(|(w, _)| w.contains(' '))
                .copied()
                .collect();
            let words: HashMap<&str, u8> = words
                .iter()
                .filter(|(w, _)| !w.contains(' '))
                .copied()
                .collect();
            b.add(*uid, &words, &pairs);
        }
        Segment::decode(&b.encode()).expect("decodes")
    }

    fn found(s: &Segment, run: &str, bound: Bound, mask: u8) -> Vec<u32> {
        let mut out = UidBits::default();
        s.lookup(run, bound, mask, &mut out);
        out.iter().collect()
    }

    #[test]
    fn lookups_respect_bounds_and_fields() {
        let s = seg(&[
            (3, &[("preview", IN_BODY), ("budget", IN_HEADER)]),
            (7, &[("review", IN_BODY | IN_HEADER)]),
            (900, &[("reviewer", IN_BODY), ("日本語", IN_BODY)]),
        ]);
        assert_eq!(found(&s, "view", Bound::Inside, 3), vec![3, 7, 900]);
        assert_eq!(found(&s, "review", Bound::Start, 3), vec![7, 900]);
        assert_eq!(found(&s, "review", Bound::End, 3), vec![3, 7]);
        assert_eq!(found(&s, "review", Bound::Whole, 3), vec![7]);
        assert_eq!(
            found(&s, "budget", Bound::Inside, IN_BODY),
            Vec::<u32>::new()
        );
        assert_eq!(found(&s, "budget", Bound::Inside, IN_HEADER), vec![3]);
        assert_eq!(found(&s, "本", Bound::Inside, 3), vec![900]);
        assert_eq!(found(&s, "x", Bound::Inside, 3), Vec::<u32>::new());
        let s = seg(&[(4, &[("budget", IN_BODY), ("big budget review", IN_BODY)])]);
        let mut out = UidBits::default();
        s.lookup_pair("get rev", IN_BODY, &mut out);
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![4]);
        let mut out = UidBits::default();
        s.lookup_pair("get rev", IN_HEADER, &mut out);
        assert!(out.is_empty());
        assert_eq!(found(&s, "get rev", Bound::Inside, 3), Vec::<u32>::new());
    }

    #[test]
    fn buckets_hide_exact_sizes() {
        assert_eq!(bucket(1), MIN_BUCKET);
        assert_eq!(bucket(4097), 5120);
        assert_eq!(bucket(5121), 6144);
        assert_eq!(bucket(7169), 8192);
        for len in [5000, 100_000, 3_000_000] {
            let b = bucket(len);
            assert!(b >= len && b < len * 5 / 4 + MIN_BUCKET);
            assert_eq!(bucket(b), b);
        }
    }

    #[test]
    fn merge_drops_unkept_uids() {
        let a = seg(&[(1, &[("x", IN_BODY)]), (2, &[("x", IN_BODY)])]);
        let b = seg(&[(5, &[("x", IN_HEADER), ("y", IN_BODY)])]);
        let m = Segment::decode(&merge(&[&a, &b], |u| u != 2)).expect("decodes");
        assert_eq!(found(&m, "x", Bound::Whole, 3), vec![1, 5]);
        assert_eq!(found(&m, "y", Bound::Whole, IN_HEADER), Vec::<u32>::new());
        // A word whose every message is dropped disappears.
        let m = Segment::decode(&merge(&[&a, &b], |u| u == 5)).expect("decodes");
        assert_eq!(found(&m, "x", Bound::Whole, 3), vec![5]);
        let m = Segment::decode(&merge(&[&a], |_| false)).expect("decodes");
        assert_eq!(m.words.words(), 0);
        // Merging equals building the union directly.
        let c = seg(&[(9, &[("x", IN_BODY), ("z", IN_BODY), ("a b", IN_BODY)])]);
        let direct = seg(&[
            (1, &[("x", IN_BODY)]),
            (2, &[("x", IN_BODY)]),
            (5, &[("x", IN_HEADER), ("y", IN_BODY)]),
            (9, &[("x", IN_BODY), ("z", IN_BODY), ("a b", IN_BODY)]),
        ]);
        let merged = Segment::decode(&merge(&[&a, &b, &c], |_| true)).expect("decodes");
        assert_eq!(merged.words.vocab, direct.words.vocab);
        assert_eq!(merged.words.postings, direct.words.postings);
        assert_eq!(merged.pairs.vocab, direct.pairs.vocab);
    }

    #[test]
    fn garbage_is_rejected_not_panicked_on() {
        assert!(Segment::decode(b"nope").is_err());
        let mut p = pad(vec![5, b'a', 0]);
        assert!(Segment::decode(&p).is_err());
        p = pad(vec![2, b'a', 0, 1, 9, 0, 0, 0, 0]);
        assert!(Segment::decode(&p).is_err());
        p = pad(vec![2, b'a', 0, 1, 1, 1, 4, 0, 0, 0, 7]);
        assert!(Segment::decode(&p).is_err());
        p = pad(vec![2, b'a', 0, 1, 1, 1, 4, 0, 0, 0]);
        assert!(Segment::decode(&p).is_ok());
        let empty = Builder::default().encode();
        assert_eq!(empty.len(), MIN_BUCKET);
        assert!(Segment::decode(&empty).is_ok());
    }
}
