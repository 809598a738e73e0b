//! crymap-like: an IMAP server whose mail is encrypted at rest.
//!
//! This file is the crate's map. The modules are a flat list with one-way
//! dependencies, `cli` → `imap`/`lmtp` → `store` → `crypto`, and three
//! leaves (`mime`, `sys`, `config`) that use no other module;
//! `tests/architecture.rs` fails on any other arrow. Inside each module,
//! items are `pub(crate)` unless the binary, the integration tests or the
//! fuzz targets need them (`unreachable_pub` is denied, so whatever nobody
//! uses shows up as dead code). `doc/architecture.md` says where each kind
//! of change goes.
// `unsafe` is denied everywhere; only the `sys` modules listed in
// tests/architecture.rs (`activation`, `process`, `tcp`, `memory`) carry
// an `allow`, and every unsafe block there says why it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, unreachable_pub)]

/// Processes: `serve`, `listen`, `deliver`, `user`, `remote`, `demo`; start-up order and privilege drop.
pub mod cli;
/// `crymap-like.toml`: typed settings, defaults and validation.
pub(crate) mod config;
/// Every cryptographic primitive: Argon2id, HKDF, sealing, AEAD streams, X25519 key pairs.
pub mod crypto;
/// IMAP: wire syntax (`wire`), command handlers (`commands`), the session state machine.
pub mod imap;
/// LMTP (RFC 2033): the grammar, the session, the per-recipient delivery child.
pub mod lmtp;
/// RFC 5322/MIME parsing: summaries, ENVELOPE/BODYSTRUCTURE values, sections, search text.
pub mod mime;
/// The user's encrypted on-disk state: account, logs, mailboxes, message files, spool.
pub mod store;
/// The operating system: durable writes, privileges, chroot, sockets, inotify, logging.
pub mod sys;
