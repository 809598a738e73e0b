//! RFC 5267 §4 contexts (CONTEXT=SEARCH, CONTEXT=SORT) end to end: the
//! real binary over TLS, two sessions on one mailbox. Session A keeps
//! searches and sorts live with `RETURN (UPDATE)`; session B (or A itself)
//! changes the mailbox; A must see `ESEARCH (TAG ..) ADDTO/REMOVEFROM` at
//! the places §4.3.3 and §4.3.4 prescribe (ADDTO after EXISTS, REMOVEFROM
//! before EXPUNGE), with the positions of a SORT context derived by hand
//! below.
//!
//! The mailbox: message N (UID N) is dated 2024-01-(2N-1) ("day 1, 3, 5,
//! 7"), subject "mN"; messages appended later say their date in the test.

mod common;

use common::{seed, Client, Root, Session};

const USER: &str = "ctx";
const PASS: &str = "pw-ctx";

fn dated(day: u32, hour: u32, subject: &str) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nSubject: {subject}\r\n\
         Date: {day:02} Jan 2024 {hour:02}:00:00 +0000\r\n\
         Message-ID: <{subject}@example.org>\r\n\r\nbody of {subject}\r\n"
    )
    .into_bytes()
}

/// A root with four messages (days 1, 3, 5, 7) and two sessions with
/// INBOX selected.
fn two_sessions(label: &str) -> (Root, Session, Session) {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    let msgs: Vec<Vec<u8>> = (1..=4)
        .map(|n| dated(2 * n - 1, 10, &format!("m{n}")))
        .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    assert_eq!(seed(&root, USER, PASS, "INBOX", &refs), vec![1, 2, 3, 4]);
    let mut a = Session::login(&root, USER, PASS);
    a.ok("SELECT INBOX");
    let mut b = Session::login(&root, USER, PASS);
    b.ok("SELECT INBOX");
    (root, a, b)
}

/// Runs `cmd`, requires OK, returns the untagged texts.
fn untagged(c: &mut Client, cmd: &str) -> Vec<String> {
    let mut lines = c.ok(cmd);
    lines.pop();
    lines
}

fn append(c: &mut Client, content: &[u8]) {
    let r = c.append("INBOX", &[], content).expect("APPEND");
    assert_eq!(r.last().and_then(|r| r.status()), Some("OK"));
}

fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
}

/// §4.3, §4.3.2, §4.3.3, §4.3.4: a SEARCH context by sequence number and
/// one by UID follow another session's flag change, new message and
/// expunge; positions are 0; REMOVEFROM comes before EXPUNGE with the
/// number the client still has, ADDTO after EXISTS.
#[test]
fn rfc5267_4_3_search_context_follows_another_session() {
    let (_root, mut a, mut b) = two_sessions("ctx-search");
    let r = untagged(&mut a, "SEARCH RETURN (UPDATE ALL) UNDELETED");
    let seq_tag = a.last_tag();
    assert_eq!(r, vec![format!("* ESEARCH (TAG \"{seq_tag}\") ALL 1:4")]);
    let r = untagged(&mut a, "UID SEARCH RETURN (UPDATE COUNT) ALL");
    let uid_tag = a.last_tag();
    assert_eq!(
        r,
        vec![format!("* ESEARCH (TAG \"{uid_tag}\") UID COUNT 4")]
    );

    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 2 FETCH (FLAGS (\\Deleted")),
        "{r:#?}"
    );
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{seq_tag}\") REMOVEFROM (0 2)")),
        "{r:#?}"
    );
    assert_eq!(r.len(), 2, "the UID context did not change: {r:#?}");

    append(&mut b, &dated(9, 10, "m5"));
    let r = untagged(&mut a, "NOOP");
    let exists = position(&r, "* 5 EXISTS");
    let add_seq = position(&r, &format!("* ESEARCH (TAG \"{seq_tag}\") ADDTO (0 5)"));
    let add_uid = position(
        &r,
        &format!("* ESEARCH (TAG \"{uid_tag}\") UID ADDTO (0 5)"),
    );
    assert!(exists < add_seq && exists < add_uid, "{r:#?}");

    b.ok("EXPUNGE");
    let r = untagged(&mut a, "NOOP");
    let remove = position(
        &r,
        &format!("* ESEARCH (TAG \"{uid_tag}\") UID REMOVEFROM (0 2)"),
    );
    let expunge = position(&r, "* 2 EXPUNGE");
    assert!(remove < expunge, "{r:#?}");
    assert!(
        !r.iter().any(|l| l.contains(&format!("TAG \"{seq_tag}\""))),
        "2 had already left the UNDELETED context: {r:#?}"
    );

    // Sequence numbers after the expunge: old 5 is now 4, and 3 leaving
    // is reported by its new number.
    b.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)");
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{seq_tag}\") REMOVEFROM (0 2)")),
        "{r:#?}"
    );
    let r = untagged(&mut a, "SEARCH UNDELETED");
    assert_eq!(r, vec!["* SEARCH 1 3 4".to_owned()]);
}

