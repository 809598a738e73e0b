//! A long FETCH answer streams: the real binary over TLS writes finished
//! responses while it makes the rest, blocks when the client stops
//! reading, and holds a bounded amount of memory meanwhile, whatever the
//! answer's size. The bytes and their order are those of an answer sent
//! in one piece (RFC 9051 §7.5: untagged responses, then the tagged one).

mod common;

use std::time::{Duration, Instant};

const USER: &str = "stream";
const PASS: &str = "pw-stream";

/// Messages of about `size` bytes, each with distinct content so a
/// misplaced or repeated chunk would show.
fn big_messages(count: u32, size: usize) -> Vec<Vec<u8>> {
    lined_messages(count, size, u32::MAX)
}

/// Like [`big_messages`], with line numbers counting up to `cycle` and
/// starting over: few distinct words, so the full-text index that an
/// idling session builds for new mail (`doc/fts.md`) stays small beside
/// what is measured.
fn lined_messages(count: u32, size: usize, cycle: u32) -> Vec<Vec<u8>> {
    (1..=count)
        .map(|n| {
            let mut m = format!("From: a@example.org\r\nSubject: big {n}\r\n\r\n").into_bytes();
            let mut i = 0u32;
            while m.len() < size {
                m.extend_from_slice(format!("message {n} line {i} of filler text\r\n").as_bytes());
                i = (i + 1) % cycle;
            }
            m
        })
        .collect()
}

/// One field of `/proc/PID/FILE` (`VmHWM:` in status, `wchar:` in io), as
/// the number before any unit.
fn proc_field(pid: u32, file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/{file}"))
}

#[test]
fn rfc9051_6_4_5_a_large_fetch_streams_in_bounded_memory_while_the_client_waits() {
    const COUNT: u32 = 48;
    const SIZE: usize = 500 * 1024;
    let messages = big_messages(COUNT, SIZE);
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let total: usize = messages.iter().map(Vec::len).sum();
    let (_root, mut s, _) = common::session_on_inbox("fetch-stream", USER, PASS, &refs, true);
    let pid = s.server.0.id();
    let hwm_before = proc_field(pid, "status", "VmHWM:");

    let tag = s.start("FETCH 1:* BODY.PEEK[]");
    // The client reads nothing until the server stops writing: its
    // output stays put for half a second (the socket buffers are full).
    let mut wrote = proc_field(pid, "io", "wchar:");
    let mut still_since = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(60);
    while still_since.elapsed() < Duration::from_millis(500) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(50));
        let now = proc_field(pid, "io", "wchar:");
        if now != wrote {
            wrote = now;
            still_since = Instant::now();
        }
    }
    let stalled_at = wrote;
    let hwm_stalled = proc_field(pid, "status", "VmHWM:");

    // Now read everything: every message in order, byte for byte.
    let responses = s.try_until_tagged(&tag).expect("the whole answer");
    let (last, fetches) = responses.split_last().unwrap();
    assert!(last.text.starts_with(&format!("{tag} OK")), "{}", last.text);
    assert_eq!(fetches.len(), COUNT as usize);
    for (i, (r, m)) in fetches.iter().zip(&messages).enumerate() {
        assert!(
            r.text.starts_with(&format!("* {} FETCH", i + 1)),
            "{:.60}",
            r.text
        );
        assert_eq!(r.literals, vec![m.clone()], "message {}", i + 1);
    }
    let hwm_after = proc_field(pid, "status", "VmHWM:");

    // The server had written part of the answer and then waited for the
    // client, rather than finishing it in memory first.
    assert!(
        (stalled_at as usize) < total,
        "the server wrote {stalled_at} bytes of a {total}-byte answer nobody read"
    );
    // Its peak memory grew by a few chunks and one message, not by the
    // answer (24 MB): at most 8 MB, while stalled and after.
    let grown_kib = hwm_stalled.max(hwm_after).saturating_sub(hwm_before);
    assert!(
        grown_kib < 8 * 1024,
        "peak memory grew by {grown_kib} KiB for a {} KiB answer",
        total / 1024
    );
}

