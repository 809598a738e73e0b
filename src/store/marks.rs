//! Sealed high-water marks of the logs: `marks/ID` for each mailbox's
//! change log (UIDNEXT and HIGHESTMODSEQ after the last write) and
//! `marks/account` for the account log (the end offset of its last record).
//! A log found behind its mark was rolled back (see `doc/cryptography.md`,
//! "Rollback and damage"). Owns the mark files' format; never decides what
//! happens to a log behind its mark (its owner puts it read-only) and never
//! deletes anything.
//!
//! The marks live in their own directory, apart from the logs they guard,
//! so restoring an older copy of a mailbox directory or of `account/` does
//! not roll back their mark. They are written after the log's own
//! fdatasync and without one of their own (a rename of a staged file): a
//! crash can only leave a mark behind its log, never ahead of it.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::crash;
use crate::crypto::seal;
use crate::crypto::secret::{MasterKey, SecretKey};
use crate::sys::durable::{self, Durability, FsError, NewFile};

/// The directory of the marks inside the user directory.
pub const MARKS_DIR: &str = "marks";
const MARK_PURPOSE: &str = "log-mark";
const MARK_AAD: &[u8] = b"crymap-like log mark v1\0";
const PAYLOAD_LEN: usize = 16;
const SEALED_LEN: usize = PAYLOAD_LEN + seal::OVERHEAD;
/// A mark file holds up to two sealed marks ("slots"), rewritten in place
/// in turn: the newer may be torn by a crash, the other never is.
const SLOTS: usize = 2;
const MAX_FILE_LEN: usize = SLOTS * SEALED_LEN;

/// Errors reading a mark.
#[derive(Debug, Error)]
pub enum MarkError {
    /// The file system failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// A full-length mark failed authentication: written by someone without
    /// the key (or moved from another log).
    #[error("the high-water mark {path} fails authentication")]
    Tampered {
        /// Which file.
        path: PathBuf,
    },
    /// The file is there but shorter than one mark. No crash leaves that
    /// (a mark file gets its name only once its first mark is durable,
    /// and is never cut short afterwards), so it was written by someone
    /// else: the same as a mark that fails authentication.
    #[error("the high-water mark {path} is {len} bytes, shorter than one mark")]
    Short {
        /// Which file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

/// Two counters that only ever grow while a log is written: UIDNEXT and
/// HIGHESTMODSEQ for a mailbox, the end offset and zero for the account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// First counter.
    pub a: u64,
    /// Second counter.
    pub b: u64,
}

impl Mark {
    /// True when `self` (what the log says now) is behind `mark` in either
    /// counter.
    pub fn is_behind(&self, mark: &Mark) -> bool {
        self.a < mark.a || self.b < mark.b
    }
}

/// The marks of one user directory.
pub struct Marks {
    dir: PathBuf,
    tmp: PathBuf,
    key: SecretKey,
}

impl Marks {
    /// The marks of the user in `user_dir`.
    pub fn new(user_dir: &Path, master: &MasterKey) -> Marks {
        Marks {
            dir: user_dir.join(MARKS_DIR),
            tmp: user_dir.join("tmp"),
            key: master.subkey(MARK_PURPOSE),
        }
    }

    fn aad(name: &str) -> Vec<u8> {
        let mut aad = MARK_AAD.to_vec();
        aad.extend_from_slice(name.as_bytes());
        aad
    }

    /// The mark called `name`; `None` if there is no file (a log written
    /// before marks existed, or a crash before the first mark's rename
    /// reached the disk: its log is at least as far). A file shorter than
    /// one mark is [`MarkError::Short`]: the first mark is fsynced before
    /// it is renamed into place and later ones are written in place past
    /// it, so no crash leaves one (`doc/cryptography.md`, "Rollback and
    /// damage"). Anything else than a regular file of at most two marks'
    /// length (a link, a FIFO, a longer file: never written by this
    /// module) is an error, read no further than that length.
    pub fn read(&self, name: &str) -> Result<Option<Mark>, MarkError> {
        Ok(self.read_slots(name)?.map(|(mark, _)| mark))
    }

