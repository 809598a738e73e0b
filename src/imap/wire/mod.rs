//! IMAP syntax, both directions: the typed command tree, its parser and
//! client-side encoder, command framing (lines and literals), the response
//! writer, ENVELOPE/BODYSTRUCTURE encoding and modified UTF-7. Never decides
//! what to answer, never touches the store and never performs I/O beyond
//! the framing reader it is handed.

pub mod command;
pub(crate) mod command_encoder;
pub mod framing;
pub mod imap_url;
#[cfg(test)]
mod mutation;
pub(crate) mod mutf7;
pub mod notify;
pub mod parser;
pub mod response;
pub mod structure;
#[cfg(test)]
mod structure_fixtures;
pub mod user_setting;
