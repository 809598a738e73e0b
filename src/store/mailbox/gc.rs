//! Garbage collection: files of messages expunged longer ago than the
//! grace period, unreferenced files of interrupted appends and copies,
//! stale staging files, and the directories of deleted mailboxes. Never
//! removes a file a live message refers to, nor anything younger than its
//! grace period (a session may still read it, a writer may be about to
//! refer to it).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{msg_path, now_secs, Mailbox, MailboxError, FILE_GRACE};
use crate::store::account::MailboxId;
use crate::store::summary;
use crate::store::types::MessageName;
use crate::sys::durable::TEMP_SUFFIX;

/// Removes the directories under `mailboxes/` that belong to no mailbox of
/// the account any more (deleted ones), once untouched for `grace`. The
/// grace protects a mailbox being created right now, whose directory exists
/// a moment before its account record. Returns how many were removed.
///
/// Directory names are parsed to [`MailboxId`] values and compared as
/// values, never as strings: a name that is not an id is left alone, and
/// one that spells a live id in another case (as a case-insensitive file
/// system may list it) is that live mailbox, never removed.
pub fn remove_deleted_mailboxes(
    user_dir: &Path,
    live: &[MailboxId],
    grace: Duration,
) -> io::Result<usize> {
    let live: BTreeSet<MailboxId> = live.iter().copied().collect();
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(user_dir.join("mailboxes"))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(MailboxId::parse_hex) else {
            continue;
        };
        if live.contains(&id) {
            continue;
        }
        let meta = entry.metadata()?;
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if meta.is_dir() && age >= grace {
            fs::remove_dir_all(entry.path())?;
            // Its high-water mark goes with it (best effort: a leftover mark
            // of a mailbox that no longer exists is never read).
            let _ = fs::remove_file(user_dir.join(super::super::marks::MARKS_DIR).join(name));
            removed += 1;
        }
    }
    Ok(removed)
}

impl Mailbox {
    /// Removes files nobody needs any more: of messages expunged more than
    /// `grace` ago (zero for XCRY PURGE), files in `msg/` no record
    /// references that are older than 24 h (an interrupted append), and
    /// stale staging files in `tmp/`. Returns how many files were removed.
    pub fn collect_garbage(&mut self, grace: Duration) -> Result<usize, MailboxError> {
        let lock = self.log.lock()?;
        self.log
            .catch_up(&mut self.state, Some(&mut self.changed))?;
        // Nothing is removed on the word of a log that does not verify: a
        // rolled-back or damaged log would call live messages unreferenced.
        self.log.ensure_writable(&mut self.state)?;
        let now = now_secs();
        let grace_secs = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        let live: BTreeSet<MessageName> = self.state.live().map(|m| m.name).collect();
        let mut removed = 0usize;
        let dir = self.log.dir().to_path_buf();
        let mut keep_expunged = Vec::new();
        for (name, at) in std::mem::take(&mut self.state.expunged_files) {
            if now.saturating_sub(at) < grace_secs {
                keep_expunged.push((name, at));
                continue;
            }
            if !live.contains(&name) {
                removed += remove_message_files(&msg_path(&dir, &name));
            }
        }
        self.state.expunged_files = keep_expunged;
        let recent_expunged: BTreeSet<MessageName> =
            self.state.expunged_files.iter().map(|(n, _)| *n).collect();
        let cutoff = SystemTime::now().checked_sub(FILE_GRACE);
        let msg_root = dir.join("msg");
        if let (Some(cutoff), Ok(fans)) = (cutoff, fs::read_dir(&msg_root)) {
            for fan in fans.flatten() {
                let Ok(files) = fs::read_dir(fan.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let file_name = f.file_name();
                    let Some(s) = file_name.to_str() else {
                        continue;
                    };
                    let Some(name) = MessageName::parse(s.trim_end_matches(".sum")) else {
                        continue;
                    };
                    if live.contains(&name) || recent_expunged.contains(&name) {
                        continue;
                    }
                    if is_older(&f.path(), cutoff) && fs::remove_file(f.path()).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        if let (Some(cutoff), Ok(tmps)) = (cutoff, fs::read_dir(self.user_dir.join("tmp"))) {
            for t in tmps.flatten() {
                let is_staging = t
                    .file_name()
                    .to_str()
                    .is_some_and(|s| s.ends_with(TEMP_SUFFIX));
                if is_staging && is_older(&t.path(), cutoff) && fs::remove_file(t.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        self.log.compact_locked(&lock, &mut self.state)?;
        Ok(removed)
    }
}

fn is_older(path: &Path, cutoff: SystemTime) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t < cutoff)
}

fn remove_message_files(path: &Path) -> usize {
    let mut n = 0;
    if fs::remove_file(path).is_ok() {
        n += 1;
    }
    if fs::remove_file(summary::path_for(path)).is_ok() {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::TempDir;

    /// The directory scan and `MailboxId::parse_hex` used to disagree about
    /// case: an upper-case spelling of a live id parsed as an id but did not
    /// match the live set's lower-case strings, so the live mailbox's
    /// directory (on a case-insensitive file system, the same directory)
    /// was removed. Compared as values, it is kept.
    #[test]
    fn directory_names_are_compared_as_ids_not_strings() {
        let tmp = TempDir::new("gc");
        let mailboxes = tmp.path().join("mailboxes");
        let live = MailboxId::generate();
        let dead = MailboxId::generate();
        let live_upper = live.to_string().to_uppercase();
        let dead_upper = dead.to_string().to_uppercase();
        let not_an_id = "+f".repeat(16);
        for name in [&live.to_string(), &live_upper, &dead_upper, &not_an_id] {
            fs::create_dir_all(mailboxes.join(name)).unwrap();
        }
        let removed = remove_deleted_mailboxes(tmp.path(), &[live], Duration::ZERO).unwrap();
        assert_eq!(removed, 1);
        let mut left: Vec<String> = fs::read_dir(&mailboxes)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want = vec![live.to_string(), live_upper, not_an_id];
        want.sort();
        assert_eq!(left, want);
    }
}
