//! `crymap-like deliver`: the UNIX MDA. Reads one message on stdin and
//! leaves it in the recipient's spool, encrypted to the account's public
//! key. Owns argument parsing, the privilege drop (run as root it becomes
//! the owner of the recipient's directory and chroots into it before
//! reading stdin) and the mapping of failures to sysexits codes; never
//! needs or asks for the user's password.

use std::io;

use super::{exit, Global};
use crate::store::delivery::{self, LookupError, Recipient};
use crate::store::types::{Flag, MessageName};

/// The message is unacceptable (too large, unreadable input).
pub(crate) const EX_DATAERR: i32 = exit::DATAERR;
/// No such user.
pub(crate) const EX_NOUSER: i32 = exit::NOUSER;
/// An operating-system error (descriptors, limits).
pub(crate) const EX_OSERR: i32 = exit::OSERR;
/// Temporary failure; the MTA should retry.
pub(crate) const EX_TEMPFAIL: i32 = exit::TEMPFAIL;

/// `deliver`'s options.
#[derive(Debug, PartialEq, clap::Args)]
#[command(
    after_help = "Exit codes: 0 delivered, 64 usage, 65 too large or unreadable \
                  input, 67 no such user, 75 anything else (temporary: retry)."
)]
pub struct DeliverArgs {
    /// The recipient (default: the invoking UNIX user).
    #[arg(long, value_name = "NAME", conflicts_with = "address")]
    pub user: Option<String>,
    /// The recipient as an address, USER[+DETAIL][@DOMAIN] (the detail
    /// names a mailbox when the user allows it).
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,
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
pub(crate) fn parse_flag(s: &str) -> Result<Flag, String> {
    Flag::from_name(s).ok_or_else(|| format!("invalid flag {s}"))
}

fn invoking_user() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// Runs `deliver`; returns the exit code.
pub(crate) fn run(global: &Global, args: DeliverArgs) -> i32 {
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
    let user_dir = match delivery::user_dir(&global.root.join("users"), &recipient) {
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
    outcome.exit_code()
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
            &["--user", "a", "--address", "b@c"],
        ] {
            let mut argv = vec!["deliver"];
            argv.extend_from_slice(bad);
            assert!(Wrap::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
