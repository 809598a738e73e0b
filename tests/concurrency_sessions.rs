//! The multi-session table of DESIGN.md with several real sessions:
//! checkpoint, \Recent exactly once, atomic flag changes, expunge store,
//! and sequence-number stability.

mod common;

use common::alice::{login, root_with, PASS, USER};
use common::{count, flags_by_seq, has, Session};

#[test]
fn concurrency_checkpoint_every_session_reports_identical_state() {
    let root = root_with("ms-checkpoint", 5);
    let mut sessions: Vec<Session> = (0..3).map(|_| login(&root)).collect();
    for s in &mut sessions {
        s.ok("SELECT INBOX");
    }
    sessions[0].ok("STORE 1 +FLAGS (\\Seen)");
    sessions[1].ok("STORE 2 +FLAGS ($Later)");
    sessions[2].ok("STORE 3 +FLAGS (\\Deleted)");
    sessions[2].ok("EXPUNGE");
    sessions[1].ok("XVANQUISH 5");
    common::seed(&root, USER, PASS, "INBOX", &[b"x\r\n\r\nnew\r\n"]);
    let mut views = Vec::new();
    for s in &mut sessions {
        let r = s.ok("CHECK");
        assert!(has(&r, "* 4 EXISTS"), "{r:#?}");
        views.push(flags_by_seq(&s.ok("STORE 1:* +FLAGS ()")));
    }
    assert_eq!(views[0].len(), 4, "{views:#?}");
    assert_eq!(views[0], views[1]);
    assert_eq!(views[1], views[2]);
    assert_eq!(views[0][0].1, vec!["\\Seen".to_owned()]);
    assert_eq!(views[0][1].1, vec!["$Later".to_owned()]);
}

#[test]
fn concurrency_recent_is_claimed_by_exactly_one_of_three_sessions() {
    let root = root_with("ms-recent", 1);
    let mut sessions: Vec<Session> = (0..3).map(|_| login(&root)).collect();
    let mut recent_total = 0;
    for s in &mut sessions {
        let r = s.ok("SELECT INBOX");
        if has(&r, "* 1 RECENT") {
            recent_total += 1;
        }
    }
    assert_eq!(recent_total, 1, "the existing message is \\Recent once");
    common::seed(&root, USER, PASS, "INBOX", &[b"x\r\n\r\nnew\r\n"]);
    let mut holders = 0;
    for s in &mut sessions {
        let r = s.ok("NOOP");
        assert!(has(&r, "* 2 EXISTS"), "{r:#?}");
        let r = s.ok("STORE 2 +FLAGS ()");
        if has(&r, "\\Recent") {
            holders += 1;
        }
    }
    assert_eq!(
        holders, 1,
        "the new message is \\Recent in exactly one session"
    );
}

#[test]
fn concurrency_flag_changes_from_sessions_are_never_lost() {
    let root = root_with("ms-atomic", 10);
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        for i in 0..4 {
            let (root, barrier) = (&root, &barrier);
            scope.spawn(move || {
                let mut s = login(root);
                s.ok("SELECT INBOX");
                barrier.wait();
                for round in 0..5 {
                    s.ok(&format!("STORE 1:* +FLAGS.SILENT (k{i}r{round})"));
                    if round % 2 == 1 {
                        s.ok(&format!("STORE 1:* -FLAGS.SILENT (k{i}r{})", round - 1));
                    }
                }
            });
        }
    });
    let mut checker = login(&root);
    checker.ok("SELECT INBOX");
    let s = &mut checker;
    s.ok("NOOP");
    let view = flags_by_seq(&s.ok("STORE 1:* +FLAGS ()"));
    assert_eq!(view.len(), 10);
    for (_, flags) in &view {
        for i in 0..4 {
            // r0 and r2 were removed by the same session; r1, r3, r4 remain.
            for round in [1, 3, 4] {
                assert!(flags.contains(&format!("k{i}r{round}")), "{flags:?}");
            }
            for round in [0, 2] {
                assert!(!flags.contains(&format!("k{i}r{round}")), "{flags:?}");
            }
        }
    }
}

#[test]
fn concurrency_store_to_a_message_expunged_unseen_succeeds_and_others_see_it() {
    let root = root_with("ms-expunge-store", 3);
    let mut a = login(&root);
    let mut b = login(&root);
    let mut c = login(&root);
    for s in [&mut a, &mut b, &mut c] {
        s.ok("SELECT INBOX");
    }
    let r = a.ok("XVANQUISH 2");
    assert_eq!(r[0], "* 2 EXPUNGE");
    // B has not seen the expunge: non-UID STORE must not report it, and
    // the STORE to the vanished message still works.
    let r = b.ok("STORE 2 +FLAGS (\\Flagged)");
    assert!(has(&r, "* 2 FETCH (FLAGS (\\Flagged"), "{r:#?}");
    assert!(!has(&r, "EXPUNGE"), "no EXPUNGE during STORE: {r:#?}");
    let r = b.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)");
    assert!(!has(&r, "EXPUNGE"), "{r:#?}");
    // C still has message 2 (no refresh during a non-UID STORE): it sees
    // B's change, then learns of the expunge at its next NOOP.
    let r = c.ok("STORE 2 +FLAGS ()");
    assert!(has(&r, "* 2 FETCH (FLAGS (\\Flagged"), "{r:#?}");
    let r = c.ok("NOOP");
    assert!(has(&r, "* 2 EXPUNGE"), "{r:#?}");
    assert!(
        !has(&r, "* 2 FETCH"),
        "no news about a message being expunged: {r:#?}"
    );
    // A UID command is a point where B may be told.
    let r = b.ok("UID STORE 1 +FLAGS.SILENT (\\Answered)");
    assert_eq!(count(&r, "* 2 EXPUNGE"), 1, "{r:#?}");
    let r = b.ok("NOOP");
    assert!(!has(&r, "EXPUNGE"), "reported once: {r:#?}");
}

