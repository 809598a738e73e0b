//! Real IMAP clients from Debian's packages (isync's mbsync, curl,
//! fetchmail, neomutt) against the real server started by `listen` on a
//! free port of 127.0.0.1. A test whose tool is missing is skipped with a
//! `SKIPPED:` line, or fails under `CI=true` (`.ci/run` installs them), and
//! every client run is bounded in time. What the clients did is checked on the server, byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{connect_retry, fetched, free_port, msg, require_tool, seed, Client, Guard, Root};

const USER: &str = "dora";
const PASS: &str = "real clients pass";
/// No client run may take longer than this.
const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// A root with `listen` serving IMAPS on a free port, one user whose INBOX
/// holds `seeds`.
struct Server {
    root: Root,
    port: u16,
    _listen: Guard,
}

impl Server {
    fn start(label: &str, seeds: &[Vec<u8>]) -> Server {
        let root = Root::new(label);
        let port = free_port();
        root.add_user(USER, PASS);
        let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        if !refs.is_empty() {
            seed(&root, USER, PASS, "INBOX", &refs);
        }
        let listen = root.listen(&[&format!("127.0.0.1:{port}")], &[], Stdio::null());
        let server = Server {
            root,
            port,
            _listen: listen,
        };
        // Wait until it accepts, so clients do not race its start.
        drop(server.session());
        server
    }

    fn cert(&self) -> PathBuf {
        self.root.path().join("tls/cert.pem")
    }

    /// A logged-in session of our own, to check what a client did.
    fn session(&self) -> Client {
        let tcp = connect_retry(&format!("127.0.0.1:{}", self.port));
        let mut raw = Client::imaps_ok(tcp);
        assert!(raw.login(USER, PASS).contains(" OK "));
        raw
    }

    /// (uid, flags, content) of every message in `mailbox`.
    fn contents(&self, mailbox: &str) -> Vec<(u32, Vec<String>, Vec<u8>)> {
        let mut raw = self.session();
        raw.ok(&format!("EXAMINE {mailbox}"));
        fetched(&raw.ok_run("UID FETCH 1:* (UID FLAGS BODY.PEEK[])"))
            .into_iter()
            .map(|m| (m.uid, m.flags, m.body))
            .collect()
    }
}

