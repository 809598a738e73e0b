//! Crash injection for tests: when `CRYMAP_LIKE_CRASH_AT` names a point,
//! the process aborts there, exactly as a `kill -9` would stop it; named
//! `stop:POINT`, it stops there instead (`SIGSTOP`, as a `kill -STOP` by
//! the user owning a delivery child would), to test what waits on it.
//! Owns the list of points (see `doc/store.md`); never alters behaviour
//! otherwise.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the point to abort at.
pub const ENV: &str = "CRYMAP_LIKE_CRASH_AT";

/// Every named crash point, so tests can iterate over them.
pub const POINTS: &[&str] = &[
    "deliver.before-rename",
    "deliver.before-commit",
    "deliver.after-rename",
    "append.before-rename",
    "append.after-rename",
    "append.after-file",
    "append.after-log",
    "flags.after-log",
    "expunge.after-log",
    "copy.after-link",
    "copy.after-log",
    "move.after-intent",
    "move.after-dest-add",
    "move.after-source-expunge",
    "replace.after-file",
    "replace.after-log",
    "replace.after-dest-add",
    "replace.after-source-expunge",
    "spool.after-link",
    "spool.after-log",
    "marks.first-before-rename",
    "compact.after-segment",
    "compact.after-snapshot-tmp",
    "compact.after-snapshot",
    "fts.after-segment",
    "fts.before-manifest",
    "fts.after-manifest",
    "fts.compact-after-segment",
    "fts.compact-after-manifest",
    "lmtp.after-data",
    "lmtp.after-reply",
    "lmtp.child-after-report",
    "login.kdf-slot-held",
];

/// Aborts the process if `point` is the configured crash point. The
/// configured value may be `POINT#N`: abort the N-th time the process
/// reaches it (points reached once per recipient, say).
pub fn point(point: &str) {
    static AT: OnceLock<Option<(String, usize, bool)>> = OnceLock::new();
    static REACHED: AtomicUsize = AtomicUsize::new(0);
    let at = AT.get_or_init(|| {
        let v = std::env::var(ENV).ok()?;
        let (v, stop) = match v.strip_prefix("stop:") {
            Some(rest) => (rest.to_owned(), true),
            None => (v, false),
        };
        Some(match v.split_once('#') {
            Some((p, n)) => (p.to_owned(), n.parse().unwrap_or(1), stop),
            None => (v, 1, stop),
        })
    });
    if let Some((p, n, stop)) = at {
        if p == point {
            debug_assert!(POINTS.contains(&point), "undeclared crash point {point}");
            if REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
                if *stop {
                    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
                } else {
                    std::process::abort();
                }
            }
        }
    }
}
