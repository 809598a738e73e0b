//! Crash safety through the real server: a `serve imaps` session (or a
//! `deliver`) is made to abort at one named crash point
//! (`CRYMAP_LIKE_CRASH_AT`, which stops the process exactly like `kill -9`),
//! or is killed with SIGKILL in the middle of a MULTIAPPEND; a fresh, normal
//! session then checks that every acknowledged message is present exactly
//! once and byte-identical, that nothing is duplicated, that a moved
//! message is in exactly one mailbox, and that the store takes new writes.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::Duration;

use crymap_like::imap::wire::command::{SeqBound, SeqRange, SeqSet};

use common::{
    exists, fetched, msg, run_with_stdin, seed, status_items, tagged_code, wait_exit, Client,
    Closed, Flag, Guard, ResponseCode, Root, StatusValue,
};

const USER: &str = "carol";
const PASS: &str = "crash test dummy";
const ENV: &str = "CRYMAP_LIKE_CRASH_AT";

/// `serve imaps` on a socket pair, the way inetd starts it, optionally set
/// to abort at `crash`.
fn spawn(root: &Root, crash: Option<&str>) -> (Child, Client) {
    root.serve_imaps(crash, Stdio::piped())
}

/// A root with the user, INBOX seeded with `seeds` and an empty Archive
/// (a default mailbox).
fn root_with(label: &str, seeds: &[Vec<u8>]) -> Root {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    if !refs.is_empty() {
        seed(&root, USER, PASS, "INBOX", &refs);
    }
    root
}

/// Runs `steps` in a session set to abort at `point` and asserts that the
/// process really died there (SIGABRT), i.e. the point was reached.
fn crash_session(root: &Root, point: &str, steps: impl FnOnce(&mut Client) -> Result<(), Closed>) {
    let (child, mut raw) = spawn(root, Some(point));
    let mut guard = Guard(child);
    let result = (|| {
        let login = raw.try_login(USER, PASS)?;
        assert!(
            login
                .last()
                .is_some_and(|r| r.skeleton.starts_with("t1 OK")),
            "{point}: login refused"
        );
        steps(&mut raw)
    })();
    assert!(result.is_err(), "{point}: the session did not die");
    let status = wait_exit(&mut guard.0, Duration::from_secs(20)).expect("crashed server exits");
    assert_eq!(
        status.signal(),
        Some(libc_sigabrt()),
        "{point}: server did not abort at the crash point: {status:?}"
    );
}

fn libc_sigabrt() -> i32 {
    nix::sys::signal::Signal::SIGABRT as i32
}

/// A normal, logged-in session for checking.
struct Checker {
    raw: Client,
    guard: Guard,
}

impl Checker {
    fn new(root: &Root) -> Checker {
        let (child, mut raw) = spawn(root, None);
        let guard = Guard(child);
        assert!(raw.login(USER, PASS).contains(" OK "));
        Checker { raw, guard }
    }

