//! `user.toml`: the Argon2id parameters and salt, the master key sealed
//! under the password-derived key, and non-secret settings. Owns unlocking
//! and password changes. Never writes the password or the master key in
//! the clear, and never replaces `user.toml` except by an atomic rename.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::error::{Result, StoreError};
use crate::crypto::kdf::{self, KdfParams, SALT_LEN};
use crate::crypto::keystore::DEFAULT_KEY_PATTERN;
use crate::crypto::seal::{open, seal};
use crate::crypto::secret::{MasterKey, SecretKey, KEY_LEN};
use crate::crypto::CryptoError;
use crate::sys::durable;

/// File name of the account file inside the user directory.
pub const USER_FILE: &str = "user.toml";
/// Staging directory for atomic writes and password-change backups.
pub const TMP_DIR: &str = "tmp";
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
const MASTER_KEY_AAD: &[u8] = b"crymap-like user.toml master key v1";
const ALGORITHM: &str = "argon2id";
const ARGON2_VERSION: u32 = 0x13;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfSection {
    algorithm: String,
    version: u32,
    salt: String,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MasterKeySection {
    sealed: String,
}

/// Non-secret per-user settings stored in the clear (needed before login,
/// e.g. by `deliver`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    /// strftime pattern naming key pairs.
    pub key_name_pattern: String,
    /// How long the previous `user.toml` (and so the previous password) is
    /// kept after a password change, in hours; [`DEFAULT_OLD_PASSWORD_GRACE_HOURS`]
    /// when absent. Set by the administrator in `user.toml`; absent from
    /// files that do not set it, so older builds still read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_password_grace_hours: Option<u32>,
}

/// How long a password-change backup is kept unless `user.toml` says
/// otherwise: three days, time to notice a mistaken change and undo it.
pub const DEFAULT_OLD_PASSWORD_GRACE_HOURS: u32 = 72;

impl UserSettings {
    /// The grace period of password-change backups.
    pub fn old_password_grace(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(
            self.old_password_grace_hours
                .unwrap_or(DEFAULT_OLD_PASSWORD_GRACE_HOURS),
        ))
    }
}

