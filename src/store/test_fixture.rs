//! A throwaway user for the store's unit tests: an account made with the
//! cheap test KDF, its keys unlocked, and its mailboxes opened by name.
//! Test-only; never used by the binary.

use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::kdf::KdfParams;
use crate::crypto::test_util::TempDir;
use crate::store::account::{AccountLog, MailboxName};
use crate::store::create::create_user;
use crate::store::mailbox::{Mailbox, UserKeys};
use crate::store::user_file::UserFile;

/// One user under a temporary directory, removed when dropped.
pub(crate) struct Fixture {
    _tmp: TempDir,
    pub(crate) user: PathBuf,
    pub(crate) keys: Arc<UserKeys>,
}

impl Fixture {
    /// A new user (password `pw`) under a directory labelled `label`.
    pub(crate) fn new(label: &str) -> Fixture {
        let tmp = TempDir::new(label);
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

    /// The mailbox called `name`, as the account log lists it now.
    pub(crate) fn open(&self, name: &str) -> Mailbox {
        let acct = AccountLog::open(&self.user, self.keys.master()).unwrap();
        let info = acct
            .state()
            .mailbox(&MailboxName::parse(name).unwrap())
            .unwrap()
            .clone();
        Mailbox::open(self.keys.clone(), &self.user, &info.id, info.uid_validity).unwrap()
    }
}
