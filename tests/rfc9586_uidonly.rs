//! UIDONLY (RFC 9586) over the real binary, one test per section: ENABLE,
//! commands by sequence number refused with `BAD [UIDREQUIRED]` and
//! nothing done, UIDFETCH in place of FETCH, VANISHED in place of EXPUNGE
//! (also without QRESYNC), UID SEARCH without sequence-set keys, other
//! sessions' changes (also during IDLE), CONDSTORE/QRESYNC, SORT/THREAD.
//!
//! Every mailbox starts with messages 1 and 2 expunged, so UIDs and
//! sequence numbers differ (UID 3 is message 1): a response that named a
//! message by its sequence number could not pass for one naming its UID.

mod common;

use common::alice::{login, root_with, PASS, USER};
use common::{count, has, texts, FetchItem, Parsed, Response, ResponseCode, Session};

/// A session on INBOX holding UIDs 3..=n+2 (sequence numbers 1..=n),
/// with UIDONLY enabled.
fn uidonly_session(label: &str, n: u32) -> (common::Root, Session) {
    let root = root_with(label, n + 2);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    s.ok("XVANQUISH 1:2");
    let r = s.ok("ENABLE UIDONLY");
    assert_eq!(r[0], "* ENABLED UIDONLY", "{r:#?}");
    (root, s)
}

/// RFC 9586 §3: "the server MUST NOT return message sequence numbers in
/// any response": no FETCH, EXPUNGE or [UNSEEN n] in what the typed
/// parser read.
fn assert_no_sequence_numbers(what: &str, responses: &[Response]) {
    for r in responses {
        let bad = match &r.parsed {
            Parsed::Fetch { .. } | Parsed::Expunge(_) => true,
            Parsed::Status { code, .. } => matches!(code, Some(ResponseCode::Unseen(_))),
            _ => false,
        };
        assert!(!bad, "{what}: a sequence number in {:?}", r.text);
    }
}

/// Runs `text`, checks its tagged OK and that nothing in the answer is a
/// sequence number.
fn ok_uid(s: &mut Session, text: &str) -> Vec<String> {
    let r = s.ok_run(text);
    assert_no_sequence_numbers(text, &r);
    texts(&r)
}

/// The tagged line of `text` must be `BAD [UIDREQUIRED]`.
fn refused(s: &mut Session, text: &str) {
    let lines = s.cmd(text);
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with(&format!("{} BAD [UIDREQUIRED] ", s.last_tag())),
        "{text}: {lines:#?}"
    );
}

/// `(uid, flags)` of every UIDFETCH response.
fn uidfetch_flags(r: &[Response]) -> Vec<(u32, Vec<String>)> {
    r.iter()
        .filter_map(|r| {
            let uid = r.uidfetch_uid()?;
            let flags = r.fetch_items().iter().find_map(|i| match i {
                FetchItem::Flags(f) => Some(
                    f.iter()
                        .map(|f| {
                            let mut w = Vec::new();
                            crymap_like::imap::wire::response::write_flag(&mut w, f);
                            String::from_utf8_lossy(&w).into_owned()
                        })
                        .collect(),
                ),
                _ => None,
            })?;
            Some((uid, flags))
        })
        .collect()
}

#[test]
fn rfc9586_3_capability_is_advertised_and_3_1_enable_confirms_it_once() {
    let root = root_with("uidonly-enable", 1);
    let mut s = login(&root);
    let caps = s.ok("CAPABILITY");
    assert!(caps[0].split(' ').any(|c| c == "UIDONLY"), "{caps:#?}");
    let r = s.ok("ENABLE UIDONLY CONDSTORE");
    assert_eq!(r[0], "* ENABLED UIDONLY CONDSTORE", "{r:#?}");
    let r = s.ok("ENABLE uidonly");
    assert_eq!(r[0], "* ENABLED", "already on: {r:#?}");
    // Enabled in the authenticated state, it holds for the selection.
    s.ok("SELECT INBOX");
    refused(&mut s, "FETCH 1 FLAGS");
}

