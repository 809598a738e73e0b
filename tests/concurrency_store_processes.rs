//! Multi-process and crash tests of the mailbox store, with real files and
//! real flock. Child processes are this test binary re-executed with
//! `STORE_CHILD` set; `child_entry` does nothing without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crymap_like::crypto::kdf::KdfParams;
use crymap_like::store::account::{AccountLog, MailboxName};
use crymap_like::store::change_log::ChangeLog;
use crymap_like::store::crash;
use crymap_like::store::create::create_user;
use crymap_like::store::mailbox::{Mailbox, UserKeys};
use crymap_like::store::spool::{self, DeliveryInstructions};
use crymap_like::store::types::{Flag, FlagOp, InternalDate, Uid};
use crymap_like::store::user_file::UserFile;

const PASSWORD: &[u8] = b"correct horse";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "crymap-like-it-{tag}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

fn new_user(tmp: &TempDir) -> PathBuf {
    let user = tmp.0.join("user");
    create_user(&user, PASSWORD, &KdfParams::insecure_for_tests(), "%Y-%m").unwrap();
    user
}

fn keys(user: &Path) -> Arc<UserKeys> {
    let master = UserFile::load(user).unwrap().unlock(PASSWORD).unwrap();
    UserKeys::new(user, master)
}

fn open(user: &Path, keys: &Arc<UserKeys>, name: &str) -> Mailbox {
    let acct = AccountLog::open(user, keys.master()).unwrap();
    let info = acct
        .state()
        .mailbox(&MailboxName::parse(name).unwrap())
        .unwrap()
        .clone();
    Mailbox::open(keys.clone(), user, &info.id, info.uid_validity).unwrap()
}

fn message(i: usize) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: message {i}\r\n\r\nbody {i}\r\n").into_bytes()
}

fn spawn_child(mode: &str, user: &Path, arg: &str, crash_at: Option<&str>) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("STORE_CHILD", mode)
        .env("STORE_CHILD_USER", user)
        .env("STORE_CHILD_ARG", arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    common::crash_at(&mut c, crash_at);
    c
}

/// What follows `tag` on each output line that has it (libtest may print
/// its own text before ours on the same line).
fn tagged<'a>(text: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.lines()
        .filter_map(move |l| l.split_once(tag).map(|(_, rest)| rest))
}

/// The body of every child process.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var("STORE_CHILD") else {
        return;
    };
    let user = PathBuf::from(std::env::var("STORE_CHILD_USER").unwrap());
    let arg = std::env::var("STORE_CHILD_ARG").unwrap();
    let keys = keys(&user);
    let mut inbox = open(&user, &keys, "INBOX");
    match mode.as_str() {
        "flags" => {
            let uids: Vec<Uid> = inbox.uids().collect();
            for u in &uids {
                inbox
                    .store_flags(&[*u], FlagOp::Add, &[Flag::keyword(&arg).unwrap()], None)
                    .unwrap();
            }
        }
        "recent" => {
            let claimed = inbox.claim_recent().unwrap();
            let list: Vec<String> = claimed.iter().map(|u| u.to_string()).collect();
            println!("CLAIMED:{}", list.join(","));
        }
        "append" => {
            for i in 0..3 {
                let uid = inbox.append(&message(i), &[], InternalDate::now()).unwrap();
                println!("ACK:{uid}:{i}");
            }
        }
        "flags-crash" => {
            let uids: Vec<Uid> = inbox.uids().collect();
            inbox
                .store_flags(&uids, FlagOp::Add, &[Flag::Seen], None)
                .unwrap();
        }
        "expunge" => {
            let uids: Vec<Uid> = inbox.uids().take(1).collect();
            inbox.expunge(&uids).unwrap();
        }
        "copy" | "move" => {
            let mut archive = open(&user, &keys, "Archive");
            let uids: Vec<Uid> = inbox.uids().collect();
            if mode == "copy" {
                inbox.copy_to(&uids, &mut archive).unwrap();
            } else {
                inbox.move_to(&uids, &mut archive).unwrap();
            }
        }
        "compact" => {
            inbox.collect_garbage(Duration::from_secs(3600)).unwrap();
        }
        "file" => {
            let mut acct = AccountLog::open(&user, keys.master()).unwrap();
            spool::file_pending(&user, &keys, &mut acct).unwrap();
        }
        "hold-lock" => {
            let id = inbox.id().to_string();
            let dir = user.join("mailboxes").join(&id);
            let (log, _) = ChangeLog::open(&dir, &user.join("tmp"), &id, keys.master()).unwrap();
            let _lock = log.lock().unwrap();
            println!("LOCKED");
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn concurrency_flag_changes_from_processes_are_never_lost() {
    let tmp = TempDir::new("flags");
    let user = new_user(&tmp);
    let k = keys(&user);
    let mut inbox = open(&user, &k, "INBOX");
    for i in 0..10 {
        inbox.append(&message(i), &[], InternalDate::now()).unwrap();
    }
    let words = ["$a", "$b", "$c", "$d"];
    let children: Vec<_> = words
        .iter()
        .map(|w| spawn_child("flags", &user, w, None).spawn().unwrap())
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let inbox = open(&user, &k, "INBOX");
    for uid in inbox.uids() {
        let flags = inbox.info(uid).unwrap().flags;
        for w in words {
            assert!(
                flags.contains(&Flag::keyword(w).unwrap()),
                "{uid} lacks {w}: {flags:?}"
            );
        }
    }
}

#[test]
fn concurrency_recent_is_claimed_by_exactly_one_of_several_processes() {
    let tmp = TempDir::new("recent");
    let user = new_user(&tmp);
    let k = keys(&user);
    let mut inbox = open(&user, &k, "INBOX");
    let mut all = Vec::new();
    for i in 0..6 {
        all.push(
            inbox
                .append(&message(i), &[], InternalDate::now())
                .unwrap()
                .get(),
        );
    }
    let children: Vec<_> = (0..4)
        .map(|_| spawn_child("recent", &user, "", None).spawn().unwrap())
        .collect();
    let mut claimed: Vec<u32> = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let line = tagged(&text, "CLAIMED:").next().unwrap();
        claimed.extend(
            line.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<u32>().unwrap()),
        );
    }
    claimed.sort_unstable();
    assert_eq!(claimed, all);
}

