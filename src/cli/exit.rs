//! The process exit codes of every subcommand, from sysexits.h, so that
//! inetd, systemd, MTAs and scripts can tell a usage error from bad data
//! from a temporary failure. Owns the numbers only; never decides which
//! failure a command has (each command maps its own errors here).
//!
//! `deliver`'s codes are a contract with MTAs and must not change: 75
//! temporary, 67 no such user, 65 bad data.

/// Success.
pub const OK: i32 = 0;
/// Command line usage error (also every argument clap refuses).
pub const USAGE: i32 = 64;
/// Input data was malformed, some of it was skipped (import), or damage
/// remains (check).
pub const DATAERR: i32 = 65;
/// An input file did not exist or was not readable.
pub const NOINPUT: i32 = 66;
/// Addressee (user) unknown.
pub const NOUSER: i32 = 67;
/// Service unavailable (e.g. the server refused).
pub const UNAVAILABLE: i32 = 69;
/// Internal software error.
pub const SOFTWARE: i32 = 70;
/// Operating system error (fork, chroot, setuid...).
pub const OSERR: i32 = 71;
/// Cannot create output file.
pub const CANTCREAT: i32 = 73;
/// Input/output error.
pub const IOERR: i32 = 74;
/// Temporary failure; the caller should retry later.
pub const TEMPFAIL: i32 = 75;
/// Permission denied (wrong password, root refused).
pub const NOPERM: i32 = 77;
/// Configuration error.
pub const CONFIG: i32 = 78;

/// Every code with its meaning, for `--help` texts and doc/cli.md.
pub const TABLE: &[(i32, &str)] = &[
    (OK, "success"),
    (USAGE, "bad command line"),
    (
        DATAERR,
        "bad input data, something skipped, or damage found",
    ),
    (NOINPUT, "an input file is missing or unreadable"),
    (NOUSER, "no such user"),
    (UNAVAILABLE, "the server refused"),
    (SOFTWARE, "internal error"),
    (OSERR, "operating-system error (chroot, setuid, ...)"),
    (CANTCREAT, "cannot create an output file or account"),
    (IOERR, "input/output error"),
    (TEMPFAIL, "temporary failure: try again later"),
    (NOPERM, "permission denied or wrong password"),
    (CONFIG, "configuration error"),
];
