//! Guessing passwords from many connections at once (issue 7, finding 7):
//! attempts are counted per user name (and client address) in one file
//! every `serve` process shares, so parallel connections do not each get
//! their own allowance, and the right password is not accepted in the
//! middle of a guessing storm.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

fn throttled_root(label: &str) -> Root {
    // Appended as its own table after the harness's [listen].
    let root = Root::with_config(
        label,
        "\n[throttle]\nfree_failures = 3\nmax_delay_secs = 1\nlockout_failures = 8\nwindow_secs = 3\n",
    );
    root.add_user("alice", "right-password");
    root
}

fn guess(root: &Root, password: &str) -> String {
    guesses(root, &[password]).remove(0)
}

/// Tries `passwords` in turn on one connection (at most 3: the
/// per-connection limit).
fn guesses(root: &Root, passwords: &[&str]) -> Vec<String> {
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, greeting) = Client::imaps(sock);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    passwords.iter().map(|p| c.login("alice", p)).collect()
}

/// `n` sessions, each greeted first, send alice's right password at the
/// same moment; every one must be let in.
fn right_logins_at_once(root: &Root, n: usize) {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let (child, sock) = root.spawn_serve("imaps");
                    let _g = Guard(child);
                    let (mut c, greeting) = Client::imaps(sock);
                    assert!(greeting.starts_with("* OK"), "{greeting}");
                    barrier.wait();
                    c.login("alice", "right-password")
                })
            })
            .collect();
        for h in handles {
            let st = h.join().expect("a login thread");
            assert!(st.starts_with("t1 OK"), "{st}");
        }
    });
}

#[test]
fn hostile_parallel_guessing_is_throttled_across_connections() {
    let root = std::sync::Arc::new(throttled_root("guess-parallel"));
    let threads: Vec<_> = (0..30)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                let p: Vec<String> = (0..3).map(|n| format!("guess-{i}-{n}")).collect();
                guesses(&root, &p.iter().map(String::as_str).collect::<Vec<_>>())
            })
        })
        .collect();
    let replies: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let checked = replies
        .iter()
        .filter(|r| r.contains("Authentication failed"))
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.contains("try again later"))
        .count();
    assert_eq!(checked + refused, 90, "{replies:?}");
    // 8 attempts are checked across all 30 connections, not 90.
    assert!(checked <= 8, "{checked} passwords checked: {replies:?}");
    // The right password, in the middle of the storm, is not accepted.
    let r = guess(&root, "right-password");
    assert!(r.contains("NO") && r.contains("try again later"), "{r}");
    // Once the window passes without an attempt, it is.
    std::thread::sleep(Duration::from_secs(4));
    let r = guess(&root, "right-password");
    assert!(r.starts_with("t1 OK"), "{r}");
}

/// Successful logins from one address never add up to a lock-out: a
/// client that reconnects often, a NAT, a webmail or a proxy in front logs
/// in far more often than `lockout_failures` within the window. Found by
/// Dovecot's imaptest, which logs in once per test group and was locked
/// out after the twentieth.
#[test]
fn hostile_successful_logins_from_one_address_are_never_throttled() {
    let port = free_port();
    let root = throttled_root("guess-successes");
    let addr = format!("127.0.0.1:{port}");
    let _server = root.listen(&[], &[&addr], std::process::Stdio::null());
    // Two wrong guesses from the address first: they keep counting.
    for n in 0..2 {
        let (mut c, greeting) = Client::plain(connect_retry(&addr));
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let st = c.login("alice", &format!("wrong-{n}"));
        assert!(st.contains("NO"), "{st}");
    }
    // lockout_failures is 8: three times as many right logins all pass.
    for n in 0..24 {
        let (mut c, greeting) = Client::plain(connect_retry(&addr));
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let st = c.login("alice", "right-password");
        assert!(st.contains("OK"), "login {n} from one address: {st}");
    }
}

