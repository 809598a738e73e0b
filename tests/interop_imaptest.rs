//! Regression tests for what Dovecot's imaptest found (see
//! doc/compliance.md): each test drives the real binary over IMAPS and
//! pins one protocol behaviour imaptest's scripted tests check.

mod common;

use common::{seed, Root, Session};

const USER: &str = "carol";
const PASS: &str = "imaptest compliance";

fn root_with(label: &str, mailbox: &str, messages: &[&[u8]]) -> Root {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    if !messages.is_empty() {
        seed(&root, USER, PASS, mailbox, messages);
    }
    root
}

fn position(lines: &[String], needle: &str) -> Option<usize> {
    lines.iter().position(|l| l.contains(needle))
}

fn joined(lines: &[String]) -> String {
    lines.join("\n")
}

/// imaptest fetch-body-mime: a message/rfc822 part whose message has no
/// MIME-Version of its own is still MIME, so its subparts are addressable.
#[test]
fn rfc9051_6_4_5_sections_inside_a_message_rfc822_without_mime_version() {
    let msg: &[u8] = b"From: user@domain.org\r\nMime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"foo\"\r\n\r\n\
--foo\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--foo\r\nContent-Type: message/rfc822\r\n\r\n\
From: sub@domain.org\r\nSubject: submsg\r\n\
Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\n\
Sub prologue\r\n--sub1\r\nContent-Type: text/html\r\n\r\n<p>Hello world</p>\r\n\
--sub1\r\nContent-Type: text/plain\r\n\r\nHello another world\r\n--sub1--\r\n\
--foo--\r\n";
    let root = root_with("cmp-rfc822", "INBOX", &[msg]);
    let mut s = Session::login(&root, USER, PASS);
    s.ok("SELECT INBOX");
    let r = s.ok("FETCH 1 (BODY.PEEK[2.1])");
    assert!(
        joined(&r).contains("BODY[2.1] {18}\r\n<p>Hello world</p>)"),
        "{}",
        joined(&r)
    );
    assert!(!joined(&r).contains("Sub prologue"), "{}", joined(&r));
    let r = s.ok("FETCH 1 (BODY.PEEK[2.2.MIME])");
    assert!(joined(&r).contains("Content-Type: text/plain"), "{r:#?}");
    let r = s.ok("FETCH 1 (BINARY.SIZE[2.2])");
    assert!(joined(&r).contains("BINARY.SIZE[2.2] 19"), "{r:#?}");
    let r = s.ok("FETCH 1 (BODYSTRUCTURE)");
    assert!(
        joined(&r).contains("\"alternative\""),
        "inner message must be multipart: {r:#?}"
    );
}

/// imaptest "Keyword used without being in FLAGS": a new keyword is
/// announced with `* FLAGS` before the FETCH that carries it, in the
/// session that stored it and in another that learns it on NOOP.
#[test]
fn rfc9051_7_3_5_flags_announces_new_keywords_before_use() {
    let msg: &[u8] = b"Subject: k\r\n\r\nbody\r\n";
    let root = root_with("cmp-flags", "INBOX", &[msg, msg]);
    let mut a = Session::login(&root, USER, PASS);
    let mut b = Session::login(&root, USER, PASS);
    a.ok("SELECT INBOX");
    b.ok("SELECT INBOX");
    let r = a.ok("STORE 1 +FLAGS ($hello)");
    let flags = position(&r, "* FLAGS (").expect("no FLAGS");
    assert!(r[flags].contains("$hello"), "{r:#?}");
    let fetch = position(&r, "FETCH (").expect("no FETCH");
    assert!(flags < fetch, "{r:#?}");
    assert!(
        position(&r, "PERMANENTFLAGS").is_some_and(|p| r[p].contains("$hello")),
        "{r:#?}"
    );
    // Nothing new: no second FLAGS.
    let r = a.ok("STORE 2 +FLAGS ($hello)");
    assert!(position(&r, "* FLAGS").is_none(), "{r:#?}");

    let r = b.ok("NOOP");
    let flags = position(&r, "* FLAGS (").expect("no FLAGS in other session");
    let fetch = position(&r, "FETCH (").expect("no FETCH in other session");
    assert!(flags < fetch && r[flags].contains("$hello"), "{r:#?}");
}

