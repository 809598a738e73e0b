//! `crymap-like deliver`: the UNIX MDA. Reads one message on stdin and
//! leaves it in the recipient's spool, encrypted to the account's public
//! key. Owns argument parsing, the privilege drop (run as root it becomes
//! the owner of the recipient's directory and chroots into it before
//! reading stdin) and the mapping of failures to sysexits codes; never
//! needs or asks for the user's password.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use crate::store::delivery::{self, LookupError, Outcome, Recipient};
use crate::store::types::{Flag, MessageName};

/// Success.
pub(crate) const EX_OK: i32 = 0;
/// Command line misuse.
pub(crate) const EX_USAGE: i32 = 64;
/// The message is unacceptable (too large, unreadable input).
pub(crate) const EX_DATAERR: i32 = 65;
/// No such user.
pub(crate) const EX_NOUSER: i32 = 67;
/// An operating-system error (descriptors, limits).
pub(crate) const EX_OSERR: i32 = 71;
/// Temporary failure; the MTA should retry.
pub(crate) const EX_TEMPFAIL: i32 = 75;

const USAGE: &str = "usage: crymap-like deliver [--root DIR] \
                     [--user NAME | --address USER[+DETAIL][@DOMAIN]] \
                     [--mailbox NAME] [--flag FLAG]... [--create] < message";

#[derive(Debug, PartialEq)]
struct Args {
    root: PathBuf,
    user: Option<String>,
    address: Option<String>,
    mailbox: Option<String>,
    flags: Vec<Flag>,
    create: bool,
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let mut out = Args {
        root: PathBuf::from("/etc/crymap-like"),
        user: None,
        address: None,
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
            "--address" => out.address = Some(value("--address")?),
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
    if out.user.is_some() && out.address.is_some() {
        return Err("--user and --address exclude each other".to_owned());
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
    // As `serve` does, first thing: a descriptor the MTA leaked (pointing
    // outside the user directory) would survive the chroot.
    if let Err(e) = crate::sys::fds::close_inherited() {
        eprintln!("crymap-like deliver: cannot list inherited descriptors: {e}");
        return EX_OSERR;
    }
    if let Err(e) = crate::sys::privilege::forbid_core_dumps() {
        eprintln!("crymap-like deliver: {e}");
        return EX_OSERR;
    }
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crymap-like deliver: {e}\n{USAGE}");
            return EX_USAGE;
        }
    };
    let recipient = match (&args.address, args.user.clone().or_else(invoking_user)) {
        (Some(address), _) => Recipient::from_address(address),
        (None, Some(user)) => Recipient::user(&user),
        (None, None) => {
            eprintln!("crymap-like deliver: cannot tell who the recipient is");
            return EX_NOUSER;
        }
    };
    let recipient = match recipient {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crymap-like deliver: {e}");
            return EX_NOUSER;
        }
    };
    let user_dir = match delivery::user_dir(&args.root.join("users"), &recipient) {
        Ok(d) => d,
        Err(LookupError::NoSuchUser(u)) => {
            eprintln!("crymap-like deliver: no such user: {u}");
            return EX_NOUSER;
        }
        Err(e) => {
            eprintln!("crymap-like deliver: {e}");
            return EX_TEMPFAIL;
        }
    };
    let user_dir = match crate::sys::privilege::become_owner_of(&user_dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("crymap-like deliver: dropping privileges: {e}");
            return EX_TEMPFAIL;
        }
    };
    let mut stdin = io::stdin().lock();
    // An empty message is a mistake upstream, not mail (RFC 5322 needs at
    // least the header fields): refused, not delivered.
    match io::BufRead::fill_buf(&mut stdin) {
        Ok([]) => {
            eprintln!("crymap-like deliver: empty message refused");
            return EX_DATAERR;
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("crymap-like deliver: reading the message: {e}");
            return EX_TEMPFAIL;
        }
    }
    let (outcome, result) = delivery::deliver(
        &user_dir,
        MessageName::random(),
        &recipient,
        &mut stdin,
        args.mailbox,
        args.flags,
        args.create,
    );
    if let Err(e) = result {
        eprintln!("crymap-like deliver: {e}");
    }
    match outcome {
        Outcome::Delivered => EX_OK,
        Outcome::TooLarge | Outcome::BadInput => EX_DATAERR,
        Outcome::NoSuchUser => EX_NOUSER,
        _ => EX_TEMPFAIL,
    }
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
