//! Rule 5 of the guide against the real binary: whoever has the user's
//! uid can put a FIFO, a symlink (to `/dev/zero`, to another user's file)
//! or an oversized file wherever the server later reads one of the user's
//! files. Each read is bounded and refuses all of these at once, so the
//! session answers (recomputing what is only a cache, turning read-only
//! where the file guards the log, failing the one command otherwise)
//! instead of waiting for good or reading without end, and no genuine
//! message is lost. (Before, each FIFO below hung its session or delivery
//! until the client gave up.)
//!
//! A hang shows up as the client's 20-second read timeout, a failure; it
//! is not a timing assertion (the right answer comes in milliseconds).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fetched, msg, seed, Client, Guard, Root};

const USER: &str = "hugo";
const PASS: &str = "hostile-pw";

/// What is planted in place of a user's file.
#[derive(Clone, Copy, Debug)]
enum Plant {
    Fifo,
    LinkToZero,
    LinkToForeign,
    /// A sparse file of this many bytes.
    Sized(u64),
}

const EVERY: [Plant; 4] = [
    Plant::Fifo,
    Plant::LinkToZero,
    Plant::LinkToForeign,
    // Past the bound of every file planted below (the largest, a snapshot's, is
    // about 336 MB); sparse, so it costs no disk.
    Plant::Sized(4 << 30),
];

/// Replaces `path` with `what`, owned like the user's directory (as root
/// the account belongs to `nobody`: what the user could have made).
fn plant(path: &Path, what: Plant) {
    let _ = std::fs::remove_file(path);
    match what {
        Plant::Fifo => {
            let st = Command::new("mkfifo").arg(path).status().unwrap();
            assert!(st.success(), "mkfifo {}", path.display());
        }
        Plant::LinkToZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
        Plant::LinkToForeign => {
            // A file the user may not read, as another account's would be.
            let foreign = path.with_extension("foreign");
            std::fs::write(&foreign, b"someone else's secret").unwrap();
            std::os::unix::fs::symlink(&foreign, path).unwrap();
        }
        Plant::Sized(len) => std::fs::File::create(path)
            .and_then(|f| f.set_len(len))
            .unwrap(),
    }
    let owner = std::fs::metadata(path.parent().unwrap()).unwrap();
    std::os::unix::fs::lchown(path, Some(owner.uid()), Some(owner.gid())).unwrap();
}

fn session(root: &Root) -> (Guard, Client) {
    let (child, c) = root.serve_imaps(None, Stdio::null());
    (Guard(child), c)
}

/// A user with `n` messages in INBOX; returns the root, the user's
/// directory and the messages.
fn setup(label: &str, n: usize) -> (Root, PathBuf, Vec<Vec<u8>>) {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    let msgs: Vec<Vec<u8>> = (1..=n).map(|i| msg(&format!("hostile-{i}"))).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    seed(&root, USER, PASS, "INBOX", &refs);
    let dir = std::fs::canonicalize(root.path().join("users").join(USER)).unwrap();
    (root, dir, msgs)
}

/// Files under `dir` (recursively) whose name satisfies `keep`.
fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p, keep));
        } else if keep(&p) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// INBOX's message files (not their summaries), in no particular order.
fn message_files(dir: &Path) -> Vec<PathBuf> {
    files(&dir.join("mailboxes"), &|p| {
        let s = p.to_string_lossy();
        s.contains("/msg/") && !s.ends_with(".sum")
    })
}

/// Every stored message's body, through a fresh session.
fn bodies(root: &Root) -> Vec<Vec<u8>> {
    let (_g, mut c) = session(root);
    assert!(c.login(USER, PASS).contains(" OK "));
    c.ok_run("EXAMINE INBOX");
    let shown = fetched(&c.ok_run("UID FETCH 1:* (BODY.PEEK[])"));
    c.ok_run("LOGOUT");
    shown.into_iter().map(|m| m.body).collect()
}

