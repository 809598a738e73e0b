//! `crymap-like deliver`: the UNIX MDA. Reads one message on stdin and
//! leaves it in the recipient's spool, encrypted to the account's public
//! key. Owns argument parsing, the privilege drop (run as root it becomes
//! the owner of the recipient's directory and chroots into it before
//! reading stdin) and the mapping of failures to sysexits codes; never
//! needs or asks for the user's password.

use std::io;
use std::path::{Path, PathBuf};

use super::{exit, Global};
use crate::store::message_file::MessageFileError;
use crate::store::spool::{self, DeliveryInstructions, SpoolError};
use crate::store::types::{Flag, InternalDate};

/// Success.
pub const EX_OK: i32 = exit::OK;
/// Command line misuse.
pub const EX_USAGE: i32 = exit::USAGE;
/// The message is unacceptable (too large, unreadable input).
pub const EX_DATAERR: i32 = exit::DATAERR;
/// No such user.
pub const EX_NOUSER: i32 = exit::NOUSER;
/// Temporary failure; the MTA should retry.
pub const EX_TEMPFAIL: i32 = exit::TEMPFAIL;

/// `deliver`'s options.
#[derive(Debug, PartialEq, clap::Args)]
#[command(
    after_help = "Exit codes: 0 delivered, 64 usage, 65 too large or unreadable \
                        input, 67 no such user, 75 anything else (temporary: retry)."
)]
pub struct DeliverArgs {
    /// The recipient (default: the invoking UNIX user).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Target mailbox (default INBOX; INBOX too if it does not exist and
    /// --create is not given).
    #[arg(long, value_name = "NAME")]
    pub mailbox: Option<String>,
    /// Initial flag or keyword (\\Seen, \\Flagged, $Junk, ...); repeatable.
    #[arg(long = "flag", value_name = "FLAG", value_parser = parse_flag)]
    pub flags: Vec<Flag>,
    /// Create the target mailbox if it does not exist.
    #[arg(long)]
    pub create: bool,
}

/// A flag as `--flag` names it.
pub fn parse_flag(s: &str) -> Result<Flag, String> {
    Flag::from_name(s).ok_or_else(|| format!("invalid flag {s}"))
}

fn invoking_user() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// Runs `deliver`; returns the exit code.
pub fn run(global: &Global, args: DeliverArgs) -> i32 {
    let Some(user) = args.user.clone().or_else(invoking_user) else {
        eprintln!("crymap-like deliver: cannot tell who the recipient is");
        return EX_NOUSER;
    };
    if user.is_empty() || user.contains('/') || user.starts_with('.') {
        eprintln!("crymap-like deliver: invalid user name");
        return EX_NOUSER;
    }
    let user_dir = match global.root.join("users").join(&user).canonicalize() {
        Ok(d) if d.join("keys").is_dir() => d,
        _ => {
            eprintln!("crymap-like deliver: no such user: {user}");
            return EX_NOUSER;
        }
    };
    let user_dir = match enter_user_dir(&user_dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("crymap-like deliver: dropping privileges: {e}");
            return EX_TEMPFAIL;
        }
    };
    let instructions = DeliveryInstructions {
        mailbox: args.mailbox,
        flags: args.flags,
        create: args.create,
        received: InternalDate::now(),
    };
    let mut stdin = io::stdin().lock();
    match spool::deliver(&user_dir, &mut stdin, &instructions) {
        Ok(_) => EX_OK,
        Err(SpoolError::MessageFile(MessageFileError::TooLarge { limit })) => {
            eprintln!("crymap-like deliver: message larger than {limit} bytes refused");
            EX_DATAERR
        }
        Err(SpoolError::MessageFile(MessageFileError::Io {
            context: "reading message content for",
            source,
            ..
        })) => {
            eprintln!("crymap-like deliver: reading the message: {source}");
            EX_DATAERR
        }
        Err(e) => {
            eprintln!("crymap-like deliver: {e}");
            EX_TEMPFAIL
        }
    }
}

/// As root: becomes the owner of `dir` and chroots into it, returning the
/// directory as seen afterwards (`/`). Otherwise returns `dir` unchanged:
/// an unprivileged deliver can only write where it already may.
fn enter_user_dir(dir: &Path) -> io::Result<PathBuf> {
    use nix::unistd::{chdir, chroot, setgid, setgroups, setuid, Gid, Uid};
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return Ok(dir.to_path_buf());
    }
    let meta = std::fs::metadata(dir)?;
    if meta.uid() == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "user directory owned by root; refusing to deliver as root",
        ));
    }
    let (uid, gid) = (Uid::from_raw(meta.uid()), Gid::from_raw(meta.gid()));
    chroot(dir)?;
    chdir("/")?;
    setgroups(&[gid])?;
    setgid(gid)?;
    setuid(uid)?;
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "root privileges could be regained",
        ));
    }
    Ok(PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: DeliverArgs,
    }

    #[test]
    fn parses_arguments_and_flags() {
        let a = Wrap::try_parse_from([
            "deliver",
            "--user",
            "bob",
            "--mailbox",
            "Lists/x",
            "--flag",
            "\\seen",
            "--flag",
            "$Junk",
            "--create",
        ])
        .unwrap()
        .args;
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(a.flags, vec![Flag::Seen, Flag::keyword("$Junk").unwrap()]);
        assert!(a.create);
        for bad in [
            &["--flag", "\\Bogus"][..],
            &["--flag", "a(b"],
            &["--user"],
            &["--what"],
        ] {
            let mut argv = vec!["deliver"];
            argv.extend_from_slice(bad);
            assert!(Wrap::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
