//! `crymap-like import` and `export` on the real binary: a Maildir++ tree
//! written by Debian's Dovecot itself (`doveadm save`/`flags add`, run as
//! nobody from a configuration written at run time), an mbox and a Maildir
//! written by Debian's neomutt itself (its copy of sent mail), Maildir trees laid
//! out as Dovecot writes them (Maildir++ folders with modified UTF-7 names,
//! `dovecot-keywords`, `:2,` flags, mtime as arrival date) and mbox files
//! as mutt (`Status:`/`X-Status:`) and Thunderbird (`X-Mozilla-Status:`)
//! write them, read back over IMAP; bad input reported and skipped;
//! `kill -9` in the middle of an import and a rerun without duplicates;
//! and a round trip import → export → import.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const PW: &str = "pw";

fn write_at(path: &Path, content: &[u8], mtime: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
}

fn msg(subject: &str) -> Vec<u8> {
    format!(
        "From: a@example.org\nSubject: {subject}\nMessage-ID: <{subject}@x>\n\nbody of {subject}\n"
    )
    .into_bytes()
}

fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &c in b {
        if c == b'\n' {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// A Maildir++ tree as Dovecot leaves it.
fn dovecot_maildir(dir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("dovecot-keywords"), "0 $Junk\n1 work\n").unwrap();
    write_at(
        &dir.join("cur/1700000000.M1P1.host,S=70:2,FSb"),
        &msg("one"),
        1_700_000_000,
    );
    write_at(
        &dir.join("cur/1700000100.M2P1.host,S=70:2,RSa"),
        &msg("two"),
        1_700_000_100,
    );
    write_at(
        &dir.join("new/1700000200.M3P1.host"),
        &msg("three"),
        1_700_000_200,
    );
    let sub = dir.join(".Entw&APw-rfe.2024");
    for s in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(sub.join(s)).unwrap();
    }
    write_at(
        &sub.join("cur/1600000000.M4P1.host:2,D"),
        &msg("draft"),
        1_600_000_000,
    );
}

fn login(root: &Root, user: &str) -> Session {
    Session::login(root, user, PW)
}

/// `FLAGS`, `INTERNALDATE` and size of every message of `mailbox`,
/// sorted, as the server reports them.
fn listing(c: &mut Client, mailbox: &str) -> Vec<String> {
    assert!(
        c.status(&format!("SELECT \"{mailbox}\"")).contains("OK"),
        "{mailbox}"
    );
    let mut v: Vec<String> = c
        .cmd("FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)")
        .into_iter()
        .filter(|l| l.starts_with("* ") && l.contains("FETCH"))
        .map(|l| {
            l.split_once("FETCH ")
                .unwrap()
                .1
                .replace("\\Recent", "")
                .replace("( ", "(")
                .replace(" )", ")")
                .replace("  ", " ")
        })
        .collect();
    v.sort();
    v
}

fn body(c: &mut Client, seq: u32) -> Vec<u8> {
    let r = c.run(&format!("FETCH {seq} (UID BODY.PEEK[])"));
    fetched(&r).remove(0).body
}

fn import(root: &Root, args: &[&str], password: bool) -> std::process::Output {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    if password {
        all.push("--password-stdin");
    }
    run_with_stdin(root.command(&all), format!("{PW}\n").as_bytes())
}

