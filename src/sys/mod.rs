//! Thin, audited wrappers over the operating system: privilege drop, chroot,
//! socket activation, peer addresses, TCP options, inotify, terminals, and the one
//! durable-write API (`durable`) every layer uses. `activation` is the one
//! module in the crate allowed `unsafe`, each block with a `SAFETY:`
//! comment; everything else here is safe wrappers over `nix` and `std`.
//!
//! Nothing here knows about IMAP, LMTP or the store: every function is a
//! small, typed wrapper that a protocol or storage module composes.

// The first `allow(unsafe_code)`: adopting the descriptors systemd
// passes (`OwnedFd::from_raw_fd`) has no safe API, nor has arranging them at
// 3, 4, … in a test child (`pre_exec`).
#[allow(unsafe_code)]
pub(crate) mod activation;
pub(crate) mod conn;
pub(crate) mod durable;
pub(crate) mod fds;
pub(crate) mod inotify;
pub(crate) mod kdf_slots;
pub(crate) mod log;
// The fourth `allow(unsafe_code)`: mapping, advising (huge pages,
// prefaulting) and unmapping the Argon2 memory has no safe API.
#[allow(unsafe_code)]
pub(crate) mod memory;
pub(crate) mod password;
pub(crate) mod peer;
pub(crate) mod poll;
pub mod privilege;
// The second `allow(unsafe_code)`: forking the LMTP server's per-recipient
// delivery child (`fork`, `sigaction`, `_exit`) has no safe API.
#[allow(unsafe_code)]
pub(crate) mod process;
pub(crate) mod sandbox;
pub(crate) mod spare_file;
// The third `allow(unsafe_code)`: `TCP_QUICKACK` has no wrapper in `nix`.
#[allow(unsafe_code)]
pub(crate) mod tcp;
pub(crate) mod throttle;

#[cfg(test)]
mod test_support;
