//! Hostile input on the wire: every case gets a clear BAD/NO or a `* BYE`
//! and the process never panics; where the protocol allows, the session
//! goes on afterwards.

mod common;

use std::io::Read;
use std::process::Child;
use std::time::Duration;

use common::*;

/// Ends the session and checks the server exited without a panic.
fn finish(mut child: Child) {
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("server hung");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "server panicked: {err}");
    assert_ne!(status.code(), Some(101), "server panicked: {err}");
}

fn session(label: &str) -> (Root, Child, Client) {
    let root = Root::new(label);
    root.add_user("pat", "pw");
    let (child, sock) = root.spawn_serve("imaps");
    let (c, _) = Client::imaps(sock);
    (root, child, c)
}

#[test]
fn hostile_oversized_line_is_bad_and_session_survives() {
    let (_r, child, mut c) = session("long-line");
    // After login: before it, a stranger's overlong line ends the
    // connection (hostile_prelogin.rs).
    assert!(c.login("pat", "pw").starts_with("t1 OK"));
    let mut line = b"a1 NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 100 * 1024));
    line.extend_from_slice(b"\r\n");
    c.send(&line);
    let l = c.line();
    assert!(l.starts_with("a1 BAD ") || l.starts_with("* BAD "), "{l}");
    assert!(l.to_lowercase().contains("too long"), "{l}");
    assert_eq!(c.status("NOOP"), "t2 OK NOOP completed");
    c.cmd("LOGOUT");
    finish(child);
}

#[test]
fn hostile_enormous_line_ends_with_bye() {
    let (_r, child, mut c) = session("huge-line");
    // Far beyond any limit, with no line end: the server must not buffer it.
    let chunk = vec![b'y'; 1 << 20];
    let mut sent = 0;
    while sent < 32 << 20 {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.send(&chunk))).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let rest = c.rest();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("* BYE ") || l.contains(" BAD ")),
        "{rest:?}"
    );
    finish(child);
}

#[test]
fn hostile_oversized_literal_is_refused_without_continuation() {
    let (_r, child, mut c) = session("big-literal");
    c.send(b"a1 LOGIN {100000000}\r\n");
    let l = c.line();
    assert!(!l.starts_with('+'), "server asked for a huge literal: {l}");
    assert!(l.starts_with("a1 BAD ") || l.starts_with("a1 NO "), "{l}");
    assert_eq!(c.status("NOOP"), "t1 OK NOOP completed");
    // APPEND's own bound (64 MiB) answers NO [TOOBIG] before any byte.
    c.send(b"a2 APPEND INBOX {70000000}\r\n");
    let l = c.line();
    assert!(
        l.starts_with("a2 NO [TOOBIG]") || l.starts_with("a2 BAD"),
        "{l}"
    );
    assert_eq!(c.status("NOOP"), "t2 OK NOOP completed");
    c.cmd("LOGOUT");
    finish(child);
}

#[test]
fn hostile_oversized_non_synchronising_literal_ends_with_bye() {
    let (_r, child, mut c) = session("big-literal-plus");
    c.send(b"a1 LOGIN {900000000+}\r\n");
    let rest = c.rest();
    assert!(
        rest.first()
            .is_some_and(|l| l.starts_with("* BYE ") || l.starts_with("a1 BAD")),
        "{rest:?}"
    );
    finish(child);
}

#[test]
fn hostile_unterminated_literal_at_eof() {
    let (_r, child, mut c) = session("unterminated");
    c.send(b"a1 LOGIN {10}\r\n");
    assert_eq!(c.line(), "+ go ahead");
    c.send(b"abc");
    drop(c);
    finish(child);
}

