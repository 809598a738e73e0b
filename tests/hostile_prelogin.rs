//! A stranger before login (issue 7, finding 6): until LOGIN succeeds the
//! process is root, so what an unauthenticated client can make it buffer,
//! how long it can hold it, how many commands it gets answered and how
//! many sessions one address can take are all bounded. Each client here is
//! hostile on purpose, and each test ends in bounded time whatever the
//! server does.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// What the server sends within `wait` (or until it closes), stopping
/// early once it has sent complete lines and then paused for 200 ms.
fn read_for(sock: &mut UnixStream, wait: Duration) -> (String, bool) {
    read(sock, wait, Some(Duration::from_millis(200)))
}

/// Everything the server sends until it closes the connection, and whether
/// it closed within `limit` (a bound against a hang): for the tests whose
/// point is the close, which a pause under load must not cut short.
fn read_until_closed(sock: &mut UnixStream, limit: Duration) -> (String, bool) {
    read(sock, limit, None)
}

/// Reads until the server closes, `wait` passes, or (with `quiet`) the
/// server pauses that long after a complete line; true when it closed.
fn read(sock: &mut UnixStream, wait: Duration, quiet: Option<Duration>) -> (String, bool) {
    let mut end = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&out).into_owned(), false);
        }
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if let Some(quiet) = quiet.filter(|_| out.ends_with(b"\r\n")) {
                    end = end.min(Instant::now() + quiet);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (String::from_utf8_lossy(&out).into_owned(), false)
            }
            // A reset after BYE: the server closed.
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), true),
        }
    }
}

fn start(root: &Root) -> (Guard, UnixStream) {
    let (child, mut sock) = root.spawn_serve("imap");
    let (greeting, _) = read_for(&mut sock, Duration::from_secs(10));
    assert!(greeting.starts_with("* OK"), "{greeting}");
    (Guard(child), sock)
}

#[test]
fn hostile_prelogin_append_literal_gets_no_continuation() {
    let root = Root::new("pre-append");
    let (_g, mut sock) = start(&root);
    // 64 MiB is APPEND's bound after login; before it, 4 KiB is.
    sock.write_all(b"a1 APPEND INBOX {67108864}\r\n").unwrap();
    let (got, closed) = read_for(&mut sock, Duration::from_secs(10));
    assert!(
        !got.starts_with('+'),
        "a stranger was asked for 64 MiB: {got}"
    );
    assert!(
        got.starts_with("a1 BAD ") || got.starts_with("a1 NO "),
        "{got}"
    );
    assert!(!closed);
    // A small literal (a password with odd characters) still gets its "+".
    sock.write_all(b"a2 LOGIN {3}\r\n").unwrap();
    let (got, _) = read_for(&mut sock, Duration::from_secs(10));
    assert!(got.starts_with('+'), "{got}");
    sock.write_all(b"bob \"pw\"\r\n").unwrap();
    let (got, _) = read_for(&mut sock, Duration::from_secs(10));
    assert!(got.contains("a2 NO"), "{got}");
    // LITERAL+ over the cap: nothing is skipped for a stranger.
    sock.write_all(b"a3 APPEND INBOX {67108864+}\r\n").unwrap();
    let _ = sock.write_all(&vec![b'x'; 64 * 1024]);
    let (got, closed) = read_until_closed(&mut sock, Duration::from_secs(10));
    assert!(got.contains("* BYE "), "{got}");
    assert!(closed, "the connection stayed open: {got}");
}

#[test]
fn hostile_prelogin_slow_bytes_hit_the_command_deadline() {
    // One byte every 300 ms never trips the idle timeout (per read), but
    // the command as a whole must arrive within command_timeout_secs.
    let root = Root::new("pre-slow");
    root.set("limits", "command_timeout_secs = 2");
    let (_g, mut sock) = start(&root);
    sock.write_all(b"a1 NOOP ").unwrap();
    let mut seen = String::new();
    for _ in 0..40 {
        if sock.write_all(b"x").is_err() {
            break;
        }
        let (got, closed) = read_for(&mut sock, Duration::from_millis(300));
        seen.push_str(&got);
        if closed {
            break;
        }
    }
    assert!(
        seen.contains("* BYE ") && seen.contains("not completed in time"),
        "12 s of one byte at a time and still open: {seen:?}"
    );
}