/// Waits until the server process `pid` has written nothing for half a
/// second (its socket buffers are full and nobody reads); what it has
/// written by then.
fn written_when_stalled(pid: u32) -> u64 {
    let mut wrote = proc_field(pid, "io", "wchar:");
    let mut still_since = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(60);
    while still_since.elapsed() < Duration::from_millis(500) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(50));
        let now = proc_field(pid, "io", "wchar:");
        if now != wrote {
            wrote = now;
            still_since = Instant::now();
        }
    }
    wrote
}

/// RFC 5465 §5.2: the FETCH a NOTIFY `MessageNew` asks for streams like
/// any FETCH. A session watches its INBOX with `MessageNew (UID
/// BODY.PEEK[])`, during IDLE and between commands, while another session
/// appends 48 messages of 500 KiB and the watcher reads nothing: the
/// server writes part of the pushed answer and waits, its peak memory
/// grows by a few chunks and one message, not by the 24 MB the new
/// messages make; then the client reads every message whole and in order.
/// (Before, the NOTIFY FETCH was held in memory until it was complete.)
#[test]
fn rfc5465_5_2_message_new_fetch_streams_in_bounded_memory_while_the_client_waits() {
    const COUNT: u32 = 48;
    const SIZE: usize = 500 * 1024;
    let messages = lined_messages(COUNT, SIZE, 64);
    let total: usize = messages.iter().map(Vec::len).sum();
    for idle in [false, true] {
        let root = common::Root::new(&format!("notify-stream-{idle}"));
        root.add_user(USER, PASS);
        let mut a = common::Session::login(&root, USER, PASS);
        let mut b = common::Session::login(&root, USER, PASS);
        a.ok("SELECT INBOX");
        a.ok("NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[]) MessageExpunge))");
        let idle_tag = idle.then(|| {
            let t = a.start("IDLE");
            assert_eq!(a.c.line(), "+ idling");
            t
        });
        let pid = a.server.0.id();
        let hwm_before = proc_field(pid, "status", "VmHWM:");

        let batch = messages
            .iter()
            .map(|m| common::client::literal(m.clone()))
            .collect();
        let r = b.append_all("INBOX", batch).expect("APPEND");
        assert!(r.last().unwrap().text.contains(" OK "), "{:?}", r.last());
        let stalled_at = written_when_stalled(pid);
        let hwm_stalled = proc_field(pid, "status", "VmHWM:");

        // Now read everything the server pushed: every message once, in
        // order, byte for byte.
        let mut fetches = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(120);
        while fetches.len() < COUNT as usize {
            assert!(Instant::now() < give_up, "only {} pushed", fetches.len());
            let r = a.c.read_response().expect("the pushed answer");
            if !r.fetch_items().is_empty() {
                fetches.push(r);
            }
        }
        let got = common::fetched(&fetches);
        assert_eq!(got.len(), COUNT as usize);
        for (i, (f, m)) in got.iter().zip(&messages).enumerate() {
            assert_eq!(f.uid, i as u32 + 1);
            assert!(f.body == *m, "message {} differs", i + 1);
        }
        match idle_tag {
            Some(t) => {
                a.c.send(b"DONE\r\n");
                let r = a.c.until_tagged(&t);
                assert!(r.last().unwrap().contains(" OK "), "{r:?}");
            }
            None => {
                a.ok("NOOP");
            }
        }
        let hwm_after = proc_field(pid, "status", "VmHWM:");
        assert!(
            (stalled_at as usize) < total,
            "idle {idle}: the server wrote {stalled_at} bytes of a {total}-byte push nobody read"
        );
        let grown_kib = hwm_stalled.max(hwm_after).saturating_sub(hwm_before);
        assert!(
            grown_kib < 8 * 1024,
            "idle {idle}: peak memory grew by {grown_kib} KiB for a {} KiB push",
            total / 1024
        );
    }
}
