//! `serve lmtp` (RFC 2033) through the real binary: swaks and Python's
//! `smtplib.LMTP` speaking to it as inetd starts it (stdin/stdout), as
//! systemd starts it (`LISTEN_FDS`, TCP and UNIX sockets) and through
//! `listen` on a UNIX socket; per-recipient replies; bad input; and kill -9
//! (an abort at an injected point) in the middle of a multi-recipient
//! delivery. Every delivered copy is then read back through the store with
//! the user's password.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bin, free_port, wait_exit, Root};

const PW: &str = "lmtp-pw";

/// Whether `tool` (from Debian's `package`) is installed; see
/// `common::require_tool` (a visible skip, a failure under `CI=true`).
fn need(tool: &str, package: &str, test: &str) -> bool {
    common::require_tool(test, tool, package)
}

fn root_with_users(label: &str, extra: &str) -> Root {
    let root = Root::with_config(label, extra);
    for u in ["alice", "bob", "carol"] {
        root.add_user(u, PW);
    }
    root
}

fn messages(root: &Root, user: &str, mailbox: &str) -> Vec<Vec<u8>> {
    common::delivered::messages(root, user, PW, mailbox)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A raw LMTP client over a socket pair to `serve lmtp` (inetd style).
struct Raw {
    child: std::process::Child,
    write: UnixStream,
    read: BufReader<UnixStream>,
}

impl Raw {
    fn start(root: &Root, crash: Option<&str>) -> Raw {
        let (child, ours) = root.serve("lmtp", crash, Stdio::null());
        let read = BufReader::new(ours.try_clone().unwrap());
        let mut raw = Raw {
            child,
            write: ours,
            read,
        };
        assert!(raw.reply().first().is_some_and(|l| l.starts_with("220 ")));
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        let _ = self.write.write_all(bytes);
    }

    /// One (possibly multi-line) reply; empty at end of input.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut l = String::new();
            match self.read.read_line(&mut l) {
                Ok(0) | Err(_) => return lines,
                Ok(_) => {}
            }
            let l = l.trim_end().to_owned();
            let done = l.as_bytes().get(3) != Some(&b'-');
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply().pop().unwrap_or_default()
    }
}

fn message(subject: &str) -> String {
    format!("From: a@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n")
}

