//! Waiting for readability on several descriptors at once (`poll(2)`),
//! retrying transparently after `EINTR` with the time that remains.
//! Never reads or writes the descriptors it watches.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

/// Failure of [`wait_any`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    /// `poll(2)` itself failed (other than `EINTR`, which is retried).
    #[error("poll on {count} descriptor(s) failed: {source}")]
    Poll {
        /// How many descriptors were being watched.
        count: usize,
        /// The underlying errno.
        source: Errno,
    },
}

/// Converts a remaining duration into a poll timeout, rounding sub-millisecond
/// remainders up so a short timeout never degenerates into a busy loop.
fn to_poll_timeout(remaining: Option<Duration>) -> PollTimeout {
    match remaining {
        None => PollTimeout::NONE,
        Some(d) => {
            let mut ms = d.as_millis();
            if Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)) < d {
                ms = ms.saturating_add(1);
            }
            let max = PollTimeout::MAX.as_millis().map_or(0, u128::from);
            PollTimeout::try_from(ms.min(max)).unwrap_or(PollTimeout::MAX)
        }
    }
}

/// Waits until at least one of `fds` is readable (or has hung up / errored,
/// which a subsequent read reports), or until `timeout` elapses.
///
/// Returns one flag per descriptor, in order; all `false` means the timeout
/// expired. `None` waits forever. Interruptions by signals are retried with
/// the remaining time.
pub(crate) fn wait_any(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> Result<Vec<bool>, PollError> {
    let deadline = timeout.map(|t| Instant::now().checked_add(t));
    let interesting =
        PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    loop {
        let mut pollfds: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        let remaining = match deadline {
            None => None,
            // A deadline beyond the representable range is as good as "forever".
            Some(None) => None,
            Some(Some(d)) => Some(d.saturating_duration_since(Instant::now())),
        };
        match nix::poll::poll(&mut pollfds, to_poll_timeout(remaining)) {
            Ok(_) => {
                return Ok(pollfds
                    .iter()
                    .map(|p| p.revents().is_some_and(|r| r.intersects(interesting)))
                    .collect());
            }
            Err(Errno::EINTR) => {
                if remaining.is_some_and(|r| r.is_zero()) {
                    return Ok(vec![false; fds.len()]);
                }
            }
            Err(source) => {
                return Err(PollError::Poll {
                    count: fds.len(),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn times_out_when_nothing_is_readable() {
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        let start = Instant::now();
        let ready = wait_any(&[r.as_fd()], Some(Duration::from_millis(30))).expect("poll");
        assert_eq!(ready, vec![false]);
        assert!(start.elapsed() >= Duration::from_millis(25));
    }

    #[test]
    fn reports_which_descriptor_is_readable() {
        let (r1, _w1) = nix::unistd::pipe().expect("pipe");
        let (r2, w2) = nix::unistd::pipe().expect("pipe");
        let mut w2 = std::fs::File::from(w2);
        w2.write_all(b"x").expect("write");
        let ready = wait_any(&[r1.as_fd(), r2.as_fd()], None).expect("poll");
        assert_eq!(ready, vec![false, true]);
    }

    #[test]
    fn hang_up_counts_as_readable() {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        drop(w);
        let ready = wait_any(&[r.as_fd()], Some(Duration::from_secs(5))).expect("poll");
        assert_eq!(ready, vec![true]);
    }

    #[test]
    fn sub_millisecond_timeouts_round_up() {
        assert_eq!(
            to_poll_timeout(Some(Duration::from_micros(10))).as_millis(),
            Some(1)
        );
        assert_eq!(to_poll_timeout(Some(Duration::ZERO)).as_millis(), Some(0));
        assert!(to_poll_timeout(None).is_none());
        assert_eq!(
            to_poll_timeout(Some(Duration::from_secs(u64::MAX))).as_millis(),
            Some(i32::MAX as u32)
        );
    }
}
