//! End-to-end tests of the selected state over the real binary: SELECT and
//! EXAMINE, STORE, EXPUNGE and its variants, CLOSE/UNSELECT, COPY/MOVE,
//! ENABLE, QRESYNC resynchronisation and XCRY PURGE.

mod common;

use common::alice::{login, root_with, PASS, USER};
use common::{count, has, numbered_msg};

#[test]
fn rfc9051_6_3_2_select_and_examine_report_the_mailbox() {
    let root = root_with("sel-select", 3);
    let mut s = login(&root);
    let caps = s.ok("CAPABILITY");
    for c in [
        "IDLE",
        "UNSELECT",
        "UIDPLUS",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
    ] {
        assert!(has(&caps, &format!(" {c}")), "{c} missing: {caps:?}");
    }
    let r = s.ok("SELECT INBOX");
    assert!(
        has(
            &r,
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"
        ),
        "{r:#?}"
    );
    assert!(has(
        &r,
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"
    ));
    assert!(has(&r, "* 3 EXISTS"));
    assert!(has(&r, "* 3 RECENT"));
    assert!(has(&r, "* OK [UNSEEN 1]"));
    assert!(has(&r, "* OK [UIDVALIDITY "));
    assert!(has(&r, "* OK [UIDNEXT 4]"));
    assert!(has(&r, "* OK [HIGHESTMODSEQ "));
    assert!(has(&r, "* OK [MAILBOXID ("));
    assert!(!has(&r, "[CLOSED]"), "nothing was selected before");
    assert!(r.last().unwrap().contains("OK [READ-WRITE]"));

    let r = s.ok("EXAMINE INBOX");
    assert!(has(&r, "* OK [CLOSED]"));
    assert!(has(&r, "* OK [PERMANENTFLAGS ()]"));
    assert!(
        has(&r, "* 0 RECENT"),
        "\\Recent was claimed by the SELECT: {r:#?}"
    );
    assert!(r.last().unwrap().contains("OK [READ-ONLY]"));
    let r = s.cmd("STORE 1 +FLAGS (\\Seen)");
    assert!(r.last().unwrap().contains(" NO "), "{r:#?}");
    let r = s.cmd("EXPUNGE");
    assert!(r.last().unwrap().contains(" NO "), "{r:#?}");

    // A failing SELECT leaves nothing selected.
    let r = s.cmd("SELECT Nonexistent");
    assert!(has(&r, "* OK [CLOSED]"));
    assert!(r.last().unwrap().contains("NO [NONEXISTENT]"), "{r:#?}");
    let r = s.cmd("STORE 1 +FLAGS (\\Seen)");
    assert!(r.last().unwrap().contains("BAD"), "{r:#?}");
    let r = s.cmd("CLOSE");
    assert!(r.last().unwrap().contains("BAD"), "{r:#?}");
}

#[test]
fn rfc9051_6_4_6_store_variants() {
    let root = root_with("sel-store", 3);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    let r = s.ok("STORE 1 +FLAGS (\\Seen)");
    assert!(has(&r, "* 1 FETCH (FLAGS (\\Seen \\Recent))"), "{r:#?}");
    let r = s.ok("UID STORE 2 +FLAGS ($Work \\Recent)");
    assert!(
        has(&r, "* 2 FETCH (UID 2 FLAGS ($Work \\Recent))"),
        "{r:#?}"
    );
    let r = s.ok("STORE 1:3 +FLAGS.SILENT (\\Flagged)");
    assert!(!has(&r, "FETCH"), "{r:#?}");
    let r = s.ok("STORE 1:3 -FLAGS (\\Flagged)");
    assert_eq!(count(&r, "FETCH"), 3);
    assert!(has(&r, "* 1 FETCH (FLAGS (\\Seen \\Recent))"), "{r:#?}");
    let r = s.ok("STORE 3 FLAGS (\\Draft \\Answered)");
    assert!(
        has(&r, "* 3 FETCH (FLAGS (\\Answered \\Draft \\Recent))"),
        "{r:#?}"
    );
    let r = s.cmd("STORE 1 +FLAGS (\\Bogus)");
    assert!(r.last().unwrap().contains("BAD"), "{r:#?}");
    let r = s.cmd("STORE 4 +FLAGS (\\Seen)");
    assert!(
        r.last().unwrap().contains("BAD"),
        "beyond the last message: {r:#?}"
    );
    // A new keyword appears in FLAGS at the next SELECT.
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "$Work"), "{r:#?}");
    assert!(has(&r, "* OK [UNSEEN 2]"), "{r:#?}");
}