#[test]
fn interop_swaks_as_inetd_three_recipients_one_unknown() {
    if !need(
        "swaks",
        "swaks",
        "interop_swaks_as_inetd_three_recipients_one_unknown",
    ) {
        return;
    }
    let root = root_with_users("lmtp-swaks", "");
    let server = format!(
        "{} --root {} --log stderr serve lmtp",
        bin().display(),
        root.path().display()
    );
    let out = Command::new("swaks")
        .args(["--pipe", &server, "--protocol", "LMTP", "--pipeline"])
        .args(["--from", "sender@example.org"])
        .args([
            "--to",
            "alice@example.org,bob+lists@example.org,nobody@example.org",
        ])
        .args(["--header", "Subject: über swaks"])
        .args(["--body", "8-bit body: grüße\n"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("250-PIPELINING") && text.contains("250-CHUNKING"),
        "{text}"
    );
    assert!(text.contains("550 5.1.1 No such user here"), "{text}");
    assert!(
        text.contains("250 2.0.0 Delivered <alice@example.org>"),
        "{text}"
    );
    assert!(
        text.contains("250 2.0.0 Delivered <bob+lists@example.org>"),
        "{text}"
    );
    let a = messages(&root, "alice", "INBOX");
    assert_eq!(a.len(), 1);
    assert!(a[0].starts_with(
        b"Return-Path: <sender@example.org>\r\nDelivered-To: alice@example.org\r\nReceived: from "
    ));
    assert!(contains(&a[0], "with LMTP") && contains(&a[0], "grüße"));
    // bob has not asked for +detail filing: INBOX.
    assert_eq!(messages(&root, "bob", "INBOX").len(), 1);
    assert!(messages(&root, "carol", "INBOX").is_empty());
}

#[test]
fn interop_python_smtplib_over_systemd_unix_socket_and_listen() {
    if !need(
        "systemd-socket-activate",
        "systemd",
        "interop_python_smtplib_over_systemd_unix_socket_and_listen",
    ) || !need(
        "python3",
        "python3",
        "interop_python_smtplib_over_systemd_unix_socket_and_listen",
    ) {
        return;
    }
    let dir = common::TempDir::new("lmtp-sock");
    let listen_sock = dir.path().join("listen.sock");
    let root = root_with_users(
        "lmtp-py",
        &format!("lmtp = [\"{}\"]\n", listen_sock.display()),
    );
    // systemd: Accept=yes on a UNIX socket, the connection as fd 3.
    let sd_sock = dir.path().join("sd.sock");
    let mut sd = Command::new("systemd-socket-activate")
        .arg(format!("--listen={}", sd_sock.display()))
        .arg("--accept")
        .arg(bin())
        .arg("--root")
        .arg(root.path())
        .args(["--log", "stderr", "serve", "lmtp"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let listen = root.listen(&[], &[], Stdio::null());
    let script = r#"
import smtplib, sys, time
for path in sys.argv[1:]:
    for _ in range(100):
        try:
            s = smtplib.LMTP(path); break
        except OSError:
            time.sleep(0.05)
    code, _ = s.ehlo("py.test")
    assert code == 250 and s.has_extn("pipelining") and s.has_extn("smtputf8"), s.esmtp_features
    s.mail("py@example.org")
    s.rcpt("alice@example.org"); s.rcpt("carol@example.org")
    print(s.data(b"Subject: py\r\n\r\nfrom python\r\n"))   # alice's reply
    print(s.getreply())                                    # carol's reply
    s.quit()
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&sd_sock)
        .arg(&listen_sock)
        .output()
        .unwrap();
    let _ = sd.kill();
    let _ = sd.wait();
    drop(listen);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.matches("(250, b'2.0.0 Delivered <").count(),
        4,
        "{text}"
    );
    for user in ["alice", "carol"] {
        let m = messages(&root, user, "INBOX");
        assert_eq!(m.len(), 2, "{user}");
        assert!(contains(
            &m[1],
            &format!("Delivered-To: {user}@example.org")
        ));
    }
}

#[test]
fn interop_swaks_over_systemd_tcp_both_styles() {
    if !need(
        "systemd-socket-activate",
        "systemd",
        "interop_swaks_over_systemd_tcp_both_styles",
    ) || !need(
        "swaks",
        "swaks",
        "interop_swaks_over_systemd_tcp_both_styles",
    ) {
        return;
    }
    let root = root_with_users("lmtp-tcp", "");
    // Accept=yes both ways: the connection as descriptor 3 (LISTEN_FDS),
    // and with --inetd as stdin/stdout, a real socket as inetd passes it.
    for (round, inetd_style) in [false, true].into_iter().enumerate() {
        let port = free_port();
        let mut cmd = Command::new("systemd-socket-activate");
        cmd.arg(format!("--listen=127.0.0.1:{port}"))
            .arg("--accept");
        if inetd_style {
            cmd.arg("--inetd");
        }
        let mut sd = cmd
            .arg(bin())
            .arg("--root")
            .arg(root.path())
            .args(["--log", "stderr", "serve", "lmtp"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::connect_retry(&format!("127.0.0.1:{port}"));
        let out = Command::new("swaks")
            .args(["--server", "127.0.0.1", "--port", &port.to_string()])
            .args(["--protocol", "LMTP", "--pipeline", "--from", "<>"])
            .args(["--to", "carol@x.example"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let _ = sd.kill();
        let _ = sd.wait();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("250 2.0.0 Delivered <carol@x.example>"),
            "inetd style {inetd_style}: {text}"
        );
        let m = messages(&root, "carol", "INBOX");
        assert_eq!(m.len(), round + 1);
        assert!(m[round].starts_with(b"Return-Path: <>\r\n"));
    }
}

#[test]
fn rfc2033_pipelined_bdat_and_per_recipient_replies() {
    let root = root_with_users("lmtp-bdat", "");
    let mut c = Raw::start(&root, None);
    let body = message("chunked");
    let (a, b) = body.as_bytes().split_at(10);
    // The whole transaction in one write (PIPELINING), two BDAT chunks.
    let mut all = b"LHLO t\r\nMAIL FROM:<s@x> BODY=8BITMIME\r\nRCPT TO:<alice@x>\r\nRCPT TO:<ghost@x>\r\nRCPT TO:<bob@x>\r\n".to_vec();
    all.extend_from_slice(format!("BDAT {}\r\n", a.len()).as_bytes());
    all.extend_from_slice(a);
    all.extend_from_slice(format!("BDAT {} LAST\r\n", b.len()).as_bytes());
    all.extend_from_slice(b);
    c.send(&all);
    let lhlo = c.reply();
    assert!(lhlo
        .iter()
        .any(|l| l.starts_with("250 SIZE ") || l.starts_with("250-SIZE ")));
    assert!(c.reply()[0].starts_with("250 2.1.0"));
    assert!(c.reply()[0].starts_with("250 2.1.5"));
    assert!(c.reply()[0].starts_with("550 5.1.1"));
    assert!(c.reply()[0].starts_with("250 2.1.5"));
    assert!(c.reply()[0].starts_with("250 2.0.0 10 octets"));
    assert_eq!(c.reply()[0], "250 2.0.0 Delivered <alice@x>");
    assert_eq!(c.reply()[0], "250 2.0.0 Delivered <bob@x>");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    let m = messages(&root, "alice", "INBOX");
    assert!(m[0].ends_with(body.as_bytes()));
    assert_eq!(messages(&root, "bob", "INBOX").len(), 1);
}

/// Runs one transaction to alice and bob with `data` (already dot-stuffed
/// and terminated) and returns the replies after DATA.
fn transaction(c: &mut Raw, data: &[u8]) -> Vec<String> {
    for l in ["MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>"] {
        assert!(c.cmd(l).starts_with("250"), "{l}");
    }
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(data);
    vec![c.reply().concat(), c.reply().concat()]
}

#[test]
fn hostile_lmtp_bad_input_gets_a_clear_reply_per_recipient_and_nothing_stored() {
    let root = root_with_users("lmtp-bad", "[lmtp]\nmax_recipients = 100\n");
    let mut c = Raw::start(&root, None);
    assert!(c.cmd("LHLO t").starts_with("250"));
    let long = format!("Subject: x\r\n\r\n{}\r\n.\r\n", "y".repeat(999));
    for (data, what) in [
        (&b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n"[..], "bare LF"),
        (&b"Subject: x\r\n\r\nnul\0\r\n.\r\n"[..], "NUL"),
        (long.as_bytes(), "998"),
        (
            &b"Subject: x\r\n\r\nsmuggle\r\n.\nMAIL FROM:<e@x>\r\n.\r\n"[..],
            "bare LF",
        ),
    ] {
        let r = transaction(&mut c, data);
        assert!(
            r.iter()
                .all(|l| l.starts_with("554 5.6.0") && l.contains(what)),
            "{what}: {r:?}"
        );
    }
    // Dot-stuffing is undone; a line of 998 octets is fine.
    let ok = format!(
        "Subject: ok\r\n\r\n..leading dot\r\n{}\r\n.\r\n",
        "z".repeat(998)
    );
    let r = transaction(&mut c, ok.as_bytes());
    assert!(r.iter().all(|l| l.starts_with("250 2.0.0")), "{r:?}");
    // Over the size limit (64 MiB): read to the end, refused for each.
    for l in ["MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>"] {
        assert!(c.cmd(l).starts_with("250"), "{l}");
    }
    let size = 64 * 1024 * 1024 + 1;
    c.send(format!("BDAT {size} LAST\r\n").as_bytes());
    let line = [b"x".repeat(78), b"\r\n".to_vec()].concat().repeat(13_000);
    let mut left = size;
    while left > 0 {
        let n = left.min(line.len());
        c.send(&line[..n]);
        left -= n;
    }
    let r = [c.reply().concat(), c.reply().concat()];
    assert!(r.iter().all(|l| l.starts_with("552 5.3.4")), "{r:?}");
    // Protocol errors.
    assert!(c.cmd("EHLO x").starts_with("500 5.5.1"));
    assert!(c.cmd("DATA").starts_with("503 5.5.1"));
    assert!(c.cmd("RCPT TO:<alice@x>").starts_with("503 5.5.1"));
    assert!(c
        .cmd("MAIL FROM:<s@x> SIZE=999999999999")
        .starts_with("552 5.3.4"));
    assert!(c.cmd("MAIL FROM:<s@x> RET=FULL").starts_with("555 5.5.4"));
    assert!(c.cmd("MAIL FROM:<jörg@x>").starts_with("553 5.6.7"));
    assert!(c
        .cmd(&format!("NOOP {}", "n".repeat(5000)))
        .starts_with("500 5.5.6"));
    // A thousand RCPT TO: the first hundred accepted, then 452 4.5.3.
    assert!(c.cmd("MAIL FROM:<s@x>").starts_with("250"));
    let mut script = String::new();
    for _ in 0..1000 {
        script.push_str("RCPT TO:<carol@x>\r\n");
    }
    c.send(script.as_bytes());
    let replies: Vec<String> = (0..1000).map(|_| c.reply().concat()).collect();
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.starts_with("250 2.1.5"))
            .count(),
        100
    );
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.starts_with("452 4.5.3"))
            .count(),
        900
    );
    assert!(c.cmd("RSET").starts_with("250"));
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    assert_eq!(messages(&root, "alice", "INBOX").len(), 1);
    assert_eq!(messages(&root, "bob", "INBOX").len(), 1);
    assert!(messages(&root, "carol", "INBOX").is_empty());
}

#[test]
fn hostile_lmtp_connection_cut_mid_data_or_stalled_mid_bdat_stores_nothing() {
    let root = root_with_users("lmtp-cut", "[lmtp]\nidle_timeout_secs = 2\n");
    // Cut off inside DATA.
    let mut c = Raw::start(&root, None);
    c.cmd("LHLO t");
    c.cmd("MAIL FROM:<s@x>");
    c.cmd("RCPT TO:<alice@x>");
    c.cmd("RCPT TO:<bob@x>");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: half\r\n\r\nhalf a mess");
    c.write.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(c.reply().is_empty());
    let status = wait_exit(&mut c.child, Duration::from_secs(20)).expect("exits");
    assert!(status.success(), "{status:?}");
    // Stalls inside BDAT: the idle timeout (2 s here) ends the process.
    let mut c = Raw::start(&root, None);
    c.cmd("LHLO t");
    c.cmd("MAIL FROM:<s@x>");
    c.cmd("RCPT TO:<alice@x>");
    c.send(b"BDAT 100 LAST\r\nSubject: stall\r\n");
    let r = c.reply();
    assert!(r.concat().starts_with("421 4.4.2"), "{r:?}");
    assert!(wait_exit(&mut c.child, Duration::from_secs(20)).is_some());
    assert_eq!(
        common::delivered::spooled(&root, "alice") + common::delivered::spooled(&root, "bob"),
        0
    );
}

/// An empty message (DATA ended at once, or a lone `BDAT 0 LAST`) is a
/// mistake upstream, not mail: each recipient gets 554 5.6.0 and nothing is
/// stored, as `deliver` refuses one with EX_DATAERR.
#[test]
fn rfc2033_4_2_empty_message_refused_per_recipient_nothing_stored() {
    let root = root_with_users("lmtp-empty", "");
    let mut c = Raw::start(&root, None);
    assert!(c.cmd("LHLO t").starts_with("250"));
    let r = transaction(&mut c, b".\r\n");
    assert!(
        r.iter()
            .all(|l| l.starts_with("554 5.6.0") && l.contains("empty message")),
        "DATA: {r:?}"
    );
    for l in ["MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>"] {
        assert!(c.cmd(l).starts_with("250"), "{l}");
    }
    c.send(b"BDAT 0 LAST\r\n");
    let r = [c.reply().concat(), c.reply().concat()];
    assert!(
        r.iter()
            .all(|l| l.starts_with("554 5.6.0") && l.contains("empty message")),
        "BDAT: {r:?}"
    );
    // The session goes on: a real message after them is delivered.
    let r = transaction(&mut c, b"Subject: ok\r\n\r\nhi\r\n.\r\n");
    assert!(r.iter().all(|l| l.starts_with("250 2.0.0")), "{r:?}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    for user in ["alice", "bob"] {
        let m = messages(&root, user, "INBOX");
        assert_eq!(m.len(), 1, "{user}: only the real message is stored");
        assert!(m[0].ends_with(b"hi\r\n"));
    }
}

#[test]
fn rfc2033_recipient_directory_missing_or_not_writable() {
    if !common::require_root("rfc2033_recipient_directory_missing_or_not_writable") {
        return;
    }
    let root = root_with_users("lmtp-dirs", "");
    let bob_dir = root.path().join("users/bob");
    // bob's spool is no longer writable by bob (owned by root, 0755).
    let spool = bob_dir.join("spool");
    std::os::unix::fs::chown(&spool, Some(0), Some(0)).unwrap();
    // carol's directory vanishes between RCPT and DATA.
    let mut c = Raw::start(&root, None);
    c.cmd("LHLO t");
    c.cmd("MAIL FROM:<s@x>");
    for u in ["alice", "bob", "carol"] {
        assert!(c.cmd(&format!("RCPT TO:<{u}@x>")).starts_with("250"));
    }
    let carol = root.path().join("users/carol");
    let away = root.path().join("carol-away");
    std::fs::rename(&carol, &away).unwrap();
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(format!("{}.\r\n", message("dirs")).as_bytes());
    let r: Vec<String> = (0..3).map(|_| c.reply().concat()).collect();
    assert_eq!(r[0], "250 2.0.0 Delivered <alice@x>");
    assert!(r[1].starts_with("450 4.2.1"), "{r:?}");
    assert!(r[2].starts_with("550 5.1.1"), "{r:?}");
    std::fs::rename(&away, &carol).unwrap();
    assert_eq!(
        common::delivered::spooled(&root, "bob") + common::delivered::spooled(&root, "carol"),
        0
    );
    assert_eq!(messages(&root, "alice", "INBOX").len(), 1);
}

/// The crash points a multi-recipient delivery passes, with how many
/// recipients (of alice, bob, carol) must end up with the message, given
/// which were told 250.
#[test]
fn crash_lmtp_kill_at_every_point_of_a_multi_recipient_delivery() {
    // Each point with how many recipients the MTA must be told 250, so a
    // point that never fires (or fires elsewhere) fails the test.
    let points = [
        ("lmtp.after-data", 0),
        ("deliver.before-rename", 0),
        ("deliver.before-commit", 0),
        ("deliver.after-rename", 3),
        ("lmtp.after-reply#1", 1),
        ("lmtp.after-reply#2", 2),
        ("lmtp.after-reply#3", 3),
    ];
    for (point, expected_250) in points {
        let root = root_with_users("lmtp-crash", "");
        let mut c = Raw::start(&root, Some(point));
        c.cmd("LHLO t");
        c.cmd("MAIL FROM:<s@x>");
        for u in ["alice", "bob", "carol"] {
            c.cmd(&format!("RCPT TO:<{u}@x>"));
        }
        assert!(c.cmd("DATA").starts_with("354"));
        c.send(format!("{}.\r\n", message(point)).as_bytes());
        let mut told = Vec::new();
        for _ in 0..3 {
            let r = c.reply().concat();
            if r.is_empty() {
                break;
            }
            told.push(r);
        }
        let c_status = if point.starts_with("deliver.") {
            c.cmd("QUIT");
            wait_exit(&mut c.child, Duration::from_secs(20))
        } else {
            let s = wait_exit(&mut c.child, Duration::from_secs(20));
            assert_eq!(
                s.and_then(|s| s.signal()),
                Some(6),
                "{point}: did not abort"
            );
            s
        };
        assert!(c_status.is_some());
        assert_eq!(
            told.iter().filter(|r| r.starts_with("250")).count(),
            expected_250,
            "{point}: the MTA was told {told:?}"
        );
        // Children that had staged ahead of the replies saw the session
        // die and removed their staged files (an aborted child leaves its
        // own, an ordinary tmp/*.tmp file for garbage collection).
        if point != "deliver.before-commit" {
            let staged = || {
                ["alice", "bob", "carol"]
                    .iter()
                    .flat_map(|u| {
                        std::fs::read_dir(root.path().join("users").join(u).join("tmp")).unwrap()
                    })
                    .filter(|e| {
                        e.as_ref()
                            .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".staged.tmp"))
                    })
                    .count()
            };
            let mut tries = 0;
            while staged() > 0 && tries < 200 {
                std::thread::sleep(Duration::from_millis(50));
                tries += 1;
            }
            assert_eq!(staged(), 0, "{point}: staged files left behind");
        }
        for (i, u) in ["alice", "bob", "carol"].iter().enumerate() {
            let delivered = told
                .get(i)
                .is_some_and(|r| r.starts_with("250 2.0.0 Delivered"));
            let n = messages(&root, u, "INBOX").len();
            assert_eq!(
                n,
                usize::from(delivered),
                "{point}: {u} has {n} copies, the MTA was told {:?}",
                told.get(i)
            );
        }
    }
}

