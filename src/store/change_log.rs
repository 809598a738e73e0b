//! The change log of one mailbox: numbered segments `log/00000001`, … (each a
//! [`RecordLog`] of sealed [`Batch`]es), a sealed `snapshot` compacting the
//! state up to a segment boundary, and the mailbox lock file `lock`. Owns
//! the writer protocol (lock, catch up, decide, one append, fdatasync,
//! unlock), segment switching, compaction and snapshot loading; never
//! decides what a change means (that is [`State`]) and never reads message
//! content.
//!
//! All writers of a mailbox hold `flock(LOCK_EX)` on `lock` for their whole
//! transaction, so only the newest segment is ever appended to and a
//! compaction (which starts a new segment) is never raced. Readers take no
//! lock: they read their segment to its end, then move on to the next
//! segment if one exists.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::crash;
use super::error::StoreError;
use super::marks::{Mark, MarkError, Marks};
use super::record_log::RecordLog;
use super::state::{
    Batch, MessageMeta, PendingMove, State, StateError, INBOUND_MOVES_KEPT, MAX_FLAGS,
};
use super::types::{Flag, MessageName, Modseq, Uid};
use crate::crypto::secret::{MasterKey, SecretKey};
use crate::crypto::{seal, CryptoError};
use crate::sys::durable::{self, Durability, FsError, NewFile};

/// Compact once the newest segment reaches this size, so opening a mailbox
/// reads one snapshot plus at most this much of sealed records.
const COMPACT_AT_BYTES: u64 = 256 * 1024;
/// Compact once the newest segment holds this many records, or one per
/// [`MESSAGES_PER_TAIL_RECORD`] live messages if that is more. Replaying a
/// record costs about fifty times what loading one message from the
/// snapshot costs (a key setup and a Poly1305 tag per record, callgrind,
/// issue 12), so a mailbox filled one APPEND at a time would otherwise
/// open through a thousand small records until 256 KiB of them pile up.
/// Bounding the tail by the snapshot's size keeps opening proportional to
/// the mailbox while compaction stays amortised: a snapshot of N messages
/// is rewritten at most once per N / 64 records.
const COMPACT_AT_RECORDS: usize = 32;
/// See [`COMPACT_AT_RECORDS`].
const MESSAGES_PER_TAIL_RECORD: usize = 64;
/// Old segments stay this long after a snapshot supersedes them, so a
/// session reading behind does not lose its place.
pub const SEGMENT_GRACE: Duration = Duration::from_secs(3600);
const SNAPSHOT_VERSION: u16 = 1;
/// The largest mailbox [`MAX_SNAPSHOT`] is sized for: this many UIDs
/// assigned over its life (live or expunged; a mailbox in memory costs
/// about 80 bytes a message, 330 MB here). Nothing counts UIDs against it:
/// compaction checks only the sealed snapshot's size, which a mailbox
/// below it never takes past the bound. A larger mailbox (its messages
/// usually far below the worst case) is still snapshotted while its
/// snapshot fits; once one would not, compaction keeps the segments and
/// the mailbox stays whole, slower to open.
pub(crate) const SNAPSHOT_UIDS: u64 = 1 << 22;
/// The most one UID costs in a snapshot, every field at its largest
/// postcard varint: a live message is uid 5 + name 16 + INTERNALDATE
/// 10 + 3 + SAVEDATE 10 + size 5 + flags 10 + modseq 10 = 69 bytes; an
/// expunged one is its VANISHED entry (5 + 10) and its file awaiting
/// purge (16 + 10), 41 bytes; plus its share of pending moves, a range of
/// its own (5 + 5).
pub(crate) const SNAPSHOT_BYTES_PER_UID: u64 = 69 + 10;
/// The snapshot's scalars and sequence lengths (at most 128 bytes), its
/// flag table (every flag a keyword as long as an IMAP command line, 64
/// KiB: keywords come from commands, imports and deliveries), the move ids
/// a destination remembers, and up to 1,024 pending moves' own fields (id,
/// destination, length: 53 bytes; a move is pending while it runs or
/// after a crash until the next open resolves it, one per session at a
/// time).
const SNAPSHOT_FIXED_BYTES: u64 =
    128 + MAX_FLAGS as u64 * (4 + 64 * 1024) + INBOUND_MOVES_KEPT as u64 * 10 + 1024 * 53;
/// The largest sealed snapshot read or written, computed from the above
/// (about 336 MB): what the largest mailbox the store snapshots can
/// need. The user's directory may hold a link, a FIFO or a huge file under
/// the name; none is read past this. Compaction never writes a larger
/// one, so the bound never refuses a snapshot the store wrote (it was 1
/// GiB, three times what any mailbox below `SNAPSHOT_UIDS` needs).
pub(crate) const MAX_SNAPSHOT: u64 =
    seal::OVERHEAD as u64 + SNAPSHOT_FIXED_BYTES + SNAPSHOT_UIDS * SNAPSHOT_BYTES_PER_UID;

