//! The store side of an LMTP session. For every recipient a short-lived
//! forked child enters the recipient's directory (chroot, then that
//! directory's owner for good, when the server runs as root) and writes one
//! sealed spool entry through [`store::delivery`](crate::store::delivery),
//! as `crymap-like deliver` does. The session process keeps its own
//! privileges for the next recipient and never touches a user's files
//! itself; it never holds a user's key.
//!
//! Children run ahead of the replies (up to [`IN_FLIGHT`] at once): each
//! stages its entry (encrypt, write, fsync under `tmp/`) and then waits on
//! a pipe. The parent commits them strictly in RCPT order: it tells one
//! child to rename its entry into `spool/`, waits for the child's word that
//! the rename is durable, sends that recipient's reply, and only then
//! commits the next. If the parent dies,
//! the children waiting on the pipe read end-of-file and remove their
//! staged files, so no recipient ever holds a copy the MTA was not told
//! about, except in the instant between a child's rename and the reply.
//!
//! A child runs as its recipient's uid, which can stop it (`kill -STOP`)
//! or make its file system calls slow: the parent waits for its word at
//! most the configured delivery timeout, then kills it and answers that
//! recipient from what is on disk (delivered if its entry reached the
//! spool, else a temporary failure), so one recipient cannot hold up the
//! others or the MTA.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::{error, warn};
use nix::unistd::Pid;

use super::session::{Deliverer, RcptCheck};
use crate::store::delivery::{self, LookupError, Outcome, Recipient};
use crate::store::spool;
use crate::store::types::MessageName;
use crate::sys::process::{self, ChildStatus};
use crate::sys::{poll, privilege};

/// Delivery children staging at once.
pub(crate) const IN_FLIGHT: usize = 16;

/// Delivers into the accounts under `users/`.
pub(crate) struct SpoolDeliverer {
    users_dir: PathBuf,
    /// How long a child told to commit may take to report.
    timeout: Duration,
}

/// A recipient's delivery, started or already decided.
enum Started {
    Child {
        pid: Pid,
        commit: File,
        done: File,
        dir: PathBuf,
        name: MessageName,
        user: String,
    },
    Decided(Outcome),
}

impl SpoolDeliverer {
    /// Delivers into the accounts under `users_dir` (as this process sees
    /// it, which may be `/` after `[security] chroot_system`), waiting at
    /// most `timeout` for each child told to commit.
    pub(crate) fn new(users_dir: PathBuf, timeout: Duration) -> SpoolDeliverer {
        SpoolDeliverer { users_dir, timeout }
    }

    fn start(
        &self,
        recipient: &Recipient,
        headers: &[u8],
        body: &[u8],
        others: &VecDeque<Started>,
    ) -> Started {
        let dir = match delivery::user_dir(&self.users_dir, recipient) {
            Ok(d) => d,
            Err(LookupError::NoSuchUser(_)) => return Started::Decided(Outcome::NoSuchUser),
            Err(e) => {
                warn!("looking up {}: {e}", recipient.user_name());
                return Started::Decided(Outcome::NotWritable);
            }
        };
        let (commit_read, commit) = match process::pipe() {
            Ok(p) => p,
            Err(e) => {
                error!("delivery to {}: {e}", recipient.user_name());
                return Started::Decided(Outcome::Temporary);
            }
        };
        let (done, done_write) = match process::pipe() {
            Ok(p) => p,
            Err(e) => {
                error!("delivery to {}: {e}", recipient.user_name());
                return Started::Decided(Outcome::Temporary);
            }
        };
        let name = MessageName::random();
        let mut close: Vec<_> = others
            .iter()
            .filter_map(|s| match s {
                Started::Child { commit, .. } => Some(commit.as_fd()),
                Started::Decided(_) => None,
            })
            .collect();
        close.push(commit.as_fd());
        let spawned = process::spawn_child(&close, || {
            child(
                &dir,
                name,
                recipient,
                headers,
                body,
                commit_read,
                done_write,
            )
        });
        match spawned {
            Ok(pid) => Started::Child {
                pid,
                commit,
                done,
                dir,
                name,
                user: recipient.user_name().to_owned(),
            },
            Err(e) => {
                error!(
                    "cannot start a delivery child for {}: {e}",
                    recipient.user_name()
                );
                Started::Decided(Outcome::Temporary)
            }
        }
    }
}