/// imaptest select: EXAMINE claims no \Recent but still counts the
/// messages nobody has claimed, which a later SELECT then gets.
#[test]
fn rfc3501_6_3_2_examine_reports_unclaimed_recent() {
    let msg: &[u8] = b"Subject: r\r\n\r\nbody\r\n";
    let root = root_with("cmp-recent", "INBOX", &[msg, msg]);
    let mut s = Session::login(&root, USER, PASS);
    let r = s.ok("EXAMINE INBOX");
    assert!(position(&r, "* 2 RECENT").is_some(), "{r:#?}");
    let r = s.ok("SELECT INBOX");
    assert!(position(&r, "* 2 RECENT").is_some(), "{r:#?}");
    let r = s.ok("EXAMINE INBOX");
    assert!(position(&r, "* 0 RECENT").is_some(), "{r:#?}");
}

/// imaptest esearch-condstore: the first CONDSTORE-enabling command sends
/// HIGHESTMODSEQ, and ESEARCH MODSEQ covers only the messages returned.
#[test]
fn rfc7162_3_1_esearch_modseq_and_condstore_enabling() {
    let msg: &[u8] = b"Subject: m\r\n\r\nbody\r\n";
    let root = root_with("cmp-modseq", "INBOX", &[msg, msg, msg, msg]);
    let mut s = Session::login(&root, USER, PASS);
    s.ok("SELECT INBOX");
    let r = s.ok("FETCH 1 MODSEQ");
    assert!(position(&r, "* OK [HIGHESTMODSEQ ").is_some(), "{r:#?}");
    let r = s.ok("FETCH 1 MODSEQ");
    assert!(position(&r, "HIGHESTMODSEQ").is_none(), "only once: {r:#?}");

    let mut modseq = Vec::new();
    for n in [1, 3, 2, 4] {
        let r = s.ok(&format!("STORE {n} +FLAGS (\\Seen)"));
        let line = &r[position(&r, "MODSEQ (").expect("no MODSEQ")];
        let v: u64 = line
            .split("MODSEQ (")
            .nth(1)
            .and_then(|t| t.split(')').next())
            .and_then(|t| t.parse().ok())
            .expect("modseq");
        modseq.push((n, v));
    }
    let of = |n: u32| modseq.iter().find(|(m, _)| *m == n).map(|p| p.1).unwrap();
    let r = s.ok("SEARCH RETURN (MIN) 1:3 MODSEQ 1");
    assert!(
        joined(&r).contains(&format!("MIN 1 MODSEQ {}", of(1))),
        "{r:#?}"
    );
    let r = s.ok("SEARCH RETURN (MAX) 1:3 MODSEQ 1");
    assert!(
        joined(&r).contains(&format!("MAX 3 MODSEQ {}", of(3))),
        "{r:#?}"
    );
    let r = s.ok("SEARCH RETURN () 1:3 MODSEQ 1");
    assert!(
        joined(&r).contains(&format!("ALL 1:3 MODSEQ {}", of(2))),
        "{r:#?}"
    );
}

/// imaptest atoms: a mailbox name that is not valid modified UTF-7 is a
/// NO (it cannot exist), and as a LIST pattern it simply matches nothing.
#[test]
fn rfc9051_5_1_3_invalid_modified_utf7_names() {
    let root = root_with("cmp-mutf7", "INBOX", &[]);
    let mut s = Session::login(&root, USER, PASS);
    // Sent raw: the library's parser refuses these names, as the server's
    // does, so its encoder cannot write them.
    let r = s.raw_cmd("SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}");
    assert!(r.len() == 1 && r[0].contains(" NO "), "{r:#?}");
    let r = s.raw_cmd("LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*");
    assert!(r.len() == 1 && r[0].contains(" OK "), "{r:#?}");
    // Genuine syntax errors stay BAD.
    let r = s.raw_cmd("SELECT");
    assert!(r[0].contains(" BAD "), "{r:#?}");
}

