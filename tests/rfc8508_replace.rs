//! REPLACE and UID REPLACE (RFC 8508) over the real binary: the response
//! shape of §3.3 (APPENDUID in an untagged OK, then EXISTS and EXPUNGE, or
//! VANISHED under QRESYNC §4.3), the replacement logged as one change
//! (one modseq), the error cases of §3.4 (TRYCREATE, read-only, a message
//! another session has just expunged) leaving everything as it was, and
//! REPLACE with CATENATE (§4.2).

mod common;

use common::{has, seed, session_on_inbox, tagged_code, texts, Root, Session};
use crymap_like::imap::wire::response::ResponseCode;

const USER: &str = "alice";
const PASS: &str = "correct horse";

fn msg(i: u32) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: draft {i}\r\n\r\nversion {i}\r\n").into_bytes()
}

/// `verb mailbox {n+}` and `content` as one command text with its literal.
fn with_literal(head: &str, content: &[u8]) -> String {
    format!(
        "{head} {{{}+}}\r\n{}",
        content.len(),
        String::from_utf8_lossy(content)
    )
}

fn drafts_inbox() -> (Root, Session, Vec<u32>) {
    session_on_inbox("replace", USER, PASS, &[&msg(1), &msg(2), &msg(3)], false)
}

/// Position of the first line containing `needle`.
fn pos(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
}

/// The `* STATUS` line (STATUS HIGHESTMODSEQ enables CONDSTORE, so an
/// `* OK [HIGHESTMODSEQ]` for the selected mailbox may come first).
fn status(s: &mut Session, mailbox: &str) -> String {
    let lines = s.ok(&format!(
        "STATUS {mailbox} (MESSAGES UIDNEXT HIGHESTMODSEQ)"
    ));
    lines[pos(&lines, "* STATUS ")].clone()
}

#[test]
fn rfc8508_3_3_replace_in_the_selected_mailbox_reports_appenduid_exists_and_expunge() {
    let (root, mut s, uids) = drafts_inbox();
    let mut other = Session::login(&root, USER, PASS);
    other.ok("SELECT INBOX");
    // Only the replaced message goes: another \Deleted one stays (§3.1:
    // not an EXPUNGE of the mailbox).
    s.ok("STORE 3 +FLAGS.SILENT (\\Deleted)");
    let r = s.run(&with_literal("REPLACE 2 INBOX (\\Seen \\Draft)", &msg(4)));
    let lines = texts(&r);
    assert!(lines.last().unwrap().contains(" OK "), "{lines:#?}");
    // §3.3: APPENDUID first (untagged, as MOVE's COPYUID), then the
    // mailbox changes; the new message has the next UID.
    let appenduid = pos(&lines, "* OK [APPENDUID ");
    assert!(
        lines[appenduid].contains(&format!(" {}] ", uids[2] + 1)),
        "{lines:#?}"
    );
    assert!(appenduid < pos(&lines, "* 2 EXPUNGE"), "{lines:#?}");
    // EXPUNGE then EXISTS: the numbers the client holds stay consistent
    // (RFC 8508's example shows the other order; both are valid).
    assert!(appenduid < pos(&lines, "* 3 EXISTS"), "{lines:#?}");
    assert_eq!(tagged_code(&r), None);
    let f = s.ok("FETCH 1:* (UID FLAGS BODY.PEEK[TEXT])");
    assert_eq!(f.len(), 4, "{f:#?}");
    assert!(
        has(&f, &format!("UID {} FLAGS (\\Deleted", uids[2])),
        "{f:#?}"
    );
    assert!(has(&f, &format!("UID {} ", uids[2] + 1)), "{f:#?}");
    assert!(!has(&f, &format!("UID {} ", uids[1])), "{f:#?}");
    assert!(
        has(&f, "\\Seen \\Draft") || has(&f, "\\Draft \\Seen"),
        "{f:#?}"
    );
    let body = s.bytes(&format!("UID FETCH {} BODY.PEEK[]", uids[2] + 1));
    assert!(String::from_utf8_lossy(&body).contains("version 4"));
    // Another session learns both at its next NOOP.
    let n = other.ok("NOOP");
    assert!(has(&n, "* 2 EXPUNGE") && has(&n, "* 3 EXISTS"), "{n:#?}");
    assert_eq!(
        n.iter().filter(|l| l.contains("EXPUNGE")).count(),
        1,
        "{n:#?}"
    );
}

