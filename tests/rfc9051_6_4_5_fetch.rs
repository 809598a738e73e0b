//! FETCH end to end: the real binary over TLS, messages put in through the
//! store library.

mod common;

use common::{untagged, Client, Response, Root, Session};
use crymap_like::imap::wire::structure::{write_bodystructure, write_envelope};
use crymap_like::mime::summarize;

const USER: &str = "fs";
const PASS: &str = "pw-fs";

/// A root with `messages` in INBOX and a session that has INBOX selected
/// (EXAMINEd when `read_only`).
fn session(label: &str, messages: &[&[u8]], read_only: bool) -> (Root, Session, Vec<u32>) {
    common::session_on_inbox(label, USER, PASS, messages, read_only)
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every byte of `responses`, as (lossy) text.
fn all(responses: &[Response]) -> String {
    let bytes: Vec<u8> = responses.iter().flat_map(|r| r.bytes.clone()).collect();
    s(&bytes)
}

const FIXTURES: &[&str] = &[
    "8bit-headers.eml",
    "alt-in-mixed.eml",
    "bare-lf.eml",
    "binary-nul.eml",
    "deep-nesting.eml",
    "forwarded.eml",
    "long-header.eml",
    "rfc2047-subjects.eml",
    "rfc2231-filename.eml",
    "truncated-multipart.eml",
];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/mime/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Appends a `{n}` literal the way the server writes strings that cannot
/// be quoted (the renderers already do this; the wire must carry it).
#[test]
fn rfc9051_6_4_5_envelope_and_bodystructure_of_fixtures_byte_for_byte() {
    let raws: Vec<Vec<u8>> = FIXTURES.iter().map(|f| fixture(f)).collect();
    let refs: Vec<&[u8]> = raws.iter().map(|r| r.as_slice()).collect();
    let (_root, mut c, _) = session("fetch-fixtures", &refs, true);
    for (i, raw) in raws.iter().enumerate() {
        let seq = i + 1;
        let resp = c.run(&format!("FETCH {seq} (ENVELOPE BODYSTRUCTURE)"));
        let sum = summarize(raw);
        let mut want = format!("* {seq} FETCH (ENVELOPE ").into_bytes();
        write_envelope(&mut want, &sum.envelope);
        want.extend_from_slice(b" BODYSTRUCTURE ");
        write_bodystructure(&mut want, &sum.root);
        want.extend_from_slice(b")\r\n");
        let got = untagged(&resp);
        assert_eq!(got.len(), 1, "{}: {}", FIXTURES[i], all(&resp));
        assert_eq!(s(&got[0]), s(&want), "{}", FIXTURES[i]);
        assert!(all(&resp).ends_with("OK FETCH completed\r\n"));
    }
}

#[test]
fn rfc9051_6_4_5_simple_message_exact_lines() {
    let msg: &[u8] = b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.example\r\nMessage-Id: <B27397-0100000@Blurdybloop.example>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    let (_root, mut c, _) = session("fetch-simple", &[msg], true);
    let resp = c.transcript("FETCH 1 (ENVELOPE BODY RFC822.SIZE)");
    let want = "* 1 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((NIL NIL \"mooch\" \"owatagu.example\")) NIL NIL NIL \"<B27397-0100000@Blurdybloop.example>\") BODY (\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7bit\" 55 1) RFC822.SIZE ";
    assert!(resp.starts_with(want), "{resp}");
    assert!(
        resp.contains(&format!("RFC822.SIZE {})\r\n", msg.len())),
        "{resp}"
    );
    let resp = c.transcript("UID FETCH 1 (FLAGS)");
    assert!(resp.starts_with("* 1 FETCH (UID 1 FLAGS ("), "{resp}");
    let resp = c.transcript("FETCH 1 (EMAILID THREADID SAVEDATE MODSEQ INTERNALDATE)");
    // MODSEQ enables CONDSTORE, announced by `* OK [HIGHESTMODSEQ]` first.
    let line = resp.lines().find(|l| l.starts_with("* 1 FETCH")).unwrap();
    assert!(line.starts_with("* 1 FETCH (EMAILID (M"), "{line}");
    assert!(line.contains(") THREADID NIL SAVEDATE \""), "{line}");
    assert!(line.contains(" MODSEQ ("), "{line}");
    assert!(line.contains(" INTERNALDATE \""), "{line}");
    // ALL / FAST / FULL macros.
    let all = c.transcript("FETCH 1 ALL");
    assert!(all.starts_with("* 1 FETCH (FLAGS ("), "{all}");
    assert!(
        all.contains("INTERNALDATE") && all.contains("RFC822.SIZE") && all.contains("ENVELOPE (")
    );
    let fast = c.transcript("FETCH 1 FAST");
    assert!(!fast.contains("ENVELOPE"), "{fast}");
    let full = c.transcript("FETCH 1 FULL");
    assert!(full.contains(" BODY (\"TEXT\""), "{full}");
    // Out-of-range sequence number is a BAD; a missing UID is just skipped.
    assert!(c.status("FETCH 2 FLAGS").contains(" BAD "));
    let r = c.transcript("UID FETCH 99 FLAGS");
    assert!(r.starts_with("t") && r.contains(" OK "), "{r}");
}

const MIXED: &[u8] = b"Subject: s\r\nTo: a@b\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nhello world\r\n\
--x\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n\
--y\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n--y\r\nContent-Type: text/html\r\n\r\n<b>inner</b>\r\n--y--\r\n\
--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n\
--x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n\
--x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9\r\n\
--x--\r\n";

#[test]
fn rfc9051_6_4_5_sections_partials_and_rfc3516_binary() {
    let (_root, mut c, _) = session("fetch-sections", &[MIXED], true);
    let one = |c: &mut Client, item: &str| -> String {
        let r = c.run(&format!("FETCH 1 ({item})"));
        let u = untagged(&r);
        assert_eq!(u.len(), 1, "{item}: {}", all(&r));
        s(&u[0])
    };
    assert_eq!(
        one(&mut c, "BODY.PEEK[1]"),
        "* 1 FETCH (BODY[1] {11}\r\nhello world)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[1.MIME]"),
        "* 1 FETCH (BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[2.HEADER.FIELDS (subject)]"),
        "* 1 FETCH (BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[2.1]"),
        "* 1 FETCH (BODY[2.1] {11}\r\ninner plain)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[2.2]"),
        "* 1 FETCH (BODY[2.2] {12}\r\n<b>inner</b>)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[2.2.MIME]"),
        "* 1 FETCH (BODY[2.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n)\r\n"
    );
    assert!(one(&mut c, "BODY.PEEK[2.TEXT]").starts_with("* 1 FETCH (BODY[2.TEXT] {"));
    assert_eq!(
        one(&mut c, "BODY.PEEK[1]<6.100>"),
        "* 1 FETCH (BODY[1]<6> {5}\r\nworld)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[]<0.9>"),
        "* 1 FETCH (BODY[]<0> {9}\r\nSubject: )\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[1]<50.10>"),
        "* 1 FETCH (BODY[1]<50> {0}\r\n)\r\n"
    );
    assert_eq!(
        one(&mut c, "BODY.PEEK[HEADER.FIELDS.NOT (Subject MIME-Version Content-Type)]"),
        "* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT MIME-VERSION CONTENT-TYPE)] {11}\r\nTo: a@b\r\n\r\n)\r\n"
    );
    assert_eq!(one(&mut c, "BODY.PEEK[9]"), "* 1 FETCH (BODY[9] NIL)\r\n");
    assert_eq!(
        one(&mut c, "BODY.PEEK[1.HEADER]"),
        "* 1 FETCH (BODY[1.HEADER] NIL)\r\n"
    );
    let header = one(&mut c, "RFC822.HEADER");
    assert!(header.starts_with("* 1 FETCH (RFC822.HEADER {"), "{header}");
    assert!(header.ends_with("boundary=x\r\n\r\n)\r\n"), "{header}");
    // BINARY: decoded, NUL forces literal8; sizes; QP decoded.
    assert_eq!(
        one(&mut c, "BINARY.PEEK[3]"),
        "* 1 FETCH (BINARY[3] ~{3}\r\n\x00\x01\x02)\r\n"
    );
    assert_eq!(
        one(&mut c, "BINARY.SIZE[3]"),
        "* 1 FETCH (BINARY.SIZE[3] 3)\r\n"
    );
    assert_eq!(
        one(&mut c, "BINARY.PEEK[5]"),
        "* 1 FETCH (BINARY[5] {5}\r\nCafé)\r\n"
    );
    assert_eq!(
        one(&mut c, "BINARY.PEEK[3]<0.2>"),
        "* 1 FETCH (BINARY[3]<0> ~{2}\r\n\x00\x01)\r\n"
    );
    assert_eq!(
        one(&mut c, "BINARY.PEEK[2.1]"),
        "* 1 FETCH (BINARY[2.1] {11}\r\ninner plain)\r\n"
    );
    let r = c.transcript("FETCH 1 (BINARY.PEEK[4])");
    assert!(!r.contains("* 1 FETCH"), "{r}");
    assert!(r.contains(" NO [UNKNOWN-CTE]"), "{r}");
    // The session goes on.
    assert!(c.status("NOOP").contains(" OK "));
}

