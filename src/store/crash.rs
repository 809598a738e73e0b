//! Crash injection for tests: when `CRYMAP_LIKE_CRASH_AT` names a point,
//! the process aborts there, exactly as a `kill -9` would stop it. Owns the
//! list of points (see `doc/store.md`); never alters behaviour otherwise.

use std::sync::OnceLock;

/// The environment variable naming the point to abort at.
pub const ENV: &str = "CRYMAP_LIKE_CRASH_AT";

/// Every named crash point, so tests can iterate over them.
pub const POINTS: &[&str] = &[
    "deliver.before-rename",
    "deliver.after-rename",
    "append.before-rename",
    "append.after-file",
    "append.after-log",
    "flags.after-log",
    "expunge.after-log",
    "copy.after-link",
    "copy.after-log",
    "move.after-intent",
    "move.after-dest-add",
    "move.after-source-expunge",
    "spool.after-link",
    "spool.after-log",
    "compact.after-segment",
    "compact.after-snapshot-tmp",
    "compact.after-snapshot",
];

/// Aborts the process if `point` is the configured crash point.
pub fn point(point: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    let at = AT.get_or_init(|| std::env::var(ENV).ok());
    if at.as_deref() == Some(point) {
        debug_assert!(POINTS.contains(&point), "undeclared crash point {point}");
        std::process::abort();
    }
}
