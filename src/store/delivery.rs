//! What every mail delivery agent of this crate shares (`deliver` and the
//! LMTP server): mapping a recipient address to an account and an optional
//! `+detail`, finding that account's directory, writing the sealed spool
//! entry, and classifying the result into one [`Outcome`] that each agent
//! turns into its own answer (sysexits codes, SMTP replies). Owns those
//! rules so the two agents cannot drift apart; never changes privileges
//! (the caller has already become the directory's owner) and never needs a
//! user's secret.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::message_file::MessageFileError;
use super::spool::{self, DeliveryInstructions, SpoolError};
use super::types::MessageName;

/// The sealed account setting that lets `user+detail` addresses file into
/// mailbox `detail` (values `yes` / `no`, default `no`); set with
/// `XCRY SET-USER-CONFIG DETAIL-DELIVERY yes`.
pub(crate) const DETAIL_SETTING: &str = "DETAIL-DELIVERY";

/// The longest account name accepted (a path component).
const MAX_USER_LEN: usize = 64;

/// A local recipient: the account and the `+detail` of its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    user: String,
    detail: Option<String>,
}

/// Why an address or user name does not name a possible account.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddressError {
    /// The local part (or the user name) is empty.
    #[error("empty user name")]
    Empty,
    /// The name could escape `users/` or is otherwise not an account name.
    #[error("not a valid user name: {0:?}")]
    BadUser(String),
    /// The `+detail` is not a usable mailbox name.
    #[error("not a valid detail: {0:?}")]
    BadDetail(String),
}

/// Whether `name` may be an account name: a single path component of
/// letters, digits, `.`, `_`, `-`, `@` and `+`, not starting with `.` or
/// `-` (the rule `serve` applies to login names). An account whose name
/// holds a `+` is reachable only by `deliver --user`, since addresses split
/// at the first `+`.
pub(crate) fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USER_LEN
        && !name.starts_with('.')
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+'))
}

impl Recipient {
    /// The account named exactly `user`, without detail (`deliver --user`).
    pub fn user(user: &str) -> Result<Recipient, AddressError> {
        if user.is_empty() {
            return Err(AddressError::Empty);
        }
        if !valid_user_name(user) {
            return Err(AddressError::BadUser(user.to_owned()));
        }
        Ok(Recipient {
            user: user.to_owned(),
            detail: None,
        })
    }

    /// Maps `local@domain` (or a bare local part): the account is the local
    /// part up to the first `+`, the rest is the detail. The domain is not
    /// looked at: every domain the MTA hands over is local.
    pub fn from_address(address: &str) -> Result<Recipient, AddressError> {
        let local = match address.rfind('@') {
            Some(at) => address.get(..at).unwrap_or_default(),
            None => address,
        };
        let (user, detail) = match local.split_once('+') {
            Some((u, d)) => (u, Some(d)),
            None => (local, None),
        };
        let mut r = Recipient::user(user)?;
        if let Some(d) = detail.filter(|d| !d.is_empty()) {
            if d.chars().any(|c| c.is_control()) || d.len() > 255 {
                return Err(AddressError::BadDetail(d.to_owned()));
            }
            r.detail = Some(d.to_owned());
        }
        Ok(r)
    }

    /// The account name.
    pub fn user_name(&self) -> &str {
        &self.user
    }

