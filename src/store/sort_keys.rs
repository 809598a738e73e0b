//! The sealed per-mailbox cache of what SORT and THREAD need of each
//! message (its Date header's instant and its `SortFields`, as a compact
//! [`SortEntry`]), stored as
//! `mailboxes/ID/sortkeys`: one file to unseal where the summaries are one
//! file per message, so the first SORT of a session on a large mailbox
//! does not open every summary. Only a cache of the summaries (which stay
//! the truth): a missing, oversized, tampered or stale file costs the
//! reader the summaries, never a wrong answer. Owns that file's format and
//! sealing; never decides what to sort.

use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::account::{MailboxId, UidValidity};
use super::types::{MessageName, Uid};
use crate::crypto::seal;
use crate::crypto::secret::SecretKey;
use crate::mime::sort::SortFields;
use crate::sys::durable::{Durability, NewFile};

/// Largest file read (and written): a user-writable file is never read
/// without a bound. 100,000 ordinary messages take some 15 MB; a mailbox
/// whose keys do not fit is sorted from its summaries.
pub(crate) const MAX_FILE: u64 = 256 << 20;

/// The marker of this format, inside the sealed text. A file of an
/// older format (`CLK1`, postcard; `CLK2`, without [`SUMMARY_FORMAT`]) is
/// not read: it is rebuilt.
const FORMAT: &[u8] = b"CLK3";

/// The summary format the keys were copied from: the marker a stored
/// summary starts with (`store::summary`, `FORMAT_MAGIC`; a unit test
/// holds the two equal). Stored after [`FORMAT`]: a file written from
/// summaries of another format holds keys computed by other rules, however
/// well it authenticates, so it is not used (removed, and rebuilt from
/// the summaries, which are recomputed in the current format).
const SUMMARY_FORMAT: &[u8] = b"CLS2";

/// Strings of a [`SortEntry`] before its References: the six sort keys
/// and the Message-ID.
const FIXED: usize = 7;

/// What SORT and THREAD use of one message (its Date header's instant and
/// its summary's [`SortFields`]) in one allocation (two when it has
/// References), so that reading a whole mailbox's keys costs a few
/// allocations per message rather than one per string, and comparing them
/// follows no pointer but one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortEntry {
    date: Option<i64>,
    is_reply: bool,
    has_id: bool,
    /// The base subject, From, To, Cc, DisplayFrom, DisplayTo, the
    /// Message-ID (empty when there is none), then each References entry,
    /// one after another.
    text: Box<str>,
    /// Where each of the [`FIXED`] strings ends in `text`.
    ends: [u32; FIXED],
    /// Where each References entry ends in `text`.
    ref_ends: Box<[u32]>,
}

/// References one entry stores at most (its count is stored as a u16).
const MAX_STORED_REFERENCES: usize = u16::MAX as usize;

impl SortEntry {
    /// The entry of a message whose Date header says `date` and whose
    /// summary has `f`.
    pub fn new(date: Option<i64>, f: &SortFields) -> SortEntry {
        let fixed: [&str; FIXED] = [
            &f.base_subject,
            &f.from,
            &f.to,
            &f.cc,
            &f.display_from,
            &f.display_to,
            f.message_id.as_deref().unwrap_or(""),
        ];
        // The stored count is a u16: keep the last (nearest) References,
        // which are the ones threading reads first, so that what is written
        // always decodes.
        let references = f
            .references
            .get(f.references.len().saturating_sub(MAX_STORED_REFERENCES)..)
            .unwrap_or_default();
        let len = fixed.iter().map(|s| s.len()).sum::<usize>()
            + references.iter().map(String::len).sum::<usize>();
        let mut text = String::with_capacity(len);
        let end = |t: &String| u32::try_from(t.len()).unwrap_or(u32::MAX);
        let mut ends = [0u32; FIXED];
        for (e, s) in ends.iter_mut().zip(fixed) {
            text.push_str(s);
            *e = end(&text);
        }
        let ref_ends = references
            .iter()
            .map(|r| {
                text.push_str(r);
                end(&text)
            })
            .collect();
        SortEntry {
            date,
            is_reply: f.is_reply,
            has_id: f.message_id.is_some(),
            text: text.into_boxed_str(),
            ends,
            ref_ends,
        }
    }

    fn span(&self, i: usize) -> &str {
        let start = i
            .checked_sub(1)
            .and_then(|j| self.ends.get(j))
            .map_or(0, |&e| e as usize);
        let end = self.ends.get(i).map_or(start, |&e| e as usize);
        self.text.get(start..end).unwrap_or("")
    }

