//! `crymap-like deliver`: the UNIX MDA. Reads one message on stdin and
//! leaves it in the recipient's spool, encrypted to the account's public
//! key. Owns argument parsing, the privilege drop (run as root it becomes
//! the owner of the recipient's directory and chroots into it before
//! reading stdin) and the mapping of failures to sysexits codes; never
//! needs or asks for the user's password.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::store::message_file::MessageFileError;
use crate::store::spool::{self, DeliveryInstructions, SpoolError};
use crate::store::types::{Flag, InternalDate};

/// Success.
pub(crate) const EX_OK: i32 = 0;
/// Command line misuse.
pub(crate) const EX_USAGE: i32 = 64;
/// The message is unacceptable (too large, unreadable input).
pub(crate) const EX_DATAERR: i32 = 65;
/// No such user.
pub(crate) const EX_NOUSER: i32 = 67;
/// Temporary failure; the MTA should retry.
pub(crate) const EX_TEMPFAIL: i32 = 75;

const USAGE: &str = "usage: crymap-like deliver [--root DIR] [--user NAME] \
                     [--mailbox NAME] [--flag FLAG]... [--create] < message";

#[derive(Debug, PartialEq)]
struct Args {
    root: PathBuf,
    user: Option<String>,
    mailbox: Option<String>,
    flags: Vec<Flag>,
    create: bool,
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let mut out = Args {
        root: PathBuf::from("/etc/crymap-like"),
        user: None,
        mailbox: None,
        flags: Vec::new(),
        create: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_str().ok_or("arguments must be UTF-8")?;
        let mut value = |name: &str| {
            it.next()
                .and_then(|v| v.to_str())
                .map(str::to_owned)
                .ok_or(format!("{name} needs a value"))
        };
        match a {
            "--root" => out.root = PathBuf::from(value("--root")?),
            "--user" => out.user = Some(value("--user")?),
            "--mailbox" => out.mailbox = Some(value("--mailbox")?),
            "--flag" => {
                let f = value("--flag")?;
                out.flags
                    .push(Flag::from_name(&f).ok_or(format!("invalid flag {f}"))?);
            }
            "--create" => out.create = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(out)
}

fn invoking_user() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// Runs `deliver` with its arguments; returns the exit code.
pub(crate) fn run(args: &[OsString]) -> i32 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crymap-like deliver: {e}\n{USAGE}");
            return EX_USAGE;
        }
    };
    let Some(user) = args.user.clone().or_else(invoking_user) else {
        eprintln!("crymap-like deliver: cannot tell who the recipient is");
        return EX_NOUSER;
    };
    if user.is_empty() || user.contains('/') || user.starts_with('.') {
        eprintln!("crymap-like deliver: invalid user name");
        return EX_NOUSER;
    }
    let user_dir = match args.root.join("users").join(&user).canonicalize() {
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
        Err(SpoolError::MessageFile(MessageFileError::ReadContent { source })) => {
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

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_arguments_and_flags() {
        let a = parse(&os(&[
            "--root",
            "/r",
            "--user",
            "bob",
            "--mailbox",
            "Lists/x",
            "--flag",
            "\\seen",
            "--flag",
            "$Junk",
            "--create",
        ]))
        .unwrap();
        assert_eq!(a.root, PathBuf::from("/r"));
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert_eq!(a.flags, vec![Flag::Seen, Flag::keyword("$Junk").unwrap()]);
        assert!(a.create);
        assert!(parse(&os(&["--flag", "\\Bogus"])).is_err());
        assert!(parse(&os(&["--flag", "a(b"])).is_err());
        assert!(parse(&os(&["--user"])).is_err());
        assert!(parse(&os(&["--what"])).is_err());
    }
}