/// imaptest move: MOVE into the selected mailbox itself succeeds like
/// Dovecot's: new UIDs, old ones expunged, COPYUID reported.
#[test]
fn rfc6851_move_into_the_same_mailbox() {
    let msg: &[u8] = b"Subject: mv\r\n\r\nbody\r\n";
    let root = root_with("cmp-move", "INBOX", &[msg, msg, msg]);
    let mut s = Session::login(&root, USER, PASS);
    let r = s.ok("SELECT INBOX");
    let validity = r[position(&r, "[UIDVALIDITY ").unwrap()]
        .split("[UIDVALIDITY ")
        .nth(1)
        .and_then(|t| t.split(']').next())
        .unwrap()
        .to_owned();
    s.ok("STORE 1 +FLAGS (\\Flagged)");
    let r = s.ok("MOVE 1 INBOX");
    assert!(
        position(&r, &format!("* OK [COPYUID {validity} 1 4]")).is_some(),
        "{r:#?}"
    );
    assert!(position(&r, "* 1 EXPUNGE").is_some(), "{r:#?}");
    assert!(position(&r, "* 3 EXISTS").is_some(), "{r:#?}");
    let r = s.ok("UID FETCH 1:* (UID FLAGS)");
    let fetches: Vec<&String> = r.iter().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(fetches.len(), 3, "{r:#?}");
    assert!(
        fetches
            .iter()
            .any(|l| l.contains("UID 4") && l.contains("\\Flagged")),
        "flags travel with the message: {r:#?}"
    );
    assert!(!fetches.iter().any(|l| l.contains("UID 1 ")), "{r:#?}");
    // Another session sees the same single copy.
    let mut other = Session::login(&root, USER, PASS);
    let r = other.ok("STATUS INBOX (MESSAGES UIDNEXT)");
    assert!(joined(&r).contains("MESSAGES 3 UIDNEXT 5"), "{r:#?}");
}

/// imaptest append-binary: BODY[] never carries a NUL (RFC 3501 CHAR8);
/// BINARY[] still returns the exact bytes in a literal8.
#[test]
fn rfc3501_4_3_no_nul_in_body_literals() {
    let msg: &[u8] = b"From: user@domain.org\r\nMime-Version: 1.0\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\
\x00-Z\r\n";
    let root = root_with("cmp-nul", "INBOX", &[msg]);
    let mut s = Session::login(&root, USER, PASS);
    s.ok("SELECT INBOX");
    let r = s.ok("FETCH 1 (BODY.PEEK[1])");
    assert!(joined(&r).contains("BODY[1] {5}"), "{r:#?}");
    assert!(!joined(&r).contains('\0'), "NUL sent in a literal: {r:#?}");
    assert!(joined(&r).contains("-Z"), "{r:#?}");
    let r = s.ok("FETCH 1 (BODY.PEEK[])");
    assert!(!joined(&r).contains('\0'), "{r:#?}");
    let r = s.ok("FETCH 1 (BINARY.PEEK[1])");
    assert!(joined(&r).contains("BINARY[1] ~{5}"), "{r:#?}");
    assert!(joined(&r).contains('\0'), "BINARY keeps the bytes: {r:#?}");
}

/// imaptest listext: with RECURSIVEMATCH, CHILDINFO is only for a parent
/// whose subscribed child is not itself in the reply.
#[test]
fn rfc5258_childinfo_only_for_unlisted_children() {
    let root = root_with("cmp-childinfo", "INBOX", &[]);
    let mut s = Session::login(&root, USER, PASS);
    s.ok("CREATE box/test2/test1");
    s.ok("SUBSCRIBE box/test2/test1");
    let r = s.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (box/test2 box/test2/test1)");
    assert!(!joined(&r).contains("CHILDINFO"), "{r:#?}");
    assert!(position(&r, "\"box/test2/test1\"").is_some(), "{r:#?}");
    let r = s.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (box/test2)");
    assert!(
        position(&r, "\"box/test2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))").is_some(),
        "{r:#?}"
    );
}