    /// The Date header's instant; None when missing or unparsable.
    pub fn date(&self) -> Option<i64> {
        self.date
    }

    /// [`SortFields::is_reply`].
    pub fn is_reply(&self) -> bool {
        self.is_reply
    }

    /// [`SortFields::base_subject`].
    pub fn base_subject(&self) -> &str {
        self.span(0)
    }

    /// [`SortFields::from`].
    pub fn from(&self) -> &str {
        self.span(1)
    }

    /// [`SortFields::to`].
    pub fn to(&self) -> &str {
        self.span(2)
    }

    /// [`SortFields::cc`].
    pub fn cc(&self) -> &str {
        self.span(3)
    }

    /// [`SortFields::display_from`].
    pub fn display_from(&self) -> &str {
        self.span(4)
    }

    /// [`SortFields::display_to`].
    pub fn display_to(&self) -> &str {
        self.span(5)
    }

    /// [`SortFields::message_id`].
    pub fn message_id(&self) -> Option<&str> {
        self.has_id.then(|| self.span(6))
    }

    /// [`SortFields::references`], oldest first.
    pub fn references(&self) -> impl Iterator<Item = &str> + '_ {
        let first = self.ends.get(FIXED - 1).map_or(0, |&e| e as usize);
        self.ref_ends.iter().scan(first, |start, &end| {
            let s = self.text.get(*start..end as usize).unwrap_or("");
            *start = end as usize;
            Some(s)
        })
    }

    /// Appends the stored form: UID, name, date (a presence byte and 8
    /// bytes), flags (bit 0 is_reply, bit 1 has a Message-ID), the number
    /// of References (u16), every string's length (u32) and then the
    /// strings; integers little-endian.
    fn encode(&self, uid: Uid, name: MessageName, out: &mut Vec<u8>) {
        out.extend_from_slice(&uid.get().to_le_bytes());
        out.extend_from_slice(&name.bytes());
        out.push(u8::from(self.date.is_some()));
        out.extend_from_slice(&self.date.unwrap_or(0).to_le_bytes());
        out.push(u8::from(self.is_reply) | (u8::from(self.has_id) << 1));
        let refs = u16::try_from(self.ref_ends.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&refs.to_le_bytes());
        let mut start = 0u32;
        for &end in self.ends.iter().chain(self.ref_ends.iter()) {
            out.extend_from_slice(&end.saturating_sub(start).to_le_bytes());
            start = end;
        }
        out.extend_from_slice(self.text.as_bytes());
    }

    /// The entry at the start of `input` and what follows it; None when
    /// `input` does not hold a well-formed one.
    fn decode(input: &[u8]) -> Option<(Uid, MessageName, SortEntry, &[u8])> {
        let mut r = Reader(input);
        let uid = Uid::new(u32::from_le_bytes(r.array()?))?;
        let name = MessageName::from_bytes(r.array()?);
        let has_date = r.array::<1>()?[0];
        let date = i64::from_le_bytes(r.array()?);
        let flags = r.array::<1>()?[0];
        if has_date > 1 || flags > 3 {
            return None;
        }
        let refs = usize::from(u16::from_le_bytes(r.array()?));
        let mut ends = [0u32; FIXED];
        let mut ref_ends = Vec::with_capacity(refs);
        let mut end = 0u32;
        for i in 0..FIXED + refs {
            end = end.checked_add(u32::from_le_bytes(r.array()?))?;
            match ends.get_mut(i) {
                Some(e) => *e = end,
                None => ref_ends.push(end),
            }
        }
        let text = std::str::from_utf8(r.take(end as usize)?).ok()?;
        // Every string must end on a character boundary, or reading it
        // would find nothing.
        if !ends
            .iter()
            .chain(&ref_ends)
            .all(|&e| text.is_char_boundary(e as usize))
        {
            return None;
        }
        let entry = SortEntry {
            date: (has_date == 1).then_some(date),
            is_reply: flags & 1 != 0,
            has_id: flags & 2 != 0,
            text: text.into(),
            ends,
            ref_ends: ref_ends.into_boxed_slice(),
        };
        Some((uid, name, entry, r.0))
    }
}

/// A cursor over stored bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// One stored entry as read: UID, message file name, keys.
pub(crate) type StoredKeys = (Uid, MessageName, SortEntry);

/// The cache file of the mailbox stored in `mailbox_dir`.
pub(crate) fn path(mailbox_dir: &Path) -> PathBuf {
    mailbox_dir.join("sortkeys")
}

