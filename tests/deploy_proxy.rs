//! Several backends behind an IMAP proxy (doc/scaling.md): two
//! `crymap-like listen` backends on 127.0.0.2 and 127.0.0.3, one user each,
//! and Debian's Dovecot in proxy mode on 127.0.0.1 routing by user name
//! (`proxy=y nopassword=y`, TLS to the backends, checked against their
//! certificates). Mail reaches the right backend by Postfix's
//! `transport_maps` over LMTP. Also, without Dovecot: a forwarded client
//! address (`ID x-originating-ip`) counts only from a peer in
//! `security.trusted_proxies`.
//!
//! Dovecot and Postfix run from configurations written here into temporary
//! directories; nothing listens off loopback. They need root (both drop
//! privileges to their own users); skipped visibly without root, Dovecot
//! or Postfix, and failing under `CI=true`, where .ci/run installs them.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::postfix::Postfix;
use common::{has, Client, Guard, Root, TempDir};

/// The address the proxy runs on, and the only one the backends trust.
const PROXY_IP: &str = "127.0.0.1";

/// One backend: its own system root, one user, `listen` on `ip` for IMAPS
/// (what the proxy uses), cleartext IMAP (for the direct checks) and LMTP;
/// its log (stderr of `listen` and of every session) goes to a file.
struct Backend {
    root: Root,
    log: PathBuf,
    imaps: SocketAddr,
    imap: SocketAddr,
    lmtp: SocketAddr,
    _listen: Guard,
}

/// A free port on `ip` (bound, then released).
fn free_port_on(ip: &str) -> SocketAddr {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap()
}

