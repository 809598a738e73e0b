//! One staging file made ahead of need, on a thread of its own, for the
//! next message this process writes (a session's next APPEND): the new
//! inode is allocated while the session waits for the client, not while
//! the client waits for the session. Owns only that spare file; never
//! writes into it, never places it (the caller does, through
//! [`NewFile`]), and never keeps more than one.
//!
//! Why: on ext4 without a journal a new inode skips every one deleted in
//! the last minute (six while its inode-table block is dirty), one
//! buffer-cache lookup each, from the start of its block group; after
//! thousands of deletions (another benchmark, a purge, a removed mailbox)
//! one file creation cost about a millisecond of kernel time, most of an
//! APPEND (`doc/benchmarks.md`). The spare is an empty `tmp/<hex>.tmp`
//! like any staging file: a process that ends without using it removes it
//! ([`discard`], which also waits for a creation already under way); one
//! killed leaves it for garbage collection (a day).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::durable::{NewFile, Result};

/// The spare of this process, for one directory.
struct Slot {
    /// The process that made it: a child forked later has none of its own
    /// (and must not remove its parent's).
    pid: u32,
    /// Where the spare is made (the user's `tmp/`).
    dir: PathBuf,
    /// The spare, once made, and when.
    file: Option<(NewFile, Instant)>,
    /// Whether the thread was asked for one that has not arrived yet.
    pending: bool,
    /// Files taken so far: the first spare is asked for at the second, so
    /// that a session appending once (a client saving a sent message)
    /// creates no file it does not use; each unused spare is removed, and
    /// a removed inode slows file creation for minutes on ext4 without a
    /// journal.
    taken: u32,
    /// The thread's queue and handle; `None` when no thread could be
    /// started (every file is then created when needed, as without a
    /// spare).
    jobs: Option<(mpsc::Sender<PathBuf>, std::thread::JoinHandle<()>)>,
}

/// The spare of one process (one [`Spares`] per process: [`PROCESS`]).
struct Spares {
    slot: Mutex<Option<Slot>>,
}

/// A spare older than this is removed rather than used: far inside the
/// day after which garbage collection removes staging files.
const MAX_AGE: Duration = Duration::from_secs(3600);

static PROCESS: LazyLock<Arc<Spares>> = LazyLock::new(Spares::new);

/// Whether this process keeps a spare: only a session process, which
/// serves one user (one `tmp/`) and says so with [`enable`]. A process
/// using the store for several users at once (a test harness seeding
/// accounts, say) makes every file when needed: one shared spare would be
/// removed from one user's `tmp/` when another's asks.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Lets this process keep a spare (an IMAP session, from its start).
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// A new staging file in `dir`: the spare made ahead if there is one,
/// else one created now.
pub(crate) fn take(dir: &Path) -> Result<NewFile> {
    if !ENABLED.load(Ordering::Relaxed) {
        return NewFile::create(dir);
    }
    PROCESS.take(dir)
}

/// Asks for the next spare in `dir`, from the second file taken on. The
/// caller asks once its file has left `dir` (renamed into place): a file
/// created in `dir` holds `dir`'s lock for as long as ext4 scans for a
/// free inode, and a rename out of `dir` meanwhile would wait for it.
pub(crate) fn prepare_next(dir: &Path) {
    if ENABLED.load(Ordering::Relaxed) {
        PROCESS.prepare_next(dir);
    }
}

/// Removes the spare, if any (a session ending).
pub(crate) fn discard() {
    PROCESS.discard();
}