// The seed's multi-session table, one test per column, each "Yes".

/// The FLAGS a list of responses gives for sequence number `seq` last.
fn last_flags_of(r: &[String], seq: u32) -> Option<String> {
    let prefix = format!("* {seq} FETCH ");
    r.iter()
        .rev()
        .find(|l| l.starts_with(&prefix) && l.contains("FLAGS ("))
        .cloned()
}

#[test]
fn seed_expunge_fetch_two_sessions_yes() {
    let root = root_with("seed-expunge-fetch", 3);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    b.ok("SELECT INBOX");
    a.ok("STORE 2 +FLAGS (\\Deleted)");
    a.ok("EXPUNGE");
    // RFC 9051 §7.5.1: B still has message 2 and may fetch all of it; the
    // FETCH shows A's \Deleted at once, but no EXPUNGE.
    let r = b.ok("FETCH 2 (FLAGS BODY[])");
    assert!(!has(&r, "EXPUNGE"), "{r:#?}");
    assert!(has(&r, "BODY[]"), "{r:#?}");
    let flags = last_flags_of(&r, 2).unwrap_or_default();
    assert!(flags.contains("\\Deleted"), "{r:#?}");
    let r = b.ok("NOOP");
    assert_eq!(count(&r, "* 2 EXPUNGE"), 1, "{r:#?}");
}

#[test]
fn seed_expunge_store_three_sessions_yes() {
    let root = root_with("seed-expunge-store", 3);
    let mut s1 = login(&root);
    let mut s2 = login(&root);
    let mut s3 = login(&root);
    for s in [&mut s1, &mut s2, &mut s3] {
        s.ok("SELECT INBOX");
    }
    s1.ok("STORE 1 +FLAGS (\\Deleted)");
    s1.ok("EXPUNGE");
    // Session 2 has not seen the expunge: its STORE to 1,2 is accepted
    // and recorded for both.
    let r = s2.ok("STORE 1,2 +FLAGS (\\Seen)");
    assert!(!has(&r, "EXPUNGE"), "{r:#?}");
    // Session 3 sees \Seen on both at once, in its FETCH, with no EXPUNGE.
    let r = s3.ok("FETCH 1,2 FLAGS");
    assert!(!has(&r, "EXPUNGE"), "{r:#?}");
    for seq in [1, 2] {
        let flags = last_flags_of(&r, seq).unwrap_or_default();
        assert!(flags.contains("\\Seen"), "message {seq}: {r:#?}");
    }
    // Then the expunge, once, at the next point that allows it.
    let r = s3.ok("NOOP");
    assert_eq!(count(&r, "* 1 EXPUNGE"), 1, "{r:#?}");
    assert!(!has(&r, "FETCH"), "flags were already reported: {r:#?}");
    let r = s3.ok("FETCH 1 FLAGS");
    assert!(has(&r, "\\Seen"), "{r:#?}");
}

#[test]
fn seed_checkpoint_every_session_yes() {
    let root = root_with("seed-checkpoint", 4);
    let mut sessions: Vec<Session> = (0..4).map(|_| login(&root)).collect();
    for s in &mut sessions {
        s.ok("SELECT INBOX");
    }
    sessions[0].ok("STORE 1 +FLAGS (\\Answered)");
    sessions[1].ok("STORE 2 +FLAGS (\\Deleted)");
    sessions[1].ok("EXPUNGE");
    sessions[3].ok("STORE 1:* +FLAGS.SILENT ($Seed)");
    common::seed(&root, USER, PASS, "INBOX", &[b"x\r\n\r\nnew\r\n"]);
    let mut views = Vec::new();
    for s in &mut sessions {
        let r = s.ok("CHECK");
        assert!(has(&r, "* 4 EXISTS"), "{r:#?}");
        views.push(flags_by_seq(&s.ok("FETCH 1:* FLAGS")));
    }
    for v in &views[1..] {
        assert_eq!(v, &views[0]);
    }
    assert_eq!(views[0].len(), 4, "{views:#?}");
}