/// §4.3.4 with sequence numbers: the REMOVEFROM of an expunged message
/// carries the sequence number it had, sent before the EXPUNGE that
/// renumbers; several expunges at once.
#[test]
fn rfc5267_4_3_4_removefrom_precedes_expunge_with_old_numbers() {
    let (_root, mut a, mut b) = two_sessions("ctx-expunge");
    untagged(&mut a, "SEARCH RETURN (UPDATE) ALL");
    let tag = a.last_tag();
    b.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)");
    b.ok("EXPUNGE");
    let r = untagged(&mut a, "NOOP");
    let remove = position(&r, &format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 2,4)"));
    let first_expunge = position(&r, "EXPUNGE");
    assert!(remove < first_expunge, "{r:#?}");
    assert_eq!(r.iter().filter(|l| l.ends_with("EXPUNGE")).count(), 2);
}

/// §4.3: this session's own changes update its contexts too, within the
/// response to the command that made them.
#[test]
fn rfc5267_4_3_own_changes_are_reported() {
    let (_root, mut a, _b) = two_sessions("ctx-own");
    untagged(&mut a, "UID SEARCH RETURN (UPDATE MIN) UNSEEN");
    let tag = a.last_tag();
    let r = untagged(&mut a, "UID STORE 1,3 +FLAGS (\\Seen)");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{tag}\") UID REMOVEFROM (0 1,3)")),
        "{r:#?}"
    );
    let r = untagged(&mut a, "UID STORE 3 -FLAGS (\\Seen)");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 3)")),
        "{r:#?}"
    );
    // The APPEND's own answer reports the new message, then the update.
    let r = a.append("INBOX", &[], &dated(20, 10, "own")).unwrap();
    let r: Vec<String> = r.into_iter().map(|r| r.text).collect();
    assert!(position(&r, "* 5 EXISTS") < position(&r, "ADDTO"), "{r:#?}");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 5)")),
        "{r:#?}"
    );
}

