//! The command line itself, on the real binary: `--help` and `--version`
//! on every command, the sysexits codes of usage errors, `user list`,
//! `user show` (with and without the password), `user remove` (which asks
//! first), and the generated man pages and completions.

mod common;

use common::*;

/// Every command path the binary has.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["serve"],
    &["serve", "imaps"],
    &["serve", "imap"],
    &["serve", "lmtp"],
    &["listen"],
    &["deliver"],
    &["user"],
    &["user", "add"],
    &["user", "list"],
    &["user", "show"],
    &["user", "remove"],
    &["remote"],
    &["remote", "test"],
    &["remote", "chpw"],
    &["remote", "config"],
    &["demo"],
    &["import"],
    &["export"],
    &["check"],
    &["manpages"],
    &["completions"],
];

#[test]
fn cli_every_command_has_help_and_version() {
    for cmd in COMMANDS {
        let out = std::process::Command::new(bin())
            .args(*cmd)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{cmd:?} --help");
        assert!(text.contains("Usage: crymap-like"), "{cmd:?}: {text}");
        let out = std::process::Command::new(bin())
            .args(*cmd)
            .arg("--version")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd:?} --version");
        assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn cli_usage_errors_exit_64() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["serve"],
        &["serve", "pop3"],
        &["deliver", "--bogus"],
        &["user", "add"],
        &["user", "show"],
        &["import", "x"],
        &["export", "x"],
        &["check"],
        &["remote", "test"],
        &["--log", "nowhere", "listen"],
        &["demo", "--imaps-port", "notaport"],
    ] {
        let out = std::process::Command::new(bin())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
}

#[test]
fn cli_user_list_show_and_remove() {
    let root = Root::new("cli-users");
    root.add_user("gil", "pw");
    root.add_user("hal", "pw");
    common::seed(
        &root,
        "gil",
        "pw",
        "INBOX",
        &[b"Subject: a\r\n\r\nx\r\n", b"Subject: b\r\n\r\ny\r\n"],
    );
    drop(common::Session::login(&root, "gil", "pw"));
    let out = root.command(&["user", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let gil = text.lines().find(|l| l.starts_with("gil ")).unwrap();
    // gil logged in today, hal never; 6 default mailboxes, 2 message files.
    let cols: Vec<&str> = gil.split_whitespace().collect();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(cols[3], today, "{gil}");
    assert_eq!(&cols[4..6], &["6", "2"], "{gil}");
    let hal = text.lines().find(|l| l.starts_with("hal ")).unwrap();
    assert_eq!(hal.split_whitespace().nth(3), Some("never"), "{hal}");

    let out = root.command(&["user", "show", "gil"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("message files: 2"), "{text}");
    assert!(
        !text.contains("mailboxes:"),
        "no password, no names: {text}"
    );
    let out = run_with_stdin(
        root.command(&["user", "show", "gil", "--password-stdin"]),
        b"pw\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  INBOX messages=2 unseen=2"), "{text}");
    assert!(text.contains("  Trash (\\Trash) messages=0"), "{text}");
    let out = run_with_stdin(
        root.command(&["user", "show", "gil", "--password-stdin"]),
        b"no\n",
    );
    assert_eq!(out.status.code(), Some(77));
    let out = root
        .command(&["user", "show", "nobody-at-all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(67));

    // remove asks; anything but yes keeps the account.
    let out = run_with_stdin(root.command(&["user", "remove", "hal"]), b"no\n");
    assert_eq!(out.status.code(), Some(77));
    assert!(root.path().join("users/hal/user.toml").exists());
    let out = run_with_stdin(root.command(&["user", "remove", "hal"]), b"yes\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.path().join("users/hal").exists());
    let out = root
        .command(&["user", "remove", "gil", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!root.path().join("users/gil").exists());
    let out = root
        .command(&["user", "remove", "gil", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(67));
}

#[test]
fn cli_man_pages_and_completions_are_generated() {
    let dir = TempDir::new("man");
    let out = std::process::Command::new(bin())
        .arg("manpages")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for page in [
        "crymap-like.1",
        "crymap-like-user-remove.1",
        "crymap-like-import.1",
        "crymap-like-deliver.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("import"),
            "{shell}"
        );
    }
}

/// Every path under `dir` (not following links) owned by root.
fn root_owned(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.uid() == 0 {
            found.push(p.clone());
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
    }
    found
}

/// `user show --password-stdin` run as root files the pending spool (as a
/// login does) as the account's owner, never as root: afterwards nothing
/// in the user directory belongs to root and a session reads the filed
/// message without an ALERT. (Before: the spool entry was filed, the mark
/// written and msg/XX created by root, and the session found its mailbox
/// read-only.)
#[test]
fn cli_user_show_as_root_writes_as_the_owner() {
    if !require_root("cli_user_show_as_root_writes_as_the_owner") {
        return;
    }
    let root = Root::new("cli-show-owner");
    let dir = root.add_user("ivy", "pw");
    let body = b"Subject: spooled\r\n\r\nwaiting in the spool\r\n";
    deliver(&root, "ivy", body);
    assert_eq!(common::delivered::spooled(&root, "ivy"), 1);
    let out = run_with_stdin(
        root.command(&["user", "show", "ivy", "--password-stdin"]),
        b"pw\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("  INBOX messages=1 unseen=1"), "{text}");
    let dir = std::fs::canonicalize(dir).unwrap();
    let owned = root_owned(&dir);
    assert!(owned.is_empty(), "owned by root: {owned:?}");

    let mut s = common::Session::login(&root, "ivy", "pw");
    let r = s.ok("SELECT INBOX").join("\n");
    assert!(!r.contains("[ALERT]"), "{r}");
    assert!(r.contains("* 1 EXISTS"), "{r}");
    let r = s.ok("FETCH 1 BODY[]").join("\n");
    assert!(!r.contains("[ALERT]"), "{r}");
    assert!(r.contains("waiting in the spool"), "{r}");
}
