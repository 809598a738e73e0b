//! Thin, audited wrappers over the operating system: privilege drop, chroot,
//! socket activation, peer addresses, inotify, terminals. The only module
//! allowed to contain `unsafe`, each block with a `SAFETY:` comment.
