//! The error type shared by every cryptographic operation. Messages never
//! contain key material or plaintext.

use std::io;
use std::path::PathBuf;

/// Why a cryptographic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// AEAD verification failed: wrong key, wrong associated data, or the
    /// bytes were modified.
    #[error("authentication of {what} failed (wrong key or tampered data)")]
    Authentication {
        /// What was being opened.
        what: &'static str,
    },
    /// The data ends before its structure says it should.
    #[error("{what} is truncated")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// The data is structurally invalid.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The violated expectation.
        reason: String,
    },
    /// Argon2 parameters below the accepted minimum without `allow_weak`.
    #[error("KDF parameters too weak: {reason} (allow_weak is meant for tests only)")]
    WeakKdfParams {
        /// Which parameter is too small.
        reason: String,
    },
    /// Argon2 parameters outside what this build accepts at all.
    #[error("KDF parameters out of range: {reason}")]
    InvalidKdfParams {
        /// Which parameter is out of range.
        reason: String,
    },
    /// Argon2 itself reported an error.
    #[error("Argon2 failed: {0}")]
    Argon2(String),
    /// A key pair name is not usable as a file name.
    #[error("invalid key name {name:?}: {reason}")]
    InvalidKeyName {
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The strftime pattern for key names cannot be formatted.
    #[error("invalid key name pattern {pattern:?}")]
    InvalidKeyPattern {
        /// The rejected pattern.
        pattern: String,
    },
    /// The key pair a wrapped key refers to does not exist.
    #[error("key pair {name} not found")]
    KeyNotFound {
        /// The missing key pair.
        name: String,
    },
    /// The key directory holds no key pair at all.
    #[error("no key pair exists in {}", dir.display())]
    NoKeyPair {
        /// The key directory.
        dir: PathBuf,
    },
    /// An X25519 public key of low order (possibly planted) was refused.
    #[error("public key {name} is not contributory")]
    WeakPublicKey {
        /// The refused key pair.
        name: String,
    },
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

impl From<crate::sys::durable::FsError> for CryptoError {
    fn from(e: crate::sys::durable::FsError) -> Self {
        CryptoError::io(format!("{} {}", e.op, e.path.display()), e.source)
    }
}

impl CryptoError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        CryptoError::Io {
            context: context.into(),
            source,
        }
    }
}