impl Default for UserSettings {
    fn default() -> Self {
        UserSettings {
            key_name_pattern: DEFAULT_KEY_PATTERN.to_owned(),
            old_password_grace_hours: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    format: u32,
    password_changed: String,
    kdf: KdfSection,
    master_key: MasterKeySection,
    #[serde(default)]
    settings: UserSettings,
}

/// A parsed `user.toml`, still locked.
#[derive(Debug, Clone)]
pub struct UserFile {
    path: PathBuf,
    salt: [u8; SALT_LEN],
    params: KdfParams,
    sealed_master: Vec<u8>,
    settings: UserSettings,
    password_changed: DateTime<Utc>,
}

impl UserFile {
    /// Reads and validates `dir/user.toml` (no password needed).
    pub fn load(dir: &Path) -> Result<UserFile> {
        // User-owned and read by root tools too (`user show`, `check`,
        // delivery): no link followed, no FIFO waited on, bounded.
        let path = dir.join(USER_FILE);
        let bytes = crate::sys::durable::read_bounded(&path, Self::MAX_SIZE)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
        Self::from_bytes(path, &bytes)
    }

    /// Largest `user.toml` the login path reads (a real one is under 1 KiB):
    /// the file is user-owned and read by a root process.
    pub const MAX_SIZE: u64 = 16 * 1024;

    /// Parses account-file bytes already read (by the login path, through
    /// a directory descriptor); `path` is for messages only. Errors never
    /// quote the content: the file may be a link to a secret.
    pub fn from_bytes(path: PathBuf, bytes: &[u8]) -> Result<UserFile> {
        let text = std::str::from_utf8(bytes).map_err(|e| StoreError::MalformedUserFile {
            path: path.clone(),
            reason: format!("not UTF-8 at byte {}", e.valid_up_to()),
        })?;
        Self::parse(path, text)
    }

    /// A stand-in for an unknown user: a random salt and a random sealed
    /// key under `params`, so [`UserFile::unlock`] costs exactly one real
    /// Argon2 run and then fails as a wrong password does. Answering an
    /// unknown name faster would tell who has an account.
    pub fn decoy(params: &KdfParams) -> UserFile {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut sealed_master = vec![0u8; KEY_LEN + crate::crypto::seal::OVERHEAD];
        OsRng.fill_bytes(&mut sealed_master);
        UserFile {
            path: PathBuf::from(USER_FILE),
            salt,
            params: KdfParams {
                allow_weak: true,
                ..*params
            },
            sealed_master,
            settings: UserSettings::default(),
            password_changed: Utc::now(),
        }
    }

    fn parse(path: PathBuf, text: &str) -> Result<UserFile> {
        let bad = |reason: String| StoreError::MalformedUserFile {
            path: path.clone(),
            reason,
        };
        // toml's own message quotes the offending line: say only where.
        let file: FileFormat = toml::from_str(text).map_err(|e| {
            bad(match e.span() {
                Some(span) => format!("not a valid account file (at byte {})", span.start),
                None => "not a valid account file".to_owned(),
            })
        })?;
        if file.format != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path,
                version: file.format,
            });
        }
        if file.kdf.algorithm != ALGORITHM || file.kdf.version != ARGON2_VERSION {
            return Err(bad(format!(
                "unsupported KDF (only {ALGORITHM} version {ARGON2_VERSION:#x})"
            )));
        }
        let salt: [u8; SALT_LEN] = B64
            .decode(&file.kdf.salt)
            .map_err(|_| bad("salt is not base64".into()))?
            .try_into()
            .map_err(|_| bad(format!("salt must be {SALT_LEN} bytes")))?;
        // Parameters chosen under an older, weaker policy must still open.
        let params = KdfParams {
            memory_kib: file.kdf.memory_kib,
            passes: file.kdf.passes,
            lanes: file.kdf.lanes,
            allow_weak: true,
        };
        params.validate().map_err(|e| bad(e.to_string()))?;
        let sealed_master = B64
            .decode(&file.master_key.sealed)
            .map_err(|_| bad("master_key.sealed is not base64".into()))?;
        if sealed_master.len() != KEY_LEN + crate::crypto::seal::OVERHEAD {
            return Err(bad("master_key.sealed has the wrong length".into()));
        }
        let password_changed = DateTime::parse_from_rfc3339(&file.password_changed)
            .map_err(|_| bad("password_changed is not an RFC 3339 time".into()))?
            .with_timezone(&Utc);
        Ok(UserFile {
            path,
            salt,
            params,
            sealed_master,
            settings: file.settings,
            password_changed,
        })
    }

    /// Builds a new account file sealing `master` under `password`.
    pub fn new_sealed(
        dir: &Path,
        master: &MasterKey,
        password: &[u8],
        params: &KdfParams,
        settings: UserSettings,
    ) -> Result<UserFile> {
        params.validate()?;
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let kek = kdf::derive(password, &salt, params)?;
        Ok(UserFile {
            path: dir.join(USER_FILE),
            salt,
            params: KdfParams {
                allow_weak: true,
                ..*params
            },
            sealed_master: seal(&kek, MASTER_KEY_AAD, master.as_secret().as_bytes()),
            settings,
            password_changed: Utc::now(),
        })
    }

    /// Opens the master key. A wrong password is
    /// [`StoreError::WrongPassword`]; other failures are distinct errors.
    pub fn unlock(&self, password: &[u8]) -> Result<MasterKey> {
        let kek = kdf::derive(password, &self.salt, &self.params)?;
        let plain = open(&kek, MASTER_KEY_AAD, &self.sealed_master).map_err(|e| match e {
            CryptoError::Authentication { .. } => StoreError::WrongPassword,
            other => StoreError::Crypto(other),
        })?;
        let bytes: [u8; KEY_LEN] =
            plain
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::MalformedUserFile {
                    path: self.path.clone(),
                    reason: "sealed master key has the wrong length".into(),
                })?;
        Ok(MasterKey::from_secret(SecretKey::from_bytes(bytes)))
    }

    /// The non-secret settings.
    pub fn settings(&self) -> &UserSettings {
        &self.settings
    }

    /// The KDF parameters in use (`allow_weak` set: they were accepted when
    /// written).
    pub fn kdf_params(&self) -> &KdfParams {
        &self.params
    }

    /// When the password was last set.
    pub fn password_changed(&self) -> DateTime<Utc> {
        self.password_changed
    }

    fn to_toml(&self) -> Result<String> {
        let file = FileFormat {
            format: FORMAT_VERSION,
            password_changed: self
                .password_changed
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            kdf: KdfSection {
                algorithm: ALGORITHM.to_owned(),
                version: ARGON2_VERSION,
                salt: B64.encode(self.salt),
                memory_kib: self.params.memory_kib,
                passes: self.params.passes,
                lanes: self.params.lanes,
            },
            master_key: MasterKeySection {
                sealed: B64.encode(&self.sealed_master),
            },
            settings: self.settings.clone(),
        };
        toml::to_string(&file).map_err(|e| StoreError::MalformedUserFile {
            path: self.path.clone(),
            reason: format!("serialising: {e}"),
        })
    }

    /// Writes this file as `dir/user.toml` atomically
    /// ([`durable::replace`]: staged in `dir/tmp/`, fsync, rename, fsync of
    /// `dir`).
    pub fn write_atomic(&self, dir: &Path) -> Result<()> {
        let text = self.to_toml()?;
        Ok(durable::replace(
            &dir.join(TMP_DIR),
            &dir.join(USER_FILE),
            text.as_bytes(),
        )?)
    }
}