#[test]
fn rfc9586_3_2_commands_by_sequence_number_are_refused_and_change_nothing() {
    let (_root, mut s) = uidonly_session("uidonly-refused", 3);
    for text in [
        "FETCH 1:* (FLAGS)",
        "FETCH 1 BODY[]",
        "STORE 1:3 +FLAGS (\\Deleted)",
        "SEARCH ALL",
        "SEARCH RETURN (SAVE) ALL",
        "COPY 1 Archive",
        "MOVE 1 Archive",
    ] {
        refused(&mut s, text);
    }
    // Nothing of it happened: no flag, no \Seen from BODY[], no saved
    // result, nothing copied or moved.
    let r = s.ok_run("UID FETCH 1:* (FLAGS)");
    for (uid, flags) in uidfetch_flags(&r) {
        assert!(
            flags.iter().all(|f| f == "\\Recent"),
            "UID {uid}: {flags:?}"
        );
    }
    assert_eq!(uidfetch_flags(&r).len(), 3);
    let r = s.ok("UID SEARCH $");
    assert_eq!(r[0].trim_end(), "* SEARCH", "{r:#?}");
    let r = s.ok("STATUS Archive (MESSAGES)");
    assert!(has(&r, "(MESSAGES 0)"), "{r:#?}");
    let r = ok_uid(&mut s, "NOOP");
    assert!(!has(&r, "VANISHED"), "nothing was moved: {r:#?}");
    // The session is unharmed and the UID forms work.
    ok_uid(&mut s, "UID COPY 3 Archive");
    let r = s.ok("STATUS Archive (MESSAGES)");
    assert!(has(&r, "(MESSAGES 1)"), "{r:#?}");
}

#[test]
fn rfc9586_3_2_the_same_commands_work_without_uidonly() {
    let root = root_with("uidonly-control", 3);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    for text in [
        "FETCH 1:* (FLAGS)",
        "SEARCH ALL",
        "STORE 1 +FLAGS (\\Seen)",
        "COPY 1 Archive",
    ] {
        let r = s.ok(text);
        assert!(!has(&r, "UIDREQUIRED"), "{text}: {r:#?}");
    }
    let r = s.ok("UID FETCH 3 (FLAGS)");
    assert!(has(&r, "* 3 FETCH (UID 3 FLAGS"), "{r:#?}");
}

#[test]
fn rfc9586_3_3_uid_fetch_and_uid_store_answer_with_uidfetch() {
    let (_root, mut s) = uidonly_session("uidonly-fetch", 3);
    // The UID leads; the UID item only when asked (§3.3 examples).
    let r = ok_uid(&mut s, "UID FETCH 3:* (FLAGS)");
    assert_eq!(
        r[..3],
        [
            "* 3 UIDFETCH (FLAGS (\\Recent))",
            "* 4 UIDFETCH (FLAGS (\\Recent))",
            "* 5 UIDFETCH (FLAGS (\\Recent))",
        ],
        "{r:#?}"
    );
    let r = ok_uid(&mut s, "UID FETCH 4 (UID FLAGS)");
    assert_eq!(r[0], "* 4 UIDFETCH (UID 4 FLAGS (\\Recent))", "{r:#?}");
    // A FETCH that sets \Seen reports it in the same UIDFETCH.
    let r = s.ok_run("UID FETCH 5 (BODY[])");
    assert_no_sequence_numbers("UID FETCH 5 (BODY[])", &r);
    assert_eq!(r[0].uidfetch_uid(), Some(5));
    assert_eq!(r[0].literals, vec![common::numbered_msg(5)]);
    assert!(
        r[0].skeleton.contains("FLAGS (\\Seen \\Recent)"),
        "{}",
        r[0].skeleton
    );
    assert!(!r[0].skeleton.contains("UID 5"), "{}", r[0].skeleton);
    // UID STORE: one UIDFETCH per message, no UID item; .SILENT: none.
    let r = ok_uid(&mut s, "UID STORE 3:4 +FLAGS (\\Flagged)");
    assert_eq!(
        r[..2],
        [
            "* 3 UIDFETCH (FLAGS (\\Flagged \\Recent))",
            "* 4 UIDFETCH (FLAGS (\\Flagged \\Recent))",
        ],
        "{r:#?}"
    );
    let r = ok_uid(&mut s, "UID STORE 3 -FLAGS.SILENT (\\Flagged)");
    assert_eq!(r.len(), 1, "{r:#?}");
    // UID FETCH of a missing UID is still OK and silent.
    let r = ok_uid(&mut s, "UID FETCH 1:2 (FLAGS)");
    assert_eq!(r.len(), 1, "{r:#?}");
}