fn aad(id: &MailboxId, uid_validity: UidValidity) -> Vec<u8> {
    format!("crymap-like sortkeys {id} {} v2", uid_validity.get()).into_bytes()
}

/// Reads and opens the cache; entries as stored (the caller checks each
/// against the mailbox). `None` when there is none or it cannot be used.
pub(crate) fn read(
    file: &Path,
    key: &SecretKey,
    id: &MailboxId,
    uid_validity: UidValidity,
) -> Option<Vec<StoredKeys>> {
    let sealed = match read_bounded(file) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            log::warn!("{}: {e}; sorting from the summaries", file.display());
            return None;
        }
    };
    let Ok(plain) = seal::open(key, &aad(id, uid_validity), &sealed) else {
        // A file of an older format (sealed under another label) or a
        // planted one. Removed, so that it is neither read again by every
        // new session nor reported again: the next large fill writes a
        // new one (a cache; nothing is lost).
        log::warn!(
            "{} failed authentication (older format or not ours); removed, sorting from \
             the summaries",
            file.display()
        );
        let _ = std::fs::remove_file(file);
        return None;
    };
    let plain: Zeroizing<Vec<u8>> = plain;
    let body = plain.strip_prefix(FORMAT)?;
    let mut r = Reader(body);
    let from = usize::from(r.array::<1>()?[0]);
    if r.take(from)? != SUMMARY_FORMAT {
        log::info!(
            "{} was written from summaries of another format; removed, sorting from the \
             summaries",
            file.display()
        );
        let _ = std::fs::remove_file(file);
        return None;
    }
    let body = r.0;
    let count = u32::from_le_bytes(r.array()?) as usize;
    // Each entry takes at least 60 bytes: a count beyond that is a lie.
    let mut out = Vec::with_capacity(count.min(body.len() / 60));
    let mut rest = r.0;
    for _ in 0..count {
        let (uid, name, entry, after) = SortEntry::decode(rest)?;
        out.push((uid, name, entry));
        rest = after;
    }
    rest.is_empty().then_some(out)
}

/// Seals `entries` and puts them in place (not synced: a cache).
pub(crate) fn write(
    tmp_dir: &Path,
    file: &Path,
    key: &SecretKey,
    id: &MailboxId,
    uid_validity: UidValidity,
    entries: &[(Uid, MessageName, &SortEntry)],
) -> io::Result<()> {
    write_from(
        tmp_dir,
        file,
        key,
        (id, uid_validity),
        entries,
        SUMMARY_FORMAT,
    )
}

/// [`write`], saying the keys come from summaries of format `from`.
fn write_from(
    tmp_dir: &Path,
    file: &Path,
    key: &SecretKey,
    (id, uid_validity): (&MailboxId, UidValidity),
    entries: &[(Uid, MessageName, &SortEntry)],
    from: &[u8],
) -> io::Result<()> {
    let size: usize = entries
        .iter()
        .map(|(_, _, e)| 64 + e.text.len() + 4 * e.ref_ends.len())
        .sum();
    let mut plain = Zeroizing::new(Vec::with_capacity(FORMAT.len() + 5 + from.len() + size));
    plain.extend_from_slice(FORMAT);
    let from_len = u8::try_from(from.len()).map_err(io::Error::other)?;
    plain.push(from_len);
    plain.extend_from_slice(from);
    let count = u32::try_from(entries.len()).map_err(io::Error::other)?;
    plain.extend_from_slice(&count.to_le_bytes());
    for &(uid, name, entry) in entries {
        entry.encode(uid, name, &mut plain);
    }
    if plain.len() as u64 + 64 > MAX_FILE {
        return Err(io::Error::other("sort keys too large to cache"));
    }
    let sealed = seal::seal(key, &aad(id, uid_validity), &plain);
    let mut staged = NewFile::create(tmp_dir).map_err(io::Error::other)?;
    staged.write_all(&sealed).map_err(io::Error::other)?;
    staged
        .place(file, Durability::Deferred)
        .map_err(io::Error::other)
}

