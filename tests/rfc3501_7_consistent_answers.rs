//! Answers that must agree with each other (issue 15, items 7 and 8):
//! EXAMINE's RECENT count with FETCH FLAGS and SEARCH RECENT (RFC 3501
//! §7.3.2), BODYSTRUCTURE's MD5 with Content-MD5 (§7.4.2), one answer per
//! FETCH item (§6.4.5), SEARCH TEXT with every header line (§6.4.4).

mod common;

use common::{count, has, numbered_msg, session_on_inbox, Session};

const USER: &str = "alice";
const PASS: &str = "correct horse";

#[test]
fn rfc3501_7_3_2_examine_recent_agrees_with_fetch_and_search() {
    let (root, mut s, _) = session_on_inbox(
        "recent-examine",
        USER,
        PASS,
        &[&numbered_msg(1), &numbered_msg(2)],
        true,
    );
    let r = s.ok("EXAMINE INBOX");
    assert!(has(&r, "* 2 RECENT"), "{r:#?}");
    let r = s.ok("FETCH 1:* (FLAGS)");
    assert_eq!(count(&r, "\\Recent"), 2, "{r:#?}");
    let r = s.ok("SEARCH RECENT");
    assert!(has(&r, "* SEARCH 1 2"), "{r:#?}");
    // A message delivered meanwhile is \Recent to the EXAMINE too.
    let mut b = Session::login(&root, USER, PASS);
    b.append("INBOX", &[], &numbered_msg(3)).unwrap();
    let r = s.ok("NOOP");
    assert!(has(&r, "* 3 EXISTS") && has(&r, "* 3 RECENT"), "{r:#?}");
    let r = s.ok("SEARCH RECENT");
    assert!(has(&r, "* SEARCH 1 2 3"), "{r:#?}");
    // Nothing was claimed: the first SELECT still gets all three.
    let r = b.ok("SELECT INBOX");
    assert!(has(&r, "* 3 RECENT"), "{r:#?}");
    let r = s.ok("STATUS INBOX (RECENT)");
    assert!(has(&r, "(RECENT 0)"), "{r:#?}");
}

#[test]
fn rfc3501_7_4_2_bodystructure_md5_is_content_md5() {
    let m = b"From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\nCheck Integrity!\r\n";
    let (_root, mut s, _) = session_on_inbox("md5", USER, PASS, &[m], false);
    let r = s.ok("FETCH 1 BODYSTRUCTURE");
    assert!(has(&r, " \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "), "{r:#?}");
}

#[test]
fn rfc3501_6_4_5_a_fetch_item_asked_twice_is_answered_once() {
    let (_root, mut s, _) = session_on_inbox("dup-items", USER, PASS, &[&numbered_msg(1)], false);
    let r = s.ok("FETCH 1 (FLAGS UID FLAGS BODY.PEEK[TEXT] BODY.PEEK[TEXT] UID)");
    let line = r.iter().find(|l| l.starts_with("* 1 FETCH")).unwrap();
    assert_eq!(line.matches("FLAGS").count(), 1, "{line}");
    assert_eq!(line.matches("UID").count(), 1, "{line}");
    assert_eq!(line.matches("BODY[TEXT]").count(), 1, "{line}");
    // BODY.PEEK and BODY name one item; the non-peek request sets \Seen.
    let r = s.ok("FETCH 1 (BODY.PEEK[TEXT] BODY[TEXT])");
    let line = r.iter().find(|l| l.starts_with("* 1 FETCH")).unwrap();
    assert_eq!(line.matches("BODY[TEXT]").count(), 1, "{line}");
    assert!(line.contains("\\Seen"), "{line}");
}

#[test]
fn rfc3501_6_4_4_search_text_finds_header_lines_that_are_not_fields() {
    let m = b"From: a@example.org\r\nSubject: hi\r\nthis line has no colon zebra\r\n\r\nbody\r\n";
    let (_root, mut s, _) = session_on_inbox("text-nonfield", USER, PASS, &[m], false);
    let r = s.ok("SEARCH TEXT zebra");
    assert!(has(&r, "* SEARCH 1"), "{r:#?}");
    let r = s.ok("SEARCH BODY zebra");
    assert!(!has(&r, "* SEARCH 1"), "{r:#?}");
}
