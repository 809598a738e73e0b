//! Where a user's password comes from on the command line: the shared
//! `--password-stdin` / `--prompt-password` options and the unlocking of an
//! account with them. Owns reading the password; never keeps it longer than
//! the unlock (it is zeroised on drop) and never prints it.

use std::path::Path;

use super::exit;
use crate::store::credentials::UnlockedAccount;
use crate::store::error::StoreError;
use crate::store::user_file::UserFile;
use crate::sys;

/// The password options, the same for every command that takes one.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct PasswordArgs {
    /// Read the user's password from one line of standard input.
    #[arg(long, conflicts_with = "prompt_password")]
    pub password_stdin: bool,
    /// Ask for the user's password on the terminal, without echo.
    #[arg(long)]
    pub prompt_password: bool,
}

impl PasswordArgs {
    /// Whether any password source was named.
    pub fn given(&self) -> bool {
        self.password_stdin || self.prompt_password
    }

    /// Reads the password from the named source.
    pub fn read(&self, prompt: &str) -> Result<zeroize::Zeroizing<String>, (i32, String)> {
        let r = if self.password_stdin {
            sys::password::read_password_from_stdin()
        } else {
            sys::password::read_password_from_terminal(prompt)
        };
        r.map_err(|e| (exit::DATAERR, format!("reading the password: {e}")))
    }
}

/// Reads the password and unlocks the account in `dir` (Argon2id).
pub(super) fn unlock(dir: &Path, how: &PasswordArgs) -> Result<UnlockedAccount, (i32, String)> {
    let file = UserFile::load(dir).map_err(|e| (exit::NOUSER, e.to_string()))?;
    let password = how.read("Password: ")?;
    let cost = file.password_cost();
    UnlockedAccount::unlock(&file, password.as_bytes(), cost).map_err(|e| match e {
        StoreError::WrongPassword => (exit::NOPERM, "wrong password".to_owned()),
        other => (exit::TEMPFAIL, other.to_string()),
    })
}

/// Resolves `ROOT/users/NAME` to the user's data directory, checking the
/// name first so it cannot climb out of `users/`.
pub(super) fn user_dir(root: &Path, name: &str) -> Result<std::path::PathBuf, (i32, String)> {
    if !super::serve::valid_user_name(name) {
        return Err((exit::NOUSER, format!("invalid user name {name:?}")));
    }
    let entry = root.join("users").join(name);
    match entry.canonicalize() {
        Ok(d) if d.join("user.toml").is_file() => Ok(d),
        _ => Err((exit::NOUSER, format!("no such user: {name}"))),
    }
}

/// As root, becomes the owner of the user directory `dir` (never root), so
/// that every file written there belongs to the user; otherwise does
/// nothing. Does not chroot: the sources and destinations of import and
/// export lie outside the user directory.
pub(super) fn become_owner(dir: &Path) -> Result<(), (i32, String)> {
    if !sys::privilege::is_root() {
        return Ok(());
    }
    let (uid, gid) = sys::privilege::owner_of(dir)
        .map_err(|e| (exit::OSERR, format!("{}: {e}", dir.display())))?;
    if uid.is_root() {
        return Err((
            exit::NOPERM,
            format!(
                "{} is owned by root; refusing to write there as root",
                dir.display()
            ),
        ));
    }
    sys::privilege::drop_to(uid, gid)
        .map_err(|e| (exit::OSERR, format!("dropping privileges: {e}")))
}
