//! A session's view of one mailbox: the replayed state and the part of it
//! the client has been told about (sequence numbers). This file is the
//! small core: the [`Mailbox`] struct, opening, errors, the user's keys and
//! the helpers the operation files share. The operations live beside it,
//! each in one file:
//!
//! - [`view`]: what the client sees (sequence numbers, message facts),
//!   [`Mailbox::refresh`], reading messages and summaries;
//! - [`append`]: APPEND/MULTIAPPEND and filing delivered messages;
//! - [`flags`]: STORE, \Recent claims and EXPUNGE;
//! - [`moves`]: COPY, MOVE and the recovery of interrupted moves;
//! - [`replace`]: a message replacing another (one record when both are
//!   in the same mailbox);
//! - [`gc`]: removal of files and directories nobody needs any more.
//!
//! Owns the multi-session rules: other sessions' changes become visible
//! only through [`Mailbox::refresh`], which the IMAP layer calls where RFC
//! 3501/9051 allow EXISTS/EXPUNGE/FETCH. Never knows IMAP syntax, never
//! holds a lock between calls, and this core never writes a log record
//! itself (every write is an operation in one of the files above).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::account::{MailboxId, UidValidity};
use super::change_log::{ChangeLog, ChangeLogError, IntegrityProblem};
use super::message_file::MessageFileError;
use super::state::{Batch, Change, State, MAX_FLAGS};
use super::summary::SummaryError;
use super::types::{Flag, MessageName, Modseq, Uid};
use crate::crypto::keystore::KeyStore;
use crate::crypto::secret::{MasterKey, SecretKey};
use crate::crypto::CryptoError;
use crate::sys::durable::FsError;

mod append;
mod flags;
mod gc;
mod moves;
mod replace;
#[cfg(test)]
mod tests;
mod view;

