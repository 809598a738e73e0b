//! The IMAP protocol: wire syntax, response writing and the session.
//! Never touches files directly: storage goes through `store`.

pub(crate) mod capability;
pub(crate) mod client;
pub(crate) mod commands;
pub(crate) mod context;
pub(crate) mod output;
pub(crate) mod seqset;
pub(crate) mod session;
pub(crate) mod stream;
pub mod wire;