/// A summary is a cache: whatever was planted in its place, FETCH
/// ENVELOPE answers from the message, and the summary is stored again.
/// Messages appended now carry theirs in the file's header; `NAME.sum` is
/// read for files without one (delivered, older, too large a summary), so
/// the files are made like older builds wrote them first.
#[test]
fn hostile_planted_summary_is_recomputed_from_the_message() {
    let (root, dir, msgs) = setup("hostile-summary", 2);
    let sums: Vec<PathBuf> = message_files(&dir)
        .into_iter()
        .map(|f| {
            common::message_files::set_header_summary(&f, None);
            PathBuf::from(format!("{}.sum", f.display()))
        })
        .collect();
    assert_eq!(sums.len(), 2, "{sums:?}");
    for what in EVERY {
        for s in &sums {
            plant(s, what);
        }
        let (_g, mut c) = session(&root);
        assert!(c.login(USER, PASS).contains(" OK "));
        c.ok_run("EXAMINE INBOX");
        let r = c.transcript("FETCH 1:* (ENVELOPE)");
        assert!(
            r.contains("hostile-1") && r.contains("hostile-2"),
            "{what:?}: {r}"
        );
        c.ok_run("LOGOUT");
        for s in &sums {
            let md = std::fs::symlink_metadata(s).unwrap();
            assert!(
                md.is_file() && md.len() < 64 * 1024,
                "{what:?}: not stored again"
            );
        }
    }
    assert_eq!(bodies(&root), msgs);
}

/// A message file replaced: that message cannot be read (its FETCH says
/// so), the session goes on and the other message is served.
#[test]
fn hostile_planted_message_file_fails_only_its_message() {
    let (root, dir, msgs) = setup("hostile-message", 2);
    let files = message_files(&dir);
    assert_eq!(files.len(), 2, "{files:?}");
    // Which file is which message: the one whose loss hides its body.
    for what in EVERY {
        let victim = &files[0];
        let saved = victim.with_extension("saved");
        std::fs::rename(victim, &saved).unwrap();
        plant(victim, what);
        let (_g, mut c) = session(&root);
        assert!(c.login(USER, PASS).contains(" OK "));
        c.ok_run("EXAMINE INBOX");
        let r = c.transcript("UID FETCH 1:* (BODY.PEEK[])");
        let last = r.lines().last().unwrap_or_default().to_owned();
        assert!(!last.contains(" BAD "), "{what:?}: {r}");
        let served = msgs
            .iter()
            .filter(|m| r.contains(&*String::from_utf8_lossy(m)))
            .count();
        assert_eq!(served, 1, "{what:?}: the other message is served: {r}");
        c.ok_run("NOOP");
        c.ok_run("LOGOUT");
        std::fs::remove_file(victim).unwrap();
        std::fs::rename(&saved, victim).unwrap();
    }
    assert_eq!(bodies(&root), msgs);
}

/// A high-water mark replaced: the log it guards can no longer be
/// verified, so the mailbox opens read-only with an ALERT (as for a
/// tampered mark), and every message is still served.
#[test]
fn hostile_planted_mark_makes_the_mailbox_read_only() {
    let (root, dir, msgs) = setup("hostile-mark", 2);
    let marks: Vec<PathBuf> = files(&dir.join("marks"), &|p| {
        p.file_name().is_some_and(|n| n != "account")
    });
    assert_eq!(marks.len(), 1, "INBOX's mark: {marks:?}");
    for what in EVERY {
        plant(&marks[0], what);
        let (_g, mut c) = session(&root);
        assert!(c.login(USER, PASS).contains(" OK "));
        let r = c.transcript("SELECT INBOX");
        assert!(r.contains("[READ-ONLY]"), "{what:?}: {r}");
        let shown = fetched(&c.ok_run("UID FETCH 1:* (BODY.PEEK[])"));
        assert_eq!(shown.len(), msgs.len(), "{what:?}");
        c.ok_run("LOGOUT");
    }
}

