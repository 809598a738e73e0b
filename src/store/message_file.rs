//! Immutable encrypted message files (in `mailboxes/ID/msg/XX/NAME` and, for
//! deliveries, `spool/NAME`). Owns their byte format and the atomic write
//! (staged in `tmp/`, fsynced, renamed, directory fsynced); never chooses
//! which key wraps the content and never touches a change log.
//!
//! Format, versions 2 and 3 (version 1 had no name after the header):
//!
//! ```text
//! "CRYLMSG\0"            8 bytes magic
//! u32 LE                 length H of the header that follows (≤ 64 KiB)
//! postcard(FileHeader)   format version, WrappedKey, optional sealed extra
//!                        data (delivery instructions)
//! [u8; 16]               (versions 2, 3) the file's MessageName
//! [u8]                   (version 3) the message's sealed summary, to the
//!                        end of the header (≤ MAX_IN_FILE_SUMMARY)
//! STREAM                 crypto::stream chunks of the content
//! ```
//!
//! Version 3 carries the summary in the file itself, so an APPEND creates
//! one inode instead of two (the file and `NAME.sum`). This module stores
//! those bytes opaque: `store::summary` seals them under the summary key
//! with the file's name in the associated data (so a summary moved into
//! another file's header fails authentication) and opens them. The stream
//! does not cover them; they need no cover, being authenticated on their
//! own. Version 2 is still written where no summary can be sealed (a
//! delivery is wrapped to a public key, without the master key) or where
//! the summary is too large for the header (it goes to `NAME.sum`).
//!
//! The file's random content key is never used directly: the stream key and
//! the key sealing the extra data are HKDF subkeys of it, so the two AEAD
//! constructions never share a key. In version 2 both subkeys' purposes
//! include the file's name, so the file authenticates only under the name
//! it was written for: a file moved or swapped to another name fails to
//! open ([`MessageFileError::Misplaced`] when the clear name in the header
//! disagrees, an authentication failure when that too was forged), never
//! serves another message's content. The name, not the mailbox, is bound
//! because COPY, MOVE and spool filing hard-link one file under the same
//! name into other directories; the authenticated change log says which
//! name each UID of a mailbox has (see `doc/cryptography.md`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use super::crash;
use super::types::MessageName;
use crate::crypto::keystore::WrappedKey;
use crate::crypto::secret::{MasterKey, SecretKey};
use crate::crypto::stream::{StreamReader, StreamWriter};
use crate::crypto::{seal, CryptoError};
use crate::sys::durable::{self, DirSyncs, FsError, NewFile, Unsynced};
use crate::sys::spare_file;

pub(crate) use crate::sys::durable::Durability;

const MAGIC: &[u8; 8] = b"CRYLMSG\0";
/// Unbound files written before version 2; still read (see
/// [`MessageName::requires_binding`] for where they are refused).
const VERSION_UNBOUND: u16 = 1;
const VERSION: u16 = 2;
/// Bound to its name like version 2, with the sealed summary after the name.
const VERSION_SUMMARY: u16 = 3;
const MAX_HEADER: u32 = 64 * 1024;
/// The largest sealed summary carried in a file's header (leaving room in
/// [`MAX_HEADER`] for the wrapped key and delivery instructions). Every
/// open of the file reads its header, so a larger summary goes to its own
/// file instead; summaries of ordinary mail take 1 to 4 KiB.
pub(crate) const MAX_IN_FILE_SUMMARY: usize = 32 * 1024;
/// Buffer between the encryptor and a new file: a message of up to this
/// size (with its header) is written with one system call.
const WRITE_BUFFER: usize = 64 * 1024;
/// The longest message file opened: the fixed start, the largest header,
/// the name, and the sealed stream of the largest message (every writer
/// passes at most [`MAX_MESSAGE_SIZE`](super::MAX_MESSAGE_SIZE)). The
/// user's directory may hold a link, a FIFO or a huge file under a
/// message's name: each is refused when opened, never read.
const MAX_FILE_LEN: u64 =
    12 + MAX_HEADER as u64 + 16 + crate::crypto::stream::sealed_len(super::MAX_MESSAGE_SIZE);
