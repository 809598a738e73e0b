//! The real `crymap-like deliver` binary: exit codes, CRLF conversion,
//! instructions honoured when a session files the spool, size limit and
//! crash before the rename. Run as root, it also exercises the drop to the
//! directory's owner and the chroot.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crymap_like::crypto::kdf::KdfParams;
use crymap_like::store::account::{AccountLog, MailboxName};
use crymap_like::store::create::create_user;
use crymap_like::store::mailbox::{Mailbox, UserKeys};
use crymap_like::store::spool;
use crymap_like::store::types::Flag;
use crymap_like::store::user_file::UserFile;

const PASSWORD: &[u8] = b"pw";

struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chown_tree(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path(), uid);
        }
    }
}

fn setup(tag: &str) -> (Root, PathBuf) {
    let root =
        std::env::temp_dir().join(format!("crymap-like-deliver-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("users")).unwrap();
    let user = root.join("users").join("alice");
    create_user(&user, PASSWORD, &KdfParams::insecure_for_tests(), "%Y-%m").unwrap();
    if nix::unistd::geteuid().is_root() {
        chown_tree(&user, 65534);
    }
    (Root(root), user)
}

fn deliver(root: &Path, args: &[&str], input: &[u8], crash: Option<&str>) -> i32 {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crymap-like"));
    cmd.arg("deliver")
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    common::crash_at(&mut cmd, crash);
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The child may refuse early (large input); a broken pipe is expected then.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait().unwrap().code().unwrap_or(-1)
}

fn spool_count(user: &Path) -> usize {
    std::fs::read_dir(user.join("spool")).unwrap().count()
}

fn open(user: &Path, name: &str) -> Mailbox {
    let master = UserFile::load(user).unwrap().unlock(PASSWORD).unwrap();
    let keys = UserKeys::new(user, master);
    let mut acct = AccountLog::open(user, keys.master()).unwrap();
    spool::file_pending(user, &keys, &mut acct).unwrap();
    acct.refresh().unwrap();
    let info = acct
        .state()
        .mailbox(&MailboxName::parse(name).unwrap())
        .unwrap()
        .clone();
    Mailbox::open(keys, user, &info.id, info.uid_validity).unwrap()
}

#[test]
fn cli_deliver_converts_and_files_with_instructions() {
    let (root, user) = setup("ok");
    let code = deliver(
        &root.0,
        &["--user", "alice"],
        b"Subject: hi\n\nline\n",
        None,
    );
    assert_eq!(code, 0);
    let code = deliver(
        &root.0,
        &[
            "--user",
            "alice",
            "--mailbox",
            "Lists/rust",
            "--create",
            "--flag",
            "\\Flagged",
        ],
        b"Subject: list\r\n\r\nx\r\n",
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(spool_count(&user), 2);
    let inbox = open(&user, "INBOX");
    assert_eq!(spool_count(&user), 0);
    let uid = inbox.uids().next().unwrap();
    let body = inbox.open_message(uid).unwrap().read_all().unwrap();
    assert_eq!(body, b"Subject: hi\r\n\r\nline\r\n");
    let list = open(&user, "Lists/rust");
    let uid = list.uids().next().unwrap();
    assert_eq!(list.info(uid).unwrap().flags, vec![Flag::Flagged]);
}

#[test]
fn cli_deliver_exit_codes_for_unknown_user_oversize_and_crash() {
    let (root, user) = setup("codes");
    assert_eq!(deliver(&root.0, &["--user", "bob"], b"x\r\n", None), 67);
    assert_eq!(deliver(&root.0, &["--user", "../x"], b"x\r\n", None), 67);
    assert_eq!(deliver(&root.0, &["--bogus"], b"x\r\n", None), 64);
    let big = vec![b'a'; 64 * 1024 * 1024 + 1];
    assert_eq!(deliver(&root.0, &["--user", "alice"], &big, None), 65);
    assert_eq!(spool_count(&user), 0);
    let code = deliver(
        &root.0,
        &["--user", "alice"],
        b"Subject: c\r\n\r\n",
        Some("deliver.before-rename"),
    );
    assert_ne!(code, 0);
    assert_eq!(spool_count(&user), 0);
    let staged = std::fs::read_dir(user.join("tmp")).unwrap().count();
    assert!(staged <= 1, "only the crashed staging file may remain");
    assert_eq!(open(&user, "INBOX").exists(), 0);
    // Crashing after the rename: durable but unacknowledged (the MTA retries).
    let code = deliver(
        &root.0,
        &["--user", "alice"],
        b"Subject: d\r\n\r\n",
        Some("deliver.after-rename"),
    );
    assert_ne!(code, 0);
    assert_eq!(spool_count(&user), 1);
    assert_eq!(open(&user, "INBOX").exists(), 1);
}

/// An empty message is a mistake upstream, not mail: EX_DATAERR (65), and
/// nothing is stored (issue 7).
#[test]
fn cli_deliver_refuses_an_empty_message_with_ex_dataerr() {
    let (root, user) = setup("empty");
    assert_eq!(deliver(&root.0, &["--user", "alice"], b"", None), 65);
    assert_eq!(spool_count(&user), 0);
    assert_eq!(open(&user, "INBOX").exists(), 0);
}
