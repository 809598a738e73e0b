//! What an operator can learn about an account without its password: the
//! owner, when it was made, how many mailbox directories and message files
//! it has and how big they are — exactly what the design lets the disk
//! show. Owns only directory walking; never opens a sealed file.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::store::user_file::UserFile;

/// The visible facts of one account.
#[derive(Debug, Default)]
pub(super) struct Facts {
    /// Owner uid of the data directory.
    pub uid: u32,
    /// When the first key pair was written (seconds since the epoch), which
    /// is when the account was made.
    pub created: Option<i64>,
    /// The password change time recorded in `user.toml`.
    pub password_changed: String,
    /// Mailbox directories.
    pub mailboxes: u64,
    /// Message files in all mailboxes (copies counted in each mailbox;
    /// expunged files count until they are collected).
    pub messages: u64,
    /// Their total size on disk.
    pub bytes: u64,
    /// Deliveries waiting in the spool.
    pub spool: u64,
}

impl Facts {
    /// `created` as a day.
    pub(super) fn created_day(&self) -> String {
        self.created_with("%Y-%m-%d")
    }

    /// `created` in full.
    pub(super) fn created_full(&self) -> String {
        self.created_with("%Y-%m-%d %H:%M:%S UTC")
    }

    fn created_with(&self, fmt: &str) -> String {
        self.created
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map_or_else(|| "?".to_owned(), |d| d.format(fmt).to_string())
    }
}

fn entries(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(dir).into_iter().flatten().flatten()
}

/// Gathers the facts of the account in `dir` (unreadable parts count as
/// empty).
pub(super) fn visible(dir: &Path) -> Facts {
    let mut f = Facts {
        uid: std::fs::metadata(dir).map(|m| m.uid()).unwrap_or(u32::MAX),
        ..Facts::default()
    };
    f.password_changed = UserFile::load(dir).map_or_else(
        |e| format!("? ({e})"),
        |u| {
            u.password_changed()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    );
    f.created = entries(&dir.join("keys"))
        .filter_map(|e| e.metadata().ok().map(|m| m.mtime()))
        .min();
    f.spool = entries(&dir.join("spool")).count() as u64;
    for mb in entries(&dir.join("mailboxes")) {
        if !mb.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        f.mailboxes += 1;
        for fan in entries(&mb.path().join("msg")) {
            for file in entries(&fan.path()) {
                let name = file.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".sum") {
                    continue;
                }
                if let Ok(m) = file.metadata() {
                    if m.is_file() {
                        f.messages += 1;
                        f.bytes += m.len();
                    }
                }
            }
        }
    }
    f
}

/// `bytes` as B, KiB, MiB or GiB.
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
