//! The encrypted on-disk store of one user: account file, keys, account log,
//! mailboxes, change logs, message files and the delivery spool. Never knows
//! IMAP syntax.

pub mod account;
pub mod create;
pub mod error;
pub mod record_log;
pub mod user_file;

pub use error::StoreError;
