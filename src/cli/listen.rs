//! `crymap-like listen`: a small super-server for hosts without inetd. It
//! accepts on the configured addresses and hands each connection to a fresh
//! `crymap-like serve` process as its stdin/stdout; it never serves a
//! session in-process, so one user's session can never see another's.

use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

    /// Accepts one connection: the socket and a printable peer.
    fn accept(&self) -> std::io::Result<(OwnedFd, String)> {
        match self {
            Socket::Tcp(s) => s.accept().map(|(c, a)| (c.into(), a.to_string())),
            Socket::Unix(s) => s
                .accept()
                .map(|(c, _)| (c.into(), "a UNIX socket".to_owned())),
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
    let mut children: Vec<Child> = Vec::new();
    loop {
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        if children.len() >= max {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let fds: Vec<_> = listeners.iter().map(|l| l.socket.as_fd()).collect();
        let ready = match sys::poll::wait_any(&fds, Some(Duration::from_millis(500))) {
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
                Ok((stream, addr)) => match spawn(&exe, global, &system.root, l.mode, stream) {
                    Ok(child) => {
                        info!("{} connection from {addr}: pid {}", l.mode, child.id());
                        children.push(child);
                    }
                    Err(e) => warn!("cannot start a session for {addr}: {e}"),
                },
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
