//! `demo` started by an ordinary user: no chroot, and it says so. In a
//! test binary of its own: it switches user with setpriv and must not share
//! a process with tests that move threads into other network namespaces.

mod common;

use std::process::Stdio;

use common::*;

/// Started by an ordinary user, `demo` serves as that user without chroot
/// and says so. (As root the test becomes `nobody` with setpriv.)
#[test]
fn cli_demo_by_an_ordinary_user_serves_unisolated_and_says_so() {
    if !require_root("cli_demo_by_an_ordinary_user_serves_unisolated_and_says_so") {
        return;
    }
    let dir = TempDir::new("demo-nobody");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    std::os::unix::fs::chown(
        dir.path(),
        Some(nobody.uid.as_raw()),
        Some(nobody.gid.as_raw()),
    )
    .unwrap();
    // The checkout may sit where nobody cannot reach (under /root): run a
    // copy of the binary from the test's own directory.
    let exe = dir.path().join("crymap-like");
    std::fs::copy(bin(), &exe).unwrap();
    let imaps = free_port();
    let imap = free_port();
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&exe)
        .args(["demo", "--dir"])
        .arg(dir.path().join("demo-root"))
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
    let _guard = Guard(child);
    let settings = demo_settings(stdout);
    let isolation = &settings["isolation"];
    assert!(
        isolation.starts_with("none (not started as root)"),
        "{isolation}"
    );
    let (mut c, _) = Client::imaps(connect_retry(&format!("127.0.0.1:{imaps}")));
    assert!(c
        .login(&settings["user"], &settings["password"])
        .starts_with("t1 OK"));
}