#[test]
fn rfc7162_3_1_3_store_unchangedsince_reports_modseq_and_modified() {
    let root = root_with("sel-condstore", 3);
    let mut s = login(&root);
    let r = s.ok("SELECT INBOX (CONDSTORE)");
    let hms: u64 = r
        .iter()
        .find_map(|l| l.strip_prefix("* OK [HIGHESTMODSEQ "))
        .and_then(|l| l.split(']').next())
        .and_then(|n| n.parse().ok())
        .expect("HIGHESTMODSEQ");
    let r = s.ok("STORE 1 +FLAGS (\\Seen)");
    assert!(
        has(
            &r,
            // RFC 7162 §3.1: with CONDSTORE on, UID too.
            &format!(
                "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ ({}))",
                hms + 1
            )
        ),
        "{r:#?}"
    );
    // Message 1 changed after `hms`: refused and reported; 2 and 3 change.
    let r = s.ok(&format!(
        "STORE 1:3 (UNCHANGEDSINCE {hms}) +FLAGS.SILENT (\\Flagged)"
    ));
    assert!(r.last().unwrap().contains("OK [MODIFIED 1]"), "{r:#?}");
    assert!(
        has(&r, &format!("* 2 FETCH (UID 2 MODSEQ ({}))", hms + 2)),
        "{r:#?}"
    );
    assert!(!has(&r, "* 1 FETCH"), "{r:#?}");
    let r = s.ok("UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)");
    assert!(r.last().unwrap().contains("OK [MODIFIED 1:3]"), "{r:#?}");
}

#[test]
fn rfc9051_6_4_6_store_on_a_thousand_messages_is_one_write() {
    let root = root_with("sel-store-1000", 0);
    let msgs: Vec<Vec<u8>> = (1..=1000).map(numbered_msg).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    common::seed(&root, USER, PASS, "INBOX", &refs);
    let mut s = login(&root);
    s.ok("SELECT INBOX (CONDSTORE)");
    let r = s.ok("STORE 1:* +FLAGS.SILENT (\\Seen)");
    // One log record: every message got the same new modseq.
    let modseqs: std::collections::BTreeSet<&str> = r
        .iter()
        .filter_map(|l| l.split("MODSEQ (").nth(1))
        .collect();
    assert_eq!(count(&r, "FETCH"), 1000);
    assert_eq!(modseqs.len(), 1, "{modseqs:?}");
}

#[test]
fn rfc9051_6_4_3_expunge_uid_expunge_and_xvanquish() {
    let root = root_with("sel-expunge", 6);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    s.ok("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)");
    // UID EXPUNGE only removes \Deleted messages inside the set.
    let r = s.ok("UID EXPUNGE 1:4");
    assert_eq!(r.len(), 3, "{r:#?}");
    assert_eq!(r[0], "* 4 EXPUNGE");
    assert_eq!(r[1], "* 2 EXPUNGE");
    let r = s.ok("EXPUNGE");
    assert_eq!(r[0], "* 3 EXPUNGE", "UID 5 is now message 3: {r:#?}");
    // XVANQUISH removes UID 6 without \Deleted.
    let r = s.ok("XVANQUISH 6");
    assert_eq!(r[0], "* 3 EXPUNGE", "{r:#?}");
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "* 2 EXISTS"), "{r:#?}");
    assert!(has(&r, "* OK [UIDNEXT 7]"));
}

#[test]
fn rfc9051_6_4_1_close_expunges_silently_and_unselect_does_not() {
    let root = root_with("sel-close", 4);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    s.ok("STORE 1,2 +FLAGS.SILENT (\\Deleted)");
    let r = s.ok("UNSELECT");
    assert_eq!(r.len(), 1, "{r:#?}");
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "* 4 EXISTS"), "UNSELECT expunged: {r:#?}");
    let r = s.ok("CLOSE");
    assert_eq!(r.len(), 1, "CLOSE sends no EXPUNGE: {r:#?}");
    let r = s.ok("EXAMINE INBOX");
    assert!(has(&r, "* 2 EXISTS"), "{r:#?}");
    assert!(!has(&r, "[CLOSED]"), "CLOSE already closed it");
    // CLOSE of a read-only selection expunges nothing.
    s.ok("CLOSE");
}

#[test]
fn rfc9051_6_4_7_copy_and_rfc6851_move() {
    let root = root_with("sel-copy", 3);
    let mut s = login(&root);
    let r = s.ok("SELECT Archive");
    let archive_validity = r
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .expect("UIDVALIDITY")
        .to_owned();
    s.ok("SELECT INBOX");
    s.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Keep)");
    let r = s.ok("COPY 1:2 Archive");
    assert!(
        r.last()
            .unwrap()
            .contains(&format!("OK [COPYUID {archive_validity} 1:2 1:2]")),
        "{r:#?}"
    );
    let r = s.cmd("COPY 1 Nowhere");
    assert!(r.last().unwrap().contains("NO [TRYCREATE]"), "{r:#?}");
    // Same-mailbox COPY: the new message shows up as EXISTS.
    let r = s.ok("UID COPY 3 INBOX");
    assert!(has(&r, "* 4 EXISTS"), "{r:#?}");
    assert!(r.last().unwrap().contains("[COPYUID "), "{r:#?}");
    // MOVE into the selected mailbox itself: tests/interop_imaptest.rs.

    // MOVE: untagged COPYUID, then the expunges, then the tagged OK.
    let r = s.ok("MOVE 1:2 Archive");
    assert!(
        r[0].starts_with(&format!("* OK [COPYUID {archive_validity} 1:2 3:4]")),
        "{r:#?}"
    );
    assert_eq!(r[1], "* 2 EXPUNGE");
    assert_eq!(r[2], "* 1 EXPUNGE");
    let r = s.ok("SELECT Archive");
    assert!(has(&r, "* 4 EXISTS"), "{r:#?}");
    assert!(has(&r, "$Keep"), "flags travel with the message: {r:#?}");
    let r = s.ok("STORE 4 +FLAGS ()");
    assert!(
        has(&r, "* 4 FETCH (FLAGS (\\Flagged $Keep \\Recent))"),
        "{r:#?}"
    );

    // With QRESYNC, MOVE reports VANISHED.
    s.ok("ENABLE QRESYNC");
    s.ok("SELECT INBOX");
    let r = s.ok("UID MOVE 3 Archive");
    assert!(r[0].starts_with("* OK [COPYUID"), "{r:#?}");
    assert_eq!(r[1], "* VANISHED 3");
}

