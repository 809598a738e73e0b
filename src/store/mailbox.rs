//! A session's view of one mailbox: the replayed state, the part of it the
//! client has been told about (sequence numbers), and every mailbox
//! operation (append, flags, expunge, copy, move, \Recent, message and
//! summary access, garbage collection). Owns the multi-session rules: other
//! sessions' changes become visible only through [`Mailbox::refresh`], which
//! the IMAP layer calls where RFC 3501/9051 allow EXISTS/EXPUNGE/FETCH.
//! Never knows IMAP syntax, never holds a lock between calls.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::RngCore;
use thiserror::Error;

use super::account::{MailboxId, UidValidity};
use super::change_log::{ChangeLog, ChangeLogError, MailboxLock};
use super::crash;
use super::fsutil;
use super::message_file::{self, MessageFileError, MessageReader, SealedMessage};
use super::state::{Added, Batch, Change, State, MAX_FLAGS};
use super::summary::{self, SummaryError};
use super::types::{Flag, FlagOp, InternalDate, MessageName, Modseq, SeqNum, Uid, UidSet};
use crate::crypto::keystore::{self, KeyStore};
use crate::crypto::secret::{MasterKey, SecretKey};
use crate::crypto::CryptoError;
use crate::mime::summary::Summary;

/// Largest message the store accepts (APPEND and delivery).
pub const MAX_MESSAGE_SIZE: u64 = crate::config::MAX_MESSAGE_SIZE as u64;
/// How long files of expunged or unreferenced messages are kept.
pub const FILE_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Errors of mailbox operations.
#[derive(Debug, Error)]
pub enum MailboxError {
    /// The change log failed.
    #[error(transparent)]
    Log(#[from] ChangeLogError),
    /// A message file failed (I/O, tampering, size).
    #[error(transparent)]
    MessageFile(#[from] MessageFileError),
    /// A summary file failed.
    #[error(transparent)]
    Summary(#[from] SummaryError),
    /// A content key could not be unwrapped.
    #[error("unwrapping the key of message {uid}: {source}")]
    Key {
        /// Which message.
        uid: Uid,
        /// Why.
        source: CryptoError,
    },
    /// The UID is not in this mailbox (never was, or expunged and reported).
    #[error("no message with UID {0}")]
    NoSuchMessage(Uid),
    /// The mailbox already uses every flag bit.
    #[error("too many distinct keywords in this mailbox (limit {MAX_FLAGS} flags)")]
    TooManyKeywords,
    /// MOVE needs two different mailboxes.
    #[error("cannot move messages into the mailbox they are in")]
    SameMailbox,
    /// UIDs are exhausted; the mailbox needs a new UIDVALIDITY.
    #[error("mailbox UID space exhausted")]
    UidsExhausted,
    /// A file system operation outside the log failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// Which file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

fn io_err(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MailboxError {
    let path = path.to_path_buf();
    move |source| MailboxError::Io {
        context,
        path,
        source,
    }
}

/// The keys a logged-in session uses for mailboxes, shared by all of them.
pub struct UserKeys {
    master: MasterKey,
    keystore: KeyStore,
    summary_key: SecretKey,
}

impl UserKeys {
    /// Keys of the user whose directory is `user_dir`.
    pub fn new(user_dir: &Path, master: MasterKey) -> Arc<UserKeys> {
        Arc::new(UserKeys {
            summary_key: master.subkey("message-summary"),
            keystore: KeyStore::new(user_dir.join("keys")),
            master,
        })
    }

    /// The master key.
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The key store.
    pub fn keystore(&self) -> &KeyStore {
        &self.keystore
    }
}

/// What changed since the previous [`Mailbox::refresh`], in the order the
/// IMAP layer should report it: flag changes (FETCH, sequence numbers valid
/// before the expunges), then expunges (EXPUNGE, already in an order where
/// each sequence number is right when sent: descending), then the new
/// message count (EXISTS).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Messages whose flags others changed, with their sequence numbers.
    pub flags_changed: Vec<(SeqNum, Uid)>,
    /// Expunged messages, descending sequence numbers.
    pub expunged: Vec<(SeqNum, Uid)>,
    /// Messages that appeared, ascending.
    pub new_uids: Vec<Uid>,
    /// The message count after the changes.
    pub exists: u32,
}

/// Removes the directories under `mailboxes/` that belong to no mailbox of
/// the account any more (deleted ones), once untouched for `grace`. The
/// grace protects a mailbox being created right now, whose directory exists
/// a moment before its account record. Returns how many were removed.
pub fn remove_deleted_mailboxes(
    user_dir: &Path,
    live: &[MailboxId],
    grace: Duration,
) -> io::Result<usize> {
    let live: BTreeSet<String> = live.iter().map(ToString::to_string).collect();
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(user_dir.join("mailboxes"))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if live.contains(name) || MailboxId::parse_hex(name).is_none() {
            continue;
        }
        let meta = entry.metadata()?;
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if meta.is_dir() && age >= grace {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// One message of a batch append.
#[derive(Clone, Copy, Debug)]
pub struct NewMessage<'a> {
    /// The raw RFC 5322 message.
    pub raw: &'a [u8],
    /// Its initial flags.
    pub flags: &'a [Flag],
    /// Its INTERNALDATE.
    pub internal: InternalDate,
}

/// Store-side facts about one message as this session sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// UID.
    pub uid: Uid,
    /// Flags (without \Recent).
    pub flags: Vec<Flag>,
    /// Whether this session holds \Recent for it.
    pub recent: bool,
    /// Modseq of its last change.
    pub modseq: Modseq,
    /// INTERNALDATE.
    pub internal: InternalDate,
    /// SAVEDATE, seconds since the epoch.
    pub saved: i64,
    /// RFC822.SIZE.
    pub size: u32,
    /// Expunged by another session; not yet reported.
    pub expunged: bool,
    /// The message file name (stable across COPY: usable as EMAILID).
    pub name: MessageName,
}

/// Outcome of [`Mailbox::store_flags`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// Messages whose flags changed.
    pub changed: Vec<Uid>,
    /// Messages skipped because modified after UNCHANGEDSINCE.
    pub failed_modified: Vec<Uid>,
    /// The modseq of the change, if anything changed.
    pub modseq: Option<Modseq>,
}

/// A session's view of one mailbox.
pub struct Mailbox {
    keys: Arc<UserKeys>,
    user_dir: PathBuf,
    log: ChangeLog,
    state: State,
    uid_validity: UidValidity,
    /// Leading entries of `state.messages` the client knows about.
    visible: usize,
    /// Messages whose flags other sessions changed since the last refresh.
    changed: BTreeSet<Uid>,
    /// UIDs this session holds \Recent for.
    recent: Vec<(Uid, Uid)>,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn msg_path(dir: &Path, name: &MessageName) -> PathBuf {
    dir.join("msg").join(name.fanout()).join(name.to_string())
}

/// Allocates flag bits for `flags` in `state`, returning the bits and the
/// definitions to log first.
fn plan_bits(state: &State, flags: &[Flag]) -> Result<(u64, Vec<Change>), MailboxError> {
    let mut bits = 0u64;
    let mut defs: Vec<Change> = Vec::new();
    let mut next = state.flag_table.len();
    for f in flags {
        let bit = match state.bit_of(f) {
            Some(b) => usize::from(b),
            None => match defs.iter().find_map(|d| match d {
                Change::FlagDefined { bit, flag } if flag.same_as(f) => Some(usize::from(*bit)),
                _ => None,
            }) {
                Some(b) => b,
                None => {
                    if next >= MAX_FLAGS {
                        return Err(MailboxError::TooManyKeywords);
                    }
                    let bit = u8::try_from(next).map_err(|_| MailboxError::TooManyKeywords)?;
                    defs.push(Change::FlagDefined {
                        bit,
                        flag: f.clone(),
                    });
                    next += 1;
                    usize::from(bit)
                }
            },
        };
        bits |= 1u64 << bit;
    }
    Ok((bits, defs))
}

impl Mailbox {
    /// Opens mailbox `id` of the user in `user_dir` (its UIDVALIDITY comes
    /// from the account), replays its log and finishes or cancels any MOVE
    /// out of it that a crash interrupted.
    pub fn open(
        keys: Arc<UserKeys>,
        user_dir: &Path,
        id: &MailboxId,
        uid_validity: UidValidity,
    ) -> Result<Mailbox, MailboxError> {
        let id = id.to_string();
        let dir = user_dir.join("mailboxes").join(&id);
        let (log, mut state) = ChangeLog::open(&dir, &user_dir.join("tmp"), &id, &keys.master)?;
        state.drop_tombstones();
        let visible = state.messages.len();
        let mut mb = Mailbox {
            keys,
            user_dir: user_dir.to_path_buf(),
            log,
            state,
            uid_validity,
            visible,
            changed: BTreeSet::new(),
            recent: Vec::new(),
        };
        if !mb.state.pending_moves.is_empty() {
            mb.recover_moves()?;
            // The client has seen nothing yet: start from the repaired state.
            mb.state.drop_tombstones();
            mb.visible = mb.state.messages.len();
            mb.changed.clear();
        }
        Ok(mb)
    }

    /// The mailbox id.
    pub fn id(&self) -> &str {
        self.log.id()
    }

    /// UIDVALIDITY.
    pub fn uid_validity(&self) -> UidValidity {
        self.uid_validity
    }

    /// UIDNEXT as of the last refresh (or later own writes).
    pub fn uidnext(&self) -> Uid {
        self.state.uidnext
    }

    /// HIGHESTMODSEQ of everything read so far.
    pub fn highest_modseq(&self) -> Modseq {
        self.state.highest_modseq
    }

    /// Number of messages the client knows (EXISTS).
    pub fn exists(&self) -> u32 {
        u32::try_from(self.visible).unwrap_or(u32::MAX)
    }

    /// UIDs the client knows, by sequence number.
    pub fn uids(&self) -> impl Iterator<Item = Uid> + '_ {
        self.state.messages.iter().take(self.visible).map(|m| m.uid)
    }

    /// The UID at sequence number `seq`.
    pub fn uid_of(&self, seq: SeqNum) -> Option<Uid> {
        if seq.index() >= self.visible {
            return None;
        }
        self.state.messages.get(seq.index()).map(|m| m.uid)
    }

    /// The sequence number of `uid`, if the client knows it.
    pub fn seq_of(&self, uid: Uid) -> Option<SeqNum> {
        self.state
            .position(uid)
            .filter(|i| *i < self.visible)
            .and_then(SeqNum::from_index)
    }

    /// Facts about a message the client knows.
    pub fn info(&self, uid: Uid) -> Option<MessageInfo> {
        let i = self.state.position(uid).filter(|i| *i < self.visible)?;
        let m = self.state.messages.get(i)?;
        Some(MessageInfo {
            uid: m.uid,
            flags: self.state.flags_of(m.flags),
            recent: self.is_recent(uid),
            modseq: m.modseq,
            internal: m.internal,
            saved: m.saved,
            size: m.size,
            expunged: m.expunged,
            name: m.name,
        })
    }

    /// Every flag defined in this mailbox (for the FLAGS response).
    pub fn defined_flags(&self) -> &[Flag] {
        &self.state.flag_table
    }

    /// Whether this session holds \Recent for `uid`.
    pub fn is_recent(&self, uid: Uid) -> bool {
        self.recent.iter().any(|&(lo, hi)| lo <= uid && uid <= hi)
    }

    /// Number of messages this session holds \Recent for (RECENT).
    pub fn recent_count(&self) -> u32 {
        let n = self
            .state
            .messages
            .iter()
            .take(self.visible)
            .filter(|m| self.is_recent(m.uid))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Messages the client knows that no session has claimed \Recent for
    /// yet: what STATUS RECENT reports from a handle that claims nothing.
    pub fn unclaimed_recent_count(&self) -> u32 {
        let upto = self.state.recent_upto;
        let n = self
            .state
            .messages
            .iter()
            .take(self.visible)
            .filter(|m| Some(m.uid) > upto)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// UIDs expunged with a modseq above `since` (QRESYNC VANISHED).
    pub fn vanished_since(&self, since: Modseq) -> Vec<Uid> {
        self.state
            .vanished
            .iter()
            .filter(|(_, m)| *m > since)
            .map(|(u, _)| *u)
            .collect()
    }

    /// Reads what other sessions wrote (without locking) and makes it
    /// visible to the client, returning what to report.
    pub fn refresh(&mut self) -> Result<Changes, MailboxError> {
        match self.log.catch_up(&mut self.state, Some(&mut self.changed)) {
            Ok(_) => {}
            Err(ChangeLogError::LostPlace { .. }) => {
                let fresh = self.log.reload()?;
                self.merge_fresh(fresh);
            }
            Err(e) => return Err(e.into()),
        }
        if !self.state.pending_moves.is_empty() {
            self.recover_moves()?;
        }
        let mut out = Changes::default();
        for uid in std::mem::take(&mut self.changed) {
            if let Some(seq) = self.seq_of(uid) {
                out.flags_changed.push((seq, uid));
            }
        }
        for (i, m) in self
            .state
            .messages
            .iter()
            .enumerate()
            .take(self.visible)
            .rev()
        {
            if m.expunged {
                if let Some(seq) = SeqNum::from_index(i) {
                    out.expunged.push((seq, m.uid));
                }
            }
        }
        let known = self
            .state
            .messages
            .iter()
            .take(self.visible)
            .filter(|m| !m.expunged)
            .count();
        self.state.drop_tombstones();
        out.new_uids = self
            .state
            .messages
            .iter()
            .skip(known)
            .map(|m| m.uid)
            .collect();
        self.visible = self.state.messages.len();
        out.exists = self.exists();
        Ok(out)
    }

    /// Adopts a state rebuilt from scratch, turning the difference into
    /// tombstones, flag changes and new messages as a refresh would.
    fn merge_fresh(&mut self, mut fresh: State) {
        fresh.drop_tombstones();
        let mut merged: Vec<_> = Vec::with_capacity(fresh.messages.len());
        let mut new_iter = fresh.messages.into_iter().peekable();
        for mut old in std::mem::take(&mut self.state.messages) {
            while new_iter.peek().is_some_and(|n| n.uid < old.uid) {
                if let Some(n) = new_iter.next() {
                    merged.push(n);
                }
            }
            match new_iter.peek() {
                Some(n) if n.uid == old.uid => {
                    if n.flags != old.flags {
                        self.changed.insert(old.uid);
                    }
                    if let Some(n) = new_iter.next() {
                        let expunged = old.expunged;
                        old = n;
                        old.expunged = expunged;
                    }
                }
                _ => old.expunged = true,
            }
            merged.push(old);
        }
        merged.extend(new_iter);
        fresh.messages = merged;
        self.state = fresh;
    }

    /// Appends a message; returns its UID. The client learns of it at the
    /// next refresh.
    pub fn append(
        &mut self,
        raw: &[u8],
        flags: &[Flag],
        internal: InternalDate,
    ) -> Result<Uid, MailboxError> {
        let uids = self.append_many(&[NewMessage {
            raw,
            flags,
            internal,
        }])?;
        uids.first().copied().ok_or(MailboxError::UidsExhausted)
    }

    /// Appends several messages at once (MULTIAPPEND): every file is
    /// written, one `syncfs` makes them all durable, and one log record
    /// adds them all, so the batch is atomic (all or none appear) and costs
    /// two syncs whatever its size. Returns their UIDs in order.
    pub fn append_many(&mut self, msgs: &[NewMessage<'_>]) -> Result<Vec<Uid>, MailboxError> {
        let tmp = self.user_dir.join("tmp");
        let mut written: Vec<(MessageName, PathBuf, u32)> = Vec::with_capacity(msgs.len());
        let result = (|| -> Result<(), MailboxError> {
            for m in msgs {
                let content_key = SecretKey::generate();
                let wrapped = keystore::wrap_under_master(&self.keys.master, &content_key);
                let name = MessageName::random();
                let path = msg_path(self.log.dir(), &name);
                let size = message_file::write(
                    &tmp,
                    &path,
                    message_file::Keys {
                        wrapped: &wrapped,
                        content_key: &content_key,
                    },
                    &mut &m.raw[..],
                    None,
                    MAX_MESSAGE_SIZE,
                    "append.before-rename",
                    message_file::Durability::Deferred,
                )?;
                let size = u32::try_from(size).map_err(|_| MessageFileError::TooLarge {
                    limit: MAX_MESSAGE_SIZE,
                })?;
                written.push((name, path.clone(), size));
                self.write_summary(&name, &path, m.raw)?;
            }
            // One syncfs makes every file, name and summary durable before
            // the record that refers to them is logged.
            fsutil::sync_filesystem(self.log.dir()).map_err(|source| {
                MailboxError::from(MessageFileError::Io {
                    context: "syncing",
                    path: self.log.dir().to_path_buf(),
                    source,
                })
            })
        })();
        if let Err(e) = result {
            // Unreferenced files would be collected after 24 h anyway; an
            // immediate clean-up keeps a failed batch from using space.
            for (_, path, _) in &written {
                let _ = fs::remove_file(summary::path_for(path));
                let _ = fs::remove_file(path);
            }
            return Err(e);
        }
        crash::point("append.after-file");
        let all_flags: Vec<Flag> = msgs.iter().flat_map(|m| m.flags.iter().cloned()).collect();
        let uids = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let (_, mut changes) = plan_bits(st, &all_flags)?;
                let bit_of = |f: &Flag, changes: &[Change]| {
                    st.bit_of(f).map(usize::from).or_else(|| {
                        changes.iter().find_map(|d| match d {
                            Change::FlagDefined { bit, flag } if flag.same_as(f) => {
                                Some(usize::from(*bit))
                            }
                            _ => None,
                        })
                    })
                };
                let mut next = Some(st.uidnext);
                let mut uids = Vec::with_capacity(msgs.len());
                let saved = now_secs();
                for (m, (name, _, size)) in msgs.iter().zip(&written) {
                    let uid = next
                        .filter(|u| *u != Uid::MAX)
                        .ok_or(MailboxError::UidsExhausted)?;
                    let bits = m
                        .flags
                        .iter()
                        .filter_map(|f| bit_of(f, &changes))
                        .fold(0u64, |b, bit| b | 1u64 << bit);
                    changes.push(Change::Added(Added {
                        uid,
                        name: *name,
                        internal: m.internal,
                        saved,
                        size: *size,
                        flags: bits,
                        move_id: None,
                    }));
                    uids.push(uid);
                    next = uid.next();
                }
                Ok((
                    vec![Batch {
                        modseq: Some(st.highest_modseq.next()),
                        changes,
                    }],
                    uids,
                ))
            },
        )?;
        crash::point("append.after-log");
        Ok(uids)
    }

    fn write_summary(
        &self,
        name: &MessageName,
        path: &Path,
        raw: &[u8],
    ) -> Result<(), MailboxError> {
        let blob = summary::compute(raw);
        if blob.is_empty() {
            return Ok(());
        }
        summary::write(
            &self.user_dir.join("tmp"),
            &summary::path_for(path),
            &self.keys.summary_key,
            name,
            &blob,
        )?;
        Ok(())
    }

    /// Changes flags of `uids` (messages the client knows, including ones
    /// others expunged unseen). With `unchanged_since`, messages modified
    /// after it are left alone and reported (CONDSTORE). One record, one
    /// fsync whatever the number of messages.
    pub fn store_flags(
        &mut self,
        uids: &[Uid],
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<Modseq>,
    ) -> Result<StoreOutcome, MailboxError> {
        let flags = flags.to_vec();
        let uids = UidSet::from_uids(uids.iter().copied());
        self.log
            .write(
                &mut self.state,
                Some(&mut self.changed),
                |st: &State| -> Result<_, MailboxError> {
                    let (bits, mut changes) = plan_bits(st, &flags)?;
                    let mut out = StoreOutcome::default();
                    for uid in uids.iter() {
                        let Some(m) = st.get(uid) else { continue };
                        if unchanged_since.is_some_and(|s| m.modseq > s) {
                            out.failed_modified.push(uid);
                            continue;
                        }
                        let new = match op {
                            FlagOp::Add => m.flags | bits,
                            FlagOp::Remove => m.flags & !bits,
                            FlagOp::Replace => bits,
                        };
                        if new != m.flags {
                            out.changed.push(uid);
                        }
                    }
                    if out.changed.is_empty() {
                        return Ok((Vec::new(), out));
                    }
                    let modseq = st.highest_modseq.next();
                    out.modseq = Some(modseq);
                    changes.push(Change::Flags {
                        uids: UidSet::from_uids(out.changed.iter().copied()),
                        op,
                        bits,
                    });
                    Ok((
                        vec![Batch {
                            modseq: Some(modseq),
                            changes,
                        }],
                        out,
                    ))
                },
            )
            .inspect(|_| crash::point("flags.after-log"))
    }

    /// Expunges `uids`; returns those this call expunged. The client is told
    /// at the next refresh, like any other session.
    pub fn expunge(&mut self, uids: &[Uid]) -> Result<Vec<Uid>, MailboxError> {
        let uids = UidSet::from_uids(uids.iter().copied());
        let done = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let gone: Vec<Uid> = uids
                    .iter()
                    .filter(|u| st.get(*u).is_some_and(|m| !m.expunged))
                    .collect();
                if gone.is_empty() {
                    return Ok((Vec::new(), gone));
                }
                let batch = Batch {
                    modseq: Some(st.highest_modseq.next()),
                    changes: vec![Change::Expunged {
                        uids: UidSet::from_uids(gone.iter().copied()),
                        at: now_secs(),
                    }],
                };
                Ok((vec![batch], gone))
            },
        )?;
        crash::point("expunge.after-log");
        Ok(done)
    }

    /// Claims \Recent for every message not yet claimed by any session
    /// (call after [`Mailbox::refresh`] in a read-write session); returns
    /// the UIDs this session now holds \Recent for.
    pub fn claim_recent(&mut self) -> Result<Vec<Uid>, MailboxError> {
        let claimed = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let Some(last) = st.messages.last().map(|m| m.uid) else {
                    return Ok((Vec::new(), None));
                };
                let from = st.recent_upto.and_then(Uid::next).unwrap_or(Uid::MIN);
                if st.recent_upto >= Some(last) {
                    return Ok((Vec::new(), None));
                }
                let batch = Batch {
                    modseq: None,
                    changes: vec![Change::RecentClaimed { upto: last }],
                };
                Ok((vec![batch], Some((from, last))))
            },
        )?;
        let Some((from, last)) = claimed else {
            return Ok(Vec::new());
        };
        self.recent.push((from, last));
        Ok(self
            .state
            .messages
            .iter()
            .filter(|m| m.uid >= from && m.uid <= last && !m.expunged)
            .map(|m| m.uid)
            .collect())
    }

