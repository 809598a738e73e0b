//! Cryptographic building blocks: password KDF, key derivation, sealing of
//! small records, chunked AEAD streams and the X25519 key store. Owns every
//! use of a primitive; never knows about mailboxes or IMAP.

mod error;
pub mod kdf;
pub(crate) mod key_audit;
pub(crate) mod keystore;
pub(crate) mod seal;
pub(crate) mod secret;
pub(crate) mod stream;
#[cfg(test)]
pub(crate) mod test_util;

pub use error::CryptoError;
