//! Store-side value types of a mailbox: UIDs, modseqs, sequence numbers,
//! flags, dates and message file names. Owns their invariants (non-zero,
//! ordered, hex names); never knows IMAP syntax (no backslashes, no atoms).

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use serde::{Deserialize, Serialize};

/// A message UID inside one mailbox incarnation (RFC 3501: non-zero, strictly
/// ascending in the order messages were added).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Uid(NonZeroU32);

impl Uid {
    /// The smallest UID.
    pub const MIN: Uid = Uid(NonZeroU32::MIN);
    /// The largest UID.
    pub const MAX: Uid = Uid(NonZeroU32::MAX);

    /// `None` for zero, which is never a UID.
    pub fn new(v: u32) -> Option<Uid> {
        NonZeroU32::new(v).map(Uid)
    }

    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// The following UID, `None` when the UID space is exhausted.
    pub fn next(self) -> Option<Uid> {
        self.0.checked_add(1).map(Uid)
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A CONDSTORE modification sequence (RFC 7162): non-zero and increasing with
/// every change a writer commits to a mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Modseq(NonZeroU64);

impl Modseq {
    /// The modseq of a mailbox that has never changed.
    pub const MIN: Modseq = Modseq(NonZeroU64::MIN);

    /// `None` for zero, which is never a modseq.
    pub fn new(v: u64) -> Option<Modseq> {
        NonZeroU64::new(v).map(Modseq)
    }

    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The following modseq (saturating: 2^64 changes never happen).
    pub fn next(self) -> Modseq {
        Modseq(self.0.saturating_add(1))
    }
}

impl fmt::Display for Modseq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A message sequence number in one session's view (1-based position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqNum(NonZeroU32);

impl SeqNum {
    /// `None` for zero.
    pub fn new(v: u32) -> Option<SeqNum> {
        NonZeroU32::new(v).map(SeqNum)
    }

    /// The numeric value.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// Sequence number of the zero-based position `index`.
    pub(crate) fn from_index(index: usize) -> Option<SeqNum> {
        u32::try_from(index)
            .ok()
            .and_then(|i| i.checked_add(1))
            .and_then(SeqNum::new)
    }

    /// Zero-based position.
    pub(crate) fn index(self) -> usize {
        // u32 always fits usize on the targets we build for (32 and 64 bit).
        (self.0.get() - 1) as usize
    }
}

/// A message flag as the store keeps it. System flags are variants; keywords
/// are their names without any protocol decoration. Keywords compare
/// case-insensitively (RFC 3501 flags are case-insensitive), so they are
/// normalised by [`Flag::keyword`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Flag {
    /// Message has been answered.
    Answered,
    /// Message is flagged for attention.
    Flagged,
    /// Message is marked for removal by a later expunge.
    Deleted,
    /// Message has been read.
    Seen,
    /// Message is a draft.
    Draft,
    /// A keyword; built only through [`Flag::keyword`].
    Keyword(String),
}

impl Flag {
    /// The system flags, in the bit order the store uses for them.
    pub const SYSTEM: [Flag; 5] = [
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];

    /// A keyword flag. Returns `None` for an empty name or one containing
    /// whitespace or control characters, which no protocol can carry.
    /// Keywords are kept as given; comparisons use [`Flag::same_as`].
    pub fn keyword(name: &str) -> Option<Flag> {
        if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        Some(Flag::Keyword(name.to_owned()))
    }

    /// The flag a user or tool names: `\Seen`, `\Answered`, `\Flagged`,
    /// `\Deleted`, `\Draft` (case-insensitive, RFC 3501 §2.3.2) or a
    /// keyword that can be written as an IMAP atom (`$Junk`, `work`). `None`
    /// for any other `\Name` (`\Recent` is the session's, not the store's)
    /// and for keywords with spaces, controls, non-ASCII or one of
    /// `(){%*"\]`.
    pub fn from_name(name: &str) -> Option<Flag> {
        if let Some(system) = name.strip_prefix('\\') {
            return Some(match system.to_ascii_lowercase().as_str() {
                "answered" => Flag::Answered,
                "flagged" => Flag::Flagged,
                "deleted" => Flag::Deleted,
                "seen" => Flag::Seen,
                "draft" => Flag::Draft,
                _ => return None,
            });
        }
        let atom = name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
        if atom {
            Flag::keyword(name)
        } else {
            None
        }
    }

