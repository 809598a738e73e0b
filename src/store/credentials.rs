//! What logging in to an account yields, in the store's terms: an
//! [`UnlockedAccount`] (the master key its password unsealed) and the
//! [`PasswordCost`] at which new passwords are hashed. The protocol layers
//! (`imap`, `cli`) hold and pass these on without ever naming a `crypto`
//! type (doc/architecture.md). Owns no file format and no I/O of its own:
//! unsealing and password changes are `user_file`'s.

use std::fmt;
use std::path::Path;

use super::error::Result;
use super::user_file::{self, UserFile};
use crate::crypto::kdf::KdfParams;
use crate::crypto::secret::MasterKey;

/// How expensive hashing a new password is (the Argon2id costs), as the
/// server configuration chooses it for accounts created and passwords
/// changed from now on. Existing `user.toml` files keep the cost they were
/// written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes (time cost).
    pub passes: u32,
    /// Degree of parallelism.
    pub lanes: u32,
    /// Accept costs below the minimum: only for tests and the
    /// configuration's explicit test knob, since it makes passwords cheap
    /// to guess.
    pub allow_weak: bool,
}

impl PasswordCost {
    /// The KDF parameters that hash a password at this cost.
    pub fn kdf_params(&self) -> KdfParams {
        KdfParams {
            memory_kib: self.memory_kib,
            passes: self.passes,
            lanes: self.lanes,
            allow_weak: self.allow_weak,
        }
    }
}

impl From<&KdfParams> for PasswordCost {
    fn from(p: &KdfParams) -> Self {
        PasswordCost {
            memory_kib: p.memory_kib,
            passes: p.passes,
            lanes: p.lanes,
            allow_weak: p.allow_weak,
        }
    }
}

impl fmt::Display for PasswordCost {
    /// `argon2id m=<KiB> t=<passes> p=<lanes>`, as `XCRY GET-USER-CONFIG`
    /// reports it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argon2id m={} t={} p={}",
            self.memory_kib, self.passes, self.lanes
        )
    }
}

impl UserFile {
    /// The cost this account's password was hashed with.
    pub fn password_cost(&self) -> PasswordCost {
        PasswordCost::from(self.kdf_params())
    }
}

/// An account whose password has unsealed its master key: what a login
/// yields and what opening the account's logs and mailboxes needs. Debug
/// output never shows the key.
#[derive(Clone)]
pub(crate) struct UnlockedAccount {
    master: MasterKey,
    /// The cost a password change hashes the new password with.
    cost: PasswordCost,
}

impl UnlockedAccount {
    /// Unseals `file`'s master key with `password`; a wrong password is
    /// [`StoreError::WrongPassword`](super::StoreError::WrongPassword).
    /// `cost` is what a later [`change_password`](Self::change_password)
    /// hashes with.
    pub(crate) fn unlock(file: &UserFile, password: &[u8], cost: PasswordCost) -> Result<Self> {
        Ok(UnlockedAccount {
            master: file.unlock(password)?,
            cost,
        })
    }

    /// The master key, for the store's own constructors
    /// (`AccountLog::open`, `UserKeys::new`); opaque to everyone else.
    pub(crate) fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// Re-seals the master key in `dir/user.toml` under `new_password` at
    /// this account's cost; returns the backup of the previous file (see
    /// [`user_file::change_password`]).
    pub(crate) fn change_password(
        &self,
        dir: &Path,
        new_password: &[u8],
    ) -> Result<user_file::PasswordBackup> {
        user_file::change_password(dir, &self.master, new_password, &self.cost.kdf_params())
    }
}

impl fmt::Debug for UnlockedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnlockedAccount")
            .field("master", &self.master)
            .field("cost", &self.cost)
            .finish()
    }
}

/// The file whose modification time is the account's last successful
/// login (`user list`/`user show` read it without the password). Empty:
/// the time is all it says, and a disk reader sees as much from the logs'
/// own times.
pub(crate) const LAST_LOGIN_FILE: &str = "last-login";

/// Records a successful login in `user_dir` (as the account's owner, after
/// the chroot). A failure only costs the operator that fact, so it is
/// logged, never an error of the login.
pub(crate) fn note_login(user_dir: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = user_dir.join(LAST_LOGIN_FILE);
    // No link followed, no FIFO waited on (an open for writing would wait
    // for a reader): either would be the user's own doing, but must not
    // stall the login.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(&path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if let Err(e) = written {
        log::warn!("recording the login time in {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_round_trips_through_kdf_params_and_displays_as_reported() {
        let cost = PasswordCost {
            memory_kib: 19_456,
            passes: 2,
            lanes: 1,
            allow_weak: false,
        };
        assert_eq!(PasswordCost::from(&cost.kdf_params()), cost);
        assert_eq!(cost.to_string(), "argon2id m=19456 t=2 p=1");
    }
}
