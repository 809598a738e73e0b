//! Changing the password with XCRY SET-USER-CONFIG, directly and through
//! `crymap-like remote chpw`: the old password stops working at once,
//! running sessions go on, and the backup file restores the old password.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

fn login_status(root: &Root, user: &str, pass: &str) -> String {
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    c.login(user, pass)
}

#[test]
fn xcry_change_password_then_restore_backup() {
    let root = Root::new("chpw");
    let dir = root.add_user("mia", "old-pass");
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("mia", "old-pass").starts_with("t1 OK"));
    let before = std::fs::read(dir.join("user.toml")).unwrap();

    let r = c.cmd("XCRY SET-USER-CONFIG PASSWORD \"new pass\"");
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r[1].starts_with(
            "t2 OK Password changed; the old password keeps opening the backup file until "
        ),
        "{r:?}"
    );
    let backup = r[0]
        .strip_prefix("* XCRY BACKUP-FILE \"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{r:?}"))
        .to_owned();
    assert!(backup.starts_with("tmp/"), "{backup}");
    // The backup is the previous file, byte for byte.
    assert_eq!(std::fs::read(dir.join(&backup)).unwrap(), before);

    // This session is unaffected.
    assert_eq!(c.status("NOOP"), "t3 OK NOOP completed");
    assert!(c.cmd("XCRY GET-USER-CONFIG")[0].starts_with("* XCRY USER-CONFIG ("));

    assert!(login_status(&root, "mia", "old-pass").contains("NO [AUTHENTICATIONFAILED]"));
    assert!(login_status(&root, "mia", "new pass").starts_with("t1 OK"));

    // Restoring the backup restores the old password.
    std::fs::copy(dir.join(&backup), dir.join("user.toml")).unwrap();
    assert!(login_status(&root, "mia", "old-pass").starts_with("t1 OK"));
    assert!(login_status(&root, "mia", "new pass").contains("NO [AUTHENTICATIONFAILED]"));
}

#[test]
fn xcry_set_user_config_rejects_bad_requests() {
    let root = Root::new("chpw-bad");
    root.add_user("ned", "pw");
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert_eq!(
        c.status("XCRY SET-USER-CONFIG PASSWORD x"),
        "t1 BAD Log in first"
    );
    assert!(c.login("ned", "pw").starts_with("t2 OK"));
    assert_eq!(
        c.status("XCRY SET-USER-CONFIG PASSWORD \"\""),
        "t3 NO [CANNOT] The password may not be empty"
    );
    assert_eq!(
        c.status("XCRY SET-USER-CONFIG COLOUR blue"),
        "t4 NO [CANNOT] Unknown user setting COLOUR"
    );
    // Nothing changed.
    assert!(login_status(&root, "ned", "pw").starts_with("t1 OK"));
}

#[test]
fn cli_remote_chpw_and_test_over_imaps() {
    let port = free_port();
    let root = Root::new("remote");
    root.add_user("olga", "first");
    let _server = root.listen(&[&format!("127.0.0.1:{port}")], &[], Stdio::null());
    drop(connect_retry(&format!("127.0.0.1:{port}")));
    let remote = |what: &str, input: &str| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args([
            "remote",
            what,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args(["--user", "olga", "--insecure", "--password-stdin"]);
        run_with_stdin(cmd, input.as_bytes())
    };
    let out = remote("test", "first\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("login ok"));

    let out = remote("chpw", "first\nsecond\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("* XCRY BACKUP-FILE \"tmp/"), "{stdout}");

    let out = remote("test", "first\n");
    assert_eq!(out.status.code(), Some(69), "old password must fail");
    let out = remote("test", "second\n");
    assert!(out.status.success());

    // The certificate check is on unless --insecure: the self-signed
    // certificate is refused without --ca.
    let mut cmd = std::process::Command::new(bin());
    cmd.args([
        "remote",
        "test",
        "--host",
        "localhost",
        "--port",
        &port.to_string(),
    ])
    .args(["--user", "olga", "--password-stdin"]);
    let out = run_with_stdin(cmd, b"second\n");
    assert!(!out.status.success());
    let mut cmd = std::process::Command::new(bin());
    cmd.args([
        "remote",
        "test",
        "--host",
        "localhost",
        "--port",
        &port.to_string(),
    ])
    .args(["--user", "olga", "--password-stdin", "--ca"])
    .arg(root.path().join("tls/cert.pem"));
    let out = run_with_stdin(cmd, b"second\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(10));
}

/// Finding 2 of issue 7: after the grace period the backup is removed at
/// the next login, so a leaked old password no longer opens a copy of the
/// directory taken afterwards. (Today's code kept the backup forever.)
#[test]
fn xcry_old_password_retires_after_the_grace_period() {
    let root = Root::new("chpw-grace");
    let dir = root.add_user("rita", "old-pass");
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("rita", "old-pass").starts_with("t1 OK"));
    let r = c.cmd("XCRY SET-USER-CONFIG PASSWORD \"new pass\"");
    let backup = r[0]
        .strip_prefix("* XCRY BACKUP-FILE \"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{r:?}"))
        .to_owned();
    // The response says when: the change time plus the default 72 hours.
    let until = r[1].rsplit("until ").next().unwrap();
    let until = until.strip_suffix(", when it is removed").unwrap_or(until);
    let stamp = backup
        .strip_prefix("tmp/user.toml.")
        .and_then(|s| s.get(..16))
        .unwrap();
    let (d, t) = stamp.split_at(8);
    assert!(
        until.ends_with('Z') && until.len() == 20,
        "removal time {until:?} from {r:?}"
    );
    assert_ne!(
        &until[..10],
        &format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]),
        "{until} vs {t}"
    );
    c.ok_run("LOGOUT");

    // A login within the grace keeps the backup.
    assert!(login_status(&root, "rita", "new pass").starts_with("t1 OK"));
    assert!(dir.join(&backup).exists());

    // Time passes: the backup now looks four days old (its name carries
    // the change time; the file's mtime is the old file's anyway).
    let aged = dir.join("tmp/user.toml.20200101T000000Z.bak");
    std::fs::rename(dir.join(&backup), &aged).unwrap();
    assert!(login_status(&root, "rita", "new pass").starts_with("t1 OK"));

    // A thief copying the directory now, with the old password, finds no
    // file the old password opens: restoring any tmp/ file fails.
    assert!(!aged.exists(), "the expired backup was kept");
    for f in std::fs::read_dir(dir.join("tmp")).unwrap() {
        std::fs::copy(f.unwrap().path(), dir.join("user.toml")).ok();
        assert!(!login_status(&root, "rita", "old-pass").starts_with("t1 OK"));
    }
}