const EXTRA_AAD: &[u8] = b"crymap-like message extra v1";

/// Errors reading or writing a message file.
#[derive(Debug, Error)]
pub enum MessageFileError {
    /// The file system failed (the step and the path are in the error).
    #[error(transparent)]
    Io(#[from] FsError),
    /// The file is not a message file of a version we read.
    #[error("message file {path} is malformed: {reason}")]
    Malformed {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The file is not the one its name designates: it was written for
    /// another name (`found`; `None` for an unbound version-1 file where
    /// a bound file belongs). Swapped or moved files end here.
    #[error("message file {path} does not belong at this name: it was sealed for {}", .found.map_or_else(|| "no name (an old unbound file)".to_owned(), |n| n.to_string()))]
    Misplaced {
        /// Which file.
        path: PathBuf,
        /// The name the file was sealed for, if any.
        found: Option<MessageName>,
    },
    /// Decryption or authentication failed (tampering, truncation, wrong key).
    #[error("message file {path}: {source}")]
    Crypto {
        /// Which file.
        path: PathBuf,
        /// The cryptographic failure.
        source: CryptoError,
    },
    /// The message content could not be read from its source (the client
    /// or `deliver`'s standard input); nothing was written.
    #[error("reading the message content: {source}")]
    ReadContent {
        /// The error of the source.
        source: io::Error,
    },
    /// The content exceeds the size limit; nothing was written.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

#[derive(Serialize, Deserialize)]
struct FileHeader {
    version: u16,
    wrapped: WrappedKey,
    extra: Option<Vec<u8>>,
}

/// The stream and extra-data keys: for a bound file (`Some(name)`) their
/// purposes name the file, so the content authenticates under that name only.
fn subkeys(content_key: &SecretKey, bound_to: Option<&MessageName>) -> (SecretKey, SecretKey) {
    let base = MasterKey::from_secret(SecretKey::from_bytes(*content_key.as_bytes()));
    match bound_to {
        None => (
            base.subkey("message-file stream"),
            base.subkey("message-file extra"),
        ),
        Some(name) => (
            base.subkey(&format!("message-file stream v2 {name}")),
            base.subkey(&format!("message-file extra v2 {name}")),
        ),
    }
}

/// A fresh content key and its wrapped form.
#[derive(Clone, Copy)]
pub(crate) struct Keys<'a> {
    /// The wrapped key stored in the header.
    pub wrapped: &'a WrappedKey,
    /// The same key in the clear, to encrypt with.
    pub content_key: &'a SecretKey,
}

/// Writes a message file named `name` at `dest`, bound to `name` (version 2),
/// staging it in `tmp_dir`: content from
/// `content` (at most `limit` bytes, else [`MessageFileError::TooLarge`] and
/// nothing is left behind), encrypted under `content_key`, which `wrapped`
/// must wrap (both given as `keys`). `header` holds what rides in the
/// header besides the key (delivery instructions, a sealed summary).
/// `crash_point` names the crash-injection point between staging and
/// rename. Returns the content size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    tmp_dir: &Path,
    dest: &Path,
    name: MessageName,
    keys: Keys<'_>,
    content: &mut dyn Read,
    header: HeaderData<'_>,
    limit: u64,
    crash_point: &str,
    durability: Durability,
) -> Result<u64, MessageFileError> {
    write_as(
        tmp_dir,
        dest,
        Some(name),
        keys,
        content,
        header,
        limit,
        crash_point,
        durability,
    )
}

/// What a new file's header carries besides its wrapped key.
#[derive(Clone, Copy, Default)]
pub(crate) struct HeaderData<'a> {
    /// Extra data sealed under a subkey of the content key (a spool
    /// entry's delivery instructions).
    pub extra: Option<&'a [u8]>,
    /// The message's summary, already sealed by `store::summary` (at most
    /// [`MAX_IN_FILE_SUMMARY`] bytes): makes the file version 3.
    pub sealed_summary: Option<&'a [u8]>,
}

