//! The encrypted on-disk store of one user: account file, keys, account log,
//! mailboxes, change logs, message files and the delivery spool. Never knows
//! IMAP syntax.

pub mod account;
pub mod change_log;
pub mod crash;
pub mod create;
pub mod credentials;
pub mod error;
pub mod fsutil;
pub mod mailbox;
pub mod message_file;
pub mod record_log;
pub mod spool;
pub mod state;
pub mod summary;
pub mod types;
pub mod user_file;

/// The unit a message file is decrypted in: reading any byte decrypts the
/// whole chunk around it, so byte ranges closer than this are cheaper read
/// together than apart.
pub const READ_GRANULARITY: u64 = crate::crypto::stream::CHUNK_SIZE as u64;

pub use error::StoreError;
