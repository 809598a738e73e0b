//! What APPEND stores and how BINARY reads it back (RFC 3516 §4.4, §6),
//! and 8-bit headers without UTF8=ACCEPT (RFC 6855 §4), over the real
//! binary (issue 15, items 5 and 6).

mod common;

use common::{has, session_on_inbox, texts, FetchItem, Flag, Response};
use crymap_like::imap::wire::command::{AppendKind, AppendMessage};

const USER: &str = "alice";
const PASS: &str = "correct horse";

/// The first part is text, the second raw octets with NULs, bare LFs and
/// bytes above 0x7f, as a literal8 may carry them.
fn binary_message() -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = b"\x00\x01PNG\r\n\x1a\n\x00\x00\xff\xfe data \x00 end".to_vec();
    let mut m = b"From: a@example.org\r\nSubject: binary\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    m.extend_from_slice(&payload);
    m.extend_from_slice(b"\r\n--b--\r\n");
    (m, payload)
}

fn append8(s: &mut common::Session, data: Vec<u8>, kind: AppendKind) -> Vec<Response> {
    s.append_all(
        "INBOX",
        vec![AppendMessage {
            flags: Vec::<Flag>::new(),
            internal_date: None,
            kind,
            data,
        }],
    )
    .expect("APPEND")
}

fn binary_item(r: &[Response]) -> Option<Vec<u8>> {
    r.iter()
        .flat_map(|r| r.fetch_items())
        .find_map(|i| match i {
            FetchItem::Binary { data, .. } => data.as_deref().map(<[u8]>::to_vec),
            _ => None,
        })
}

fn body_item(r: &[Response]) -> Option<Vec<u8>> {
    r.iter()
        .flat_map(|r| r.fetch_items())
        .find_map(|i| match i {
            FetchItem::BodySection { data, .. } => data.as_deref().map(<[u8]>::to_vec),
            _ => None,
        })
}

#[test]
fn rfc3516_4_4_literal8_binary_part_is_stored_base64_and_binary_returns_it() {
    let (_root, mut s, _) = session_on_inbox("bin-append", USER, PASS, &[], false);
    let (msg, payload) = binary_message();
    let r = append8(&mut s, msg, AppendKind::Literal8);
    assert_eq!(r.last().unwrap().status(), Some("OK"), "{:#?}", texts(&r));
    s.ok("NOOP");
    let r = s.ok("FETCH 1 BODYSTRUCTURE");
    assert!(
        has(
            &r,
            "\"application\" \"octet-stream\" NIL NIL NIL \"base64\""
        ),
        "{r:#?}"
    );
    // BODY[] is a valid RFC 5322 message: no NUL, the part re-labelled.
    let body = body_item(&s.ok_run("FETCH 1 BODY.PEEK[]")).unwrap();
    assert!(!body.contains(&0), "NUL in BODY[]");
    let text = String::from_utf8(body).expect("7-bit BODY[]");
    assert!(
        text.contains("Content-Transfer-Encoding: base64\r\n"),
        "{text}"
    );
    let part = body_item(&s.ok_run("FETCH 1 BODY.PEEK[2]")).unwrap();
    assert!(
        !part.contains(&0x80) && !part.contains(&0),
        "BODY[2] altered"
    );
    // BINARY[2] is exactly what was sent.
    let got = binary_item(&s.ok_run("FETCH 1 BINARY.PEEK[2]")).unwrap();
    assert_eq!(got, payload);
    let r = s.ok("FETCH 1 BINARY.SIZE[2]");
    assert!(
        has(&r, &format!("BINARY.SIZE[2] {}", payload.len())),
        "{r:#?}"
    );
    // An ordinary literal is stored as sent.
    let plain =
        b"Subject: plain\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\nabc\r\n";
    append8(&mut s, plain.to_vec(), AppendKind::Literal);
    s.ok("NOOP");
    assert_eq!(body_item(&s.ok_run("FETCH 2 BODY.PEEK[]")).unwrap(), plain);
}

#[test]
fn rfc3516_6_binary_of_a_bare_lf_message_comes_back_with_crlf() {
    let (_root, mut s, _) = session_on_inbox("bin-lf", USER, PASS, &[], false);
    let r = s
        .append(
            "INBOX",
            &[],
            b"Subject: lf\nFrom: a@example.org\n\nline one\nline two\n",
        )
        .unwrap();
    assert_eq!(r.last().unwrap().status(), Some("OK"));
    s.ok("NOOP");
    let got = binary_item(&s.ok_run("FETCH 1 BINARY.PEEK[]")).unwrap();
    assert_eq!(
        got,
        b"Subject: lf\r\nFrom: a@example.org\r\n\r\nline one\r\nline two\r\n"
    );
    let r = s.ok("FETCH 1 BINARY.SIZE[]");
    assert!(has(&r, &format!("BINARY.SIZE[] {}", got.len())), "{r:#?}");
}

#[test]
fn rfc6855_4_eight_bit_header_append_needs_utf8_accept() {
    let (_root, mut s, _) = session_on_inbox("utf8-append", USER, PASS, &[], false);
    let msg = "Subject: caf\u{e9}\r\nFrom: a@example.org\r\n\r\nbody\r\n".as_bytes();
    let r = s.append("INBOX", &[], msg).unwrap();
    assert_eq!(r.last().unwrap().status(), Some("NO"), "{:#?}", texts(&r));
    // 8-bit bytes in the body are no header bytes.
    let body8 = "Subject: cafe\r\n\r\ncaf\u{e9}\r\n".as_bytes();
    let r = s.append("INBOX", &[], body8).unwrap();
    assert_eq!(r.last().unwrap().status(), Some("OK"), "{:#?}", texts(&r));
    s.ok("ENABLE UTF8=ACCEPT");
    let r = s.append("INBOX", &[], msg).unwrap();
    assert_eq!(r.last().unwrap().status(), Some("OK"), "{:#?}", texts(&r));
}
