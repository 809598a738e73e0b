//! The LMTP server (RFC 2033): one session per process, delivering each
//! message into the spool of every accepted recipient. Owns the LMTP
//! grammar (`command`), bounded I/O (`wire`), the session and its replies
//! (`session`) and the per-recipient delivery child (`deliver`). Never uses
//! `imap` or `crypto`, and never holds a user's key: like `deliver`, it
//! writes sealed spool entries with the account's public key only.

pub mod command;
pub(crate) mod deliver;
pub mod session;
pub(crate) mod wire;
