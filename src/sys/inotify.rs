//! Change notification for directories (a mailbox's `log/`, the `spool/`):
//! a non-blocking inotify instance whose descriptor can be polled together
//! with the client connection, and a polling fallback when inotify is
//! unavailable (no kernel support, watch limit reached).
//!
//! Only answers "something may have changed"; never reads the files, which
//! is the store's job.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::sys::poll::PollError;

/// How often a watcher in polling mode tells its caller to re-scan.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Failure of the watcher.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WatchError {
    /// Adding a watch failed for a reason other than running out of watches.
    #[error("cannot watch {path}: {source}")]
    AddWatch {
        /// The directory.
        path: PathBuf,
        /// The underlying errno.
        source: Errno,
    },
    /// Reading events failed.
    #[error("reading inotify events failed: {0}")]
    Read(Errno),
    /// Waiting for events failed.
    #[error(transparent)]
    Poll(#[from] PollError),
}

/// One watched directory, for a caller that must know which one changed
/// ([`DirWatcher::add`], [`DirWatcher::drain_which`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct WatchId(WatchDescriptor);

/// What [`DirWatcher::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// The directory is watched under this id.
    Watching(WatchId),
    /// No watch could be had (no inotify, or the per-user watch limit):
    /// the caller decides what to give up; the watcher stays as it was.
    Exhausted,
}

/// What [`DirWatcher::drain_which`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Fired {
    /// The watches that saw a change.
    pub ids: BTreeSet<WatchId>,
    /// The kernel's event queue overflowed: changes to any directory may
    /// have been missed.
    pub overflow: bool,
}

/// Watches a set of directories for new or changed entries.
#[derive(Debug)]
pub(crate) struct DirWatcher {
    inotify: Option<Inotify>,
}

impl DirWatcher {
    /// An inotify-backed watcher, or a polling one if inotify cannot be
    /// initialised (the reason is logged once).
    pub(crate) fn new() -> DirWatcher {
        match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
            Ok(inotify) => DirWatcher {
                inotify: Some(inotify),
            },
            Err(e) => {
                log::warn!(
                    "inotify unavailable ({e}); falling back to polling every {POLL_INTERVAL:?}"
                );
                DirWatcher::polling()
            }
        }
    }

    /// A watcher that never blocks on events and always reports a possible
    /// change, so the caller re-scans at [`POLL_INTERVAL`].
    pub(crate) fn polling() -> DirWatcher {
        DirWatcher { inotify: None }
    }

    /// Whether this watcher is in the polling fallback.
    pub(crate) fn is_polling(&self) -> bool {
        self.inotify.is_none()
    }

    /// Adds `dir` to the watched set (creations, modifications, completed
    /// writes and renames into it). Running out of inotify watches switches
    /// the whole watcher to polling rather than failing.
    pub(crate) fn watch(&mut self, dir: &Path) -> Result<(), WatchError> {
        let Some(inotify) = &self.inotify else {
            return Ok(());
        };
        match inotify.add_watch(dir, Self::mask()) {
            Ok(_) => Ok(()),
            Err(Errno::ENOSPC) | Err(Errno::ENOMEM) => {
                log::warn!(
                    "inotify watch limit reached at {}; falling back to polling",
                    dir.display()
                );
                self.inotify = None;
                Ok(())
            }
            Err(source) => Err(WatchError::AddWatch {
                path: dir.to_owned(),
                source,
            }),
        }
    }

    /// Adds `dir` like [`DirWatcher::watch`], but says which watch it is
    /// and never falls back to polling: running out of watches (or having
    /// no inotify at all) is [`Added::Exhausted`], for callers whose cost
    /// would grow without bound if they polled.
    pub(crate) fn add(&mut self, dir: &Path) -> Result<Added, WatchError> {
        let Some(inotify) = &self.inotify else {
            return Ok(Added::Exhausted);
        };
        match inotify.add_watch(dir, Self::mask()) {
            Ok(wd) => Ok(Added::Watching(WatchId(wd))),
            Err(Errno::ENOSPC) | Err(Errno::ENOMEM) => Ok(Added::Exhausted),
            Err(source) => Err(WatchError::AddWatch {
                path: dir.to_owned(),
                source,
            }),
        }
    }

    /// Stops watching `id` (already gone if its directory was removed).
    pub(crate) fn remove(&mut self, id: WatchId) {
        if let Some(inotify) = &self.inotify {
            let _ = inotify.rm_watch(id.0);
        }
    }

    /// Consumes every pending event without blocking and says which
    /// watches fired. In polling mode nothing is known: `overflow` is set.
    pub(crate) fn drain_which(&mut self) -> Result<Fired, WatchError> {
        let mut fired = Fired::default();
        let Some(inotify) = &self.inotify else {
            fired.overflow = true;
            return Ok(fired);
        };
        loop {
            match inotify.read_events() {
                Ok(events) if events.is_empty() => return Ok(fired),
                Ok(events) => {
                    for e in events {
                        if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                            fired.overflow = true;
                        } else if !e.mask.contains(AddWatchFlags::IN_IGNORED) {
                            fired.ids.insert(WatchId(e.wd));
                        }
                    }
                }
                Err(Errno::EAGAIN) => return Ok(fired),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(WatchError::Read(e)),
            }
        }
    }

    fn mask() -> AddWatchFlags {
        AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_ONLYDIR
    }

    /// The descriptor to poll for readability, or `None` in polling mode.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|i| i.as_fd())
    }

    /// The timeout a caller waiting on [`DirWatcher::fd`] and other
    /// descriptors should use so a polling watcher still gets its re-scans.
    pub(crate) fn suggested_timeout(&self) -> Option<Duration> {
        self.is_polling().then_some(POLL_INTERVAL)
    }

    /// Consumes every pending event without blocking; `true` if anything
    /// happened since the last call (always `true` in polling mode, and on
    /// queue overflow, where events were lost).
    pub(crate) fn drain(&mut self) -> Result<bool, WatchError> {
        let Some(inotify) = &self.inotify else {
            return Ok(true);
        };
        let mut any = false;
        loop {
            match inotify.read_events() {
                Ok(events) if events.is_empty() => return Ok(any),
                Ok(_) => any = true,
                Err(Errno::EAGAIN) => return Ok(any),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(WatchError::Read(e)),
            }
        }
    }

    #[cfg(test)]
    /// Waits up to `timeout` (`None`: forever) for a change, then drains.
    /// In polling mode, sleeps for the shorter of `timeout` and
    /// [`POLL_INTERVAL`] and reports `true`.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, WatchError> {
        match self.fd() {
            None => {
                let nap = timeout.map_or(POLL_INTERVAL, |t| t.min(POLL_INTERVAL));
                std::thread::sleep(nap);
                Ok(true)
            }
            Some(fd) => {
                crate::sys::poll::wait_any(&[fd], timeout)?;
                self.drain()
            }
        }
    }
}

