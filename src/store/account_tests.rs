//! Unit tests of the account log (`store::account`).

use super::*;
use crate::crypto::test_util::TempDir;

fn setup() -> (TempDir, MasterKey, AccountLog) {
    let dir = TempDir::new("acct");
    fs::create_dir(dir.path().join("account")).unwrap();
    fs::create_dir(dir.path().join(MAILBOXES_DIR)).unwrap();
    let m = MasterKey::generate();
    let log = AccountLog::open(dir.path(), &m).unwrap();
    (dir, m, log)
}

use std::fs;

fn names(a: &Account) -> Vec<String> {
    a.mailboxes().map(|m| m.name.to_string()).collect()
}

#[test]
fn name_rules() {
    use MailboxNameError::*;
    let cases = [
        ("", Empty),
        ("a%b", ForbiddenChar('%')),
        ("a*", ForbiddenChar('*')),
        ("a\\b", ForbiddenChar('\\')),
        ("a\tb", ControlChar),
        ("a\u{7f}", ControlChar),
        (".hidden", LeadingDot),
        ("#news", LeadingHash),
        ("/a", EmptyComponent),
        ("a//b", EmptyComponent),
        ("a/", EmptyComponent),
    ];
    for (name, rule) in cases {
        assert_eq!(MailboxName::parse(name), Err(rule), "{name:?}");
    }
    assert_eq!(MailboxName::parse(&"a".repeat(1001)), Err(TooLong));
    assert_eq!(MailboxName::parse("inBox").unwrap().as_str(), "INBOX");
    assert_eq!(
        MailboxName::parse("inbox/Sub").unwrap().as_str(),
        "INBOX/Sub"
    );
    assert_eq!(MailboxName::parse("Inboxes").unwrap().as_str(), "Inboxes");
    assert_eq!(MailboxName::parse("a/.b#c").unwrap().as_str(), "a/.b#c");
    assert_eq!(
        MailboxName::parse("Ünïcode/日本").unwrap().as_str(),
        "Ünïcode/日本"
    );
    let n = MailboxName::parse("a/b/c").unwrap();
    assert_eq!(
        n.ancestors().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ["a", "a/b"]
    );
    assert!(n.is_inside(&MailboxName::parse("a").unwrap()));
    assert!(!MailboxName::parse("ab")
        .unwrap()
        .is_inside(&MailboxName::parse("a").unwrap()));
}

