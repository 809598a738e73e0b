//! Shared harness of the end-to-end tests: a throwaway system root, the real
//! `crymap-like` binary started the ways inetd, systemd and `listen` start
//! it, the one IMAP test client ([`client`]) over real sockets and real
//! TLS, the handling of missing prerequisites, and message fixtures
//! ([`mail`]).
#![allow(dead_code)]

pub mod client;
pub mod delivered;
pub mod mail;
pub mod message_files;
pub mod postfix;

#[allow(unused_imports)]
pub use client::*;
#[allow(unused_imports)]
pub use mail::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_crymap-like"))
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True under CI (`CI=true`), where a missing prerequisite fails the test
/// instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// What every test does when something it needs is missing: under
/// `CI=true` it fails with the reason; otherwise it prints one line
/// `SKIPPED: <test>: needs <what>` and the caller returns (the test
/// passes). The line is written to the process's stderr directly, past
/// libtest's output capture, so it shows in every `cargo test` run and
/// `.ci/run` counts these lines for its closing total.
pub fn missing(test: &str, what: &str) {
    if in_ci() {
        panic!("{test}: needs {what}, and CI=true does not allow skipping");
    }
    let line = format!("SKIPPED: {test}: needs {what}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// True when running as root; otherwise reports the skip (see [`missing`]).
/// `if !require_root("name") { return; }`
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    missing(test, "root");
    false
}

/// True when `tool` is on `PATH`; otherwise reports the skip naming the
/// Debian `package` that provides it (see [`missing`]).
pub fn require_tool(test: &str, tool: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    if found {
        return true;
    }
    missing(test, &format!("{tool} (Debian package {package})"));
    false
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "crymap-like-test-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A system root with a config tuned for tests (cheap KDF, short login
/// delay) and a self-signed certificate.
pub struct Root {
    pub dir: TempDir,
}

impl Root {
    pub fn new(label: &str) -> Root {
        Root::with_config(label, "")
    }

    /// `extra` is appended to the config, for tests that need more.
    pub fn with_config(label: &str, extra: &str) -> Root {
        Root::build(label, true, extra)
    }

    /// A root whose accounts use the production Argon2id parameters.
    pub fn with_default_kdf(label: &str) -> Root {
        Root::build(label, false, "")
    }

    fn build(label: &str, cheap_kdf: bool, extra: &str) -> Root {
        let dir = TempDir::new(label);
        // The root must be traversable by the unprivileged owner of user
        // directories only up to the chroot, which happens as root, so 0700
        // is fine.
        std::fs::create_dir_all(dir.path().join("tls")).unwrap();
        let cert = crymap_like::cli::tls::self_signed("localhost").unwrap();
        std::fs::write(dir.path().join("tls/cert.pem"), &cert.certificate_pem).unwrap();
        std::fs::write(dir.path().join("tls/key.pem"), &cert.private_key_pem).unwrap();
        let kdf = if cheap_kdf {
            "[kdf]\nmemory_kib = 64\npasses = 1\nlanes = 1\nallow_weak = true\n\n"
        } else {
            ""
        };
        let config = format!(
            "{kdf}[limits]\nlogin_failure_delay_ms = 50\n\n[listen]\nimaps = []\nimap = []\n{extra}"
        );
        std::fs::write(dir.path().join("crymap-like.toml"), config).unwrap();
        Root { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates a user with `password` through the real CLI; as root the
    /// account goes to `nobody`.
    pub fn add_user(&self, name: &str, password: &str) -> PathBuf {
        let mut cmd = Command::new(bin());
        cmd.arg("--root")
            .arg(self.path())
            .args(["user", "add", name]);
        if is_root() {
            cmd.args(["--uid", "nobody"]);
        }
        cmd.arg("--password-stdin");
        let out = run_with_stdin(cmd, format!("{password}\n").as_bytes());
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.path().join("users").join(name)
    }

    /// `crymap-like --root R --log stderr ARGS...`
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--root")
            .arg(self.path())
            .arg("--log")
            .arg("stderr")
            .args(args);
        cmd
    }

    /// Starts `serve MODE` with one end of a socket pair as stdin/stdout,
    /// the way inetd would, its log piped.
    pub fn spawn_serve(&self, mode: &str) -> (Child, UnixStream) {
        self.serve(mode, None, Stdio::piped())
    }

    /// `serve MODE` on a socket pair (as inetd starts it), set to abort at
    /// the crash point `crash` (see [`crash_at`]), its log going to `log`.
    /// Reads on the returned socket time out after 20 s, so a hung server
    /// fails the test.
    pub fn serve(
        &self,
        mode: &str,
        crash: Option<&str>,
        log: impl Into<Stdio>,
    ) -> (Child, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let theirs: OwnedFd = theirs.into();
        let out = theirs.try_clone().unwrap();
        let mut cmd = self.command(&["serve", mode]);
        let child = crash_at(&mut cmd, crash)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::from(out))
            .stderr(log)
            .spawn()
            .unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        (child, ours)
    }

    /// `serve imaps` as [`Root::serve`] starts it, and a client past the
    /// TLS handshake and the `* OK` greeting (not logged in).
    pub fn serve_imaps(&self, crash: Option<&str>, log: impl Into<Stdio>) -> (Child, Client) {
        let (child, sock) = self.serve("imaps", crash, log);
        (child, Client::imaps_ok(sock))
    }

    /// The system configuration file.
    pub fn config(&self) -> PathBuf {
        self.path().join("crymap-like.toml")
    }

    /// Replaces `from` with `to` in the configuration (see [`edit_file`]:
    /// fails when `from` is not there).
    pub fn edit_config(&self, from: &str, to: &str) {
        edit_file(&self.config(), from, to);
    }

    /// Puts `line` (`key = value`) first in the configuration's `[table]`;
    /// fails when the configuration has no such table.
    pub fn set(&self, table: &str, line: &str) {
        let header = format!("[{table}]\n");
        self.edit_config(&header, &format!("{header}{line}\n"));
    }

    /// Has `listen` serve IMAPS on `imaps` and cleartext IMAP on `imap`
    /// (addresses such as `127.0.0.1:143`, in place of the empty lists every
    /// test root has), then starts it with its log going to `log`; it is
    /// killed when the guard drops. It does not wait for the listeners:
    /// [`connect_retry`] does, and a probe connection would count against
    /// `max_sessions_per_address`.
    pub fn listen(&self, imaps: &[&str], imap: &[&str], log: impl Into<Stdio>) -> Guard {
        let list = |addrs: &[&str]| {
            let quoted: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
            quoted.join(", ")
        };
        self.edit_config(
            "imaps = []\nimap = []\n",
            &format!("imaps = [{}]\nimap = [{}]\n", list(imaps), list(imap)),
        );
        Guard(
            self.command(&["listen"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }
}

/// Sets the crash point at which the child aborts (`CRYMAP_LIKE_CRASH_AT`,
/// `src/store/crash.rs`) or, for `None`, removes the variable, so that a
/// value in the test's own environment cannot reach a server meant to run
/// normally.
pub fn crash_at<'a>(cmd: &'a mut Command, point: Option<&str>) -> &'a mut Command {
    use crymap_like::store::crash::ENV;
    match point {
        Some(p) => cmd.env(ENV, p),
        None => cmd.env_remove(ENV),
    }
}

/// Replaces every `from` with `to` in the file at `path` (a configuration
/// or a `user.toml`), failing the test when `from` is not there: a bare
/// `str::replace` would leave the file as it was, and the test would go
/// on without the setting it is about.
pub fn edit_file(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{}: no {from:?} to replace in:\n{text}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).unwrap();
}

pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that refuses its arguments exits without reading stdin: a
    // broken pipe then is part of the outcome, not a harness failure.
    match child.stdin.take().unwrap().write_all(input) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("writing the child's stdin: {e}"),
    }
    child.wait_with_output().unwrap()
}