#[test]
fn rfc9586_3_4_expunge_and_uid_expunge_answer_with_vanished_without_qresync() {
    let (_root, mut s) = uidonly_session("uidonly-expunge", 4);
    ok_uid(&mut s, "UID STORE 3,5 +FLAGS.SILENT (\\Deleted)");
    let r = ok_uid(&mut s, "EXPUNGE");
    assert_eq!(r[0], "* VANISHED 3,5", "{r:#?}");
    assert_eq!(r.len(), 2, "{r:#?}");
    ok_uid(&mut s, "UID STORE 4,6 +FLAGS.SILENT (\\Deleted)");
    let r = ok_uid(&mut s, "UID EXPUNGE 6");
    assert_eq!(r[0], "* VANISHED 6", "only the named one: {r:#?}");
    // CLOSE expunges silently; the next selection sees what is left.
    s.ok("CLOSE");
    let r = ok_uid(&mut s, "SELECT INBOX");
    assert!(has(&r, "* 0 EXISTS"), "{r:#?}");
}

#[test]
fn rfc9586_3_5_uid_search_refuses_sequence_set_keys() {
    let (_root, mut s) = uidonly_session("uidonly-search", 4);
    for text in [
        "UID SEARCH 1:2",
        "UID SEARCH NOT 1",
        "UID SEARCH OR SEEN 1",
        "UID SEARCH RETURN (ALL) *",
    ] {
        refused(&mut s, text);
    }
    let r = ok_uid(&mut s, "UID SEARCH ALL");
    assert_eq!(r[0], "* SEARCH 3 4 5 6", "{r:#?}");
    let r = ok_uid(&mut s, "UID SEARCH UID 4:5");
    assert_eq!(r[0], "* SEARCH 4 5", "{r:#?}");
    let r = ok_uid(&mut s, "UID SEARCH RETURN (MIN MAX COUNT ALL) ALL");
    for item in [") UID ", " MIN 3", " MAX 6", " COUNT 4", " ALL 3:6"] {
        assert!(r[0].contains(item), "ESEARCH names UIDs: {r:#?}");
    }
    // SEARCHRES: `$` is a saved result, not numbers.
    ok_uid(&mut s, "UID SEARCH RETURN (SAVE) UID 5:6");
    let r = ok_uid(&mut s, "UID SEARCH $");
    assert_eq!(r[0], "* SEARCH 5 6", "{r:#?}");
    let r = ok_uid(&mut s, "UID FETCH $ (FLAGS)");
    assert_eq!(count(&r, "UIDFETCH"), 2, "{r:#?}");
}

#[test]
fn rfc9586_3_6_other_sessions_changes_arrive_as_uidfetch_vanished_and_exists() {
    let (root, mut s) = uidonly_session("uidonly-others", 3);
    let mut other = login(&root);
    other.ok("SELECT INBOX");
    other.ok("UID STORE 4 +FLAGS.SILENT ($Work)");
    other.ok("XVANQUISH 5");
    common::seed(
        &root,
        USER,
        PASS,
        "INBOX",
        &[b"Subject: new\r\n\r\nnew\r\n"],
    );
    let r = ok_uid(&mut s, "NOOP");
    assert!(
        has(&r, "* 4 UIDFETCH (FLAGS ($Work \\Recent))"),
        "flag change by UID: {r:#?}"
    );
    assert!(has(&r, "* VANISHED 5"), "{r:#?}");
    // EXISTS and RECENT are counts, unchanged by UIDONLY.
    assert!(has(&r, "* 3 EXISTS"), "{r:#?}");
    assert!(has(&r, "* 3 RECENT"), "{r:#?}");
    // UID MOVE: COPYUID, then VANISHED (the §3.6 example).
    let r = ok_uid(&mut s, "UID MOVE 3 Archive");
    assert!(r[0].starts_with("* OK [COPYUID "), "{r:#?}");
    assert!(r[0].contains(" 3 1]"), "{r:#?}");
    assert_eq!(r[1], "* VANISHED 3", "{r:#?}");
    let r = ok_uid(&mut s, "UID COPY 4 Archive");
    assert!(
        r[0].contains("[COPYUID ") && r[0].contains(" 4 2]"),
        "{r:#?}"
    );
}

