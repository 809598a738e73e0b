//! The import journal: what an import has durably done, so that a rerun
//! after an interruption (even `kill -9`) neither loses nor duplicates a
//! message. Owns the journal file and its format; never decides what to
//! import.
//!
//! Lines (text, append-only, in the user's `tmp/`, removed when an import
//! finishes with nothing skipped):
//!
//! - `P MAILBOX-HEX UIDNEXT ID:HASH ...` — a batch about to be appended
//!   to MAILBOX whose UIDNEXT was UIDNEXT; synced before the append. A `P`
//!   whose IDs have no `D` is resolved on the next run by looking for
//!   messages with those content hashes at or above UIDNEXT (a batch is
//!   atomic: all or none are there).
//! - `S ID NAME` — a spool delivery about to be made under message name
//!   NAME; synced before the delivery. Resolved by whether NAME exists in
//!   the spool or a mailbox.
//! - `D ID ...` — done.
//!
//! An ID is SHA-256 of the target mailbox, the content's SHA-256 and its
//! occurrence number among identical contents of that source, so the
//! journal shows no content, only which hashes were imported; it is
//! removed when the import completes.
//!
//! A torn tail (bytes after the last `\n`, left by a crash or a kill
//! mid-write) is cut off, synced, before anything is appended: otherwise
//! the next run's first line would be glued onto it (a `P` line swallowed
//! by a torn `D` line is lost; a long `P` glued onto a torn `P` passes
//! [`MAX_LINE`] and the journal is refused). Cutting it is always safe:
//! each line is written whole (`\n` included) before it is synced, and
//! nothing is acted on before its line's sync returns, so every line
//! anything was acted on ends in `\n` on disk. The tail is therefore an
//! unsynced line: a `P` or `S` whose append or delivery never started, or
//! a `D` (never synced) whose batch or delivery is still named by its
//! synced `P` or `S` line earlier in the file and is resolved from it as
//! if the `D` had never been written.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::store::account::MAX_NAME_LEN;
use crate::sys::durable;

/// The longest journal read (a few hundred bytes per imported message).
const MAX_JOURNAL: u64 = 4 << 30;

/// Messages per batch at most (`import --batch`): a batch is one `P` line
/// naming each of its messages, so this bounds the journal's lines.
pub(super) const MAX_BATCH: usize = 10_000;

/// The longest line an import writes: a `P` line for [`MAX_BATCH`]
/// messages to a mailbox with the longest name (hex-encoded), with the
/// largest UIDNEXT. A `D` line names at most one batch (65 bytes a
/// message), an `S` line one message. A longer line was not written by
/// an import: the journal is refused before more of it is read, so a
/// planted gigabyte without a line end never reaches memory.
pub(super) const MAX_LINE: usize =
    "P ".len() + 2 * MAX_NAME_LEN + " ".len() + U32_DIGITS + MAX_BATCH * ITEM_LEN + "\n".len();
/// ` ID:HASH` in a `P` line.
const ITEM_LEN: usize = 1 + 64 + 1 + 64;
/// Decimal digits of the largest u32 (a UIDNEXT).
const U32_DIGITS: usize = 10;

/// A 32-byte hash written as 64 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Hash(pub [u8; 32]);

impl Hash {
    /// SHA-256 of `data`.
    pub(super) fn of(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// The import ID of the `occurrence`-th copy of content `content` in
    /// `mailbox`.
    pub(super) fn id(mailbox: &str, content: &Hash, occurrence: u32) -> Hash {
        let mut h = Sha256::new();
        h.update(mailbox.as_bytes());
        h.update([0]);
        h.update(content.0);
        h.update(occurrence.to_be_bytes());
        Hash(h.finalize().into())
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn parse(s: &str) -> Option<Hash> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Hash(out))
    }
}

/// A batch appended directly, not known to be done.
#[derive(Debug, Clone)]
pub(super) struct PendingBatch {
    /// The target mailbox name.
    pub mailbox: String,
    /// Its UIDNEXT before the append.
    pub uidnext: u32,
    /// Each message's ID and content hash.
    pub items: Vec<(Hash, Hash)>,
}

/// A spool delivery not known to be done.
#[derive(Debug, Clone)]
pub(super) struct PendingDelivery {
    /// The message's ID.
    pub id: Hash,
    /// The message name it was delivered under.
    pub name: String,
}

