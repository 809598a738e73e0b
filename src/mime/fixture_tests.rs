//! Fixture tests: what the parser makes of the messages in
//! `tests/fixtures/mime/` (sections, BINARY, search text, decoded
//! parameters, sizes), the generated corpus and deterministic mutations of
//! every fixture (the fuzz target's checks, run in CI). Test-only; never
//! compiled into the server.
//!
//! The exact ENVELOPE/BODY/BODYSTRUCTURE strings of the same fixtures are
//! IMAP renderings and live in `imap::wire::structure_fixtures`, which
//! borrows [`FIXTURES`], [`load`] and [`mutated_fixtures`], [`corpus_messages`] from here: a
//! test in `mime` never imports `imap` (doc/architecture.md).

use crate::mime::search_text;
use crate::mime::section::{self, SectionSpec, SectionText};
use crate::mime::summary::{Part, PartBody};
use crate::mime::{summarize, Summary};

/// The fixture names, files `tests/fixtures/mime/<name>.eml`.
pub(crate) const FIXTURES: &[&str] = &[
    "alt-in-mixed",
    "forwarded",
    "rfc2047-subjects",
    "rfc2231-filename",
    "bare-lf",
    "8bit-headers",
    "binary-nul",
    "truncated-multipart",
    "deep-nesting",
    "long-header",
];