#[test]
fn crash_killed_lock_holder_never_blocks_the_next_writer() {
    let tmp = TempDir::new("lock");
    let user = new_user(&tmp);
    let k = keys(&user);
    let mut child = spawn_child("hold-lock", &user, "", None).spawn().unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let locked = std::io::BufRead::lines(out)
        .map_while(Result::ok)
        .any(|l| l.contains("LOCKED"));
    assert!(locked);
    let lock_file = {
        let inbox = open(&user, &k, "INBOX");
        user.join("mailboxes")
            .join(inbox.id().to_string())
            .join("lock")
    };
    // While the child lives, its flock is held: a non-blocking try fails.
    assert!(
        try_lock(&lock_file).is_none(),
        "the child does not hold the mailbox lock"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed, it holds nothing: the kernel released the lock, so the next
    // writer takes it without waiting (a non-blocking try succeeds) ...
    let probe = try_lock(&lock_file).expect("the killed child's lock is still held");
    drop(probe);
    // ... and writes.
    let mut inbox = open(&user, &k, "INBOX");
    inbox.append(&message(1), &[], InternalDate::now()).unwrap();
    assert_eq!(open(&user, &k, "INBOX").uids().count(), 1);
}

/// `flock(LOCK_EX | LOCK_NB)` on `path`: the lock if it was free, `None`
/// if another process holds it.
fn try_lock(path: &Path) -> Option<nix::fcntl::Flock<std::fs::File>> {
    use nix::fcntl::{Flock, FlockArg};
    let f = std::fs::File::open(path).unwrap();
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Some(lock),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => None,
        Err((_, e)) => panic!("flock {}: {e}", path.display()),
    }
}

/// Every message `acked` lists is present exactly once, byte-identical.
fn assert_present_once(inbox: &Mailbox, acked: &[usize]) {
    let mut bodies: Vec<Vec<u8>> = inbox
        .uids()
        .map(|u| inbox.open_message(u).unwrap().read_all().unwrap())
        .collect();
    for i in acked {
        let n = bodies.iter().filter(|b| **b == message(*i)).count();
        assert_eq!(n, 1, "message {i} present {n} times");
    }
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), inbox.exists() as usize, "duplicates present");
}