/// Journal errors.
#[derive(Debug, thiserror::Error)]
pub(super) enum JournalError {
    /// Reading or writing the journal failed.
    #[error("import journal {}: {source}", path.display())]
    Io {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line longer than any an import writes ([`MAX_LINE`]), or not
    /// text: not this program's journal (planted in the user's `tmp/`).
    /// It is left as it is and the import stops.
    #[error(
        "import journal {}: line {line} {what}, which no import writes; \
         the journal was not written by an import: remove it to start over",
        path.display()
    )]
    Malformed {
        /// The journal.
        path: PathBuf,
        /// Which line (from 1).
        line: usize,
        /// What is wrong with it.
        what: String,
    },
}

/// An open journal.
pub(super) struct Journal {
    path: PathBuf,
    file: File,
    done: HashSet<Hash>,
    /// Batches to resolve before importing.
    pub pending_batches: Vec<PendingBatch>,
    /// Deliveries to resolve before importing.
    pub pending_deliveries: Vec<PendingDelivery>,
}

impl Journal {
    /// The journal path for importing `source` into the account in
    /// `user_dir`.
    pub(super) fn path_for(user_dir: &Path, source: &Path) -> PathBuf {
        let h = Hash::of(source.as_os_str().as_encoded_bytes());
        user_dir
            .join("tmp")
            .join(format!("import-{}.journal", &h.hex()[..24]))
    }