    /// Case-insensitive identity of flags (RFC 3501 §2.3.2).
    pub fn same_as(&self, other: &Flag) -> bool {
        match (self, other) {
            (Flag::Keyword(a), Flag::Keyword(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

/// How a flag change combines with the flags a message already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagOp {
    /// Add the given flags (`+FLAGS`).
    Add,
    /// Remove the given flags (`-FLAGS`).
    Remove,
    /// Replace all flags by the given ones (`FLAGS`).
    Replace,
}

/// A point in time with the UTC offset it was expressed in, as IMAP's
/// INTERNALDATE carries one; seconds since the UNIX epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InternalDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_secs: i64,
    /// Offset from UTC, in minutes, that the date was given in.
    pub offset_minutes: i16,
}

impl InternalDate {
    /// The current time in UTC.
    pub fn now() -> InternalDate {
        InternalDate {
            unix_secs: chrono::Utc::now().timestamp(),
            offset_minutes: 0,
        }
    }

    /// Converts to a chrono date with its original offset; `None` if the
    /// stored offset is out of range (only possible from a corrupt record).
    pub fn to_chrono(self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        let off = chrono::FixedOffset::east_opt(i32::from(self.offset_minutes) * 60)?;
        chrono::DateTime::from_timestamp(self.unix_secs, 0).map(|d| d.with_timezone(&off))
    }

    /// From a chrono date, keeping its offset.
    pub fn from_chrono(d: chrono::DateTime<chrono::FixedOffset>) -> InternalDate {
        let minutes = d.offset().local_minus_utc() / 60;
        InternalDate {
            unix_secs: d.timestamp(),
            offset_minutes: i16::try_from(minutes).unwrap_or(0),
        }
    }
}

/// The name of an immutable message file (and of a spool entry, which keeps
/// its name when filed), written as 32 lowercase hex digits. Names made
/// since message files are bound to their name (format 2) are 80 bits
/// followed by [`BOUND_NAME_MARK`]; a file at such a name must be a
/// format-2 (or later) file sealed with that very name. Older names are 128
/// random bits; one of them carries the mark by chance with probability
/// 2⁻⁴⁸. Since issue 12 the first of the 80 bits' bytes is the
/// [`fanout_bucket`] of the time the name was made (72 random bits remain):
/// the fan-out directory `msg/XX/` is that byte, so a burst of new messages
/// lands in one directory instead of creating up to 256 (`doc/store.md`,
/// "Clustered fan-out"). Readers never look at how the byte was chosen.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageName([u8; 16]);

/// The last six bytes of every name made by [`MessageName::random`]: the
/// name itself (recorded in the authenticated log) says that its file must
/// be bound to it, so an old unbound file cannot be put in its place.
pub const BOUND_NAME_MARK: [u8; 6] = *b"CRYL\x00\x02";

impl MessageName {
    /// A fresh name: the current [`fanout_bucket`], 72 random bits and
    /// the [`BOUND_NAME_MARK`].
    pub fn random() -> MessageName {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        MessageName::random_at(secs)
    }

    /// [`MessageName::random`] as made at `unix_secs`.
    pub(crate) fn random_at(unix_secs: u64) -> MessageName {
        use rand::RngCore;
        let mut b = [0u8; 16];
        b[0] = fanout_bucket(unix_secs);
        rand::rngs::OsRng.fill_bytes(&mut b[1..10]);
        b[10..].copy_from_slice(&BOUND_NAME_MARK);
        MessageName(b)
    }

    /// A name as made before binding (128 random bits without the mark),
    /// to test that old files stay readable.
    #[cfg(test)]
    pub(crate) fn random_unbound() -> MessageName {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut b);
        b[15] = b[15].wrapping_add(u8::from(b[10..] == BOUND_NAME_MARK));
        MessageName(b)
    }

    /// Whether this name requires a bound (format 2) file.
    pub fn requires_binding(&self) -> bool {
        self.0[10..] == BOUND_NAME_MARK
    }

    /// The name of these 16 bytes (as read from a bound file's header).
    pub fn from_bytes(bytes: [u8; 16]) -> MessageName {
        MessageName(bytes)
    }

    /// The 16 bytes, as sealed into a bound file.
    pub fn bytes(&self) -> [u8; 16] {
        self.0
    }

    /// Parses the 32-hex-digit form; `None` for anything else.
    pub fn parse(s: &str) -> Option<MessageName> {
        if s.len() != 32 {
            return None;
        }
        let mut b = [0u8; 16];
        for (i, out) in b.iter_mut().enumerate() {
            let pair = s.get(i * 2..i * 2 + 2)?;
            if !pair
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            {
                return None;
            }
            *out = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(MessageName(b))
    }

    /// The two-hex-digit fan-out directory the file lives in.
    pub fn fanout(&self) -> String {
        format!("{:02x}", self.0[0])
    }
}

/// Seconds during which every new name gets the same first byte (and so
/// the same `msg/XX/` directory): 16 s, so a burst of appends fills one
/// directory (two when it spans a boundary), while the 256 values still
/// cycle every 68 minutes and a mailbox filled over hours or days spreads
/// over all of them as before. At most the messages of 16 s share a
/// directory in one cycle (about 16,000 at 1,000 APPENDs/s; an import at
/// 5,000/s about 80,000, which ext4's hashed directories index).
pub const FANOUT_BUCKET_SECS: u64 = 16;

/// The first byte of a name made at `unix_secs`: the 16-second period,
/// modulo 256.
pub fn fanout_bucket(unix_secs: u64) -> u8 {
    (unix_secs / FANOUT_BUCKET_SECS % 256) as u8
}

impl fmt::Display for MessageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MessageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageName({self})")
    }
}

/// A set of UIDs kept as sorted, disjoint, non-adjacent inclusive ranges, so
/// "1:*" over 100,000 messages is one pair in a record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UidSet(Vec<(Uid, Uid)>);

impl UidSet {
    /// The empty set.
    pub fn new() -> UidSet {
        UidSet(Vec::new())
    }

