//! IDLE (RFC 2177) over the real binary: deliveries and other sessions'
//! changes reach an idling client at once; DONE, garbage, and IDLE with no
//! mailbox selected. Also filing of deliveries made while logged out.

mod common;

use common::alice::{login, root_with, USER};
use common::has;

/// The idling client sends nothing after IDLE: the EXISTS it receives was
/// pushed by the server because of the delivery, and it is the first
/// thing the server says. (The socket's read timeout only bounds the
/// wait, so a server that never tells fails instead of hanging.)
#[test]
fn rfc2177_delivered_message_reaches_an_idling_client() {
    let root = root_with("idle-deliver", 1);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    let i1 = s.start("IDLE");
    assert_eq!(s.c.line(), "+ idling");
    common::deliver(
        &root,
        USER,
        b"From: x@example.org\nSubject: hello\n\nbody\n",
    );
    assert_eq!(s.c.line(), "* 2 EXISTS", "unprompted, after the delivery");
    let l = s.c.line();
    assert_eq!(l, "* 2 RECENT", "both messages are this session's \\Recent");
    s.c.send(b"DONE\r\n");
    let r = s.c.until_tagged(&i1);
    assert!(r.last().unwrap().starts_with(&format!("{i1} OK")), "{r:#?}");
    // The message really is there and readable by flags.
    let r = s.ok("STORE 2 +FLAGS ()");
    assert!(has(&r, "* 2 FETCH (FLAGS (\\Recent))"), "{r:#?}");
}

#[test]
fn rfc2177_other_sessions_changes_reach_an_idling_client() {
    let root = root_with("idle-flags", 2);
    let mut idler = login(&root);
    let mut other = login(&root);
    idler.ok("SELECT INBOX");
    other.ok("SELECT INBOX");
    let i1 = idler.start("IDLE");
    assert_eq!(idler.c.line(), "+ idling");
    other.ok("STORE 1 +FLAGS.SILENT (\\Seen)");
    let l = idler.c.line();
    assert!(l.starts_with("* 1 FETCH (FLAGS (\\Seen"), "{l}");
    other.ok("XVANQUISH 2");
    assert_eq!(idler.c.line(), "* 2 EXPUNGE");
    idler.c.send(b"done\r\n");
    let r = idler.c.until_tagged(&i1);
    assert!(r.last().unwrap().starts_with(&format!("{i1} OK")), "{r:#?}");
}

#[test]
fn rfc2177_idle_without_a_mailbox_and_bad_continuation() {
    let root = root_with("idle-plain", 0);
    let mut s = login(&root);
    let i1 = s.start("IDLE");
    assert_eq!(s.c.line(), "+ idling");
    s.c.send(b"DONE\r\n");
    assert!(s.c.line().starts_with(&format!("{i1} OK")));
    s.ok("SELECT INBOX");
    let i2 = s.start("IDLE");
    assert_eq!(s.c.line(), "+ idling");
    s.c.send(b"NOPE\r\n");
    assert!(s.c.line().starts_with(&format!("{i2} BAD")));
    // The session goes on normally.
    s.ok("NOOP");
}

#[test]
fn cli_deliver_while_logged_out_is_filed_at_login() {
    let root = root_with("idle-offline", 0);
    common::deliver(&root, USER, b"Subject: one\n\n1\n");
    common::deliver(&root, USER, b"Subject: two\n\n2\n");
    let spool = root.path().join("users").join(USER).join("spool");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 2);
    let mut s = login(&root);
    assert_eq!(
        std::fs::read_dir(&spool).unwrap().count(),
        0,
        "filed at login"
    );
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "* 2 EXISTS"), "{r:#?}");
}
