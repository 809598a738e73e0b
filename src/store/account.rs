//! The sealed account log (`account/log`) and the account state it
//! replays to: which mailboxes exist (random ids, names, special-use,
//! UIDVALIDITY), subscriptions and user settings. Owns the mailbox naming
//! rules. Never touches mailbox contents: operations that move messages
//! (RENAME of INBOX) return what the mailbox layer must do.
//!
//! Every operation decides under the log lock after catching up, so two
//! sessions cannot both create the same name or reuse a UIDVALIDITY. Each
//! operation's essential effect is a single record, so a torn write never
//! leaves it half done (missing superiors created on the way are separate,
//! harmless records).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::error::{Result, StoreError};
use super::marks::{Mark, Marks};
use super::record_log::RecordLog;
use crate::crypto::secret::MasterKey;
use crate::sys::durable;

/// Path of the account log inside the user directory.
pub const ACCOUNT_LOG_PATH: &str = "account/log";
/// Directory holding one subdirectory per mailbox id.
pub const MAILBOXES_DIR: &str = "mailboxes";
/// Purpose string of the account log's key.
pub const ACCOUNT_LOG_PURPOSE: &str = "account-log";
const ACCOUNT_LOG_IDENTITY: &str = "account log";
/// Name of the account log's high-water mark in `marks/`.
const ACCOUNT_MARK: &str = "account";
/// The hierarchy delimiter.
pub const DELIMITER: char = '/';
/// Longest accepted mailbox name, in bytes.
pub const MAX_NAME_LEN: usize = 1000;

/// A mailbox's permanent identity: 128 random bits, shown as 32 lowercase
/// hex digits (also its directory name under `mailboxes/`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MailboxId([u8; 16]);

impl MailboxId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        OsRng.fill_bytes(&mut b);
        MailboxId(b)
    }

    /// Parses 32 hex digits (either case: ids are compared as values, so
    /// `AB…` and `ab…` are the same id).
    pub fn parse_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(MailboxId(out))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxId({self})")
    }
}

/// The UIDVALIDITY of one incarnation of a mailbox: nonzero, and strictly
/// greater than every value the account assigned before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UidValidity(NonZeroU32);

impl UidValidity {
    /// Wraps a nonzero value.
    pub fn new(v: u32) -> Option<Self> {
        NonZeroU32::new(v).map(UidValidity)
    }

    /// The value sent to clients.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// RFC 6154 special-use attributes (and RFC 8457 `\Important`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SpecialUse {
    /// `\All`
    All,
    /// `\Archive`
    Archive,
    /// `\Drafts`
    Drafts,
    /// `\Flagged`
    Flagged,
    /// `\Important`
    Important,
    /// `\Junk`
    Junk,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
}

impl SpecialUse {
    /// The attribute as written in IMAP, e.g. `\Sent`.
    pub fn as_imap(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Important => "\\Important",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// Parses an attribute (case-insensitive, with its backslash).
    pub fn from_imap(s: &str) -> Option<Self> {
        [
            SpecialUse::All,
            SpecialUse::Archive,
            SpecialUse::Drafts,
            SpecialUse::Flagged,
            SpecialUse::Important,
            SpecialUse::Junk,
            SpecialUse::Sent,
            SpecialUse::Trash,
        ]
        .into_iter()
        .find(|u| u.as_imap().eq_ignore_ascii_case(s))
    }
}

/// Which mailbox naming rule a name breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MailboxNameError {
    /// The name is empty.
    #[error("the name is empty")]
    Empty,
    /// Longer than [`MAX_NAME_LEN`] bytes.
    #[error("the name is longer than 1000 bytes")]
    TooLong,
    /// Contains `%`, `*` or `\`.
    #[error("the name contains the forbidden character {0:?}")]
    ForbiddenChar(char),
    /// Contains a control character.
    #[error("the name contains a control character")]
    ControlChar,
    /// Starts with `.`.
    #[error("the name starts with '.'")]
    LeadingDot,
    /// Starts with `#` (reserved for namespaces).
    #[error("the name starts with '#'")]
    LeadingHash,
    /// Has an empty hierarchy level (leading, trailing or doubled `/`).
    #[error("the name has an empty hierarchy level")]
    EmptyComponent,
}

