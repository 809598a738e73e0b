//! The same session launched the three ways a host starts it: by systemd
//! socket activation (inetd-style and `LISTEN_FDS` with `Accept=yes`), by
//! openbsd-inetd, and by the built-in `listen` (see `rfc9051_6_2_login.rs`).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn login_over_tls(port: u16, user: &str, pass: &str) {
    let (mut c, greeting) = Client::imaps(connect_retry(&format!("127.0.0.1:{port}")));
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1"),
        "{greeting}"
    );
    assert!(c.login(user, pass).starts_with("t1 OK"));
    assert_eq!(c.cmd("LOGOUT")[0], "* BYE Logging out");
}

fn socket_activate(test: &str, label: &str, inetd_style: bool) {
    if !require_tool(test, "systemd-socket-activate", "systemd") {
        return;
    }
    let root = Root::new(label);
    root.add_user("quinn", "pw-quinn");
    let port = free_port();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.arg(format!("--listen=127.0.0.1:{port}"));
    // One process per connection (Accept=yes): the connection arrives on
    // stdin/stdout with --inetd, as fd 3 with LISTEN_FDS=1 without it.
    cmd.arg("--accept");
    if inetd_style {
        cmd.arg("--inetd");
    }
    cmd.arg(bin())
        .arg("--root")
        .arg(root.path())
        .args(["--log", "stderr", "serve", "imaps"])
        .stderr(Stdio::null());
    let _activator = Guard(cmd.spawn().unwrap());
    // Two connections: each gets its own process.
    login_over_tls(port, "quinn", "pw-quinn");
    login_over_tls(port, "quinn", "pw-quinn");
}

#[test]
fn deploy_systemd_socket_activation_inetd_style() {
    socket_activate(
        "deploy_systemd_socket_activation_inetd_style",
        "sd-inetd",
        true,
    );
}

#[test]
fn deploy_systemd_socket_activation_listen_fds() {
    socket_activate(
        "deploy_systemd_socket_activation_listen_fds",
        "sd-listen-fds",
        false,
    );
}

#[test]
fn deploy_openbsd_inetd() {
    if !require_tool("deploy_openbsd_inetd", "inetd", "openbsd-inetd") {
        return;
    }
    let root = Root::new("inetd");
    root.add_user("ruth", "pw-ruth");
    let port = free_port();
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    let conf = root.path().join("inetd.conf");
    // The same line as contrib/inetd.conf, on a test port, with this root.
    std::fs::write(
        &conf,
        format!(
            "127.0.0.1:{port} stream tcp nowait {user} {bin} crymap-like --root {root} --log stderr serve imaps\n",
            bin = bin().display(),
            root = root.path().display()
        ),
    )
    .unwrap();
    // -d: stay in the foreground (and log to stderr).
    let _inetd = Guard(
        Command::new("inetd")
            .arg("-d")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    login_over_tls(port, "ruth", "pw-ruth");
    login_over_tls(port, "ruth", "pw-ruth");
    std::thread::sleep(Duration::from_millis(1));
}
