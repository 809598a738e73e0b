//! What delivery left in an account, read through the store as a
//! logged-in session would: the spool filed first, then one mailbox's
//! messages in UID order. Shared by the LMTP and MTA tests.

use crymap_like::store::account::{AccountLog, MailboxName};
use crymap_like::store::mailbox::{Mailbox, UserKeys};
use crymap_like::store::spool;
use crymap_like::store::user_file::UserFile;

use super::Root;

/// Every message in `mailbox` of `user` (password `password`), after
/// filing the spool the way a logged-in session does.
pub fn messages(root: &Root, user: &str, password: &str, mailbox: &str) -> Vec<Vec<u8>> {
    let dir = root.path().join("users").join(user).canonicalize().unwrap();
    let master = UserFile::load(&dir)
        .unwrap()
        .unlock(password.as_bytes())
        .unwrap();
    let keys = UserKeys::new(&dir, master);
    let mut acct = AccountLog::open(&dir, keys.master()).unwrap();
    spool::file_pending(&dir, &keys, &mut acct).unwrap();
    acct.refresh().unwrap();
    let info = acct
        .state()
        .mailbox(&MailboxName::parse(mailbox).unwrap())
        .unwrap()
        .clone();
    let mbox = Mailbox::open(keys, &dir, &info.id, info.uid_validity).unwrap();
    let uids: Vec<_> = mbox.uids().collect();
    uids.into_iter()
        .map(|u| mbox.open_message(u).unwrap().read_all().unwrap())
        .collect()
}

/// How many deliveries wait in `user`'s spool.
pub fn spooled(root: &Root, user: &str) -> usize {
    std::fs::read_dir(root.path().join("users").join(user).join("spool"))
        .map(|d| d.count())
        .unwrap_or(0)
}