pub use super::MAX_MESSAGE_SIZE;
pub use append::NewMessage;
pub use flags::StoreOutcome;
pub use gc::remove_deleted_mailboxes;
pub use view::{Changes, MessageFacts, MessageInfo};

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
    /// The message to be replaced was expunged (by any session) before
    /// the replacement could be logged; nothing was added.
    #[error("message {0} was expunged meanwhile")]
    AlreadyExpunged(Uid),
    /// MOVE needs two different mailboxes.
    #[error("cannot move messages into the mailbox they are in")]
    SameMailbox,
    /// UIDs are exhausted; the mailbox needs a new UIDVALIDITY.
    #[error("mailbox UID space exhausted")]
    UidsExhausted,
    /// A file system operation outside the log failed (the step and the
    /// path are in the error).
    #[error(transparent)]
    Io(#[from] FsError),
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

/// A session's view of one mailbox.
pub struct Mailbox {
    /// The mailbox id, compared as a value (never as its hex string).
    mailbox_id: MailboxId,
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
    /// The highest modseq up to which the client has been told every
    /// change (RFC 7162 §3.2): `highest_modseq` once a refresh has been
    /// reported, lower while other sessions' changes wait unreported.
    reported: Modseq,
    /// `state.highest_modseq` when `state.messages` was last known to
    /// hold no tombstone: every expunge raises it, so while it is
    /// unchanged the refresh after each command need not look at every
    /// message (at 100,000 messages, most of a small command's cost).
    no_tombstones_at: Option<Modseq>,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn msg_path(dir: &Path, name: &MessageName) -> PathBuf {
    dir.join("msg").join(name.fanout()).join(name.to_string())
}

/// Flag bits for one batch of changes: the mailbox's bit of each flag it
/// already defines, and new bits, allocated in order, for the rest (their
/// `FlagDefined` changes are logged first in the batch). The one place flag
/// bits are looked up or allocated.
struct FlagPlan<'a> {
    state: &'a State,
    defs: Vec<Change>,
}

impl<'a> FlagPlan<'a> {
    fn new(state: &'a State) -> Self {
        FlagPlan {
            state,
            defs: Vec::new(),
        }
    }

    /// The bit set standing for `flags`, defining bits as needed.
    fn bits(&mut self, flags: &[Flag]) -> Result<u64, MailboxError> {
        flags
            .iter()
            .try_fold(0u64, |bits, f| Ok(bits | 1u64 << self.bit(f)?))
    }

    fn bit(&mut self, f: &Flag) -> Result<u8, MailboxError> {
        let planned = self.defs.iter().find_map(|d| match d {
            Change::FlagDefined { bit, flag } if flag.same_as(f) => Some(*bit),
            _ => None,
        });
        if let Some(bit) = self.state.bit_of(f).or(planned) {
            return Ok(bit);
        }
        let next = self.state.flag_table.len() + self.defs.len();
        if next >= MAX_FLAGS {
            return Err(MailboxError::TooManyKeywords);
        }
        let bit = u8::try_from(next).map_err(|_| MailboxError::TooManyKeywords)?;
        self.defs.push(Change::FlagDefined {
            bit,
            flag: f.clone(),
        });
        Ok(bit)
    }

    /// The definitions of the new bits, to log before the changes using
    /// them.
    fn into_defs(self) -> Vec<Change> {
        self.defs
    }
}

/// The records of one visible change: a single batch carrying the next
/// modseq.
fn next_batch(st: &State, changes: Vec<Change>) -> Vec<Batch> {
    vec![Batch {
        modseq: Some(st.highest_modseq.next()),
        changes,
    }]
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
        let mailbox_id = *id;
        let id = id.to_string();
        let dir = user_dir.join("mailboxes").join(&id);
        let (log, mut state) = ChangeLog::open(&dir, &user_dir.join("tmp"), &id, &keys.master)?;
        state.drop_tombstones();
        let visible = state.messages.len();
        let mut mb = Mailbox {
            mailbox_id,
            keys,
            user_dir: user_dir.to_path_buf(),
            log,
            state,
            uid_validity,
            visible,
            changed: BTreeSet::new(),
            recent: Vec::new(),
            reported: Modseq::MIN,
            no_tombstones_at: None,
        };
        // A log that does not verify is left exactly as it is: recovering a
        // move would write to it.
        if !mb.state.pending_moves.is_empty() && mb.log.problem().is_none() {
            mb.recover_moves()?;
            // The client has seen nothing yet: start from the repaired state.
            mb.state.drop_tombstones();
            mb.visible = mb.state.messages.len();
            mb.changed.clear();
        }
        mb.reported = mb.state.highest_modseq;
        Ok(mb)
    }

    /// Leaves the high-water mark of each change pending until
    /// [`Mailbox::raise_mark`] ([`ChangeLog::defer_marks`]): for a session,
    /// which raises it once its reply is out.
    pub fn defer_marks(&mut self) {
        self.log.defer_marks();
    }

    /// Writes the high-water mark of this handle's last change, if pending
    /// ([`ChangeLog::raise_mark`]).
    pub fn raise_mark(&mut self) {
        self.log.raise_mark();
    }

    /// Whether a raise found the lock busy and is left to retry
    /// ([`ChangeLog::mark_pending`]).
    pub fn mark_pending(&self) -> bool {
        self.log.mark_pending()
    }

    /// Why this mailbox's log does not verify (rolled back, damaged), if it
    /// does not. Then the mailbox is read-only: every write, compaction and
    /// garbage collection is refused with [`ChangeLogError::ReadOnly`].
    pub fn integrity_problem(&self) -> Option<&IntegrityProblem> {
        self.log.problem()
    }

    /// [`ChangeLogError::ReadOnly`] if this mailbox is known not to
    /// verify, before anything (a file, a link) is written for it.
    pub(crate) fn refuse_if_read_only(&self) -> Result<(), MailboxError> {
        Ok(self.log.refuse_if_known_bad()?)
    }

    /// The mailbox id.
    pub fn id(&self) -> MailboxId {
        self.mailbox_id
    }

    /// UIDVALIDITY.
    pub fn uid_validity(&self) -> UidValidity {
        self.uid_validity
    }

    /// This mailbox's directory (the full-text index lives inside it).
    pub(crate) fn dir(&self) -> &Path {
        self.log.dir()
    }

    /// The user's staging directory (same file system as the mailbox).
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.user_dir.join("tmp")
    }

    /// The user's keys.
    pub(crate) fn keys(&self) -> &UserKeys {
        &self.keys
    }

    /// Path of the message file named `name` in this mailbox.
    pub(crate) fn message_path(&self, name: &MessageName) -> PathBuf {
        msg_path(self.log.dir(), name)
    }
}
