//! The error type of the store. Every variant carries enough context (path,
//! offset, name) to act on; none carries secrets. Other store modules add
//! their own variants here.

use std::io;
use std::path::PathBuf;

use crate::crypto::CryptoError;
use crate::sys::durable::FsError;

use super::account::MailboxNameError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The account log does not verify (it is behind its high-water mark):
    /// it is read-only, and nothing is removed on its word.
    #[error("the account is read-only: {reason}")]
    AccountReadOnly {
        /// What is wrong, as the user is told.
        reason: String,
    },
    /// The password does not open `user.toml`.
    #[error("wrong password")]
    WrongPassword,
    /// `user.toml` cannot be understood (as opposed to a wrong password).
    #[error("malformed user file {}: {reason}", path.display())]
    MalformedUserFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file was written by a newer or unknown format version.
    #[error("unsupported format version {version} in {}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// A sealed record in the middle of a log fails authentication or
    /// framing. Its length framing is intact when `next` is `Some`, so a
    /// caller may skip it with `RecordLog::skip_corrupt`.
    #[error("corrupt record at offset {offset} in {}", path.display())]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Offset of the record's length prefix.
        offset: u64,
        /// Offset just past the record, if its framing is intact.
        next: Option<u64>,
    },
    /// A record authenticated but does not decode: a format mismatch, not
    /// tampering.
    #[error("undecodable record at offset {offset} in {}: {reason}", path.display())]
    Decode {
        /// The log file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// The decoder's complaint.
        reason: String,
    },
    /// A record too large to frame or to accept.
    #[error("record of {len} bytes exceeds the limit of {max}")]
    RecordTooLarge {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The account directory already exists and is not empty.
    #[error("refusing to create an account in non-empty directory {}", path.display())]
    DirectoryNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A mailbox name breaks a naming rule.
    #[error("invalid mailbox name {name:?}: {rule}")]
    InvalidMailboxName {
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        rule: MailboxNameError,
    },
    /// CREATE or RENAME onto a name that exists.
    #[error("mailbox {name:?} already exists")]
    MailboxExists {
        /// The name.
        name: String,
    },
    /// The mailbox does not exist.
    #[error("no such mailbox {name:?}")]
    NoSuchMailbox {
        /// The name.
        name: String,
    },
    /// INBOX cannot be deleted.
    #[error("INBOX cannot be deleted")]
    CannotDeleteInbox,
    /// RENAME of a mailbox into its own subtree.
    #[error("cannot rename {from:?} into its own subtree {to:?}")]
    RenameIntoSelf {
        /// The source.
        from: String,
        /// The destination.
        to: String,
    },
    /// A cryptographic failure.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl From<FsError> for StoreError {
    fn from(e: FsError) -> Self {
        StoreError::Io {
            context: format!("{} {}", e.op, e.path.display()),
            source: e.source,
        }
    }
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
