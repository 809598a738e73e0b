//! The IMAP protocol: wire syntax, response writing and the session.
//! Never touches files directly: storage goes through `store`.

pub mod capability;
pub mod client;
pub mod commands;
pub mod context;
pub mod seqset;
pub mod session;
pub mod stream;
pub mod wire;
