//! The parsed summary of a message (ENVELOPE, BODYSTRUCTURE, part offsets,
//! search headers), computed once when the message enters a mailbox and
//! stored sealed in the message file's own header (format 3, written by
//! APPEND) or beside it as `msg/XX/NAME.sum` (delivered messages, older
//! files, summaries too large for a header, recomputed ones). Owns the
//! sealing of both and the single call into the MIME parser; never
//! interprets the summary (the IMAP layer deserialises it).

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::Zeroizing;

use super::types::MessageName;
use crate::crypto::seal;
use crate::crypto::secret::SecretKey;
use crate::mime::summary::Summary;
use crate::sys::durable::{self, Durability, FsError, NewFile};

/// Errors reading or writing a summary file.
#[derive(Debug, Error)]
pub enum SummaryError {
    /// The file system failed (the step and the path are in the error).
    #[error(transparent)]
    Io(#[from] FsError),
    /// The summary failed authentication (tampered or misplaced).
    #[error("summary {path} failed authentication")]
    Corrupt {
        /// Which file.
        path: PathBuf,
    },
}

/// Computes the serialised summary of a raw message. The ONLY place the
/// store calls the MIME parser.
pub(crate) fn compute(raw: &[u8]) -> Vec<u8> {
    encode(&summarize(raw))
}

/// Parses a raw message into its summary (never fails: malformed mail
/// degrades to opaque parts).
pub(crate) fn summarize(raw: &[u8]) -> Summary {
    crate::mime::summary::summarize(raw)
}

/// The first bytes of a stored summary of the current format (2: with the
/// SORT/THREAD fields). Format 1 had no marker and always starts with a
/// zero byte (the root part's header offset), so the two never collide;
/// any other start is an older format and is recomputed.
const FORMAT_MAGIC: &[u8] = b"CLS2";

/// The stored form of a summary: [`FORMAT_MAGIC`], then postcard.
fn encode(s: &Summary) -> Vec<u8> {
    // Serialising plain data into a Vec cannot fail; an empty blob would
    // only make readers recompute.
    match postcard::to_stdvec(s) {
        Ok(body) => [FORMAT_MAGIC, &body].concat(),
        Err(_) => Vec::new(),
    }
}

/// Decodes a stored summary; `None` if it is from an older format (the
/// caller then recomputes it from the content and stores it again).
pub(crate) fn decode(blob: &[u8]) -> Option<Summary> {
    postcard::from_bytes(blob.strip_prefix(FORMAT_MAGIC)?).ok()
}

/// The stored form of an already computed summary (for rewriting one
/// recomputed from an older format).
pub(crate) fn encode_summary(s: &Summary) -> Vec<u8> {
    encode(s)
}

fn aad(name: &MessageName) -> Vec<u8> {
    format!("crymap-like summary {name} v1").into_bytes()
}

/// The summary file path beside message file `msg_path`.
pub(crate) fn path_for(msg_path: &Path) -> PathBuf {
    let mut p = msg_path.as_os_str().to_owned();
    p.push(".sum");
    PathBuf::from(p)
}

/// The largest sealed summary read or written: four times the largest
/// message (a summary copies header fields and adds a few bytes per MIME
/// part and address, so no genuine one comes near). A summary file in the
/// user's directory that is larger, a link or a FIFO is never read past
/// this bound: it is recomputed from the message like a tampered one, and
/// a computed summary larger than this is not stored (recomputed on use).
pub(crate) const MAX_SEALED: u64 = 4 * super::MAX_MESSAGE_SIZE;

/// Seals `summary` for the message named `name`: the same sealed form goes
/// into a format-3 file's header or into `NAME.sum`. The associated data
/// names the file, so a sealed summary moved to another file (its header
/// or its `.sum`) fails to open; only the same name (the same immutable
/// content, hard-linked by COPY) accepts it.
pub(crate) fn seal(key: &SecretKey, name: &MessageName, summary: &[u8]) -> Vec<u8> {
    seal::seal(key, &aad(name), summary)
}

/// Opens a summary sealed by [`seal`] (read from a file's header) for the
/// message named `name`; `None` when it fails authentication.
pub(crate) fn open(
    key: &SecretKey,
    name: &MessageName,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    seal::open(key, &aad(name), sealed).ok()
}

/// Seals `summary` for message `name` and renames it into place at `dest`
/// (not synced: it can always be recomputed).
pub(crate) fn write(
    tmp_dir: &Path,
    dest: &Path,
    key: &SecretKey,
    name: &MessageName,
    summary: &[u8],
) -> Result<(), SummaryError> {
    write_sealed(tmp_dir, dest, &seal(key, name, summary))
}

/// Renames an already sealed summary into place at `dest` (not synced).
pub(crate) fn write_sealed(tmp_dir: &Path, dest: &Path, sealed: &[u8]) -> Result<(), SummaryError> {
    if sealed.len() as u64 > MAX_SEALED {
        return Ok(());
    }
    let mut staged = NewFile::create(tmp_dir)?;
    staged.write_all(sealed)?;
    // No fsync: a summary lost or torn by a crash is recomputed from the
    // message (see `Mailbox::summary`), so it needs no durability of its own.
    Ok(staged.place(dest, Durability::Deferred)?)
}

/// Reads and opens the summary at `path`; `Ok(None)` if there is none.
pub(crate) fn read(
    path: &Path,
    key: &SecretKey,
    name: &MessageName,
) -> Result<Option<Zeroizing<Vec<u8>>>, SummaryError> {
    let sealed = match durable::read_bounded(path, MAX_SEALED) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::at("reading", path)(e).into()),
    };
    seal::open(key, &aad(name), &sealed)
        .map(Some)
        .map_err(|_| SummaryError::Corrupt {
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::{finishes, Hostile, TempDir};

    /// A summary replaced by a FIFO, a link (to /dev/zero, to another
    /// user's file) or a file past [`MAX_SEALED`]: an error at once, which
    /// the mailbox answers by recomputing the summary from the message
    /// (`Mailbox::summary`). Before, a FIFO hung the session and
    /// /dev/zero exhausted its memory.
    #[test]
    fn hostile_summary_is_an_error_not_a_wait() {
        let d = TempDir::new("summary");
        std::fs::create_dir(d.path().join("tmp")).unwrap();
        let key = SecretKey::generate();
        let name = MessageName::random();
        let path = d.path().join("m.sum");
        let blob = compute(b"Subject: hi\r\n\r\nbody\r\n");
        write(&d.path().join("tmp"), &path, &key, &name, &blob).unwrap();
        let back = read(&path, &key, &name).unwrap().unwrap();
        assert_eq!(back.as_slice(), blob.as_slice());
        for what in Hostile::all(MAX_SEALED) {
            what.plant(&path);
            let (p, k) = (path.clone(), key.clone());
            let r = finishes("reading a summary", move || read(&p, &k, &name).map(|_| ()));
            assert!(matches!(r, Err(SummaryError::Io(_))), "{what:?}: {r:?}");
        }
    }
}