/// Errors of the change log.
#[derive(Debug, Error)]
pub enum ChangeLogError {
    /// The file system failed (the step and the path are in the error).
    #[error(transparent)]
    Io(#[from] FsError),
    /// A segment could not be read or appended.
    #[error("change log segment {path}: {source}")]
    Segment {
        /// Which segment.
        path: PathBuf,
        /// The record-log failure (includes tampered records).
        source: StoreError,
    },
    /// The snapshot failed authentication or does not parse.
    #[error("snapshot {path} is corrupt: {reason}")]
    CorruptSnapshot {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// This session fell so far behind that the segment it needs next was
    /// removed; [`ChangeLog::reload`] rebuilds from the snapshot.
    #[error("change log of mailbox {mailbox} moved on past segment {segment}")]
    LostPlace {
        /// Mailbox id.
        mailbox: String,
        /// The segment this session was reading.
        segment: u32,
    },
    /// Replaying the log found a contradiction.
    #[error("mailbox {mailbox}: {source}")]
    State {
        /// Mailbox id.
        mailbox: String,
        /// The contradiction.
        source: StateError,
    },
    /// The log does not verify (rolled back or damaged): nothing is
    /// written, compacted or collected until it does.
    #[error("mailbox {mailbox} is read-only: {problem}")]
    ReadOnly {
        /// Mailbox id.
        mailbox: String,
        /// What is wrong.
        problem: IntegrityProblem,
    },
}

/// Why a mailbox's log does not verify. The text is what the user is told
/// (`* OK [ALERT]`): ids and counters only, never a mailbox name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IntegrityProblem {
    /// The log is behind its high-water mark: an older copy was restored.
    #[error("its change log was rolled back (UIDNEXT {found_uidnext}, HIGHESTMODSEQ {found_modseq}; it had reached {mark_uidnext} and {mark_modseq})")]
    RolledBack {
        /// UIDNEXT the log gives now.
        found_uidnext: u64,
        /// HIGHESTMODSEQ the log gives now.
        found_modseq: u64,
        /// UIDNEXT already reached.
        mark_uidnext: u64,
        /// HIGHESTMODSEQ already reached.
        mark_modseq: u64,
    },
    /// Records before the end of the log failed authentication.
    #[error("{records} record(s) of its change log are damaged")]
    Damaged {
        /// How many were skipped.
        records: u64,
    },
    /// The high-water mark itself does not authenticate or cannot be read.
    #[error("its high-water mark is damaged or unreadable")]
    BadMark,
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    version: u16,
    next_segment: u32,
    uidnext: Uid,
    highest_modseq: Modseq,
    flag_table: &'a [Flag],
    recent_upto: Option<Uid>,
    pending_moves: &'a [PendingMove],
    inbound_moves: &'a std::collections::VecDeque<u64>,
    vanished: &'a [(Uid, Modseq)],
    expunged_files: &'a [(MessageName, i64)],
    messages: Vec<&'a MessageMeta>,
}

#[derive(Deserialize)]
struct SnapshotIn {
    version: u16,
    next_segment: u32,
    uidnext: Uid,
    highest_modseq: Modseq,
    flag_table: Vec<Flag>,
    recent_upto: Option<Uid>,
    pending_moves: Vec<PendingMove>,
    inbound_moves: std::collections::VecDeque<u64>,
    vanished: Vec<(Uid, Modseq)>,
    expunged_files: Vec<(MessageName, i64)>,
    messages: Vec<MessageMeta>,
}

/// Proof that the caller holds the mailbox lock; unlocks on drop.
pub struct MailboxLock {
    _lock: Flock<File>,
}

/// One session's handle on a mailbox's change log.
pub struct ChangeLog {
    dir: PathBuf,
    tmp_dir: PathBuf,
    id: String,
    record_key: SecretKey,
    snapshot_key: SecretKey,
    segment_no: u32,
    segment: RecordLog<Batch>,
    damaged: u64,
    /// Records read or written in the current segment: what replaying the
    /// tail after the snapshot costs ([`COMPACT_AT_RECORDS`]).
    tail_records: usize,
    marks: Marks,
    /// The high-water mark of this handle's last write, not yet written
    /// ([`ChangeLog::raise_mark`]).
    pending_mark: Option<Mark>,
    /// Whether a write leaves its mark pending for [`ChangeLog::raise_mark`]
    /// instead of writing it at once ([`ChangeLog::defer_marks`]).
    defer_marks: bool,
    /// Set once the log failed to verify; never cleared by this handle.
    problem: Option<IntegrityProblem>,
}

fn clone_key(k: &SecretKey) -> SecretKey {
    SecretKey::from_bytes(*k.as_bytes())
}

impl ChangeLog {
    /// Path of segment `n` under mailbox directory `dir`.
    pub fn segment_path(dir: &Path, n: u32) -> PathBuf {
        dir.join("log").join(format!("{n:08}"))
    }

    fn open_segment(&self, n: u32) -> Result<RecordLog<Batch>, ChangeLogError> {
        let path = Self::segment_path(&self.dir, n);
        RecordLog::open(
            &path,
            clone_key(&self.record_key),
            format!("crymap-like mailbox {} segment {n}", self.id),
        )
        .map_err(|source| ChangeLogError::Segment { path, source })
    }

    /// Opens the log of mailbox `id` in `dir` and replays it: the snapshot,
    /// then every later segment, and checks it against its high-water mark
    /// ([`ChangeLog::problem`]).
    /// Staging files go to `tmp_dir` (the user's `tmp/`, whose parent is the
    /// user directory holding `marks/`).
    pub fn open(
        dir: &Path,
        tmp_dir: &Path,
        id: &str,
        master: &MasterKey,
    ) -> Result<(ChangeLog, State), ChangeLogError> {
        durable::create_dir_all(&dir.join("log"))?;
        let snapshot_key = master.subkey("mailbox-snapshot");
        let (next, mut state) = load_snapshot(dir, id, &snapshot_key)?;
        let mut log = ChangeLog {
            dir: dir.to_path_buf(),
            tmp_dir: tmp_dir.to_path_buf(),
            id: id.to_owned(),
            record_key: master.subkey("mailbox-log"),
            snapshot_key,
            segment_no: next,
            segment: RecordLog::open(
                &Self::segment_path(dir, next),
                master.subkey("mailbox-log"),
                format!("crymap-like mailbox {id} segment {next}"),
            )
            .map_err(|source| ChangeLogError::Segment {
                path: Self::segment_path(dir, next),
                source,
            })?,
            damaged: 0,
            tail_records: 0,
            marks: Marks::new(tmp_dir.parent().unwrap_or(tmp_dir), master),
            pending_mark: None,
            defer_marks: false,
            problem: None,
        };
        log.catch_up(&mut state, None)?;
        log.verify(&mut state);
        Ok((log, state))
    }