#[test]
fn rfc9051_6_4_5_odd_messages_come_back_byte_for_byte() {
    let msgs: Vec<&[u8]> = vec![
        b"Subject: nul\r\n\r\na\x00b\r\n",
        b"Subject: bare\n\nline one\nline two\n",
        b"Subject: \xc3\xa9t\xc3\xa9\r\nFrom: J\xc3\xb6rg <j@x>\r\n\r\nbody\r\n",
        b"no separator at all, no header either",
        b"",
    ];
    let (_root, mut c, _) = session("fetch-odd", &msgs, true);
    for (i, m) in msgs.iter().enumerate() {
        let seq = i + 1;
        let r = c.run(&format!("FETCH {seq} (RFC822.SIZE BODY.PEEK[])"));
        let u = untagged(&r);
        assert_eq!(u.len(), 1, "{}", all(&r));
        let mut want = format!(
            "* {seq} FETCH (RFC822.SIZE {} BODY[] {{{}}}\r\n",
            m.len(),
            m.len()
        )
        .into_bytes();
        // A NUL cannot travel in a `{n}` literal (RFC 3501 CHAR8): it
        // goes out as 0x80, sizes unchanged (doc/compliance.md).
        want.extend(m.iter().map(|&b| if b == 0 { 0x80 } else { b }));
        want.extend_from_slice(b")\r\n");
        assert_eq!(u[0], want, "message {seq}: {}", s(&u[0]));
    }
    // BINARY[] of the NUL message is a literal8.
    let r = c.run("FETCH 1 (BINARY.PEEK[])");
    assert!(all(&r).starts_with("* 1 FETCH (BINARY[] ~{"), "{}", all(&r));
}