    /// The highest mark of the file and the slot holding it. A slot that
    /// fails authentication is ignored when the other one passes (a write
    /// torn by a crash touches one slot only); when none passes, the file
    /// was not written by us.
    fn read_slots(&self, name: &str) -> Result<Option<(Mark, usize)>, MarkError> {
        let path = self.dir.join(name);
        let bytes = match durable::read_bounded(&path, MAX_FILE_LEN as u64) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FsError::at("reading", &path)(e).into()),
        };
        if bytes.len() < SEALED_LEN {
            // Taken as "no mark", this let a user who rolls back a log cut
            // its mark short and have the next open write a new first mark
            // at the rolled-back position.
            return Err(MarkError::Short {
                path,
                len: bytes.len(),
            });
        }
        let aad = Self::aad(name);
        let best = bytes
            .chunks_exact(SEALED_LEN)
            .enumerate()
            .filter_map(|(slot, sealed)| {
                let plain = seal::open(&self.key, &aad, sealed).ok()?;
                let (a, b) = plain.split_at(8);
                let word = |s: &[u8]| s.try_into().ok().map(u64::from_le_bytes);
                Some((
                    Mark {
                        a: word(a)?,
                        b: word(b)?,
                    },
                    slot,
                ))
            })
            .max_by_key(|(m, _)| (m.a, m.b));
        match best {
            Some(found) => Ok(Some(found)),
            None => Err(MarkError::Tampered { path }),
        }
    }

    /// Writes the mark called `name`, with no fsync (the log it follows was
    /// synced already) except for a log's first mark. A new mark file is staged in `tmp/` and renamed
    /// into place; an existing one is rewritten in place, in the slot that
    /// does not hold its highest mark, so a crash in the middle leaves that
    /// one readable. In place, a mark write neither creates nor deletes a
    /// file: on ext4 without a journal every deleted inode slows each file
    /// creation for minutes after (`doc/benchmarks.md`), and a replaced
    /// mark deleted one per write.
    pub fn write(&self, name: &str, mark: Mark) -> Result<(), FsError> {
        let highest = self.read_slots(name).ok().flatten().map(|(_, slot)| slot);
        self.write_after(name, mark, highest)
    }

    /// Writes `mark` unless the stored one is at least as high (a mark
    /// never goes down): one read of the file for both the comparison and
    /// the choice of slot, where a read then [`Marks::write`] took two.
    /// Returns whether it wrote. A stored mark that cannot be read is
    /// replaced, as [`Marks::write`] does.
    pub fn raise(&self, name: &str, mark: Mark) -> Result<bool, FsError> {
        let highest = match self.read_slots(name) {
            Ok(Some((on_disk, _))) if !on_disk.is_behind(&mark) => return Ok(false),
            Ok(found) => found.map(|(_, slot)| slot),
            Err(_) => None,
        };
        self.write_after(name, mark, highest).map(|()| true)
    }

    /// [`Marks::write`] with the slot holding the highest stored mark
    /// already known (`None`: no readable mark, so a new file).
    fn write_after(&self, name: &str, mark: Mark, highest: Option<usize>) -> Result<(), FsError> {
        let mut plain = [0u8; PAYLOAD_LEN];
        plain[..8].copy_from_slice(&mark.a.to_le_bytes());
        plain[8..].copy_from_slice(&mark.b.to_le_bytes());
        let sealed = seal::seal(&self.key, &Self::aad(name), &plain);
        let path = self.dir.join(name);
        if let Some(highest) = highest {
            let slot = (highest + 1) % SLOTS;
            let f = durable::open_in_place(&path)?;
            let offset = u64::try_from(slot * SEALED_LEN).unwrap_or(0);
            return f
                .write_all_at(&sealed, offset)
                .map_err(FsError::at("writing", &path));
        }
        durable::create_dir_all(&self.dir)?;
        let mut staged = NewFile::create(&self.tmp)?;
        staged.write_all(&sealed)?;
        crash::point("marks.first-before-rename");
        // The first mark of a log is synced before its rename (once per
        // log): otherwise a power loss could leave the name with no
        // content, which reads as a tampered mark (a false alarm) rather
        // than as no mark yet.
        staged.place(&path, Durability::ContentNow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{finishes, Hostile, TempDir};
    use std::fs;

    /// A mark replaced by a FIFO, a link (to /dev/zero, to another user's
    /// file) or a longer file: an error at once (the mailbox or account
    /// then turns read-only), never a wait and never a read past a mark's
    /// length. Before, a FIFO hung every session and a longer file counted
    /// as "no mark", which the next open replaced with the log's own
    /// (possibly rolled back) position.
    #[test]
    fn hostile_mark_is_an_error_not_a_wait() {
        let d = TempDir::new("marks");
        fs::create_dir(d.path().join("tmp")).unwrap();
        let m = MasterKey::generate();
        Marks::new(d.path(), &m)
            .write("x", Mark { a: 5, b: 7 })
            .unwrap();
        for what in Hostile::all(MAX_FILE_LEN as u64) {
            what.plant(&d.path().join("marks/x"));
            let (dir, key) = (d.path().to_owned(), m.clone());
            let read = finishes("reading a mark", move || Marks::new(&dir, &key).read("x"));
            assert!(matches!(read, Err(MarkError::Io(_))), "{what:?}: {read:?}");
        }
    }

    #[test]
    fn marks_round_trip_and_are_bound_to_their_name() {
        let d = TempDir::new("marks");
        fs::create_dir(d.path().join("tmp")).unwrap();
        let m = MasterKey::generate();
        let marks = Marks::new(d.path(), &m);
        assert_eq!(marks.read("x").unwrap(), None);
        marks.write("x", Mark { a: 5, b: 7 }).unwrap();
        marks.write("y", Mark { a: 1, b: 1 }).unwrap();
        assert_eq!(marks.read("x").unwrap(), Some(Mark { a: 5, b: 7 }));
        let whole_x = fs::read(d.path().join("marks/x")).unwrap();
        // Another log's mark copied over this one does not authenticate.
        fs::copy(d.path().join("marks/y"), d.path().join("marks/x")).unwrap();
        assert!(matches!(marks.read("x"), Err(MarkError::Tampered { .. })));
        // A mark cut short is no crash's doing (the first mark is synced
        // before its rename; later ones are written past it): an error,
        // like a mark that fails authentication. Before, it read as no
        // mark, and the next open wrote a new one wherever the log was.
        for len in [0, 1, SEALED_LEN - 1] {
            fs::write(d.path().join("marks/x"), &whole_x[..len]).unwrap();
            assert!(
                matches!(marks.read("x"), Err(MarkError::Short { len: l, .. }) if l == len),
                "{len} bytes"
            );
        }
        fs::write(d.path().join("marks/x"), &whole_x).unwrap();
        assert_eq!(marks.read("x").unwrap(), Some(Mark { a: 5, b: 7 }));
        // Rewritten in place, in turns: the file holds the last two marks,
        // and a torn slot (zeros, garbage, cut short) leaves the other.
        let path = d.path().join("marks/z");
        marks.write("z", Mark { a: 1, b: 1 }).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), SEALED_LEN as u64);
        let ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
        for n in 2..=5 {
            marks.write("z", Mark { a: n, b: n }).unwrap();
            assert_eq!(marks.read("z").unwrap(), Some(Mark { a: n, b: n }));
        }
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), MAX_FILE_LEN as u64);
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), ino, "replaced");
        let whole = fs::read(&path).unwrap();
        // Mark 5 went to slot 0 (1, 3, 5 there; 2, 4 in slot 1).
        let mut torn = whole.clone();
        torn[3] ^= 0xff;
        fs::write(&path, &torn).unwrap();
        assert_eq!(marks.read("z").unwrap(), Some(Mark { a: 4, b: 4 }));
        let mut zeroed = whole.clone();
        zeroed[SEALED_LEN..].fill(0);
        fs::write(&path, &zeroed).unwrap();
        assert_eq!(marks.read("z").unwrap(), Some(Mark { a: 5, b: 5 }));
        fs::write(&path, &whole[..SEALED_LEN + 10]).unwrap();
        assert_eq!(marks.read("z").unwrap(), Some(Mark { a: 5, b: 5 }));
        // The next write goes to the slot not holding the highest mark.
        fs::write(&path, &torn).unwrap();
        marks.write("z", Mark { a: 6, b: 6 }).unwrap();
        assert_eq!(marks.read("z").unwrap(), Some(Mark { a: 6, b: 6 }));
        // Both slots failing is not a crash's doing.
        let mut both = whole;
        both[3] ^= 0xff;
        both[SEALED_LEN + 3] ^= 0xff;
        fs::write(&path, &both).unwrap();
        assert!(matches!(marks.read("z"), Err(MarkError::Tampered { .. })));
        assert!(Mark { a: 4, b: 9 }.is_behind(&Mark { a: 5, b: 7 }));
        assert!(!Mark { a: 5, b: 7 }.is_behind(&Mark { a: 5, b: 7 }));
    }
}