#[test]
fn cli_import_dovecot_maildir_imports_with_flags_keywords_dates_and_folders() {
    let root = Root::new("import-maildir");
    root.add_user("ann", PW);
    let src = TempDir::new("maildir-src");
    dovecot_maildir(src.path());
    let out = import(&root, &["ann", src.path().to_str().unwrap()], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Imported with the password, the mail is indexed at import time
    // (doc/fts.md): every mailbox that received mail has its index
    // before anyone logs in.
    let boxes = root.path().join("users/ann/mailboxes");
    let indexed = std::fs::read_dir(&boxes)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("fts/manifest").is_file())
        .count();
    assert!(indexed >= 2, "mailboxes indexed at import: {indexed}");
    let mut c = login(&root, "ann");
    let inbox = listing(&mut c, "INBOX");
    assert_eq!(inbox.len(), 3, "{inbox:?}");
    assert!(
        inbox.iter().any(|l| l.contains("\\Flagged")
            && l.contains("\\Seen")
            && l.contains("work")
            && l.contains("14-Nov-2023 22:13:20 +0000")),
        "{inbox:?}"
    );
    assert!(
        inbox
            .iter()
            .any(|l| l.contains("\\Answered") && l.contains("$Junk")),
        "{inbox:?}"
    );
    assert!(inbox.iter().any(|l| l.contains("FLAGS ()")), "{inbox:?}");
    let size = crlf(&msg("one")).len();
    assert!(inbox
        .iter()
        .any(|l| l.contains(&format!("RFC822.SIZE {size}"))));
    let sub = listing(&mut c, "Entw&APw-rfe/2024");
    assert_eq!(sub.len(), 1, "{sub:?}");
    assert!(
        sub[0].contains("\\Draft") && sub[0].contains("13-Sep-2020"),
        "{sub:?}"
    );
    assert_eq!(body(&mut c, 1), crlf(&msg("draft")));
}

#[test]
fn cli_import_mbox_from_mutt_and_thunderbird_imports_through_the_spool_without_password() {
    let root = Root::new("import-mbox");
    root.add_user("bea", PW);
    let src = TempDir::new("mbox-src");
    let mutt = src.path().join("mutt-saved");
    std::fs::write(
        &mutt,
        b"From a@example.org Fri Nov 27 12:00:00 2026\nSubject: m1\nStatus: RO\nX-Status: A\n\n\
>From the start\nFrom inside a body, unquoted\n\n\
From b@example.org Sat Nov 28 13:00:00 2026\nSubject: m2\nX-Keywords: todo\n\nno final newline",
    )
    .unwrap();
    let tb = src.path().join("Local Folders");
    std::fs::create_dir_all(tb.join("Inbox.sbd")).unwrap();
    std::fs::write(
        tb.join("Inbox"),
        b"From - Fri Nov 27 09:00:00 2026\nX-Mozilla-Status: 0005\nX-Mozilla-Keys: $label1\nSubject: t1\n\n\xe9t\xe9 8-bit\n\n",
    )
    .unwrap();
    std::fs::write(tb.join("Inbox.msf"), b"// index").unwrap();
    std::fs::write(
        tb.join("Inbox.sbd/Old"),
        b"From - Fri Nov 27 09:00:00 2026\nSubject: t2\n\nx\n",
    )
    .unwrap();
    let out = import(
        &root,
        &["bea", mutt.to_str().unwrap(), tb.to_str().unwrap()],
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 imported"));
    let mut c = login(&root, "bea");
    let m = listing(&mut c, "mutt-saved");
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m.iter()
            .any(|l| l.contains("\\Answered \\Seen") && l.contains("27-Nov-2026 12:00:00")),
        "{m:?}"
    );
    assert!(m.iter().any(|l| l.contains("todo")), "{m:?}");
    let first = body(&mut c, 1);
    assert_eq!(
        String::from_utf8_lossy(&first),
        "Subject: m1\r\n\r\nFrom the start\r\nFrom inside a body, unquoted\r\n"
    );
    let t = listing(&mut c, "INBOX");
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(
        t[0].contains("\\Flagged \\Seen") && t[0].contains("$label1"),
        "{t:?}"
    );
    assert_eq!(listing(&mut c, "INBOX/Old").len(), 1);
}