    /// Opens (or creates) the journal at `path` and reads what it says.
    pub(super) fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut done = HashSet::new();
        let mut batches = Vec::new();
        let mut deliveries = Vec::new();
        // Bytes up to and including the last `\n`; past it, a torn tail.
        let mut whole: u64 = 0;
        let mut torn = false;
        // In the user's `tmp/`, under a name the user can predict: a link,
        // a FIFO or a file past the bound there is refused, never waited on.
        let existing = match durable::open_bounded(path, MAX_JOURNAL) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(io(source)),
        };
        if let Some(f) = existing {
            let mut reader = BufReader::new(f);
            let mut raw = Vec::new();
            let mut number = 0;
            loop {
                raw.clear();
                // One byte past the longest line: enough to tell it is too
                // long, never more.
                let read = (&mut reader)
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut raw)
                    .map_err(io)?;
                if read == 0 {
                    break;
                }
                number += 1;
                let malformed = |what: String| JournalError::Malformed {
                    path: path.to_path_buf(),
                    line: number,
                    what,
                };
                if raw.len() > MAX_LINE {
                    return Err(malformed(format!("is longer than {MAX_LINE} bytes")));
                }
                if raw.last() != Some(&b'\n') {
                    // The end of the file without a line end: never synced,
                    // so never acted on (see the module comment); cut below.
                    torn = true;
                    break;
                }
                whole += read as u64;
                let line = std::str::from_utf8(raw.strip_suffix(b"\n").unwrap_or(&raw))
                    .map_err(|_| malformed("is not text".into()))?;
                let mut w = line.split(' ');
                match w.next() {
                    Some("D") => done.extend(w.filter_map(Hash::parse)),
                    Some("S") => {
                        if let (Some(id), Some(name)) = (w.next().and_then(Hash::parse), w.next()) {
                            deliveries.push(PendingDelivery {
                                id,
                                name: name.to_owned(),
                            });
                        }
                    }
                    Some("P") => {
                        let mailbox = w.next().and_then(|m| {
                            let bytes: Option<Vec<u8>> = (0..m.len() / 2)
                                .map(|i| u8::from_str_radix(m.get(2 * i..2 * i + 2)?, 16).ok())
                                .collect();
                            String::from_utf8(bytes?).ok()
                        });
                        let uidnext = w.next().and_then(|u| u.parse().ok());
                        let items = w
                            .filter_map(|p| {
                                let (a, b) = p.split_once(':')?;
                                Some((Hash::parse(a)?, Hash::parse(b)?))
                            })
                            .collect();
                        if let (Some(mailbox), Some(uidnext)) = (mailbox, uidnext) {
                            batches.push(PendingBatch {
                                mailbox,
                                uidnext,
                                items,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        batches.retain(|b: &PendingBatch| b.items.iter().any(|(id, _)| !done.contains(id)));
        deliveries.retain(|d| !done.contains(&d.id));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(durable::FILE_MODE)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a regular file",
            )));
        }
        if torn {
            // Synced before anything is appended, so no crash can leave the
            // new lines behind the old tail's bytes.
            file.set_len(whole).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            done,
            pending_batches: batches,
            pending_deliveries: deliveries,
        })
    }

    /// Whether message `id` was imported.
    pub(super) fn is_done(&self, id: &Hash) -> bool {
        self.done.contains(id)
    }

    fn write(&mut self, line: &str, sync: bool) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(line.as_bytes()).map_err(io)?;
        if sync {
            self.file.sync_data().map_err(io)?;
        }
        Ok(())
    }

    /// Records, durably, a batch about to be appended.
    pub(super) fn begin_batch(&mut self, batch: &PendingBatch) -> Result<(), JournalError> {
        let mut line = format!(
            "P {} {}",
            batch
                .mailbox
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            batch.uidnext
        );
        for (id, h) in &batch.items {
            line.push_str(&format!(" {}:{}", id.hex(), h.hex()));
        }
        line.push('\n');
        self.write(&line, true)
    }

    /// Records, durably, a delivery about to be made.
    pub(super) fn begin_delivery(&mut self, d: &PendingDelivery) -> Result<(), JournalError> {
        self.write(&format!("S {} {}\n", d.id.hex(), d.name), true)
    }

    /// Records messages as done (not synced: an unrecorded `D` is found
    /// again by resolving the `P` or `S` line).
    pub(super) fn done(&mut self, ids: &[Hash]) -> Result<(), JournalError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut line = String::from("D");
        for id in ids {
            line.push(' ');
            line.push_str(&id.hex());
            self.done.insert(*id);
        }
        line.push('\n');
        self.write(&line, false)
    }

    /// Removes the journal (the import is complete).
    pub(super) fn remove(self) -> Result<(), JournalError> {
        std::fs::remove_file(&self.path).map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal sits in the user's `tmp/` under a name the user can
    /// predict: a FIFO or a symlink planted there is refused at once (an
    /// import run as the operator used to wait on the FIFO for good), and
    /// the link's target is never written.
    #[test]
    fn journal_refuses_a_planted_fifo_or_link() {
        let dir = std::env::temp_dir().join(format!(
            "crymap-like-journal-hostile-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(Journal::open(&path).is_err());
        std::fs::remove_file(&path).unwrap();
        let target = dir.join("elsewhere");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(Journal::open(&path).is_err());
        assert!(!target.exists(), "the link was followed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The longest lines an import writes (a full batch to a mailbox with
    /// the longest name) are read back; one byte more, or a planted
    /// gigabyte without a line end (sparse), is refused with a typed error
    /// after reading at most one line's bound. Before, lines had no bound
    /// and the gigabyte was read into one string.
    #[test]
    fn journal_lines_are_bounded() {
        let dir =
            std::env::temp_dir().join(format!("crymap-like-journal-lines-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let items: Vec<(Hash, Hash)> = (0..MAX_BATCH as u32)
            .map(|i| {
                let h = Hash::of(&i.to_be_bytes());
                (Hash::id("x", &h, 0), h)
            })
            .collect();
        let longest = PendingBatch {
            mailbox: "\u{10ffff}".repeat(MAX_NAME_LEN / 4),
            uidnext: u32::MAX,
            items: items.clone(),
        };
        {
            let mut j = Journal::open(&path).unwrap();
            j.begin_batch(&longest).unwrap();
            let ids: Vec<Hash> = items.iter().map(|(id, _)| *id).collect();
            j.done(&ids[..1]).unwrap();
        }
        let written = std::fs::read_to_string(&path).unwrap();
        let first = written.lines().next().unwrap();
        assert_eq!(first.len() + 1, MAX_LINE, "the bound is the longest line");
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.pending_batches.len(), 1);
        assert_eq!(j.pending_batches[0].items.len(), MAX_BATCH);
        drop(j);

        let mut too_long = b"D ".to_vec();
        too_long.resize(MAX_LINE + 1, b'0');
        std::fs::write(&path, &too_long).unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Malformed { line: 1, .. })
        ));
        let mut with_good_first = written.into_bytes();
        with_good_first.extend_from_slice(&too_long);
        std::fs::write(&path, &with_good_first).unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Malformed { line: 3, .. })
        ));
        std::fs::write(&path, b"D \xff\n").unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Malformed { line: 1, .. })
        ));
        let huge = std::fs::File::create(&path).unwrap();
        huge.set_len(1 << 30).unwrap();
        drop(huge);
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Malformed { line: 1, .. })
        ));
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            1 << 30,
            "left as it was"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn journal_replays_pending_and_done() {
        let dir = std::env::temp_dir().join(format!("crymap-like-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let (a, b) = (Hash::of(b"a"), Hash::of(b"b"));
        let ida = Hash::id("INBOX", &a, 0);
        let idb = Hash::id("INBOX", &b, 0);
        {
            let mut j = Journal::open(&path).unwrap();
            j.begin_batch(&PendingBatch {
                mailbox: "Ünï/x".into(),
                uidnext: 7,
                items: vec![(ida, a)],
            })
            .unwrap();
            j.begin_delivery(&PendingDelivery {
                id: idb,
                name: "n".into(),
            })
            .unwrap();
        }
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.pending_batches.len(), 1);
        assert_eq!(j.pending_batches[0].mailbox, "Ünï/x");
        assert_eq!(j.pending_batches[0].uidnext, 7);
        assert_eq!(j.pending_deliveries.len(), 1);
        j.done(&[ida, idb]).unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert!(j.pending_batches.is_empty() && j.pending_deliveries.is_empty());
        assert!(j.is_done(&ida));
        j.remove().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn full_batch(mailbox: &str, salt: u32) -> PendingBatch {
        PendingBatch {
            mailbox: mailbox.into(),
            uidnext: 1 + salt,
            items: (0..MAX_BATCH as u32)
                .map(|i| {
                    let h = Hash::of(&[salt.to_be_bytes(), i.to_be_bytes()].concat());
                    (Hash::id(mailbox, &h, 0), h)
                })
                .collect(),
        }
    }

    /// A run killed while writing a long `P` line leaves it torn; the next
    /// run's `P` line used to be appended onto it, the glued line passed
    /// [`MAX_LINE`] and the third run was refused ("not written by an
    /// import"). The torn tail is now cut before anything is appended.
    #[test]
    fn journal_cuts_a_torn_p_line_before_appending() {
        let dir =
            std::env::temp_dir().join(format!("crymap-like-journal-tornp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        {
            let mut j = Journal::open(&path).unwrap();
            j.begin_batch(&full_batch("INBOX", 0)).unwrap();
        }
        let written = std::fs::read(&path).unwrap();
        std::fs::write(&path, &written[..written.len() * 2 / 3]).unwrap();
        let second = full_batch("INBOX", 1);
        {
            let mut j = Journal::open(&path).unwrap();
            assert!(j.pending_batches.is_empty(), "a torn line is not a batch");
            j.begin_batch(&second).unwrap();
        }
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.pending_batches.len(), 1);
        assert_eq!(j.pending_batches[0].items, second.items);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A torn (unsynced) `D` line used to swallow the next run's synced
    /// `P` line, so when that run was interrupted too its batch was not
    /// pending any more and a third run imported it again.
    #[test]
    fn journal_keeps_the_batch_begun_after_a_torn_d_line() {
        let dir =
            std::env::temp_dir().join(format!("crymap-like-journal-tornd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let (a, b) = (Hash::of(b"a"), Hash::of(b"b"));
        let (ida, idb) = (Hash::id("INBOX", &a, 0), Hash::id("INBOX", &b, 0));
        {
            let mut j = Journal::open(&path).unwrap();
            j.begin_batch(&PendingBatch {
                mailbox: "INBOX".into(),
                uidnext: 1,
                items: vec![(ida, a)],
            })
            .unwrap();
            j.done(&[ida]).unwrap();
        }
        let written = std::fs::read(&path).unwrap();
        std::fs::write(&path, &written[..written.len() - 10]).unwrap();
        {
            let mut j = Journal::open(&path).unwrap();
            assert_eq!(j.pending_batches.len(), 1, "resolved from its P line");
            j.begin_batch(&PendingBatch {
                mailbox: "INBOX".into(),
                uidnext: 2,
                items: vec![(idb, b)],
            })
            .unwrap();
        }
        let j = Journal::open(&path).unwrap();
        assert!(
            j.pending_batches.iter().any(|p| p.items == vec![(idb, b)]),
            "the second batch is still pending"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