    /// The `+detail`, if the address had one.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

/// Why an account's directory cannot be used.
#[derive(Debug, Error)]
pub(crate) enum LookupError {
    /// `users/NAME` does not exist or is not an account.
    #[error("no such user: {0}")]
    NoSuchUser(String),
    /// The directory exists but could not be examined.
    #[error("{path}: {source}")]
    Unavailable {
        /// The path examined.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

/// Resolves `users_dir/NAME` (which may be a symlink the administrator
/// made) to the account's real directory, which must hold `keys/`.
pub(crate) fn user_dir(users_dir: &Path, recipient: &Recipient) -> Result<PathBuf, LookupError> {
    let entry = users_dir.join(&recipient.user);
    let dir = match entry.canonicalize() {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(LookupError::NoSuchUser(recipient.user.clone()))
        }
        Err(source) => {
            return Err(LookupError::Unavailable {
                path: entry,
                source,
            })
        }
    };
    match std::fs::metadata(dir.join("keys")) {
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(LookupError::NoSuchUser(recipient.user.clone())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(LookupError::NoSuchUser(recipient.user.clone()))
        }
        Err(source) => Err(LookupError::Unavailable { path: dir, source }),
    }
}

/// The result of one delivery attempt, as every agent reports it. Each
/// outcome has one sysexits code, which is also how a forked delivery child
/// reports to the LMTP process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The spool entry is durable.
    Delivered,
    /// The message exceeds the size limit (permanent).
    TooLarge,
    /// The input could not be read or is not acceptable (permanent).
    BadInput,
    /// No such account (permanent).
    NoSuchUser,
    /// The file system is full (temporary).
    DiskFull,
    /// The user's disk quota is exhausted (temporary).
    QuotaExceeded,
    /// The account's directory is not writable (temporary: an administrator
    /// can fix it).
    NotWritable,
    /// Anything else; the sender should retry.
    Temporary,
}

impl Outcome {
    /// The sysexits.h code an MDA (`deliver`) exits with: 65 for a
    /// message that will never be accepted, 67 for no such user, and 75
    /// (the MTA retries) for everything that may pass later, including a
    /// full disk or an unwritable directory.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Delivered => 0,
            Outcome::TooLarge | Outcome::BadInput => 65,
            Outcome::NoSuchUser => 67,
            Outcome::NotWritable
            | Outcome::DiskFull
            | Outcome::QuotaExceeded
            | Outcome::Temporary => 75,
        }
    }

    /// The outcome a delivery child reported through its exit code. 65 is
    /// reported as [`Outcome::TooLarge`] only by the code 66, which the
    /// child uses for that case; unknown codes are temporary failures.
    pub fn from_child_code(code: i32) -> Outcome {
        match code {
            0 => Outcome::Delivered,
            65 => Outcome::BadInput,
            CHILD_TOO_LARGE => Outcome::TooLarge,
            67 => Outcome::NoSuchUser,
            73 => Outcome::NotWritable,
            74 => Outcome::DiskFull,
            76 => Outcome::QuotaExceeded,
            _ => Outcome::Temporary,
        }
    }

    /// The code a delivery child exits with: one per outcome (sysexits
    /// numbers where one fits), so the parent can give each recipient its
    /// own reply; [`Outcome::from_child_code`] is the inverse.
    pub fn child_code(self) -> i32 {
        match self {
            Outcome::Delivered => 0,
            Outcome::BadInput => 65,
            Outcome::TooLarge => CHILD_TOO_LARGE,
            Outcome::NoSuchUser => 67,
            Outcome::NotWritable => 73,
            Outcome::DiskFull => 74,
            Outcome::Temporary => 75,
            Outcome::QuotaExceeded => 76,
        }
    }
}

/// sysexits' EX_NOINPUT, reused between a delivery child and its parent to
/// mean "too large".
const CHILD_TOO_LARGE: i32 = 66;

/// Classifies an OS error met while writing.
fn io_outcome(e: &io::Error) -> Outcome {
    match e.raw_os_error() {
        Some(nix::libc::ENOSPC) => Outcome::DiskFull,
        Some(nix::libc::EDQUOT) => Outcome::QuotaExceeded,
        Some(nix::libc::EACCES | nix::libc::EPERM | nix::libc::EROFS) => Outcome::NotWritable,
        Some(nix::libc::ENOENT | nix::libc::ENOTDIR) => Outcome::NotWritable,
        _ => Outcome::Temporary,
    }
}

/// Classifies the result of [`spool::deliver`].
pub(crate) fn classify(result: &Result<MessageName, SpoolError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Delivered,
        Err(e) => classify_error(e),
    }
}

/// Classifies a failed delivery.
pub fn classify_error(e: &SpoolError) -> Outcome {
    match e {
        SpoolError::MessageFile(MessageFileError::TooLarge { .. }) => Outcome::TooLarge,
        SpoolError::MessageFile(MessageFileError::ReadContent { .. }) => Outcome::BadInput,
        SpoolError::MessageFile(MessageFileError::Io(e)) | SpoolError::Io(e) => {
            io_outcome(&e.source)
        }
        SpoolError::NoKey(_) => Outcome::NotWritable,
        _ => Outcome::Temporary,
    }
}