/// [`write`], placing the file by name first: renamed to `dest` while its
/// content is not yet durable ([`NewFile::place_unsynced`]), for a caller
/// that syncs the returned file and then `dirs` before any record refers
/// to `dest` (an APPEND: one sync round where [`write`] takes two).
/// Returns the content size and the file to sync.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_unsynced(
    tmp_dir: &Path,
    dest: &Path,
    name: MessageName,
    keys: Keys<'_>,
    content: &mut dyn Read,
    header: HeaderData<'_>,
    limit: u64,
    crash_point: &str,
    dirs: &mut DirSyncs,
) -> Result<(u64, Unsynced), MessageFileError> {
    // A session's next APPEND takes the staging file made ahead while it
    // waited for the client (`sys::spare_file`): its inode is allocated
    // off the command's path, once this one has left `tmp_dir`.
    let file = spare_file::take(tmp_dir)?;
    let (total, staged) = stage(file, dest, Some(name), keys, content, header, limit)?;
    crash::point(crash_point);
    let placed = staged.place_unsynced(dest, dirs)?;
    spare_file::prepare_next(tmp_dir);
    Ok((total, placed))
}

/// [`write`], or with `bound_to` `None` a version-1 file as older builds
/// wrote (tests of backward compatibility only).
#[allow(clippy::too_many_arguments)]
fn write_as(
    tmp_dir: &Path,
    dest: &Path,
    bound_to: Option<MessageName>,
    keys: Keys<'_>,
    content: &mut dyn Read,
    header: HeaderData<'_>,
    limit: u64,
    crash_point: &str,
    durability: Durability,
) -> Result<u64, MessageFileError> {
    let (total, staged) = stage(
        NewFile::create(tmp_dir)?,
        dest,
        bound_to,
        keys,
        content,
        header,
        limit,
    )?;
    crash::point(crash_point);
    staged.place(dest, durability)?;
    Ok(total)
}

/// Writes the whole file (for `dest`) into `staged`, a new file under a
/// staging name; returns the content size and the staged file, not yet
/// synced or placed. Dropped on any error, the staging file is removed:
/// nothing is left behind.
fn stage(
    mut staged: NewFile,
    dest: &Path,
    bound_to: Option<MessageName>,
    keys: Keys<'_>,
    content: &mut dyn Read,
    data: HeaderData<'_>,
    limit: u64,
) -> Result<(u64, NewFile), MessageFileError> {
    let (stream_key, extra_key) = subkeys(keys.content_key, bound_to.as_ref());
    let summary = match (bound_to, data.sealed_summary) {
        (Some(_), Some(s)) if s.len() <= MAX_IN_FILE_SUMMARY => Some(s),
        (_, None) => None,
        // Callers check the bound first; an unbound file has no name to
        // bind a summary to.
        _ => {
            return Err(MessageFileError::Malformed {
                path: dest.to_path_buf(),
                reason: "summary not allowed in this header",
            })
        }
    };
    let header = FileHeader {
        version: match (bound_to, summary) {
            (None, _) => VERSION_UNBOUND,
            (Some(_), None) => VERSION,
            (Some(_), Some(_)) => VERSION_SUMMARY,
        },
        wrapped: keys.wrapped.clone(),
        extra: data.extra.map(|e| seal::seal(&extra_key, EXTRA_AAD, e)),
    };
    let io_err = |op, path: &Path| {
        let at = FsError::at(op, path);
        move |source| MessageFileError::Io(at(source))
    };
    let mut header = postcard::to_stdvec(&header).map_err(|_| MessageFileError::Malformed {
        path: dest.to_path_buf(),
        reason: "header does not serialise",
    })?;
    if let Some(name) = bound_to {
        header.extend_from_slice(&name.bytes());
    }
    if let Some(summary) = summary {
        header.extend_from_slice(summary);
    }
    let header_len = u32::try_from(header.len())
        .ok()
        .filter(|l| *l <= MAX_HEADER)
        .ok_or(MessageFileError::Malformed {
            path: dest.to_path_buf(),
            reason: "header too large",
        })?;
    let tmp = staged.path().to_path_buf();
    let total = {
        // One buffer for the header and the sealed content: a message of
        // up to 64 KiB reaches the file in one write.
        let mut out = io::BufWriter::with_capacity(WRITE_BUFFER, staged.file());
        out.write_all(MAGIC)
            .and_then(|_| out.write_all(&header_len.to_le_bytes()))
            .and_then(|_| out.write_all(&header))
            .map_err(io_err("writing", &tmp))?;
        let mut w = StreamWriter::new(&stream_key, out);
        let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
        let mut total = 0u64;
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(MessageFileError::ReadContent { source }),
            };
            total += n as u64;
            if total > limit {
                return Err(MessageFileError::TooLarge { limit });
            }
            w.write_all(buf.get(..n).unwrap_or_default())
                .map_err(io_err("writing", &tmp))?;
        }
        w.finish()
            .and_then(|mut b| b.flush())
            .map_err(io_err("writing", &tmp))?;
        total
    };
    Ok((total, staged))
}