/// What a password change left behind: the backup of the previous
/// `user.toml` and when [`retire_old_backups`] removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordBackup {
    /// Path relative to the user directory, e.g.
    /// `tmp/user.toml.20261121T120000Z.bak`.
    pub path: PathBuf,
    /// From this time on, the next login or delivery removes the backup.
    pub removed_after: DateTime<Utc>,
}

const BACKUP_PREFIX: &str = "user.toml.";
const BACKUP_SUFFIX: &str = ".bak";
const BACKUP_STAMP: &str = "%Y%m%dT%H%M%SZ";

/// Re-seals the same master key under `new_password` with a fresh salt.
/// The previous `user.toml` is first hard-linked into `tmp/`; restoring
/// that backup over `user.toml` restores the old password until
/// [`retire_old_backups`] removes it, once the grace period of
/// [`UserSettings::old_password_grace`] has passed.
pub fn change_password(
    dir: &Path,
    master: &MasterKey,
    new_password: &[u8],
    params: &KdfParams,
) -> Result<PasswordBackup> {
    params.validate()?;
    let current = UserFile::load(dir)?;
    let now = Utc::now();
    let removed_after = now + current.settings.old_password_grace();
    // The stamp in the name is the change time: retirement reads it from
    // the name, because the hard link keeps the old file's mtime.
    let stamp = now.format(BACKUP_STAMP).to_string();
    let mut backup = None;
    for n in 0..100u32 {
        let name = if n == 0 {
            format!("{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}")
        } else {
            format!("{BACKUP_PREFIX}{stamp}-{n}{BACKUP_SUFFIX}")
        };
        let rel = Path::new(TMP_DIR).join(name);
        // Durable on return (`tmp/` fsynced); an existing name is left alone.
        if durable::link_exclusive(&dir.join(USER_FILE), &dir.join(&rel))? {
            backup = Some(rel);
            break;
        }
    }
    let backup = backup.ok_or_else(|| {
        StoreError::io(
            "backing up user.toml",
            io::Error::new(io::ErrorKind::AlreadyExists, "too many backups this second"),
        )
    })?;
    let new = UserFile::new_sealed(dir, master, new_password, params, current.settings)?;
    new.write_atomic(dir)?;
    Ok(PasswordBackup {
        path: backup,
        removed_after,
    })
}