impl Backend {
    fn start(label: &str, ip: &str, user: &str, password: &str) -> Backend {
        let (imaps, imap, lmtp) = (free_port_on(ip), free_port_on(ip), free_port_on(ip));
        let root = Root::with_config(
            label,
            &format!(
                "lmtp = [\"{lmtp}\"]\n\n\
                 [security]\ntrusted_proxies = [\"{PROXY_IP}\"]\n\n\
                 [lmtp]\nhostname = \"{label}.example.test\"\n"
            ),
        );
        root.add_user(user, password);
        let log = root.path().join("backend.log");
        let file = std::fs::File::create(&log).unwrap();
        let listen = root.listen(
            &[&imaps.to_string()],
            &[&imap.to_string()],
            Stdio::from(file),
        );
        // Up within 20 s, or the failure shows why (`listen`'s own log: a
        // port taken between `free_port_on` and its bind, say).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(imap).is_err() {
            if std::time::Instant::now() > deadline {
                panic!(
                    "backend {label} never listened on {imap}; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Backend {
            root,
            log,
            imaps,
            imap,
            lmtp,
            _listen: listen,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log holds `needle`; the log as it then is.
    fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A TCP connection to `to` whose source address is `from`, so a test can
/// be a trusted proxy (127.0.0.1) or anyone else (127.0.0.9) on loopback.
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let fd: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let local: std::net::SocketAddrV4 = format!("{from}:0").parse().unwrap();
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(local),
    )
    .unwrap();
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(to)).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

const FORWARD: &str = "ID (\"x-originating-ip\" \"203.0.113.7\" \"x-originating-port\" \"4242\")";

/// A peer outside `trusted_proxies` cannot choose the address the log (and
/// the failed-login handling) blames; the configured proxy can.
#[test]
fn deploy_forwarded_client_address_only_from_a_trusted_proxy() {
    let b = Backend::start("backend-trust", "127.0.0.2", "alice", "pw-a");

    let (mut c, greeting) = Client::plain(connect_from("127.0.0.9", b.imap));
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.ok(FORWARD);
    assert!(c.login("alice", "wrong").contains("Authentication failed"));
    let log = b.wait_log("failed login #1");
    assert!(
        log.contains("x-originating-ip from a peer not in security.trusted_proxies; ignored"),
        "{log}"
    );
    assert!(log.contains("client 127.0.0.9\n"), "{log}");
    assert!(!log.contains("via proxy"), "{log}");
    drop(c);

    let (mut c, _) = Client::plain(connect_from(PROXY_IP, b.imap));
    c.ok(FORWARD);
    assert!(c.login("alice", "wrong").contains("Authentication failed"));
    let log = b.wait_log("client 203.0.113.7\n");
    assert!(log.contains("trusted proxy)"), "{log}");
    assert!(
        log.contains("proxy forwards client 203.0.113.7:4242 via proxy 127.0.0.1:"),
        "{log}"
    );
    assert!(log.contains("client 203.0.113.7\n"), "{log}");
    let r = c.login("alice", "pw-a");
    assert!(r.contains("Logged in"), "{r}: {}", b.log());
    let log = b.wait_log("alice logged in");
    assert!(
        log.lines()
            .any(|l| l.contains("203.0.113.7:4242 via proxy 127.0.0.1:")
                && l.ends_with("alice logged in")),
        "{log}"
    );
    // After login the address is fixed: a later ID changes nothing.
    c.ok("ID (\"x-originating-ip\" \"198.51.100.1\")");
    c.ok("LOGOUT");
    let log = b.log();
    assert_eq!(log.matches("proxy forwards client").count(), 1, "{log}");
    assert!(!log.contains("198.51.100.1:0 via"), "{log}");
}

/// Dovecot in proxy mode in `dir`, listening on 127.0.0.1:`port`; killed
/// (with its children, which exit when their master goes) when dropped.
struct Dovecot {
    dir: PathBuf,
    child: Guard,
}

impl Dovecot {
    /// `backends`: user, backend, and the name in its certificate.
    fn start(dir: &Path, port: u16, backends: &[(&str, &Backend, &str)]) -> Dovecot {
        // The proxy checks each backend's certificate against the site's
        // CA (ssl=yes; host= is the name the certificate must carry,
        // hostip= where to connect, sparing a DNS lookup).
        let mut passwd = String::new();
        for (user, b, name) in backends {
            // passwd-file: user:password:uid:gid:gecos:home:shell:extra.
            // No password here: nopassword=y lets the backend check it.
            passwd.push_str(&format!(
                "{user}:::::::proxy=y host={name} hostip={} port={} ssl=yes nopassword=y\n",
                b.imaps.ip(),
                b.imaps.port()
            ));
        }
        std::fs::write(dir.join("passwd"), passwd).unwrap();
        let cert = crymap_like::cli::tls::self_signed("localhost").unwrap();
        std::fs::write(dir.join("proxy-cert.pem"), &cert.certificate_pem).unwrap();
        std::fs::write(dir.join("proxy-key.pem"), &cert.private_key_pem).unwrap();
        let d = dir.display();
        let conf = format!(
            "instance_name = crymap-like-proxy-test-{pid}\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             info_log_path = {d}/dovecot.log\n\
             protocols = imap\n\
             listen = {PROXY_IP}\n\
             auth_mechanisms = plain login\n\
             disable_plaintext_auth = no\n\
             auth_verbose = yes\n\
             default_login_user = dovenull\n\
             default_internal_user = dovecot\n\
             ssl = yes\n\
             ssl_cert = <{d}/proxy-cert.pem\n\
             ssl_key = <{d}/proxy-key.pem\n\
             ssl_ca = <{d}/ca/ca.pem\n\
             ssl_require_crl = no\n\
             service imap-login {{\n\
               inet_listener imap {{\n    port = {port}\n  }}\n\
               inet_listener imaps {{\n    port = 0\n  }}\n\
             }}\n\
             passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home=/nonexistent\n}}\n",
            pid = std::process::id(),
        );
        std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("dovecot.stderr")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let d = Dovecot {
            dir: dir.to_owned(),
            child: Guard(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((PROXY_IP, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Dovecot did not start: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        read("dovecot.log") + &read("dovecot.stderr")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; Guard then reaps it.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = common::wait_exit(&mut self.child.0, Duration::from_secs(10));
    }
}

fn prerequisites(test: &str) -> bool {
    if !common::require_root(test)
        || !common::require_tool(test, "dovecot", "dovecot-core")
        || !common::require_tool(test, "openssl", "openssl")
    {
        return false;
    }
    if !Path::new("/usr/lib/dovecot/imap-login").exists() {
        common::missing(test, "Dovecot's imap-login (Debian package dovecot-imapd)");
        return false;
    }
    true
}

/// `openssl ARGS` in `dir`; must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA in `dir/ca` (ca.pem) and, for each backend, a key and a
/// certificate for `name` signed by it, installed as the backend's
/// tls/key.pem and tls/cert.pem (each session reads them when it starts).
fn site_ca(dir: &Path, backends: &[(&Backend, &str)]) {
    let ca = dir.join("ca");
    std::fs::create_dir_all(&ca).unwrap();
    // Dovecot's login processes (user dovenull) read ca.pem.
    for d in [dir, &ca] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test site CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&ca, &args);
    for (b, name) in backends {
        std::fs::write(ca.join("ext"), format!("subjectAltName=DNS:{name}\n")).unwrap();
        let subj = format!("/CN={name}");
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", "b.key", "-out", "b.csr", "-subj", &subj]);
        openssl(&ca, &args);
        openssl(
            &ca,
            &[
                "x509",
                "-req",
                "-in",
                "b.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext",
                "-out",
                "b.pem",
            ],
        );
        let tls = b.root.path().join("tls");
        std::fs::copy(ca.join("b.key"), tls.join("key.pem")).unwrap();
        std::fs::copy(ca.join("b.pem"), tls.join("cert.pem")).unwrap();
    }
}

/// The mail client's own address, distinct from the proxy's, so the
/// backend's log shows which of the two it believed.
const CLIENT_IP: &str = "127.0.0.9";

/// A connection to the proxy from [`CLIENT_IP`].
fn from_client(port: u16) -> TcpStream {
    connect_from(CLIENT_IP, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Logs `user` in through the proxy at `port`.
fn through_proxy(proxy: &Dovecot, port: u16, user: &str, password: &str) -> Client {
    let (mut c, greeting) = Client::plain(from_client(port));
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let r = c.login(user, password);
    if !r.contains("Logged in") {
        // Dovecot's log is written by its log process, a moment later.
        std::thread::sleep(Duration::from_secs(1));
        panic!("{user}: {r}\n{}", proxy.log());
    }
    c
}

#[test]
fn deploy_dovecot_proxy_routes_each_user_to_its_backend() {
    let test = "deploy_dovecot_proxy_routes_each_user_to_its_backend";
    if !prerequisites(test) {
        return;
    }
    let a = Backend::start("backend-a", "127.0.0.2", "alice", "pw-alice");
    let b = Backend::start("backend-b", "127.0.0.3", "bob", "pw-bob");
    let dir = TempDir::new("dovecot-proxy");
    let port = free_port_on(PROXY_IP).port();
    let (name_a, name_b) = ("backend-a.example.test", "backend-b.example.test");
    site_ca(dir.path(), &[(&a, name_a), (&b, name_b)]);
    let proxy = Dovecot::start(
        dir.path(),
        port,
        &[("alice", &a, name_a), ("bob", &b, name_b)],
    );

    for (user, pw, own, other) in [("alice", "pw-alice", &a, &b), ("bob", "pw-bob", &b, &a)] {
        let mut c = through_proxy(&proxy, port, user, pw);
        // The backend logged the login, over TLS from the proxy, with the
        // client's own address forwarded in ID; the other backend never
        // saw this user.
        let log = own.wait_log(&format!("{user} logged in"));
        let line = log
            .lines()
            .find(|l| l.ends_with(&format!("{user} logged in")))
            .unwrap_or_else(|| panic!("{user}: {log}\n{}", proxy.log()));
        assert!(line.contains(&format!("{CLIENT_IP}:")), "{line}");
        assert!(line.contains(" via proxy 127.0.0.1:"), "{line}");
        assert!(log.contains("(imaps, trusted proxy)"), "{log}");
        assert!(
            !other.log().contains(&format!("{user} logged in")),
            "{}",
            other.log()
        );

        let body =
            format!("From: {user}@example.test\r\nSubject: via the proxy\r\n\r\nhello {user}\r\n");
        let r = c.append("INBOX", &[], body.as_bytes()).unwrap();
        assert_eq!(
            r.last().unwrap().status(),
            Some("OK"),
            "{:#?}",
            common::texts(&r)
        );
        c.ok("SELECT INBOX");
        let got = c.bytes("FETCH 1 BODY.PEEK[]");
        assert!(
            String::from_utf8_lossy(&got).contains(&format!("hello {user}")),
            "{}",
            String::from_utf8_lossy(&got)
        );

        // IDLE through the proxy sees a delivery made on the backend.
        let tag = c.start("IDLE");
        assert_eq!(c.line(), "+ idling");
        common::deliver(&own.root, user, b"Subject: delivered\n\nwhile idling\n");
        assert_eq!(
            c.line(),
            "* 2 EXISTS",
            "{user}: unprompted, after the delivery"
        );
        c.send(b"DONE\r\n");
        let r = c.until_tagged(&tag);
        assert!(has(&r, &format!("{tag} OK")), "{r:#?}");
        c.ok("LOGOUT");
    }

    // A wrong password goes through the proxy (it holds none) and is
    // refused by the backend, which logs the attempt with the real client.
    let (mut c, _) = Client::plain(from_client(port));
    let r = c.login("alice", "not-alices-password");
    // Dovecot words the refusal itself (so that the reply cannot tell an
    // unknown user from a wrong password); the backend's log shows who
    // decided.
    assert!(r.contains("NO [AUTHENTICATIONFAILED]"), "{r}");
    let log = a.wait_log("failed login #1 for \"alice\"");
    assert!(
        log.contains("failed login #1 for \"alice\""),
        "{log}\n{}",
        proxy.log()
    );
    let line = log.lines().find(|l| l.contains("failed login #1")).unwrap();
    assert!(line.contains("via proxy 127.0.0.1:"), "{line}");
    assert!(line.ends_with(&format!("client {CLIENT_IP}")), "{line}");
    let _ = c.try_run("LOGOUT");
}

/// Postfix's `transport_maps` sends each user's mail by LMTP to that
/// user's backend; one message to both users arrives once at each.
#[test]
fn deploy_postfix_transport_map_delivers_to_each_backend_by_lmtp() {
    let test = "deploy_postfix_transport_map_delivers_to_each_backend_by_lmtp";
    if !(common::require_root(test) && common::require_tool(test, "postfix", "postfix")) {
        return;
    }
    let a = Backend::start("backend-a", "127.0.0.2", "alice", "pw-alice");
    let b = Backend::start("backend-b", "127.0.0.3", "bob", "pw-bob");
    let dir = TempDir::new("postfix-transport");
    // The same table as contrib/proxy/transport, with the test's ports.
    let table = dir.path().join("transport");
    std::fs::write(
        &table,
        format!(
            "alice@example.test  lmtp:inet:{}\nbob@example.test    lmtp:inet:{}\n",
            a.lmtp, b.lmtp
        ),
    )
    .unwrap();
    let postfix = Postfix::start(
        &dir.path().join("mta"),
        &format!(
            "transport_maps = texthash:{}\nvirtual_transport = error:no backend for this user\n",
            table.display()
        ),
    );
    postfix.sendmail(
        "sender@example.test",
        &["alice@example.test", "bob@example.test"],
        b"Subject: to both backends\n\nonce each\n",
    );
    let maillog = dir.path().join("mta/maillog");
    let deadline = Instant::now() + Duration::from_secs(60);
    let sent = |log: &str, user: &str| {
        log.lines()
            .filter(|l| {
                l.contains(&format!("to=<{user}@example.test>")) && l.contains("status=sent")
            })
            .count()
    };
    let mut log = String::new();
    while Instant::now() < deadline {
        log = std::fs::read_to_string(&maillog).unwrap_or_default();
        if sent(&log, "alice") > 0 && sent(&log, "bob") > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(postfix);
    assert_eq!(sent(&log, "alice"), 1, "{log}");
    assert_eq!(sent(&log, "bob"), 1, "{log}");
    assert!(log.contains(&format!("relay={}", a.lmtp.ip())), "{log}");

    for (user, pw, own) in [("alice", "pw-alice", &a), ("bob", "pw-bob", &b)] {
        let (mut c, _) = Client::plain(common::connect_retry(&own.imap.to_string()));
        let r = c.login(user, pw);
        assert!(r.contains("Logged in"), "{r}: {}", own.log());
        let r = c.ok("SELECT INBOX");
        assert!(has(&r, "* 1 EXISTS"), "{user}: {r:#?}");
        let got = String::from_utf8_lossy(&c.bytes("FETCH 1 BODY.PEEK[]")).into_owned();
        assert!(
            got.contains(&format!("Delivered-To: {user}@example.test")),
            "{got}"
        );
        assert!(got.contains("once each"), "{got}");
        c.ok("LOGOUT");
    }
}