#[test]
fn rfc9586_3_6_changes_reach_an_idling_client_without_sequence_numbers() {
    let (root, mut idler) = uidonly_session("uidonly-idle", 3);
    let mut other = login(&root);
    other.ok("SELECT INBOX");
    let tag = idler.start("IDLE");
    assert_eq!(idler.c.line(), "+ idling");
    other.ok("UID STORE 4 +FLAGS.SILENT (\\Answered)");
    let r = idler.c.read_response().expect("a flag change");
    assert_no_sequence_numbers("IDLE", std::slice::from_ref(&r));
    assert!(
        r.text.starts_with("* 4 UIDFETCH (FLAGS (\\Answered"),
        "{}",
        r.text
    );
    other.ok("XVANQUISH 3");
    assert_eq!(idler.c.line(), "* VANISHED 3");
    common::deliver(&root, USER, b"Subject: d\n\nd\n");
    assert_eq!(idler.c.line(), "* 3 EXISTS");
    idler.c.send(b"DONE\r\n");
    let r = idler.c.try_until_tagged(&tag).expect("IDLE ends");
    assert_no_sequence_numbers("DONE", &r);
    assert!(r.last().is_some_and(|r| r.status() == Some("OK")));
}

#[test]
fn rfc9586_3_7_condstore_modseq_in_uidfetch_and_qresync_without_sequence_match() {
    let root = root_with("uidonly-qresync", 5);
    let mut s = login(&root);
    let r = s.ok("SELECT INBOX");
    let validity = r
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .expect("UIDVALIDITY")
        .to_owned();
    s.ok("XVANQUISH 1:2");
    s.ok("UNSELECT");
    let r = s.ok("STATUS INBOX (HIGHESTMODSEQ)");
    let modseq: u64 = r
        .iter()
        .find_map(|l| l.split("HIGHESTMODSEQ ").nth(1))
        .and_then(|l| l.split(')').next())
        .and_then(|m| m.parse().ok())
        .expect("HIGHESTMODSEQ");
    let r = s.ok("ENABLE QRESYNC UIDONLY");
    assert_eq!(r[0], "* ENABLED QRESYNC UIDONLY", "{r:#?}");
    // Changes after `modseq`: a flag on 4, an expunge of 5.
    let mut other = login(&root);
    other.ok("SELECT INBOX");
    other.ok("UID STORE 4 +FLAGS.SILENT (\\Flagged)");
    other.ok("XVANQUISH 5");
    // §3.7: the fourth QRESYNC parameter (sequence match data) is BAD.
    refused(
        &mut s,
        &format!("SELECT INBOX (QRESYNC ({validity} {modseq} 3:7 (1:3 3:5)))"),
    );
    let r = ok_uid(
        &mut s,
        &format!("SELECT INBOX (QRESYNC ({validity} {modseq} 3:7))"),
    );
    assert!(has(&r, "* VANISHED (EARLIER) 5"), "{r:#?}");
    let changed: Vec<&String> = r.iter().filter(|l| l.contains("UIDFETCH")).collect();
    assert_eq!(changed.len(), 1, "{r:#?}");
    assert!(
        changed[0].starts_with("* 4 UIDFETCH (FLAGS (\\Flagged") && changed[0].contains("MODSEQ ("),
        "{r:#?}"
    );
    assert!(!changed[0].contains("UID 4"), "{r:#?}");
    // UID FETCH (CHANGEDSINCE .. VANISHED): VANISHED (EARLIER) and UIDFETCH
    // with MODSEQ.
    let r = ok_uid(
        &mut s,
        &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"),
    );
    assert!(has(&r, "* VANISHED (EARLIER) 5"), "{r:#?}");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 4 UIDFETCH (FLAGS (\\Flagged") && l.contains("MODSEQ (")),
        "{r:#?}"
    );
    // UNCHANGEDSINCE: MODIFIED names UIDs.
    let r = ok_uid(&mut s, "UID STORE 3,4 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)");
    let tagged = r.last().cloned().unwrap_or_default();
    assert!(tagged.contains("[MODIFIED 3:4]"), "{r:#?}");
    // Another session's change under CONDSTORE: FLAGS and MODSEQ, no UID item.
    other.ok("UID STORE 3 +FLAGS.SILENT ($Later)");
    let r = ok_uid(&mut s, "NOOP");
    let l = r
        .iter()
        .find(|l| l.starts_with("* 3 UIDFETCH"))
        .unwrap_or_else(|| panic!("UIDFETCH 3: {r:#?}"));
    assert!(
        l.contains("FLAGS ($Later") && l.contains("MODSEQ (") && !l.contains("UID 3"),
        "{l}"
    );
}

#[test]
fn rfc9586_3_8_sort_and_thread_need_their_uid_forms() {
    let (_root, mut s) = uidonly_session("uidonly-sort", 3);
    refused(&mut s, "SORT (SUBJECT) UTF-8 ALL");
    refused(&mut s, "THREAD ORDEREDSUBJECT UTF-8 ALL");
    refused(&mut s, "UID SORT (SUBJECT) UTF-8 2:3");
    let r = ok_uid(&mut s, "UID SORT (REVERSE SUBJECT) UTF-8 ALL");
    assert_eq!(r[0], "* SORT 5 4 3", "{r:#?}");
    let r = ok_uid(&mut s, "UID THREAD ORDEREDSUBJECT UTF-8 UID 3:4");
    assert_eq!(r[0], "* THREAD (3)(4)", "{r:#?}");
}

#[test]
fn rfc9586_3_select_and_examine_send_no_sequence_numbers() {
    let root = root_with("uidonly-select", 3);
    let mut s = login(&root);
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "[UNSEEN 1]"), "without UIDONLY: {r:#?}");
    s.ok("ENABLE UIDONLY");
    for text in ["SELECT INBOX", "EXAMINE INBOX"] {
        let r = ok_uid(&mut s, text);
        assert!(has(&r, "* 3 EXISTS"), "{r:#?}");
        assert!(!has(&r, "UNSEEN"), "{text}: {r:#?}");
    }
}