#[test]
fn create_delete_and_replay() {
    let (dir, m, mut log) = setup();
    let inbox = log.create("INBOX", &[]).unwrap();
    let sent = log.create("Sent", &[SpecialUse::Sent]).unwrap();
    assert!(dir
        .path()
        .join(MAILBOXES_DIR)
        .join(sent.to_string())
        .is_dir());
    assert!(matches!(
        log.create("inbox", &[]),
        Err(StoreError::MailboxExists { .. })
    ));
    assert!(matches!(
        log.create("bad*", &[]),
        Err(StoreError::InvalidMailboxName {
            rule: MailboxNameError::ForbiddenChar('*'),
            ..
        })
    ));
    log.create("a/b/c", &[]).unwrap();
    assert_eq!(names(log.state()), ["INBOX", "Sent", "a", "a/b", "a/b/c"]);
    let uvs: Vec<u32> = log
        .state()
        .mailboxes()
        .map(|m| m.uid_validity.get())
        .collect();
    let mut sorted = uvs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), uvs.len(), "UIDVALIDITY reused: {uvs:?}");
    let old_ab = log
        .state()
        .mailbox(&MailboxName::parse("a/b").unwrap())
        .unwrap()
        .clone();
    assert!(matches!(
        log.delete("INBOX"),
        Err(StoreError::CannotDeleteInbox)
    ));
    assert_eq!(log.delete("a/b").unwrap(), old_ab.id);
    assert!(matches!(
        log.delete("a/b"),
        Err(StoreError::NoSuchMailbox { .. })
    ));
    assert!(log
        .state()
        .has_children(&MailboxName::parse("a/b").unwrap()));
    let new_ab = log.create("a/b", &[]).unwrap();
    let info = log.state().mailbox_by_id(&new_ab).unwrap();
    assert!(info.uid_validity > old_ab.uid_validity);
    assert!(uvs.iter().all(|&u| u < info.uid_validity.get()));
    // A fresh replay sees the same state.
    let again = AccountLog::open(dir.path(), &m).unwrap();
    assert_eq!(names(again.state()), names(log.state()));
    assert_eq!(
        again.state().mailbox(&MailboxName::inbox()).unwrap().id,
        inbox
    );
    assert_eq!(
        again.state().mailbox_by_id(&sent).unwrap().special_use,
        [SpecialUse::Sent]
    );
    assert!(matches!(
        AccountLog::open(dir.path(), &MasterKey::generate()),
        Err(StoreError::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn rename_moves_subtree_and_creates_superiors() {
    let (_dir, _m, mut log) = setup();
    log.create("INBOX", &[]).unwrap();
    let a = log.create("a", &[]).unwrap();
    let ab = log.create("a/b", &[]).unwrap();
    log.create("other", &[]).unwrap();
    assert!(matches!(
        log.rename("a", "other"),
        Err(StoreError::MailboxExists { .. })
    ));
    assert!(matches!(
        log.rename("a", "a/b/x"),
        Err(StoreError::RenameIntoSelf { .. })
    ));
    assert!(matches!(
        log.rename("nope", "x"),
        Err(StoreError::NoSuchMailbox { .. })
    ));
    assert_eq!(log.rename("a", "x/y").unwrap(), RenameOutcome::Renamed);
    assert_eq!(names(log.state()), ["INBOX", "other", "x", "x/y", "x/y/b"]);
    let st = log.state();
    assert_eq!(
        st.mailbox(&MailboxName::parse("x/y").unwrap()).unwrap().id,
        a
    );
    assert_eq!(
        st.mailbox(&MailboxName::parse("x/y/b").unwrap())
            .unwrap()
            .id,
        ab
    );
    // A child clash aborts the whole rename.
    log.create("z", &[]).unwrap();
    log.create("q/b", &[]).unwrap();
    assert!(matches!(
        log.rename("x/y", "q"),
        Err(StoreError::MailboxExists { .. })
    ));
    assert!(log
        .state()
        .mailbox(&MailboxName::parse("x/y/b").unwrap())
        .is_some());
}

#[test]
fn rename_inbox_creates_target_and_keeps_inbox() {
    let (_dir, _m, mut log) = setup();
    let inbox = log.create("INBOX", &[]).unwrap();
    log.create("INBOX/child", &[]).unwrap();
    let out = log.rename("inbox", "Old Mail").unwrap();
    let RenameOutcome::InboxMoved { inbox: i, new } = out else {
        panic!("expected InboxMoved, got {out:?}");
    };
    assert_eq!(i, inbox);
    let st = log.state();
    assert_eq!(st.mailbox(&MailboxName::inbox()).unwrap().id, inbox);
    assert_eq!(
        st.mailbox(&MailboxName::parse("Old Mail").unwrap())
            .unwrap()
            .id,
        new
    );
    assert!(st
        .mailbox(&MailboxName::parse("INBOX/child").unwrap())
        .is_some());
    assert!(matches!(
        log.rename("Old Mail", "INBOX"),
        Err(StoreError::MailboxExists { .. })
    ));
}

#[test]
fn subscriptions_and_settings() {
    let (dir, m, mut log) = setup();
    assert!(log.subscribe("does/not/exist").unwrap());
    assert!(!log.subscribe("does/not/exist").unwrap());
    assert!(log.subscribe("inbox").unwrap());
    assert!(log.state().is_subscribed(&MailboxName::inbox()));
    assert!(log.unsubscribe("does/not/exist").unwrap());
    assert!(!log.unsubscribe("does/not/exist").unwrap());
    log.set_setting("smtp-out", "yes").unwrap();
    let again = AccountLog::open(dir.path(), &m).unwrap();
    assert_eq!(
        again
            .state()
            .subscriptions()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["INBOX"]
    );
    assert_eq!(again.state().setting("smtp-out"), Some("yes"));
}

#[test]
fn two_handles_see_each_other_and_cannot_race() {
    let (dir, m, mut one) = setup();
    let mut two = AccountLog::open(dir.path(), &m).unwrap();
    one.create("Shared", &[]).unwrap();
    // `two` has not refreshed, yet must not create the name again.
    assert!(matches!(
        two.create("Shared", &[]),
        Err(StoreError::MailboxExists { .. })
    ));
    two.create("Other", &[]).unwrap();
    assert!(one.refresh().unwrap());
    assert_eq!(names(one.state()), ["Other", "Shared"]);
    let u1 = one.state().mailboxes().map(|m| m.uid_validity).max();
    let u2 = two.state().mailboxes().map(|m| m.uid_validity).max();
    assert_eq!(u1, u2);
}

#[test]
fn mailbox_id_hex_round_trip() {
    let id = MailboxId::generate();
    let hex = id.to_string();
    assert_eq!(hex.len(), 32);
    assert_eq!(MailboxId::parse_hex(&hex), Some(id));
    assert_eq!(MailboxId::parse_hex("zz"), None);
    assert_eq!(MailboxId::parse_hex(&"g".repeat(32)), None);
    assert_eq!(MailboxId::parse_hex(&hex.to_uppercase()), Some(id));
    assert_eq!(
        MailboxId::parse_hex(&"+f".repeat(16)),
        None,
        "sign accepted"
    );
    assert_eq!(SpecialUse::from_imap("\\junk"), Some(SpecialUse::Junk));
    assert_eq!(SpecialUse::from_imap("Junk"), None);
}