#[test]
fn rfc8508_3_2_uid_replace_into_another_mailbox() {
    let (_root, mut s, uids) = drafts_inbox();
    let validity = s.ok("STATUS Drafts (UIDVALIDITY)")[0].clone();
    let validity: String = validity
        .rsplit("UIDVALIDITY ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    let lines = s.ok(&with_literal(
        &format!("UID REPLACE {} Drafts (\\Draft)", uids[0]),
        &msg(9),
    ));
    assert!(
        has(&lines, &format!("* OK [APPENDUID {validity} 1] ")),
        "{lines:#?}"
    );
    assert!(has(&lines, "* 1 EXPUNGE"), "{lines:#?}");
    assert!(status(&mut s, "Drafts").contains("MESSAGES 1 "));
    assert!(status(&mut s, "INBOX").contains("MESSAGES 2 "));
    s.ok("SELECT Drafts");
    let body = s.bytes("FETCH 1 BODY.PEEK[]");
    assert!(String::from_utf8_lossy(&body).contains("version 9"));
}

#[test]
fn rfc8508_3_3_replace_within_a_mailbox_is_one_change_with_one_modseq() {
    let (_root, mut s, uids) = drafts_inbox();
    s.ok("ENABLE CONDSTORE");
    let before = status(&mut s, "INBOX");
    let modseq = |st: &str| -> u64 {
        st.split("HIGHESTMODSEQ ")
            .nth(1)
            .unwrap()
            .trim_end_matches(')')
            .parse()
            .unwrap()
    };
    let r = s.run(&with_literal("REPLACE 1 INBOX", &msg(5)));
    let lines = texts(&r);
    let after = status(&mut s, "INBOX");
    // The append and the expunge share one modseq: one log record.
    assert_eq!(modseq(&after), modseq(&before) + 1, "{before} / {after}");
    assert!(has(&lines, "* 1 EXPUNGE"), "{lines:#?}");
    let f = s.ok(&format!("UID FETCH {} (MODSEQ)", uids[2] + 1));
    assert!(has(&f, &format!("MODSEQ ({})", modseq(&after))), "{f:#?}");
}

#[test]
fn rfc8508_4_3_qresync_reports_vanished_instead_of_expunge() {
    let (_root, mut s, uids) = drafts_inbox();
    s.ok("ENABLE QRESYNC");
    s.ok("SELECT INBOX");
    let lines = s.ok(&with_literal(
        &format!("UID REPLACE {} INBOX", uids[1]),
        &msg(6),
    ));
    assert!(
        has(&lines, &format!("* VANISHED {}", uids[1])),
        "{lines:#?}"
    );
    assert!(!has(&lines, "EXPUNGE"), "{lines:#?}");
    assert!(
        pos(&lines, "[APPENDUID ") < pos(&lines, "* VANISHED"),
        "{lines:#?}"
    );
    assert!(has(&lines, "OK [HIGHESTMODSEQ "), "{lines:#?}");
}

#[test]
fn rfc8508_3_4_missing_destination_is_trycreate_and_nothing_changes() {
    let (_root, mut s, _) = drafts_inbox();
    let before = status(&mut s, "INBOX");
    let r = s.run(&with_literal("REPLACE 1 NoSuchBox", &msg(7)));
    assert_eq!(
        tagged_code(&r),
        Some(&ResponseCode::TryCreate),
        "{:#?}",
        texts(&r)
    );
    assert!(!has(&texts(&r), "EXPUNGE"));
    assert_eq!(status(&mut s, "INBOX"), before);
}

#[test]
fn rfc8508_3_4_read_only_mailbox_and_bad_numbers_change_nothing() {
    let (root, mut s, uids) = drafts_inbox();
    s.ok("EXAMINE INBOX");
    let before = status(&mut s, "INBOX");
    s.expect(&with_literal("REPLACE 1 INBOX", &msg(8)), "NO");
    s.expect(&with_literal("REPLACE 1 Drafts", &msg(8)), "NO");
    s.ok("SELECT INBOX");
    // A sequence number past the end is BAD (as for any command); a UID
    // that is not in the mailbox is NO.
    s.expect(&with_literal("REPLACE 9 INBOX", &msg(8)), "BAD");
    s.expect(&with_literal("UID REPLACE 999 INBOX", &msg(8)), "NO");
    assert_eq!(status(&mut s, "INBOX"), before);
    assert!(status(&mut s, "Drafts").contains("MESSAGES 0 "));
    // No mailbox selected: BAD.
    let mut fresh = Session::login(&root, USER, PASS);
    fresh.expect(&with_literal("REPLACE 1 INBOX", &msg(8)), "BAD");
    let _ = uids;
}