    /// SELECTs `mailbox` and returns (uid, flags, content) of every message,
    /// checking EXISTS against what FETCH returned; all read from the
    /// library's parse of the responses.
    fn contents(&mut self, mailbox: &str) -> Vec<(u32, Vec<String>, Vec<u8>)> {
        let sel = self.raw.ok_run(&format!("SELECT {mailbox}"));
        let exists = exists(&sel).expect("EXISTS") as usize;
        let mut out = Vec::new();
        if exists > 0 {
            let r = self.raw.ok_run("UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
            out = fetched(&r)
                .into_iter()
                .map(|m| (m.uid, m.flags, m.body))
                .collect();
        }
        assert_eq!(
            out.len(),
            exists,
            "{mailbox}: FETCH count differs from EXISTS"
        );
        out
    }

    /// STATUS MESSAGES and UIDNEXT.
    fn status(&mut self, mailbox: &str) -> (usize, u32) {
        let r = self
            .raw
            .ok_run(&format!("STATUS {mailbox} (MESSAGES UIDNEXT)"));
        let (mut messages, mut uidnext) = (None, None);
        for item in status_items(&r) {
            match item {
                StatusValue::Messages(n) => messages = Some(n as usize),
                StatusValue::UidNext(n) => uidnext = Some(n.get()),
                _ => {}
            }
        }
        (messages.expect("MESSAGES"), uidnext.expect("UIDNEXT"))
    }

    /// Ends the session and asserts the server logged no error: the store
    /// opened cleanly.
    fn finish(mut self) {
        let _ = self.raw.try_run("LOGOUT");
        wait_exit(&mut self.guard.0, Duration::from_secs(20)).expect("server exits");
        let mut err = String::new();
        if let Some(mut e) = self.guard.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        assert!(
            !err.lines().any(|l| l.contains(" ERROR ")),
            "server logged errors:\n{err}"
        );
    }
}

/// Every `must` message is present exactly once, every `may` at most once,
/// nothing else is there; returns the UID of each content.
fn assert_set(
    what: &str,
    got: &[(u32, Vec<String>, Vec<u8>)],
    must: &[&[u8]],
    may: &[&[u8]],
) -> HashMap<Vec<u8>, u32> {
    let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
    for (uid, _, body) in got {
        assert!(
            must.contains(&body.as_slice()) || may.contains(&body.as_slice()),
            "{what}: unexpected or altered content at UID {uid}: {:?}",
            String::from_utf8_lossy(body)
        );
        assert!(
            seen.insert(body.clone(), *uid).is_none(),
            "{what}: content duplicated (UID {uid})"
        );
    }
    for m in must {
        assert!(
            seen.contains_key(*m),
            "{what}: acknowledged message missing: {:?}",
            String::from_utf8_lossy(&m[..m.len().min(120)])
        );
    }
    seen
}

/// The store takes new writes after the crash: a new APPEND gets a UID above
/// every UID ever used, reads back identical, and a STORE sticks.
fn assert_writable(c: &mut Checker, label: &str) {
    let (_, uidnext) = c.status("INBOX");
    let fresh = msg(&format!("{label}-after"));
    let r = c.raw.append("INBOX", &[], &fresh).expect("server alive");
    let uid = match tagged_code(&r) {
        Some(ResponseCode::AppendUid {
            uids: SeqSet::Ranges(ranges),
            ..
        }) => match ranges.as_slice() {
            [SeqRange::Single(SeqBound::Value(u))] => u.get(),
            other => panic!("{label}: APPENDUID of one message: {other:?}"),
        },
        other => panic!("{label}: no APPENDUID: {other:?}"),
    };
    assert!(
        uid >= uidnext,
        "{label}: UID {uid} reused (UIDNEXT was {uidnext})"
    );
    c.raw.ok_run("SELECT INBOX");
    c.raw
        .ok_run(&format!("UID STORE {uid} +FLAGS (\\Answered)"));
    let all = c.contents("INBOX");
    let (_, flags, body) = all
        .iter()
        .find(|(u, _, _)| *u == uid)
        .expect("new message listed");
    assert_eq!(body, &fresh, "{label}: new message altered");
    assert!(
        flags.contains(&"\\Answered".to_owned()),
        "{label}: {flags:?}"
    );
}

fn seeds(label: &str) -> Vec<Vec<u8>> {
    (1..=3).map(|i| msg(&format!("{label}-seed{i}"))).collect()
}

fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

/// APPEND aborting at `point`: the seeds stay, the new message is present
/// iff its record was logged, and at most once.
fn append_case(point: &str, logged: bool) {
    let s = seeds(point);
    let root = root_with(point, &s);
    let new = msg(&format!("{point}-new"));
    crash_session(&root, point, |raw| {
        raw.append("INBOX", &[Flag::Seen], &new).map(drop)
    });
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    let mut must = refs(&s);
    if logged {
        must.push(&new);
    }
    assert_set(point, &got, &must, &[]);
    assert_writable(&mut c, point);
    c.finish();
}

#[test]
fn crash_append_before_rename() {
    append_case("append.before-rename", false);
}

#[test]
fn crash_append_after_rename() {
    append_case("append.after-rename", false);
}

/// `check`'s report on the account: (exit code, what it printed).
fn check_account(root: &Root) -> (Option<i32>, String) {
    let out = run_with_stdin(
        root.command(&["check", USER, "--password-stdin"]),
        format!("{PASS}\n").as_bytes(),
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The files `check` names as belonging to no message.
fn unreferenced_files(report: &str) -> Vec<std::path::PathBuf> {
    report
        .lines()
        .filter(|l| l.contains("belongs to no message"))
        .filter_map(|l| l.split("file ").nth(1)?.split(" belongs").next())
        .map(std::path::PathBuf::from)
        .collect()
}

/// Power lost after an APPEND renamed its files into `msg/` but before
/// their fsyncs returned (`append.after-rename`, the window the
/// name-first order opens): the names may survive while the content does
/// not. The abort leaves the files whole in the page cache, so the test
/// then does to them what the disk may have done (the message file empty,
/// one cut short, the summary torn), for a single APPEND and for a
/// MULTIAPPEND of three. Nothing refers to those files, so the store
/// opens with exactly the acknowledged messages, logs no error, `check`
/// calls them harmless garbage, and new appends work.
#[test]
fn crash_append_after_rename_then_content_lost() {
    let point = "append.after-rename";
    for batch in [1usize, 3] {
        let label = format!("{point}-lost-{batch}");
        let s = seeds(&label);
        let root = root_with(&label, &s);
        let new: Vec<Vec<u8>> = (0..batch)
            .map(|i| msg(&format!("{label}-new{i}")))
            .collect();
        crash_session(&root, point, |raw| {
            if batch == 1 {
                raw.append("INBOX", &[Flag::Seen], &new[0]).map(drop)
            } else {
                let all = new
                    .iter()
                    .map(|m| common::client::literal(m.clone()))
                    .collect();
                raw.append_all("INBOX", all).map(drop)
            }
        });
        let (code, report) = check_account(&root);
        assert_eq!(code, Some(0), "{label}: {report}");
        let orphans = unreferenced_files(&report);
        assert_eq!(orphans.len(), batch, "{label}: {report}");
        for (i, f) in orphans.iter().enumerate() {
            let len = std::fs::metadata(f).expect("orphan").len();
            let cut = if i == 0 { 0 } else { len / 2 };
            std::fs::OpenOptions::new()
                .write(true)
                .open(f)
                .and_then(|h| h.set_len(cut))
                .expect("truncate");
            let sum = std::path::PathBuf::from(format!("{}.sum", f.display()));
            if let Ok(h) = std::fs::OpenOptions::new().write(true).open(&sum) {
                h.set_len(7).expect("truncate summary");
            }
        }
        let mut c = Checker::new(&root);
        assert_set(&label, &c.contents("INBOX"), &refs(&s), &[]);
        assert_eq!(c.status("INBOX").0, s.len(), "{label}");
        assert_writable(&mut c, &label);
        c.finish();
        let (code, report) = check_account(&root);
        assert_eq!(code, Some(0), "{label}: {report}");
        assert_eq!(unreferenced_files(&report).len(), batch, "{label}");
    }
}

#[test]
fn crash_append_after_file() {
    append_case("append.after-file", false);
}

#[test]
fn crash_append_after_log() {
    append_case("append.after-log", true);
}

#[test]
fn crash_store_flags_after_log() {
    let point = "flags.after-log";
    let s = seeds(point);
    let root = root_with(point, &s);
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        raw.try_run("STORE 2 +FLAGS (\\Flagged)").map(drop)
    });
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    let uids = assert_set(point, &got, &refs(&s), &[]);
    for (uid, flags, body) in &got {
        // The record reached the log before the abort, so the change is
        // durable, and only on the message it was meant for.
        let want = *uid == uids[&s[1]];
        assert_eq!(
            flags.contains(&"\\Flagged".to_owned()),
            want,
            "{point}: flags of {:?}",
            String::from_utf8_lossy(&body[..40])
        );
    }
    assert_writable(&mut c, point);
    c.finish();
}

#[test]
fn crash_expunge_after_log() {
    let point = "expunge.after-log";
    let s = seeds(point);
    let root = root_with(point, &s);
    // \Deleted is set in a normal session, since STORE has its own point.
    let mut prep = Checker::new(&root);
    prep.raw.ok_run("SELECT INBOX");
    prep.raw.ok_run("STORE 2 +FLAGS (\\Deleted)");
    prep.finish();
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        raw.try_run("EXPUNGE").map(drop)
    });
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    // Logged before the abort: the expunge is durable.
    assert_set(point, &got, &[&s[0], &s[2]], &[]);
    assert_eq!(c.status("INBOX").0, 2);
    assert_writable(&mut c, point);
    c.finish();
}

