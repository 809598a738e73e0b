//! SEARCH TEXT/BODY through the encrypted full-text index (issue 13,
//! `doc/fts.md`), end to end with the real binary: answers equal the
//! linear scan's (the same searches in a session whose index is made
//! unusable), new and expunged mail are reflected, SORT and ESEARCH go
//! through it, nothing of the text is readable on disk, and a session
//! killed at every index crash point leaves a store and an index that
//! answer correctly.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{seed, wait_exit, Client, Guard, Root};

const USER: &str = "fts";
const PASS: &str = "pw-fts";

fn lit(s: &str) -> String {
    format!("{{{}+}}\r\n{s}", s.len())
}

const WORDS: &[&str] = &[
    "alpha",
    "Bravo",
    "MEETING",
    "review",
    "preview",
    "budget",
    "Grüße",
    "façade",
    "Straße",
    "ΣΊΣΥΦΟΣ",
    "русский",
    "日本語のテキスト",
    "東京",
    "report",
    "x1",
    "zulu",
];

/// A deterministic corpus: plain, quoted-printable with soft breaks,
/// base64, Latin-1, encoded-word subjects, HTML and attachments.
fn corpus(n: usize, salt: usize) -> Vec<Vec<u8>> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    (0..n)
        .map(|i| {
            let w = |k: usize| WORDS[(i * 7 + k * 3 + salt) % WORDS.len()];
            let body = format!(
                "tok{i}x{salt} {} {} {}, {} {}\n{} {}-{} zqxmark{i}",
                w(0), w(1), w(2), w(3), w(4), w(5), w(6), w(7)
            );
            let subject = format!("=?utf-8?b?{}?= {}", b64(&format!("{} {}", w(8), w(9))), w(10));
            let head = format!(
                "From: S{i} <s{i}@example.org>\r\nTo: r@example.net\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            );
            let part = match i % 4 {
                0 => format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n", body.replace('\n', "\r\n")),
                1 => {
                    // Quoted-printable with a soft break inside every word.
                    let mut q = String::new();
                    for (k, b) in body.bytes().enumerate() {
                        if k % 5 == 4 {
                            q.push_str("=\r\n");
                        }
                        match b {
                            b'\n' => q.push_str("\r\n"),
                            b if b.is_ascii_alphanumeric() || b == b' ' => q.push(b as char),
                            b => q.push_str(&format!("={b:02X}")),
                        }
                    }
                    format!("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{q}\r\n")
                }
                2 => format!(
                    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
                    b64(&format!("<p>{body}</p>")),
                    b64("attachedonly alpha")
                ),
                _ => {
                    let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(&body);
                    let mut m = b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
                    m.extend_from_slice(&latin);
                    m.extend_from_slice(b"\r\n");
                    return [head.into_bytes(), m].concat();
                }
            };
            (head + &part).into_bytes()
        })
        .collect()
}