#[test]
fn hostile_garbage_and_nul_bytes_get_bad() {
    let (_r, child, mut c) = session("garbage");
    c.send(b"\x80\xff\xfe garbage \x01\x02\r\n");
    let l = c.line();
    assert!(l.starts_with("* BAD ") || l.contains(" BAD "), "{l}");
    c.send(b"a1 NO\x00OP\r\n");
    let l = c.line();
    assert!(l.contains("BAD"), "{l}");
    c.send(b"a2 FROBNICATE\r\n");
    assert!(c.line().starts_with("a2 BAD "));
    // An empty line is skipped silently (as Dovecot does); the next command
    // is answered normally.
    c.send(b"\r\na3 LOGIN\r\n");
    assert!(c.line().starts_with("a3 BAD "));
    assert_eq!(c.status("NOOP"), "t1 OK NOOP completed");
    c.cmd("LOGOUT");
    finish(child);
}

#[test]
fn hostile_ten_thousand_nested_parentheses() {
    let (_r, child, mut c) = session("nesting");
    assert!(c.login("pat", "pw").starts_with("t1 OK"));
    for cmd in ["SEARCH ", "FETCH 1 ", "ID "] {
        let mut line = format!("n1 {cmd}").into_bytes();
        line.extend(std::iter::repeat_n(b'(', 10_000));
        line.extend(std::iter::repeat_n(b')', 10_000));
        line.extend_from_slice(b"\r\n");
        c.send(&line);
        let l = c.line();
        assert!(l.starts_with("n1 BAD "), "{cmd}: {l}");
    }
    assert_eq!(c.status("NOOP"), "t2 OK NOOP completed");
    c.cmd("LOGOUT");
    finish(child);
}

#[test]
fn hostile_random_bytes_never_crash_the_server() {
    // Deterministic pseudo-random junk, in lines and with stray literals.
    let (_r, child, mut c) = session("random");
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut blob = Vec::new();
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = (x & 0xff) as u8;
        blob.push(match b % 16 {
            0 => b'\n',
            1 => b'{',
            2 => b'(',
            _ => b,
        });
    }
    // Before login the server may close first (too many commands, a
    // LITERAL+ over the cap): a failed send is part of the outcome.
    let _ = c.try_send(&blob);
    // Junk may leave the server waiting for a literal, so the client just
    // hangs up; the server must then end on its own, without a panic.
    drop(c);
    finish(child);
}

/// A client that asks for a lot and never reads: the server's writes are
/// bounded by the idle timeout, so the session ends instead of blocking
/// forever.
#[test]
fn hostile_client_that_never_reads_does_not_hold_the_session() {
    let root = Root::new("no-reader");
    root.set("limits", "idle_timeout_secs = 2");
    root.add_user("pat", "pw");
    let big: Vec<u8> = b"Subject: big\r\n\r\n"
        .iter()
        .copied()
        .chain((0..4_000_000u32).map(|i| b"abcdefghij\r\n"[(i % 12) as usize]))
        .collect();
    common::seed(&root, "pat", "pw", "INBOX", &[&big]);
    let (child, sock) = root.spawn_serve("imaps");
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("pat", "pw").starts_with("t1 OK"));
    assert!(c.status("SELECT INBOX").contains(" OK "));
    // Ask for far more than the socket buffers hold, then stop reading.
    for i in 0..8 {
        c.send(format!("f{i} FETCH 1 BODY.PEEK[]\r\n").as_bytes());
    }
    finish(child);
    drop(c);
}

/// A client that stalls in the middle of a command (inside a literal, or
/// after AUTHENTICATE's continuation request) is logged out after the idle
/// timeout, like one that is silent between commands.
#[test]
fn hostile_client_stalling_inside_a_command_is_logged_out() {
    for stall in [&b"a1 LOGIN {10}\r\nabc"[..], b"a2 AUTHENTICATE PLAIN\r\n"] {
        let root = Root::new("stall");
        root.set("limits", "idle_timeout_secs = 2");
        let (child, sock) = root.spawn_serve("imaps");
        let (mut c, _) = Client::imaps(sock);
        c.send(stall);
        finish(child);
        drop(c);
    }
}