fn copy_case(point: &str, logged: bool) {
    let s = seeds(point);
    let root = root_with(point, &s);
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        raw.try_run("COPY 1:3 Archive").map(drop)
    });
    let mut c = Checker::new(&root);
    assert_set(point, &c.contents("INBOX"), &refs(&s), &[]);
    let archive = c.contents("Archive");
    let must = if logged { refs(&s) } else { Vec::new() };
    assert_set(&format!("{point} Archive"), &archive, &must, &[]);
    // A retried COPY succeeds and leaves one copy per retry in Archive.
    c.raw.ok_run("SELECT INBOX");
    c.raw.ok_run("COPY 1:3 Archive");
    let archive = c.contents("Archive");
    assert_eq!(archive.len(), if logged { 6 } else { 3 }, "{point}");
    assert_writable(&mut c, point);
    c.finish();
}

#[test]
fn crash_copy_after_link() {
    copy_case("copy.after-link", false);
}

#[test]
fn crash_copy_after_log() {
    copy_case("copy.after-log", true);
}

/// MOVE aborting at `point`: whichever mailbox is opened first, the moved
/// message ends in exactly one of the two, byte-identical; `done` says
/// which one the design promises.
fn move_case(point: &str, archive_first: bool, done: bool) {
    let s = seeds(point);
    let label = format!("{point}-{archive_first}");
    let root = root_with(&label, &s);
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        raw.try_run("MOVE 2 Archive").map(drop)
    });
    let mut c = Checker::new(&root);
    if archive_first {
        // Opening the destination first must not expose a half-done move
        // once the source has been opened too (checked below).
        c.contents("Archive");
    }
    let inbox = c.contents("INBOX");
    let archive = c.contents("Archive");
    let inbox_again = c.contents("INBOX");
    assert_eq!(
        inbox.len(),
        inbox_again.len(),
        "{label}: INBOX changed by itself"
    );
    let moved = s[1].as_slice();
    let in_inbox = inbox.iter().filter(|m| m.2 == moved).count();
    let in_archive = archive.iter().filter(|m| m.2 == moved).count();
    assert_eq!(
        in_inbox + in_archive,
        1,
        "{label}: moved message in INBOX {in_inbox}x, Archive {in_archive}x"
    );
    assert_eq!(
        in_archive == 1,
        done,
        "{label}: the move was not {}",
        if done { "finished" } else { "cancelled" }
    );
    assert_set(&label, &inbox, &[&s[0], &s[2]], &[moved]);
    assert_set(&format!("{label} Archive"), &archive, &[], &[moved]);
    // STATUS agrees with what SELECT showed.
    assert_eq!(c.status("INBOX").0, inbox.len(), "{label}");
    assert_eq!(c.status("Archive").0, archive.len(), "{label}");
    // The mailboxes still move mail.
    c.raw.ok_run("SELECT INBOX");
    c.raw.ok_run("MOVE 1 Archive");
    assert_eq!(c.contents("INBOX").len(), inbox.len() - 1, "{label}");
    assert_writable(&mut c, &label);
    c.finish();
}

