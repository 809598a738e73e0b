//! XCRY PURGE removes what is no longer needed: here, the encrypted
//! directory of a deleted mailbox (once untouched for the grace period),
//! while live mailboxes and a directory that may belong to a mailbox being
//! created right now stay.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;

fn dirs(mailboxes: &Path) -> BTreeSet<String> {
    std::fs::read_dir(mailboxes)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn xcry_purge_removes_deleted_mailbox_directories_after_grace() {
    let root = Root::new("purge");
    let user_dir = root.add_user("quin", "pw");
    let mailboxes = user_dir.join("mailboxes");
    let before = dirs(&mailboxes);
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("quin", "pw").starts_with("t1 OK"));
    assert!(c.status("CREATE Gone").contains(" OK "));
    assert!(c.status("CREATE Fresh").contains(" OK "));
    let with_new = dirs(&mailboxes);
    let new: Vec<String> = with_new.difference(&before).cloned().collect();
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(c.status("DELETE Gone").contains(" OK "));
    assert!(c.status("DELETE Fresh").contains(" OK "));
    // Only one of the two deleted directories is past the grace period.
    let old = mailboxes.join(&new[0]);
    let st = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(st.success());
    let r = c.status("XCRY PURGE");
    assert!(r.contains("1 deleted mailbox(es) removed"), "{r}");
    let after = dirs(&mailboxes);
    assert!(!after.contains(&new[0]), "old deleted mailbox kept");
    assert!(after.contains(&new[1]), "a directory inside the grace went");
    assert!(before.is_subset(&after), "a live mailbox went");
    // Everything still works.
    assert!(c.status("SELECT INBOX").contains(" OK "));
    assert!(c.status("CREATE Gone").contains(" OK "));
}
