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

/// A handle that raises the account's mark from a stale end (it appended
/// earlier, or only opened the log, while another handle appended since)
/// never lowers the mark: raised under the log's lock and only over a
/// lower mark. (Before, the raise came after the lock was released and
/// wrote whatever end the handle knew, so the later of two racing writers
/// could lower the mark, and two could rewrite its slots at once.)
#[test]
fn a_stale_raise_never_lowers_the_account_mark() {
    let (dir, m, mut a) = setup();
    for d in ["marks", "tmp"] {
        fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let mut b = AccountLog::open(dir.path(), &m).unwrap();
    b.create("Later", &[]).unwrap();
    let marks = Marks::new(dir.path(), &m);
    let high = marks.read(ACCOUNT_MARK).unwrap().unwrap();
    assert_eq!(high.a, b.log.position());
    assert!(a.log.position() < high.a);
    let path = dir
        .path()
        .join(crate::store::marks::MARKS_DIR)
        .join(ACCOUNT_MARK);
    let before = fs::read(&path).unwrap();
    a.raise_mark().unwrap();
    assert_eq!(marks.read(ACCOUNT_MARK).unwrap().unwrap(), high);
    // Not a byte rewritten: a raise over a higher mark writes nothing, so
    // it cannot race a writer rewriting the slots.
    assert_eq!(fs::read(&path).unwrap(), before);
    // The stale handle's own write catches up first and raises past it.
    a.create("Mine", &[]).unwrap();
    let now = marks.read(ACCOUNT_MARK).unwrap().unwrap();
    assert!(now.a > high.a);
    assert_eq!(now.a, a.log.position());
    drop(b);
    let reopened = AccountLog::open(dir.path(), &m).unwrap();
    assert_eq!(reopened.problem(), None);
}

/// The account's mark is written only under the account log's lock: while
/// another process holds it, a raise waits. (Before, the mark was written
/// after the lock was released, so two writers could rewrite its two slots
/// at once and leave neither authenticating: a false "tampered".)
#[test]
fn the_account_mark_is_written_under_the_log_lock() {
    use nix::fcntl::{Flock, FlockArg};
    let (dir, m, _) = setup();
    for d in ["marks", "tmp"] {
        fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let mut a = AccountLog::open(dir.path(), &m).unwrap();
    a.create("Some", &[]).unwrap();
    let path = dir
        .path()
        .join(crate::store::marks::MARKS_DIR)
        .join(ACCOUNT_MARK);
    fs::remove_file(&path).unwrap();
    let other = fs::File::open(dir.path().join(ACCOUNT_LOG_PATH)).unwrap();
    let held = Flock::lock(other, FlockArg::LockExclusive).unwrap();
    std::thread::scope(|scope| {
        let raiser = scope.spawn(|| a.raise_mark());
        // Ample time for a raise that does not wait to have written.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!path.exists(), "mark written while another held the lock");
        drop(held);
        raiser.join().unwrap().unwrap();
    });
    let marks = Marks::new(dir.path(), &m);
    assert_eq!(
        marks.read(ACCOUNT_MARK).unwrap().unwrap().a,
        a.log.position()
    );
}