/// A valid, canonical mailbox name: INBOX (any case, also as the first
/// level of a deeper name) is spelled `INBOX`; other names are
/// case-sensitive. The name is the decoded (UTF-8) form; modified UTF-7 is
/// the IMAP layer's business.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MailboxName(String);

impl MailboxName {
    /// Validates and canonicalises a name. A trailing delimiter is an error
    /// here; the IMAP layer strips it for CREATE as RFC 3501 asks.
    pub fn parse(name: &str) -> Result<Self, MailboxNameError> {
        if name.is_empty() {
            return Err(MailboxNameError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(MailboxNameError::TooLong);
        }
        if let Some(c) = name.chars().find(|c| matches!(c, '%' | '*' | '\\')) {
            return Err(MailboxNameError::ForbiddenChar(c));
        }
        if name.chars().any(char::is_control) {
            return Err(MailboxNameError::ControlChar);
        }
        if name.starts_with('.') {
            return Err(MailboxNameError::LeadingDot);
        }
        if name.starts_with('#') {
            return Err(MailboxNameError::LeadingHash);
        }
        if name.split(DELIMITER).any(str::is_empty) {
            return Err(MailboxNameError::EmptyComponent);
        }
        let canonical = match name.split_once(DELIMITER) {
            Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => {
                format!("INBOX{DELIMITER}{rest}")
            }
            None if name.eq_ignore_ascii_case("INBOX") => "INBOX".to_owned(),
            _ => name.to_owned(),
        };
        Ok(MailboxName(canonical))
    }

    /// `INBOX`.
    pub fn inbox() -> Self {
        MailboxName("INBOX".to_owned())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is INBOX itself (not a child of it).
    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }

    /// The immediate superior, if any.
    pub fn parent(&self) -> Option<MailboxName> {
        self.0
            .rsplit_once(DELIMITER)
            .map(|(p, _)| MailboxName(p.to_owned()))
    }

    /// All superiors, outermost first.
    pub fn ancestors(&self) -> Vec<MailboxName> {
        let mut out = Vec::new();
        let mut cur = self.parent();
        while let Some(p) = cur {
            cur = p.parent();
            out.push(p);
        }
        out.reverse();
        out
    }

    /// Whether `self` is strictly inside `other`'s subtree.
    pub fn is_inside(&self, other: &MailboxName) -> bool {
        self.0
            .strip_prefix(other.as_str())
            .is_some_and(|rest| rest.starts_with(DELIMITER))
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_name(name: &str) -> Result<MailboxName> {
    MailboxName::parse(name).map_err(|rule| StoreError::InvalidMailboxName {
        name: name.to_owned(),
        rule,
    })
}

/// One change to the account, as sealed in the account log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountRecord {
    /// A mailbox came into existence.
    MailboxCreated {
        /// Its permanent id.
        id: MailboxId,
        /// Its name.
        name: MailboxName,
        /// Its special-use attributes.
        special_use: Vec<SpecialUse>,
        /// Its UIDVALIDITY.
        uid_validity: UidValidity,
    },
    /// Mailboxes got new names, all at once (a mailbox and its inferiors).
    MailboxesRenamed {
        /// Each mailbox's new name.
        renames: Vec<(MailboxId, MailboxName)>,
    },
    /// A mailbox was deleted (its inferiors stay).
    MailboxDeleted {
        /// The mailbox.
        id: MailboxId,
    },
    /// A name was added to the subscription list.
    Subscribed {
        /// The name (need not exist).
        name: MailboxName,
    },
    /// A name was removed from the subscription list.
    Unsubscribed {
        /// The name.
        name: MailboxName,
    },
    /// A user setting was set.
    SettingChanged {
        /// Setting name.
        key: String,
        /// New value.
        value: String,
    },
}

/// What the account knows about one mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Permanent id.
    pub id: MailboxId,
    /// Current name.
    pub name: MailboxName,
    /// Special-use attributes.
    pub special_use: Vec<SpecialUse>,
    /// UIDVALIDITY of this incarnation.
    pub uid_validity: UidValidity,
}

/// The account state replayed from the log.
#[derive(Clone, Debug, Default)]
pub struct Account {
    mailboxes: HashMap<MailboxId, MailboxInfo>,
    by_name: BTreeMap<MailboxName, MailboxId>,
    subscriptions: BTreeSet<MailboxName>,
    settings: BTreeMap<String, String>,
    max_uid_validity: u32,
}

impl Account {
    /// Applies one record. Records are authenticated and were decided under
    /// the lock, so inconsistencies only come from bugs; they are logged
    /// and resolved deterministically (the later record wins).
    pub fn apply(&mut self, record: &AccountRecord) {
        match record {
            AccountRecord::MailboxCreated {
                id,
                name,
                special_use,
                uid_validity,
            } => {
                if let Some(old) = self.by_name.insert(name.clone(), *id) {
                    // Ids, not names: mailbox names never reach the log.
                    log::warn!(
                        "account log: mailbox {id} created under a name {old} held; {old} replaced"
                    );
                    self.mailboxes.remove(&old);
                }
                self.max_uid_validity = self.max_uid_validity.max(uid_validity.get());
                self.mailboxes.insert(
                    *id,
                    MailboxInfo {
                        id: *id,
                        name: name.clone(),
                        special_use: special_use.clone(),
                        uid_validity: *uid_validity,
                    },
                );
            }
            AccountRecord::MailboxesRenamed { renames } => {
                for (id, _) in renames {
                    if let Some(info) = self.mailboxes.get(id) {
                        self.by_name.remove(&info.name);
                    }
                }
                for (id, new) in renames {
                    if let Some(info) = self.mailboxes.get_mut(id) {
                        info.name = new.clone();
                        if let Some(old) = self.by_name.insert(new.clone(), *id) {
                            log::warn!(
                                "account log: renaming mailbox {id} onto the name of {old} replaced {old}"
                            );
                            self.mailboxes.remove(&old);
                        }
                    }
                }
            }
            AccountRecord::MailboxDeleted { id } => {
                if let Some(info) = self.mailboxes.remove(id) {
                    self.by_name.remove(&info.name);
                }
            }
            AccountRecord::Subscribed { name } => {
                self.subscriptions.insert(name.clone());
            }
            AccountRecord::Unsubscribed { name } => {
                self.subscriptions.remove(name);
            }
            AccountRecord::SettingChanged { key, value } => {
                self.settings.insert(key.clone(), value.clone());
            }
        }
    }