#[test]
fn cli_deliver_address_maps_user_and_detail() {
    let root = root_with_users("lmtp-deliver-address", "");
    let run = |addr: &str| {
        let mut cmd = root.command(&["deliver", "--address", addr]);
        cmd.stderr(Stdio::null());
        common::run_with_stdin(cmd, message(addr).as_bytes())
            .status
            .code()
    };
    assert_eq!(run("bob+Archive@example.org"), Some(0));
    assert_eq!(run("nobody+x@example.org"), Some(67));
    assert_eq!(run("../x@example.org"), Some(67));
    // The setting is off by default: INBOX, not Archive.
    assert_eq!(messages(&root, "bob", "INBOX").len(), 1);
    assert!(messages(&root, "bob", "Archive").is_empty());
}

#[test]
fn xcry_detail_delivery_files_plus_detail_into_the_mailbox() {
    let root = root_with_users("lmtp-detail", "");
    let send = |to: &str| {
        let mut c = Raw::start(&root, None);
        c.cmd("LHLO t");
        c.cmd("MAIL FROM:<s@x>");
        assert!(c.cmd(&format!("RCPT TO:<{to}>")).starts_with("250"));
        c.cmd("DATA");
        c.send(format!("{}.\r\n", message(to)).as_bytes());
        assert!(c.reply().concat().starts_with("250 2.0.0"));
        c.cmd("QUIT");
    };
    // Off by default: +detail goes to INBOX.
    send("bob+Archive@x");
    // The user turns it on over IMAP (cleartext login is allowed on a
    // UNIX socket), and sees it reported.
    let (_child, sock) = root.spawn_serve("imap");
    let (mut imap, _) = common::Client::plain(sock);
    assert!(imap.login("bob", PW).contains("OK"));
    assert!(imap
        .status("XCRY SET-USER-CONFIG DETAIL-DELIVERY maybe")
        .contains("NO [CANNOT]"));
    assert!(imap
        .status("XCRY SET-USER-CONFIG DETAIL-DELIVERY yes")
        .contains("OK"));
    let got = imap.cmd("XCRY GET-USER-CONFIG").concat();
    assert!(got.contains("\"DETAIL-DELIVERY\" \"yes\""), "{got}");
    imap.status("LOGOUT");
    send("bob+Archive@x");
    // A detail naming no mailbox still lands in INBOX.
    send("bob+NoSuchBox@x");
    assert_eq!(messages(&root, "bob", "INBOX").len(), 2);
    let archive = messages(&root, "bob", "Archive");
    assert_eq!(archive.len(), 1);
    assert!(contains(&archive[0], "Delivered-To: bob+Archive@x"));
}

