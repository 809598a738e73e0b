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

/// The largest sealed summary stored or read for any message: 16 MiB.
/// What a summary can really reach is no fixed fraction of its message:
/// it copies header fields several times over (From stands in for Sender
/// and Reply-To, every address list is kept parsed and as display text
/// for SEARCH and SORT) and adds a record per address and per part, so a
/// header of empty addresses (`<>,` repeated) gives a summary 28 times
/// the message's size, a 64 MiB message one near 1.8 GiB (measured,
/// `doc/store.md`, "Summaries"). No such summary is worth storing: a
/// summary over its bound is not stored, and is recomputed on each use.
pub(crate) const MAX_SEALED: u64 = 16 * 1024 * 1024;

/// The largest sealed summary stored or read for a message of `size`
/// bytes: 64 KiB plus four times its size (the summary of ordinary mail
/// is a fraction of it: 1 to 4 KiB for a 17 KB message; a multipart
/// message of a thousand empty parts, four times), at most [`MAX_SEALED`].
/// A summary file in the user's directory that is larger, a link or a
/// FIFO is never read past this bound: it is recomputed from the message
/// like a tampered one. Readers take `size` from the authenticated log.
pub(crate) fn max_sealed(size: u64) -> u64 {
    size.saturating_mul(4)
        .saturating_add(64 * 1024)
        .min(MAX_SEALED)
}

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

/// Seals `summary` for message `name` (of `size` bytes) and renames it
/// into place at `dest` (not synced: it can always be recomputed).
pub(crate) fn write(
    tmp_dir: &Path,
    dest: &Path,
    key: &SecretKey,
    name: &MessageName,
    size: u64,
    summary: &[u8],
) -> Result<(), SummaryError> {
    write_sealed(tmp_dir, dest, size, &seal(key, name, summary))
}

/// Renames an already sealed summary of a message of `size` bytes into
/// place at `dest` (not synced); one past [`max_sealed`] is not stored.
pub(crate) fn write_sealed(
    tmp_dir: &Path,
    dest: &Path,
    size: u64,
    sealed: &[u8],
) -> Result<(), SummaryError> {
    if sealed.len() as u64 > max_sealed(size) {
        return Ok(());
    }
    let mut staged = NewFile::create(tmp_dir)?;
    staged.write_all(sealed)?;
    // No fsync: a summary lost or torn by a crash is recomputed from the
    // message (see `Mailbox::summary`), so it needs no durability of its own.
    Ok(staged.place(dest, Durability::Deferred)?)
}

/// Reads and opens the summary at `path` of the message `name` of `size`
/// bytes; `Ok(None)` if there is none.
pub(crate) fn read(
    path: &Path,
    key: &SecretKey,
    name: &MessageName,
    size: u64,
) -> Result<Option<Zeroizing<Vec<u8>>>, SummaryError> {
    let sealed = match durable::read_bounded(path, max_sealed(size)) {
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
        let raw = b"Subject: hi\r\n\r\nbody\r\n";
        let size = raw.len() as u64;
        let blob = compute(raw);
        write(&d.path().join("tmp"), &path, &key, &name, size, &blob).unwrap();
        let back = read(&path, &key, &name, size).unwrap().unwrap();
        assert_eq!(back.as_slice(), blob.as_slice());
        for size in [size, 1 << 30] {
            for what in Hostile::all(max_sealed(size)) {
                what.plant(&path);
                let (p, k) = (path.clone(), key.clone());
                let r = finishes("reading a summary", move || {
                    read(&p, &k, &name, size).map(|_| ())
                });
                assert!(matches!(r, Err(SummaryError::Io(_))), "{what:?}: {r:?}");
            }
        }
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    /// The bound follows the message's size, up to [`MAX_SEALED`]; a
    /// summary past it is not stored (readers recompute it), while the
    /// summary of ordinary mail, of a thousand empty parts, and of the
    /// largest header fields of ordinary addresses fit.
    #[test]
    fn summaries_fit_their_bound_and_larger_ones_are_not_stored() {
        assert_eq!(max_sealed(0), 64 * 1024);
        assert_eq!(max_sealed(1000), 4000 + 64 * 1024);
        assert_eq!(max_sealed(super::super::MAX_MESSAGE_SIZE), MAX_SEALED);
        let mut parts =
            String::from("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
        for _ in 0..999 {
            parts.push_str("--b\r\n\r\n");
        }
        parts.push_str("--b--\r\n");
        let addresses = format!(
            "From: {a}\r\nTo: {a}\r\nCc: {a}\r\n\r\nx\r\n",
            a = "Some One <some.one@example.org>, ".repeat(1800)
        );
        let key = SecretKey::generate();
        let name = MessageName::random();
        for raw in [
            &b"Subject: hi\r\n\r\nbody\r\n"[..],
            parts.as_bytes(),
            addresses.as_bytes(),
        ] {
            let sealed = seal(&key, &name, &compute(raw));
            assert!(
                sealed.len() as u64 <= max_sealed(raw.len() as u64),
                "{}",
                sealed.len()
            );
        }
        // Empty addresses: 28 times the message. Not stored.
        let bomb = format!(
            "From: {a}\r\nTo: {a}\r\n\r\nx\r\n",
            a = "<>,".repeat(20_000)
        );
        let sealed = seal(&key, &name, &compute(bomb.as_bytes()));
        assert!(sealed.len() as u64 > max_sealed(bomb.len() as u64));
        let d = crate::crypto::test_util::TempDir::new("summary-bound");
        std::fs::create_dir(d.path().join("tmp")).unwrap();
        let dest = d.path().join("m.sum");
        write_sealed(&d.path().join("tmp"), &dest, bomb.len() as u64, &sealed).unwrap();
        assert!(!dest.exists());
    }
}
