//! The IMAP protocol: wire syntax, response writing and the session.
//! Never touches files directly: storage goes through `store`.

pub mod response;
pub mod structure;
