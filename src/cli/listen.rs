//! `crymap-like listen`: a small super-server for hosts without inetd. It
//! accepts on the configured addresses and hands each connection to a fresh
//! `crymap-like serve` process as its stdin/stdout; it never serves a
//! session in-process, so one user's session can never see another's.

use std::net::{IpAddr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::{exit, Global};
use crate::config::System;
use crate::sys;

/// A bound socket: TCP, or a UNIX socket for addresses that are paths.
enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Socket {
    /// Binds `addr`: an absolute path is a UNIX socket (a stale socket
    /// file left by an earlier run is replaced; anything else there is an
    /// error), anything else `host:port`.
    fn bind(addr: &str) -> std::io::Result<Socket> {
        if !addr.starts_with('/') {
            return TcpListener::bind(addr).map(Socket::Tcp);
        }
        let path = std::path::Path::new(addr);
        if let Ok(md) = std::fs::symlink_metadata(path) {
            if md.file_type().is_socket() {
                std::fs::remove_file(path)?;
            }
        }
        // Bound under a temporary name, given its mode, then renamed into
        // place: the socket appears at `path` already 0660, so nobody (an
        // MTA, or whoever sets the socket's group or mode next) ever sees
        // it with the umask's mode, nor has a later chmod undone by ours.
        let staging = path.with_file_name(format!(
            ".{}.{}.binding",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("socket"),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&staging);
        let socket = UnixListener::bind(&staging)?;
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o660))?;
        std::fs::rename(&staging, path)?;
        Ok(Socket::Unix(socket))
    }

    fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_nonblocking(true),
            Socket::Unix(s) => s.set_nonblocking(true),
        }
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Socket::Tcp(s) => s.as_fd(),
            Socket::Unix(s) => s.as_fd(),
        }
    }

    /// Accepts one connection: the socket, a printable peer, and the
    /// client's IP address (TCP only) for the per-address cap.
    fn accept(&self) -> std::io::Result<(OwnedFd, String, Option<IpAddr>)> {
        match self {
            Socket::Tcp(s) => s
                .accept()
                .map(|(c, a)| (c.into(), a.to_string(), Some(a.ip()))),
            Socket::Unix(s) => s
                .accept()
                .map(|(c, _)| (c.into(), "a UNIX socket".to_owned(), None)),
        }
    }
}

/// One bound listener and the `serve` flavour it feeds.
pub(super) struct Listener {
    socket: Socket,
    mode: &'static str,
}

/// Binds every configured address; fails if any cannot be bound.
pub(super) fn bind(system: &System) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for (mode, addrs) in [
        ("imaps", &system.config.listen.imaps),
        ("imap", &system.config.listen.imap),
        ("lmtp", &system.config.listen.lmtp),
    ] {
        for a in addrs {
            let socket = Socket::bind(a).map_err(|e| format!("bind {mode} {a}: {e}"))?;
            socket
                .set_nonblocking()
                .map_err(|e| format!("{mode} {a}: {e}"))?;
            info!("listening for {mode} on {a}");
            out.push(Listener { socket, mode });
        }
    }
    if out.is_empty() {
        return Err("no addresses configured under [listen]".to_owned());
    }
    Ok(out)
}

pub(super) fn run(global: &Global) -> i32 {
    super::init_logging(global);
    let system = match System::load(&global.root) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            return exit::CONFIG;
        }
    };
    let listeners = match bind(&system) {
        Ok(l) => l,
        Err(e) => {
            error!("{e}");
            return exit::OSERR;
        }
    };
    serve_forever(global, &system, &listeners)
}

/// How long a connection over its address's session limit waits for one
/// of that address's sessions to end before it is refused: a client that
/// logs out and reconnects at once is quicker than the old session's
/// process is to exit (imaptest, 10 clients, had hundreds refused).
const OVER_LIMIT_GRACE: Duration = Duration::from_secs(1);

/// A connection over its address's limit, waiting out the grace.
struct Waiting {
    stream: OwnedFd,
    addr: String,
    ip: IpAddr,
    mode: &'static str,
    until: Instant,
}