#[test]
fn cli_import_bad_input_is_reported_skipped_and_the_rest_imported() {
    let root = Root::new("import-bad");
    root.set("limits", "max_message_size = 1000");
    root.add_user("cid", PW);
    let src = TempDir::new("bad-src");
    let md = src.path().join("md");
    for s in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(s)).unwrap();
    }
    write_at(&md.join("cur/1.M1.h:2,S"), &msg("good"), 1_700_000_000);
    write_at(&md.join("cur/2.M2.h:2,S"), &msg("good"), 1_700_000_000);
    std::fs::write(md.join("cur/3.M3.h:2,"), vec![b'x'; 5000]).unwrap();
    std::os::unix::fs::symlink("/nonexistent/file", md.join("cur/4.M4.h:2,")).unwrap();
    let looped = src.path().join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let out = import(&root, &["cid", md.to_str().unwrap()], true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains("3.M3.h:2,: 5000 bytes is over the limit of 1000"),
        "{err}"
    );
    assert!(err.contains("4.M4.h:2,: not a regular file"), "{err}");
    assert!(err.contains("2 imported"), "{err}");
    let out = import(&root, &["cid", looped.to_str().unwrap()], true);
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loop"));
    let out = import(&root, &["nobody-here", md.to_str().unwrap()], false);
    assert_eq!(out.status.code(), Some(67));
    let out = run_with_stdin(
        root.command(&["import", "cid", md.to_str().unwrap(), "--password-stdin"]),
        b"wrong\n",
    );
    assert_eq!(out.status.code(), Some(77));
    // Identical content twice (a duplicate Message-ID too) is kept twice.
    let mut c = login(&root, "cid");
    assert_eq!(listing(&mut c, "INBOX").len(), 2);
}

fn count(root: &Root, user: &str) -> (usize, Vec<String>) {
    let mut c = login(root, user);
    c.ok("SELECT INBOX");
    let subjects: Vec<String> = c
        .transcript("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        .lines()
        .filter(|l| l.starts_with("Subject:"))
        .map(str::to_owned)
        .collect();
    (subjects.len(), subjects)
}

#[test]
fn crash_import_kill_9_mid_import_then_rerun_imports_each_message_once() {
    for password in [true, false] {
        let root = Root::new("import-kill");
        root.add_user("dan", PW);
        let src = TempDir::new("kill-src");
        // Spooled messages are filed at the next login, which must answer
        // within the test client's timeout even on a loaded machine.
        let n = if password { 600 } else { 200 };
        for i in 0..n {
            write_at(
                &src.path().join(format!("cur/{i}.M{i}.h:2,S")),
                &msg(&format!("m{i:04}")),
                1_700_000_000 + i,
            );
        }
        let mut args = vec![
            "import",
            "dan",
            src.path().to_str().unwrap(),
            "--batch",
            "7",
        ];
        if password {
            args.push("--password-stdin");
        }
        let mut child = root
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"pw\n").unwrap();
        // Wait until the journal shows progress, then kill -9.
        let tmp = std::fs::canonicalize(root.path().join("users/dan"))
            .unwrap()
            .join("tmp");
        let start = SystemTime::now();
        loop {
            let progressed = std::fs::read_dir(&tmp).unwrap().flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with("import-")
                    && std::fs::read_to_string(e.path())
                        .is_ok_and(|t| t.matches("\nD ").count() > 3)
            });
            if progressed {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "import finished before it could be killed"
            );
            assert!(start.elapsed().unwrap() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(5));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        let (partial, _) = count(&root, "dan");
        assert!(partial < n as usize, "killed too late: {partial}");
        let out = import(
            &root,
            &args[1..args.len() - usize::from(password)],
            password,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (total, mut subjects) = count(&root, "dan");
        subjects.sort();
        subjects.dedup();
        assert_eq!(
            (total, subjects.len()),
            (n as usize, n as usize),
            "password={password}"
        );
        // Finished: the journal is gone.
        assert!(!std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("import-")));
    }
}