/// A message file whose header has been read but whose key is not yet
/// unwrapped.
pub(crate) struct SealedMessage {
    path: PathBuf,
    file: File,
    header: FileHeader,
    /// The name a version-2 or 3 file is bound to (checked equal to the
    /// expected one); `None` for an accepted version-1 file.
    bound_to: Option<MessageName>,
    /// A version-3 file's sealed summary (not yet authenticated).
    sealed_summary: Option<Vec<u8>>,
}

impl SealedMessage {
    /// Opens `path`, the file of the message named `name` (as the
    /// authenticated log or the spool says), and parses its header. A file
    /// sealed for another name, or an unbound version-1 file where `name`
    /// requires a bound one, is [`MessageFileError::Misplaced`].
    pub(crate) fn open(path: &Path, name: MessageName) -> Result<SealedMessage, MessageFileError> {
        let mal = |reason| MessageFileError::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        let mut file =
            durable::open_bounded(path, MAX_FILE_LEN).map_err(FsError::at("opening", path))?;
        let mut fixed = [0u8; 12];
        file.read_exact(&mut fixed)
            .map_err(|_| mal("shorter than its header"))?;
        let (magic, len) = fixed.split_at(8);
        if magic != MAGIC {
            return Err(mal("bad magic"));
        }
        let len = u32::from_le_bytes(len.try_into().map_err(|_| mal("bad header length"))?);
        if len > MAX_HEADER {
            return Err(mal("header too large"));
        }
        let mut header = vec![0u8; len as usize];
        file.read_exact(&mut header)
            .map_err(|_| mal("header truncated"))?;
        let (header, rest): (FileHeader, &[u8]) =
            postcard::take_from_bytes(&header).map_err(|_| mal("header does not parse"))?;
        let mut sealed_summary = None;
        let bound_to = match header.version {
            VERSION | VERSION_SUMMARY => {
                let (bytes, summary) =
                    rest.split_at_checked(16).ok_or(mal("bad name in header"))?;
                match (header.version, summary.is_empty()) {
                    (VERSION, true) => {}
                    (VERSION_SUMMARY, false) => sealed_summary = Some(summary.to_vec()),
                    _ => return Err(mal("bad name in header")),
                }
                let bytes: [u8; 16] = bytes.try_into().map_err(|_| mal("bad name in header"))?;
                let found = MessageName::from_bytes(bytes);
                if found != name {
                    return Err(MessageFileError::Misplaced {
                        path: path.to_path_buf(),
                        found: Some(found),
                    });
                }
                Some(found)
            }
            VERSION_UNBOUND if rest.is_empty() => {
                if name.requires_binding() {
                    return Err(MessageFileError::Misplaced {
                        path: path.to_path_buf(),
                        found: None,
                    });
                }
                None
            }
            VERSION_UNBOUND => return Err(mal("trailing bytes in header")),
            _ => return Err(mal("unknown format version")),
        };
        Ok(SealedMessage {
            path: path.to_path_buf(),
            file,
            header,
            bound_to,
            sealed_summary,
        })
    }