#[test]
fn crash_move_after_intent() {
    move_case("move.after-intent", false, false);
    move_case("move.after-intent", true, false);
}

#[test]
fn crash_move_after_dest_add() {
    move_case("move.after-dest-add", false, true);
    move_case("move.after-dest-add", true, true);
}

#[test]
fn crash_move_after_source_expunge() {
    move_case("move.after-source-expunge", false, true);
    move_case("move.after-source-expunge", true, true);
}

fn deliver(root: &Root, content: &[u8], crash: Option<&str>) -> std::process::ExitStatus {
    let mut cmd = root.command(&["deliver", "--user", USER]);
    match crash {
        Some(p) => cmd.env(ENV, p),
        None => cmd.env_remove(ENV),
    };
    run_with_stdin(cmd, content).status
}

fn spool_is_empty(root: &Root) -> bool {
    let spool = root.path().join("users").join(USER).join("spool");
    std::fs::read_dir(spool).unwrap().next().is_none()
}

/// Filing the spool at login aborts at `point`; the delivered (and, by
/// `deliver`'s exit code, acknowledged) message is then filed exactly once.
fn spool_case(point: &str) {
    let s = seeds(point);
    let root = root_with(point, &s);
    let delivered = msg(&format!("{point}-delivered"));
    assert!(deliver(&root, &delivered, None).success());
    // The abort comes while LOGIN files the spool.
    let (child, mut raw) = spawn(&root, Some(point));
    let mut guard = Guard(child);
    assert!(
        raw.try_login(USER, PASS).is_err(),
        "{point}: login survived"
    );
    let status = wait_exit(&mut guard.0, Duration::from_secs(20)).expect("exits");
    assert_eq!(status.signal(), Some(libc_sigabrt()), "{point}: {status:?}");
    let mut c = Checker::new(&root);
    let mut must = refs(&s);
    must.push(&delivered);
    assert_set(point, &c.contents("INBOX"), &must, &[]);
    assert!(spool_is_empty(&root), "{point}: spool entry left behind");
    // A second login files nothing more.
    drop(c.raw.ok_run("LOGOUT"));
    let mut c = Checker::new(&root);
    assert_set(point, &c.contents("INBOX"), &must, &[]);
    assert_writable(&mut c, point);
    c.finish();
}