    fn mark_of(state: &State) -> Mark {
        Mark {
            a: u64::from(state.uidnext.get()),
            b: state.highest_modseq.get(),
        }
    }

    /// Checks the replayed `state` against the high-water mark and the
    /// damage count, recording any problem. A mailbox without a mark (one
    /// written before marks existed) gets one now. Readers take no lock, so
    /// a writer may raise the mark after `state` was read: a state behind
    /// its mark is caught up once more (the mark is only ever written after
    /// the records it covers) before it counts as rolled back.
    fn verify(&mut self, state: &mut State) {
        if self.problem.is_some() {
            return;
        }
        if self.damaged > 0 {
            self.problem = Some(IntegrityProblem::Damaged {
                records: self.damaged,
            });
            return;
        }
        let mut now = Self::mark_of(state);
        let read = self.marks.read(&self.id);
        if let Ok(Some(mark)) = &read {
            if now.is_behind(mark) {
                if let Err(e) = self.catch_up(state, None) {
                    log::warn!("mailbox {}: catching up to verify: {e}", self.id);
                }
                now = Self::mark_of(state);
                if self.damaged > 0 {
                    return self.verify(state);
                }
            }
        }
        match read {
            Ok(Some(mark)) if now.is_behind(&mark) => {
                self.problem = Some(IntegrityProblem::RolledBack {
                    found_uidnext: now.a,
                    found_modseq: now.b,
                    mark_uidnext: mark.a,
                    mark_modseq: mark.b,
                });
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                if let Err(e) = self.marks.write(&self.id, now) {
                    log::warn!(
                        "mailbox {}: writing its first high-water mark: {e}",
                        self.id
                    );
                }
            }
            Err(e @ MarkError::Tampered { .. })
            | Err(e @ MarkError::Short { .. })
            | Err(e @ MarkError::Io(_)) => {
                log::error!("mailbox {}: {e}", self.id);
                self.problem = Some(IntegrityProblem::BadMark);
            }
        }
        if let Some(p) = &self.problem {
            log::error!("mailbox {} is read-only: {p}", self.id);
        }
    }

    /// Why this log does not verify, if it does not: then the mailbox is
    /// read-only and nothing is collected or compacted.
    pub fn problem(&self) -> Option<&IntegrityProblem> {
        self.problem.as_ref()
    }

    /// Refuses with [`ChangeLogError::ReadOnly`] if this log is already
    /// known not to verify: a cheap check before writing anything else
    /// (message files, links) that a refused log record would orphan.
    pub fn refuse_if_known_bad(&self) -> Result<(), ChangeLogError> {
        match &self.problem {
            None => Ok(()),
            Some(p) => Err(ChangeLogError::ReadOnly {
                mailbox: self.id.clone(),
                problem: p.clone(),
            }),
        }
    }

    /// Verifies the caught-up `state` (under the lock) and refuses with
    /// [`ChangeLogError::ReadOnly`] if the log does not verify.
    pub fn ensure_writable(&mut self, state: &mut State) -> Result<(), ChangeLogError> {
        self.verify(state);
        self.refuse_if_known_bad()
    }

    /// The mailbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mailbox id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads, without locking, every record appended since the last call
    /// and applies it to `state`; flag changes are noted in `changed`.
    /// Returns whether anything was read.
    pub fn catch_up(
        &mut self,
        state: &mut State,
        mut changed: Option<&mut BTreeSet<Uid>>,
    ) -> Result<bool, ChangeLogError> {
        let mut any = false;
        loop {
            any |= self.drain_segment(state, changed.as_deref_mut())?;
            let next = self.segment_no.saturating_add(1);
            if !Self::segment_path(&self.dir, next).exists() {
                // Segments are removed only once superseded: if ours is gone
                // and no successor is found, later ones exist that we missed.
                if !Self::segment_path(&self.dir, self.segment_no).exists() {
                    return Err(ChangeLogError::LostPlace {
                        mailbox: self.id.clone(),
                        segment: self.segment_no,
                    });
                }
                return Ok(any);
            }
            // A writer starts segment `next` only after its last append to
            // this one; drain this one again to catch that append, then move.
            any |= self.drain_segment(state, changed.as_deref_mut())?;
            self.segment = self.open_segment(next)?;
            self.segment_no = next;
            self.tail_records = 0;
        }
    }

    /// Reads the current segment to its end. A record failing
    /// authentication in the middle (tampering) is skipped with an error
    /// logged and counted in [`ChangeLog::damaged_records`]: only the
    /// change it held is lost, the rest of the mailbox stays readable.
    fn drain_segment(
        &mut self,
        state: &mut State,
        mut changed: Option<&mut BTreeSet<Uid>>,
    ) -> Result<bool, ChangeLogError> {
        let mut any = false;
        loop {
            let path = Self::segment_path(&self.dir, self.segment_no);
            let batches = match self.segment.read_new() {
                Ok(b) => b,
                Err(StoreError::Corrupt {
                    offset,
                    next: Some(_),
                    ..
                }) => {
                    log::error!(
                        "mailbox {}: skipping tampered record at offset {offset} of {}",
                        self.id,
                        path.display()
                    );
                    self.damaged += 1;
                    self.segment
                        .skip_corrupt()
                        .map_err(|source| ChangeLogError::Segment { path, source })?;
                    continue;
                }
                Err(source) => return Err(ChangeLogError::Segment { path, source }),
            };
            if batches.is_empty() {
                return Ok(any);
            }
            any = true;
            self.tail_records = self.tail_records.saturating_add(batches.len());
            for b in &batches {
                state
                    .apply(b, changed.as_deref_mut())
                    .map_err(|source| ChangeLogError::State {
                        mailbox: self.id.clone(),
                        source,
                    })?;
            }
        }
    }