/// Any byte stream an IMAP client can run over.
pub trait Transport: Read + Write {}
impl<T: Read + Write> Transport for T {}

/// The client-side TLS context, built once: building it loads the system
/// CA bundle, which would otherwise dominate connection timings.
pub fn tls_connector() -> &'static SslConnector {
    static CONNECTOR: std::sync::OnceLock<SslConnector> = std::sync::OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_verify(SslVerifyMode::NONE);
        b.build()
    })
}

pub fn tls_over<S: Read + Write + std::fmt::Debug + 'static>(s: S) -> SslStream<S> {
    tls_connector()
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", s)
        .unwrap()
}

/// A logged-in IMAPS session with `serve imaps` on a socket pair (as
/// inetd starts it); the server process is killed when it is dropped.
pub struct Session {
    pub c: Client,
    pub server: Guard,
}

impl Session {
    /// Connects, checks the greeting and logs in as `user`.
    pub fn login(root: &Root, user: &str, password: &str) -> Session {
        let (child, sock) = root.spawn_serve("imaps");
        let server = Guard(child);
        let (mut c, greeting) = Client::imaps(sock);
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let st = c.login(user, password);
        assert!(st.starts_with(&format!("{} OK", c.last_tag())), "{st}");
        Session { c, server }
    }
}