#[test]
fn crash_spool_after_link() {
    spool_case("spool.after-link");
}

#[test]
fn crash_spool_after_log() {
    spool_case("spool.after-log");
}

/// `deliver` aborting at `point`: not acknowledged (killed by a signal), so
/// the message is present iff the entry was renamed into the spool; a later
/// delivery works.
fn deliver_case(point: &str, renamed: bool) {
    let s = seeds(point);
    let root = root_with(point, &s);
    let lost = msg(&format!("{point}-crashed"));
    let status = deliver(&root, &lost, Some(point));
    assert_eq!(status.signal(), Some(libc_sigabrt()), "{point}: {status:?}");
    let next = msg(&format!("{point}-next"));
    assert!(deliver(&root, &next, None).success());
    let mut c = Checker::new(&root);
    let mut must = refs(&s);
    must.push(&next);
    if renamed {
        must.push(&lost);
    }
    assert_set(point, &c.contents("INBOX"), &must, &[]);
    assert!(spool_is_empty(&root), "{point}: spool entry left behind");
    assert_writable(&mut c, point);
    c.finish();
}

#[test]
fn crash_deliver_before_rename() {
    deliver_case("deliver.before-rename", false);
}

#[test]
fn crash_deliver_after_rename() {
    deliver_case("deliver.after-rename", true);
}

/// `XCRY PURGE` compacts every mailbox's log; aborting inside compaction
/// must keep every message, flag, expunge and UID assignment.
fn compact_case(point: &str) {
    let s: Vec<Vec<u8>> = (1..=5).map(|i| msg(&format!("{point}-seed{i}"))).collect();
    let root = root_with(point, &s);
    let mut prep = Checker::new(&root);
    prep.raw.ok_run("SELECT INBOX");
    prep.raw.ok_run("STORE 1 +FLAGS (\\Flagged)");
    prep.raw.ok_run("STORE 2 +FLAGS (\\Deleted)");
    prep.raw.ok_run("EXPUNGE");
    let (_, uidnext_before) = prep.status("INBOX");
    prep.finish();
    crash_session(&root, point, |raw| raw.try_run("XCRY PURGE").map(drop));
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    let uids = assert_set(point, &got, &[&s[0], &s[2], &s[3], &s[4]], &[]);
    for (uid, flags, _) in &got {
        assert_eq!(
            flags.contains(&"\\Flagged".to_owned()),
            *uid == uids[&s[0]],
            "{point}: flags of UID {uid}: {flags:?}"
        );
    }
    let (_, uidnext) = c.status("INBOX");
    assert_eq!(uidnext, uidnext_before, "{point}: UIDNEXT moved");
    // Compaction itself still works, then the store takes writes.
    c.raw.ok_run("XCRY PURGE");
    assert_set(
        point,
        &c.contents("INBOX"),
        &[&s[0], &s[2], &s[3], &s[4]],
        &[],
    );
    assert_writable(&mut c, point);
    c.finish();
}

