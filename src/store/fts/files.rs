//! The files of a mailbox's full-text index, `mailboxes/ID/fts/`: sealed
//! segments `seg-<32 hex>`, the sealed `manifest` naming the live ones and
//! what they cover, and `lock` (flock: one builder at a time). Owns their
//! names, sealing (key and AAD), padding, bounded no-follow reads and
//! durable writes. Never decides what is indexed.
//!
//! Every file here may have been written by an attacker with the user's
//! uid: reads never follow a link, refuse anything but a regular file of
//! bounded size, and authenticate before anything is decoded; a file that
//! fails is reported as [`Read::Bad`] and the index is rebuilt around it.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::segment;
use super::FtsError;
use crate::crypto::seal;
use crate::crypto::secret::SecretKey;
use crate::store::account::{MailboxId, UidValidity};
use crate::store::crash;
use crate::sys::durable::{self, Durability, FsError, NewFile};

/// Directory of the index inside the mailbox directory.
pub(crate) const DIR: &str = "fts";
const MANIFEST: &str = "manifest";
const LOCK: &str = "lock";
const SEGMENT_PREFIX: &str = "seg-";
/// Largest segment file read (a mailbox's whole index, merged).
const MAX_SEGMENT_FILE: u64 = 1 << 30;
/// Largest manifest read.
const MAX_MANIFEST_FILE: u64 = 1 << 20;

/// What the live index consists of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Every message of the mailbox with a UID below this is indexed,
    /// except those in `failed`.
    pub covered_to: u32,
    /// UIDs below `covered_to` whose text could not be read when indexed
    /// (ascending): never answered from the index.
    pub failed: Vec<u32>,
    /// The live segments, in ascending UID order.
    pub segments: Vec<u128>,
}

/// Where one mailbox's index lives and how it is sealed.
pub(crate) struct Place {
    pub dir: PathBuf,
    pub tmp: PathBuf,
    pub key: SecretKey,
    pub mailbox: MailboxId,
    pub uid_validity: UidValidity,
}

/// The outcome of reading one index file.
pub(crate) enum Read {
    /// No such file.
    Missing,
    /// Authentic plaintext (still padded).
    Plain(Vec<u8>),
    /// Present but not to be trusted (link, not a regular file, too large,
    /// fails authentication); the reason is for the log.
    Bad(String),
}

fn segment_name(id: u128) -> String {
    format!("{SEGMENT_PREFIX}{id:032x}")
}

impl Place {
    fn manifest_aad(&self) -> Vec<u8> {
        format!(
            "crymap-like fts manifest {} {} v1",
            self.mailbox,
            self.uid_validity.get()
        )
        .into_bytes()
    }

    fn segment_aad(&self, id: u128) -> Vec<u8> {
        format!(
            "crymap-like fts segment {} {} {id:032x} v1",
            self.mailbox,
            self.uid_validity.get()
        )
        .into_bytes()
    }

    /// Creates the index directory if needed and refuses one that is a
    /// link or not a directory.
    pub(crate) fn ensure_dir(&self) -> Result<(), FtsError> {
        durable::create_dir(&self.dir)?;
        let meta = fs::symlink_metadata(&self.dir).map_err(FsError::at("stat", &self.dir))?;
        if !meta.is_dir() || meta.permissions().mode() & 0o077 != 0 {
            return Err(FtsError::Untrusted {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// The manifest, if present and authentic.
    pub(crate) fn read_manifest(&self) -> Result<Option<Result<Manifest, String>>, FtsError> {
        let path = self.dir.join(MANIFEST);
        Ok(
            match read_sealed(&path, MAX_MANIFEST_FILE, &self.key, &self.manifest_aad())? {
                Read::Missing => None,
                Read::Bad(why) => Some(Err(why)),
                Read::Plain(p) => Some(
                    segment::unpad(&p)
                        .ok()
                        .and_then(|b| postcard::from_bytes(b).ok())
                        .ok_or_else(|| "manifest does not decode".to_owned()),
                ),
            },
        )
    }

    /// The padded plaintext of segment `id`.
    pub(crate) fn read_segment(&self, id: u128) -> Result<Read, FtsError> {
        let path = self.dir.join(segment_name(id));
        read_sealed(&path, MAX_SEGMENT_FILE, &self.key, &self.segment_aad(id))
    }

    /// Seals and durably places a new segment; returns its id.
    pub(crate) fn write_segment(&self, plain: &[u8], point: &str) -> Result<u128, FtsError> {
        let id = rand::random::<u128>();
        let sealed = seal::seal(&self.key, &self.segment_aad(id), plain);
        let mut f = NewFile::create(&self.tmp)?;
        f.write_all(&sealed)?;
        f.place(&self.dir.join(segment_name(id)), Durability::Now)?;
        crash::point(point);
        Ok(id)
    }

    /// Durably replaces the manifest: after a crash either the old or the
    /// new one is there, each naming only segments placed before it.
    pub(crate) fn write_manifest(&self, m: &Manifest) -> Result<(), FtsError> {
        let body = postcard::to_stdvec(m).map_err(|_| FtsError::Encode)?;
        let sealed = seal::seal(&self.key, &self.manifest_aad(), &segment::pad(body));
        let mut f = NewFile::create(&self.tmp)?;
        f.write_all(&sealed)?;
        f.sync()?;
        crash::point("fts.before-manifest");
        f.place(&self.dir.join(MANIFEST), Durability::Now)?;
        crash::point("fts.after-manifest");
        Ok(())
    }

    /// Removes every segment file `live` does not name (only under the
    /// lock: then no other builder is writing one).
    pub(crate) fn remove_unnamed(&self, live: &[u128]) -> Result<usize, FtsError> {
        let mut removed = 0;
        let entries = fs::read_dir(&self.dir).map_err(FsError::at("listing", &self.dir))?;
        for e in entries {
            let e = e.map_err(FsError::at("listing", &self.dir))?;
            let name = e.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_prefix(SEGMENT_PREFIX)) else {
                continue;
            };
            if u128::from_str_radix(hex, 16).is_ok_and(|id| live.contains(&id)) {
                continue;
            }
            let path = e.path();
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(FsError::at("remove", &path)(e).into()),
            }
        }
        Ok(removed)
    }

    /// The builder's lock, if no other process holds it (released when
    /// dropped).
    pub(crate) fn try_lock(&self) -> Result<Option<Flock<File>>, FtsError> {
        let path = self.dir.join(LOCK);
        let f = durable::open_in_place(&path)?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(lock)),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(FsError::at("locking", &path)(e.into()).into()),
        }
    }
}

/// Reads `path` without following a link, refusing anything but a
/// regular file of at most `max` bytes, and opens it with `key`/`aad`.
fn read_sealed(path: &Path, max: u64, key: &SecretKey, aad: &[u8]) -> Result<Read, FtsError> {
    let sealed = match durable::read_bounded(path, max) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Ok(Read::Bad(format!("{} is a symbolic link", path.display())))
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Ok(Read::Bad(format!(
                "{} is not a regular file of at most {max} bytes",
                path.display()
            )))
        }
        Err(e) => return Err(FsError::at("reading", path)(e).into()),
    };
    Ok(match seal::open(key, aad, &sealed) {
        // Taken out of its zeroizing wrapper: an index plaintext is held for
        // the session like the decrypted text SEARCH works on.
        Ok(mut p) => Read::Plain(std::mem::take(&mut *p)),
        Err(_) => Read::Bad(format!("{} failed authentication", path.display())),
    })
}