#[test]
fn isolation_lmtp_black_box_chroot_system_and_system_user() {
    if !common::require_root("isolation_lmtp_black_box_chroot_system_and_system_user") {
        return;
    }
    // Every account belongs to `nobody` (as add_user does under root); the
    // session chroots into users/ and becomes `nobody` before it reads
    // the network, so its children cannot (and need not) chroot further.
    let root = root_with_users(
        "lmtp-blackbox",
        "\n[security]\nchroot_system = true\nsystem_user = \"nobody\"\n",
    );
    let mut c = Raw::start(&root, None);
    c.cmd("LHLO t");
    c.cmd("MAIL FROM:<s@x>");
    for u in ["alice", "bob", "nosuch"] {
        c.cmd(&format!("RCPT TO:<{u}@x>"));
    }
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(format!("{}.\r\n", message("black box")).as_bytes());
    assert_eq!(c.reply().concat(), "250 2.0.0 Delivered <alice@x>");
    assert_eq!(c.reply().concat(), "250 2.0.0 Delivered <bob@x>");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    assert_eq!(messages(&root, "alice", "INBOX").len(), 1);
    assert_eq!(messages(&root, "bob", "INBOX").len(), 1);
}

#[test]
fn hostile_lmtp_client_gone_before_the_replies_stops_further_copies() {
    // The client sends the whole message and closes at once: replies
    // cannot be sent, so after the first failed reply no further copy is
    // committed (the MTA would never learn of it). Whatever the timing,
    // the recipients holding a copy are a prefix of the RCPT order, each
    // holds at most one, and no staged file is left.
    let root = root_with_users("lmtp-gone", "");
    let users = ["alice", "bob", "carol"];
    let mut c = Raw::start(&root, None);
    c.cmd("LHLO t");
    c.cmd("MAIL FROM:<s@x>");
    for u in users {
        c.cmd(&format!("RCPT TO:<{u}@x>"));
    }
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(format!("{}.\r\n", message("gone")).as_bytes());
    let Raw {
        mut child,
        write,
        read,
    } = c;
    drop(write);
    drop(read);
    assert!(wait_exit(&mut child, Duration::from_secs(20)).is_some());
    let copies: Vec<usize> = users
        .iter()
        .map(|u| messages(&root, u, "INBOX").len())
        .collect();
    assert!(copies.iter().all(|&n| n <= 1), "{copies:?}");
    assert!(copies.windows(2).all(|w| w[0] >= w[1]), "{copies:?}");
    let staged = || {
        users
            .iter()
            .flat_map(|u| std::fs::read_dir(root.path().join("users").join(u).join("tmp")).unwrap())
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".staged.tmp"))
            })
            .count()
    };
    let mut tries = 0;
    while staged() > 0 && tries < 200 {
        std::thread::sleep(Duration::from_millis(50));
        tries += 1;
    }
    assert_eq!(staged(), 0);
}

