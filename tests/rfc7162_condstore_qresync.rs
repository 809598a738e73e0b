//! CONDSTORE/QRESYNC (RFC 7162) as a syncing client sees it, over the
//! real binary with several sessions on one mailbox: what a client may
//! cache (HIGHESTMODSEQ in tagged and untagged OKs) must never hide a
//! change from a later `SELECT (QRESYNC ...)`, and every FETCH a
//! CONDSTORE client receives carries UID and MODSEQ (issue 15, items 1-4
//! and the known-UIDs part of 8).

mod common;

use common::alice::{login, root_with};
use common::{has, tagged_code, Parsed, Response, ResponseCode, Root, Session};

/// The value of the first `[HIGHESTMODSEQ n]` among `r` (tagged or not).
fn highest(r: &[Response]) -> Option<u64> {
    r.iter().find_map(|r| match &r.parsed {
        Parsed::Status {
            code: Some(ResponseCode::HighestModSeq(m)),
            ..
        } => Some(m.0),
        _ => None,
    })
}

/// The `[HIGHESTMODSEQ n]` of the tagged response, which must be there.
fn tagged_highest(r: &[Response]) -> u64 {
    match tagged_code(r) {
        Some(ResponseCode::HighestModSeq(m)) => m.0,
        other => panic!("no HIGHESTMODSEQ in the tagged OK ({other:?}): {r:#?}"),
    }
}

fn uid_validity(r: &[Response]) -> u32 {
    r.iter()
        .find_map(|r| match &r.parsed {
            Parsed::Status {
                code: Some(ResponseCode::UidValidity(v)),
                ..
            } => Some(v.get()),
            _ => None,
        })
        .expect("UIDVALIDITY")
}

fn texts(r: &[Response]) -> Vec<String> {
    common::texts(r)
}

/// A QRESYNC session with INBOX selected; its UIDVALIDITY and
/// HIGHESTMODSEQ.
fn qresync_session(root: &Root) -> (Session, u32, u64) {
    let mut s = login(root);
    s.ok("ENABLE QRESYNC");
    let r = s.ok_run("SELECT INBOX");
    let (v, h) = (uid_validity(&r), highest(&r).expect("HIGHESTMODSEQ"));
    (s, v, h)
}

/// What a reconnecting client learns with `SELECT INBOX (QRESYNC (v m))`.
fn resync(root: &Root, v: u32, m: u64) -> Vec<String> {
    let mut s = login(root);
    s.ok("ENABLE QRESYNC");
    s.ok(&format!("SELECT INBOX (QRESYNC ({v} {m}))"))
}

/// Another session expunges UID 2 of INBOX.
fn other_session_expunges_uid_2(root: &Root) {
    let mut b = login(root);
    b.ok("SELECT INBOX");
    b.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    b.ok("UID EXPUNGE 2");
}

/// A client that cached `highest` under `validity` reconnects with
/// QRESYNC and is told nothing: its cache was already right.
fn assert_client_is_current(root: &Root, validity: u32, highest: u64) {
    let again = resync(root, validity, highest);
    assert!(
        !has(&again, "VANISHED") && !has(&again, "FETCH"),
        "{again:#?}"
    );
}

#[test]
fn rfc7162_3_2_store_ok_carries_highestmodseq_below_unreported_expunge() {
    for silent in [false, true] {
        let root = root_with(&format!("qr-store-{silent}"), 4);
        let (mut a, v, h) = qresync_session(&root);
        other_session_expunges_uid_2(&root);
        let store = if silent {
            "STORE 3 +FLAGS.SILENT (\\Flagged)"
        } else {
            "STORE 3 +FLAGS (\\Flagged)"
        };
        let r = a.ok_run(store);
        // The FETCH of the STORE may carry the new, higher modseq; the
        // tagged OK says what the client may cache: below the expunge it
        // has not been told of (the STORE cannot report it).
        assert!(!has(&texts(&r), "EXPUNGE") && !has(&texts(&r), "VANISHED"));
        let cached = tagged_highest(&r);
        assert_eq!(cached, h, "silent={silent}: {:#?}", texts(&r));
        drop(a); // the connection drops before anything else
        let again = resync(&root, v, cached);
        assert!(has(&again, "* VANISHED (EARLIER) 2"), "{again:#?}");
        assert!(has(&again, "FETCH (UID 3 FLAGS (\\Flagged"), "{again:#?}");
    }
}