#[test]
fn hostile_prelogin_state_has_a_total_deadline() {
    // Complete, quick commands, forever: each is answered, but the
    // unauthenticated state ends at prelogin_timeout_secs.
    let root = Root::new("pre-total");
    root.set("limits", "prelogin_timeout_secs = 2");
    let (_g, mut sock) = start(&root);
    let mut seen = String::new();
    let mut closed = false;
    for i in 0..40 {
        if sock.write_all(format!("a{i} NOOP\r\n").as_bytes()).is_err() {
            closed = true;
            break;
        }
        let (got, c) = read_for(&mut sock, Duration::from_millis(300));
        seen.push_str(&got);
        if c {
            closed = true;
            break;
        }
    }
    assert!(closed, "12 s unauthenticated and still open: {seen:?}");
    assert!(seen.contains("* BYE "), "{seen:?}");
}

#[test]
fn hostile_prelogin_command_flood_is_cut_off() {
    let root = Root::new("pre-flood");
    let (_g, mut sock) = start(&root);
    let mut flood = Vec::new();
    for i in 0..2000 {
        flood.extend_from_slice(format!("a{i} NOOP\r\n").as_bytes());
    }
    // The server may close mid-way: a failed write is part of the outcome.
    let writer = {
        let mut w = sock.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&flood);
        })
    };
    let (got, closed) = read_until_closed(&mut sock, Duration::from_secs(20));
    let _ = writer.join();
    let answered = got.matches(" OK NOOP").count();
    assert!(closed, "still open after {answered} NOOPs");
    assert!(got.contains("* BYE Too many commands"), "{got}");
    assert!(answered <= 50, "{answered} NOOPs answered before login");
}

#[test]
fn hostile_listen_caps_sessions_per_client_address() {
    let port = free_port();
    let root = Root::new("pre-per-address");
    root.set("listen", "max_sessions_per_address = 2");
    let addr = format!("127.0.0.1:{port}");
    let _server = root.listen(&[], &[&addr], Stdio::null());
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect_retry(&addr);
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"* OK"), "{:?}", &buf[..n]);
        held.push(s);
    }
    // The third from the same address is closed without a greeting.
    let mut third = connect_retry(&addr);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 512];
    let got = third.read(&mut buf);
    assert!(
        matches!(got, Ok(0) | Err(_))
            && !matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a third session from one address was served: {:?}",
        got.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
    // Once one ends, the address may connect again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut s = connect_retry(&addr);
        let mut buf = [0u8; 512];
        if let Ok(n) = s.read(&mut buf) {
            if buf[..n].starts_with(b"* OK") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the address never got a session back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The cap counts sessions, not processes that are ending: a client at
/// the limit that logs out and reconnects at once (as Dovecot's imaptest
/// stress mode does, 10 clients against the default limit of 10) is
/// served, not refused because the old session's process has not exited
/// yet. Over the limit a connection waits a moment for such an exit
/// before it is closed.
#[test]
fn hostile_listen_cap_lets_a_client_reconnect_right_after_logout() {
    let port = free_port();
    let root = Root::new("pre-per-address-reconnect");
    root.add_user("alice", "pw-alice");
    root.set("listen", "max_sessions_per_address = 2");
    let addr = format!("127.0.0.1:{port}");
    let _server = root.listen(&[], &[&addr], Stdio::null());
    let connect = || {
        let (mut c, greeting) = Client::plain(connect_retry(&addr));
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let st = c.login("alice", "pw-alice");
        assert!(st.starts_with("t1 OK"), "{st}");
        c
    };
    let _steady = connect();
    let mut current = connect();
    for round in 0..20 {
        let r = current.ok("LOGOUT");
        assert!(
            r.iter().any(|l| l.starts_with("* BYE")),
            "round {round}: {r:#?}"
        );
        // At once, with the old session's process possibly still alive.
        current = connect();
    }
}

/// The pre-login bounds still let through the largest command RFC 2971
/// allows before login: `ID` with 30 pairs of 1,024-octet strings (about
/// 32 KiB on one line). Found by Dovecot's imaptest (`id` group).
#[test]
fn rfc2971_3_3_maximal_id_before_login_is_answered() {
    let root = Root::new("pre-id");
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, greeting) = Client::imaps(sock);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let mut line = b"i1 ID (".to_vec();
    for n in 0..30 {
        if n > 0 {
            line.push(b' ');
        }
        let field = format!("\"f{n:02}{}\"", "x".repeat(26));
        let value = format!("\"{}\"", "v".repeat(1024));
        line.extend_from_slice(format!("{field} {value}").as_bytes());
    }
    line.extend_from_slice(b")\r\n");
    assert!(line.len() > 30 * 1024, "{}", line.len());
    c.send(&line);
    let mut answer = c.line();
    while answer.starts_with("* ") {
        answer = c.line();
    }
    assert!(answer.starts_with("i1 OK"), "{answer}");
}