#[test]
fn crash_compact_after_segment() {
    compact_case("compact.after-segment");
}

#[test]
fn crash_compact_after_snapshot_tmp() {
    compact_case("compact.after-snapshot-tmp");
}

#[test]
fn crash_compact_after_snapshot() {
    compact_case("compact.after-snapshot");
}

/// SIGKILL in the middle of a MULTIAPPEND: five messages sent, the sixth
/// half sent. Nothing was acknowledged and MULTIAPPEND is all or nothing
/// (RFC 3502), so none of them may appear; the seeds stay intact.
#[test]
fn crash_sigkill_during_multiappend() {
    let s = seeds("multiappend");
    let root = root_with("multiappend", &s);
    let (child, mut raw) = spawn(&root, None);
    let mut guard = Guard(child);
    assert!(raw.login(USER, PASS).contains(" OK "));
    let sent: Vec<Vec<u8>> = (1..=5).map(|i| msg(&format!("multi{i}"))).collect();
    let mut wire = b"c9 APPEND INBOX".to_vec();
    for m in &sent {
        wire.extend_from_slice(format!(" (\\Seen) {{{}+}}\r\n", m.len()).as_bytes());
        wire.extend_from_slice(m);
    }
    let big = 2 * 1024 * 1024;
    wire.extend_from_slice(format!(" {{{big}+}}\r\n").as_bytes());
    wire.extend(std::iter::repeat(b'x').take(big / 2));
    raw.try_send(&wire).expect("server reads the literals");
    // Let the server take in what was sent before it is killed.
    std::thread::sleep(Duration::from_millis(300));
    guard.0.kill().unwrap();
    let status = guard.0.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(nix::sys::signal::Signal::SIGKILL as i32)
    );
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    assert_set("multiappend", &got, &refs(&s), &[]);
    assert_writable(&mut c, "multiappend");
    c.finish();
}

/// A session that had INBOX selected during a MOVE that died converges,
/// at its next NOOP, on the same outcome as a fresh session: the message
/// in exactly one mailbox.
fn move_with_observer(point: &str, done: bool) {
    let s = seeds(point);
    let label = format!("{point}-observed");
    let root = root_with(&label, &s);
    let mut observer = Checker::new(&root);
    assert_eq!(observer.contents("INBOX").len(), 3);
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        raw.try_run("MOVE 2 Archive").map(drop)
    });
    observer.raw.ok_run("NOOP");
    let seen: Vec<Vec<u8>> = observer
        .raw
        .ok_run("UID FETCH 1:* (UID BODY.PEEK[])")
        .into_iter()
        .filter_map(|r| r.literals.into_iter().next())
        .collect();
    let mut fresh = Checker::new(&root);
    let inbox = fresh.contents("INBOX");
    let archive = fresh.contents("Archive");
    let in_archive = archive.iter().any(|m| m.2 == s[1]);
    assert_eq!(in_archive, done, "{label}");
    assert_eq!(
        inbox.iter().any(|m| m.2 == s[1]),
        !done,
        "{label}: fresh session"
    );
    assert_eq!(
        seen.contains(&s[1]),
        !done,
        "{label}: the observing session disagrees after NOOP"
    );
    assert_eq!(seen.len(), inbox.len(), "{label}");
    observer.finish();
    fresh.finish();
}

#[test]
fn crash_move_interrupted_under_an_observer() {
    move_with_observer("move.after-intent", false);
    move_with_observer("move.after-dest-add", true);
}