    /// Number of tampered records skipped by this handle.
    pub fn damaged_records(&self) -> u64 {
        self.damaged
    }

    /// Takes the mailbox lock, waiting for any other writer.
    pub fn lock(&self) -> Result<MailboxLock, ChangeLogError> {
        let path = self.dir.join("lock");
        let f = durable::open_in_place(&path)?;
        let lock = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| FsError::at("locking", &path)(io::Error::from(e)))?;
        Ok(MailboxLock { _lock: lock })
    }

    /// Runs one writer transaction: takes the lock, catches up (noting
    /// others' flag changes in `changed`), lets `decide` look at the latest
    /// state and return the batches to append (possibly none), appends them
    /// with one write and fdatasync, applies them, and compacts if due.
    pub fn write<R, E>(
        &mut self,
        state: &mut State,
        changed: Option<&mut BTreeSet<Uid>>,
        decide: impl FnOnce(&State) -> Result<(Vec<Batch>, R), E>,
    ) -> Result<R, E>
    where
        E: From<ChangeLogError>,
    {
        let lock = self.lock()?;
        self.write_locked(&lock, state, changed, decide)
    }

    /// [`ChangeLog::write`] for a caller already holding this mailbox's lock.
    pub fn write_locked<R, E>(
        &mut self,
        _lock: &MailboxLock,
        state: &mut State,
        changed: Option<&mut BTreeSet<Uid>>,
        decide: impl FnOnce(&State) -> Result<(Vec<Batch>, R), E>,
    ) -> Result<R, E>
    where
        E: From<ChangeLogError>,
    {
        self.catch_up(state, changed)?;
        self.ensure_writable(state)?;
        let (batches, r) = decide(state)?;
        if batches.is_empty() {
            return Ok(r);
        }
        let path = Self::segment_path(&self.dir, self.segment_no);
        let appended = self
            .segment
            .append(&batches)
            .map_err(|source| ChangeLogError::Segment {
                path: path.clone(),
                source,
            })?;
        // Every writer holds the mailbox lock, so nothing can precede our
        // records; if something did, replay order must still follow the file.
        for b in appended.preceding.iter().chain(batches.iter()) {
            state
                .apply(b, None)
                .map_err(|source| ChangeLogError::State {
                    mailbox: self.id.clone(),
                    source,
                })?;
        }
        // The records are durable, so the mark may rise: now, or for a
        // handle that defers it, at `raise_mark` (a session raises it as
        // soon as its tagged OK is out, off the command's critical path)
        // or when the handle is dropped.
        self.pending_mark = Some(Self::mark_of(state));
        if !self.defer_marks {
            self.write_pending_mark();
        }
        self.tail_records = self
            .tail_records
            .saturating_add(appended.preceding.len() + batches.len());
        let record_limit = COMPACT_AT_RECORDS.max(state.messages.len() / MESSAGES_PER_TAIL_RECORD);
        if appended.end >= COMPACT_AT_BYTES || self.tail_records >= record_limit {
            self.compact_locked(_lock, state)?;
        }
        Ok(r)
    }

    /// From now on a write leaves its high-water mark pending until
    /// [`ChangeLog::raise_mark`] or the handle's drop, for a caller that
    /// raises it after its reply and runs as the owner of the files
    /// throughout (never a root tool that hands the tree over with a
    /// chown afterwards: a mark written after that would be root's).
    pub fn defer_marks(&mut self) {
        self.defer_marks = true;
    }

    /// Writes the high-water mark of this handle's last write, if not yet
    /// written. Until then the mark stays below the log, which is never a
    /// false alarm, only a rollback of the newest records left undetected
    /// for that moment (the mark is not synced either: a crash may leave it
    /// as far behind). Outside the writer's transaction the mark is written
    /// under the mailbox lock and only over a lower one, so two sessions
    /// raising theirs out of order never lower it. The lock is never waited
    /// for here (a session raises after its reply, and must not stall on
    /// another's transaction): when another transaction holds it, the mark
    /// stays pending and the next raise tries again (the session's next
    /// reply, IDLE, a wait between commands, and the handle's drop, which
    /// waits a little: [`DROP_RAISE_WAIT`]). It used to be dropped, on the
    /// reasoning that the holder's own mark would cover it; but a holder
    /// that writes nothing (a STORE that changes nothing, garbage
    /// collection, a move's recovery) raises nothing, and the mark then
    /// stayed behind until the next write. A failure to write is logged and
    /// leaves the mark lower, as a crash would.
    pub fn raise_mark(&mut self) {
        self.raise_mark_within(Duration::ZERO);
    }

    /// Whether a mark is left to raise ([`ChangeLog::raise_mark`]).
    pub fn mark_pending(&self) -> bool {
        self.pending_mark.is_some()
    }

