//! `crymap-like demo`: it prints its settings, serves them, replaces only
//! its own root, and keeps serving whatever happens to its stdout. (The
//! unprivileged case is in `cli_demo_unprivileged.rs`, a binary of its
//! own.)

mod common;

use std::process::Stdio;

use common::*;

#[test]
fn cli_demo_prints_settings_and_serves_them() {
    let dir = TempDir::new("demo");
    let demo_root = dir.path().join("demo-root");
    let imaps = free_port();
    let imap = free_port();
    let mut child = std::process::Command::new(bin())
        .args(["demo", "--dir"])
        .arg(&demo_root)
        .args([
            "--imaps-port",
            &imaps.to_string(),
            "--imap-port",
            &imap.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    let settings = demo_settings(stdout);
    let (user, password) = (&settings["user"], &settings["password"]);
    assert_eq!(user, "demo");
    let (mut c, _) = Client::imaps(connect_retry(&format!("127.0.0.1:{imaps}")));
    assert!(c.login(user, password).starts_with("t1 OK"));
    // The certificate names localhost in CN and subjectAltName.
    let pem = std::fs::read(demo_root.join("tls/cert.pem")).unwrap();
    let cert = openssl::x509::X509::from_pem(&pem).unwrap();
    let sans: Vec<_> = cert
        .subject_alt_names()
        .unwrap()
        .iter()
        .filter_map(|n| n.dnsname().map(str::to_owned))
        .collect();
    assert_eq!(sans, vec!["localhost"]);
    drop(guard);
    // A second demo replaces the first one's root; a foreign directory is
    // never deleted.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep"), b"x").unwrap();
    let out = std::process::Command::new(bin())
        .args(["demo", "--dir"])
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by demo"));
    assert!(foreign.join("keep").exists());
}

/// Whoever reads `demo`'s settings may close its stdout at any time (a
/// test after the `password:` line, `demo | head`): the demo keeps serving.
/// Here stdout is a pipe whose reader is gone before the demo starts, so
/// every write to it fails with EPIPE.
#[test]
fn cli_demo_keeps_serving_when_its_stdout_is_closed() {
    let dir = TempDir::new("demo-epipe");
    let imaps = free_port();
    let imap = free_port();
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let child = std::process::Command::new(bin())
        .args(["demo", "--dir"])
        .arg(dir.path().join("demo-root"))
        .args([
            "--imaps-port",
            &imaps.to_string(),
            "--imap-port",
            &imap.to_string(),
        ])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let (_c, greeting) = Client::imaps(connect_retry(&format!("127.0.0.1:{imaps}")));
    assert!(greeting.starts_with("* OK"), "{greeting}");
    assert!(
        guard.0.try_wait().unwrap().is_none(),
        "demo exited after failing to print its settings"
    );
}