/// RFC 9586 §3 with RFC 5267 contexts: a `SEARCH RETURN (UPDATE)` made
/// before UIDONLY would go on reporting sequence numbers (ADDTO/REMOVEFROM
/// positions and numbers), so ENABLE ends it with `NO [NOUPDATE]`; a UID
/// context goes on, in UIDs.
#[test]
fn rfc9586_3_enable_ends_search_contexts_by_sequence_number() {
    let root = root_with("uidonly-contexts", 6);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    s.ok("XVANQUISH 1:2");
    s.ok("SEARCH RETURN (UPDATE) SEEN");
    let by_seq = s.last_tag();
    s.ok("UID SEARCH RETURN (UPDATE) SEEN");
    let by_uid = s.last_tag();
    let r = s.ok("ENABLE UIDONLY");
    assert_eq!(r[0], "* ENABLED UIDONLY", "{r:#?}");
    assert!(
        r.iter()
            .any(|l| l.starts_with(&format!("* NO [NOUPDATE \"{by_seq}\"]"))),
        "{r:#?}"
    );
    assert!(!has(&r, &format!("\"{by_uid}\"")), "{r:#?}");
    let mut other = login(&root);
    other.ok("SELECT INBOX");
    other.ok("UID STORE 4 +FLAGS.SILENT (\\Seen)");
    let r = ok_uid(&mut s, "NOOP");
    assert!(has(&r, "* 4 UIDFETCH (FLAGS (\\Seen"), "{r:#?}");
    assert!(!has(&r, &format!("(TAG \"{by_seq}\")")), "{r:#?}");
    assert!(
        has(&r, &format!("(TAG \"{by_uid}\") UID ADDTO (0 4)")),
        "{r:#?}"
    );
}