/// The change log's snapshot or first segment replaced: SELECT fails with
/// an answer (the mailbox cannot be read without its log), the session
/// and the account go on.
#[test]
fn hostile_planted_snapshot_or_segment_fails_select_not_the_session() {
    let (root, dir, _msgs) = setup("hostile-log", 1);
    let inbox = files(&dir.join("mailboxes"), &|p| p.ends_with("log/00000001"));
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let segment = inbox[0].clone();
    let snapshot = segment.parent().unwrap().parent().unwrap().join("snapshot");
    let saved = segment.with_extension("saved");
    std::fs::rename(&segment, &saved).unwrap();
    for (path, what) in EVERY
        .iter()
        .map(|w| (&snapshot, *w))
        .chain([(&segment, Plant::Fifo)])
    {
        plant(path, what);
        let (_g, mut c) = session(&root);
        assert!(c.login(USER, PASS).contains(" OK "));
        let r = c.transcript("SELECT INBOX");
        assert!(
            !r.lines().last().unwrap_or_default().contains(" OK "),
            "{what:?}: {r}"
        );
        c.ok_run("NOOP");
        c.ok_run("LIST \"\" *");
        c.ok_run("LOGOUT");
        std::fs::remove_file(path).unwrap();
    }
}

/// Runs `cmd` with `input`; fails (after killing it) if it has not ended
/// within a minute, as a `deliver` waiting on a FIFO never would.
fn run_bounded(mut cmd: Command, input: &[u8]) -> std::process::ExitStatus {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input);
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The public key delivery encrypts to, replaced: `deliver` fails (a
/// temporary failure the MTA retries) instead of waiting, and the next
/// login's key audit restores the genuine key from the private one, after
/// which delivery works again.
#[test]
fn hostile_planted_public_key_fails_delivery_until_the_audit_restores_it() {
    let (root, dir, _msgs) = setup("hostile-pubkey", 1);
    let pubs = files(&dir.join("keys"), &|p| {
        p.extension().is_some_and(|e| e == "pub")
    });
    assert_eq!(pubs.len(), 1, "{pubs:?}");
    let genuine = std::fs::read(&pubs[0]).unwrap();
    let mut delivered = vec![];
    for what in EVERY {
        plant(&pubs[0], what);
        let deliver = |label: &str| {
            let mut cmd = Command::new(common::bin());
            cmd.arg("--root")
                .arg(root.path())
                .args(["deliver", "--user", USER]);
            run_bounded(cmd, &msg(label))
        };
        let st = deliver("refused");
        assert!(!st.success(), "{what:?}: delivered with a planted key");
        assert_eq!(
            st.code(),
            Some(75),
            "{what:?}: EX_TEMPFAIL, so the MTA retries"
        );
        // The audit at login puts the genuine key back.
        let (_g, mut c) = session(&root);
        assert!(c.login(USER, PASS).contains(" OK "), "{what:?}");
        c.ok_run("LOGOUT");
        assert_eq!(std::fs::read(&pubs[0]).unwrap(), genuine, "{what:?}");
        let label = format!("after-{what:?}");
        assert!(deliver(&label).success(), "{what:?}");
        delivered.push(msg(&label));
    }
    let got = bodies(&root);
    for m in &delivered {
        assert!(got.contains(m), "lost {}", String::from_utf8_lossy(m));
    }
}

/// The key audit's record (`keys/audit`, which lets a login skip pairs
/// it checked before) replaced: the login goes on, every pair is simply
/// checked again.
#[test]
fn hostile_planted_key_audit_record_costs_only_a_full_check() {
    let (root, dir, msgs) = setup("hostile-audit", 1);
    let record = dir.join("keys").join("audit");
    for what in EVERY {
        plant(&record, what);
        assert_eq!(bodies(&root), msgs, "{what:?}");
    }
}

/// `import` runs as the user and may be pointed at the user's own Maildir:
/// a FIFO as its `dovecot-keywords` (or Courier's keyword list) is
/// skipped, not waited on, and the messages are imported. Before, the
/// import hung on the FIFO for good.
#[test]
fn hostile_import_source_with_fifo_keyword_files_is_imported() {
    let (root, _dir, msgs) = setup("hostile-import", 0);
    assert!(msgs.is_empty());
    let src = common::TempDir::new("hostile-maildir");
    for sub in ["cur", "new", "tmp", "courierimapkeywords"] {
        std::fs::create_dir_all(src.path().join(sub)).unwrap();
    }
    let m = msg("imported-past-a-fifo");
    std::fs::write(src.path().join("cur/1700000000.M1.h:2,S"), &m).unwrap();
    for fifo in ["dovecot-keywords", "courierimapkeywords/:list"] {
        let st = Command::new("mkfifo")
            .arg(src.path().join(fifo))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let mut cmd = Command::new(common::bin());
    cmd.arg("--root").arg(root.path()).args([
        "import",
        USER,
        src.path().to_str().unwrap(),
        "--password-stdin",
    ]);
    let st = run_bounded(cmd, format!("{PASS}\n").as_bytes());
    assert!(st.success(), "{st:?}");
    assert_eq!(bodies(&root), [m]);
}

/// The import journal (`tmp/import-HASH.journal`, a name the user can
/// compute) planted as a gigabyte without a line end: `import` refuses it
/// with its own error and exit 65, having read no more than the longest
/// line an import writes (the run is limited to 512 MiB of address space,
/// which reading the line whole would pass), and leaves it there; once it
/// is removed the import runs. Before, lines had no bound and the line was
/// read into one string.
#[test]
fn hostile_planted_import_journal_with_a_huge_line_is_refused_unread() {
    use sha2::{Digest, Sha256};
    let (root, dir, _msgs) = setup("hostile-journal", 0);
    let src = common::TempDir::new("hostile-journal-src");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(src.path().join(sub)).unwrap();
    }
    let m = msg("imported-after-the-journal");
    std::fs::write(src.path().join("cur/1700000000.M1.h:2,S"), &m).unwrap();
    let canonical = std::fs::canonicalize(src.path()).unwrap();
    let hex: String = Sha256::digest(canonical.as_os_str().as_encoded_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let journal = std::fs::canonicalize(&dir)
        .unwrap()
        .join("tmp")
        .join(format!("import-{}.journal", &hex[..24]));
    plant(&journal, Plant::Sized(1 << 30));
    let import = || {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -v 524288 && exec \"$@\"")
            .arg("sh")
            .arg(common::bin())
            .arg("--root")
            .arg(root.path())
            .args([
                "import",
                USER,
                src.path().to_str().unwrap(),
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASS}\n").as_bytes());
        child.wait_with_output().unwrap()
    };
    let out = import();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{:?}: {err}", out.status);
    assert!(
        err.contains("line 1 is longer than") && err.contains("no import writes"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 1 << 30);
    assert!(bodies(&root).is_empty(), "nothing imported");
    std::fs::remove_file(&journal).unwrap();
    let out = import();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(bodies(&root), [m]);
}

/// Peak resident memory of process `pid`, in KiB.
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

/// The snapshot's bound is computed from the largest mailbox the store
/// snapshots (`change_log::MAX_SNAPSHOT`, about 336 MB) instead of 1 GiB:
/// a planted 512 MiB snapshot is refused unread, the session's peak
/// memory growing by a few MB where the old bound read it whole first.
#[test]
fn hostile_planted_snapshot_past_the_computed_bound_is_refused_unread() {
    let (root, dir, _msgs) = setup("hostile-snapshot-bound", 1);
    let inbox = files(&dir.join("mailboxes"), &|p| p.ends_with("log/00000001"));
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let snapshot = inbox[0]
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("snapshot");
    plant(&snapshot, Plant::Sized(512 << 20));
    let (g, mut c) = session(&root);
    assert!(c.login(USER, PASS).contains(" OK "));
    let pid = g.0.id();
    let before = peak_kib(pid);
    let r = c.transcript("SELECT INBOX");
    assert!(
        !r.lines().last().unwrap_or_default().contains(" OK "),
        "{r}"
    );
    let grown = peak_kib(pid).saturating_sub(before);
    assert!(grown < 64 * 1024, "peak memory grew by {grown} KiB");
    c.ok_run("LOGOUT");
}
