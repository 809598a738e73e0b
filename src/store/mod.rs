//! The encrypted on-disk store of one user: account file, keys, account log,
//! mailboxes, change logs, message files and the delivery spool. Never knows
//! IMAP syntax.

pub mod account;
pub mod change_log;
pub(crate) mod check;
pub mod crash;
pub mod create;
pub(crate) mod credentials;
pub mod delivery;
pub mod error;
pub mod fts;
pub mod mailbox;
pub mod marks;
pub(crate) mod message_file;
pub(crate) mod record_log;
pub(crate) mod sort_keys;
pub mod spool;
pub(crate) mod state;
pub(crate) mod summary;
#[cfg(test)]
pub(crate) mod test_fixture;
pub mod types;
pub mod user_file;

/// The unit a message file is decrypted in: reading any byte decrypts the
/// whole chunk around it, so byte ranges closer than this are cheaper read
/// together than apart.
pub const READ_GRANULARITY: u64 = crate::crypto::stream::CHUNK_SIZE as u64;

pub use error::StoreError;

/// Largest message the store accepts (APPEND and delivery): the design's
/// 64 MiB. The store owns this bound; `config::MAX_MESSAGE_SIZE` must equal
/// it (config is a leaf and does not import it; a test in `cli::serve`
/// asserts they agree), and `limits.max_message_size` may only lower it.
pub const MAX_MESSAGE_SIZE: u64 = 64 * 1024 * 1024;
