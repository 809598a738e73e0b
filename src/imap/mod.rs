//! The IMAP protocol: wire syntax, response writing and the session.
//! Never touches files directly: storage goes through `store`.

pub mod client;
pub mod command;
pub mod context;
pub mod fetch;
pub mod framing;
pub mod mailboxes;
pub mod mutf7;
pub mod parser;
pub mod response;
pub mod search;
pub mod selected;
pub mod session;
pub mod stream;
pub mod structure;
