//! The encrypted on-disk store of one user: account file, keys, account log,
//! mailboxes, change logs, message files and the delivery spool. Never knows
//! IMAP syntax.

pub mod crash;
pub mod fsutil;
pub mod message_file;
pub mod state;
pub mod summary;
pub mod types;
