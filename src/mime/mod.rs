//! Parsing of RFC 5322 / MIME messages into the structures IMAP reports
//! (ENVELOPE, BODYSTRUCTURE, sections, search text). Pure: never touches
//! files, never knows IMAP session state.
//!
//! Entry point: [`summarize`] once per message (the store seals the
//! [`Summary`]); then [`section`] for BODY/BINARY, [`search_text`] for
//! SEARCH, and `imap::wire::structure` renders ENVELOPE/BODYSTRUCTURE from the
//! summary alone. Decisions are recorded in `doc/mime.md`.

pub(crate) mod address;
pub(crate) mod binary;
pub(crate) mod bodystructure;
pub(crate) mod charset;
pub(crate) mod encoded_word;
pub(crate) mod envelope;
pub(crate) mod header;
pub mod invariants;
pub(crate) mod params;
pub(crate) mod preview;
pub(crate) mod search_text;
pub mod section;
pub mod sort;
pub mod summary;
pub mod thread;
pub(crate) mod tokens;
pub(crate) mod transfer;

pub use section::{SectionError, SectionSpec, SectionText};
pub use summary::{summarize, Part, PartBody, Summary};
// Shared with `imap::wire::structure_fixtures`, which renders the same
// fixtures.
#[cfg(test)]
pub(crate) mod fixture_tests;