    /// The mailbox with this name.
    pub fn mailbox(&self, name: &MailboxName) -> Option<&MailboxInfo> {
        self.by_name.get(name).and_then(|id| self.mailboxes.get(id))
    }

    /// The mailbox with this name, or [`StoreError::NoSuchMailbox`] for the
    /// commands that need it to exist.
    pub fn existing_mailbox(&self, name: &MailboxName) -> Result<&MailboxInfo> {
        self.mailbox(name).ok_or_else(|| StoreError::NoSuchMailbox {
            name: name.to_string(),
        })
    }

    /// The mailbox with this id, if it still exists.
    pub fn mailbox_by_id(&self, id: &MailboxId) -> Option<&MailboxInfo> {
        self.mailboxes.get(id)
    }

    /// All mailboxes, sorted by name.
    pub fn mailboxes(&self) -> impl Iterator<Item = &MailboxInfo> + '_ {
        self.by_name
            .values()
            .filter_map(|id| self.mailboxes.get(id))
    }

    /// Mailboxes strictly inside `name`'s subtree, sorted by name. `name`
    /// itself need not exist.
    pub fn descendants<'a>(
        &'a self,
        name: &'a MailboxName,
    ) -> impl Iterator<Item = &'a MailboxInfo> + 'a {
        self.by_name
            .range(name.clone()..)
            .skip_while(move |(n, _)| *n == name)
            .take_while(move |(n, _)| n.as_str().starts_with(name.as_str()))
            .filter(move |(n, _)| n.is_inside(name))
            .filter_map(|(_, id)| self.mailboxes.get(id))
    }

    /// Whether any mailbox lies inside `name`'s subtree.
    pub fn has_children(&self, name: &MailboxName) -> bool {
        self.descendants(name).next().is_some()
    }

    /// Whether `name` is subscribed.
    pub fn is_subscribed(&self, name: &MailboxName) -> bool {
        self.subscriptions.contains(name)
    }

    /// The subscription list, sorted.
    pub fn subscriptions(&self) -> impl Iterator<Item = &MailboxName> + '_ {
        self.subscriptions.iter()
    }

    /// A user setting.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    /// All user settings, sorted by key.
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn next_uid_validity(&self) -> Result<UidValidity> {
        let now = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
        let next = self.max_uid_validity.saturating_add(1).max(now);
        UidValidity::new(next)
            .filter(|v| v.get() > self.max_uid_validity)
            .ok_or_else(|| {
                StoreError::io(
                    "assigning UIDVALIDITY",
                    std::io::Error::other("UIDVALIDITY space exhausted"),
                )
            })
    }
}