/// §4.3.3 and §4.3.4 for CONTEXT=SORT. Sorted by DATE the four messages
/// are 1 2 3 4 (days 1 3 5 7).
/// - 5 (day 4) goes between 2 and 3: `ADDTO (3 5)` → 1 2 5 3 4.
/// - 6 (day 2 10:00) and 7 (day 2 12:00) go between 1 and 2, neighbours
///   with ascending numbers: `ADDTO (2 6:7)` → 1 6 7 2 5 3 4.
/// - 7 and 2 leave (\Deleted, the context is UNDELETED): they are
///   neighbours at positions 3 and 4, but one pair `(3 2,7)` would list
///   them out of order (a set expands ascending, §3.2), so two pairs
///   `REMOVEFROM (3 7 3 2)`: 7 at 3, then 2, which then stands at 3
///   → 1 6 5 3 4.
/// - A second context, UID and REVERSE DATE over ALL: 4 3 2 1, then
///   `ADDTO (3 5)` → 4 3 5 2 1, then 7 and 6 (descending neighbours at 5
///   and 6) `ADDTO (5 7 6 6)` → 4 3 5 2 7 6 1; \Deleted does not touch
///   it, the expunge of 2 and 7 (ascending neighbours at 4 and 5) is
///   `REMOVEFROM (4 2,7)`, before the EXPUNGE responses.
#[test]
fn rfc5267_4_3_sort_context_positions() {
    let (_root, mut a, mut b) = two_sessions("ctx-sort");
    let r = untagged(&mut a, "SORT RETURN (UPDATE ALL) (DATE) UTF-8 UNDELETED");
    let tag = a.last_tag();
    assert_eq!(r, vec![format!("* ESEARCH (TAG \"{tag}\") ALL 1:4")]);
    let r = untagged(&mut a, "UID SORT RETURN (UPDATE) (REVERSE DATE) UTF-8 ALL");
    let rtag = a.last_tag();
    assert_eq!(r, vec![format!("* ESEARCH (TAG \"{rtag}\") UID")]);

    append(&mut b, &dated(4, 10, "m5"));
    let r = untagged(&mut a, "NOOP");
    let exists = position(&r, "* 5 EXISTS");
    let add = position(&r, &format!("* ESEARCH (TAG \"{tag}\") ADDTO (3 5)"));
    // REVERSE: 4 3 5 2 1 → 5 at position 3.
    let radd = position(&r, &format!("* ESEARCH (TAG \"{rtag}\") UID ADDTO (3 5)"));
    assert!(exists < add && exists < radd, "{r:#?}");

    let two = [dated(2, 10, "m6"), dated(2, 12, "m7")];
    let r = b
        .append_all(
            "INBOX",
            two.iter()
                .map(|m| crymap_like::imap::wire::command::AppendMessage {
                    flags: Vec::new(),
                    internal_date: None,
                    kind: crymap_like::imap::wire::command::AppendKind::Literal,
                    data: m.clone(),
                })
                .collect(),
        )
        .unwrap();
    assert_eq!(r.last().and_then(|r| r.status()), Some("OK"));
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{tag}\") ADDTO (2 6:7)")),
        "{r:#?}"
    );
    // REVERSE: 4 3 5 2 7 6 1: 7 then 6 are neighbours at 5 and 6 but
    // descending, so two pairs.
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{rtag}\") UID ADDTO (5 7 6 6)")),
        "{r:#?}"
    );

    b.ok("STORE 2,7 +FLAGS.SILENT (\\Deleted)");
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (3 7 3 2)")),
        "{r:#?}"
    );
    assert!(
        !r.iter().any(|l| l.contains(&format!("TAG \"{rtag}\""))),
        "flags do not matter to ALL: {r:#?}"
    );
    let r = untagged(&mut a, "SORT (DATE) UTF-8 UNDELETED");
    assert_eq!(r, vec!["* SORT 1 6 5 3 4".to_owned()]);

    // The expunge: in REVERSE order 4 3 5 2 7 6 1, 2 and 7 are
    // neighbours at 4 and 5 with ascending UIDs: one run at 4.
    b.ok("EXPUNGE");
    let r = untagged(&mut a, "NOOP");
    let remove = position(
        &r,
        &format!("* ESEARCH (TAG \"{rtag}\") UID REMOVEFROM (4 2,7)"),
    );
    let expunge = position(&r, "EXPUNGE");
    assert!(remove < expunge, "{r:#?}");
    let r = untagged(&mut a, "UID SORT (REVERSE DATE) UTF-8 ALL");
    assert_eq!(r, vec!["* SORT 4 3 5 6 1".to_owned()]);
}