#[test]
fn seed_recent_five_sessions_yes() {
    let root = root_with("seed-recent-five", 0);
    let mut sessions: Vec<Session> = (0..5).map(|_| login(&root)).collect();
    for s in &mut sessions {
        s.ok("SELECT INBOX");
    }
    common::seed(
        &root,
        USER,
        PASS,
        "INBOX",
        &[b"x\r\n\r\none\r\n", b"x\r\n\r\ntwo\r\n"],
    );
    let mut holders = Vec::new();
    for (i, s) in sessions.iter_mut().enumerate() {
        let r = s.ok("NOOP");
        assert!(has(&r, "* 2 EXISTS"), "{r:#?}");
        let r = s.ok("SEARCH RECENT");
        if r.iter().any(|l| l.trim_end() == "* SEARCH 1 2") {
            holders.push(i);
        }
    }
    assert_eq!(
        holders.len(),
        1,
        "exactly one session holds \\Recent: {holders:?}"
    );
}

#[test]
fn seed_atomic_flags_yes() {
    // Five sessions change flags of the same three messages at once, each
    // adding its own keyword and removing one it added earlier, while all
    // of them add and remove the shared \Flagged; nothing is lost.
    let root = root_with("seed-atomic-flags", 3);
    let barrier = std::sync::Barrier::new(5);
    std::thread::scope(|scope| {
        for i in 0..5 {
            let (root, barrier) = (&root, &barrier);
            scope.spawn(move || {
                let mut s = login(root);
                s.ok("SELECT INBOX");
                barrier.wait();
                for round in 0..4 {
                    s.ok(&format!("STORE 1:3 +FLAGS.SILENT (s{i}k{round} \\Flagged)"));
                    if round == 2 {
                        s.ok(&format!("UID STORE 1:* -FLAGS.SILENT (s{i}k0)"));
                    }
                }
                s.ok("STORE 2 -FLAGS.SILENT (\\Flagged)");
            });
        }
    });
    let mut sessions: Vec<Session> = (0..2).map(|_| login(&root)).collect();
    let mut views = Vec::new();
    for s in &mut sessions {
        s.ok("SELECT INBOX");
        views.push(flags_by_seq(&s.ok("FETCH 1:* FLAGS")));
    }
    assert_eq!(views[0], views[1]);
    assert_eq!(views[0].len(), 3, "{views:#?}");
    for (seq, flags) in &views[0] {
        for i in 0..5 {
            for round in 1..4 {
                assert!(flags.contains(&format!("s{i}k{round}")), "{seq}: {flags:?}");
            }
            assert!(!flags.contains(&format!("s{i}k0")), "{seq}: {flags:?}");
        }
        // Every session removed \Flagged from message 2 last.
        let flagged = flags.iter().any(|f| f == "\\Flagged");
        assert_eq!(flagged, *seq != 2, "{seq}: {flags:?}");
    }
}

#[test]
fn seed_sequence_numbers_yes() {
    // RFC 9051 §7.5.1 / RFC 3501 §7.4.1: while another session expunges
    // and new mail arrives, FETCH, STORE and SEARCH by sequence number
    // report neither EXPUNGE nor EXISTS, and the numbers keep naming the
    // messages the client knows; a UID command or NOOP then reports both,
    // once.
    let root = root_with("seed-sequence-numbers", 4);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    b.ok("SELECT INBOX");
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    b.ok("EXPUNGE");
    common::seed(&root, USER, PASS, "INBOX", &[b"x\r\n\r\nnew\r\n"]);
    for cmd in [
        "FETCH 4 (UID BODY.PEEK[TEXT])",
        "STORE 2 +FLAGS (\\Answered)",
        "SEARCH ALL",
        "SORT (ARRIVAL) UTF-8 ALL",
    ] {
        let r = a.ok(cmd);
        assert!(!has(&r, "EXPUNGE") && !has(&r, "EXISTS"), "{cmd}: {r:#?}");
        if cmd.starts_with("FETCH") {
            // Message 4 is still UID 4 for this session, body and all.
            assert!(has(&r, "* 4 FETCH (UID 4 BODY[TEXT] {8}"), "{r:#?}");
            assert!(has(&r, "body 4"), "{r:#?}");
        }
        if cmd.starts_with("SEARCH") {
            assert_eq!(r[0].trim_end(), "* SEARCH 1 2 3 4", "{r:#?}");
        }
    }
    // The answer uses the numbers the client had, then come the news.
    let r = a.ok("UID FETCH 2 (FLAGS)");
    assert!(has(&r, "* 2 FETCH (UID 2 FLAGS (\\Answered"), "{r:#?}");
    assert_eq!(count(&r, "* 1 EXPUNGE"), 1, "{r:#?}");
    assert_eq!(count(&r, "* 4 EXISTS"), 1, "{r:#?}");
    let r = a.ok("NOOP");
    assert!(!has(&r, "EXPUNGE") && !has(&r, "EXISTS"), "once: {r:#?}");
    let r = a.ok("FETCH 1:* (UID)");
    let uids: Vec<&str> = r
        .iter()
        .filter(|l| l.starts_with("* "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        uids,
        [
            "* 1 FETCH (UID 2)",
            "* 2 FETCH (UID 3)",
            "* 3 FETCH (UID 4)",
            "* 4 FETCH (UID 5)"
        ],
        "renumbered: {r:#?}"
    );
}