#[test]
fn rfc9051_6_4_5_non_peek_fetch_sets_seen_unless_read_only() {
    let m: &[u8] = b"Subject: x\r\n\r\nbody\r\n";
    let (_root, mut c, _) = session("fetch-seen", &[m, m, m], false);
    let r = c.transcript("FETCH 1 (BODY[TEXT])");
    assert!(r.contains("BODY[TEXT] {6}\r\nbody\r\n FLAGS ("), "{r}");
    assert!(r.contains("\\Seen"), "{r}");
    let r = c.transcript("FETCH 1 (FLAGS BODY[TEXT])");
    assert_eq!(r.matches("FLAGS").count(), 1, "{r}");
    let r = c.transcript("FETCH 2 (BODY.PEEK[TEXT])");
    assert!(!r.contains("FLAGS"), "{r}");
    let r = c.transcript("FETCH 2 FLAGS");
    assert!(!r.contains("\\Seen"), "{r}");
    let r = c.transcript("FETCH 3 RFC822.TEXT");
    assert!(r.contains("\\Seen"), "{r}");
    // EXAMINE: nothing changes.
    assert!(c.status("EXAMINE INBOX").contains(" OK "));
    let r = c.transcript("FETCH 2 (BODY[TEXT])");
    assert!(!r.contains("\\Seen"), "{r}");
    let r = c.transcript("FETCH 2 FLAGS");
    assert!(!r.contains("\\Seen"), "{r}");
}