#[test]
fn rfc7162_3_2_fetch_setting_seen_does_not_hide_an_unreported_expunge() {
    let root = root_with("qr-fetch-seen", 4);
    let (mut a, v, h) = qresync_session(&root);
    other_session_expunges_uid_2(&root);
    let r = a.ok_run("FETCH 3 BODY[TEXT]");
    // The FETCH carries MODSEQ above h (it set \Seen); the tagged OK
    // brings the client back below the unreported expunge.
    assert!(has(&texts(&r), "MODSEQ ("), "{:#?}", texts(&r));
    let cached = tagged_highest(&r);
    assert_eq!(cached, h);
    drop(a);
    let again = resync(&root, v, cached);
    assert!(has(&again, "* VANISHED (EARLIER) 2"), "{again:#?}");
}

#[test]
fn rfc7162_3_2_store_without_foreign_changes_reports_its_own_modseq() {
    let root = root_with("qr-store-own", 3);
    let (mut a, _, h) = qresync_session(&root);
    let r = a.ok_run("STORE 1 +FLAGS (\\Flagged)");
    let cached = tagged_highest(&r);
    assert!(cached > h, "{:#?}", texts(&r));
    assert!(has(&texts(&r), &format!("MODSEQ ({cached})")));
    // FETCH without pending changes needs no code.
    let r = a.ok_run("FETCH 1 (FLAGS)");
    assert_eq!(tagged_code(&r), None, "{:#?}", texts(&r));
}

#[test]
fn rfc7162_3_2_7_expunge_ok_carries_highestmodseq() {
    let root = root_with("qr-expunge", 4);
    let (mut a, v, h) = qresync_session(&root);
    a.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)");
    let r = a.ok_run("EXPUNGE");
    assert!(has(&texts(&r), "* VANISHED 1:2"), "{:#?}", texts(&r));
    let after = tagged_highest(&r);
    assert!(after > h);
    let st = a.ok_run("STATUS INBOX (HIGHESTMODSEQ)");
    assert_eq!(
        common::status_items(&st),
        vec![common::StatusValue::HighestModSeq(after)]
    );
    // Nothing is left for a client that cached it.
    assert_client_is_current(&root, v, after);
}

#[test]
fn rfc7162_3_2_9_uid_expunge_ok_carries_highestmodseq() {
    let root = root_with("qr-uid-expunge", 4);
    let (mut a, v, _) = qresync_session(&root);
    // Another session's flag change is reported by the UID EXPUNGE too.
    let mut b = login(&root);
    b.ok("SELECT INBOX");
    b.ok("STORE 4 +FLAGS (\\Answered)");
    a.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)");
    let r = a.ok_run("UID EXPUNGE 3");
    assert!(has(&texts(&r), "* VANISHED 3"), "{:#?}", texts(&r));
    let after = tagged_highest(&r);
    assert_client_is_current(&root, v, after);
}

#[test]
fn rfc6851_4_4_move_ok_carries_highestmodseq() {
    let root = root_with("qr-move", 4);
    let (mut a, v, h) = qresync_session(&root);
    // The account starts with the special-use mailboxes, Archive among them.
    let r = a.ok_run("UID MOVE 2 Archive");
    let t = texts(&r);
    assert!(t[0].starts_with("* OK [COPYUID"), "{t:#?}");
    assert!(has(&t, "* VANISHED 2"), "{t:#?}");
    let after = tagged_highest(&r);
    assert!(after > h);
    let r = a.ok_run("MOVE 1 Archive");
    let after = tagged_highest(&r);
    assert_client_is_current(&root, v, after);
}

