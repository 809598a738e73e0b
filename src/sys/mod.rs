//! Thin, audited wrappers over the operating system: privilege drop, chroot,
//! socket activation, peer addresses, inotify, terminals, and the one
//! durable-write API (`durable`) every layer uses. The only module
//! allowed to contain `unsafe`, each block with a `SAFETY:` comment.
//!
//! Nothing here knows about IMAP, LMTP or the store: every function is a
//! small, typed wrapper that a protocol or storage module composes.

pub mod activation;
pub mod conn;
pub mod durable;
pub mod fds;
pub mod inotify;
pub mod log;
pub mod password;
pub mod peer;
pub mod poll;
pub mod privilege;
pub mod signals;

#[cfg(test)]
mod test_support;