#[test]
fn rfc8508_3_4_replacing_a_message_another_session_expunged_appends_nothing() {
    let (root, mut s, uids) = drafts_inbox();
    let mut s2 = Session::login(&root, USER, PASS);
    s2.ok("SELECT INBOX");
    let mut other = Session::login(&root, USER, PASS);
    other.ok("SELECT INBOX");
    other.ok(&format!("UID STORE {} +FLAGS.SILENT (\\Deleted)", uids[0]));
    other.ok("EXPUNGE");
    let before_inbox = status(&mut other, "INBOX");
    let before_drafts = status(&mut other, "Drafts");
    // `s` and `s2` still have message 1 (not told of the expunge yet).
    for (sess, cmd) in [
        (&mut s, "REPLACE 1 INBOX".to_owned()),
        (&mut s2, format!("UID REPLACE {} Drafts", uids[0])),
    ] {
        let r = sess.run(&with_literal(&cmd, &msg(10)));
        assert_eq!(
            tagged_code(&r),
            Some(&ResponseCode::ExpungeIssued),
            "{cmd}: {:#?}",
            texts(&r)
        );
        assert!(!has(&texts(&r), "APPENDUID"), "{:#?}", texts(&r));
        // The refresh after the command tells the client why.
        assert!(has(&texts(&r), "* 1 EXPUNGE"), "{:#?}", texts(&r));
    }
    assert_eq!(status(&mut other, "INBOX"), before_inbox);
    assert_eq!(status(&mut other, "Drafts"), before_drafts);
}

#[test]
fn rfc8508_4_2_replace_with_catenate_may_reuse_the_replaced_message() {
    let root = Root::new("replace-cat");
    root.add_user(USER, PASS);
    let uids = seed(&root, USER, PASS, "Drafts", &[&msg(1)]);
    let mut s = Session::login(&root, USER, PASS);
    s.ok("SELECT Drafts");
    let text = b"\r\nversion 2, built on the first\r\n";
    let lines = s.ok(&format!(
        "UID REPLACE {uid} Drafts (\\Draft) CATENATE (URL \"/Drafts/;UID={uid}/;SECTION=HEADER.FIELDS%20(Subject)\" TEXT {{{}+}}\r\n{})",
        text.len(),
        String::from_utf8_lossy(text),
        uid = uids[0]
    ));
    assert!(has(&lines, "[APPENDUID "), "{lines:#?}");
    let body = String::from_utf8_lossy(&s.bytes("FETCH 1 BODY.PEEK[]")).into_owned();
    assert!(
        body.contains("Subject: draft 1\r\n\r\n\r\nversion 2, built on the first"),
        "{body}"
    );
    assert!(!body.contains("From:"), "{body}");
}

#[test]
fn rfc9586_3_2_replace_needs_its_uid_form_under_uidonly() {
    let (_root, mut s, uids) = drafts_inbox();
    s.ok("ENABLE UIDONLY");
    s.ok("SELECT INBOX");
    let before = status(&mut s, "INBOX");
    let r = s.run(&with_literal("REPLACE 1 INBOX", &msg(11)));
    assert_eq!(
        tagged_code(&r),
        Some(&ResponseCode::UidRequired),
        "{:#?}",
        texts(&r)
    );
    assert_eq!(status(&mut s, "INBOX"), before);
    let lines = s.ok(&with_literal(
        &format!("UID REPLACE {} INBOX", uids[0]),
        &msg(11),
    ));
    assert!(has(&lines, "[APPENDUID "), "{lines:#?}");
    assert!(
        has(&lines, &format!("* VANISHED {}", uids[0])),
        "{lines:#?}"
    );
    assert!(!has(&lines, "EXPUNGE"), "{lines:#?}");
}