/// The bytes of one fixture.
pub(crate) fn load(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/mime/{name}.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sect(raw: &[u8], s: &Summary, path: &[u32], text: SectionText) -> Vec<u8> {
    let spec = SectionSpec {
        path: path.to_vec(),
        text,
    };
    section::extract(s, &spec, raw)
        .expect("section")
        .into_owned()
}

#[test]
fn alt_in_mixed() {
    let raw = load("alt-in-mixed");
    let s = summarize(&raw);
    assert_eq!(
        sect(&raw, &s, &[1, 1], SectionText::Whole),
        b"Hello Bob,\r\nsee the report."
    );
    assert_eq!(
        sect(&raw, &s, &[1, 2], SectionText::Mime),
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    );
    assert_eq!(
        sect(&raw, &s, &[2], SectionText::Whole),
        b"JVBERi0xLjQKJcfsj6IK"
    );
    assert_eq!(
        section::extract_binary(&s, &[2], &raw).unwrap().as_ref(),
        b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n"
    );
    assert_eq!(
        sect(
            &raw,
            &s,
            &[],
            SectionText::HeaderFields(vec![b"subject".to_vec(), b"cc".to_vec()])
        ),
        b"Cc: \"Doe, John\" <john@example.com>\r\nSubject: Quarterly report\r\n\r\n"
    );
    let t = search_text::extract(&s, &raw);
    assert!(t.body_matches("SEE THE REPORT"));
    assert!(
        !t.body_matches("JVBERi0"),
        "non-text parts are not searched"
    );
}

#[test]
fn forwarded_message_with_attachments() {
    let raw = load("forwarded");
    let s = summarize(&raw);
    let inner_header = sect(&raw, &s, &[2], SectionText::Header);
    assert!(inner_header.starts_with(b"From: Carol <carol@example.net>\r\n"));
    assert!(inner_header.ends_with(b"boundary=\"f2\"\r\n\r\n"));
    assert_eq!(
        sect(&raw, &s, &[2, 1], SectionText::Whole),
        b"Photos attached."
    );
    assert_eq!(
        sect(&raw, &s, &[2, 2], SectionText::Mime),
        b"Content-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=beach.jpg\r\n\r\n"
    );
    assert_eq!(
        section::extract_binary(&s, &[2, 2], &raw).unwrap().as_ref(),
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01"
    );
    assert!(sect(&raw, &s, &[2], SectionText::Text).starts_with(b"--f2\r\n"));
    assert_eq!(
        sect(
            &raw,
            &s,
            &[2],
            SectionText::HeaderFields(vec![b"Subject".to_vec()])
        ),
        b"Subject: holiday\r\n\r\n"
    );
    let t = search_text::extract(&s, &raw);
    assert!(t.body_matches("photos attached"));
    assert!(
        t.body_matches("subject: holiday"),
        "encapsulated headers are body text"
    );
}

#[test]
fn rfc2047_subjects() {
    let raw = load("rfc2047-subjects");
    let s = summarize(&raw);
    assert_eq!(s.search.subject, "Grüße aus Köln und café");
    assert_eq!(s.search.from, "Chloé Dupont <chloe@example.com>");
    assert_eq!(s.search.to, "René <rene@example.fr>");
    assert_eq!(s.search.date.map(|d| d.unix_seconds), Some(1_717_588_800));
    assert_eq!(
        section::extract_binary(&s, &[1], &raw).unwrap().as_ref(),
        "Grüße!\r\n".as_bytes()
    );
    let t = search_text::extract(&s, &raw);
    // Simple case folding: capital sharp s folds to ß, never to "ss".
    assert!(t.body_matches("GRÜẞE"));
    assert!(!t.body_matches("grüsse"));
    assert!(t.text_matches("KÖLN UND CAFÉ"));
}

#[test]
fn rfc2231_filenames() {
    let raw = load("rfc2231-filename");
    let s = summarize(&raw);
    let c = &s.root.content;
    assert_eq!(
        crate::mime::params::decoded_value(&c.params, b"name").as_deref(),
        Some("日本語.txt")
    );
    let d = c
        .disposition
        .as_ref()
        .map(|d| d.params.as_slice())
        .unwrap_or_default();
    assert_eq!(
        crate::mime::params::decoded_value(d, b"filename").as_deref(),
        Some("résumé.txt")
    );
}

#[test]
fn bare_lf_message() {
    let raw = load("bare-lf");
    assert!(!raw.windows(2).any(|w| w == b"\r\n"));
    let s = summarize(&raw);
    assert_eq!(
        s.size,
        raw.len() as u64 + raw.iter().filter(|&&b| b == b'\n').count() as u64
    );
    let whole = sect(&raw, &s, &[], SectionText::Whole);
    assert_eq!(whole.len() as u64, s.size);
    assert_eq!(
        sect(&raw, &s, &[1], SectionText::Whole),
        b"line one\r\nline two"
    );
    let header_lfs = raw[..s.root.body_start as usize]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    assert_eq!(
        sect(&raw, &s, &[], SectionText::Header).len(),
        s.root.body_start as usize + header_lfs
    );
}

#[test]
fn eight_bit_headers() {
    let raw = load("8bit-headers");
    let s = summarize(&raw);
    assert_eq!(s.search.subject, "Grüße aus Köln");
    let t = search_text::extract(&s, &raw);
    assert!(t.text_matches("jürgen müller"));
}

#[test]
fn binary_with_nuls() {
    let raw = load("binary-nul");
    let s = summarize(&raw);
    assert_eq!(
        sect(&raw, &s, &[1], SectionText::Whole),
        b"\x00\x01\x02\x00\xff\xfe"
    );
    assert_eq!(
        section::extract_binary(&s, &[1], &raw).unwrap().as_ref(),
        b"\x00\x01\x02\x00\xff\xfe"
    );
}

#[test]
fn truncated_multipart() {
    let raw = load("truncated-multipart");
    let s = summarize(&raw);
    assert_eq!(
        sect(&raw, &s, &[2], SectionText::Whole),
        b"second, and the message ends without a close delimiter\r\n"
    );
}

fn depth(p: &Part) -> usize {
    match &p.body {
        PartBody::Single => 0,
        PartBody::Multipart(c) => 1 + c.iter().map(depth).max().unwrap_or(0),
        PartBody::Message { message, .. } => 1 + depth(message),
    }
}

#[test]
fn deep_nesting_is_opaque_beyond_limit() {
    let raw = load("deep-nesting");
    let s = summarize(&raw);
    assert_eq!(depth(&s.root), crate::mime::summary::MAX_DEPTH);
    // The opaque part still fetches byte for byte.
    let path = vec![1u32; 20];
    let opaque = sect(&raw, &s, &path, SectionText::Whole);
    assert!(opaque.starts_with(b"--L20\r\nContent-Type: multipart/mixed; boundary=L21\r\n"));
    assert_eq!(opaque.len(), 303);
}

#[test]
fn overlong_header_line_not_parsed() {
    let raw = load("long-header");
    let s = summarize(&raw);
    let header = sect(&raw, &s, &[], SectionText::Header);
    assert!(header.len() > 70 * 1024, "the long line is still fetched");
}

/// Every fixture, then 60 deterministic mutations of each (its first 4 KiB
/// with bytes changed, removed, inserted, truncated or duplicated), in the
/// same order on every run so CI exercises the same inputs.
pub(crate) fn mutated_fixtures() -> Vec<Vec<u8>> {
    // Deterministic xorshift.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for name in FIXTURES {
        let base = load(name);
        out.push(base.clone());
        let base = if base.len() > 4096 {
            base[..4096].to_vec()
        } else {
            base
        };
        for _ in 0..60 {
            let mut m = base.clone();
            for _ in 0..(1 + next() % 8) {
                if m.is_empty() {
                    break;
                }
                let at = (next() % m.len() as u64) as usize;
                match next() % 5 {
                    0 => m[at] = next() as u8,
                    1 => {
                        m.remove(at);
                    }
                    2 => m.insert(at, b"\r\n-=?:;\"<>("[(next() % 11) as usize]),
                    3 => m.truncate(at),
                    _ => {
                        let end = (at + (next() % 64) as usize).min(m.len());
                        let chunk = m[at..end].to_vec();
                        m.splice(at..at, chunk);
                    }
                }
            }
            out.push(m);
        }
    }
    out
}

