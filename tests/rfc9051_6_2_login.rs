//! Logging in: implicit TLS, STARTTLS, AUTHENTICATE PLAIN, LOGINDISABLED on
//! non-loopback cleartext, failure handling, autologout.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

#[test]
fn rfc9051_6_2_3_login_succeeds_with_right_password_and_fails_with_wrong() {
    let root = Root::new("imaps-login");
    root.add_user("alice", "correct horse");
    let (mut child, sock) = root.spawn_serve("imaps");
    let (mut c, greeting) = Client::imaps(sock);
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 ") && greeting.contains(" AUTH=PLAIN"),
        "{greeting}"
    );
    assert!(!greeting.contains("STARTTLS"), "{greeting}");
    let no = c.login("alice", "wrong");
    assert_eq!(no, "t1 NO [AUTHENTICATIONFAILED] Authentication failed");
    let no = c.login("nobody-here", "x");
    assert_eq!(no, "t2 NO [AUTHENTICATIONFAILED] Authentication failed");
    let ok = c.login("alice", "correct horse");
    assert!(ok.starts_with("t3 OK [CAPABILITY IMAP4rev1 "), "{ok}");
    assert!(!ok.contains("AUTH=PLAIN"), "{ok}");
    let again = c.login("alice", "correct horse");
    assert_eq!(again, "t4 BAD Already logged in");
    let bye = c.cmd("LOGOUT");
    assert_eq!(bye, vec!["* BYE Logging out", "t5 OK LOGOUT completed"]);
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("serve did not exit");
    assert!(status.success(), "{status}");
}

#[test]
fn rfc9051_6_2_3_too_many_failures_close_the_connection() {
    let root = Root::new("failures");
    root.add_user("bob", "pw");
    let (mut child, sock) = root.spawn_serve("imaps");
    let (mut c, _) = Client::imaps(sock);
    for _ in 0..2 {
        assert!(c.login("bob", "nope").contains("NO [AUTHENTICATIONFAILED]"));
    }
    let last = texts(&c.try_login("bob", "nope").unwrap());
    assert!(last[0].contains("NO [AUTHENTICATIONFAILED]"), "{last:?}");
    assert_eq!(c.rest(), vec!["* BYE Too many failed logins"]);
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("failed login #3 for \"bob\""), "{err}");
    wait_exit(&mut child, Duration::from_secs(10)).expect("serve did not exit");
}

#[test]
fn rfc9051_6_2_2_authenticate_plain_with_initial_response_and_with_continuation() {
    let root = Root::new("auth-plain");
    root.add_user("carol", "s3cret");
    let (_child, sock) = root.spawn_serve("imaps");
    let (mut c, _) = Client::imaps(sock);
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    // Wrong password through SASL-IR.
    let no = c.status(&format!("AUTHENTICATE PLAIN {}", b64(b"\0carol\0bad")));
    assert_eq!(no, "t1 NO [AUTHENTICATIONFAILED] Authentication failed");
    // Cancelled exchange.
    c.send(b"x1 AUTHENTICATE PLAIN\r\n");
    assert_eq!(c.line(), "+ ");
    c.send(b"*\r\n");
    assert_eq!(c.line(), "x1 BAD Authentication cancelled");
    // Another user's authorisation identity is refused.
    let no = c.status(&format!(
        "AUTHENTICATE PLAIN {}",
        b64(b"root\0carol\0s3cret")
    ));
    assert!(no.starts_with("t2 NO [CANNOT]"), "{no}");
    // Unsupported mechanism.
    let no = c.status("AUTHENTICATE CRAM-MD5");
    assert!(no.starts_with("t3 NO [CANNOT]"), "{no}");
    // Continuation form succeeds.
    c.send(b"x2 AUTHENTICATE PLAIN\r\n");
    assert_eq!(c.line(), "+ ");
    c.send(format!("{}\r\n", b64(b"carol\0carol\0s3cret")).as_bytes());
    let ok = c.line();
    assert!(ok.starts_with("x2 OK [CAPABILITY "), "{ok}");
}

#[test]
fn rfc9051_6_2_1_starttls_on_loopback_then_login_through_listen() {
    let imaps = free_port();
    let imap = free_port();
    let root = Root::new("starttls");
    root.add_user("dave", "pw-dave");
    let _server = root.listen(
        &[&format!("127.0.0.1:{imaps}")],
        &[&format!("127.0.0.1:{imap}")],
        Stdio::null(),
    );
    // Cleartext: STARTTLS offered; loopback, so login would be allowed.
    let tcp = connect_retry(&format!("127.0.0.1:{imap}"));
    let (mut c, greeting) = Client::plain(tcp.try_clone().unwrap());
    assert!(greeting.contains(" STARTTLS"), "{greeting}");
    assert!(greeting.contains(" AUTH=PLAIN"), "{greeting}");
    assert_eq!(c.status("STARTTLS"), "t1 OK Begin TLS negotiation now");
    drop(c);
    let tls = tls_over(tcp);
    let mut c = Client::new(Box::new(tls));
    let caps = c.cmd("CAPABILITY");
    assert!(!caps[0].contains("STARTTLS"), "{caps:?}");
    assert!(c.login("dave", "bad").contains("NO [AUTHENTICATIONFAILED]"));
    assert!(c.login("dave", "pw-dave").starts_with("t3 OK"));
    // Implicit TLS on the other port.
    let (mut c, _) = Client::imaps(connect_retry(&format!("127.0.0.1:{imaps}")));
    assert!(c.login("dave", "pw-dave").starts_with("t1 OK"));
}