#[test]
fn rfc7162_3_1_status_highestmodseq_enables_condstore() {
    let root = root_with("cs-status", 3);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    let r = s.ok("STORE 1 +FLAGS (\\Seen)");
    assert!(!has(&r, "MODSEQ"), "CONDSTORE is not on yet: {r:#?}");
    let r = s.ok_run("STATUS INBOX (HIGHESTMODSEQ)");
    assert!(
        has(&texts(&r), "* OK [HIGHESTMODSEQ "),
        "a mailbox is selected: {:#?}",
        texts(&r)
    );
    let r = s.ok("STORE 2 +FLAGS (\\Seen)");
    assert!(has(&r, "* 2 FETCH (UID 2 FLAGS (\\Seen"), "{r:#?}");
    assert!(has(&r, "MODSEQ ("), "CONDSTORE is on: {r:#?}");
    // Only once: CONDSTORE is already on.
    let r = s.ok("STATUS INBOX (HIGHESTMODSEQ)");
    assert!(!has(&r, "* OK [HIGHESTMODSEQ "), "{r:#?}");
}

#[test]
fn rfc7162_3_1_enable_with_a_mailbox_selected_sends_highestmodseq() {
    for cap in ["CONDSTORE", "QRESYNC"] {
        let root = root_with(&format!("cs-enable-{cap}"), 2);
        let mut s = login(&root);
        s.ok("SELECT INBOX");
        let r = s.ok_run(&format!("ENABLE {cap}"));
        let t = texts(&r);
        assert!(t[0].starts_with("* ENABLED"), "{t:#?}");
        assert!(has(&t, "* OK [HIGHESTMODSEQ "), "{cap}: {t:#?}");
        let r = s.ok(&format!("ENABLE {cap}"));
        assert!(!has(&r, "HIGHESTMODSEQ"), "nothing newly enabled: {r:#?}");
    }
}

#[test]
fn rfc7162_3_1_fetch_setting_seen_carries_uid_and_modseq() {
    let root = root_with("cs-fetch-seen", 2);
    let mut s = login(&root);
    s.ok("ENABLE CONDSTORE");
    s.ok("SELECT INBOX");
    let r = s.ok("FETCH 1 BODY[TEXT]");
    let line = r.iter().find(|l| l.starts_with("* 1 FETCH")).unwrap();
    assert!(line.contains("UID 1"), "{r:#?}");
    assert!(line.contains("MODSEQ ("), "{r:#?}");
    assert!(line.contains("FLAGS (\\Seen"), "{r:#?}");
    // A FETCH that sets nothing is answered as asked.
    let r = s.ok("FETCH 1 BODY[TEXT]");
    assert!(!has(&r, "MODSEQ"), "{r:#?}");
}

#[test]
fn rfc7162_3_1_store_and_unsolicited_fetch_carry_uid_under_condstore() {
    let root = root_with("cs-uid", 3);
    let mut a = login(&root);
    a.ok("ENABLE CONDSTORE");
    a.ok("SELECT INBOX");
    let r = a.ok("STORE 2 +FLAGS (\\Flagged)");
    assert!(has(&r, "* 2 FETCH (UID 2 FLAGS (\\Flagged"), "{r:#?}");
    let mut b = login(&root);
    b.ok("SELECT INBOX");
    b.ok("STORE 3 +FLAGS (\\Answered)");
    let r = a.ok("NOOP");
    let line = r
        .iter()
        .find(|l| l.starts_with("* 3 FETCH"))
        .expect("FETCH");
    assert!(
        line.contains("UID 3") && line.contains("MODSEQ ("),
        "{r:#?}"
    );
}

#[test]
fn rfc7162_3_2_5_1_known_uids_limit_fetch_changes() {
    let root = root_with("qr-known", 4);
    let (mut a, v, h) = qresync_session(&root);
    a.ok("UID STORE 1,4 +FLAGS.SILENT (\\Flagged)");
    drop(a);
    let mut s = login(&root);
    s.ok("ENABLE QRESYNC");
    let r = s.ok(&format!("SELECT INBOX (QRESYNC ({v} {h} 1:2))"));
    assert!(has(&r, "FETCH (UID 1 "), "{r:#?}");
    assert!(!has(&r, "UID 4"), "UID 4 is not among the known: {r:#?}");
}
