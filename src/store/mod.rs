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