#[test]
fn rfc9051_6_2_1_data_pipelined_after_starttls_is_not_trusted() {
    let root = Root::new("starttls-inject");
    root.add_user("erin", "pw");
    let (_child, sock) = root.spawn_serve("imap");
    let (mut c, _) = Client::plain(sock);
    c.send(b"a STARTTLS\r\nb LOGIN erin pw\r\n");
    let lines = c.rest();
    assert_eq!(
        lines,
        vec!["* BYE Data after STARTTLS before the TLS handshake"],
        "the injected command must not run"
    );
}

/// LOGIN and AUTHENTICATE on a cleartext connection from a non-loopback
/// address are refused until STARTTLS. The peer address is real: the test
/// thread moves into a fresh network namespace whose `lo` also carries
/// 192.0.2.1 (TEST-NET-1), so no packet leaves the machine.
#[test]
fn rfc9051_6_2_3_cleartext_login_refused_from_non_loopback_address() {
    if !require_root("rfc9051_6_2_3_cleartext_login_refused_from_non_loopback_address") {
        return;
    }
    let root = Root::new("logindisabled");
    root.add_user("frank", "pw-frank");
    let root_path = root.path().to_owned();
    let handle = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        for args in [
            &["link", "set", "lo", "up"][..],
            &["addr", "add", "192.0.2.1/32", "dev", "lo"][..],
        ] {
            let st = std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "ip {args:?}");
        }
        let port = 1143;
        edit_file(
            &root_path.join("crymap-like.toml"),
            "imap = []",
            &format!("imap = [\"192.0.2.1:{port}\"]"),
        );
        let _server = Guard(
            std::process::Command::new(bin())
                .arg("--root")
                .arg(&root_path)
                .args(["--log", "stderr", "listen"])
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let tcp = connect_retry(&format!("192.0.2.1:{port}"));
        let (mut c, greeting) = Client::plain(tcp.try_clone().unwrap());
        assert!(greeting.contains(" LOGINDISABLED"), "{greeting}");
        assert!(greeting.contains(" STARTTLS"), "{greeting}");
        assert!(!greeting.contains("AUTH=PLAIN"), "{greeting}");
        assert_eq!(
            c.login("frank", "pw-frank"),
            "t1 NO [PRIVACYREQUIRED] Use STARTTLS before logging in"
        );
        assert_eq!(
            c.status("AUTHENTICATE PLAIN AGZyYW5rAHB3LWZyYW5r"),
            "t2 NO [PRIVACYREQUIRED] Use STARTTLS before logging in"
        );
        assert_eq!(c.status("STARTTLS"), "t3 OK Begin TLS negotiation now");
        drop(c);
        let mut c = Client::new(Box::new(tls_over(tcp)));
        let caps = c.cmd("CAPABILITY");
        assert!(caps[0].contains("AUTH=PLAIN"), "{caps:?}");
        assert!(c.login("frank", "pw-frank").starts_with("t2 OK"));
    });
    handle.join().unwrap();
}

#[test]
fn rfc9051_3_commands_need_the_right_state() {
    let root = Root::new("states");
    root.add_user("gina", "pw");
    let (_child, sock) = root.spawn_serve("imaps");
    let (mut c, _) = Client::imaps(sock);
    assert_eq!(c.status("NAMESPACE"), "t1 BAD Log in first");
    assert_eq!(c.status("ENABLE CONDSTORE"), "t2 BAD Log in first");
    assert_eq!(c.status("NOOP"), "t3 OK NOOP completed");
    let id = c.cmd("ID (\"name\" \"test-suite\")");
    assert_eq!(
        id[0],
        format!(
            "* ID (\"name\" \"crymap-like\" \"version\" \"{}\")",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(c.login("gina", "pw").starts_with("t5 OK"));
    let ns = c.cmd("NAMESPACE");
    assert_eq!(
        ns,
        vec![
            "* NAMESPACE ((\"\" \"/\")) NIL NIL",
            "t6 OK NAMESPACE completed"
        ]
    );
    let en = c.cmd("ENABLE CONDSTORE");
    assert_eq!(en, vec!["* ENABLED CONDSTORE", "t7 OK ENABLE completed"]);
    assert_eq!(c.status("STARTTLS"), "t8 BAD TLS is already active");
}

#[test]
fn rfc9051_5_4_silent_client_is_logged_out() {
    let root = Root::new("idle");
    root.set("limits", "idle_timeout_secs = 2");
    root.add_user("sam", "pw");
    let (mut child, sock) = root.spawn_serve("imaps");
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("sam", "pw").starts_with("t1 OK"));
    // Not logged out for being logged in: the session answers, and only
    // then, with the client silent, ends on its own with the BYE.
    assert_eq!(c.status("NOOP"), "t2 OK NOOP completed");
    assert_eq!(c.rest(), vec!["* BYE Autologout; idle for too long"]);
    wait_exit(&mut child, Duration::from_secs(10)).expect("serve did not exit");
}
