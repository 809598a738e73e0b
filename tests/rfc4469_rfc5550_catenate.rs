//! CATENATE (RFC 4469) with the IMAP URLs it uses (RFC 5092) and
//! URL-PARTIAL (RFC 5550), over the real binary: messages built from TEXT
//! parts and the user's own stored messages, sections and octet ranges;
//! MULTIAPPEND with CATENATE; and every bad URL (another user, a missing
//! mailbox, message or part, an expunged message, a changed UIDVALIDITY,
//! the message being built, URLAUTH) answered `NO [BADURL url]`, a result
//! over the APPEND limit `NO [TOOBIG]`, with nothing stored.

mod common;

use common::{has, seed, tagged_code, texts, Root, Session};
use crymap_like::imap::wire::response::ResponseCode;

const USER: &str = "alice";
const PASS: &str = "correct horse";

const MIXED: &[u8] = b"From: a@example.org\r\nSubject: source\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nfirst part text\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--b--\r\n";

/// A root with `alice` (INBOX holds MIXED) and `bob`.
fn setup(label: &str) -> (Root, Session, u32) {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    root.add_user("bob", "bob pass");
    let uids = seed(&root, USER, PASS, "INBOX", &[MIXED]);
    let s = Session::login(&root, USER, PASS);
    (root, s, uids[0])
}

fn text_part(t: &[u8]) -> String {
    format!("TEXT {{{}+}}\r\n{}", t.len(), String::from_utf8_lossy(t))
}