fn instructions_for(
    recipient: &Recipient,
    mailbox: Option<String>,
    flags: Vec<super::types::Flag>,
    create: bool,
) -> DeliveryInstructions {
    DeliveryInstructions {
        mailbox,
        flags,
        create,
        received: super::types::InternalDate::now(),
        detail: recipient.detail.clone(),
    }
}

/// Stages `content` as spool entry `name` of the account in `user_dir`
/// (already entered as its owner), to be made visible by
/// [`Staged::commit`](spool::Staged::commit); filed like [`deliver`]'s
/// entries without `mailbox`.
pub fn stage(
    user_dir: &Path,
    name: MessageName,
    recipient: &Recipient,
    content: &mut dyn Read,
) -> Result<spool::Staged, (Outcome, SpoolError)> {
    let instructions = instructions_for(recipient, None, Vec::new(), false);
    spool::stage(user_dir, name, content, &instructions).map_err(|e| (classify_error(&e), e))
}

/// Writes `content` as spool entry `name` (fresh from
/// [`MessageName::random`]) of the account in `user_dir` (already entered
/// as its owner), filed later into INBOX, or into the recipient's
/// `+detail` mailbox when the account allows it, or into `mailbox` when
/// given (then `create` says whether to create it).
pub(crate) fn deliver(
    user_dir: &Path,
    name: MessageName,
    recipient: &Recipient,
    content: &mut dyn Read,
    mailbox: Option<String>,
    flags: Vec<super::types::Flag>,
    create: bool,
) -> (Outcome, Result<MessageName, SpoolError>) {
    let instructions = instructions_for(recipient, mailbox, flags, create);
    let result = spool::deliver_named(user_dir, name, content, &instructions);
    (classify(&result), result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_to_user_and_detail() {
        let r = Recipient::from_address("alice+lists@example.org").unwrap();
        assert_eq!(r.user_name(), "alice");
        assert_eq!(r.detail(), Some("lists"));
        let r = Recipient::from_address("bob@example.org").unwrap();
        assert_eq!((r.user_name(), r.detail()), ("bob", None));
        let r = Recipient::from_address("bob+@x").unwrap();
        assert_eq!(r.detail(), None);
        assert_eq!(
            Recipient::from_address("carol").unwrap().user_name(),
            "carol"
        );
        let r = Recipient::from_address("a+b+c@x").unwrap();
        assert_eq!((r.user_name(), r.detail()), ("a", Some("b+c")));
    }

    #[test]
    fn names_that_could_escape_are_refused() {
        for bad in ["", "@x", "../x@y", ".hidden@x", "-x", "a/b@c", "a b"] {
            assert!(Recipient::from_address(bad).is_err(), "{bad:?}");
        }
        assert!(Recipient::from_address("a+\u{7}@x").is_err());
    }

    #[test]
    fn mda_exit_codes_are_permanent_only_for_the_message_or_the_user() {
        assert_eq!(Outcome::Delivered.exit_code(), 0);
        assert_eq!(Outcome::BadInput.exit_code(), 65);
        assert_eq!(Outcome::TooLarge.exit_code(), 65);
        assert_eq!(Outcome::NoSuchUser.exit_code(), 67);
        // A full disk or an unwritable directory must make the MTA retry,
        // never bounce (73 and 74 are permanent failures to Postfix).
        for o in [
            Outcome::NotWritable,
            Outcome::DiskFull,
            Outcome::QuotaExceeded,
            Outcome::Temporary,
        ] {
            assert_eq!(o.exit_code(), 75, "{o:?}");
        }
    }

    #[test]
    fn child_codes_round_trip() {
        for o in [
            Outcome::Delivered,
            Outcome::TooLarge,
            Outcome::BadInput,
            Outcome::NoSuchUser,
            Outcome::DiskFull,
            Outcome::QuotaExceeded,
            Outcome::NotWritable,
            Outcome::Temporary,
        ] {
            assert_eq!(Outcome::from_child_code(o.child_code()), o);
        }
    }
}