impl Spares {
    fn new() -> Arc<Spares> {
        Arc::new(Spares {
            slot: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Slot>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(self: &Arc<Self>, dir: &Path) -> Result<NewFile> {
        let pid = std::process::id();
        let spare = {
            let mut guard = self.lock();
            if guard.as_ref().is_some_and(|s| s.pid != pid) {
                // Inherited through fork: the file is the parent's to use
                // or remove, and the thread did not survive the fork.
                std::mem::forget(guard.take());
            }
            let slot = guard.get_or_insert_with(|| Slot {
                pid,
                dir: dir.to_owned(),
                file: None,
                pending: false,
                taken: 0,
                jobs: None,
            });
            if slot.dir != dir {
                slot.file = None;
                slot.dir = dir.to_owned();
            }
            // Garbage collection removes staging files a day old; a spare
            // kept that long by a session left open is not used.
            let spare = slot
                .file
                .take()
                .and_then(|(f, made)| (made.elapsed() < MAX_AGE).then_some(f));
            slot.taken = slot.taken.saturating_add(1);
            spare
        };
        match spare {
            Some(file) => Ok(file),
            None => NewFile::create(dir),
        }
    }

    fn prepare_next(self: &Arc<Self>, dir: &Path) {
        let mut guard = self.lock();
        let Some(slot) = guard.as_mut() else {
            return;
        };
        if slot.pid != std::process::id()
            || slot.dir != dir
            || slot.taken < 2
            || slot.pending
            || slot.file.is_some()
        {
            return;
        }
        if slot.jobs.is_none() {
            slot.jobs = self.start();
        }
        if let Some((jobs, _)) = &slot.jobs {
            slot.pending = jobs.send(dir.to_owned()).is_ok();
        }
    }

    fn discard(&self) {
        let slot = self.lock().take();
        match slot {
            Some(s) if s.pid != std::process::id() => std::mem::forget(s),
            Some(Slot { file, jobs, .. }) => {
                // Dropping the file removes it; closing the queue ends the
                // thread once a creation it has begun is done, and that
                // file it removes itself (the slot is gone): waited for,
                // so that no spare outlives the session's last reply.
                drop(file);
                if let Some((queue, thread)) = jobs {
                    drop(queue);
                    let _ = thread.join();
                }
            }
            None => {}
        }
    }

    /// Starts the thread that makes spares; `None` if it cannot be started.
    fn start(self: &Arc<Self>) -> Option<(mpsc::Sender<PathBuf>, std::thread::JoinHandle<()>)> {
        let (jobs, requests) = mpsc::channel::<PathBuf>();
        let spares = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("spare-file".into())
            .spawn(move || {
                for dir in requests {
                    // A failure leaves no spare: the next taker creates its
                    // file itself and reports any error then.
                    let mut made = NewFile::create(&dir).ok();
                    let mut guard = spares.lock();
                    if let Some(slot) = guard.as_mut() {
                        if slot.dir == dir && slot.file.is_none() {
                            slot.file = made.take().map(|f| (f, Instant::now()));
                        }
                        slot.pending = false;
                    }
                    drop(guard);
                    // Not wanted any more (discarded, or another
                    // directory): removed.
                    drop(made);
                }
            })
            .ok()?;
        Some((jobs, thread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No spare after the first file (a single APPEND leaves nothing
    /// behind); from the second on one is made ahead in the directory
    /// asked for, handed out once, replaced, and removed by `discard`; no
    /// more than one is ever left in the directory.
    #[test]
    fn spare_is_made_ahead_handed_out_once_and_discarded() {
        let dir = std::env::temp_dir().join(format!("spare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let count = || std::fs::read_dir(&dir).expect("list").count();
        let spares = Spares::new();
        drop(spares.take(&dir).expect("once"));
        spares.prepare_next(&dir);
        assert!(spares
            .lock()
            .as_ref()
            .is_some_and(|s| s.jobs.is_none() && !s.pending));
        assert_eq!(count(), 0, "no spare after one file");
        let first = spares.take(&dir).expect("first");
        let first_path = first.path().to_owned();
        spares.prepare_next(&dir);
        // The thread makes the next one while we hold the first.
        let mut waited = 0;
        while count() < 2 && waited < 500 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            waited += 1;
        }
        assert_eq!(count(), 2, "the spare was made ahead");
        let second = spares.take(&dir).expect("second");
        spares.prepare_next(&dir);
        assert_ne!(second.path(), first_path);
        drop(first);
        drop(second);
        while spares.lock().as_ref().is_some_and(|s| s.pending) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(count() <= 1, "at most the spare is left");
        spares.discard();
        assert_eq!(count(), 0, "discard removes the spare");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