fn uid_validity(s: &mut Session, mailbox: &str) -> String {
    let l = s.ok(&format!("STATUS {mailbox} (UIDVALIDITY)"))[0].clone();
    l.rsplit("UIDVALIDITY ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned()
}

fn drafts_count(s: &mut Session) -> String {
    s.ok("STATUS Drafts (MESSAGES UIDNEXT)")[0].clone()
}

/// The body of Drafts message `n`.
fn draft(s: &mut Session, n: u32) -> Vec<u8> {
    s.ok("SELECT Drafts");
    let b = common::fetched(&s.ok_run(&format!("FETCH {n} (UID BODY.PEEK[])")));
    s.ok("UNSELECT");
    b.into_iter().next().expect("a message").body
}

#[test]
fn rfc4469_5_catenate_joins_text_sections_and_whole_messages() {
    let (_root, mut s, uid) = setup("cat-build");
    let v = uid_validity(&mut s, "INBOX");
    let lines = s.ok(&format!(
        "APPEND Drafts (\\Draft) CATENATE (URL \"/INBOX;UIDVALIDITY={v}/;UID={uid}/;section=HEADER\" {} URL \"/INBOX;UIDVALIDITY={v}/;UID={uid}/;SECTION=2\" {})",
        text_part(b"[inserted]\r\n"),
        text_part(b"\r\n--end\r\n"),
    ));
    assert!(has(&lines, "[APPENDUID "), "{lines:#?}");
    let header_end = MIXED.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut want = MIXED[..header_end].to_vec();
    want.extend_from_slice(b"[inserted]\r\nsecond part\r\n--end\r\n");
    assert_eq!(
        String::from_utf8_lossy(&draft(&mut s, 1)),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn rfc5092_absolute_relative_and_selected_relative_urls_resolve() {
    let (_root, mut s, uid) = setup("cat-forms");
    s.ok(&format!(
        "APPEND Drafts CATENATE (URL \"imap://{USER}@localhost/INBOX/;UID={uid}/;SECTION=1\")"
    ));
    assert_eq!(draft(&mut s, 1), b"first part text");
    // `;UID=` alone is relative to the selected mailbox.
    s.ok("SELECT INBOX");
    s.ok(&format!(
        "APPEND Drafts CATENATE (URL \";UID={uid}/;SECTION=HEADER.FIELDS%20(SUBJECT)\")"
    ));
    s.ok("UNSELECT");
    assert_eq!(draft(&mut s, 2), b"Subject: source\r\n\r\n");
    // Without a selected mailbox it names nothing.
    let r = s.run(&format!("APPEND Drafts CATENATE (URL \";UID={uid}\")"));
    assert!(
        matches!(tagged_code(&r), Some(ResponseCode::BadUrl(u)) if *u == format!(";UID={uid}")),
        "{:#?}",
        texts(&r)
    );
}

#[test]
fn rfc5550_partial_takes_an_octet_range_of_a_message_or_section() {
    let (_root, mut s, uid) = setup("cat-partial");
    s.ok(&format!(
        "APPEND Drafts CATENATE (URL \"/INBOX/;UID={uid}/;PARTIAL=0.10\" {} URL \"/INBOX/;UID={uid}/;SECTION=1/;PARTIAL=6.4\" URL \"/INBOX/;UID={uid}/;SECTION=2/;PARTIAL=7\")",
        text_part(b"|"),
    ));
    assert_eq!(
        String::from_utf8_lossy(&draft(&mut s, 1)),
        "From: a@ex|partpart"
    );
}

#[test]
fn rfc3502_multiappend_with_catenate_is_all_or_nothing() {
    let (_root, mut s, uid) = setup("cat-multi");
    let plain = b"Subject: plain\r\n\r\nplain\r\n";
    let lines = s.ok(&format!(
        "APPEND Drafts {{{}+}}\r\n{} CATENATE (URL \"/INBOX/;UID={uid}/;SECTION=1\") (\\Seen) CATENATE ({})",
        plain.len(),
        String::from_utf8_lossy(plain),
        text_part(b"Subject: t\r\n\r\nt\r\n"),
    ));
    assert!(has(&lines, " 1:3] "), "{lines:#?}");
    assert_eq!(draft(&mut s, 2), b"first part text");
    let before = drafts_count(&mut s);
    // One bad URL in the third message: none of the three is stored.
    let r = s.run(&format!(
        "APPEND Drafts {{{}+}}\r\n{} CATENATE ({}) CATENATE (URL \"/INBOX/;UID={}\")",
        plain.len(),
        String::from_utf8_lossy(plain),
        text_part(b"x"),
        uid + 100
    ));
    assert!(
        matches!(tagged_code(&r), Some(ResponseCode::BadUrl(_))),
        "{:#?}",
        texts(&r)
    );
    assert_eq!(drafts_count(&mut s), before);
}

#[test]
fn rfc4469_5_bad_urls_are_badurl_and_store_nothing() {
    let (root, mut s, uid) = setup("cat-bad");
    let v = uid_validity(&mut s, "INBOX");
    let next_draft = s.ok("STATUS Drafts (UIDNEXT)")[0]
        .rsplit("UIDNEXT ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    // A second message, then expunged by another session.
    let gone = seed(&root, USER, PASS, "INBOX", &[b"Subject: gone\r\n\r\nx\r\n"])[0];
    let mut other = Session::login(&root, USER, PASS);
    other.ok("SELECT INBOX");
    other.ok(&format!("UID STORE {gone} +FLAGS.SILENT (\\Deleted)"));
    other.ok(&format!("UID EXPUNGE {gone}"));
    let before = drafts_count(&mut s);
    let bad = [
        format!("imap://bob@localhost/INBOX/;UID={uid}"),
        format!("imap://Alice@localhost/INBOX/;UID={uid}"),
        format!("imap://localhost/INBOX/;UID={uid}"),
        format!("/NoSuchBox/;UID={uid}"),
        format!("/INBOX/;UID={}", uid + 50),
        format!("/INBOX/;UID={gone}"),
        format!(
            "/INBOX;UIDVALIDITY={}/;UID={uid}",
            v.parse::<u32>().unwrap() ^ 1
        ),
        format!("/INBOX/;UID={uid}/;SECTION=7"),
        format!("/INBOX/;UID={uid}/;SECTION=1.2.3"),
        // The message being built has no UID yet: a URL naming the UID it
        // will get names nothing (no recursion through itself).
        format!("/Drafts/;UID={next_draft}"),
        format!("/INBOX/;UID={uid}/;URLAUTH=anonymous:internal:0123"),
        "/INBOX".to_owned(),
        "/INBOX/;UID=1:3".to_owned(),
        "https://example.org/x".to_owned(),
        "".to_owned(),
    ];
    for url in &bad {
        let r = s.run(&format!(
            "APPEND Drafts CATENATE ({} URL \"{url}\")",
            text_part(b"Subject: x\r\n\r\n")
        ));
        let want = if url.is_empty() { "\"\"" } else { url.as_str() };
        assert!(
            matches!(tagged_code(&r), Some(ResponseCode::BadUrl(u)) if u == want),
            "{url}: {:#?}",
            texts(&r)
        );
        assert!(r.last().unwrap().text.contains(" NO "), "{url}");
    }
    assert_eq!(drafts_count(&mut s), before);
}

#[test]
fn rfc7889_catenate_result_over_the_append_limit_is_toobig() {
    let root = Root::new("cat-big");
    root.add_user(USER, PASS);
    root.set("limits", "max_message_size = 1000");
    let body = vec![b'y'; 400];
    let uid = seed(&root, USER, PASS, "INBOX", &[&body])[0];
    let mut s = Session::login(&root, USER, PASS);
    let url = format!("URL \"/INBOX/;UID={uid}\"");
    // Twice fits; three times (1,200 octets) does not.
    s.ok(&format!("APPEND Drafts CATENATE ({url} {url})"));
    let before = drafts_count(&mut s);
    let r = s.run(&format!("APPEND Drafts CATENATE ({url} {url} {url})"));
    assert_eq!(
        tagged_code(&r),
        Some(&ResponseCode::TooBig),
        "{:#?}",
        texts(&r)
    );
    assert_eq!(drafts_count(&mut s), before);
}

#[test]
fn rfc4469_catenate_and_url_partial_are_advertised() {
    let (_root, mut s, _) = setup("cat-caps");
    let caps = s.ok("CAPABILITY");
    assert!(
        has(&caps, " CATENATE ") && has(&caps, " URL-PARTIAL ") && has(&caps, " REPLACE "),
        "{caps:#?}"
    );
}

#[test]
fn hostile_catenate_naming_large_messages_over_and_over_is_bounded() {
    let root = Root::new("cat-budget");
    root.add_user(USER, PASS);
    root.set("limits", "max_message_size = 1000");
    let (a, b) = (vec![b'a'; 900], vec![b'b'; 900]);
    let uids = seed(&root, USER, PASS, "INBOX", &[&a, &b]);
    let mut s = Session::login(&root, USER, PASS);
    let one = |uid: u32| format!("URL \"/INBOX/;UID={uid}/;PARTIAL=0.1\"");
    // The same message a hundred times is read once.
    let same = vec![one(uids[0]); 100].join(" ");
    s.ok(&format!("APPEND Drafts CATENATE ({same})"));
    assert_eq!(draft(&mut s, 1), vec![b'a'; 100]);
    // Alternating two messages decrypts each again: past four messages'
    // worth of the limit (4,000 octets here) the command is refused.
    let before = drafts_count(&mut s);
    let alternating: Vec<String> = (0..10).map(|i| one(uids[i % 2])).collect();
    let r = s.run(&format!(
        "APPEND Drafts CATENATE ({})",
        alternating.join(" ")
    ));
    assert_eq!(
        tagged_code(&r),
        Some(&ResponseCode::Limit),
        "{:#?}",
        texts(&r)
    );
    assert_eq!(drafts_count(&mut s), before);
    // One budget per command, not per message: a MULTIAPPEND of many
    // CATENATEs each copying a whole stored message (read once, built
    // again and again) is refused past four messages' worth, whole.
    let whole = format!("CATENATE (URL \"/INBOX/;UID={}\")", uids[0]);
    let r = s.run(&format!("APPEND Drafts {}", vec![whole; 50].join(" ")));
    assert_eq!(
        tagged_code(&r),
        Some(&ResponseCode::Limit),
        "{:#?}",
        texts(&r)
    );
    assert_eq!(drafts_count(&mut s), before);
}

#[test]
fn rfc4469_5_text_literal8_is_stored_as_a_binary_append() {
    let (_root, mut s, uid) = setup("cat-binary");
    let head = b"From: a@example.org\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"z\"\r\n\r\n--z\r\n";
    let payload: &[u8] = b"\x00\x01\xff binary \x00";
    let mut part = b"Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    part.extend_from_slice(payload);
    part.extend_from_slice(b"\r\n--z--\r\n");
    let mut cmd = format!(
        "APPEND Drafts CATENATE (TEXT {{{}+}}\r\n{} URL \"/INBOX/;UID={uid}/;SECTION=1.MIME\" URL \"/INBOX/;UID={uid}/;SECTION=1\" TEXT {{5+}}\r\n\r\n--z TEXT ~{{{}+}}\r\n",
        head.len(),
        String::from_utf8_lossy(head),
        part.len() + 2,
    )
    .into_bytes();
    cmd.extend_from_slice(b"\r\n");
    cmd.extend_from_slice(&part);
    cmd.extend_from_slice(b")");
    let r = s.try_run_bytes(&cmd).expect("server alive");
    assert!(has(&texts(&r), "[APPENDUID "), "{:#?}", texts(&r));
    s.ok("SELECT Drafts");
    // Stored like a literal8 APPEND: BODY[] is 7-bit (base64), BINARY[2]
    // gives the octets back.
    let body = draft(&mut s, 1);
    assert!(!body.contains(&0), "NUL in BODY[]");
    assert!(String::from_utf8_lossy(&body).contains("first part text"));
    s.ok("SELECT Drafts");
    let bin = s.bytes("FETCH 1 BINARY.PEEK[2]");
    assert!(
        bin.windows(payload.len()).any(|w| w == payload),
        "{:?}",
        String::from_utf8_lossy(&bin)
    );
}
