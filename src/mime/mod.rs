//! Parsing of RFC 5322 / MIME messages into the structures IMAP reports
//! (ENVELOPE, BODYSTRUCTURE, sections, search text). Pure: never touches
//! files, never knows IMAP session state.
//!
//! Entry point: [`summarize`] once per message (the store seals the
//! [`Summary`]); then [`section`] for BODY/BINARY, [`search_text`] for
//! SEARCH, and `imap::wire::structure` renders ENVELOPE/BODYSTRUCTURE from the
//! summary alone. Decisions are recorded in `doc/mime.md`.

pub mod address;
pub mod bodystructure;
pub mod charset;
pub mod encoded_word;
pub mod envelope;
pub mod header;
pub mod invariants;
pub mod params;
pub mod preview;
pub mod search_text;
pub mod section;
pub mod sort;
pub mod summary;
pub mod thread;
pub mod transfer;

pub use section::{SectionError, SectionSpec, SectionText};
pub use summary::{summarize, Part, PartBody, Summary};
// Shared with `imap::wire::structure_fixtures`, which renders the same
// fixtures.
#[cfg(test)]
pub(crate) mod fixture_tests;
