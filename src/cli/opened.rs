//! An account opened with its password for the operator's tools (`user
//! show`, `import`, `export`): the account log, the mailbox keys, and
//! mailboxes opened or created by name. Owns nothing on disk; every read
//! and write goes through the store's own types.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::exit;
use super::password::{become_owner, unlock, PasswordArgs};
use crate::store::account::{AccountLog, MailboxInfo, MailboxName};
use crate::store::mailbox::{Mailbox, UserKeys};
use crate::store::spool;
use crate::store::StoreError;

/// An unlocked account.
pub(super) struct Opened {
    /// The user directory.
    pub dir: PathBuf,
    /// The mailbox keys.
    pub keys: Arc<UserKeys>,
    /// The account log (mailbox names, ids).
    pub account: AccountLog,
}

impl Opened {
    /// Unlocks the account in `dir` with the password `how` names, and
    /// files whatever waits in its spool (as any login does). Run as root,
    /// first becomes the directory's owner for good, here rather than in
    /// each caller, so no caller can forget: filing the spool writes marks,
    /// logs and message directories, and root must neither own them (the
    /// user's sessions could no longer write there) nor follow links the
    /// user planted.
    pub(super) fn open(dir: &Path, how: &PasswordArgs) -> Result<Opened, (i32, String)> {
        become_owner(dir)?;
        let unlocked = unlock(dir, how)?;
        let temp = |e: &dyn std::fmt::Display| (exit::TEMPFAIL, e.to_string());
        let account = AccountLog::open(dir, unlocked.master_key()).map_err(|e| temp(&e))?;
        let keys = UserKeys::new(dir, unlocked.master_key().clone());
        let mut opened = Opened {
            dir: dir.to_path_buf(),
            keys,
            account,
        };
        spool::file_pending(&opened.dir, &opened.keys, &mut opened.account)
            .map_err(|e| temp(&e))?;
        opened.account.refresh().map_err(|e| temp(&e))?;
        Ok(opened)
    }

    /// Every mailbox, by name.
    pub(super) fn mailboxes(&self) -> Vec<MailboxInfo> {
        let mut v: Vec<MailboxInfo> = self.account.state().mailboxes().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Opens mailbox `info`.
    pub(super) fn open_mailbox(&self, info: &MailboxInfo) -> Result<Mailbox, (i32, String)> {
        Mailbox::open(self.keys.clone(), &self.dir, &info.id, info.uid_validity)
            .map_err(|e| (exit::TEMPFAIL, format!("opening {}: {e}", info.name)))
    }

    /// Opens mailbox `name`, creating it (and its superiors) if missing.
    pub(super) fn open_or_create(&mut self, name: &MailboxName) -> Result<Mailbox, (i32, String)> {
        let temp = |e: &dyn std::fmt::Display| (exit::TEMPFAIL, format!("{name}: {e}"));
        self.account.refresh().map_err(|e| temp(&e))?;
        if self.account.state().mailbox(name).is_none() {
            // Creates missing superiors too; another process creating it
            // first is as good.
            match self.account.create(name.as_str(), &[]) {
                Ok(_) | Err(StoreError::MailboxExists { .. }) => {}
                Err(e) => return Err(temp(&e)),
            }
        }
        let info = self
            .account
            .state()
            .mailbox(name)
            .cloned()
            .ok_or_else(|| (exit::SOFTWARE, format!("{name} vanished after creation")))?;
        self.open_mailbox(&info)
    }
}