/// Compaction reached the ordinary way: a STORE whose record takes the log
/// segment past its size limit compacts inside that STORE. Long keywords
/// (each definition is one large record) get there in a few commands.
/// Every acknowledged keyword survives; the one whose STORE died there was
/// logged before compaction began, so it survives too.
fn compact_by_size_case(point: &str) {
    let s = seeds(point);
    let label = format!("{point}-by-size");
    let root = root_with(&label, &s);
    let keyword = |i: usize| format!("kw{i}{}", "x".repeat(50_000));
    let mut acked = 0usize;
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        for i in 0..12 {
            let r = raw.try_run(&format!("STORE 1 +FLAGS ({})", keyword(i)))?;
            let tagged = &r.last().expect("tagged").skeleton;
            assert!(
                tagged.split(' ').nth(1) == Some("OK"),
                "{label}: {tagged:.80}"
            );
            acked += 1;
        }
        Ok(())
    });
    assert!(acked >= 1, "{label}: compaction came before any record");
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    let uids = assert_set(&label, &got, &refs(&s), &[]);
    let first = got.iter().find(|m| m.0 == uids[&s[0]]).expect("message 1");
    let kws: Vec<&String> = first.1.iter().filter(|f| f.starts_with("kw")).collect();
    assert_eq!(kws.len(), acked + 1, "{label}: keywords after the crash");
    for i in 0..=acked {
        assert!(first.1.contains(&keyword(i)), "{label}: keyword {i} lost");
    }
    // The log still compacts and takes writes.
    c.raw.ok_run("XCRY PURGE");
    assert_writable(&mut c, &label);
    c.finish();
}

#[test]
fn crash_compact_by_size_after_segment() {
    compact_by_size_case("compact.after-segment");
}

#[test]
fn crash_compact_by_size_after_snapshot() {
    compact_by_size_case("compact.after-snapshot");
}

#[test]
fn crash_compact_by_size_after_snapshot_tmp() {
    compact_by_size_case("compact.after-snapshot-tmp");
}

/// `kill -9` of several sessions appending to one mailbox at once (each a
/// `serve imaps` process, as for several clients): every APPEND that was
/// acknowledged is there exactly once, an APPEND in flight at the kill is
/// there at most once, nothing is duplicated or altered, and the mailbox
/// takes writes afterwards.
#[test]
fn crash_sigkill_during_concurrent_appends() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};

    const SESSIONS: usize = 4;
    const KILL_AFTER_ACKS: usize = 24;
    let label = "concurrent-appends";
    let s = seeds(label);
    let root = Arc::new(root_with(label, &s));
    let acks = Arc::new(AtomicUsize::new(0));
    let (pids, pid_rx) = mpsc::channel::<u32>();
    let workers: Vec<_> = (0..SESSIONS)
        .map(|w| {
            let (root, acks, pids) = (Arc::clone(&root), Arc::clone(&acks), pids.clone());
            std::thread::spawn(move || {
                let (child, mut raw) = spawn(&root, None);
                pids.send(child.id()).expect("main thread listens");
                let mut guard = Guard(child);
                assert!(raw.login(USER, PASS).contains(" OK "), "session {w}");
                let mut acked: Vec<Vec<u8>> = Vec::new();
                // Appends until the kill closes the connection; the message
                // being appended then is the one in flight.
                for i in 0.. {
                    let m = msg(&format!("{label}-s{w}-m{i}"));
                    match raw.append("INBOX", &[], &m) {
                        Ok(r) => {
                            assert!(
                                r.last().is_some_and(|t| t.status() == Some("OK")),
                                "session {w}: APPEND {i} refused"
                            );
                            acked.push(m);
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Closed) => {
                            let status = guard.0.wait().expect("killed session");
                            assert_eq!(
                                status.signal(),
                                Some(nix::sys::signal::Signal::SIGKILL as i32),
                                "session {w} ended otherwise: {status:?}"
                            );
                            return (acked, m);
                        }
                    }
                }
                unreachable!("the loop ends only when the session is killed")
            })
        })
        .collect();
    drop(pids);
    let children: Vec<u32> = pid_rx.iter().take(SESSIONS).collect();
    assert_eq!(children.len(), SESSIONS, "a session did not start");
    // All sessions are appending by the time this many were acknowledged;
    // the kill lands wherever each one is (writing, syncing, logging).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
        assert!(
            std::time::Instant::now() < deadline,
            "appends too slow to reach {KILL_AFTER_ACKS}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for pid in &children {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(*pid).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    }
    let mut must: Vec<Vec<u8>> = s.clone();
    let mut may: Vec<Vec<u8>> = Vec::new();
    for w in workers {
        let (acked, in_flight) = w.join().expect("session thread");
        must.extend(acked);
        may.push(in_flight);
    }
    assert!(must.len() >= s.len() + KILL_AFTER_ACKS, "acks lost track");
    let mut c = Checker::new(&root);
    let got = c.contents("INBOX");
    assert_set(label, &got, &refs(&must), &refs(&may));
    assert_writable(&mut c, label);
    c.finish();
}

