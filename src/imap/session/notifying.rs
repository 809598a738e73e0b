//! The session's side of RFC 5465 NOTIFY: between commands it waits on
//! the connection and on the NOTIFY watches at once, and writes what
//! `imap::commands::notify` reports as soon as it happens. Never reads a
//! command here (a readable connection ends the wait) and never decides
//! what to report.

use std::io;
use std::time::{Duration, Instant};

use super::{Login, Session, State, ToClient};
use crate::imap::commands::notify::{self, Moment};
use crate::sys::poll;

impl<L: Login> Session<L> {
    /// Whether a NOTIFY SET is in force.
    pub(super) fn notifying(&self) -> bool {
        matches!(&self.state, State::Authenticated(ctx) if ctx.notify.is_some())
    }

    /// Waits up to `timeout` for the client like `wait_for_input`, pushing
    /// notifications meanwhile; false when the client stayed silent, or
    /// early when a push wrote (a `\Seen` set by MessageNew's `BODY[]`, a
    /// `\Recent` claim) and the lock kept its high-water mark from rising:
    /// the caller then retries it on its schedule (before, such a mark
    /// waited for the client's next command).
    pub(super) fn wait_notifying(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Session { io, state, out, .. } = &mut *self;
            let conn = io
                .as_mut()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection lost"))?;
            let stream = conn.inner.get_ref();
            if !conn.inner.buffer().is_empty() || stream.has_pending() {
                return Ok(true);
            }
            let State::Authenticated(ctx) = state else {
                return stream.wait_readable(remaining);
            };
            if remaining.is_zero() {
                return Ok(false);
            }
            let push = if ctx.notify.as_ref().is_some_and(|n| n.due()) {
                true
            } else {
                let ready = match ctx.notify.as_ref().and_then(|n| n.fd()) {
                    Some(fd) => poll::wait_any(&[stream.read_fd(), fd], Some(remaining))
                        .map_err(io::Error::other)?,
                    None => return stream.wait_readable(remaining),
                };
                if ready.first().copied().unwrap_or(false) {
                    return Ok(true);
                }
                ready.get(1).copied().unwrap_or(false)
            };
            if push {
                // MessageNew's FETCH streams to the client as it is made.
                notify::deliver(ctx, out, Moment::BetweenCommands, &mut ToClient(io));
                self.flush()?;
                self.raise_marks();
                if self.marks_pending() {
                    return Ok(false);
                }
            }
        }
    }
}
