//! The exact ENVELOPE, BODY and BODYSTRUCTURE strings for the messages in
//! `tests/fixtures/mime/`, derived by hand from the RFC 3501 grammar and
//! Dovecot's rules (sizes and line counts checked by counting the bytes of
//! each part's body), and well-formed renderings for every mutated fixture
//! and the generated corpus. Test-only; never compiled into the server.
//!
//! The fixtures themselves (and what the parser makes of them) belong to
//! `mime::fixture_tests`; this module only checks how [`super::structure`]
//! renders them, so the arrow points from `imap` to `mime`, never back.

use super::structure::{write_body, write_bodystructure, write_envelope};
use crate::mime::fixture_tests::{corpus_messages, load, mutated_fixtures};
use crate::mime::{summarize, Summary};

/// `(ENVELOPE, BODY, BODYSTRUCTURE)` of one message, as text.
fn render(s: &Summary) -> (String, String, String) {
    let (mut e, mut b, mut bs) = (Vec::new(), Vec::new(), Vec::new());
    write_envelope(&mut e, &s.envelope);
    write_body(&mut b, &s.root);
    write_bodystructure(&mut bs, &s.root);
    let s = |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned();
    (s(e), s(b), s(bs))
}

/// Renders a fixture.
fn render_fixture(name: &str) -> (String, String, String) {
    render(&summarize(&load(name)))
}

#[test]
fn alt_in_mixed() {
    let (env, body, bs) = render_fixture("alt-in-mixed");
    // Sender and Reply-To default to From (RFC 3501 7.4.2); address lists
    // are written without separators between addresses.
    assert_eq!(
        env,
        "(\"Mon, 3 Jun 2024 09:15:00 +0200\" \"Quarterly report\" \
((\"Alice Archer\" NIL \"alice\" \"example.com\")) \
((\"Alice Archer\" NIL \"alice\" \"example.com\")) \
((\"Alice Archer\" NIL \"alice\" \"example.com\")) \
((\"Bob Baker\" NIL \"bob\" \"example.org\")(NIL NIL \"carol\" \"example.net\")) \
((\"Doe, John\" NIL \"john\" \"example.com\")) NIL \
\"<prev.0@example.com>\" \"<alt.1@example.com>\")"
    );
    // text/plain body "Hello Bob,\r\nsee the report." = 27 bytes, 1 line;
    // the CRLF before a boundary belongs to the boundary. Language is
    // always a list and MD5 always NIL (doc/mime.md).
    assert_eq!(
        bs,
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL)\
(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 36 0 NIL NIL NIL NIL) \
\"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)\
(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<pdf1@example.com>\" \"The report\" \"base64\" 20 \
NIL (\"attachment\" (\"filename\" \"report.pdf\")) (\"en\" \"de\") \"report.pdf\") \
\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)"
    );
    assert_eq!(
        body,
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1)\
(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 36 0) \"alternative\")\
(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<pdf1@example.com>\" \"The report\" \"base64\" 20) \"mixed\")"
    );
}