impl Default for DirWatcher {
    fn default() -> Self {
        DirWatcher::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::temp_dir;
    use std::fs;
    use std::io::Write;

    #[test]
    fn reports_creation_append_and_rename_into_watched_dirs() {
        let log_dir = temp_dir("log");
        let spool = temp_dir("spool");
        let elsewhere = temp_dir("elsewhere");
        let mut w = DirWatcher::new();
        assert!(!w.is_polling(), "inotify should work on Linux test hosts");
        w.watch(&log_dir).expect("watch log");
        w.watch(&spool).expect("watch spool");
        assert!(!w.drain().expect("drain"), "nothing happened yet");
        assert!(!w.wait(Some(Duration::from_millis(10))).expect("wait"));

        fs::write(log_dir.join("seg-0"), b"record").expect("create");
        assert!(w.wait(Some(Duration::from_secs(5))).expect("wait"));
        assert!(!w.drain().expect("drain"), "events must be consumed");

        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(log_dir.join("seg-0"))
            .expect("open");
        f.write_all(b"more").expect("append");
        assert!(w.drain().expect("drain"));

        fs::write(elsewhere.join("entry"), b"x").expect("write elsewhere");
        assert!(
            !w.drain().expect("drain"),
            "unwatched directory must be silent"
        );
        fs::rename(elsewhere.join("entry"), spool.join("entry")).expect("rename");
        assert!(w.drain().expect("drain"));

        for d in [log_dir, spool, elsewhere] {
            fs::remove_dir_all(d).expect("cleanup");
        }
    }

    #[test]
    fn watching_a_file_or_missing_dir_is_an_error() {
        let dir = temp_dir("err");
        fs::write(dir.join("file"), b"").expect("file");
        let mut w = DirWatcher::new();
        assert!(matches!(
            w.watch(&dir.join("file")),
            Err(WatchError::AddWatch { .. })
        ));
        assert!(matches!(
            w.watch(&dir.join("missing")),
            Err(WatchError::AddWatch { .. })
        ));
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn drain_which_names_the_watch_that_fired() {
        let a = temp_dir("which-a");
        let b = temp_dir("which-b");
        let mut w = DirWatcher::new();
        let (Added::Watching(ia), Added::Watching(ib)) =
            (w.add(&a).expect("add a"), w.add(&b).expect("add b"))
        else {
            panic!("inotify should work on Linux test hosts");
        };
        assert_ne!(ia, ib);
        assert_eq!(w.drain_which().expect("drain"), Fired::default());
        fs::write(b.join("x"), b"1").expect("write");
        let fired = w.drain_which().expect("drain");
        assert_eq!(fired.ids.into_iter().collect::<Vec<_>>(), vec![ib]);
        w.remove(ib);
        fs::write(b.join("y"), b"1").expect("write");
        fs::write(a.join("y"), b"1").expect("write");
        let fired = w.drain_which().expect("drain");
        assert_eq!(fired.ids.into_iter().collect::<Vec<_>>(), vec![ia]);
        assert!(matches!(
            DirWatcher::polling().add(&a).expect("add"),
            Added::Exhausted
        ));
        assert!(DirWatcher::polling().drain_which().expect("drain").overflow);
        for d in [a, b] {
            fs::remove_dir_all(d).expect("cleanup");
        }
    }

    #[test]
    fn polling_fallback_always_reports_and_has_no_fd() {
        let mut w = DirWatcher::polling();
        assert!(w.is_polling());
        assert!(w.fd().is_none());
        assert_eq!(w.suggested_timeout(), Some(POLL_INTERVAL));
        w.watch(Path::new("/nonexistent"))
            .expect("no-op in polling mode");
        assert!(w.drain().expect("drain"));
        assert!(w.wait(Some(Duration::from_millis(1))).expect("wait"));
    }
}
