//! `crymap-like listen`: a small super-server for hosts without inetd. It
//! accepts on the configured addresses and hands each connection to a fresh
//! `crymap-like serve` process as its stdin/stdout; it never serves a
//! session in-process, so one user's session can never see another's.

use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use log::{error, info, warn};

use super::args::{ArgError, Args};
use super::{exit, Global};
use crate::config::System;
use crate::sys;

/// One bound listener and the `serve` flavour it feeds.
pub(super) struct Listener {
    socket: TcpListener,
    mode: &'static str,
}

/// Binds every configured address; fails if any cannot be bound.
pub(super) fn bind(system: &System) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for (mode, addrs) in [
        ("imaps", &system.config.listen.imaps),
        ("imap", &system.config.listen.imap),
    ] {
        for a in addrs {
            let socket = TcpListener::bind(a).map_err(|e| format!("bind {mode} {a}: {e}"))?;
            socket
                .set_nonblocking(true)
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

pub(super) fn run(global: &Global, args: &mut Args) -> Result<i32, ArgError> {
    if let Some(w) = args.next_word() {
        return Err(ArgError::Unexpected(w?));
    }
    super::init_logging(global);
    let system = match System::load(&global.root) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            return Ok(exit::CONFIG);
        }
    };
    let listeners = match bind(&system) {
        Ok(l) => l,
        Err(e) => {
            error!("{e}");
            return Ok(exit::OSERR);
        }
    };
    Ok(serve_forever(global, &system, &listeners))
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
                Ok((stream, addr)) => {
                    match spawn(&exe, global, &system.root, l.mode, stream.into()) {
                        Ok(child) => {
                            info!("{} connection from {addr}: pid {}", l.mode, child.id());
                            children.push(child);
                        }
                        Err(e) => warn!("cannot start a session for {addr}: {e}"),
                    }
                }
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
    if global.log_stderr {
        cmd.arg("--log").arg("stderr");
    }
    cmd.arg("serve")
        .arg(mode)
        .stdin(Stdio::from(socket))
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit());
    cmd.spawn()
}