/// A root with `user`, `messages` seeded into its INBOX, and a session
/// logged in with INBOX selected (EXAMINEd when `read_only`); also the
/// messages' UIDs.
pub fn session_on_inbox(
    label: &str,
    user: &str,
    password: &str,
    messages: &[&[u8]],
    read_only: bool,
) -> (Root, Session, Vec<u32>) {
    let root = Root::new(label);
    root.add_user(user, password);
    let uids = if messages.is_empty() {
        Vec::new()
    } else {
        seed(&root, user, password, "INBOX", messages)
    };
    let mut s = Session::login(&root, user, password);
    s.ok(if read_only {
        "EXAMINE INBOX"
    } else {
        "SELECT INBOX"
    });
    (root, s, uids)
}

impl std::ops::Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.c
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.c
    }
}

/// Whether `/proc/PID/stat` says the process is stopped (`T`), as after
/// SIGSTOP or at a crash point that stops it.
pub fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('T'))
        })
        .unwrap_or(false)
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects to `addr`, retrying while the server starts.
pub fn connect_retry(addr: &str) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                return s;
            }
            Err(e) if Instant::now() > deadline => panic!("connect {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Kills a child on drop so a failing test leaves no server behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a child to exit, up to `limit`; kills it past that.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Puts `messages` into `mailbox` of `user` through the store library (as
/// a logged-in session would), creating the mailbox if needed; returns
/// their UIDs. Ownership is given back to the directory's owner, since the
/// test may run as root while sessions run as that owner.
pub fn seed(
    root: &Root,
    user: &str,
    password: &str,
    mailbox: &str,
    messages: &[&[u8]],
) -> Vec<u32> {
    use crymap_like::store::account::{AccountLog, MailboxName};
    use crymap_like::store::mailbox::{Mailbox, UserKeys};
    use crymap_like::store::types::InternalDate;
    use crymap_like::store::user_file::UserFile;
    let dir = std::fs::canonicalize(root.path().join("users").join(user)).unwrap();
    let master = UserFile::load(&dir)
        .unwrap()
        .unlock(password.as_bytes())
        .unwrap();
    let mut account = AccountLog::open(&dir, &master).unwrap();
    let name = MailboxName::parse(mailbox).unwrap();
    if account.state().mailbox(&name).is_none() {
        account.create(mailbox, &[]).unwrap();
    }
    let info = account.state().mailbox(&name).unwrap().clone();
    let keys = UserKeys::new(&dir, master);
    let mut mb = Mailbox::open(keys, &dir, &info.id, info.uid_validity).unwrap();
    let uids = messages
        .iter()
        .map(|m| mb.append(m, &[], InternalDate::now()).unwrap().get())
        .collect();
    if is_root() {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&dir).unwrap();
        crymap_like::sys::privilege::chown_tree(
            &dir,
            nix::unistd::Uid::from_raw(meta.uid()),
            nix::unistd::Gid::from_raw(meta.gid()),
        )
        .unwrap();
    }
    uids
}

/// Reads what `demo` prints, up to and including its `password:` line, as
/// `key: value` pairs (`user`, `password`, `isolation`, ...).
pub fn demo_settings(stdout: impl Read) -> std::collections::HashMap<String, String> {
    let mut settings = std::collections::HashMap::new();
    for l in BufReader::new(stdout).lines() {
        let l = l.unwrap();
        if let Some((k, v)) = l.split_once(": ") {
            settings.insert(k.to_owned(), v.to_owned());
        }
        if l.starts_with("password: ") {
            break;
        }
    }
    settings
}

/// The one-user fixture the selected-state, IDLE, CONDSTORE and
/// multi-session tests share: `alice` with a numbered INBOX.
pub mod alice {
    use super::{Root, Session};

    pub const USER: &str = "alice";
    pub const PASS: &str = "correct horse";

    /// A root with `alice`, whose INBOX holds `n` numbered messages.
    pub fn root_with(label: &str, n: u32) -> Root {
        super::root_with_numbered(label, USER, PASS, n)
    }

    /// A session logged in as `alice`.
    pub fn login(root: &Root) -> Session {
        Session::login(root, USER, PASS)
    }
}
