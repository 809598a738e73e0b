//! The process exit codes of every subcommand, from sysexits.h, so that
//! inetd, systemd, MTAs and scripts can tell a usage error from bad data
//! from a temporary failure. Owns the numbers only; never decides which
//! failure a command has (each command maps its own errors here).
//!
//! `deliver`'s codes are a contract with MTAs and must not change: 75
//! temporary, 67 no such user, 65 bad data.

/// Success.
pub(crate) const OK: i32 = 0;
/// Command line usage error (also every argument clap refuses).
pub(crate) const USAGE: i32 = 64;
/// Input data was malformed, some of it was skipped (import), or damage
/// remains (check).
pub(crate) const DATAERR: i32 = 65;
/// An input file did not exist or was not readable.
pub(crate) const NOINPUT: i32 = 66;
/// Addressee (user) unknown.
pub(crate) const NOUSER: i32 = 67;
/// Service unavailable (e.g. the server refused).
pub(crate) const UNAVAILABLE: i32 = 69;
/// Internal software error.
pub(crate) const SOFTWARE: i32 = 70;
/// Operating system error (fork, chroot, setuid...).
pub(crate) const OSERR: i32 = 71;
/// Cannot create output file.
pub(crate) const CANTCREAT: i32 = 73;
/// Input/output error.
pub(crate) const IOERR: i32 = 74;
/// Temporary failure; the caller should retry later.
pub(crate) const TEMPFAIL: i32 = 75;
/// Permission denied (wrong password, root refused).
pub(crate) const NOPERM: i32 = 77;
/// Configuration error.
pub(crate) const CONFIG: i32 = 78;
