//! Tampering with the encrypted store: a flipped byte in a change-log
//! segment costs at most the record it hits (never wrong content), and the
//! session and the other messages keep working. (A flipped byte in a
//! message file is covered in `rfc9051_6_4_5_fetch.rs`.)

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::Duration;

use common::{fetched, msg, seed, Client, Guard, Root};

const USER: &str = "tess";
const PASS: &str = "tamper-pw";

fn session(root: &Root) -> (Guard, Client) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let theirs: OwnedFd = theirs.into();
    let out = theirs.try_clone().unwrap();
    let child = root
        .command(&["serve", "imaps"])
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (Guard(child), Client::imaps_ok(ours))
}

/// The one non-empty change-log segment of the account (INBOX's, the only
/// mailbox with messages).
fn inbox_segment(root: &Root) -> std::path::PathBuf {
    let mailboxes = root.path().join("users").join(USER).join("mailboxes");
    let mut found = Vec::new();
    for mb in std::fs::read_dir(mailboxes).unwrap() {
        let seg = mb.unwrap().path().join("log/00000001");
        if std::fs::metadata(&seg).is_ok_and(|m| m.len() > 0) {
            found.push(seg);
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[test]
fn tamper_flipped_byte_in_a_log_segment_costs_only_that_record() {
    let root = Root::new("tamper-log");
    root.add_user(USER, PASS);
    let seeds: Vec<Vec<u8>> = (1..=3).map(|i| msg(&format!("tamper-{i}"))).collect();
    let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    seed(&root, USER, PASS, "INBOX", &refs);

    // Frames are [u32 LE length][sealed record]; flip a byte inside the
    // second record's ciphertext.
    let seg = inbox_segment(&root);
    let mut bytes = std::fs::read(&seg).unwrap();
    let first_len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let second = 4 + first_len;
    assert!(
        bytes.len() > second + 4 + 40,
        "the segment holds several records"
    );
    bytes[second + 4 + 30] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();

    let (_g, mut c) = session(&root);
    assert!(c.login(USER, PASS).contains(" OK "));
    c.ok_run("SELECT INBOX");
    let shown = fetched(&c.ok_run("UID FETCH 1:* (UID BODY.PEEK[])"));
    let bodies: Vec<&Vec<u8>> = shown.iter().map(|m| &m.body).collect();
    // Whatever is shown is exactly one of the stored messages, once each.
    for b in &bodies {
        assert!(seeds.iter().any(|s| s == *b), "wrong content served");
    }
    let mut distinct = bodies.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), bodies.len(), "a message appears twice");
    // Only the damaged record is lost: at least two of the three remain.
    assert!(bodies.len() >= 2, "saw {} messages", bodies.len());
    // The session and the mailbox go on working.
    c.ok_run("NOOP");
    let extra = msg("tamper-after");
    let r = c.append("INBOX", &[], &extra).unwrap();
    assert!(r.last().unwrap().text.contains(" OK "), "{:?}", r.last());
    let shown = fetched(&c.ok_run("UID FETCH 1:* (BODY.PEEK[])"));
    assert!(shown.iter().any(|m| m.body == extra));
    c.ok_run("LOGOUT");
}