#[test]
fn cli_export_round_trip_import_export_import_keeps_messages_flags_and_dates() {
    for format in ["maildir", "mbox"] {
        let root = Root::new("roundtrip");
        root.add_user("eve", PW);
        root.add_user("fay", PW);
        let src = TempDir::new("rt-src");
        dovecot_maildir(src.path());
        let out = import(&root, &["eve", src.path().to_str().unwrap()], true);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dest = TempDir::new("rt-dest");
        // export runs as the account's owner, who must be able to write DEST.
        if is_root() {
            nix::unistd::chown(dest.path(), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        }
        let exported = dest.path().join("out");
        let out = run_with_stdin(
            root.command(&[
                "export",
                "eve",
                exported.to_str().unwrap(),
                "--format",
                format,
                "--password-stdin",
            ]),
            b"pw\n",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = import(&root, &["fay", exported.to_str().unwrap()], true);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut a = login(&root, "eve");
        let mut b = login(&root, "fay");
        for mb in ["INBOX", "Entw&APw-rfe/2024"] {
            let la = listing(&mut a, mb);
            let lb = listing(&mut b, mb);
            assert_eq!(la, lb, "{format} {mb}");
            // The same contents (the order may differ).
            let mut ba: Vec<Vec<u8>> = (1..=la.len() as u32).map(|i| body(&mut a, i)).collect();
            let mut bb: Vec<Vec<u8>> = (1..=lb.len() as u32).map(|i| body(&mut b, i)).collect();
            ba.sort();
            bb.sort();
            assert_eq!(ba, bb, "{format} {mb}");
        }
        // Exporting into a non-empty directory is refused.
        let out = run_with_stdin(
            root.command(&[
                "export",
                "eve",
                exported.to_str().unwrap(),
                "--password-stdin",
            ]),
            b"pw\n",
        );
        assert_eq!(out.status.code(), Some(73));
    }
}

/// Runs `doveadm ARGS` as nobody on the Maildir under `home`, with a
/// configuration written under `dir` (no Dovecot service is involved).
fn doveadm(dir: &Path, home: &Path, args: &[&str], input: &[u8]) -> String {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--reuid",
        "nobody",
        "--regid",
        "nogroup",
        "--clear-groups",
        "env",
    ])
    .arg("USER=fixture")
    .arg(format!("HOME={}", home.display()))
    .arg("doveadm")
    .arg("-c")
    .arg(dir.join("dovecot.conf"))
    .args(args);
    let out = run_with_stdin(cmd, input);
    assert!(
        out.status.success(),
        "doveadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn interop_import_maildir_written_by_dovecot() {
    let test = "interop_import_maildir_written_by_dovecot";
    if !require_root(test) || !require_tool(test, "doveadm", "dovecot-core") {
        return;
    }
    let dir = TempDir::new("dovecot-fixture");
    let home = dir.path().join("home");
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    nix::unistd::chown(&home, nobody, None).unwrap();
    nix::unistd::chown(&dir.path().join("run"), nobody, None).unwrap();
    std::fs::write(
        dir.path().join("dovecot.conf"),
        format!(
            "protocols =\nssl = no\nbase_dir = {0}/run\nlog_path = {0}/dovecot.log\n\
             mail_location = maildir:~/Maildir\n",
            dir.path().display()
        ),
    )
    .unwrap();
    doveadm(
        dir.path(),
        &home,
        &["mailbox", "create", "Entwürfe.2024"],
        b"",
    );
    for s in ["one", "two", "three"] {
        doveadm(dir.path(), &home, &["save", "-m", "INBOX"], &msg(s));
    }
    doveadm(
        dir.path(),
        &home,
        &["save", "-m", "Entwürfe.2024"],
        &msg("draft"),
    );
    doveadm(
        dir.path(),
        &home,
        &[
            "flags",
            "add",
            "\\Flagged work $Junk",
            "mailbox",
            "INBOX",
            "header",
            "subject",
            "one",
        ],
        b"",
    );
    doveadm(
        dir.path(),
        &home,
        &[
            "flags",
            "add",
            "\\Seen \\Answered",
            "mailbox",
            "INBOX",
            "header",
            "subject",
            "two",
        ],
        b"",
    );
    doveadm(
        dir.path(),
        &home,
        &["flags", "add", "\\Draft", "mailbox", "Entwürfe.2024", "all"],
        b"",
    );
    // What Dovecot says it holds: flags and received dates per mailbox.
    let expected = |mailbox: &str| -> Vec<(Vec<String>, String)> {
        let out = doveadm(
            dir.path(),
            &home,
            &[
                "fetch",
                "flags date.received.unixtime",
                "mailbox",
                mailbox,
                "all",
            ],
            b"",
        );
        let mut v = Vec::new();
        let mut flags = Vec::new();
        for line in out.lines() {
            if let Some(f) = line.strip_prefix("flags: ") {
                flags = f
                    .split(' ')
                    .filter(|f| !f.is_empty() && *f != "\\Recent")
                    .map(str::to_owned)
                    .collect();
                flags.sort();
            } else if let Some(t) = line.strip_prefix("date.received.unixtime: ") {
                let d = chrono::DateTime::from_timestamp(t.trim().parse().unwrap(), 0).unwrap();
                v.push((
                    flags.clone(),
                    d.format("%d-%b-%Y %H:%M:%S +0000").to_string(),
                ));
            }
        }
        v.sort();
        v
    };
    let inbox_expected = expected("INBOX");
    let drafts_expected = expected("Entwürfe.2024");
    assert_eq!(inbox_expected.len(), 3);
    assert!(!drafts_expected.is_empty(), "the source has no drafts");

    let root = Root::new("import-dovecot");
    root.add_user("dov", PW);
    let source = home.join("Maildir");
    let out = import(&root, &["dov", source.to_str().unwrap()], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = login(&root, "dov");
    for (mailbox, expected) in [
        ("INBOX", inbox_expected),
        ("Entw&APw-rfe/2024", drafts_expected),
    ] {
        c.ok(&format!("SELECT \"{mailbox}\""));
        let r = c.run("FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])");
        let mut got: Vec<(Vec<String>, String)> = fetched(&r)
            .into_iter()
            .zip(
                r.iter()
                    .filter(|x| x.is_untagged() && x.text.contains("FETCH")),
            )
            .map(|(f, resp)| {
                let date = resp
                    .skeleton
                    .split('"')
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                (f.flags, date)
            })
            .collect();
        got.sort();
        assert_eq!(got, expected, "{mailbox}");
        for f in fetched(&r) {
            assert!(
                f.body.starts_with(b"From: a@example.org\r\nSubject: "),
                "{mailbox}"
            );
        }
    }
}

#[test]
fn interop_import_mbox_and_maildir_written_by_neomutt() {
    let test = "interop_import_mbox_and_maildir_written_by_neomutt";
    if !require_tool(test, "neomutt", "neomutt") {
        return;
    }
    let dir = TempDir::new("neomutt-fixture");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // neomutt files a copy of what it sends (`record`) in the format
    // `mbox_type` names; sending itself goes to /bin/true.
    for kind in ["mbox", "Maildir"] {
        for i in 1..=2 {
            let mut cmd = std::process::Command::new("neomutt");
            cmd.env("HOME", dir.path())
                .args(["-n", "-F", "/dev/null", "-e"])
                .arg(format!(
                    "set sendmail=/bin/true; set record={}/sent-{kind}; set mbox_type={kind}; \
                     set copy=yes; set from=a@example.org; set use_from=yes",
                    dir.path().display()
                ))
                .args(["-s", &format!("hello {kind} {i}"), "b@example.org"]);
            let body = format!("body {kind} {i}\nFrom the start of a line\n");
            let out = run_with_stdin(cmd, body.as_bytes());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let mbox = dir.path().join("sent-mbox");
    let maildir = dir.path().join("sent-Maildir");
    std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()
        .unwrap();
    let root = Root::new("import-neomutt");
    root.add_user("mu", PW);
    let out = import(&root, &["mu", mbox.to_str().unwrap()], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = import(
        &root,
        &["mu", maildir.to_str().unwrap(), "--mailbox", "Sent"],
        true,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = login(&root, "mu");
    for (mailbox, kind) in [("sent-mbox", "mbox"), ("Sent", "Maildir")] {
        c.ok(&format!("SELECT \"{mailbox}\""));
        let r = c.run("FETCH 1:* (UID FLAGS BODY.PEEK[])");
        let got = fetched(&r);
        assert_eq!(got.len(), 2, "{mailbox}");
        for f in got {
            assert_eq!(f.flags, vec!["\\Seen".to_owned()], "{mailbox}");
            let text = String::from_utf8(f.body).unwrap();
            assert!(text.contains(&format!("Subject: hello {kind} ")), "{text}");
            // neomutt does not quote From_ in bodies; the line stays whole
            // and does not split the message.
            assert!(
                text.ends_with("\r\nFrom the start of a line\r\n"),
                "{text:?}"
            );
            // mbox metadata fields are removed, as Dovecot does.
            assert!(
                !text.contains("\r\nStatus:") && !text.contains("Content-Length:"),
                "{text}"
            );
        }
    }
}