/// The library's invariants (shared with the fuzz target).
fn check_invariants(raw: &[u8]) -> Summary {
    match super::invariants::check(raw) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn mutated_fixtures_keep_invariants() {
    for m in mutated_fixtures() {
        check_invariants(&m);
    }
}

#[test]
fn summary_round_trips_through_serde() {
    // The store picks the on-disk format; toml is the serde format at hand.
    let raw = load("forwarded");
    let s = summarize(&raw);
    let text = toml::to_string(&s).expect("serialise");
    let back: Summary = toml::from_str(&text).expect("deserialise");
    assert_eq!(back, s);
}

/// 200 messages from `../shared/bench/gen-corpus.py`, message `i` carrying
/// the body token `tok{i}`; `None` (the caller prints "skipped") when
/// python3 or the script is unavailable.
pub(crate) fn corpus_messages() -> Option<Vec<Vec<u8>>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/bench/gen-corpus.py");
    // Unique per call: the mime and imap fixture tests run concurrently.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mime-corpus-{}-{call}", std::process::id()));
    let mbox = dir.join("corpus.mbox");
    let ok = std::fs::create_dir_all(&dir).is_ok()
        && std::path::Path::new(script).exists()
        && std::process::Command::new("python3")
            .arg(script)
            .args(["--count", "200"])
            .arg(&mbox)
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let data = std::fs::read(&mbox).expect("corpus written");
    let _ = std::fs::remove_dir_all(&dir);
    let mut messages = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if !cur.is_empty() {
                messages.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.extend_from_slice(line);
    }
    if !cur.is_empty() {
        messages.push(cur);
    }
    assert_eq!(messages.len(), 200);
    Some(messages)
}

#[test]
fn generated_corpus() {
    let Some(messages) = corpus_messages() else {
        println!("skipped: python3 or gen-corpus.py unavailable");
        return;
    };
    let start = std::time::Instant::now();
    let summaries: Vec<Summary> = messages.iter().map(|m| summarize(m)).collect();
    println!(
        "summarised {} messages in {:?}",
        messages.len(),
        start.elapsed()
    );
    for (i, (m, s)) in messages.iter().zip(&summaries).enumerate() {
        check_invariants(m);
        let token = format!("tok{i}");
        assert!(
            search_text::extract(s, m).body_matches(&token),
            "message {i} lacks {token}"
        );
        assert!(s.envelope.message_id.is_some());
        assert!(!s.envelope.from.is_empty());
    }
}