#[test]
fn forwarded_message_with_attachments() {
    let (env, _, bs) = render_fixture("forwarded");
    assert_eq!(
        env,
        "(\"Tue, 4 Jun 2024 10:00:00 -0500\" \"Fwd: holiday\" ((NIL NIL \"bob\" \"example.org\")) \
((NIL NIL \"bob\" \"example.org\")) ((NIL NIL \"bob\" \"example.org\")) \
((NIL NIL \"alice\" \"example.com\")) NIL NIL NIL \"<fwd.1@example.org>\")"
    );
    // message/rfc822: 434 bytes, 19 lines (every line of the inner
    // message, through "--f2--\r\n"); its params are NIL (not text).
    assert_eq!(
        bs,
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)\
(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 434 \
(\"Mon, 3 Jun 2024 08:00:00 +0000\" \"holiday\" ((\"Carol\" NIL \"carol\" \"example.net\")) \
((\"Carol\" NIL \"carol\" \"example.net\")) ((\"Carol\" NIL \"carol\" \"example.net\")) \
((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<inner.1@example.net>\") \
((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 0 NIL NIL NIL NIL)\
(\"image\" \"jpeg\" NIL NIL NIL \"base64\" 20 NIL (\"attachment\" (\"filename\" \"beach.jpg\")) NIL NIL) \
\"mixed\" (\"boundary\" \"f2\") NIL NIL NIL) 19 NIL (\"inline\" NIL) NIL NIL) \
\"mixed\" (\"boundary\" \"f1\") NIL NIL NIL)"
    );
}

#[test]
fn rfc2047_subjects() {
    let (env, _, bs) = render_fixture("rfc2047-subjects");
    // ENVELOPE keeps encoded words raw (Dovecot); folding is removed.
    assert_eq!(
        env,
        "(\"Wed, 5 Jun 2024 12:00:00 +0000\" \
\"=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= und =?ISO-8859-1?Q?caf=E9?=\" \
((\"=?UTF-8?Q?Chlo=C3=A9_Dupont?=\" NIL \"chloe\" \"example.com\")) \
((\"=?UTF-8?Q?Chlo=C3=A9_Dupont?=\" NIL \"chloe\" \"example.com\")) \
((\"=?UTF-8?Q?Chlo=C3=A9_Dupont?=\" NIL \"chloe\" \"example.com\")) \
((\"=?ISO-8859-1?Q?Ren=E9?=\" NIL \"rene\" \"example.fr\")) NIL NIL NIL NIL)"
    );
    assert_eq!(
        bs,
        "(\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 18 1 NIL NIL NIL NIL)"
    );
}

#[test]
fn rfc2231_filenames() {
    let (_, _, bs) = render_fixture("rfc2231-filename");
    // Dovecot merges continuations and reports extended values still
    // encoded, under "name*".
    assert_eq!(
        bs,
        "(\"application\" \"octet-stream\" (\"name*\" \"UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt\") \
NIL NIL \"base64\" 10 NIL (\"attachment\" (\"filename*\" \"iso-8859-1'fr'r%E9sum%E9.txt\")) NIL NIL)"
    );
}

#[test]
fn bare_lf_message() {
    let (_, _, bs) = render_fixture("bare-lf");
    // "line one\nline two" is 17 bytes, 18 as sent with CRLF; 1 line.
    assert_eq!(
        bs,
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1 NIL NIL NIL NIL) \
\"alternative\" (\"boundary\" \"b\") NIL NIL NIL)"
    );
}

#[test]
fn eight_bit_headers() {
    let (env, _, bs) = render_fixture("8bit-headers");
    // 8-bit text cannot be quoted: Dovecot sends a literal.
    assert_eq!(
        env,
        "(NIL {17}\r\nGrüße aus Köln (({15}\r\nJürgen Müller NIL \"juergen\" \"example.de\")) \
(({15}\r\nJürgen Müller NIL \"juergen\" \"example.de\")) \
(({15}\r\nJürgen Müller NIL \"juergen\" \"example.de\")) NIL NIL NIL NIL NIL)"
    );
    assert_eq!(
        bs,
        "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 9 1 NIL NIL NIL NIL)"
    );
}

#[test]
fn binary_with_nuls() {
    let (_, _, bs) = render_fixture("binary-nul");
    assert_eq!(
        bs,
        "((\"application\" \"octet-stream\" NIL NIL NIL \"binary\" 6 NIL NIL NIL NIL) \
\"mixed\" (\"boundary\" \"z\") NIL NIL NIL)"
    );
}

#[test]
fn truncated_multipart() {
    let (_, _, bs) = render_fixture("truncated-multipart");
    // No close delimiter: the last part runs to the end of the message.
    assert_eq!(
        bs,
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)\
(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 56 1 NIL NIL NIL NIL) \
\"mixed\" (\"boundary\" \"t\") NIL NIL NIL)"
    );
}

#[test]
fn overlong_header_line_not_parsed() {
    let (env, _, bs) = render_fixture("long-header");
    assert_eq!(
        env,
        "(NIL \"after long\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) \
((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)"
    );
    assert_eq!(
        bs,
        "(\"image\" \"png\" NIL NIL NIL \"7bit\" 6 NIL NIL NIL NIL)"
    );
}

#[test]
fn deep_nesting_is_opaque_beyond_limit() {
    let (_, body, _) = render_fixture("deep-nesting");
    let expected = format!(
        "{}(\"application\" \"octet-stream\" (\"boundary\" \"L20\") NIL NIL \"7bit\" 303){}",
        "(".repeat(20),
        " \"mixed\")".repeat(20)
    );
    assert_eq!(body, expected);
}

#[test]
fn mutated_fixtures_render_well_formed() {
    for m in mutated_fixtures() {
        assert_well_formed(&m);
    }
}

#[test]
fn generated_corpus_renders_well_formed() {
    let Some(messages) = corpus_messages() else {
        println!("skipped: python3 or gen-corpus.py unavailable");
        return;
    };
    for m in &messages {
        assert_well_formed(m);
    }
}

/// Every rendering of `raw` is one parenthesised value.
fn assert_well_formed(raw: &[u8]) {
    let (env, body, bs) = render(&summarize(raw));
    for rendered in [&env, &body, &bs] {
        assert!(
            rendered.starts_with('(') && rendered.ends_with(')'),
            "{rendered}"
        );
    }
}