/// Forgets the sessions that have ended.
fn reap(children: &mut Vec<(Child, Option<IpAddr>)>) {
    children.retain_mut(|(c, _)| !matches!(c.try_wait(), Ok(Some(_))));
}

fn sessions_from(children: &[(Child, Option<IpAddr>)], ip: IpAddr) -> usize {
    children.iter().filter(|(_, a)| *a == Some(ip)).count()
}

/// Accepts connections until a fatal error; each one becomes a child
/// `serve` process. Returns an exit code.
pub(super) fn serve_forever(global: &Global, system: &System, listeners: &[Listener]) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            error!("cannot find my own executable: {e}");
            return exit::OSERR;
        }
    };
    let max = system.config.listen.max_sessions;
    let per_address = system.config.listen.max_sessions_per_address;
    let mut children: Vec<(Child, Option<IpAddr>)> = Vec::new();
    let mut waiting: Vec<Waiting> = Vec::new();
    let start = |children: &mut Vec<(Child, Option<IpAddr>)>,
                 mode: &str,
                 stream: OwnedFd,
                 addr: &str,
                 ip: Option<IpAddr>| {
        match spawn(&exe, global, &system.root, mode, stream) {
            Ok(child) => {
                info!("{mode} connection from {addr}: pid {}", child.id());
                children.push((child, ip));
            }
            Err(e) => warn!("cannot start a session for {addr}: {e}"),
        }
    };
    let refuse = |w: &Waiting| {
        // Dropping the socket closes it: no process, no greeting.
        warn!(
            "{} connection from {} refused: {per_address} sessions from {} \
             already (listen.max_sessions_per_address)",
            w.mode, w.addr, w.ip
        );
    };
    loop {
        reap(&mut children);
        let now = Instant::now();
        for w in std::mem::take(&mut waiting) {
            if sessions_from(&children, w.ip) < per_address && children.len() < max {
                start(&mut children, w.mode, w.stream, &w.addr, Some(w.ip));
            } else if now >= w.until {
                refuse(&w);
            } else {
                waiting.push(w);
            }
        }
        if children.len() >= max {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let fds: Vec<_> = listeners.iter().map(|l| l.socket.as_fd()).collect();
        // While connections wait out their grace, look again soon.
        let wait = if waiting.is_empty() {
            Duration::from_millis(500)
        } else {
            Duration::from_millis(20)
        };
        let ready = match sys::poll::wait_any(&fds, Some(wait)) {
            Ok(r) => r,
            Err(e) => {
                error!("poll: {e}");
                return exit::OSERR;
            }
        };
        for (l, is_ready) in listeners.iter().zip(ready) {
            if !is_ready {
                continue;
            }
            match l.socket.accept() {
                Ok((stream, addr, Some(ip))) => {
                    // Sessions that ended while poll waited must not count.
                    reap(&mut children);
                    if sessions_from(&children, ip) < per_address {
                        start(&mut children, l.mode, stream, &addr, Some(ip));
                        continue;
                    }
                    let w = Waiting {
                        stream,
                        addr,
                        ip,
                        mode: l.mode,
                        until: Instant::now() + OVER_LIMIT_GRACE,
                    };
                    // At most as many waiting as the address may have
                    // sessions: waiting costs a descriptor, not a process.
                    if waiting.iter().filter(|o| o.ip == ip).count() < per_address {
                        waiting.push(w);
                    } else {
                        refuse(&w);
                    }
                }
                Ok((stream, addr, None)) => start(&mut children, l.mode, stream, &addr, None),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => warn!("accept on {}: {e}", l.mode),
            }
        }
    }
}

fn spawn(
    exe: &PathBuf,
    global: &Global,
    root: &std::path::Path,
    mode: &str,
    socket: OwnedFd,
) -> std::io::Result<Child> {
    let out = socket.try_clone()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root").arg(root);
    // The children log where `listen` does, whatever their stderr is.
    cmd.arg("--log").arg(if global.log_stderr {
        "stderr"
    } else {
        "syslog"
    });
    cmd.arg("serve")
        .arg(mode)
        .stdin(Stdio::from(socket))
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit());
    cmd.spawn()
}