    /// The summary sealed into a version-3 file's header, still sealed
    /// (`store::summary` opens it under the name the file was opened for).
    pub(crate) fn sealed_summary(&self) -> Option<&[u8]> {
        self.sealed_summary.as_deref()
    }

    /// The wrapped content key, for the key store to unwrap.
    pub(crate) fn wrapped_key(&self) -> &WrappedKey {
        &self.header.wrapped
    }

    /// Decrypts with the unwrapped content key.
    pub(crate) fn decrypt(
        self,
        content_key: &SecretKey,
    ) -> Result<MessageReader, MessageFileError> {
        let (stream_key, extra_key) = subkeys(content_key, self.bound_to.as_ref());
        let crypto = |source| MessageFileError::Crypto {
            path: self.path.clone(),
            source,
        };
        let extra = match &self.header.extra {
            Some(sealed) => Some(seal::open(&extra_key, EXTRA_AAD, sealed).map_err(crypto)?),
            None => None,
        };
        let stream = StreamReader::new(&stream_key, self.file).map_err(crypto)?;
        Ok(MessageReader {
            path: self.path,
            stream,
            extra,
        })
    }
}

/// Decrypted access to one message file.
pub struct MessageReader {
    path: PathBuf,
    stream: StreamReader<File>,
    extra: Option<Zeroizing<Vec<u8>>>,
}

impl MessageReader {
    /// Size of the content in bytes (authenticated).
    pub fn size(&self) -> u64 {
        self.stream.len()
    }

    /// Content bytes `offset..offset+len`, clamped to the end; decrypts only
    /// the chunks overlapping that range.
    pub fn read_range(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, MessageFileError> {
        self.stream
            .read_range(offset, len)
            .map_err(|source| MessageFileError::Crypto {
                path: self.path.clone(),
                source,
            })
    }

    /// The whole content.
    pub fn read_all(&mut self) -> Result<Vec<u8>, MessageFileError> {
        self.read_range(0, self.size())
    }

    /// The extra data sealed beside the content (delivery instructions).
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref().map(|v| v.as_slice())
    }

    /// A `Read` over the whole content from the start.
    pub fn reader(&mut self) -> Result<impl Read + '_, MessageFileError> {
        self.stream
            .seek(SeekFrom::Start(0))
            .map_err(FsError::at("seeking", &self.path))?;
        Ok(&mut self.stream)
    }
}