#[test]
fn crash_at_each_point_leaves_a_consistent_store() {
    for point in crash::POINTS {
        let tmp = TempDir::new("crash");
        let user = new_user(&tmp);
        let k = keys(&user);
        let mut inbox = open(&user, &k, "INBOX");
        inbox
            .append(&message(100), &[], InternalDate::now())
            .unwrap();
        inbox
            .append(&message(101), &[], InternalDate::now())
            .unwrap();
        let mode = match point.split('.').next().unwrap() {
            "append" => "append",
            "flags" => "flags-crash",
            "expunge" => "expunge",
            "copy" => "copy",
            "move" => "move",
            "compact" => "compact",
            "spool" => "file",
            // deliver and replace crash points are exercised with the binary in tests/cli_deliver.rs and tests/crash_server.rs.
            _ => continue,
        };
        if mode == "file" {
            let instr = DeliveryInstructions {
                mailbox: None,
                flags: vec![],
                create: false,
                received: InternalDate::now(),
                detail: None,
            };
            spool::deliver(&user, &mut &message(200)[..], &instr).unwrap();
        }
        let out = spawn_child(mode, &user, "", Some(point)).output().unwrap();
        assert!(!out.status.success(), "{point}: child did not crash");
        let text = String::from_utf8(out.stdout).unwrap();
        let acked: Vec<usize> = tagged(&text, "ACK:")
            .filter_map(|l| l.split(':').nth(1)?.parse().ok())
            .collect();
        if *point == "append.after-log" {
            // The crash comes after the record but before the acknowledgement.
            assert!(acked.is_empty());
        }
        let mut expect = vec![100, 101];
        expect.extend(acked);
        if mode == "file" {
            // Filing again after the crash finishes the job exactly once.
            let mut acct = AccountLog::open(&user, k.master()).unwrap();
            spool::file_pending(&user, &k, &mut acct).unwrap();
            expect.push(200);
            assert_eq!(std::fs::read_dir(user.join("spool")).unwrap().count(), 0);
        }
        let inbox = open(&user, &k, "INBOX");
        match mode {
            "move" => {
                let archive = open(&user, &k, "Archive");
                for i in [100, 101] {
                    let here = inbox
                        .uids()
                        .filter(|u| {
                            inbox.open_message(*u).unwrap().read_all().unwrap() == message(i)
                        })
                        .count();
                    let there = archive
                        .uids()
                        .filter(|u| {
                            archive.open_message(*u).unwrap().read_all().unwrap() == message(i)
                        })
                        .count();
                    assert_eq!(here + there, 1, "{point}: message {i} in {here}+{there}");
                }
            }
            "expunge" => assert!(inbox.exists() >= 1, "{point}"),
            _ => assert_present_once(&inbox, &expect),
        }
        // The store still accepts writes after the crash.
        let mut inbox = open(&user, &k, "INBOX");
        inbox
            .append(&message(300), &[], InternalDate::now())
            .unwrap();
    }
}

#[test]
fn confidentiality_nothing_readable_in_store_files() {
    let tmp = TempDir::new("leak");
    let user = new_user(&tmp);
    let k = keys(&user);
    let mut acct = AccountLog::open(&user, k.master()).unwrap();
    acct.create("MarkerMailboxQx", &[]).unwrap();
    let body = b"Subject: MarkerSubjectQx\r\n\r\nMarkerBodyQx\r\n";
    let mut inbox = open(&user, &k, "INBOX");
    inbox
        .append(
            body,
            &[Flag::keyword("MarkerKeywordQx").unwrap()],
            InternalDate::now(),
        )
        .unwrap();
    let instr = DeliveryInstructions {
        mailbox: Some("MarkerMailboxQx".into()),
        flags: vec![Flag::keyword("MarkerKeywordQx").unwrap()],
        create: true,
        received: InternalDate::now(),
        detail: None,
    };
    spool::deliver(&user, &mut &body[..], &instr).unwrap();
    inbox.collect_garbage(Duration::from_secs(3600)).unwrap();
    let markers = [
        "MarkerMailboxQx",
        "MarkerSubjectQx",
        "MarkerBodyQx",
        "MarkerKeywordQx",
    ];
    let mut stack = vec![user.clone()];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let data = std::fs::read(&path).unwrap();
            for m in markers {
                assert!(
                    !data.windows(m.len()).any(|w| w == m.as_bytes()),
                    "{m} readable in {}",
                    path.display()
                );
                assert!(!path.to_string_lossy().contains(m));
            }
        }
    }
    assert!(files > 5);
}