/// §4.3.2: updates arrive during IDLE, ADDTO after the EXISTS.
#[test]
fn rfc5267_4_3_2_updates_during_idle() {
    let (_root, mut a, mut b) = two_sessions("ctx-idle");
    untagged(&mut a, "UID SEARCH RETURN (UPDATE) UNSEEN");
    let tag = a.last_tag();
    let idle = a.start("IDLE");
    assert!(a.line().starts_with('+'));
    append(&mut b, &dated(9, 10, "m5"));
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("ESEARCH")) {
        seen.push(a.line());
    }
    let exists = position(&seen, "* 5 EXISTS");
    let add = position(&seen, &format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 5)"));
    assert!(exists < add, "{seen:#?}");
    b.ok("UID STORE 5 +FLAGS.SILENT (\\Seen)");
    let line = a.line();
    assert!(line.contains("FETCH"), "{line}");
    let line = a.line();
    assert_eq!(
        line,
        format!("* ESEARCH (TAG \"{tag}\") UID REMOVEFROM (0 5)")
    );
    a.send(b"DONE\r\n");
    let r = a.until_tagged(&idle);
    assert!(r.last().unwrap().contains("OK"), "{r:#?}");
}

/// §4.3.1: past the limit of live contexts (10) the command is answered
/// with every other return option, and `* NO [NOUPDATE "tag"]` says it is
/// not kept live; WITHIN searches are never kept live (their result moves
/// with the clock). §4.3.5: CANCELUPDATE frees a slot.
#[test]
fn rfc5267_4_3_1_noupdate_past_the_limit() {
    let (_root, mut a, mut b) = two_sessions("ctx-limit");
    let mut tags = Vec::new();
    for _ in 0..10 {
        untagged(&mut a, "UID SEARCH RETURN (UPDATE) ALL");
        tags.push(a.last_tag());
    }
    let r = untagged(&mut a, "UID SEARCH RETURN (UPDATE COUNT) ALL");
    let t11 = a.last_tag();
    assert_eq!(
        r,
        vec![
            format!("* ESEARCH (TAG \"{t11}\") UID COUNT 4"),
            format!("* NO [NOUPDATE \"{t11}\"] Too many live search contexts"),
        ]
    );
    let r = untagged(&mut a, "UID SEARCH RETURN (UPDATE COUNT) YOUNGER 100000");
    let tw = a.last_tag();
    assert!(
        r.contains(&format!(
            "* NO [NOUPDATE \"{tw}\"] Results of OLDER/YOUNGER are not kept up to date"
        )),
        "{r:#?}"
    );

    a.ok(&format!("CANCELUPDATE \"{}\" \"{}\"", tags[0], tags[1]));
    let r = untagged(&mut a, "UID SEARCH RETURN (UPDATE) ALL");
    assert!(!r.iter().any(|l| l.contains("NOUPDATE")), "{r:#?}");
    tags.push(a.last_tag());

    append(&mut b, &dated(9, 10, "m5"));
    let r = untagged(&mut a, "NOOP");
    let updates = r.iter().filter(|l| l.contains("ADDTO (0 5)")).count();
    assert_eq!(
        updates, 9,
        "the 9 live contexts, not the cancelled or refused: {r:#?}"
    );
    assert!(!r.iter().any(|l| l.contains(&format!("\"{}\"", tags[0]))));
    assert!(!r.iter().any(|l| l.contains(&format!("\"{t11}\""))));
}