/// Rewrites the header of the bound file at `path` to carry `summary`
/// (sealed bytes; `None` makes it a version-2 file without one), leaving
/// the content as it is: what an older build wrote, or a summary moved
/// from another file, for tests of the readers.
#[cfg(test)]
pub(crate) fn rewrite_summary(path: &Path, summary: Option<&[u8]>) {
    let bytes = std::fs::read(path).unwrap();
    let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let (mut header, rest): (FileHeader, &[u8]) =
        postcard::take_from_bytes(&bytes[12..12 + len]).unwrap();
    header.version = if summary.is_some() {
        VERSION_SUMMARY
    } else {
        VERSION
    };
    let mut new = postcard::to_stdvec(&header).unwrap();
    new.extend_from_slice(&rest[..16]);
    new.extend_from_slice(summary.unwrap_or_default());
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(new.len() as u32).to_le_bytes());
    out.extend_from_slice(&new);
    out.extend_from_slice(&bytes[12 + len..]);
    std::fs::write(path, out).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keystore::wrap_under_master;
    use crate::crypto::test_util::TempDir;

    fn setup() -> (TempDir, MasterKey, SecretKey, WrappedKey) {
        let d = TempDir::new("msgfile");
        std::fs::create_dir(d.path().join("tmp")).unwrap();
        let master = MasterKey::generate();
        let ck = SecretKey::generate();
        let w = wrap_under_master(&master, &ck);
        (d, master, ck, w)
    }

    /// The name every test file is written for unless it says otherwise.
    fn name() -> MessageName {
        MessageName::parse("00112233445566778899aabbccddeeff").unwrap()
    }

    /// Writes `content` as a durable message file at `dest`, bound to
    /// [`name`].
    fn write_to(
        d: &TempDir,
        dest: &Path,
        keys: (&WrappedKey, &SecretKey),
        content: &[u8],
        extra: Option<&[u8]>,
        limit: u64,
    ) -> Result<u64, MessageFileError> {
        write_named(d, dest, Some(name()), keys, content, extra, limit)
    }

    fn write_named(
        d: &TempDir,
        dest: &Path,
        bound_to: Option<MessageName>,
        (wrapped, content_key): (&WrappedKey, &SecretKey),
        mut content: &[u8],
        extra: Option<&[u8]>,
        limit: u64,
    ) -> Result<u64, MessageFileError> {
        let keys = Keys {
            wrapped,
            content_key,
        };
        let tmp = d.path().join("tmp");
        write_as(
            &tmp,
            dest,
            bound_to,
            keys,
            &mut content,
            HeaderData {
                extra,
                sealed_summary: None,
            },
            limit,
            "",
            Durability::Now,
        )
    }

    #[test]
    fn round_trip_with_ranges_and_extra() {
        let (d, _m, ck, w) = setup();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let dest = d.path().join("msg/ab/x");
        let n = write_to(&d, &dest, (&w, &ck), &body, Some(b"extra"), 1 << 20).unwrap();
        assert_eq!(n, body.len() as u64);
        assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
        let s = SealedMessage::open(&dest, name()).unwrap();
        assert_eq!(s.wrapped_key(), &w);
        let mut r = s.decrypt(&ck).unwrap();
        assert_eq!(r.size(), body.len() as u64);
        assert_eq!(r.extra(), Some(&b"extra"[..]));
        assert_eq!(r.read_range(70_000, 100).unwrap(), body[70_000..70_100]);
        assert_eq!(r.read_all().unwrap(), body);
        let mut all = Vec::new();
        r.reader().unwrap().read_to_end(&mut all).unwrap();
        assert_eq!(all, body);
    }

    #[test]
    fn oversize_refused_and_nothing_left() {
        let (d, _m, ck, w) = setup();
        let dest = d.path().join("m");
        let body = vec![b'a'; 5000];
        let e = write_to(&d, &dest, (&w, &ck), &body, None, 4096).unwrap_err();
        assert!(matches!(e, MessageFileError::TooLarge { limit: 4096 }));
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn tampering_and_garbage_are_typed_errors() {
        let (d, _m, ck, w) = setup();
        let dest = d.path().join("m");
        write_to(&d, &dest, (&w, &ck), b"hello world", None, 100).unwrap();
        let mut bytes = std::fs::read(&dest).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        std::fs::write(&dest, &bytes).unwrap();
        let e = SealedMessage::open(&dest, name())
            .unwrap()
            .decrypt(&ck)
            .err()
            .unwrap();
        assert!(matches!(e, MessageFileError::Crypto { .. }));
        std::fs::write(&dest, b"not a message").unwrap();
        assert!(matches!(
            SealedMessage::open(&dest, name()),
            Err(MessageFileError::Malformed { .. })
        ));
        let wrong = SecretKey::generate();
        write_to(&d, &dest, (&w, &ck), b"x", None, 100).unwrap();
        let e = SealedMessage::open(&dest, name())
            .unwrap()
            .decrypt(&wrong)
            .err()
            .unwrap();
        assert!(matches!(e, MessageFileError::Crypto { .. }));
    }

    /// A message file replaced by a FIFO, a link (to /dev/zero, to another
    /// user's file) or a file longer than any message's (sparse): refused
    /// when opened, at once. Before, a FIFO hung the session's FETCH (and
    /// SEARCH, and the spool's filing) for good. A genuine file of the
    /// largest size opens.
    #[test]
    fn hostile_message_file_is_refused_when_opened() {
        use crate::crypto::test_util::{finishes, Hostile};
        let (d, _m, ck, w) = setup();
        let dest = d.path().join("m");
        for what in Hostile::all(MAX_FILE_LEN) {
            what.plant(&dest);
            let p = dest.clone();
            let r = finishes("opening a message", move || {
                SealedMessage::open(&p, name()).map(|_| ())
            });
            match r {
                Err(MessageFileError::Io(e)) => assert_eq!(e.op, "opening", "{what:?}"),
                other => panic!("{what:?}: {other:?}"),
            }
        }
        std::fs::remove_file(&dest).unwrap();
        let body = b"genuine";
        write_to(&d, &dest, (&w, &ck), body, None, 100).unwrap();
        let mut r = SealedMessage::open(&dest, name())
            .unwrap()
            .decrypt(&ck)
            .unwrap();
        assert_eq!(r.read_all().unwrap(), body);
    }

    #[test]
    fn bound_file_opens_only_under_its_name() {
        let (d, _m, ck, w) = setup();
        let a = MessageName::random();
        let b = MessageName::random();
        assert!(a.requires_binding() && b.requires_binding());
        let pa = d.path().join("a");
        let pb = d.path().join("b");
        write_named(&d, &pa, Some(a), (&w, &ck), b"message A", None, 100).unwrap();
        write_named(&d, &pb, Some(b), (&w, &ck), b"message B", None, 100).unwrap();
        let read = |p: &Path, n| -> Result<Vec<u8>, MessageFileError> {
            SealedMessage::open(p, n)?.decrypt(&ck)?.read_all()
        };
        assert_eq!(read(&pa, a).unwrap(), b"message A");
        // Swapped: the header names the other file.
        assert!(matches!(
            read(&pa, b),
            Err(MessageFileError::Misplaced { found: Some(f), .. }) if f == a
        ));
        // The clear name forged too: authentication fails, no content.
        let mut bytes = std::fs::read(&pa).unwrap();
        let at = bytes.windows(16).position(|x| x == a.bytes()).unwrap();
        bytes[at..at + 16].copy_from_slice(&b.bytes());
        std::fs::write(&pa, &bytes).unwrap();
        assert!(matches!(read(&pa, b), Err(MessageFileError::Crypto { .. })));
        // Downgraded to version 1 (header version byte, name dropped): the
        // unbound keys differ, so it fails too, and the bound name refuses
        // an unbound file anyway.
        let mut bytes = std::fs::read(&pb).unwrap();
        assert_eq!(bytes[12], 2);
        bytes[12] = 1;
        std::fs::write(&pb, &bytes).unwrap();
        assert!(read(&pb, b).is_err());
    }

    #[test]
    fn unbound_version_1_files_still_open_where_allowed() {
        let (d, _m, ck, w) = setup();
        let old = MessageName::random_unbound();
        assert!(!old.requires_binding());
        let p = d.path().join("old");
        write_named(&d, &p, None, (&w, &ck), b"old message", Some(b"x"), 100).unwrap();
        let mut r = SealedMessage::open(&p, old).unwrap().decrypt(&ck).unwrap();
        assert_eq!(r.read_all().unwrap(), b"old message");
        assert_eq!(r.extra(), Some(&b"x"[..]));
        // But never where a bound file belongs.
        assert!(matches!(
            SealedMessage::open(&p, MessageName::random()),
            Err(MessageFileError::Misplaced { found: None, .. })
        ));
    }
}