/// Commits a started delivery and waits for its outcome: the byte the
/// child sends once its copy is durable, so the child's exit is not on the
/// path of the reply. The child is reaped later (`reap`), or here when it
/// ended without reporting. A child that has not reported within
/// `timeout` is killed, and answered for by whether its entry reached the
/// spool.
fn finish(started: Started, timeout: Duration, reap: &mut Vec<Pid>) -> Outcome {
    let Started::Child {
        pid,
        mut commit,
        mut done,
        dir,
        name,
        user,
    } = started
    else {
        return match started {
            Started::Decided(o) => o,
            Started::Child { .. } => Outcome::Temporary,
        };
    };
    // A child that already failed has closed its end: the write fails
    // (EPIPE) and its exit code tells why.
    let _ = commit.write_all(b"c");
    drop(commit);
    let mut code = [0u8; 1];
    match poll::wait_any(&[done.as_fd()], Some(timeout)) {
        Ok(ready) if ready.first() == Some(&true) => {
            if matches!(done.read(&mut code), Ok(1)) {
                reap.push(pid);
                return Outcome::from_child_code(i32::from(code[0]));
            }
        }
        Ok(_) => {
            warn!(
                "delivery child for {user} did not report within {}s; killing it",
                timeout.as_secs()
            );
            if let Err(e) = process::kill_child(pid) {
                warn!("killing delivery child {pid}: {e}");
            }
        }
        Err(e) => {
            error!("waiting for the delivery child for {user}: {e}; killing it");
            if let Err(e) = process::kill_child(pid) {
                warn!("killing delivery child {pid}: {e}");
            }
        }
    }
    match process::wait_child(pid) {
        Ok(ChildStatus::Exited(code)) => Outcome::from_child_code(code),
        Ok(ChildStatus::Signaled(sig)) if spool::is_delivered(&dir, &name) => {
            warn!("delivery child for {user} killed by {sig} after its commit");
            Outcome::Delivered
        }
        Ok(ChildStatus::Signaled(sig)) => {
            warn!("delivery child for {user} killed by {sig}");
            Outcome::Temporary
        }
        Err(e) if spool::is_delivered(&dir, &name) => {
            warn!("delivery child for {user}: {e}; its copy is durable");
            Outcome::Delivered
        }
        Err(e) => {
            error!("delivery child for {user}: {e}");
            Outcome::Temporary
        }
    }
}

/// The child: enter the directory, stage, wait for the word, commit.
fn child(
    dir: &Path,
    name: MessageName,
    recipient: &Recipient,
    headers: &[u8],
    body: &[u8],
    mut commit: File,
    mut done: File,
) -> i32 {
    let inside = match privilege::become_owner_of(dir) {
        Ok(d) => d,
        Err(e) => {
            error!("entering {}: {e}", dir.display());
            return Outcome::NotWritable.child_code();
        }
    };
    let mut content = headers.chain(body);
    let staged = match delivery::stage(&inside, name, recipient, &mut content) {
        Ok(s) => s,
        Err((outcome, e)) => {
            warn!("delivery to {}: {e}", recipient.user_name());
            return outcome.child_code();
        }
    };
    let mut word = [0u8; 1];
    if !matches!(commit.read(&mut word), Ok(1)) {
        // The session is gone: the staged file is removed as `staged` drops.
        return Outcome::Temporary.child_code();
    }
    let code = match staged.commit() {
        Ok(_) => Outcome::Delivered.child_code(),
        Err(e) => {
            warn!("delivery to {}: {e}", recipient.user_name());
            delivery::classify_error(&e).child_code()
        }
    };
    // Child codes are sysexits values, all below 256.
    let _ = done.write_all(&[u8::try_from(code).unwrap_or(75)]);
    crate::store::crash::point("lmtp.child-after-report");
    code
}

impl Deliverer for SpoolDeliverer {
    fn check(&mut self, recipient: &Recipient) -> RcptCheck {
        match delivery::user_dir(&self.users_dir, recipient) {
            Ok(_) => RcptCheck::Ok,
            Err(LookupError::NoSuchUser(_)) => RcptCheck::NoSuchUser,
            Err(e) => {
                warn!("looking up {}: {e}", recipient.user_name());
                RcptCheck::Unavailable
            }
        }
    }

    fn deliver(
        &mut self,
        jobs: &[(Recipient, Vec<u8>)],
        body: &[u8],
        report: &mut dyn FnMut(usize, Outcome) -> bool,
    ) {
        let mut started: VecDeque<Started> = VecDeque::new();
        let mut reap = Vec::new();
        let mut next = 0;
        for i in 0..jobs.len() {
            while next < jobs.len() && next < i + IN_FLIGHT {
                let s = match jobs.get(next) {
                    Some((r, h)) => self.start(r, h, body, &started),
                    None => Started::Decided(Outcome::Temporary),
                };
                started.push_back(s);
                next += 1;
            }
            let outcome = started
                .pop_front()
                .map_or(Outcome::Temporary, |s| finish(s, self.timeout, &mut reap));
            if !report(i, outcome) {
                break;
            }
        }
        // Children never told to commit (the MTA stopped listening) read
        // end-of-file as their pipe closes here, and discard their copy.
        for s in started {
            if let Started::Child { pid, .. } = s {
                reap.push(pid);
            }
        }
        // Their outcomes are known; one whose owner stopped it before it
        // could exit is killed when the delivery timeout has passed.
        let deadline = std::time::Instant::now() + self.timeout;
        for pid in reap {
            match process::reap_child_by(pid, deadline) {
                Ok(ChildStatus::Signaled(sig)) => {
                    warn!("delivery child {pid} ended by {sig} after its outcome");
                }
                Ok(ChildStatus::Exited(_)) => {}
                Err(e) => warn!("reaping delivery child {pid}: {e}"),
            }
        }
    }
}