/// The whole file, refusing links, non-files and anything over
/// [`MAX_FILE`].
fn read_bounded(file: &Path) -> io::Result<Vec<u8>> {
    crate::sys::durable::read_bounded(file, MAX_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> SortFields {
        SortFields {
            base_subject: "ÉTÉ".to_owned(),
            is_reply: true,
            from: "A@X".to_owned(),
            to: String::new(),
            cc: "C@X".to_owned(),
            display_from: "ANNE".to_owned(),
            display_to: "B".to_owned(),
            message_id: Some("1@x".to_owned()),
            references: vec!["0@x".to_owned(), String::new(), "é@x".to_owned()],
        }
    }

    fn entry_bytes(e: &SortEntry) -> Vec<u8> {
        let mut out = Vec::new();
        e.encode(
            Uid::new(7).unwrap(),
            MessageName::from_bytes([3; 16]),
            &mut out,
        );
        out
    }

    #[test]
    fn entry_round_trip_keeps_every_field() {
        let f = fields();
        for (date, f) in [(Some(-5), f.clone()), (None, SortFields::default())] {
            let e = SortEntry::new(date, &f);
            assert_eq!(e.date(), date);
            assert_eq!(e.base_subject(), f.base_subject);
            assert_eq!(e.from(), f.from);
            assert_eq!(e.to(), f.to);
            assert_eq!(e.cc(), f.cc);
            assert_eq!(e.display_from(), f.display_from);
            assert_eq!(e.display_to(), f.display_to);
            assert_eq!(e.is_reply(), f.is_reply);
            assert_eq!(e.message_id(), f.message_id.as_deref());
            assert_eq!(e.references().collect::<Vec<_>>(), f.references);
            let bytes = entry_bytes(&e);
            let (uid, name, back, rest) = SortEntry::decode(&bytes).unwrap();
            assert_eq!((uid.get(), name.bytes(), &back), (7, [3; 16], &e));
            assert!(rest.is_empty());
        }
    }

    /// More References than the stored u16 count holds: the entry keeps
    /// the last ones and still decodes (the count once saturated while
    /// every length was written, making the whole file unreadable).
    #[test]
    fn an_entry_with_too_many_references_keeps_the_last_and_decodes() {
        let mut f = fields();
        f.references = (0..70_000).map(|i| format!("{i}@x")).collect();
        let e = SortEntry::new(None, &f);
        let kept: Vec<&str> = e.references().collect();
        assert_eq!(kept.len(), MAX_STORED_REFERENCES);
        assert_eq!(kept.last().copied(), Some("69999@x"));
        let bytes = entry_bytes(&e);
        let (_, _, back, rest) = SortEntry::decode(&bytes).unwrap();
        assert_eq!(back, e);
        assert!(rest.is_empty());
    }

    /// The file says which summary format its keys were copied from, and
    /// only a file from the current one is used: one written from
    /// summaries of another format is removed and read as absent (the
    /// keys then come from the summaries, recomputed in the current
    /// format). Before, nothing tied the two, so a change of the summary
    /// format would have left keys computed by the old rules trusted.
    #[test]
    fn the_file_is_bound_to_the_summary_format() {
        use crate::crypto::secret::MasterKey;
        // The marker is the one summaries are written with.
        let stored = crate::store::summary::encode_summary(&crate::store::summary::summarize(
            b"Subject: x\r\n\r\nbody\r\n",
        ));
        assert!(stored.starts_with(SUMMARY_FORMAT), "{:?}", &stored[..8]);

        let dir = crate::crypto::test_util::TempDir::new("sortkeys-format");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let file = path(dir.path());
        let key = MasterKey::generate().subkey("message-summary");
        let id = MailboxId::generate();
        let validity = UidValidity::new(7).unwrap();
        let e = SortEntry::new(Some(1), &fields());
        let name = MessageName::from_bytes([3; 16]);
        let entries = [(Uid::new(1).unwrap(), name, &e)];
        write(&tmp, &file, &key, &id, validity, &entries).unwrap();
        let back = read(&file, &key, &id, validity).expect("current format");
        assert_eq!(back, vec![(Uid::new(1).unwrap(), name, e.clone())]);
        write_from(&tmp, &file, &key, (&id, validity), &entries, b"CLS1").unwrap();
        assert!(read(&file, &key, &id, validity).is_none());
        assert!(!file.exists(), "removed, to be rebuilt");
    }

    #[test]
    fn damaged_entries_are_refused_without_panic() {
        let bytes = entry_bytes(&SortEntry::new(Some(1), &fields()));
        for n in 0..bytes.len() {
            assert!(SortEntry::decode(&bytes[..n]).is_none(), "cut at {n}");
        }
        // A length that ends a string inside "É" (two bytes in UTF-8).
        let mut split = bytes.clone();
        let lens = 4 + 16 + 1 + 8 + 1 + 2;
        split[lens] = 1;
        split[lens + 4] += 4;
        assert!(SortEntry::decode(&split).is_none());
        // Unknown flag bits.
        let mut flags = bytes;
        flags[4 + 16 + 1 + 8] = 4;
        assert!(SortEntry::decode(&flags).is_none());
    }
}
