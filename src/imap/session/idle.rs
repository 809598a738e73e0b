//! RFC 2177 IDLE: the one command that waits on the connection and the
//! store at once. Lives in the session because it reads the client's
//! `DONE` itself; never changes the mailbox, only reports.

use std::io;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::{Login, MarkRetry, Next, Session, SessionError, State, ToClient};
use crate::imap::commands::notify::{self, Moment};
use crate::imap::commands::selected;
use crate::imap::wire::framing::FrameError;
use crate::imap::wire::parser;
use crate::imap::wire::response::{Response, Status};
use crate::sys::inotify::DirWatcher;
use crate::sys::poll;

impl<L: Login> Session<L> {
    /// RFC 2177 IDLE: reports changes to the selected mailbox (and files
    /// deliveries) as they happen, until the client sends `DONE`. Changes
    /// are noticed through inotify on the mailbox's log and the spool, so
    /// they reach the client within milliseconds; polling is the fallback.
    pub(super) fn idle(&mut self, tag: &str) -> Result<Next, SessionError> {
        let State::Authenticated(ctx) = &mut self.state else {
            return Ok(Next::Continue);
        };
        selected::refresh(ctx, &mut self.out, true);
        // With NOTIFY in force, IDLE reports exactly what NOTIFY asked for
        // (RFC 5465 §4), through NOTIFY's own watches.
        let mut watcher = ctx.notify.is_none().then(|| idle_watcher(ctx));
        Response::Continue("idling".into()).encode(&mut self.out);
        self.flush()?;
        let deadline = Instant::now() + self.config.idle_timeout;
        // Mail is indexed as it arrives (doc/fts.md): while the client
        // idles, in steps small enough that its DONE waits little.
        let mut index_due = true;
        let mut retry = MarkRetry::new();
        loop {
            if watcher.is_none() {
                // NOTIFY ended (NOTIFICATIONOVERFLOW): plain IDLE from here.
                if let State::Authenticated(ctx) = &self.state {
                    if ctx.notify.is_none() {
                        watcher = Some(idle_watcher(ctx));
                    }
                }
            }
            let Session { io, state, .. } = &mut *self;
            let io = io
                .as_mut()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection lost"))?;
            let stream = io.inner.get_ref();
            let (notify_fd, marks_pending) = match state {
                State::Authenticated(ctx) => (
                    ctx.notify.as_ref().and_then(|n| n.fd()),
                    ctx.marks_pending(),
                ),
                State::NotAuthenticated => (None, false),
            };
            let (client, changed, notified) =
                if !io.inner.buffer().is_empty() || stream.has_pending() {
                    (true, false, false)
                } else {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        self.untagged_status(Status::Bye, None, "Autologout; idle for too long");
                        let _ = self.flush();
                        info!("{}: idle timeout during IDLE", self.config.peer);
                        return Ok(Next::Close);
                    }
                    let wait = if index_due {
                        Duration::ZERO
                    } else {
                        watcher
                            .as_ref()
                            .and_then(DirWatcher::suggested_timeout)
                            .map_or(remaining, |t| t.min(remaining))
                    };
                    // A mark the last reply or refresh could not raise (the
                    // mailbox lock was busy) is retried while the client
                    // idles, backing off ([`MarkRetry`]).
                    let wait = retry.pause(marks_pending).map_or(wait, |p| wait.min(p));
                    let mut fds = vec![stream.read_fd()];
                    let watcher_at = fds.len();
                    fds.extend(watcher.as_ref().and_then(DirWatcher::fd));
                    let notify_at = fds.len();
                    fds.extend(notify_fd);
                    let ready = poll::wait_any(&fds, Some(wait)).map_err(io::Error::other)?;
                    let at = |i: usize| ready.get(i).copied().unwrap_or(false);
                    let changed = watcher
                        .as_ref()
                        .is_some_and(|w| w.is_polling() || (w.fd().is_some() && at(watcher_at)));
                    let notified = notify_fd.is_some() && at(notify_at);
                    (at(0), changed, notified)
                };
            if changed {
                if let Some(w) = watcher.as_mut() {
                    if let Err(e) = w.drain() {
                        warn!("IDLE watcher failed, polling instead: {e}");
                        *w = DirWatcher::polling();
                    }
                }
                if let State::Authenticated(ctx) = &mut self.state {
                    let before = ctx.selected.as_ref().map(|s| s.mailbox.uidnext());
                    selected::refresh(ctx, &mut self.out, true);
                    let after = ctx.selected.as_ref().map(|s| s.mailbox.uidnext());
                    index_due |= before != after;
                }
                self.flush()?;
            }
            if notified {
                if let State::Authenticated(ctx) = &mut self.state {
                    let before = ctx.selected.as_ref().map(|s| s.mailbox.uidnext());
                    let spill = &mut ToClient(&mut self.io);
                    notify::deliver(ctx, &mut self.out, Moment::Idle, spill);
                    let after = ctx.selected.as_ref().map(|s| s.mailbox.uidnext());
                    index_due |= before != after;
                }
                self.flush()?;
            }
            if !client {
                // Also what this round's refresh or push wrote.
                self.raise_marks();
                if index_due {
                    index_due = match &mut self.state {
                        State::Authenticated(ctx) => index_step(ctx),
                        State::NotAuthenticated => false,
                    };
                }
                continue;
            }
            let line = match self.read_inner_line(tag)? {
                Ok(l) => l,
                Err(next) => return Ok(next),
            };
            if let State::Authenticated(ctx) = &mut self.state {
                selected::refresh(ctx, &mut self.out, true);
            }
            if parser::is_idle_done(&line) {
                self.tagged(tag, Status::Ok, None, "IDLE terminated");
            } else {
                self.tagged(tag, Status::Bad, None, "Expected DONE to end IDLE");
            }
            return Ok(Next::Continue);
        }
    }

    /// Reads one line the client sends inside a command (AUTHENTICATE
    /// data, IDLE's DONE). `Ok(Err(next))` when the command is over
    /// instead: end of input, or an unreadable line already answered BAD.
    pub(super) fn read_inner_line(
        &mut self,
        tag: &str,
    ) -> Result<Result<Vec<u8>, Next>, SessionError> {
        let io = self
            .io
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection lost"))?;
        match self.reader.read_line(io) {
            Ok(l) => Ok(Ok(l)),
            Err(FrameError::Eof) => Ok(Err(Next::Close)),
            Err(FrameError::Io(e)) => Err(e.into()),
            Err(FrameError::Rejected { reason, .. }) | Err(FrameError::Fatal(reason)) => {
                self.tagged(tag, Status::Bad, None, &reason);
                Ok(Err(Next::Continue))
            }
        }
    }
}

/// Messages indexed per step while idling: about a tenth of a second's
/// work, the most a DONE then waits for.
const INDEX_STEP: usize = 256;

/// Indexes up to [`INDEX_STEP`] of the selected mailbox's new messages;
/// whether more are left. A failure only leaves the work to the next
/// search (the index is a cache).
fn index_step(ctx: &mut crate::imap::context::Ctx) -> bool {
    let Some(sel) = ctx.selected.as_ref() else {
        return false;
    };
    match ctx.fts.sync_up_to(&sel.mailbox, INDEX_STEP) {
        Ok(more) => more,
        Err(e) => {
            warn!("full-text index of mailbox {}: {e}", sel.mailbox.id());
            false
        }
    }
}

/// IDLE's own watch: the spool and the selected mailbox.
fn idle_watcher(ctx: &crate::imap::context::Ctx) -> DirWatcher {
    let mut w = DirWatcher::new();
    for dir in selected::watch_dirs(ctx) {
        if let Err(e) = w.watch(&dir) {
            warn!("IDLE falls back to polling: {e}");
            return DirWatcher::polling();
        }
    }
    w
}