#[test]
fn rfc7162_3_1_4_fetch_modseq_and_changedsince() {
    let m: &[u8] = b"Subject: x\r\n\r\nbody\r\n";
    let (_root, mut c, _) = session("fetch-condstore", &[m, m], false);
    let r = c.transcript("FETCH 1:* (MODSEQ)");
    let before: Vec<u64> = r
        .lines()
        .filter_map(|l| l.split("MODSEQ (").nth(1))
        .map(|v| v.trim_end_matches("))").parse().unwrap())
        .collect();
    assert_eq!(before.len(), 2, "{r}");
    let top = before.iter().max().copied().unwrap();
    assert!(c
        .status("STORE 2 +FLAGS.SILENT (\\Flagged)")
        .contains(" OK "));
    let r = c.transcript(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {top})"));
    let fetches: Vec<&str> = r.lines().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(fetches.len(), 1, "{r}");
    assert!(
        fetches[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ ("),
        "{r}"
    );
    // VANISHED needs QRESYNC.
    assert!(c
        .status(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {top} VANISHED)"
        ))
        .contains(" BAD "));
}

#[test]
fn tamper_message_file_fails_alone() {
    let m: &[u8] = b"Subject: x\r\n\r\nbody of the message\r\n";
    let (root, mut c, _) = session("fetch-tamper", &[m, m, m], true);
    let r = c.transcript("FETCH 2 EMAILID");
    let id = r
        .split("EMAILID (M")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    let path = find_file(&root.path().join("users").join(USER), &id).expect("message file");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let r = c.transcript("FETCH 1:3 (BODY.PEEK[])");
    assert!(r.contains("* 1 FETCH (BODY[] {"), "{r}");
    assert!(!r.contains("* 2 FETCH"), "{r}");
    assert!(r.contains("* 3 FETCH (BODY[] {"), "{r}");
    let tagged = r.lines().last().unwrap();
    assert!(
        tagged.contains(" NO [SERVERBUG]") && tagged.contains("UID 2"),
        "{tagged}"
    );
    // Metadata of the same message still comes from the store and summary.
    let r = c.transcript("FETCH 2 (FLAGS ENVELOPE)");
    assert!(r.contains("* 2 FETCH (FLAGS ("), "{r}");
    assert!(c.status("NOOP").contains(" OK "));
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
            return Some(p);
        }
    }
    None
}

/// RFC 9051 §4.3: no string, quoted or literal, may carry NUL (CHAR8);
/// a sender's header may hold one, delivered as it came (issue 7).
#[test]
fn rfc9051_4_3_envelope_never_carries_nul() {
    let msg = b"From: \"a\0b\" <x@example.org>\r\nSubject: hi\0there\r\n\r\nbody\r\n";
    let (root, mut s, _) = session("env-nul", &[], false);
    common::mail::deliver(&root, USER, msg);
    s.ok("SELECT INBOX");
    let bytes: Vec<u8> =
        s.c.run("FETCH 1 (ENVELOPE BODYSTRUCTURE)")
            .into_iter()
            .flat_map(|r| r.bytes)
            .collect();
    assert!(!bytes.contains(&0), "{}", s_(&bytes));
    assert!(s_(&bytes).contains("hi there"), "{}", s_(&bytes));
}

fn s_(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn rfc9051_6_4_5_bodystructure_sent_again_and_in_another_mailbox_is_each_messages_own() {
    // The session keeps each BODYSTRUCTURE it encoded: the second FETCH
    // must send the same bytes, and a message with the same UID in
    // another mailbox its own structure, not the one kept.
    let a = fixture("alt-in-mixed.eml");
    let b = fixture("forwarded.eml");
    let (root, mut c, _) = session("fetch-bs-cache", &[a.as_slice()], true);
    common::seed(&root, USER, PASS, "Other", &[b.as_slice()]);
    let want = |raw: &[u8]| {
        let mut w = b"* 1 FETCH (BODYSTRUCTURE ".to_vec();
        write_bodystructure(&mut w, &summarize(raw).root);
        w.extend_from_slice(b")\r\n");
        s(&w)
    };
    for _ in 0..2 {
        let got = untagged(&c.run("FETCH 1 BODYSTRUCTURE"));
        assert_eq!(got.iter().map(|g| s(g)).collect::<Vec<_>>(), vec![want(&a)]);
    }
    c.ok("EXAMINE Other");
    let got = untagged(&c.run("FETCH 1 BODYSTRUCTURE"));
    assert!(
        got.iter().any(|g| s(g) == want(&b)),
        "{:?}",
        got.iter().map(|g| s(g)).collect::<Vec<_>>()
    );
    assert_ne!(want(&a), want(&b));
}