    /// Builds the set from any UIDs, in any order, duplicates allowed.
    pub fn from_uids(uids: impl IntoIterator<Item = Uid>) -> UidSet {
        let mut v: Vec<Uid> = uids.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut out: Vec<(Uid, Uid)> = Vec::new();
        for u in v {
            match out.last_mut() {
                Some((_, hi)) if hi.next() == Some(u) => *hi = u,
                _ => out.push((u, u)),
            }
        }
        UidSet(out)
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: Uid) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < uid);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= uid)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The inclusive ranges, ascending.
    pub fn ranges(&self) -> &[(Uid, Uid)] {
        &self.0
    }

    /// Every UID, ascending.
    pub fn iter(&self) -> impl Iterator<Item = Uid> + '_ {
        self.0
            .iter()
            .flat_map(|&(lo, hi)| (lo.get()..=hi.get()).filter_map(Uid::new))
    }

    /// Number of UIDs in the set.
    pub fn len(&self) -> u64 {
        self.0
            .iter()
            .map(|&(lo, hi)| u64::from(hi.get() - lo.get()) + 1)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(v: u32) -> Uid {
        Uid::new(v).unwrap()
    }

    #[test]
    fn flags_from_their_names() {
        assert_eq!(Flag::from_name("\\seen"), Some(Flag::Seen));
        assert_eq!(Flag::from_name("\\DRAFT"), Some(Flag::Draft));
        for f in Flag::SYSTEM {
            assert_eq!(Flag::from_name(&format!("\\{f:?}")), Some(f));
        }
        assert_eq!(Flag::from_name("$Junk"), Flag::keyword("$Junk"));
        for bad in [
            "\\Recent",
            "\\Bogus",
            "",
            "a(b",
            "a b",
            "a]",
            "caf\u{e9}",
            "\\",
        ] {
            assert_eq!(Flag::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uid_set_merges_and_finds() {
        let s = UidSet::from_uids([u(5), u(1), u(2), u(3), u(9), u(3)]);
        assert_eq!(s.ranges(), &[(u(1), u(3)), (u(5), u(5)), (u(9), u(9))]);
        assert!(s.contains(u(2)) && s.contains(u(9)) && !s.contains(u(4)));
        assert!(!s.contains(u(10)));
        assert_eq!(s.len(), 5);
        assert_eq!(s.iter().map(Uid::get).collect::<Vec<_>>(), [1, 2, 3, 5, 9]);
    }

    /// Names made within one 16-second period share their fan-out
    /// directory (a burst fills one `msg/XX/`), differ otherwise, and the
    /// 256 directories are all used over a cycle of 68 minutes.
    #[test]
    fn names_made_close_in_time_share_a_fanout_directory() {
        let t = 1_800_000_000 / FANOUT_BUCKET_SECS * FANOUT_BUCKET_SECS;
        let burst: Vec<MessageName> = (0..1000)
            .map(|i| MessageName::random_at(t + i % FANOUT_BUCKET_SECS))
            .collect();
        let dirs: std::collections::HashSet<String> = burst.iter().map(|n| n.fanout()).collect();
        assert_eq!(dirs.len(), 1);
        let names: std::collections::HashSet<MessageName> = burst.iter().copied().collect();
        assert_eq!(names.len(), burst.len(), "72 random bits keep names apart");
        assert!(burst.iter().all(MessageName::requires_binding));
        let cycle: std::collections::HashSet<String> = (0..256)
            .map(|i| MessageName::random_at(t + i * FANOUT_BUCKET_SECS).fanout())
            .collect();
        assert_eq!(cycle.len(), 256);
        assert_ne!(
            MessageName::random_at(t).fanout(),
            MessageName::random_at(t + FANOUT_BUCKET_SECS).fanout()
        );
    }

    #[test]
    fn message_name_round_trips_and_rejects_garbage() {
        let n = MessageName::random();
        assert!(n.requires_binding());
        assert_eq!(MessageName::parse(&n.to_string()), Some(n));
        assert_eq!(n.fanout().len(), 2);
        assert!(n.to_string().starts_with(&n.fanout()));
        assert_eq!(MessageName::parse("xyz"), None);
        assert_eq!(MessageName::parse(&"G".repeat(32)), None);
        assert_eq!(MessageName::parse(&"AB".repeat(16)), None);
    }

    #[test]
    fn keywords_validate_and_compare_case_insensitively() {
        assert!(Flag::keyword("").is_none());
        assert!(Flag::keyword("a b").is_none());
        let a = Flag::keyword("$Junk").unwrap();
        assert!(a.same_as(&Flag::keyword("$junk").unwrap()));
        assert!(!a.same_as(&Flag::Seen));
    }

    #[test]
    fn internal_date_keeps_offset() {
        let d = chrono::DateTime::parse_from_rfc3339("2024-02-03T04:05:06+05:30").unwrap();
        let i = InternalDate::from_chrono(d);
        assert_eq!(i.offset_minutes, 330);
        assert_eq!(i.to_chrono(), Some(d));
    }

    #[test]
    fn seqnum_index_round_trip() {
        assert_eq!(SeqNum::from_index(0).map(SeqNum::get), Some(1));
        assert_eq!(SeqNum::new(7).unwrap().index(), 6);
        assert!(Uid::MAX.next().is_none());
    }
}