/// When the backup file `name` (in `tmp/`) was made, from its name; `None`
/// for anything that is not a password-change backup.
fn backup_time(name: &str) -> Option<DateTime<Utc>> {
    let stem = name
        .strip_prefix(BACKUP_PREFIX)?
        .strip_suffix(BACKUP_SUFFIX)?;
    let stamp = stem.get(..16)?;
    let rest = &stem[16..];
    if !(rest.is_empty()
        || rest
            .strip_prefix('-')
            .is_some_and(|n| n.parse::<u32>().is_ok()))
    {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(stamp, BACKUP_STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// Removes every password-change backup in `dir/tmp/` made more than the
/// grace period of `dir/user.toml` before `now`, so an old password stops
/// opening the directory. Runs at every login and every delivery (the
/// processes that touch a user directory); best effort: an unreadable
/// `user.toml` retires with the default grace. Returns how many were
/// removed.
pub fn retire_old_backups(dir: &Path, now: DateTime<Utc>) -> Result<usize> {
    let grace = UserFile::load(dir)
        .map(|f| f.settings.old_password_grace())
        .unwrap_or_else(|_| UserSettings::default().old_password_grace());
    let tmp = dir.join(TMP_DIR);
    let entries = match fs::read_dir(&tmp) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io(format!("listing {}", tmp.display()), e)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(made) = name.to_str().and_then(backup_time) else {
            continue;
        };
        if made + grace <= now {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing an old user.toml backup", e)),
            }
        }
    }
    if removed > 0 {
        durable::sync_dir(&tmp)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::TempDir;

    fn setup() -> (TempDir, MasterKey) {
        let dir = TempDir::new("uf");
        fs::create_dir(dir.path().join(TMP_DIR)).unwrap();
        let m = MasterKey::generate();
        UserFile::new_sealed(
            dir.path(),
            &m,
            b"old password",
            &KdfParams::insecure_for_tests(),
            UserSettings::default(),
        )
        .unwrap()
        .write_atomic(dir.path())
        .unwrap();
        (dir, m)
    }

    #[test]
    fn unlock_with_right_and_wrong_password() {
        let (dir, m) = setup();
        let uf = UserFile::load(dir.path()).unwrap();
        assert_eq!(uf.unlock(b"old password").unwrap(), m);
        assert!(matches!(
            uf.unlock(b"old passwore"),
            Err(StoreError::WrongPassword)
        ));
        assert_eq!(uf.settings().key_name_pattern, "%Y-%m");
        let text = fs::read_to_string(dir.path().join(USER_FILE)).unwrap();
        assert!(text.contains("algorithm = \"argon2id\""));
        assert!(!text.contains("allow_weak"));
    }

    #[test]
    fn malformed_files_are_not_wrong_password() {
        let (dir, _) = setup();
        let good = fs::read_to_string(dir.path().join(USER_FILE)).unwrap();
        let cases = [
            good.replace("format = 1", "format = 2"),
            good.replace("argon2id", "argon2i"),
            good.replace("memory_kib = 8", "memory_kib = 4294967295"),
            "not toml [".to_owned(),
            good.replace("sealed = \"", "sealed = \"AAAA"),
            good.replace("[settings]", "[settings]\nunknown = 1"),
        ];
        for (i, text) in cases.iter().enumerate() {
            let err = UserFile::parse(PathBuf::from("x"), text).unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::MalformedUserFile { .. } | StoreError::UnsupportedVersion { .. }
                ),
                "case {i}: {err:?}"
            );
        }
        // Nothing of the content is quoted: the file may be a link to a
        // secret (issue 7).
        for text in [
            "root:$6$SECRETHASH:19000::",
            "x = \"SECRETHASH\"",
            "[kdf]\nalgorithm = \"SECRETHASH\"",
        ] {
            let err = UserFile::from_bytes(PathBuf::from("x"), text.as_bytes()).unwrap_err();
            assert!(!err.to_string().contains("SECRETHASH"), "{err}");
        }
        // A tampered salt is indistinguishable from a wrong password.
        let uf = UserFile::load(dir.path()).unwrap();
        let mut tampered = uf.clone();
        tampered.salt[0] ^= 1;
        assert!(matches!(
            tampered.unlock(b"old password"),
            Err(StoreError::WrongPassword)
        ));
    }

    #[test]
    fn change_password_and_restore_backup() {
        let (dir, m) = setup();
        let before = fs::read(dir.path().join(USER_FILE)).unwrap();
        let backup = change_password(
            dir.path(),
            &m,
            b"new password",
            &KdfParams::insecure_for_tests(),
        )
        .unwrap()
        .path;
        assert!(backup.starts_with(TMP_DIR));
        assert!(backup.to_str().unwrap().ends_with(".bak"));
        assert_eq!(fs::read(dir.path().join(&backup)).unwrap(), before);
        let uf = UserFile::load(dir.path()).unwrap();
        assert!(matches!(
            uf.unlock(b"old password"),
            Err(StoreError::WrongPassword)
        ));
        assert_eq!(uf.unlock(b"new password").unwrap(), m);
        // A second change in the same second gets a distinct backup name.
        let backup2 = change_password(
            dir.path(),
            &m,
            b"third password",
            &KdfParams::insecure_for_tests(),
        )
        .unwrap()
        .path;
        assert_ne!(backup, backup2);
        fs::copy(dir.path().join(&backup), dir.path().join(USER_FILE)).unwrap();
        let restored = UserFile::load(dir.path()).unwrap();
        assert_eq!(restored.unlock(b"old password").unwrap(), m);
        assert!(matches!(
            restored.unlock(b"new password"),
            Err(StoreError::WrongPassword)
        ));
        let leftovers: Vec<_> = fs::read_dir(dir.path().join(TMP_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.ends_with(".bak"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn backups_retire_after_the_grace_period_and_only_backups() {
        let (dir, m) = setup();
        let b = change_password(dir.path(), &m, b"new", &KdfParams::insecure_for_tests()).unwrap();
        let made = b.removed_after - chrono::Duration::hours(72);
        let tmp = dir.path().join(TMP_DIR);
        fs::write(tmp.join("user.toml.garbage.bak"), b"x").unwrap();
        fs::write(tmp.join("0123.tmp"), b"x").unwrap();
        // Within the grace: kept.
        assert_eq!(
            retire_old_backups(dir.path(), made + chrono::Duration::hours(71)).unwrap(),
            0
        );
        assert!(dir.path().join(&b.path).exists());
        // After: gone; what is not a backup stays.
        assert_eq!(retire_old_backups(dir.path(), b.removed_after).unwrap(), 1);
        assert!(!dir.path().join(&b.path).exists());
        assert!(tmp.join("user.toml.garbage.bak").exists());
        assert!(tmp.join("0123.tmp").exists());
        assert_eq!(
            backup_time("user.toml.20261121T120000Z-3.bak")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2026-11-21T12:00:00+00:00")
        );
        assert_eq!(backup_time("user.toml.20261121T120000Z-x.bak"), None);
        // A shorter grace set in user.toml applies.
        let mut uf = UserFile::load(dir.path()).unwrap();
        uf.settings.old_password_grace_hours = Some(1);
        uf.write_atomic(dir.path()).unwrap();
        let b = change_password(dir.path(), &m, b"n2", &KdfParams::insecure_for_tests()).unwrap();
        assert_eq!(retire_old_backups(dir.path(), b.removed_after).unwrap(), 1);
        assert!(fs::read_to_string(dir.path().join(USER_FILE))
            .unwrap()
            .contains("old_password_grace_hours = 1"));
    }

    #[test]
    fn change_password_refuses_weak_params() {
        let (dir, m) = setup();
        let weak = KdfParams {
            allow_weak: false,
            ..KdfParams::insecure_for_tests()
        };
        assert!(change_password(dir.path(), &m, b"x", &weak).is_err());
        assert!(UserFile::load(dir.path())
            .unwrap()
            .unlock(b"old password")
            .is_ok());
    }
}
