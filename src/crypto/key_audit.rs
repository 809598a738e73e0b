//! The sealed record of public keys already checked at an earlier login
//! (`keys/audit`): for each pair, the inode, change time and size its two
//! files had when [`KeyStore::verify_public_keys`] last found the pair
//! genuine. Owns that file's format and sealing; never decides whether a
//! key is genuine (the key store does, by unsealing the private half).
//!
//! A file's inode and change time (ctime) cannot be set by its owner: any
//! write, rename over it or replacement gives it a new ctime (or a new
//! inode), so a pair whose stamps are unchanged still holds the bytes that
//! were checked. Only such pairs are skipped; everything else is checked
//! in full, and a missing, torn, replayed or forged record only means
//! checking everything again. Without it, every login unsealed and
//! multiplied every pair ever made, one more each key period.
//!
//! [`KeyStore::verify_public_keys`]: super::keystore::KeyStore::verify_public_keys

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::seal::{open, seal};
use super::secret::SecretKey;
use crate::sys::durable::{self, Durability, NewFile};

/// The record's name inside `keys/` (no `.pub`/`.priv` suffix: the key
/// store never takes it for a key).
pub(crate) const FILE: &str = "audit";
const AAD: &[u8] = b"crymap-like key audit v1";
/// Subkey purpose of the record's sealing key.
pub(crate) const PURPOSE: &str = "key-audit";
/// Bound on the record read (a pair takes about 60 bytes).
const MAX_SIZE: u64 = 256 * 1024;
/// A file changed less than this long before the check is not recorded:
/// change times are only as fine as the kernel's clock tick, so a write
/// right after the check could keep the same ctime. It is checked again at
/// the next login instead.
const SETTLE: Duration = Duration::from_secs(2);

/// What identifies the content of one file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    ino: u64,
    ctime: i64,
    ctime_nsec: i64,
    size: u64,
}

impl Stamp {
    /// The stamp of `path` (not following a link), `None` if it cannot be
    /// read.
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        let md = fs::symlink_metadata(path).ok()?;
        Some(Stamp {
            ino: md.ino(),
            ctime: md.ctime(),
            ctime_nsec: md.ctime_nsec(),
            size: md.size(),
        })
    }

    /// Whether the file last changed at least [`SETTLE`] before `now`.
    pub(crate) fn settled(&self, now: SystemTime) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let settle = i64::try_from(SETTLE.as_secs()).unwrap_or(i64::MAX);
        self.ctime.saturating_add(settle) < now
    }
}

/// One pair found genuine: its name and the stamps of `NAME.pub` and
/// `NAME.priv` at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checked {
    pub name: String,
    pub public: Stamp,
    pub private: Stamp,
}

/// Reads the record in `dir`; empty when there is none or it does not
/// open (then every pair is checked).
pub(crate) fn read(dir: &Path, key: &SecretKey) -> Vec<Checked> {
    let path = dir.join(FILE);
    let sealed = match durable::read_bounded(&path, MAX_SIZE) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            log::warn!("reading {}: {e}; checking every key pair", path.display());
            return Vec::new();
        }
    };
    match open(key, AAD, &sealed)
        .ok()
        .and_then(|plain| postcard::from_bytes(&plain).ok())
    {
        Some(list) => list,
        None => {
            log::warn!(
                "{} does not authenticate; checking every key pair",
                path.display()
            );
            Vec::new()
        }
    }
}

/// Replaces the record in `dir` with `list` (staged in `dir`, renamed, not
/// synced: a record lost to a crash only costs a full check).
pub(crate) fn write(dir: &Path, key: &SecretKey, list: &[Checked]) -> Result<(), durable::FsError> {
    let plain = postcard::to_stdvec(list).unwrap_or_default();
    let mut staged = NewFile::create(dir)?;
    staged.write_all(&seal(key, AAD, &plain))?;
    staged.place(&dir.join(FILE), Durability::Deferred)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{finishes, Hostile, TempDir};

    /// The record replaced by a FIFO, a link (to /dev/zero, to another
    /// user's file) or a file past its bound: read as no record (every
    /// pair is checked again), at once. Before, a FIFO hung every login.
    #[test]
    fn hostile_record_reads_as_none_at_once() {
        let d = TempDir::new("audit");
        let key = SecretKey::generate();
        for what in Hostile::all(MAX_SIZE) {
            what.plant(&d.path().join(FILE));
            let (dir, k) = (d.path().to_owned(), key.clone());
            let list = finishes("reading the audit record", move || read(&dir, &k));
            assert!(list.is_empty(), "{what:?}");
        }
    }
}