/// Ten correct logins of one user at once, as a client opening several
/// connections does (and Dovecot's imaptest stress mode, which found
/// this): none may wait for another. Attempts still being checked used
/// to count as failures, so with `free_failures = 1` the later ones of a
/// burst waited 1, 2, 4... seconds; here the delay ceiling is an hour,
/// so such a wait outlasts the client's 20-second read timeout and fails
/// the test. The production Argon2 cost keeps the attempts in flight
/// long enough to overlap.
#[test]
fn hostile_parallel_right_logins_of_one_user_are_not_delayed() {
    let root = Root::with_default_kdf("guess-parallel-right");
    let path = root.path().join("crymap-like.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "\n[throttle]\nfree_failures = 1\nmax_delay_secs = 3600\nlockout_failures = 50\nwindow_secs = 900\n",
    );
    std::fs::write(&path, text).unwrap();
    root.add_user("alice", "right-password");
    right_logins_at_once(&root, 10);
    // A wrong password afterwards is still counted and checked.
    let st = guess(&root, "wrong");
    assert!(st.contains("Authentication failed"), "{st}");
}

/// Correct logins queued for a derivation slot are not attempts in flight:
/// twenty logins of one user from one address at once, with one slot and
/// a lock-out at 5, all get in. They used to be counted from the moment
/// they started, so while they queued (the production Argon2 cost, one
/// derivation at a time) the later ones found 5 attempts in flight and
/// were refused "try again later" — what fifty clients of
/// `benches/login-bench.sh` met with the throttle on. Parallel guesses
/// are still stopped after the lock-out's count
/// (`hostile_parallel_guessing_is_throttled_across_connections`).
#[test]
fn hostile_parallel_right_logins_queued_for_a_slot_are_not_locked_out() {
    let root = Root::with_default_kdf("guess-queued-right");
    let path = root.path().join("crymap-like.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "\n[kdf]\nconcurrent = 1\n\n[throttle]\nfree_failures = 3\nmax_delay_secs = 1\nlockout_failures = 5\nwindow_secs = 900\n",
    );
    std::fs::write(&path, text).unwrap();
    root.add_user("alice", "right-password");
    right_logins_at_once(&root, 20);
    // Wrong passwords are still counted: the sixth attempt is refused
    // unchecked.
    let replies: Vec<String> = (0..2)
        .flat_map(|_| guesses(&root, &["wrong-1", "wrong-2", "wrong-3"]))
        .collect();
    assert!(
        replies[..5]
            .iter()
            .all(|r| r.contains("Authentication failed")),
        "{replies:?}"
    );
    assert!(replies[5].contains("try again later"), "{replies:?}");
}

/// Many connections cannot run more password derivations at once than
/// `[kdf] concurrent` allows (each costs 19 MiB and a core's time at the
/// production cost; doc/scaling.md). With one slot: a session stopped
/// while it holds the slot (SIGSTOP at `login.kdf-slot-held`) keeps a
/// second login unanswered; once the first is killed (its slot freed
/// with its descriptors) the second logs in.
#[test]
fn hostile_logins_wait_for_a_free_derivation_slot_across_sessions() {
    let root = Root::new("kdf-slots");
    root.set("kdf", "concurrent = 1");
    root.add_user("alice", "right-password");
    let (first, mut holder) = root.serve_imaps(Some("stop:login.kdf-slot-held"), Stdio::null());
    let pid = first.id();
    let mut first = Guard(first);
    holder.send(b"a LOGIN alice right-password\r\n");
    for _ in 0..2000 {
        if stopped(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(stopped(pid), "the first session never reached its slot");

    let (second, sock) = root.serve("imaps", None, Stdio::null());
    let _second = Guard(second);
    let control = sock.try_clone().unwrap();
    let mut waiting = Client::imaps_ok(sock);
    control
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    waiting.send(b"b LOGIN alice right-password\r\n");
    assert!(
        waiting.read_response().is_err(),
        "a second derivation ran while the only slot was held"
    );
    control
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let tagged = waiting.until_tagged("b");
    assert!(
        tagged.last().is_some_and(|l| l.starts_with("b OK")),
        "{tagged:?}"
    );
}
