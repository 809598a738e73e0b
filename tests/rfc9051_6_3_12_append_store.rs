//! What an APPEND (RFC 9051 §6.3.12) leaves in the store, over the real
//! binary (issue 12, one APPEND at a time ≥ 1,000/s): a burst into a fresh
//! mailbox fills one or two fan-out directories instead of up to 256, each
//! message is one file (its summary sealed into its header, no `.sum`),
//! FETCH ENVELOPE/BODYSTRUCTURE answer from that stored summary, a
//! summary moved into another file's header is refused, and files as
//! older builds wrote them (no summary inside, one beside) still read
//! (`doc/store.md`, "Clustered fan-out" and "Summaries").

mod common;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use common::message_files::{header_summary, set_header_summary, version};
use common::{fetched, texts, Root, Session};

const USER: &str = "ada";
const PASS: &str = "append store pw";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The fan-out directory names (`msg/XX`) of every mailbox of the user,
/// and the files in them.
fn store_files(user: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for mb in std::fs::read_dir(user.join("mailboxes")).unwrap().flatten() {
        let Ok(fans) = std::fs::read_dir(mb.path().join("msg")) else {
            continue;
        };
        for fan in fans.flatten() {
            dirs.push(fan.file_name().to_string_lossy().into_owned());
            files.extend(
                std::fs::read_dir(fan.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path()),
            );
        }
    }
    dirs.sort();
    files.sort();
    (dirs, files)
}

fn setup(label: &str) -> (Root, PathBuf) {
    let root = Root::new(label);
    let user = root.add_user(USER, PASS);
    let user = std::fs::canonicalize(user).unwrap();
    (root, user)
}

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: r@example.org\r\nSubject: burst {i}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nbody {i}\r\n--b\r\n\
         Content-Type: application/octet-stream\r\n\r\nattachment {i}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn append_one(s: &mut Session, mailbox: &str, data: &[u8]) {
    let r = s.append(mailbox, &[], data).expect("APPEND");
    assert_eq!(r.last().unwrap().status(), Some("OK"), "{:?}", texts(&r));
}

/// 200 APPENDs, one at a time, then a MULTIAPPEND of 10 (the batch path,
/// one `syncfs`), into a freshly created mailbox: every file's directory
/// is the 16-second period in which it was appended, so the burst uses at
/// most the periods it spanned (one or two here, where random names used
/// about 140 directories), and no message has a `.sum` beside it.
#[test]
fn rfc9051_6_3_12_append_burst_into_a_fresh_mailbox_fills_few_fanout_directories() {
    let (root, user) = setup("append-burst");
    let mut s = Session::login(&root, USER, PASS);
    s.ok_run("CREATE Burst");
    let start = now();
    for i in 0..200 {
        append_one(&mut s, "Burst", &message(i));
    }
    let batch = (200..210)
        .map(|i| common::client::literal(message(i)))
        .collect();
    let r = s.append_all("Burst", batch).expect("MULTIAPPEND");
    assert_eq!(r.last().unwrap().status(), Some("OK"), "{:?}", texts(&r));
    let end = now();
    let (dirs, files) = store_files(&user);
    let periods: Vec<String> = (start / 16..=end / 16)
        .map(|p| format!("{:02x}", p % 256))
        .collect();
    assert!(
        dirs.iter().all(|d| periods.contains(d)),
        "{dirs:?} outside the periods {periods:?} of the burst"
    );
    assert!(dirs.len() <= periods.len(), "{dirs:?}");
    assert_eq!(files.len(), 210, "one file per message: {files:?}");
    assert!(files.iter().all(|f| version(f) == 3), "summaries inside");
    let r = s.ok_run("EXAMINE Burst");
    assert!(texts(&r).iter().any(|t| t.contains("210 EXISTS")));
    let shown = fetched(&s.ok_run("UID FETCH 1,200,210 (BODY.PEEK[])"));
    let bodies: Vec<Vec<u8>> = shown.into_iter().map(|f| f.body).collect();
    assert_eq!(bodies, vec![message(0), message(199), message(209)]);
}

