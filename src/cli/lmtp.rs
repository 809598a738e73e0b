//! `crymap-like serve lmtp`: one LMTP session (RFC 2033) on stdin/stdout
//! (inetd, `listen`) or on the connected socket systemd passes
//! (`Accept=yes`). Owns the start-up order, which is `serve`'s without TLS:
//! configuration, the connection, the optional system chroot and system
//! user, only then the network. Never serves as a user: every copy is
//! written by a per-recipient child (see `lmtp::deliver`).

use std::time::Duration;

use log::{error, info, warn};

use super::{exit, Global};
use crate::config::System;
use crate::lmtp::deliver::SpoolDeliverer;
use crate::lmtp::session::{self, SessionConfig, SessionError};
use crate::sys;

pub(super) fn run(global: &Global) -> i32 {
    match super::serve::start(global) {
        Ok(system) => serve(&system),
        Err(code) => code,
    }
}

fn serve(system: &System) -> i32 {
    let config = &system.config;
    if let Some(n) = sys::process::thread_count().filter(|&n| n > 1) {
        error!("serve lmtp must be single-threaded (it forks), has {n} threads");
        return exit::SOFTWARE;
    }
    let mut conn = match sys::activation::connection_from_environment() {
        Ok(c) => c,
        Err(e) => {
            error!("taking the connection: {e}");
            return exit::OSERR;
        }
    };
    let hostname = config.lmtp.hostname.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    });
    let users_dir = match super::serve::shut_in(system) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    if let Err(e) = conn.make_blocking() {
        error!("connection: {e}");
        return exit::OSERR;
    }
    let idle = Duration::from_secs(config.lmtp.idle_timeout_secs);
    conn.set_read_timeout(Some(idle));
    conn.set_write_timeout(idle);
    let peer = match conn.peer() {
        Ok(p) => p.to_string(),
        Err(e) => {
            warn!("peer address: {e}");
            "unknown".to_owned()
        }
    };
    info!("connection from {peer} (lmtp)");
    let session_config = SessionConfig {
        hostname,
        peer,
        max_message_size: config.limits.max_message_size as u64,
        max_recipients: config.lmtp.max_recipients,
    };
    let mut deliverer = SpoolDeliverer::new(
        users_dir,
        Duration::from_secs(config.lmtp.delivery_timeout_secs),
    );
    match session::run(conn, &session_config, &mut deliverer) {
        Ok(()) => exit::OK,
        Err(SessionError::Closed(_)) => {
            info!("client closed the connection without QUIT");
            exit::OK
        }
        Err(e) => {
            warn!("session ended: {e}");
            exit::IOERR
        }
    }
}
