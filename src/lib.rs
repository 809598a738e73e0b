//! crymap-like: an IMAP server whose mail is encrypted at rest.
//!
//! The crate is a flat list of modules with one-way dependencies:
//! `cli` → `imap`/`lmtp` → `store` → `crypto`; `mime`, `sys` and `config`
//! are leaves that anyone may use. See `doc/architecture.md`.
// `unsafe` is denied everywhere; `sys::activation` alone carries an
// `allow` (tests/architecture.rs checks there is no other), and every
// unsafe block there says why it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod crypto;
pub mod imap;
pub mod mime;
pub mod store;
pub mod sys;