/// What a RENAME did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameOutcome {
    /// The mailbox and its inferiors now carry the new names.
    Renamed,
    /// RENAME of INBOX: a new, empty mailbox `new` was created under the
    /// target name; the caller must move every message of `inbox` into it
    /// (INBOX itself stays, as do its inferiors).
    InboxMoved {
        /// INBOX's id.
        inbox: MailboxId,
        /// The new mailbox's id.
        new: MailboxId,
    },
}

/// Writes the account's mark `end` unless the mark on disk is already as
/// high. The caller holds the account log's lock: two writers rewriting
/// the mark's slots at once could leave neither authenticating (a false
/// alarm), and one raising after another's higher mark must not lower it.
/// A mark that cannot be read is rewritten (the log was verified against
/// it when opened); a failure to write is logged and leaves the mark
/// lower, as a crash would.
fn raise_mark_over_lower(marks: &Marks, end: u64) {
    if let Ok(Some(on_disk)) = marks.read(ACCOUNT_MARK) {
        if on_disk.a >= end {
            return;
        }
    }
    if let Err(e) = marks.write(ACCOUNT_MARK, Mark { a: end, b: 0 }) {
        log::warn!("writing the account's high-water mark: {e}");
    }
}

/// An open account log with its replayed state.
pub struct AccountLog {
    user_dir: PathBuf,
    log: RecordLog<AccountRecord>,
    state: Account,
    marks: Marks,
    /// Why the log does not verify (behind its mark), once found.
    problem: Option<String>,
}

impl AccountLog {
    /// Opens `account/log` of the account in `user_dir` and replays it.
    pub fn open(user_dir: &Path, master: &MasterKey) -> Result<Self> {
        let mut account = Self::unreplayed(user_dir, master)?;
        account.refresh()?;
        account.verify()?;
        Ok(account)
    }

    /// The log opened, nothing replayed or verified yet.
    fn unreplayed(user_dir: &Path, master: &MasterKey) -> Result<Self> {
        let log = RecordLog::open(
            &user_dir.join(ACCOUNT_LOG_PATH),
            master.subkey(ACCOUNT_LOG_PURPOSE),
            ACCOUNT_LOG_IDENTITY.to_owned(),
        )?;
        Ok(AccountLog {
            user_dir: user_dir.to_owned(),
            log,
            state: Account::default(),
            marks: Marks::new(user_dir, master),
            problem: None,
        })
    }