/// REPLACE (RFC 8508) of INBOX message 2 aborting at `point`, into INBOX
/// itself or into Archive. Within one mailbox the add and the expunge are
/// one record: the old message or the new one, never both or neither.
/// Across mailboxes the new message is logged first: a crash between the
/// two records leaves both, never neither.
fn replace_case(point: &str, into: &str, new_there: bool, old_gone: bool) {
    let s = seeds(point);
    let label = format!("{point}-{into}");
    let root = root_with(&label, &s);
    let new = msg(&format!("{label}-replacement"));
    crash_session(&root, point, |raw| {
        raw.try_run("SELECT INBOX")?;
        let cmd = format!(
            "REPLACE 2 {into} {{{}+}}\r\n{}",
            new.len(),
            String::from_utf8_lossy(&new)
        );
        raw.try_run(&cmd).map(drop)
    });
    let mut c = Checker::new(&root);
    let inbox = c.contents("INBOX");
    let old = s[1].as_slice();
    let mut must: Vec<&[u8]> = vec![&s[0], &s[2]];
    if !old_gone {
        must.push(old);
    }
    if into == "INBOX" {
        if new_there {
            must.push(&new);
        }
        assert_set(&label, &inbox, &must, &[]);
    } else {
        assert_set(&label, &inbox, &must, &[]);
        let dest = c.contents(into);
        let want: Vec<&[u8]> = if new_there { vec![&new] } else { vec![] };
        assert_set(&format!("{label} {into}"), &dest, &want, &[]);
    }
    assert_writable(&mut c, &label);
    c.finish();
}

#[test]
fn crash_replace_within_a_mailbox_is_all_or_nothing() {
    replace_case("replace.after-file", "INBOX", false, false);
    replace_case("replace.after-log", "INBOX", true, true);
}

#[test]
fn crash_replace_into_another_mailbox_never_loses_the_message() {
    replace_case("replace.after-file", "Archive", false, false);
    replace_case("replace.after-dest-add", "Archive", true, false);
    replace_case("replace.after-source-expunge", "Archive", true, true);
}

/// The lengths of the mark files (`marks/`), by name.
fn mark_lengths(root: &Root) -> Vec<(String, u64)> {
    let dir = root.path().join("users").join(USER).join("marks");
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A log's first high-water mark is staged, synced and only then renamed
/// into place; later ones are written in place past it. A crash before
/// the rename leaves no mark file, never a short one (which the reader
/// now takes as tampering, `doc/cryptography.md`): the mailbox opens
/// writable, gets its mark at the next write, and nothing is lost.
#[test]
fn crash_first_mark_before_rename_leaves_no_mark_and_the_mailbox_writable() {
    let point = "marks.first-before-rename";
    let s = seeds(point);
    let root = root_with(point, &s);
    let before = mark_lengths(&root);
    // Archive exists since `user add` but was never opened: its first
    // open writes its first mark.
    crash_session(&root, point, |raw| {
        raw.append("Archive", &[], &msg("first-mark")).map(drop)
    });
    let after = mark_lengths(&root);
    assert_eq!(after, before, "no mark appeared, none changed");
    assert!(after.iter().all(|(_, len)| *len >= 56), "{after:?}");

    let mut c = Checker::new(&root);
    assert_set(point, &c.contents("INBOX"), &refs(&s), &[]);
    assert!(c.contents("Archive").is_empty());
    let fresh = msg("after-crash");
    let r = c.raw.append("Archive", &[], &fresh).expect("server alive");
    assert!(
        matches!(tagged_code(&r), Some(ResponseCode::AppendUid { .. })),
        "{:?}",
        r.last()
    );
    let sel = c.raw.transcript("SELECT Archive");
    assert!(
        !sel.contains("READ-ONLY") && !sel.contains("ALERT"),
        "{sel}"
    );
    assert_set(point, &c.contents("Archive"), &[&fresh], &[]);
    let now = mark_lengths(&root);
    assert_eq!(now.len(), before.len() + 1, "Archive got its mark: {now:?}");
    assert!(now.iter().all(|(_, len)| *len >= 56), "{now:?}");
    c.finish();
}
