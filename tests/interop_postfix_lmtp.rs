//! A real Postfix (Debian's package) delivers one message to two accounts
//! through `virtual_transport = lmtp:unix:...`, into `crymap-like listen`
//! on a UNIX socket; both copies are then read back through the store.
//! Postfix runs from a private configuration directory (tests/common/postfix.rs), with
//! no network listener (only its own UNIX sockets under the test's queue
//! directory). Needs root (Postfix's daemons and its `postfix` user);
//! skipped visibly without root or Postfix, and failing under `CI=true`,
//! where .ci/run installs Postfix.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::postfix::Postfix;
use common::{Root, TempDir};

const PW: &str = "postfix-pw";

fn prerequisites(test: &str) -> bool {
    common::require_root(test) && common::require_tool(test, "postfix", "postfix")
}

fn messages(root: &Root, user: &str) -> Vec<Vec<u8>> {
    common::delivered::messages(root, user, PW, "INBOX")
}

#[test]
fn interop_postfix_delivers_through_lmtp_unix_into_two_accounts() {
    if !prerequisites("interop_postfix_delivers_through_lmtp_unix_into_two_accounts") {
        return;
    }
    let sockets = TempDir::new("lmtp-postfix-sock");
    std::fs::set_permissions(sockets.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = sockets.path().join("lmtp.sock");
    let root = Root::with_config(
        "lmtp-postfix",
        &format!("lmtp = [\"{}\"]\n", socket.display()),
    );
    for u in ["alice", "bob"] {
        root.add_user(u, PW);
    }
    // Guarded: a failed assertion below must not leave a root `listen`.
    let listen = root.listen(&[], &[], Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(socket.exists(), "listen never made {}", socket.display());
    // The MTA's lmtp client runs as `postfix`; production gives the
    // socket's group to the MTA (doc/deployment.md), the test opens it.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();

    let pfdir = TempDir::new("lmtp-postfix-mta");
    let postfix = Postfix::start(
        pfdir.path(),
        &format!("virtual_transport = lmtp:unix:{}", socket.display()),
    );
    postfix.sendmail(
        "sender@example.test",
        &["alice@example.test", "bob@example.test"],
        "Subject: via Postfix\nContent-Type: text/plain; charset=utf-8\n\nHallo, schöne Grüße.\n"
            .as_bytes(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while (common::delivered::spooled(&root, "alice") == 0
        || common::delivered::spooled(&root, "bob") == 0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(postfix);
    drop(listen);
    let log = std::fs::read_to_string(pfdir.path().join("maillog")).unwrap_or_default();
    for user in ["alice", "bob"] {
        let m = messages(&root, user);
        assert_eq!(m.len(), 1, "{user}: {log}");
        let text = String::from_utf8_lossy(&m[0]);
        assert!(
            text.starts_with(&format!(
                "Return-Path: <sender@example.test>\r\nDelivered-To: {user}@example.test\r\n"
            )),
            "{text}"
        );
        assert!(text.contains("by mta.example.test (Postfix"), "{text}");
        assert!(text.contains("Grüße"), "{text}");
    }
    assert!(log.contains("status=sent (250 2.0.0 Delivered"), "{log}");
}