    /// [`ChangeLog::raise_mark`], trying the lock again for up to `wait`
    /// while another transaction holds it (polling: a blocking `flock`
    /// could wait on a lock this very process holds through another
    /// handle, or on a stopped process, for good).
    fn raise_mark_within(&mut self, wait: Duration) {
        let Some(mark) = self.pending_mark else {
            return;
        };
        let path = self.dir.join("lock");
        // Only a busy lock keeps the mark pending: any other failure (the
        // mailbox deleted and collected by another session, `lock` not a
        // regular file) would fail again on every retry, and a session
        // retrying while it waits for its client would wake for good.
        // The mark is given up, as a crash would leave it.
        let give_up_mark = |this: &mut Self, e: &dyn std::fmt::Display| {
            log::warn!(
                "mailbox {}: taking its lock to raise the high-water mark: {e}; the mark stays behind its log",
                this.id
            );
            this.pending_mark = None;
        };
        let mut f = match durable::open_in_place(&path) {
            Ok(f) => f,
            Err(e) => return give_up_mark(self, &e),
        };
        let give_up = std::time::Instant::now() + wait;
        let _lock = loop {
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => break l,
                Err((back, nix::errno::Errno::EWOULDBLOCK))
                    if std::time::Instant::now() < give_up =>
                {
                    f = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    if !wait.is_zero() {
                        log::warn!(
                            "mailbox {}: its lock stayed busy; the high-water mark stays behind its log",
                            self.id
                        );
                    }
                    return;
                }
                Err((_, e)) => return give_up_mark(self, &e),
            }
        };
        self.pending_mark = None;
        if let Err(e) = self.marks.raise(&self.id, mark) {
            log::warn!("mailbox {}: writing its high-water mark: {e}", self.id);
        }
    }

    /// Writes the pending mark (the caller holds the lock or knows it
    /// cannot be lowered).
    fn write_pending_mark(&mut self) {
        if let Some(mark) = self.pending_mark.take() {
            if let Err(e) = self.marks.write(&self.id, mark) {
                log::warn!("mailbox {}: writing its high-water mark: {e}", self.id);
            }
        }
    }

    /// `check --repair`: the administrator accepts the loss `check`
    /// reported (damaged records, their changes gone) and a fresh snapshot
    /// is written past them, which makes the log consistent again. UIDNEXT
    /// and HIGHESTMODSEQ never go below the high-water mark, so no UID is
    /// issued twice even when the lost records were the newest. A
    /// rolled-back log is not repaired here: a snapshot would make the
    /// rollback permanent, so it stays read-only until its copy is
    /// restored.
    pub fn compact_past_damage(
        &mut self,
        lock: &MailboxLock,
        state: &mut State,
    ) -> Result<(), ChangeLogError> {
        if !matches!(self.problem, None | Some(IntegrityProblem::Damaged { .. })) {
            return self.refuse_if_known_bad();
        }
        self.catch_up(state, None)?;
        if let Ok(Some(mark)) = self.marks.read(&self.id) {
            if let Some(uid) = u32::try_from(mark.a).ok().and_then(Uid::new) {
                state.uidnext = state.uidnext.max(uid);
            }
            if let Some(modseq) = Modseq::new(mark.b) {
                state.highest_modseq = state.highest_modseq.max(modseq);
            }
        }
        self.damaged = 0;
        self.problem = None;
        self.compact_locked(lock, state)
    }

    /// Writes a snapshot of `state` (which must be caught up, under the
    /// lock) covering every segment up to the current one, starts the next
    /// segment, and removes segments superseded longer than the grace
    /// period.
    pub fn compact_locked(
        &mut self,
        _lock: &MailboxLock,
        state: &mut State,
    ) -> Result<(), ChangeLogError> {
        self.catch_up(state, None)?;
        self.ensure_writable(state)?;
        let next = self.segment_no.saturating_add(1);
        let out = SnapshotOut {
            version: SNAPSHOT_VERSION,
            next_segment: next,
            uidnext: state.uidnext,
            highest_modseq: state.highest_modseq,
            flag_table: &state.flag_table,
            recent_upto: state.recent_upto,
            pending_moves: &state.pending_moves,
            inbound_moves: &state.inbound_moves,
            vanished: &state.vanished,
            expunged_files: &state.expunged_files,
            messages: state.live().collect(),
        };
        let plain = zeroize::Zeroizing::new(postcard::to_stdvec(&out).map_err(|e| {
            ChangeLogError::CorruptSnapshot {
                path: self.dir.join("snapshot"),
                reason: format!("serialising: {e}"),
            }
        })?);
        let sealed = seal::seal(&self.snapshot_key, &snapshot_aad(&self.id), &plain);
        if sealed.len() as u64 > MAX_SNAPSHOT {
            log::warn!(
                "mailbox {}: a snapshot of {} bytes would pass the bound; not compacting",
                self.id,
                sealed.len()
            );
            return Ok(());
        }
        // The new segment exists before the snapshot names it, so a crash in
        // between leaves readers a consistent chain either way.
        let new_segment = self.open_segment(next)?;
        durable::sync_dir(&self.dir.join("log"))?;
        crash::point("compact.after-segment");
        let mut staged = NewFile::create(&self.tmp_dir)?;
        staged.write_all(&sealed)?;
        crash::point("compact.after-snapshot-tmp");
        staged.place(&self.dir.join("snapshot"), Durability::Now)?;
        crash::point("compact.after-snapshot");
        self.segment = new_segment;
        self.segment_no = next;
        self.tail_records = 0;
        self.remove_old_segments(next);
        Ok(())
    }

    fn remove_old_segments(&self, first_live: u32) {
        let Ok(entries) = fs::read_dir(self.dir.join("log")) else {
            return;
        };
        let now = SystemTime::now();
        for e in entries.flatten() {
            let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > SEGMENT_GRACE);
            if n < first_live && old {
                // Removal is best effort: a leftover segment is only space.
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Rebuilds the state from scratch (snapshot and segments), for a
    /// session that fell so far behind that its next segment was removed.
    pub fn reload(&mut self) -> Result<State, ChangeLogError> {
        let (next, mut fresh) = load_snapshot(&self.dir, &self.id, &self.snapshot_key)?;
        self.segment = self.open_segment(next)?;
        self.segment_no = next;
        self.tail_records = 0;
        self.catch_up(&mut fresh, None)?;
        Ok(fresh)
    }
}

fn snapshot_aad(id: &str) -> Vec<u8> {
    format!("crymap-like mailbox {id} snapshot v1").into_bytes()
}

fn load_snapshot(dir: &Path, id: &str, key: &SecretKey) -> Result<(u32, State), ChangeLogError> {
    let path = dir.join("snapshot");
    let sealed = match durable::read_bounded(&path, MAX_SNAPSHOT) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((1, State::default())),
        Err(e) => return Err(FsError::at("reading", &path)(e).into()),
    };
    let corrupt = |reason: String| ChangeLogError::CorruptSnapshot {
        path: path.clone(),
        reason,
    };
    let plain = seal::open(key, &snapshot_aad(id), &sealed)
        .map_err(|e: CryptoError| corrupt(e.to_string()))?;
    let s: SnapshotIn = postcard::from_bytes(&plain).map_err(|e| corrupt(e.to_string()))?;
    if s.version != SNAPSHOT_VERSION {
        return Err(corrupt(format!("unknown version {}", s.version)));
    }
    Ok((
        s.next_segment,
        State {
            messages: s.messages,
            uidnext: s.uidnext,
            highest_modseq: s.highest_modseq,
            flag_table: s.flag_table,
            recent_upto: s.recent_upto,
            pending_moves: s.pending_moves,
            inbound_moves: s.inbound_moves,
            vanished: s.vanished,
            expunged_files: s.expunged_files,
        },
    ))
}

