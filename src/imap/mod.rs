//! The IMAP protocol: wire syntax, response writing and the session.
//! Never touches files directly: storage goes through `store`.

pub mod client;
pub mod command;
pub mod framing;
pub mod mutf7;
pub mod parser;
pub mod response;
pub mod session;
pub mod stream;
pub mod structure;