/// Runs a client with a time limit; its output is returned for messages.
fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if started.elapsed() > CLIENT_LIMIT {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let out = waiter.join().unwrap();
            panic!(
                "client timed out after {CLIENT_LIMIT:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap()
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Local copies compare this way: mail clients store them with LF line
/// ends, and mbsync adds its own `X-TUID` tracking header.
fn lf(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .lines()
        .filter(|l| !l.starts_with("X-TUID: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn seeds(label: &str) -> Vec<Vec<u8>> {
    (1..=3).map(|i| msg(&format!("{label}-{i}"))).collect()
}

/// Files of a Maildir folder (`cur` and `new`).
fn maildir_files(folder: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(rd) = std::fs::read_dir(folder.join(sub)) {
            v.extend(rd.map(|e| e.unwrap().path()));
        }
    }
    v.sort();
    v
}

/// mbsync both ways, compressed (COMPRESS=DEFLATE): the server's messages reach the local Maildir intact,
/// a message put into the Maildir reaches the server intact, and flags
/// changed on either side reach the other.
#[test]
fn interop_mbsync_syncs_both_ways_with_flags() {
    if !require_tool(
        "interop_mbsync_syncs_both_ways_with_flags",
        "mbsync",
        "isync",
    ) {
        return;
    }
    let s = seeds("mbsync");
    let server = Server::start("mbsync", &s);
    let local = server.root.path().join("maildir");
    std::fs::create_dir_all(&local).unwrap();
    let rc = server.root.path().join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount acct\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass \"{PASS}\"\n\
             SSLType IMAPS\nSystemCertificates no\nCertificateFile {cert}\n\n\
             IMAPStore remote\nAccount acct\n\n\
             MaildirStore local\nPath {dir}/\nInbox {dir}/INBOX\n\n\
             Channel ch\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n\
             Sync All\nExpunge None\nSyncState *\n",
            port = server.port,
            cert = server.cert().display(),
            dir = local.display()
        ),
    )
    .unwrap();
    let mbsync = || {
        let mut c = Command::new("mbsync");
        c.arg("-c").arg(&rc).arg("-a");
        let out = run(c);
        assert_success("mbsync", &out);
    };

    // The first run with network debugging: mbsync turns on COMPRESS=DEFLATE
    // (RFC 4978) by itself once it is advertised, and the whole sync then
    // runs compressed.
    let mut c = Command::new("mbsync");
    c.arg("-Dn").arg("-c").arg(&rc).arg("-a");
    let out = run(c);
    assert_success("mbsync", &out);
    let trace =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(trace.contains("COMPRESS DEFLATE"), "{trace}");
    assert!(trace.contains("OK DEFLATE active"), "{trace}");
    let inbox = local.join("INBOX");
    let files = maildir_files(&inbox);
    assert_eq!(files.len(), 3, "{files:?}");
    let mut got: Vec<String> = files
        .iter()
        .map(|f| lf(&std::fs::read(f).unwrap()))
        .collect();
    let mut want: Vec<String> = s.iter().map(|m| lf(m)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "downloaded messages differ");

    // Local → server: a new message and a flag; server → local: a flag.
    let mine = msg("mbsync-local");
    std::fs::write(inbox.join("new/1700000000.1.test"), lf(&mine)).unwrap();
    let seed0 = files
        .iter()
        .find(|f| lf(&std::fs::read(f).unwrap()) == lf(&s[0]))
        .unwrap();
    let name = seed0.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap();
    std::fs::rename(seed0, inbox.join("cur").join(format!("{base}:2,S"))).unwrap();
    {
        let mut raw = server.session();
        raw.ok_run("SELECT INBOX");
        let contents = server.contents("INBOX");
        let uid = contents.iter().find(|m| m.2 == s[1]).unwrap().0;
        raw.ok_run(&format!("UID STORE {uid} +FLAGS (\\Flagged)"));
    }
    mbsync();

    let on_server = server.contents("INBOX");
    assert_eq!(on_server.len(), 4, "server holds the uploaded message once");
    let uploaded = on_server
        .iter()
        .find(|m| lf(&m.2) == lf(&mine))
        .expect("local message on the server");
    assert!(
        uploaded.2.windows(2).any(|w| w == b"\r\n"),
        "stored with CRLF"
    );
    let first = on_server.iter().find(|m| m.2 == s[0]).unwrap();
    assert!(first.1.contains(&"\\Seen".to_owned()), "{:?}", first.1);
    let flagged: Vec<_> = maildir_files(&inbox)
        .into_iter()
        .filter(|f| lf(&std::fs::read(f).unwrap()) == lf(&s[1]))
        .collect();
    assert_eq!(flagged.len(), 1);
    let fname = flagged[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let info = fname.rsplit(":2,").next().unwrap_or("");
    assert!(info.contains('F'), "server flag not synced: {fname}");
    // A third run changes nothing and duplicates nothing.
    mbsync();
    assert_eq!(server.contents("INBOX").len(), 4);
    assert_eq!(maildir_files(&inbox).len(), 4);
}

fn curl(server: &Server, path: &str, extra: &[&str]) -> Output {
    let mut c = Command::new("curl");
    c.args(["--silent", "--show-error", "--max-time", "20"])
        .arg("--cacert")
        .arg(server.cert())
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", server.port))
        .arg("--user")
        .arg(format!("{USER}:{PASS}"))
        .args(extra)
        .arg(format!("imaps://localhost:{}/{path}", server.port));
    run(c)
}

/// curl over IMAPS with certificate and host name checks on: LIST, FETCH a
/// message byte for byte, APPEND with --upload-file.
#[test]
fn interop_curl_lists_fetches_and_appends() {
    if !require_tool("interop_curl_lists_fetches_and_appends", "curl", "curl") {
        return;
    }
    let s = seeds("curl");
    let server = Server::start("curl", &s);

    let out = curl(&server, "", &[]);
    assert_success("curl LIST", &out);
    let list = String::from_utf8_lossy(&out.stdout);
    for name in ["INBOX", "Archive", "Drafts", "Sent", "Spam", "Trash"] {
        assert!(
            list.lines().any(|l| l.starts_with("* LIST")
                && l.trim_end_matches('"').ends_with(&format!(" \"{name}"))),
            "{name} not listed: {list}"
        );
    }

    let uid2 = server.contents("INBOX")[1].0;
    let out = curl(&server, &format!("INBOX;UID={uid2}"), &[]);
    assert_success("curl FETCH", &out);
    assert!(
        out.stdout == s[1],
        "fetched content differs: {}",
        lf(&out.stdout)
    );

    let upload = server.root.path().join("upload.eml");
    let new = msg("curl-uploaded");
    std::fs::write(&upload, &new).unwrap();
    let out = curl(
        &server,
        "Drafts",
        &["--upload-file", upload.to_str().unwrap()],
    );
    assert_success("curl APPEND", &out);
    let drafts = server.contents("Drafts");
    assert_eq!(drafts.len(), 1);
    assert!(
        drafts[0].2 == new,
        "appended content differs: {}",
        lf(&drafts[0].2)
    );
}

/// fetchmail over IMAPS with the server's certificate trusted, delivering
/// to an MDA that writes one file per message, keeping the mail on the
/// server (which then marks it \Seen).
#[test]
fn interop_fetchmail_retrieves_into_an_mda() {
    if !require_tool(
        "interop_fetchmail_retrieves_into_an_mda",
        "fetchmail",
        "fetchmail",
    ) {
        return;
    }
    let s = seeds("fetchmail");
    let server = Server::start("fetchmail", &s);
    let home = server.root.path().join("fm-home");
    let outdir = home.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let mda = home.join("mda.sh");
    std::fs::write(
        &mda,
        format!(
            "#!/bin/sh\nset -e\nf=$(mktemp {}/msg.XXXXXX)\ncat > \"$f\"\n",
            outdir.display()
        ),
    )
    .unwrap();
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no bouncemail\n\
             poll localhost via 127.0.0.1 port {port} protocol IMAP\n\
             \tuser \"{USER}\" password \"{PASS}\" is \"{USER}\" here\n\
             \tssl sslcertck sslcertfile \"{cert}\" sslcommonname localhost\n\
             \tkeep fetchall\n\
             \tmda \"{mda}\"\n",
            port = server.port,
            cert = server.cert().display(),
            mda = mda.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&mda, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = Command::new("fetchmail");
    c.env("HOME", &home)
        .env("FETCHMAILHOME", &home)
        .args(["--nodetach", "--nosyslog", "--invisible", "--fetchmailrc"])
        .arg(&rc)
        .arg("--idfile")
        .arg(home.join("fetchids"))
        .arg("--pidfile")
        .arg(home.join("fetchmail.pid"));
    let out = run(c);
    assert_success("fetchmail", &out);

    let mut got: Vec<String> = std::fs::read_dir(&outdir)
        .unwrap()
        .map(|e| lf(&std::fs::read(e.unwrap().path()).unwrap()))
        .collect();
    assert_eq!(got.len(), 3, "{}", String::from_utf8_lossy(&out.stderr));
    got.sort();
    let mut want: Vec<String> = s.iter().map(|m| lf(m)).collect();
    want.sort();
    for (g, w) in got.iter().zip(&want) {
        assert!(g.ends_with(w), "delivered message differs:\n{g}\n---\n{w}");
    }
    // Kept on the server, now seen.
    let on_server = server.contents("INBOX");
    assert_eq!(on_server.len(), 3);
    for (uid, flags, _) in &on_server {
        assert!(flags.contains(&"\\Seen".to_owned()), "UID {uid}: {flags:?}");
    }
}

/// neomutt is a full-screen program: it runs under `script` for a
/// terminal, and `push` types the keys. It pipes message 1 into a file and
/// saves message 2 to Archive (which deletes it from INBOX on quit).
#[test]
fn interop_neomutt_pipes_and_saves_a_message() {
    if !require_tool(
        "interop_neomutt_pipes_and_saves_a_message",
        "neomutt",
        "neomutt",
    ) {
        return;
    }
    if !require_tool(
        "interop_neomutt_pipes_and_saves_a_message",
        "script",
        "bsdutils",
    ) {
        return;
    }
    let s = seeds("neomutt");
    let server = Server::start("neomutt", &s);
    let home = server.root.path().join("nm-home");
    std::fs::create_dir_all(&home).unwrap();
    let piped = home.join("piped.eml");
    let rc = home.join("neomuttrc");
    std::fs::write(
        &rc,
        format!(
            "set folder=\"imaps://{USER}@localhost:{port}/\"\n\
             set imap_pass=\"{PASS}\"\n\
             set spoolfile=\"+INBOX\"\n\
             set certificate_file=\"{cert}\"\n\
             set ssl_verify_host=yes\n\
             set header_cache=\"\"\n\
             set message_cachedir=\"\"\n\
             set sort=mailbox-order\n\
             set wait_key=no confirmappend=no delete=yes quit=yes\n\
             set pipe_decode=no move=no mark_old=no\n\
             push \"<pipe-message>cat > {piped}<enter><next-entry><save-message>=Archive<enter><quit>\"\n",
            port = server.port,
            cert = server.cert().display(),
            piped = piped.display()
        ),
    )
    .unwrap();
    let mut c = Command::new("script");
    c.env("HOME", &home)
        .env("TERM", "xterm")
        .arg("-qec")
        .arg(format!("neomutt -n -F {}", rc.display()))
        .arg("/dev/null");
    let out = run(c);
    assert_success("neomutt", &out);
    let got = std::fs::read(&piped).unwrap_or_default();
    assert_eq!(lf(&got), lf(&s[0]), "piped message differs");
    let inbox = server.contents("INBOX");
    let archive = server.contents("Archive");
    assert_eq!(inbox.len(), 2, "INBOX after save and quit");
    assert!(
        inbox.iter().all(|m| m.2 != s[1]),
        "saved message left in INBOX"
    );
    assert_eq!(archive.len(), 1);
    assert!(
        archive[0].2 == s[1],
        "saved copy differs: {}",
        lf(&archive[0].2)
    );
}