/// §4.3: an UPDATE reusing the tag of a live context is BAD; §4.3.5:
/// CANCELUPDATE of an unknown tag is NO and cancels nothing; a cancelled
/// context sends nothing more and its tag is free again; leaving the
/// mailbox ends every context.
#[test]
fn rfc5267_4_3_5_cancelupdate_and_tag_reuse() {
    let (_root, mut a, mut b) = two_sessions("ctx-cancel");
    a.send(b"live1 SEARCH RETURN (UPDATE) ALL\r\n");
    let r = a.until_tagged("live1");
    assert!(r.last().unwrap().starts_with("live1 OK"), "{r:#?}");
    a.send(b"live1 SEARCH RETURN (UPDATE COUNT) ALL\r\n");
    let r = a.until_tagged("live1");
    assert!(r.last().unwrap().starts_with("live1 BAD"), "{r:#?}");
    a.send(b"live1 SEARCH RETURN (COUNT) ALL\r\n");
    let r = a.until_tagged("live1");
    assert!(
        r.last().unwrap().starts_with("live1 OK"),
        "a tag may be reused without UPDATE: {r:#?}"
    );

    a.expect("CANCELUPDATE \"live1\" \"nosuch\"", "NO");
    append(&mut b, &dated(9, 10, "m5"));
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.iter()
            .any(|l| l == "* ESEARCH (TAG \"live1\") ADDTO (0 5)"),
        "{r:#?}"
    );

    a.ok("CANCELUPDATE \"live1\"");
    append(&mut b, &dated(11, 10, "m6"));
    let r = untagged(&mut a, "NOOP");
    assert!(!r.iter().any(|l| l.contains("ESEARCH")), "{r:#?}");
    a.send(b"live1 SEARCH RETURN (UPDATE) ALL\r\n");
    let r = a.until_tagged("live1");
    assert!(r.last().unwrap().starts_with("live1 OK"), "{r:#?}");

    // Reselecting ends the context (§4.3: "no longer selected").
    a.ok("SELECT INBOX");
    append(&mut b, &dated(13, 10, "m7"));
    let r = untagged(&mut a, "NOOP");
    assert!(!r.iter().any(|l| l.contains("ESEARCH")), "{r:#?}");
    a.expect("CANCELUPDATE \"live1\"", "NO");
}

/// SEARCHRES (RFC 5182) with contexts: `$` used in an UPDATE search names
/// the messages it held when the command ran; `RETURN (SAVE UPDATE)`
/// saves the result of the command, and the updates that follow change
/// the context, not `$`.
#[test]
fn rfc5267_4_3_searchres_is_a_snapshot() {
    let (_root, mut a, mut b) = two_sessions("ctx-searchres");
    let r = untagged(&mut a, "UID SEARCH RETURN (SAVE UPDATE) UNSEEN");
    let tag = a.last_tag();
    assert_eq!(r, vec![format!("* ESEARCH (TAG \"{tag}\") UID")]);
    untagged(&mut a, "UID SEARCH RETURN (UPDATE) UID $ UNFLAGGED");
    let dollar_tag = a.last_tag();
    append(&mut b, &dated(9, 10, "m5"));
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 5)")),
        "{r:#?}"
    );
    assert!(
        !r.iter().any(|l| l.contains(&format!("\"{dollar_tag}\""))),
        "5 was not in $ when the search ran: {r:#?}"
    );
    b.ok("UID STORE 2 +FLAGS.SILENT (\\Flagged)");
    let r = untagged(&mut a, "NOOP");
    assert!(
        r.contains(&format!(
            "* ESEARCH (TAG \"{dollar_tag}\") UID REMOVEFROM (0 2)"
        )),
        "{r:#?}"
    );
    let r = untagged(&mut a, "UID SEARCH $");
    assert_eq!(
        r,
        vec!["* SEARCH 1 2 3 4".to_owned()],
        "$ stays what SAVE stored"
    );
}

/// §4.2: CONTEXT is a hint; `RETURN (CONTEXT)` alone means ALL, and with
/// other options it changes nothing.
#[test]
fn rfc5267_4_2_context_hint() {
    let (_root, mut a, _b) = two_sessions("ctx-hint");
    let r = untagged(&mut a, "SEARCH RETURN (CONTEXT) ALL");
    let t = a.last_tag();
    assert_eq!(r, vec![format!("* ESEARCH (TAG \"{t}\") ALL 1:4")]);
    let r = untagged(
        &mut a,
        "SORT RETURN (CONTEXT COUNT PARTIAL 1:2) (REVERSE DATE) UTF-8 ALL",
    );
    let t = a.last_tag();
    assert_eq!(
        r,
        vec![format!("* ESEARCH (TAG \"{t}\") COUNT 4 PARTIAL (1:2 4,3)")]
    );
}
