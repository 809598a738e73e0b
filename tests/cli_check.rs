//! `crymap-like check` and `check --repair` on the real binary, against
//! the damage the tamper and crash tests make: a flipped byte in a
//! change-log segment (tests/tamper.rs), a flipped byte in a message file
//! (tests/imap_fetch.rs), a lost or torn summary, a missing message file,
//! a damaged private key, and the unreferenced file an append interrupted
//! after its file was written leaves (tests/crash.rs `append.after-file`).
//! `--repair` restores what it says it restores and deletes nothing.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const PW: &str = "pw";

fn check(root: &Root, repair: bool) -> (i32, String) {
    let mut args = vec!["check", "ida", "--password-stdin"];
    if repair {
        args.push("--repair");
    }
    let out = run_with_stdin(root.command(&args), b"pw\n");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn setup(label: &str) -> (Root, PathBuf) {
    let root = Root::new(label);
    root.add_user("ida", PW);
    let msgs: Vec<Vec<u8>> = (1..=3)
        .map(|i| format!("Subject: m{i}\r\n\r\nbody {i}\r\n").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    seed(&root, "ida", PW, "INBOX", &refs);
    let user = std::fs::canonicalize(root.path().join("users/ida")).unwrap();
    (root, user)
}

/// INBOX's directory (the one mailbox with messages) and its message files.
fn inbox(user: &Path) -> (PathBuf, Vec<PathBuf>) {
    for mb in std::fs::read_dir(user.join("mailboxes")).unwrap().flatten() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(mb.path().join("msg"))
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|fan| {
                std::fs::read_dir(fan.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path())
            })
            .filter(|p| !p.to_string_lossy().ends_with(".sum"))
            .collect();
        if !files.is_empty() {
            files.sort();
            return (mb.path(), files);
        }
    }
    panic!("no messages");
}

fn sum_of(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sum", p.display()))
}

#[test]
fn cli_check_intact_account_passes_and_wrong_password_is_77() {
    let (root, _) = setup("check-ok");
    let (code, text) = check(&root, false);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("3 message(s)") && text.contains("0 problem(s)"),
        "{text}"
    );
    let out = run_with_stdin(
        root.command(&["check", "ida", "--password-stdin"]),
        b"bad\n",
    );
    assert_eq!(out.status.code(), Some(77));
    let out = run_with_stdin(root.command(&["check", "zoe", "--password-stdin"]), b"pw\n");
    assert_eq!(out.status.code(), Some(67));
}

/// Summaries live in the message file's header (format 3); one whose
/// sealing was damaged there, and one lost (a file as older builds wrote
/// it, whose `.sum` is gone), are found; `--repair` stores each beside
/// its file, after which nothing is left to report.
#[test]
fn tamper_check_lost_and_tampered_summaries_are_found_and_recomputed() {
    let (root, user) = setup("check-sum");
    let (_, files) = inbox(&user);
    assert!(files.iter().all(|f| message_files::version(f) == 3));
    assert!(files.iter().all(|f| !sum_of(f).exists()));
    message_files::set_header_summary(&files[0], None);
    let mut torn = message_files::header_summary(&files[1]).unwrap();
    torn[10] ^= 1;
    message_files::set_header_summary(&files[1], Some(&torn));
    let (code, text) = check(&root, false);
    assert_eq!(code, 65, "{text}");
    assert!(
        text.contains("missing: INBOX: summary of message UID"),
        "{text}"
    );
    assert!(
        text.contains("in its file's header fails authentication"),
        "{text}"
    );
    let (code, text) = check(&root, true);
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.matches("(repaired)").count(), 2, "{text}");
    assert!(sum_of(&files[0]).exists() && sum_of(&files[1]).exists());
    let (code, text) = check(&root, false);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 problem(s), 0 repaired"), "{text}");
    // A `.sum` damaged beside a file without one in its header is found
    // too, as before.
    let mut torn = std::fs::read(sum_of(&files[0])).unwrap();
    torn[10] ^= 1;
    std::fs::write(sum_of(&files[0]), torn).unwrap();
    let (code, text) = check(&root, false);
    assert_eq!(code, 65, "{text}");
    assert!(
        text.contains("damaged: INBOX: summary of message UID")
            && text.contains("fails authentication")
            && !text.contains("header"),
        "{text}"
    );
}

#[test]
fn tamper_check_flipped_log_record_is_found_and_a_fresh_snapshot_moves_past_it() {
    let (root, user) = setup("check-log");
    let (mb, files) = inbox(&user);
    let seg = mb.join("log/00000001");
    let mut bytes = std::fs::read(&seg).unwrap();
    let first_len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let second = 4 + first_len;
    bytes[second + 4 + 30] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let (code, text) = check(&root, false);
    assert_eq!(code, 65, "{text}");
    assert!(
        text.contains("change-log record(s) fail authentication"),
        "{text}"
    );
    let (code, text) = check(&root, true);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(repaired)"), "{text}");
    let (code, text) = check(&root, false);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("fail authentication"), "{text}");
    // Nothing was deleted: every message file is still there.
    for f in &files {
        assert!(f.exists(), "{}", f.display());
    }
}

#[test]
fn tamper_check_damaged_and_missing_messages_and_keys_are_reported_never_deleted() {
    let (root, user) = setup("check-msg");
    let (mb, files) = inbox(&user);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x40;
    std::fs::write(&files[0], &bytes).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    // What an append interrupted after its file leaves: a file no record names.
    let orphan = files[2].with_file_name("0123456789abcdef0123456789abcdef");
    std::fs::copy(&files[2], &orphan).unwrap();
    let priv_key = std::fs::read_dir(user.join("keys"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "priv"))
        .unwrap();
    let mut k = std::fs::read(&priv_key).unwrap();
    k[20] ^= 1;
    std::fs::write(&priv_key, k).unwrap();

    for repair in [false, true] {
        let (code, text) = check(&root, repair);
        assert_eq!(code, 65, "{text}");
        assert!(
            text.contains("damaged: INBOX: message UID") && text.contains("cannot be read"),
            "{text}"
        );
        assert!(
            text.contains("missing: INBOX: message UID") && text.contains("has no file"),
            "{text}"
        );
        assert!(
            text.contains("note: INBOX: file") && text.contains("belongs to no message"),
            "{text}"
        );
        assert!(text.contains("damaged: key "), "{text}");
    }
    assert!(
        files[0].exists() && orphan.exists(),
        "repair deleted something"
    );
    assert!(mb.join("log/00000001").exists());
}