    /// Links the files of `uids` into `dest` and logs them there, with
    /// their flags and INTERNALDATE. Returns (source, destination) UIDs.
    pub fn copy_to(
        &mut self,
        uids: &[Uid],
        dest: &mut Mailbox,
    ) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        let items = self.link_into(uids, dest)?;
        crash::point("copy.after-link");
        let lock = dest.log.lock()?;
        let map = dest.add_linked(&lock, &items, None)?;
        drop(lock);
        crash::point("copy.after-log");
        Ok(map)
    }

    /// Messages to carry to another mailbox: source UID, file, date, size,
    /// flags; and their files linked into `dest`.
    fn link_into(&self, uids: &[Uid], dest: &Mailbox) -> Result<Vec<Carried>, MailboxError> {
        let mut items = Vec::new();
        for uid in UidSet::from_uids(uids.iter().copied()).iter() {
            let Some(m) = self.state.get(uid) else {
                continue;
            };
            let src = msg_path(self.log.dir(), &m.name);
            let dst = msg_path(dest.log.dir(), &m.name);
            fsutil::link_into(&src, &dst).map_err(io_err("linking", &dst))?;
            let src_sum = summary::path_for(&src);
            if src_sum.exists() {
                let dst_sum = summary::path_for(&dst);
                fsutil::link_into(&src_sum, &dst_sum).map_err(io_err("linking", &dst_sum))?;
            }
            items.push(Carried {
                uid,
                name: m.name,
                internal: m.internal,
                size: m.size,
                flags: self.state.flags_of(m.flags),
            });
        }
        Ok(items)
    }

    fn add_linked(
        &mut self,
        lock: &MailboxLock,
        items: &[Carried],
        move_id: Option<u64>,
    ) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.log.write_locked(
            lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let mut all: Vec<Flag> = Vec::new();
                for it in items {
                    for f in &it.flags {
                        if !all.iter().any(|a| a.same_as(f)) {
                            all.push(f.clone());
                        }
                    }
                }
                let (_, mut changes) = plan_bits(st, &all)?;
                let mut scratch = st.flag_table.clone();
                for c in &changes {
                    if let Change::FlagDefined { flag, .. } = c {
                        scratch.push(flag.clone());
                    }
                }
                let mut uid = st.uidnext;
                let saved = now_secs();
                let mut map = Vec::with_capacity(items.len());
                for it in items {
                    let mut bits = 0u64;
                    for f in &it.flags {
                        if let Some(b) = scratch.iter().position(|s| s.same_as(f)) {
                            bits |= 1u64 << b;
                        }
                    }
                    changes.push(Change::Added(Added {
                        uid,
                        name: it.name,
                        internal: it.internal,
                        saved,
                        size: it.size,
                        flags: bits,
                        move_id,
                    }));
                    map.push((it.uid, uid));
                    uid = uid.next().ok_or(MailboxError::UidsExhausted)?;
                }
                Ok((
                    vec![Batch {
                        modseq: Some(st.highest_modseq.next()),
                        changes,
                    }],
                    map,
                ))
            },
        )
    }

    /// MOVE into the mailbox the messages are already in (Dovecot allows
    /// it; imaptest `move`): each message gets a new UID and the old one is
    /// expunged in one batch of records, so a crash leaves the old UIDs or
    /// the new ones, never both. Returns (old, new) UIDs.
    pub fn move_within(&mut self, uids: &[Uid]) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        let wanted = UidSet::from_uids(uids.iter().copied());
        let lock = self.log.lock()?;
        let map = self.log.write_locked(
            &lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let mut uid = st.uidnext;
                let saved = now_secs();
                let mut changes = Vec::new();
                let mut map = Vec::new();
                for src in wanted.iter() {
                    let Some(m) = st.get(src).filter(|m| !m.expunged) else {
                        continue;
                    };
                    changes.push(Change::Added(Added {
                        uid,
                        name: m.name,
                        internal: m.internal,
                        saved,
                        size: m.size,
                        flags: m.flags,
                        move_id: None,
                    }));
                    map.push((src, uid));
                    uid = uid.next().ok_or(MailboxError::UidsExhausted)?;
                }
                if map.is_empty() {
                    return Ok((Vec::new(), map));
                }
                changes.push(Change::Expunged {
                    uids: UidSet::from_uids(map.iter().map(|&(s, _)| s)),
                    at: saved,
                });
                Ok((
                    vec![Batch {
                        modseq: Some(st.highest_modseq.next()),
                        changes,
                    }],
                    map,
                ))
            },
        )?;
        drop(lock);
        Ok(map)
    }

    /// Moves `uids` to `dest` atomically as clients see it: intent logged
    /// here, adds logged there, then the expunge here, all under both
    /// mailbox locks (taken in id order). A crash at any point is repaired
    /// by the next opener of this mailbox. Returns (source, destination)
    /// UIDs.
    pub fn move_to(
        &mut self,
        uids: &[Uid],
        dest: &mut Mailbox,
    ) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        if self.id() == dest.id() {
            return Err(MailboxError::SameMailbox);
        }
        // Locks in id order, so two opposite moves cannot deadlock.
        let (src_lock, dst_lock) = if self.id() < dest.id() {
            let s = self.log.lock()?;
            (s, dest.log.lock()?)
        } else {
            let d = dest.log.lock()?;
            (self.log.lock()?, d)
        };
        let id = rand::rngs::OsRng.next_u64();
        let dest_id = dest.id().to_owned();
        let wanted = UidSet::from_uids(uids.iter().copied());
        let moving = self.log.write_locked(
            &src_lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let live = UidSet::from_uids(
                    wanted
                        .iter()
                        .filter(|u| st.get(*u).is_some_and(|m| !m.expunged)),
                );
                if live.is_empty() {
                    return Ok((Vec::new(), live));
                }
                let batch = Batch {
                    modseq: None,
                    changes: vec![Change::MoveIntent {
                        id,
                        dest: dest_id.clone(),
                        uids: live.clone(),
                    }],
                };
                Ok((vec![batch], live))
            },
        )?;
        if moving.is_empty() {
            return Ok(Vec::new());
        }
        crash::point("move.after-intent");
        let moving: Vec<Uid> = moving.iter().collect();
        let items = self.link_into(&moving, dest)?;
        let map = dest.add_linked(&dst_lock, &items, Some(id))?;
        crash::point("move.after-dest-add");
        self.finish_move(&src_lock, id, UidSet::from_uids(moving))?;
        crash::point("move.after-source-expunge");
        drop(dst_lock);
        drop(src_lock);
        Ok(map)
    }

    fn finish_move(
        &mut self,
        lock: &MailboxLock,
        id: u64,
        uids: UidSet,
    ) -> Result<(), MailboxError> {
        self.log.write_locked(
            lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let batch = Batch {
                    modseq: Some(st.highest_modseq.next()),
                    changes: vec![
                        Change::MoveDone { id },
                        Change::Expunged {
                            uids,
                            at: now_secs(),
                        },
                    ],
                };
                Ok((vec![batch], ()))
            },
        )
    }

    /// Finishes (destination has the adds) or cancels (it has not) every
    /// pending move out of this mailbox. Safe against a mover still running:
    /// movers hold this mailbox's lock throughout, so an intent still
    /// pending once we hold both locks belongs to a dead process.
    fn recover_moves(&mut self) -> Result<(), MailboxError> {
        let pending = self.state.pending_moves.clone();
        for p in pending {
            let dest_dir = self.user_dir.join("mailboxes").join(&p.dest);
            let dest = if dest_dir.is_dir() {
                Some(ChangeLog::open(
                    &dest_dir,
                    &self.user_dir.join("tmp"),
                    &p.dest,
                    &self.keys.master,
                )?)
            } else {
                None
            };
            let (src_lock, dest_guard) = match &dest {
                Some((dlog, _)) if dlog.id() < self.id() => {
                    let d = dlog.lock()?;
                    (self.log.lock()?, Some(d))
                }
                Some((dlog, _)) => {
                    let s = self.log.lock()?;
                    (s, Some(dlog.lock()?))
                }
                None => (self.log.lock()?, None),
            };
            let landed = match dest {
                Some((mut dlog, mut dstate)) => {
                    dlog.catch_up(&mut dstate, None)?;
                    dstate.inbound_moves.contains(&p.id)
                }
                None => false,
            };
            let id = p.id;
            self.log.write_locked(
                &src_lock,
                &mut self.state,
                Some(&mut self.changed),
                |st: &State| -> Result<_, MailboxError> {
                    let Some(p) = st.pending_moves.iter().find(|m| m.id == id) else {
                        return Ok((Vec::new(), ()));
                    };
                    let batch = if landed {
                        Batch {
                            modseq: Some(st.highest_modseq.next()),
                            changes: vec![
                                Change::MoveDone { id },
                                Change::Expunged {
                                    uids: p.uids.clone(),
                                    at: now_secs(),
                                },
                            ],
                        }
                    } else {
                        Batch {
                            modseq: None,
                            changes: vec![Change::MoveCancelled { id }],
                        }
                    };
                    Ok((vec![batch], ()))
                },
            )?;
            drop(dest_guard);
            drop(src_lock);
        }
        Ok(())
    }

    /// Decrypted access to a message's content. Works for messages other
    /// sessions expunged that this session has not yet reported (their
    /// files live 24 h after the expunge).
    pub fn open_message(&self, uid: Uid) -> Result<MessageReader, MailboxError> {
        let m = self
            .state
            .get(uid)
            .ok_or(MailboxError::NoSuchMessage(uid))?;
        let sealed = SealedMessage::open(&msg_path(self.log.dir(), &m.name))?;
        let key = self
            .keys
            .keystore
            .unwrap(&self.keys.master, sealed.wrapped_key())
            .map_err(|source| MailboxError::Key { uid, source })?;
        Ok(sealed.decrypt(&key)?)
    }

    /// The parsed summary of a message (see `store::summary`), computed
    /// from the content if none was stored or it is of an older format.
    pub fn summary(&self, uid: Uid) -> Result<Summary, MailboxError> {
        let m = self
            .state
            .get(uid)
            .ok_or(MailboxError::NoSuchMessage(uid))?;
        let path = summary::path_for(&msg_path(self.log.dir(), &m.name));
        // Summaries are written without fsync and are only a cache of what
        // the (authenticated) message says: a missing, torn or tampered one
        // is recomputed from the message.
        match summary::read(&path, &self.keys.summary_key, &m.name) {
            Ok(Some(s)) => {
                if let Some(parsed) = summary::decode(&s) {
                    return Ok(parsed);
                }
            }
            Ok(None) => {}
            Err(e) => log::warn!("{e}; recomputing it from the message"),
        }
        let raw = self.open_message(uid)?.read_all()?;
        let parsed = summary::summarize(&raw);
        // Stored again, so a summary of an older format (or a lost one) is
        // recomputed once, not on every use; failing to store it only
        // costs the next reader the same work.
        let blob = summary::encode_summary(&parsed);
        let tmp = self.user_dir.join("tmp");
        if let Err(e) = summary::write(&tmp, &path, &self.keys.summary_key, &m.name, &blob) {
            log::warn!("{e}; the recomputed summary was not stored");
        }
        Ok(parsed)
    }

    /// Removes files nobody needs any more: of messages expunged more than
    /// `grace` ago (zero for XCRY PURGE), files in `msg/` no record
    /// references that are older than 24 h (an interrupted append), and
    /// stale staging files in `tmp/`. Returns how many files were removed.
    pub fn collect_garbage(&mut self, grace: Duration) -> Result<usize, MailboxError> {
        let lock = self.log.lock()?;
        self.log
            .catch_up(&mut self.state, Some(&mut self.changed))?;
        let now = now_secs();
        let grace_secs = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        let live: BTreeSet<MessageName> = self.state.live().map(|m| m.name).collect();
        let mut removed = 0usize;
        let dir = self.log.dir().to_path_buf();
        let mut keep_expunged = Vec::new();
        for (name, at) in std::mem::take(&mut self.state.expunged_files) {
            if now.saturating_sub(at) < grace_secs {
                keep_expunged.push((name, at));
                continue;
            }
            if !live.contains(&name) {
                removed += remove_message_files(&msg_path(&dir, &name));
            }
        }
        self.state.expunged_files = keep_expunged;
        let recent_expunged: BTreeSet<MessageName> =
            self.state.expunged_files.iter().map(|(n, _)| *n).collect();
        let cutoff = SystemTime::now().checked_sub(FILE_GRACE);
        let msg_root = dir.join("msg");
        if let (Some(cutoff), Ok(fans)) = (cutoff, fs::read_dir(&msg_root)) {
            for fan in fans.flatten() {
                let Ok(files) = fs::read_dir(fan.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let file_name = f.file_name();
                    let Some(s) = file_name.to_str() else {
                        continue;
                    };
                    let Some(name) = MessageName::parse(s.trim_end_matches(".sum")) else {
                        continue;
                    };
                    if live.contains(&name) || recent_expunged.contains(&name) {
                        continue;
                    }
                    if is_older(&f.path(), cutoff) && fs::remove_file(f.path()).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        if let (Some(cutoff), Ok(tmps)) = (cutoff, fs::read_dir(self.user_dir.join("tmp"))) {
            for t in tmps.flatten() {
                let is_staging = t.file_name().to_str().is_some_and(|s| s.ends_with(".tmp"));
                if is_staging && is_older(&t.path(), cutoff) && fs::remove_file(t.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        self.log.compact_locked(&lock, &mut self.state)?;
        Ok(removed)
    }

    /// Files a delivered message (a spool entry already linked to
    /// `msg/XX/NAME`) exactly once: if a record already names the file, a
    /// previous attempt succeeded and nothing is logged. Returns the UID, or
    /// `None` if it was already filed.
    pub(crate) fn add_delivered(
        &mut self,
        name: MessageName,
        size: u32,
        flags: &[Flag],
        internal: InternalDate,
    ) -> Result<Option<Uid>, MailboxError> {
        let flags = flags.to_vec();
        self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                if st.knows_file(&name) {
                    return Ok((Vec::new(), None));
                }
                if st.uidnext == Uid::MAX {
                    return Err(MailboxError::UidsExhausted);
                }
                let (bits, mut changes) = plan_bits(st, &flags)?;
                let uid = st.uidnext;
                changes.push(Change::Added(Added {
                    uid,
                    name,
                    internal,
                    saved: now_secs(),
                    size,
                    flags: bits,
                    move_id: None,
                }));
                Ok((
                    vec![Batch {
                        modseq: Some(st.highest_modseq.next()),
                        changes,
                    }],
                    Some(uid),
                ))
            },
        )
    }

    /// Path of the message file named `name` in this mailbox.
    pub(crate) fn message_path(&self, name: &MessageName) -> PathBuf {
        msg_path(self.log.dir(), name)
    }

    pub(crate) fn write_summary_for(
        &self,
        name: &MessageName,
        raw: &[u8],
    ) -> Result<(), MailboxError> {
        self.write_summary(name, &self.message_path(name), raw)
    }
}

struct Carried {
    uid: Uid,
    name: MessageName,
    internal: InternalDate,
    size: u32,
    flags: Vec<Flag>,
}

fn is_older(path: &Path, cutoff: SystemTime) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t < cutoff)
}

fn remove_message_files(path: &Path) -> usize {
    let mut n = 0;
    if fs::remove_file(path).is_ok() {
        n += 1;
    }
    if fs::remove_file(summary::path_for(path)).is_ok() {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::kdf::KdfParams;
    use crate::crypto::test_util::TempDir;
    use crate::store::account::AccountLog;
    use crate::store::create::create_user;
    use crate::store::user_file::UserFile;

    struct Fixture {
        _tmp: TempDir,
        user: PathBuf,
        keys: Arc<UserKeys>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let tmp = TempDir::new("mailbox");
            let user = tmp.path().join("u");
            create_user(&user, b"pw", &KdfParams::insecure_for_tests(), "%Y-%m").unwrap();
            let master = UserFile::load(&user).unwrap().unlock(b"pw").unwrap();
            let keys = UserKeys::new(&user, master);
            Fixture {
                _tmp: tmp,
                user,
                keys,
            }
        }

        fn open(&self, name: &str) -> Mailbox {
            let acct = AccountLog::open(&self.user, self.keys.master()).unwrap();
            let info = acct
                .state()
                .mailbox(&crate::store::account::MailboxName::parse(name).unwrap())
                .unwrap()
                .clone();
            Mailbox::open(self.keys.clone(), &self.user, &info.id, info.uid_validity).unwrap()
        }
    }

    fn msg(i: usize) -> Vec<u8> {
        format!("Subject: test {i}\r\n\r\nbody {i}\r\n").into_bytes()
    }

    fn kw(s: &str) -> Flag {
        Flag::keyword(s).unwrap()
    }

    #[test]
    fn append_becomes_visible_at_refresh_and_reads_back() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let mut b = f.open("INBOX");
        let u1 = a
            .append(&msg(1), &[Flag::Seen], InternalDate::now())
            .unwrap();
        let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
        assert!(u2 > u1);
        assert_eq!(b.exists(), 0);
        let ch = b.refresh().unwrap();
        assert_eq!(ch.new_uids, vec![u1, u2]);
        assert_eq!(ch.exists, 2);
        assert_eq!(b.info(u1).unwrap().flags, vec![Flag::Seen]);
        assert_eq!(b.seq_of(u2).map(SeqNum::get), Some(2));
        let mut r = b.open_message(u2).unwrap();
        assert_eq!(r.read_all().unwrap(), msg(2));
        assert_eq!(r.read_range(0, 8).unwrap(), b"Subject:");
        assert_eq!(b.info(u1).unwrap().size as usize, msg(1).len());
        let again = f.open("INBOX");
        assert_eq!(again.exists(), 2);
        assert_eq!(again.uidnext(), u2.next().unwrap());
    }

    #[test]
    fn concurrent_flag_changes_merge_and_report_others_only() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let u = a.append(&msg(1), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        let mut b = f.open("INBOX");
        a.store_flags(&[u], FlagOp::Add, &[Flag::Seen], None)
            .unwrap();
        // b decides on stale state but catches up under the lock.
        b.store_flags(&[u], FlagOp::Add, &[kw("$Work")], None)
            .unwrap();
        let info = b.info(u).unwrap();
        assert_eq!(info.flags, vec![Flag::Seen, kw("$Work")]);
        let ch = b.refresh().unwrap();
        assert_eq!(ch.flags_changed, vec![(SeqNum::new(1).unwrap(), u)]);
        let ch = a.refresh().unwrap();
        assert_eq!(ch.flags_changed.len(), 1);
        assert_eq!(a.info(u).unwrap().flags, vec![Flag::Seen, kw("$Work")]);
        let out = a
            .store_flags(&[u], FlagOp::Remove, &[Flag::Seen], None)
            .unwrap();
        assert_eq!(out.changed, vec![u]);
        assert_eq!(a.refresh().unwrap().flags_changed, vec![]);
    }

    #[test]
    fn unchanged_since_reports_modified_messages() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
        let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        let before = a.highest_modseq();
        a.store_flags(&[u2], FlagOp::Add, &[Flag::Flagged], None)
            .unwrap();
        let out = a
            .store_flags(&[u1, u2], FlagOp::Add, &[Flag::Seen], Some(before))
            .unwrap();
        assert_eq!(out.changed, vec![u1]);
        assert_eq!(out.failed_modified, vec![u2]);
        assert_eq!(out.modseq, Some(a.highest_modseq()));
    }

    #[test]
    fn store_of_many_messages_is_one_record() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let uids: Vec<Uid> = (0..50)
            .map(|i| a.append(&msg(i), &[], InternalDate::now()).unwrap())
            .collect();
        let seg = ChangeLog::segment_path(a.log.dir(), 1);
        let before = fs::metadata(&seg).unwrap().len();
        let m = a.highest_modseq();
        a.store_flags(&uids, FlagOp::Add, &[Flag::Seen], None)
            .unwrap();
        assert_eq!(a.highest_modseq(), m.next());
        let grown = fs::metadata(&seg).unwrap().len() - before;
        assert!(grown < 200, "one small record expected, grew {grown}");
    }

    #[test]
    fn expunged_message_stays_readable_and_storable_until_reported() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
        let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        let mut b = f.open("INBOX");
        let mut c = f.open("INBOX");
        assert_eq!(a.expunge(&[u1]).unwrap(), vec![u1]);
        assert_eq!(a.expunge(&[u1]).unwrap(), vec![]);
        // b has not refreshed: still sees and reads u1, and may store to it.
        assert_eq!(b.exists(), 2);
        assert_eq!(b.open_message(u1).unwrap().read_all().unwrap(), msg(1));
        let out = b
            .store_flags(&[u1], FlagOp::Add, &[Flag::Seen], None)
            .unwrap();
        assert_eq!(out.changed, vec![u1]);
        assert!(b.info(u1).unwrap().expunged);
        // c still has it and sees the change before the expunge.
        let ch = c.refresh().unwrap();
        assert_eq!(ch.flags_changed, vec![(SeqNum::new(1).unwrap(), u1)]);
        assert_eq!(ch.expunged, vec![(SeqNum::new(1).unwrap(), u1)]);
        assert_eq!(ch.exists, 1);
        assert_eq!(c.uid_of(SeqNum::new(1).unwrap()), Some(u2));
        let ch = a.refresh().unwrap();
        assert_eq!(ch.expunged.len(), 1);
        assert_eq!(a.vanished_since(Modseq::MIN), vec![u1]);
        assert_eq!(f.open("INBOX").exists(), 1);
    }

    #[test]
    fn recent_is_claimed_by_exactly_one_session() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let mut b = f.open("INBOX");
        let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        b.refresh().unwrap();
        assert_eq!(b.claim_recent().unwrap(), vec![u1]);
        assert_eq!(a.claim_recent().unwrap(), vec![]);
        let u2 = b.append(&msg(2), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        assert_eq!(a.claim_recent().unwrap(), vec![u2]);
        assert!(a.is_recent(u2) && !a.is_recent(u1));
        assert!(b.is_recent(u1) && !b.is_recent(u2));
        assert_eq!(a.recent_count(), 1);
    }

    #[test]
    fn copy_and_move_keep_content_and_flags() {
        let f = Fixture::new();
        let mut inbox = f.open("INBOX");
        let mut archive = f.open("Archive");
        let u1 = inbox
            .append(&msg(1), &[kw("$Label")], InternalDate::now())
            .unwrap();
        let u2 = inbox
            .append(&msg(2), &[Flag::Seen], InternalDate::now())
            .unwrap();
        inbox.refresh().unwrap();
        let map = inbox.copy_to(&[u1], &mut archive).unwrap();
        let (_, d1) = map[0];
        archive.refresh().unwrap();
        assert_eq!(archive.info(d1).unwrap().flags, vec![kw("$Label")]);
        assert_eq!(
            archive.open_message(d1).unwrap().read_all().unwrap(),
            msg(1)
        );
        let map = inbox.move_to(&[u2], &mut archive).unwrap();
        let (_, d2) = map[0];
        let ch = inbox.refresh().unwrap();
        assert_eq!(ch.expunged, vec![(SeqNum::new(2).unwrap(), u2)]);
        archive.refresh().unwrap();
        assert_eq!(archive.info(d2).unwrap().flags, vec![Flag::Seen]);
        assert_eq!(
            archive.open_message(d2).unwrap().read_all().unwrap(),
            msg(2)
        );
        assert_eq!(f.open("INBOX").exists(), 1);
        assert_eq!(f.open("Archive").exists(), 2);
        assert!(matches!(
            inbox.move_to(&[u1], &mut f.open("INBOX")),
            Err(MailboxError::SameMailbox)
        ));
    }

    fn write_intent(m: &mut Mailbox, dest: &Mailbox, uid: Uid) -> u64 {
        let dest_id = dest.id().to_owned();
        let id = 42;
        m.log
            .write(
                &mut m.state,
                None,
                |_st: &State| -> Result<_, MailboxError> {
                    Ok((
                        vec![Batch {
                            modseq: None,
                            changes: vec![Change::MoveIntent {
                                id,
                                dest: dest_id,
                                uids: UidSet::from_uids([uid]),
                            }],
                        }],
                        (),
                    ))
                },
            )
            .unwrap();
        id
    }

    #[test]
    fn interrupted_move_is_finished_or_cancelled_by_next_opener() {
        let f = Fixture::new();
        let mut inbox = f.open("INBOX");
        let mut trash = f.open("Trash");
        let u1 = inbox.append(&msg(1), &[], InternalDate::now()).unwrap();
        let u2 = inbox.append(&msg(2), &[], InternalDate::now()).unwrap();
        // Crash after the intent only: the move is cancelled.
        write_intent(&mut inbox, &trash, u1);
        let reopened = f.open("INBOX");
        assert_eq!(reopened.exists(), 2);
        assert!(reopened.state.pending_moves.is_empty());
        assert_eq!(f.open("Trash").exists(), 0);
        // Crash after the destination add: the move is finished.
        inbox.refresh().unwrap();
        let id = write_intent(&mut inbox, &trash, u2);
        let items = inbox.link_into(&[u2], &trash).unwrap();
        let lock = trash.log.lock().unwrap();
        trash.add_linked(&lock, &items, Some(id)).unwrap();
        drop(lock);
        let reopened = f.open("INBOX");
        assert_eq!(reopened.exists(), 1);
        assert!(reopened.info(u1).is_some() && reopened.info(u2).is_none());
        assert_eq!(f.open("Trash").exists(), 1);
    }

    #[test]
    fn move_within_renumbers_in_one_step_and_keeps_the_file() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let u1 = a.append(&msg(1), &[kw("x")], InternalDate::now()).unwrap();
        let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        let map = a.move_within(&[u1]).unwrap();
        let new = map.first().map(|&(_, n)| n).unwrap();
        assert_eq!(map, vec![(u1, new)]);
        assert!(new > u2);
        let b = f.open("INBOX");
        assert_eq!(b.uids().collect::<Vec<_>>(), vec![u2, new]);
        let info = b.info(new).unwrap();
        assert!(info.flags.iter().any(|fl| fl.same_as(&kw("x"))));
        // The old UID's file is shared, so collecting garbage keeps it.
        drop(b);
        a.refresh().unwrap();
        a.collect_garbage(Duration::ZERO).unwrap();
        assert_eq!(
            f.open("INBOX")
                .open_message(new)
                .unwrap()
                .read_all()
                .unwrap(),
            msg(1)
        );
        // Nothing left to move: no record, no error.
        assert!(a.move_within(&[u1]).unwrap().is_empty());
    }

    #[test]
    fn compaction_and_gc_preserve_state() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let u1 = a.append(&msg(1), &[kw("x")], InternalDate::now()).unwrap();
        let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
        a.expunge(&[u1]).unwrap();
        a.refresh().unwrap();
        let mut b = f.open("INBOX");
        // The expunged message file and its summary beside it.
        assert_eq!(a.collect_garbage(Duration::ZERO).unwrap(), 2);
        assert!(a.log.dir().join("snapshot").exists());
        let c = f.open("INBOX");
        assert_eq!(c.exists(), 1);
        assert_eq!(c.highest_modseq(), a.highest_modseq());
        assert_eq!(c.defined_flags().len(), 6);
        assert_eq!(c.open_message(u2).unwrap().read_all().unwrap(), msg(2));
        // A reader of the old segment follows into the new one.
        a.store_flags(&[u2], FlagOp::Add, &[Flag::Seen], None)
            .unwrap();
        let ch = b.refresh().unwrap();
        assert_eq!(ch.flags_changed.len(), 1);
        assert_eq!(b.info(u2).unwrap().flags, vec![Flag::Seen]);
    }

    #[test]
    fn tampering_is_a_typed_error_for_that_message_or_record_only() {
        let f = Fixture::new();
        let mut a = f.open("INBOX");
        let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
        let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
        let u3 = a.append(&msg(3), &[], InternalDate::now()).unwrap();
        a.refresh().unwrap();
        let name = a.info(u1).unwrap().name;
        let path = a.message_path(&name);
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() - 20;
        bytes[at] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        assert!(matches!(
            a.open_message(u1),
            Err(MailboxError::MessageFile(MessageFileError::Crypto { .. }))
        ));
        assert_eq!(a.open_message(u2).unwrap().read_all().unwrap(), msg(2));
        // Flip a byte inside the second record (u2's add) of the segment.
        let seg = ChangeLog::segment_path(a.log.dir(), 1);
        let mut log = fs::read(&seg).unwrap();
        let first_len = u32::from_le_bytes(log[0..4].try_into().unwrap()) as usize;
        let second = 4 + first_len;
        log[second + 30] ^= 1;
        fs::write(&seg, log).unwrap();
        let b = f.open("INBOX");
        assert_eq!(b.log.damaged_records(), 1);
        assert!(b.info(u1).is_some() && b.info(u3).is_some());
        assert!(b.info(u2).is_none());
    }
}