/// The searches compared: words, substrings, phrases, 8-bit needles,
/// NOT and OR, UID SEARCH, ESEARCH and SORT.
fn searches() -> Vec<String> {
    let mut v: Vec<String> = [
        "SEARCH TEXT alpha",
        "SEARCH BODY alpha",
        "SEARCH BODY attachedonly",
        "SEARCH TEXT meeting",
        "SEARCH BODY EETIN",
        "SEARCH TEXT \"budget review\"",
        "SEARCH BODY \"review, \"",
        "SEARCH BODY \"-\"",
        "SEARCH BODY \"\"",
        "SEARCH TEXT e",
        "SEARCH TEXT tok1",
        "SEARCH TEXT zqxmark",
        "SEARCH NOT BODY alpha",
        "SEARCH OR BODY zulu TEXT bravo",
        "SEARCH OR BODY zulu NOT TEXT bravo",
        "SEARCH UNSEEN BODY report",
        "SEARCH SUBJECT zulu BODY x1",
        "UID SEARCH BODY report",
        "SEARCH RETURN (MIN MAX COUNT ALL) TEXT review",
        "SORT (REVERSE SUBJECT) UTF-8 BODY preview",
        "SEARCH FROM s1 BODY review",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for n in [
        "grüße",
        "GRÜSSE",
        "straße",
        "σίσυφοσ",
        "日本",
        "テキスト",
        "東京 ",
        "façade",
        "РУССКИЙ",
    ] {
        v.push(format!("SEARCH CHARSET UTF-8 TEXT {}", lit(n)));
        v.push(format!("SEARCH CHARSET UTF-8 BODY {}", lit(n)));
    }
    v
}

/// `serve imaps` on a socket pair, optionally set to abort at `crash`.
fn spawn(root: &Root, crash: Option<&str>) -> (Child, Client) {
    let (child, sock) = root.serve("imaps", crash, Stdio::null());
    // Building the index of the whole corpus under load takes longer than
    // the harness's usual bound.
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    (child, Client::imaps_ok(sock))
}

fn session(root: &Root) -> (Guard, Client) {
    let (child, mut c) = spawn(root, None);
    assert!(c.login(USER, PASS).contains(" OK "));
    c.ok("SELECT INBOX");
    (Guard(child), c)
}

/// The untagged answer of each search (the tagged line must be OK).
fn answers(c: &mut Client) -> Vec<String> {
    searches()
        .iter()
        .map(|s| {
            let r = c.transcript(s);
            let last = r.lines().last().unwrap_or_default();
            assert!(last.contains(" OK "), "{s}: {r}");
            // ESEARCH echoes the tag, which differs between sessions.
            let body: Vec<String> = r
                .lines()
                .filter(|l| l.starts_with("* "))
                .map(|l| match l.split_once("(TAG \"") {
                    Some((a, b)) => format!("{a}{}", b.split_once(')').map_or("", |x| x.1)),
                    None => l.to_owned(),
                })
                .collect();
            format!("{s} => {}", body.join(" | "))
        })
        .collect()
}

fn user_dir(root: &Root) -> PathBuf {
    std::fs::canonicalize(root.path().join("users").join(USER)).unwrap()
}

/// The index directories of every mailbox of the user.
fn index_dirs(root: &Root) -> Vec<PathBuf> {
    let m = user_dir(root).join("mailboxes");
    std::fs::read_dir(m)
        .unwrap()
        .map(|e| e.unwrap().path().join("fts"))
        .filter(|p| p.exists())
        .collect()
}

fn root_with(label: &str, msgs: &[Vec<u8>]) -> Root {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    seed(&root, USER, PASS, "INBOX", &refs);
    root
}

/// The answers of a session that cannot use an index: the mailbox's `fts`
/// replaced by a plain file, which the store refuses (and then scans).
fn scan_answers(root: &Root) -> Vec<String> {
    for d in index_dirs(root) {
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::write(&d, b"not an index").unwrap();
    }
    let (_g, mut c) = session(root);
    let a = answers(&mut c);
    for d in index_dirs(root) {
        assert!(d.is_file(), "the refused index was left alone");
        std::fs::remove_file(&d).unwrap();
    }
    a
}

#[test]
fn rfc9051_6_4_4_indexed_search_equals_the_linear_scan() {
    let root = root_with("fts-equal", &corpus(40, 0));
    let (_g, mut c) = session(&root);
    c.ok("STORE 1:10 +FLAGS (\\Seen)");
    let indexed = answers(&mut c);
    assert_eq!(index_dirs(&root).len(), 1, "SEARCH TEXT built an index");
    // Spot checks that the answers are not all empty.
    assert!(indexed[0].contains("* SEARCH 1 "), "{}", indexed[0]);
    assert!(indexed[2].ends_with("* SEARCH"), "{}", indexed[2]);
    // Mail arriving, flags and expunges after the index was built.
    let more = corpus(12, 5);
    for m in &more {
        c.append("INBOX", &[], m).unwrap();
    }
    c.ok("STORE 3,7,41 +FLAGS (\\Deleted)");
    c.ok("EXPUNGE");
    let after = answers(&mut c);
    assert_ne!(after, indexed, "the new mail and the expunges show");
    drop(c);
    let scanned = scan_answers(&root);
    for (a, b) in after.iter().zip(&scanned) {
        assert_eq!(a, b);
    }
    // And a fresh session reading the index other sessions wrote.
    let (_g2, mut c2) = session(&root);
    assert_eq!(answers(&mut c2), after);
}

#[test]
fn rfc9051_6_4_4_index_reveals_no_word_on_disk() {
    let root = root_with("fts-leak", &corpus(30, 1));
    let (_g, mut c) = session(&root);
    let r = c.transcript("SEARCH TEXT zqxmark17");
    assert!(
        r.contains("* SEARCH 18\r\n") || r.contains("* SEARCH 18"),
        "{r}"
    );
    assert_eq!(index_dirs(&root).len(), 1);
    let mut files = Vec::new();
    walk(&user_dir(&root), &mut files);
    let markers = [
        "zqxmark",
        "meeting",
        "MEETING",
        "Grüße",
        "gr\u{fc}\u{df}e",
        "review",
        "attachedonly",
    ];
    for p in files {
        let data = std::fs::read(&p).unwrap();
        for m in markers {
            assert!(
                !data.windows(m.len()).any(|w| w == m.as_bytes()),
                "{m:?} readable in {}",
                p.display()
            );
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

/// Kills a session at each crash point of the index writer (the compaction
/// points need more than eight segments: one per SEARCH after new mail);
/// a normal session then answers exactly like the scan.
#[test]
fn rfc9051_6_4_4_index_crash_points_leave_correct_answers() {
    for point in [
        "fts.after-segment",
        "fts.before-manifest",
        "fts.after-manifest",
        "fts.compact-after-segment",
        "fts.compact-after-manifest",
    ] {
        let root = root_with(&format!("fts-crash-{point}"), &corpus(20, 2));
        let (child, mut c) = spawn(&root, Some(point));
        let mut guard = Guard(child);
        assert!(c.login(USER, PASS).contains(" OK "));
        c.ok("SELECT INBOX");
        let mut died = false;
        for (i, m) in corpus(30, 3).iter().enumerate() {
            if c.try_run(&format!("SEARCH TEXT tok{i}x")).is_err() {
                died = true;
                break;
            }
            c.append("INBOX", &[], m).unwrap();
            c.ok("NOOP");
        }
        assert!(died, "{point}: the session did not die");
        let status = wait_exit(&mut guard.0, Duration::from_secs(30)).expect("exits");
        assert_eq!(
            status.signal(),
            Some(nix::sys::signal::Signal::SIGABRT as i32),
            "{point}"
        );
        let (_g, mut c) = session(&root);
        let indexed = answers(&mut c);
        drop(c);
        assert_eq!(indexed, scan_answers(&root), "{point}");
    }
}

/// RFC 5267 §4.3: a `SEARCH RETURN (UPDATE)` context whose program was
/// answered by the index keeps working for mail that arrives later (not
/// covered by the answer it kept: evaluated by the matcher).
#[test]
fn rfc5267_4_3_context_update_through_the_index() {
    let root = root_with("fts-context", &corpus(10, 4));
    let (_g, mut c) = session(&root);
    let (_g2, mut b) = session(&root);
    let r = c.transcript("SEARCH RETURN (UPDATE COUNT) BODY zqxmark");
    assert!(r.contains("COUNT 10"), "{r}");
    b.append(
        "INBOX",
        &[],
        b"Subject: late\r\n\r\nlate zqxmark99 and Gr\xc3\xbc\xc3\x9fe\r\n",
    )
    .unwrap();
    b.append("INBOX", &[], b"Subject: other\r\n\r\nnothing here\r\n")
        .unwrap();
    let r = c.transcript("NOOP");
    assert!(r.contains("ADDTO (0 11)"), "{r}");
    assert!(!r.contains(" 12)"), "{r}");
}

/// The bytes of INBOX's index manifest, once it exists.
fn manifest(root: &Root) -> Option<Vec<u8>> {
    index_dirs(root)
        .iter()
        .find_map(|d| std::fs::read(d.join("manifest")).ok())
}

/// Waits (at most 30 s) until `manifest` differs from `old`.
fn manifest_changed(root: &Root, old: Option<&[u8]>) -> Vec<u8> {
    for _ in 0..300 {
        if let Some(m) = manifest(root) {
            if Some(m.as_slice()) != old {
                return m;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the index was not written while the client idled");
}

/// Mail is indexed as it arrives, not at the first search: a session
/// idling on INBOX indexes the mail already there and then what another
/// session appends, with no SEARCH sent by anyone, and still answers DONE.
#[test]
fn rfc2177_idling_session_indexes_mail_as_it_arrives() {
    let root = root_with("fts-idle", &corpus(3, 5));
    assert!(manifest(&root).is_none(), "no index before anyone idles");
    let (_g, mut a) = session(&root);
    let (_g2, mut b) = session(&root);
    let tag = a.start("IDLE");
    assert_eq!(a.line(), "+ idling");
    let first = manifest_changed(&root, None);
    b.append("INBOX", &[], b"Subject: new\r\n\r\narrives zqxidle\r\n")
        .unwrap();
    assert_eq!(a.line(), "* 4 EXISTS");
    manifest_changed(&root, Some(&first));
    a.send(b"DONE\r\n");
    let end = a.until_tagged(&tag);
    assert!(end.last().is_some_and(|l| l.contains(" OK ")), "{end:?}");
    let r = b.transcript("SEARCH BODY zqxidle");
    assert!(r.contains("* SEARCH 4"), "{r}");
}