#[test]
fn rfc7162_3_2_5_enable_and_qresync_select() {
    let root = root_with("sel-enable", 4);
    let mut s = login(&root);
    let r = s.cmd("SELECT INBOX (QRESYNC (1 1))");
    assert!(
        r.last().unwrap().contains("BAD"),
        "QRESYNC not enabled: {r:#?}"
    );
    let r = s.ok("ENABLE CONDSTORE X-UNKNOWN QRESYNC");
    assert_eq!(r[0], "* ENABLED CONDSTORE QRESYNC");
    let r = s.ok("ENABLE QRESYNC CONDSTORE");
    assert_eq!(r[0], "* ENABLED", "nothing newly enabled: {r:#?}");

    let r = s.ok("SELECT INBOX");
    let find = |r: &[String], code: &str| -> String {
        r.iter()
            .find_map(|l| l.strip_prefix(&format!("* OK [{code} ")))
            .and_then(|l| l.split(']').next())
            .unwrap_or_else(|| panic!("{code} missing: {r:#?}"))
            .to_owned()
    };
    let validity = find(&r, "UIDVALIDITY");
    let hms = find(&r, "HIGHESTMODSEQ");
    s.ok("UID STORE 2 +FLAGS.SILENT (\\Seen)");
    s.ok("XVANQUISH 3");
    s.ok("UNSELECT");
    let r = s.ok(&format!("SELECT INBOX (QRESYNC ({validity} {hms} 1:4))"));
    assert!(has(&r, "* VANISHED (EARLIER) 3"), "{r:#?}");
    assert!(
        has(&r, "* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ ("),
        "{r:#?}"
    );
    assert_eq!(count(&r, "FETCH"), 1, "{r:#?}");
    // Known UIDs limit VANISHED; a wrong UIDVALIDITY gets no resync.
    let r = s.ok(&format!("SELECT INBOX (QRESYNC ({validity} {hms} 1:2))"));
    assert!(!has(&r, "VANISHED"), "{r:#?}");
    let r = s.ok(&format!("SELECT INBOX (QRESYNC (999 {hms}))"));
    assert!(!has(&r, "VANISHED") && !has(&r, "FETCH"), "{r:#?}");
}

#[test]
fn rfc9051_6_3_2_imap4rev2_select_has_list_and_no_recent() {
    let root = root_with("sel-rev2", 2);
    let mut s = login(&root);
    let r = s.ok("ENABLE IMAP4rev2");
    assert_eq!(r[0], "* ENABLED IMAP4rev2");
    let r = s.ok("SELECT Sent");
    assert!(
        has(&r, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\""),
        "{r:#?}"
    );
    let r = s.ok("SELECT INBOX");
    assert!(!has(&r, "RECENT") && !has(&r, "UNSEEN"), "{r:#?}");
    let r = s.ok("STORE 1 +FLAGS (\\Seen)");
    assert!(has(&r, "* 1 FETCH (UID 1 FLAGS (\\Seen))"), "{r:#?}");
}

#[test]
fn rfc6855_utf8_accept_selects_utf8_names() {
    let root = root_with("sel-utf8", 0);
    common::seed(&root, USER, PASS, "Caf\u{e9}", &[b"x\r\n\r\ny\r\n"]);
    let mut s = login(&root);
    let r = s.ok("SELECT \"Caf&AOk-\"");
    assert!(has(&r, "* 1 EXISTS"), "{r:#?}");
    s.ok("ENABLE UTF8=ACCEPT");
    let r = s.ok("SELECT \"Caf\u{e9}\"");
    assert!(has(&r, "* 1 EXISTS"), "{r:#?}");
}

#[test]
fn xcry_purge_removes_expunged_files() {
    let root = root_with("sel-purge", 2);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    s.ok("XVANQUISH 1");
    let files = |root: &common::Root| -> usize {
        walk(&root.path().join("users").join(USER).join("mailboxes"))
    };
    let before = files(&root);
    let r = s.ok("XCRY PURGE");
    assert!(r.last().unwrap().contains("removed"), "{r:#?}");
    assert!(files(&root) < before, "no file removed");
    // The remaining message is intact.
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "* 1 EXISTS"), "{r:#?}");
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk(&p)
            } else if p.to_string_lossy().contains("/msg/") {
                1
            } else {
                0
            }
        })
        .sum()
}
