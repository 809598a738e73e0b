//! `crymap-like user add`: generated, prompted (on a real terminal, without
//! echo) and stdin passwords, and the refusals.

mod common;

use std::process::Command;

use common::*;

/// Drives `user add --prompt-password` on a pseudo-terminal (Python's pty
/// module) and types the password only after each prompt, as a person
/// would; returns everything the terminal showed and the exit code.
fn add_on_terminal(root: &Root, name: &str, first: &str, second: &str) -> (String, i32) {
    let script = r#"
import os, pty, sys
argv = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
shown = b""
def until(marker):
    global shown
    while marker not in shown:
        chunk = os.read(fd, 1024)
        if not chunk:
            raise SystemExit("terminal closed before %r: %r" % (marker, shown))
        shown += chunk
until(b"New password: ")
os.write(fd, sys.argv[1].encode() + b"\n")
until(b"Again: ")
os.write(fd, sys.argv[2].encode() + b"\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    shown += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(first).arg(second).arg(bin());
    cmd.arg("--root")
        .arg(root.path())
        .args(["user", "add", name]);
    if is_root() {
        cmd.args(["--uid", "nobody"]);
    }
    cmd.arg("--prompt-password");
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn cli_user_add_prompted_password_is_not_echoed_and_works() {
    let root = Root::new("prompt");
    let (shown, code) = add_on_terminal(&root, "vera", "Typed-Secret-42", "Typed-Secret-42");
    assert_eq!(code, 0, "{shown}");
    assert!(
        !shown.contains("Typed-Secret-42"),
        "password echoed: {shown}"
    );
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("vera", "Typed-Secret-42").starts_with("t1 OK"));
}

#[test]
fn cli_user_add_prompted_passwords_that_differ_create_nothing() {
    let root = Root::new("prompt-differ");
    let (shown, code) = add_on_terminal(&root, "walt", "one", "two");
    assert_eq!(code, 65, "{shown}");
    assert!(shown.contains("the passwords differ"), "{shown}");
    assert!(!root.path().join("users/walt").exists());
}

#[test]
fn cli_user_add_generated_password_is_printed_once_and_works() {
    let root = Root::new("generated");
    let mut cmd = root.command(&["user", "add", "xena"]);
    if is_root() {
        cmd.args(["--uid", "nobody"]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_owned();
    assert!(password.len() >= 20, "{password}");
    assert_eq!(stdout.matches(&password).count(), 1);
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("xena", &password).starts_with("t1 OK"));
}

#[test]
fn cli_user_add_bad_requests_are_refused_with_reasons() {
    let root = Root::new("user-add-bad");
    root.add_user("yara", "pw");
    let run = |args: &[&str]| run_with_stdin(root.command(args), b"pw\n");
    let out = run(&["user", "add", "yara", "--password-stdin"]);
    assert_eq!(out.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(&["user", "add", "../evil", "--password-stdin"]);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&[
        "user",
        "add",
        "zed",
        "--password-stdin",
        "--prompt-password",
    ]);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&["user", "add", "zed", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));
    if is_root() {
        // No UNIX account named like the user and no --uid: refused.
        let out = run(&["user", "add", "no-such-unix-user", "--password-stdin"]);
        assert_eq!(out.status.code(), Some(67));
        let out = run(&["user", "add", "rooty", "--uid", "0", "--password-stdin"]);
        assert_eq!(out.status.code(), Some(77));
    }
}