/// The stored summary answers FETCH ENVELOPE and BODYSTRUCTURE, not a
/// parse of the content: with the content's last chunk damaged (so the
/// content can no longer be read at all), both still answer exactly as
/// before, BODY[] fails with NO, and no summary was recomputed (a
/// recomputed one would have been stored as `.sum`).
#[test]
fn rfc9051_6_3_12_appended_message_is_one_file_and_envelope_comes_from_its_stored_summary() {
    let (root, user) = setup("append-summary");
    let mut s = Session::login(&root, USER, PASS);
    append_one(&mut s, "INBOX", &message(1));
    let (_, files) = store_files(&user);
    assert_eq!(files.len(), 1, "no .sum beside the file: {files:?}");
    let file = &files[0];
    assert_eq!(version(file), 3);
    s.ok_run("EXAMINE INBOX");
    let before = texts(&s.ok_run("FETCH 1 (ENVELOPE BODYSTRUCTURE)"));
    assert!(before[0].contains("\"burst 1\""), "{before:?}");
    assert!(
        before[0].contains("\"application\" \"octet-stream\""),
        "{before:?}"
    );
    s.ok_run("LOGOUT");
    let mut bytes = std::fs::read(file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(file, &bytes).unwrap();
    let mut s = Session::login(&root, USER, PASS);
    s.ok_run("EXAMINE INBOX");
    let after = texts(&s.ok_run("FETCH 1 (ENVELOPE BODYSTRUCTURE)"));
    assert_eq!(after[0], before[0]);
    let body = texts(&s.run("FETCH 1 (BODY.PEEK[])"));
    assert!(body.last().unwrap().contains(" NO "), "{body:?}");
    let (_, files) = store_files(&user);
    assert_eq!(files.len(), 1, "nothing recomputed: {files:?}");
}

/// A summary moved from one file's header into another's (the attacker
/// with the user's uid can move sealed bytes, not forge them) fails
/// authentication: it is sealed for the other file's name. The victim's
/// ENVELOPE is its own (recomputed from its content and stored beside
/// it), never the moved one, and its content fetches byte for byte.
#[test]
fn tamper_summary_moved_into_another_files_header_is_refused() {
    let (root, user) = setup("append-swap");
    let mut s = Session::login(&root, USER, PASS);
    append_one(&mut s, "INBOX", &message(1));
    append_one(&mut s, "INBOX", &message(2));
    s.ok_run("LOGOUT");
    let (_, files) = store_files(&user);
    assert_eq!(files.len(), 2, "{files:?}");
    let (a, b) = (&files[0], &files[1]);
    let from_a = header_summary(a).unwrap();
    set_header_summary(b, Some(&from_a));
    assert_eq!(header_summary(b).as_deref(), Some(&from_a[..]));
    let mut s = Session::login(&root, USER, PASS);
    s.ok_run("EXAMINE INBOX");
    let envs = texts(&s.ok_run("FETCH 1:2 (ENVELOPE)"));
    let subjects: Vec<bool> = envs
        .iter()
        .take(2)
        .map(|t| t.contains("\"burst 1\""))
        .collect();
    assert_eq!(subjects.iter().filter(|x| **x).count(), 1, "{envs:?}");
    assert!(envs.iter().any(|t| t.contains("\"burst 2\"")), "{envs:?}");
    let shown = fetched(&s.ok_run("UID FETCH 1:2 (BODY.PEEK[])"));
    let bodies: Vec<Vec<u8>> = shown.into_iter().map(|f| f.body).collect();
    assert_eq!(bodies, vec![message(1), message(2)]);
    let b_sum = PathBuf::from(format!("{}.sum", b.display()));
    assert!(b_sum.exists(), "the victim's own summary, stored beside it");
    assert!(!PathBuf::from(format!("{}.sum", a.display())).exists());
}

/// A file as older builds wrote it (format 2, no summary inside) still
/// reads: its summary is computed once and stored as `.sum`, and that
/// `.sum` answers afterwards even when the content can no longer be read.
#[test]
fn rfc9051_6_3_12_older_files_and_their_summary_files_still_read() {
    let (root, user) = setup("append-old");
    let mut s = Session::login(&root, USER, PASS);
    append_one(&mut s, "INBOX", &message(7));
    s.ok_run("LOGOUT");
    let (_, files) = store_files(&user);
    let file = files[0].clone();
    set_header_summary(&file, None);
    assert_eq!(version(&file), 2);
    let mut s = Session::login(&root, USER, PASS);
    s.ok_run("EXAMINE INBOX");
    let first = texts(&s.ok_run("FETCH 1 (ENVELOPE BODYSTRUCTURE)"));
    assert!(first[0].contains("\"burst 7\""), "{first:?}");
    let shown = fetched(&s.ok_run("UID FETCH 1 (BODY.PEEK[])"));
    assert_eq!(shown[0].body, message(7));
    s.ok_run("LOGOUT");
    let sum = PathBuf::from(format!("{}.sum", file.display()));
    assert!(sum.exists());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let mut s = Session::login(&root, USER, PASS);
    s.ok_run("EXAMINE INBOX");
    let again = texts(&s.ok_run("FETCH 1 (ENVELOPE BODYSTRUCTURE)"));
    assert_eq!(again[0], first[0]);
}