/// How long a dropped handle waits for the mailbox lock to raise its
/// pending mark: one transaction of another writer is a few
/// milliseconds; a lock held longer than this (a stopped process, this
/// process's own other handle) leaves the mark behind, as a crash would.
const DROP_RAISE_WAIT: Duration = Duration::from_secs(1);

impl Drop for ChangeLog {
    fn drop(&mut self) {
        self.raise_mark_within(DROP_RAISE_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::TempDir;
    use crate::store::state::{Added, Change};
    use crate::store::types::InternalDate;

    fn big_state(n: u32) -> Batch {
        let changes = (1..=n)
            .filter_map(Uid::new)
            .map(|uid| {
                Change::Added(Added {
                    uid,
                    name: MessageName::random(),
                    internal: InternalDate::now(),
                    saved: 0,
                    size: 1000,
                    flags: 0b1000,
                    move_id: None,
                })
            })
            .collect();
        Batch {
            modseq: Modseq::new(2),
            changes,
        }
    }

    /// A user directory with `tmp/`, the mailbox directory in it, a key.
    fn fresh() -> (TempDir, PathBuf, MasterKey) {
        let tmp = TempDir::new("changelog");
        std::fs::create_dir_all(tmp.path().join("tmp")).unwrap();
        let dir = tmp.path().join("mb");
        (tmp, dir, MasterKey::generate())
    }

    fn compact(log: &mut ChangeLog, state: &mut State) {
        let lock = log.lock().unwrap();
        log.compact_locked(&lock, state).unwrap();
    }

    /// Opening a 100,000-message mailbox reads one snapshot, not 100,000
    /// records; the bound is loose for debug builds (release is ~10x faster).
    #[test]
    fn large_mailbox_reopens_from_snapshot() {
        let (tmp, dir, master) = fresh();
        let (mut log, mut state) =
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        log.write(&mut state, None, |_| -> Result<_, ChangeLogError> {
            Ok((vec![big_state(100_000)], ()))
        })
        .unwrap();
        compact(&mut log, &mut state);
        // How fast this is, is measured in benches/ (SELECT of 100,000
        // messages); here only that it reopens from the snapshot, whole.
        let (_, reopened) = ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        assert_eq!(reopened.messages.len(), 100_000);
        assert_eq!(reopened, state);
        let size = std::fs::metadata(dir.join("snapshot")).unwrap().len();
        assert!(size < 100_000 * 48, "snapshot is {size} bytes");
    }

    #[test]
    fn tampered_snapshot_is_a_typed_error() {
        let (tmp, dir, master) = fresh();
        let (mut log, mut state) =
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        compact(&mut log, &mut state);
        let mut bytes = std::fs::read(dir.join("snapshot")).unwrap();
        bytes[30] ^= 1;
        std::fs::write(dir.join("snapshot"), bytes).unwrap();
        assert!(matches!(
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master),
            Err(ChangeLogError::CorruptSnapshot { .. })
        ));
        // The same snapshot under another mailbox's identity is refused too.
        assert!(ChangeLog::open(&dir, &tmp.path().join("tmp"), "other", &master).is_err());
    }

    /// A snapshot replaced by a FIFO, a link (to /dev/zero, to another
    /// user's file) or a file past [`MAX_SNAPSHOT`] (sparse): opening the
    /// mailbox fails at once, having read none of it (before: a FIFO hung
    /// it and /dev/zero exhausted memory). The genuine snapshot put back,
    /// the mailbox opens whole.
    #[test]
    fn hostile_snapshot_is_refused_unread() {
        use crate::crypto::test_util::{finishes, Hostile};
        let (tmp, dir, master) = fresh();
        let (mut log, mut state) =
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        log.write(&mut state, None, |_| -> Result<_, ChangeLogError> {
            Ok((vec![big_state(10)], ()))
        })
        .unwrap();
        compact(&mut log, &mut state);
        drop(log);
        let snapshot = dir.join("snapshot");
        let genuine = std::fs::read(&snapshot).unwrap();
        for what in Hostile::all(MAX_SNAPSHOT) {
            what.plant(&snapshot);
            let (d, t, m) = (dir.clone(), tmp.path().join("tmp"), master.clone());
            let opened = finishes("opening the mailbox", move || {
                ChangeLog::open(&d, &t, "mb", &m).map(|_| ())
            });
            match opened {
                Err(ChangeLogError::Io(e)) => assert_eq!(e.op, "reading", "{what:?}"),
                other => panic!("{what:?}: {other:?}"),
            }
        }
        std::fs::remove_file(&snapshot).unwrap();
        std::fs::write(&snapshot, genuine).unwrap();
        let (_, reopened) = ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        assert_eq!(reopened, state);
    }

    /// [`MAX_SNAPSHOT`] is computed, not guessed: a snapshot with every
    /// part at its largest (each field at its longest varint, every live
    /// message in a pending move of its own, every expunged one with its
    /// file awaiting purge, 64 keywords of 64 KiB, every remembered move
    /// id) fits in the fixed part plus [`SNAPSHOT_BYTES_PER_UID`] a UID.
    /// The formula is linear in the UIDs, so this holds up to
    /// [`SNAPSHOT_UIDS`].
    #[test]
    fn the_snapshot_bound_covers_a_worst_case_snapshot() {
        use crate::store::types::{Flag, InternalDate, MessageName, UidSet};
        const UIDS: u32 = 2000;
        let worst_modseq = Modseq::new(u64::MAX).unwrap();
        let live: Vec<MessageMeta> = (0..UIDS / 2)
            .map(|i| MessageMeta {
                uid: Uid::new(u32::MAX - 2 * i).unwrap(),
                name: MessageName::random(),
                internal: InternalDate {
                    unix_secs: i64::MIN,
                    offset_minutes: i16::MIN,
                },
                saved: i64::MIN,
                size: u32::MAX,
                flags: u64::MAX,
                modseq: worst_modseq,
                expunged: false,
            })
            .collect();
        let vanished: Vec<(Uid, Modseq)> = (0..UIDS / 2)
            .map(|i| (Uid::new(u32::MAX - 2 * i - 1).unwrap(), worst_modseq))
            .collect();
        let expunged_files: Vec<(MessageName, i64)> = (0..UIDS / 2)
            .map(|_| (MessageName::random(), i64::MIN))
            .collect();
        // One move per live message (its UIDs never adjacent), and the
        // rest of the 1,024 moves allowed for with none.
        let pending_moves: Vec<PendingMove> = live
            .iter()
            .map(|m| Some(m.uid))
            .chain(std::iter::repeat_n(None, 1024))
            .take(live.len().max(1024))
            .map(|uid| PendingMove {
                id: u64::MAX,
                dest: "f".repeat(32),
                uids: UidSet::from_uids(uid),
            })
            .collect();
        let flag_table: Vec<Flag> = (0..MAX_FLAGS)
            .map(|i| Flag::keyword(&format!("{i:x}").repeat(64 * 1024)[..64 * 1024]).unwrap())
            .collect();
        let inbound_moves: std::collections::VecDeque<u64> =
            std::iter::repeat_n(u64::MAX, INBOUND_MOVES_KEPT).collect();
        let out = SnapshotOut {
            version: SNAPSHOT_VERSION,
            next_segment: u32::MAX,
            uidnext: Uid::MAX,
            highest_modseq: worst_modseq,
            flag_table: &flag_table,
            recent_upto: Some(Uid::MAX),
            pending_moves: &pending_moves,
            inbound_moves: &inbound_moves,
            vanished: &vanished,
            expunged_files: &expunged_files,
            messages: live.iter().collect(),
        };
        let plain = postcard::to_stdvec(&out).unwrap();
        let sealed = (plain.len() + seal::OVERHEAD) as u64;
        let bound =
            seal::OVERHEAD as u64 + SNAPSHOT_FIXED_BYTES + u64::from(UIDS) * SNAPSHOT_BYTES_PER_UID;
        assert!(sealed <= bound, "{sealed} > {bound}");
        // Each live message alone (with its move) stays within its share.
        let one = postcard::to_stdvec(&live[0]).unwrap().len()
            + postcard::to_stdvec(&pending_moves[0].uids).unwrap().len()
            - 1;
        assert!(one as u64 <= SNAPSHOT_BYTES_PER_UID, "{one}");
        const { assert!(MAX_SNAPSHOT < 340_000_000) };
    }

    fn one_message(uid: u32, modseq: u64) -> Batch {
        Batch {
            modseq: Modseq::new(modseq),
            changes: vec![Change::Added(Added {
                uid: Uid::new(uid).unwrap(),
                name: MessageName::random(),
                internal: InternalDate::now(),
                saved: 0,
                size: 1000,
                flags: 0,
                move_id: None,
            })],
        }
    }

    /// Deferred marks: none is written by the write itself; raised out of
    /// order by two handles, the mark never goes down; a raise while
    /// another transaction holds the lock does not wait, and the mark stays
    /// pending for the next raise (before, it was dropped: a holder that
    /// writes nothing raised nothing, and the mark stayed behind); a
    /// dropped handle raises what it left pending.
    #[test]
    fn deferred_marks_rise_after_the_write_and_never_go_down() {
        let (tmp, dir, master) = fresh();
        let t = tmp.path().join("tmp");
        let marks = Marks::new(tmp.path(), &master);
        let (mut a, mut sa) = ChangeLog::open(&dir, &t, "mb", &master).unwrap();
        let (mut b, mut sb) = ChangeLog::open(&dir, &t, "mb", &master).unwrap();
        let first = marks.read("mb").unwrap();
        a.defer_marks();
        b.defer_marks();
        let add = |st: &State| -> Result<_, ChangeLogError> {
            Ok((
                vec![one_message(st.uidnext.get(), st.highest_modseq.get() + 1)],
                (),
            ))
        };
        a.write(&mut sa, None, add).unwrap();
        assert_eq!(marks.read("mb").unwrap(), first, "written by the write");
        b.write(&mut sb, None, add).unwrap();
        b.raise_mark();
        let high = marks.read("mb").unwrap().unwrap();
        assert_eq!(high.a, 3);
        a.raise_mark();
        assert_eq!(marks.read("mb").unwrap(), Some(high), "lowered");

        a.write(&mut sa, None, add).unwrap();
        // Another transaction that writes nothing holds the lock.
        let held = b.lock().unwrap();
        a.raise_mark();
        assert_eq!(
            marks.read("mb").unwrap(),
            Some(high),
            "raised under another's lock"
        );
        assert!(a.mark_pending(), "kept for the next raise");
        drop(held);
        a.raise_mark();
        assert!(!a.mark_pending());
        let high = marks.read("mb").unwrap().unwrap();
        assert_eq!(high.a, 4, "raised once the lock was free");
        b.write(&mut sb, None, add).unwrap();
        drop(b);
        assert_eq!(marks.read("mb").unwrap().unwrap().a, 5, "raised at drop");
    }

    /// A raise that cannot even open the mailbox lock (the mailbox was
    /// deleted and collected meanwhile, or `lock` is not a regular file)
    /// gives the mark up instead of keeping it pending: a session retries
    /// pending marks while it waits for its client, and used to wake every
    /// 100 ms of an IDLE for good, retrying in vain.
    #[test]
    fn a_mark_whose_lock_cannot_be_opened_is_given_up() {
        let (tmp, dir, master) = fresh();
        let t = tmp.path().join("tmp");
        let (mut a, mut sa) = ChangeLog::open(&dir, &t, "mb", &master).unwrap();
        a.defer_marks();
        a.write(&mut sa, None, |st: &State| -> Result<_, ChangeLogError> {
            Ok((
                vec![one_message(st.uidnext.get(), st.highest_modseq.get() + 1)],
                (),
            ))
        })
        .unwrap();
        assert!(a.mark_pending());
        std::fs::remove_file(dir.join("lock")).unwrap();
        std::fs::create_dir(dir.join("lock")).unwrap();
        a.raise_mark();
        assert!(!a.mark_pending(), "kept pending, to be retried in vain");
    }

    /// A handle dropped while another transaction holds the lock for a
    /// moment waits for it and raises its pending mark (before, the mark
    /// was left behind its log until the next write).
    #[test]
    fn a_dropped_handle_raises_its_mark_once_the_lock_is_free() {
        let (tmp, dir, master) = fresh();
        let t = tmp.path().join("tmp");
        let marks = Marks::new(tmp.path(), &master);
        let (mut a, mut sa) = ChangeLog::open(&dir, &t, "mb", &master).unwrap();
        let (b, _) = ChangeLog::open(&dir, &t, "mb", &master).unwrap();
        a.defer_marks();
        a.write(&mut sa, None, |st: &State| -> Result<_, ChangeLogError> {
            Ok((
                vec![one_message(st.uidnext.get(), st.highest_modseq.get() + 1)],
                (),
            ))
        })
        .unwrap();
        let before = marks.read("mb").unwrap().unwrap();
        assert_eq!(before.a, 1);
        let held = b.lock().unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        drop(a);
        release.join().unwrap();
        assert_eq!(marks.read("mb").unwrap().unwrap().a, 2, "raised at drop");
    }

    /// A mailbox filled one APPEND at a time is compacted every
    /// COMPACT_AT_RECORDS records, long before its segment reaches
    /// COMPACT_AT_BYTES: a reopening replays a short tail after the
    /// snapshot, and ends in the same state.
    #[test]
    fn many_small_records_are_compacted_by_count() {
        let (tmp, dir, master) = fresh();
        let (mut log, mut state) =
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        for n in 1..=100u32 {
            log.write(&mut state, None, |_| -> Result<_, ChangeLogError> {
                Ok((vec![one_message(n, u64::from(n) + 1)], ()))
            })
            .unwrap();
            assert!(log.tail_records < COMPACT_AT_RECORDS, "after {n} writes");
        }
        assert_eq!(log.segment_no, 1 + 100 / COMPACT_AT_RECORDS as u32);
        assert!(dir.join("snapshot").exists());
        let (reopened_log, reopened) =
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        assert_eq!(reopened.messages.len(), 100);
        assert_eq!(reopened, state);
        assert_eq!(reopened_log.tail_records, 100 % COMPACT_AT_RECORDS);
    }

    /// In a large mailbox the tail may grow with the snapshot (one record
    /// per MESSAGES_PER_TAIL_RECORD messages) before a compaction rewrites
    /// it, so appends to it do not rewrite the whole snapshot every few
    /// records.
    #[test]
    fn large_mailboxes_allow_a_proportional_tail() {
        let (tmp, dir, master) = fresh();
        let (mut log, mut state) =
            ChangeLog::open(&dir, &tmp.path().join("tmp"), "mb", &master).unwrap();
        log.write(&mut state, None, |_| -> Result<_, ChangeLogError> {
            Ok((vec![big_state(10_000)], ()))
        })
        .unwrap();
        compact(&mut log, &mut state);
        let segment = log.segment_no;
        // The n-th record after the snapshot compacts once n reaches the
        // limit for the 10,000 + n messages then in the mailbox.
        let due = (1..)
            .find(|&n| n >= (10_000 + n) / MESSAGES_PER_TAIL_RECORD)
            .unwrap();
        for n in 1..=due {
            assert_eq!(log.segment_no, segment, "compacted after {} records", n - 1);
            let uid = 10_000 + u32::try_from(n).unwrap();
            log.write(&mut state, None, |st| -> Result<_, ChangeLogError> {
                Ok((vec![one_message(uid, st.highest_modseq.get() + 1)], ()))
            })
            .unwrap();
        }
        assert_eq!(log.segment_no, segment + 1);
    }
}
