//! The encrypted on-disk store of one user: account file, keys, account log,
//! mailboxes, change logs, message files and the delivery spool. Never knows
//! IMAP syntax.

pub mod account;
pub mod change_log;
pub mod crash;
pub mod create;
pub mod error;
pub mod mailbox;
pub mod message_file;
pub mod record_log;
pub mod spool;
pub mod state;
pub mod summary;
pub mod types;
pub mod user_file;

pub use error::StoreError;

/// Largest message the store accepts (APPEND and delivery): the design's
/// 64 MiB. The store owns this bound; `config::MAX_MESSAGE_SIZE` must equal
/// it (config is a leaf and does not import it; a test in `cli::serve`
/// asserts they agree), and `limits.max_message_size` may only lower it.
pub const MAX_MESSAGE_SIZE: u64 = 64 * 1024 * 1024;