    /// Opens the log like [`AccountLog::open`], but skips corrupt records
    /// instead of failing (their changes are lost in this handle only;
    /// nothing is written). Returns the offsets skipped. For `check`.
    pub fn open_skipping_damaged(user_dir: &Path, master: &MasterKey) -> Result<(Self, Vec<u64>)> {
        let mut account = Self::unreplayed(user_dir, master)?;
        let mut skipped = Vec::new();
        loop {
            match account.refresh() {
                Ok(_) => {
                    // A rolled-back log reads cleanly: only the mark shows it.
                    account.verify()?;
                    return Ok((account, skipped));
                }
                Err(StoreError::Corrupt { offset, .. }) => {
                    account.skip_corrupt()?;
                    skipped.push(offset);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Compares the log's end with its high-water mark (the end offset
    /// after the last append; the log is append-only and a torn tail is
    /// never acknowledged, so the offset only grows). Behind it, the account
    /// is read-only. An account without a mark gets one now.
    fn verify(&mut self) -> Result<()> {
        let mark = match self.marks.read(ACCOUNT_MARK) {
            Ok(m) => m,
            Err(e) => {
                log::error!("{e}");
                self.problem = Some("its high-water mark is damaged".into());
                return Ok(());
            }
        };
        let Some(mark) = mark else {
            return self.raise_mark();
        };
        // A writer may have appended (and raised the mark) after our read.
        self.refresh()?;
        let found = self.log.position();
        if found < mark.a {
            let reason = format!(
                "the account log was rolled back (it ends at {found} bytes, it had reached {})",
                mark.a
            );
            log::error!("{reason}");
            self.problem = Some(reason);
        }
        Ok(())
    }

    /// Raises the mark to the end this handle has read, under the log's
    /// lock and only over a lower mark (see [`raise_mark_over_lower`]).
    fn raise_mark(&mut self) -> Result<()> {
        let end = self.log.position();
        let AccountLog { log, marks, .. } = self;
        log.with_lock(|_| {
            raise_mark_over_lower(marks, end);
            Ok(())
        })
    }

    /// Why the account log does not verify, if it does not: then no
    /// mailbox can be created, renamed or deleted, and no directory is
    /// removed as belonging to a deleted mailbox.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// [`StoreError::AccountReadOnly`] if the account log does not verify.
    pub fn refuse_if_read_only(&self) -> Result<()> {
        match &self.problem {
            None => Ok(()),
            Some(reason) => Err(StoreError::AccountReadOnly {
                reason: reason.clone(),
            }),
        }
    }

    /// The current state (as of the last refresh or operation).
    pub fn state(&self) -> &Account {
        &self.state
    }

    /// Applies records other sessions appended. Returns whether anything
    /// changed. A corrupt record is an error, not skipped: the account log
    /// is small and precious, and a wrong key must never look like an
    /// empty account. An administrator can skip it with
    /// [`RecordLog::skip_corrupt`] through [`AccountLog::skip_corrupt`].
    pub fn refresh(&mut self) -> Result<bool> {
        let mut changed = false;
        loop {
            let records = self.log.read_new()?;
            if records.is_empty() {
                return Ok(changed);
            }
            changed = true;
            records.iter().for_each(|r| self.state.apply(r));
        }
    }

    /// Skips the corrupt record that stopped [`AccountLog::refresh`]
    /// (losing its change), for repair tools.
    pub fn skip_corrupt(&mut self) -> Result<u64> {
        self.log.skip_corrupt()
    }

    /// Decides under the lock on fully caught-up state, appends the
    /// records `decide` returns and applies them.
    fn transact<R>(
        &mut self,
        decide: impl FnOnce(&Account) -> Result<(Vec<AccountRecord>, R)>,
    ) -> Result<R> {
        self.refuse_if_read_only()?;
        self.refresh()?;
        let AccountLog {
            log, state, marks, ..
        } = self;
        log.with_lock(|tx| {
            for r in tx.read_new()? {
                state.apply(&r);
            }
            let (records, out) = decide(state)?;
            if !records.is_empty() {
                let end = tx.append(&records)?;
                records.iter().for_each(|r| state.apply(r));
                // The records are durable: raise the mark, still under the
                // lock, so no other writer rewrites its slots meanwhile.
                raise_mark_over_lower(marks, end);
            }
            Ok(out)
        })
    }

    /// Records creating `name` after its missing superiors, with
    /// directories made and UIDVALIDITYs strictly increasing. Returns the
    /// id of `name` itself.
    fn creation_records(
        user_dir: &Path,
        state: &Account,
        name: &MailboxName,
        special_use: &[SpecialUse],
    ) -> Result<(Vec<AccountRecord>, MailboxId)> {
        let mut records = Vec::new();
        let mut floor = Account {
            max_uid_validity: state.max_uid_validity,
            ..Account::default()
        };
        let missing = name
            .ancestors()
            .into_iter()
            .filter(|a| state.mailbox(a).is_none());
        let mut last_id = None;
        for (n, su) in missing
            .map(|a| (a, &[][..]))
            .chain(std::iter::once((name.clone(), special_use)))
        {
            let uid_validity = floor.next_uid_validity()?;
            floor.max_uid_validity = uid_validity.get();
            let id = MailboxId::generate();
            make_mailbox_dir(user_dir, id)?;
            records.push(AccountRecord::MailboxCreated {
                id,
                name: n,
                special_use: su.to_vec(),
                uid_validity,
            });
            last_id = Some(id);
        }
        let id = last_id.ok_or_else(|| StoreError::NoSuchMailbox {
            name: name.to_string(),
        })?;
        Ok((records, id))
    }

    /// CREATE: makes `name` (and any missing superiors) with its directory
    /// under `mailboxes/`.
    pub fn create(&mut self, name: &str, special_use: &[SpecialUse]) -> Result<MailboxId> {
        let name = parse_name(name)?;
        let user_dir = self.user_dir.clone();
        self.transact(|state| {
            if state.mailbox(&name).is_some() {
                return Err(StoreError::MailboxExists {
                    name: name.to_string(),
                });
            }
            Self::creation_records(&user_dir, state, &name, special_use)
        })
    }

    /// DELETE: removes `name` from the account; its inferiors stay (the name
    /// then shows as `\Noselect` while they exist). The directory is left
    /// for the mailbox layer to remove after its grace period.
    pub fn delete(&mut self, name: &str) -> Result<MailboxId> {
        let name = parse_name(name)?;
        if name.is_inbox() {
            return Err(StoreError::CannotDeleteInbox);
        }
        self.transact(|state| {
            let info = state.existing_mailbox(&name)?;
            Ok((vec![AccountRecord::MailboxDeleted { id: info.id }], info.id))
        })
    }

    /// RENAME: moves `from` and its inferiors to `to` in one record,
    /// creating missing superiors of `to`. INBOX is special, see
    /// [`RenameOutcome::InboxMoved`].
    pub fn rename(&mut self, from: &str, to: &str) -> Result<RenameOutcome> {
        let from = parse_name(from)?;
        let to = parse_name(to)?;
        let user_dir = self.user_dir.clone();
        self.transact(|state| {
            let source = state.existing_mailbox(&from)?;
            if state.mailbox(&to).is_some() || to.is_inbox() {
                return Err(StoreError::MailboxExists {
                    name: to.to_string(),
                });
            }
            if from.is_inbox() {
                let (records, new) = Self::creation_records(&user_dir, state, &to, &[])?;
                return Ok((
                    records,
                    RenameOutcome::InboxMoved {
                        inbox: source.id,
                        new,
                    },
                ));
            }
            if to.is_inside(&from) {
                return Err(StoreError::RenameIntoSelf {
                    from: from.to_string(),
                    to: to.to_string(),
                });
            }
            let mut renames = vec![(source.id, to.clone())];
            for child in state.descendants(&from) {
                let suffix = child.name.as_str().get(from.as_str().len()..).unwrap_or("");
                let new_name = parse_name(&format!("{to}{suffix}"))?;
                if state.mailbox(&new_name).is_some() {
                    return Err(StoreError::MailboxExists {
                        name: new_name.to_string(),
                    });
                }
                renames.push((child.id, new_name));
            }
            let mut records = Vec::new();
            if let Some(parent) = to.parent().filter(|p| state.mailbox(p).is_none()) {
                records = Self::creation_records(&user_dir, state, &parent, &[])?.0;
            }
            records.push(AccountRecord::MailboxesRenamed { renames });
            Ok((records, RenameOutcome::Renamed))
        })
    }

    /// SUBSCRIBE: adds `name` (which need not exist). Returns whether the
    /// list changed.
    pub fn subscribe(&mut self, name: &str) -> Result<bool> {
        let name = parse_name(name)?;
        self.transact(|state| {
            if state.is_subscribed(&name) {
                return Ok((vec![], false));
            }
            Ok((vec![AccountRecord::Subscribed { name }], true))
        })
    }

    /// UNSUBSCRIBE: removes `name`. Returns whether it was subscribed.
    pub fn unsubscribe(&mut self, name: &str) -> Result<bool> {
        let name = parse_name(name)?;
        self.transact(|state| {
            if !state.is_subscribed(&name) {
                return Ok((vec![], false));
            }
            Ok((vec![AccountRecord::Unsubscribed { name }], true))
        })
    }

    /// Sets a user setting (sealed, unlike `user.toml`'s settings).
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.transact(|state| {
            if state.setting(key) == Some(value) {
                return Ok((vec![], ()));
            }
            Ok((
                vec![AccountRecord::SettingChanged {
                    key: key.to_owned(),
                    value: value.to_owned(),
                }],
                (),
            ))
        })
    }
}

/// Creates `mailboxes/<id>/` (mode 0700) before the record naming it is
/// logged, so a logged mailbox always has its directory.
fn make_mailbox_dir(user_dir: &Path, id: MailboxId) -> Result<()> {
    durable::create_dir(&user_dir.join(MAILBOXES_DIR).join(id.to_string()))?;
    Ok(())
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