/// A delivery child runs as its recipient's uid, which can stop it (here
/// it stops itself where it would commit, as `kill -STOP` by that user
/// would leave it). The session waits `[lmtp] delivery_timeout_secs` for
/// each, then kills it and answers that recipient with a temporary
/// failure (its copy never reached the spool), and goes on: every
/// recipient gets its reply, the session still answers, no copy is left
/// and no child is left behind. (Before, the session waited on the child
/// for good, holding up every later recipient and the MTA.)
#[test]
fn hostile_lmtp_stopped_delivery_child_is_killed_and_answered_temporary() {
    let root = root_with_users("lmtp-stall", "\n[lmtp]\ndelivery_timeout_secs = 2\n");
    let mut c = Raw::start(&root, Some("stop:deliver.before-commit"));
    c.cmd("LHLO t");
    c.cmd("MAIL FROM:<s@x>");
    for u in ["alice", "bob", "carol"] {
        assert!(c.cmd(&format!("RCPT TO:<{u}@x>")).starts_with("250"));
    }
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(format!("{}.\r\n", message("stalled")).as_bytes());
    for u in ["alice", "bob", "carol"] {
        let r = c.reply().concat();
        assert!(r.starts_with("451 4."), "{u}: {r:?}");
    }
    assert!(c.cmd("NOOP").starts_with("250"));
    assert!(c.cmd("QUIT").starts_with("221"));
    let status = wait_exit(&mut c.child, Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    for u in ["alice", "bob", "carol"] {
        assert_eq!(messages(&root, u, "INBOX").len(), 0, "{u}");
        let spool = root.path().join("users").join(u).join("spool");
        assert_eq!(std::fs::read_dir(spool).unwrap().count(), 0, "{u}");
    }
}

/// The other two places a stopped child could hold the session: stopped
/// after its rename but before its report (then it is killed and the
/// recipient answered 250 from the spool: the copy is there), and stopped
/// after its report, before it exits (then the reap after the replies
/// kills it). Either way the session answers the next command; before,
/// it waited for good on the report or on `waitpid`.
#[test]
fn hostile_lmtp_child_stopped_after_rename_or_report_does_not_hold_the_session() {
    for point in ["deliver.after-rename", "lmtp.child-after-report"] {
        let root = root_with_users("lmtp-stall2", "\n[lmtp]\ndelivery_timeout_secs = 2\n");
        let mut c = Raw::start(&root, Some(&format!("stop:{point}")));
        c.cmd("LHLO t");
        c.cmd("MAIL FROM:<s@x>");
        for u in ["alice", "bob"] {
            assert!(c.cmd(&format!("RCPT TO:<{u}@x>")).starts_with("250"));
        }
        assert!(c.cmd("DATA").starts_with("354"));
        c.send(format!("{}.\r\n", message(point)).as_bytes());
        for u in ["alice", "bob"] {
            let r = c.reply().concat();
            assert!(r.starts_with("250 2.0.0"), "{point}: {u}: {r:?}");
        }
        assert!(c.cmd("NOOP").starts_with("250"), "{point}");
        assert!(c.cmd("QUIT").starts_with("221"), "{point}");
        let status = wait_exit(&mut c.child, Duration::from_secs(20));
        assert!(status.is_some_and(|s| s.success()), "{point}: {status:?}");
        for u in ["alice", "bob"] {
            assert_eq!(messages(&root, u, "INBOX").len(), 1, "{point}: {u}");
        }
    }
}
