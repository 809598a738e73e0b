//! Account creation: the user directory skeleton, the first key pair, the
//! default mailboxes and `user.toml`, plus password generation. Never
//! changes ownership (the caller, `cli`, chowns) and never touches an
//! existing non-empty directory.
//!
//! `user.toml` is written last: until it exists the account cannot be
//! opened, so a crash during creation leaves an unusable, non-empty
//! directory that the administrator removes before retrying, never a
//! half-initialised account that accepts logins.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chrono::Utc;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;

use super::account::{AccountLog, SpecialUse, MAILBOXES_DIR};
use super::error::{Result, StoreError};
use super::user_file::{UserFile, UserSettings, TMP_DIR};
use crate::crypto::kdf::KdfParams;
use crate::crypto::keystore::KeyStore;
use crate::crypto::secret::MasterKey;
use crate::sys::durable::{self, DIR_MODE};

/// Subdirectories of a user directory, all mode 0700.
pub const SUBDIRS: [&str; 6] = [
    "keys",
    MAILBOXES_DIR,
    "account",
    "spool",
    TMP_DIR,
    super::marks::MARKS_DIR,
];

/// The mailboxes every new account gets, all subscribed.
pub const DEFAULT_MAILBOXES: [(&str, Option<SpecialUse>); 6] = [
    ("INBOX", None),
    ("Archive", Some(SpecialUse::Archive)),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Sent", Some(SpecialUse::Sent)),
    ("Spam", Some(SpecialUse::Junk)),
    ("Trash", Some(SpecialUse::Trash)),
];

/// Letters and digits that cannot be confused with each other (no 0/O,
/// 1/l/I), so a printed password can be typed back.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Length of generated passwords: 24 symbols of ~5.8 bits, ~140 bits.
pub const GENERATED_PASSWORD_LEN: usize = 24;

/// A random password from an unambiguous alphabet, via the OS CSPRNG.
pub fn generate_password() -> String {
    (0..GENERATED_PASSWORD_LEN)
        .filter_map(|_| PASSWORD_ALPHABET.choose(&mut OsRng))
        .map(|&b| char::from(b))
        .collect()
}

/// Creates a complete account in `dir`: directories, master key, the
/// current key pair (named with `key_pattern`), the default mailboxes
/// (subscribed), and `user.toml` sealing the master key under `password`.
pub fn create_user(dir: &Path, password: &[u8], kdf: &KdfParams, key_pattern: &str) -> Result<()> {
    kdf.validate()?;
    let keys = KeyStore::new(dir.join("keys")).with_pattern(key_pattern)?;
    prepare_dir(dir)?;
    for sub in SUBDIRS {
        durable::create_dir(&dir.join(sub))?;
    }
    let master = MasterKey::generate();
    keys.ensure_current(&master, Utc::now())?;
    let mut account = AccountLog::open(dir, &master)?;
    for (name, special_use) in DEFAULT_MAILBOXES {
        let su: Vec<SpecialUse> = special_use.into_iter().collect();
        account.create(name, &su)?;
        account.subscribe(name)?;
    }
    let settings = UserSettings {
        key_name_pattern: key_pattern.to_owned(),
        old_password_grace_hours: None,
    };
    UserFile::new_sealed(dir, &master, password, kdf, settings)?.write_atomic(dir)?;
    Ok(durable::sync_dir(dir)?)
}

/// Makes `dir` exist, empty, mode [`DIR_MODE`]; refuses a non-empty one.
fn prepare_dir(dir: &Path) -> Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(StoreError::DirectoryNotEmpty {
                    path: dir.to_owned(),
                });
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
                .map_err(|e| StoreError::io(format!("setting mode of {}", dir.display()), e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)
                    .map_err(|e| StoreError::io(format!("creating {}", parent.display()), e))?;
            }
            durable::create_dir(dir)?;
            Ok(())
        }
        Err(e) => Err(StoreError::io(format!("reading {}", dir.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::all_files;
    use crate::crypto::test_util::TempDir;
    use crate::store::account::MailboxName;
    use crate::store::user_file::{change_password, USER_FILE};

    const PASSWORD: &[u8] = b"hunter2-but-longer-Xq9";

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn created_account_leaks_neither_password_nor_master_key() {
        let tmp = TempDir::new("create");
        let dir = tmp.path().join("users").join("alice");
        create_user(&dir, PASSWORD, &KdfParams::insecure_for_tests(), "%Y-%m").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for sub in SUBDIRS {
            assert_eq!(mode(&dir.join(sub)), 0o700, "{sub}");
        }
        let master = UserFile::load(&dir).unwrap().unlock(PASSWORD).unwrap();
        assert!(matches!(
            UserFile::load(&dir).unwrap().unlock(b"wrong"),
            Err(StoreError::WrongPassword)
        ));
        let mut secrets: Vec<Vec<u8>> = vec![
            PASSWORD.to_vec(),
            master.as_secret().as_bytes().to_vec(),
            master.subkey("account-log").as_bytes().to_vec(),
            master.subkey("keypair-private").as_bytes().to_vec(),
            b"Archive".to_vec(),
            b"Trash".to_vec(),
        ];
        // Also the base64 form of the master key, in case of a TOML leak.
        use base64::Engine;
        secrets.push(
            base64::engine::general_purpose::STANDARD
                .encode(master.as_secret().as_bytes())
                .into_bytes(),
        );
        let mut files = Vec::new();
        all_files(&dir, &mut files);
        assert!(files.len() >= 4, "{files:?}");
        for f in &files {
            let bytes = fs::read(f).unwrap();
            for s in &secrets {
                assert!(!contains(&bytes, s), "{} leaks a secret", f.display());
            }
        }
        let account = AccountLog::open(&dir, &master).unwrap();
        let st = account.state();
        let got: Vec<(String, Vec<SpecialUse>)> = st
            .mailboxes()
            .map(|m| (m.name.to_string(), m.special_use.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("Archive".to_owned(), vec![SpecialUse::Archive]),
                ("Drafts".to_owned(), vec![SpecialUse::Drafts]),
                ("INBOX".to_owned(), vec![]),
                ("Sent".to_owned(), vec![SpecialUse::Sent]),
                ("Spam".to_owned(), vec![SpecialUse::Junk]),
                ("Trash".to_owned(), vec![SpecialUse::Trash]),
            ]
        );
        for m in st.mailboxes() {
            assert!(st.is_subscribed(&m.name));
            assert!(dir.join(MAILBOXES_DIR).join(m.id.to_string()).is_dir());
        }
        assert!(st.is_subscribed(&MailboxName::inbox()));
        let keys = KeyStore::new(dir.join("keys"));
        assert_eq!(keys.list().unwrap().len(), 1);
        keys.current_public(Utc::now()).unwrap();
    }

    #[test]
    fn password_change_then_backup_restore() {
        let tmp = TempDir::new("create");
        let dir = tmp.path().join("bob");
        create_user(&dir, PASSWORD, &KdfParams::insecure_for_tests(), "%Y").unwrap();
        let master = UserFile::load(&dir).unwrap().unlock(PASSWORD).unwrap();
        let backup =
            change_password(&dir, &master, b"new-pass", &KdfParams::insecure_for_tests()).unwrap();
        let uf = UserFile::load(&dir).unwrap();
        assert!(matches!(
            uf.unlock(PASSWORD),
            Err(StoreError::WrongPassword)
        ));
        assert_eq!(uf.unlock(b"new-pass").unwrap(), master);
        assert_eq!(uf.settings().key_name_pattern, "%Y");
        fs::copy(dir.join(&backup.path), dir.join(USER_FILE)).unwrap();
        let restored = UserFile::load(&dir).unwrap();
        assert_eq!(restored.unlock(PASSWORD).unwrap(), master);
        let mut files = Vec::new();
        all_files(&dir, &mut files);
        for f in files {
            let bytes = fs::read(&f).unwrap();
            assert!(!contains(&bytes, b"new-pass"), "{}", f.display());
        }
    }

    #[test]
    fn refuses_non_empty_dir_and_bad_inputs() {
        let tmp = TempDir::new("create");
        fs::write(tmp.path().join("stray"), b"x").unwrap();
        assert!(matches!(
            create_user(
                tmp.path(),
                PASSWORD,
                &KdfParams::insecure_for_tests(),
                "%Y-%m"
            ),
            Err(StoreError::DirectoryNotEmpty { .. })
        ));
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let weak = KdfParams {
            allow_weak: false,
            ..KdfParams::insecure_for_tests()
        };
        assert!(create_user(&empty, PASSWORD, &weak, "%Y-%m").is_err());
        assert!(create_user(&empty, PASSWORD, &KdfParams::insecure_for_tests(), "%Y/%m").is_err());
        assert_eq!(
            fs::read_dir(&empty).unwrap().count(),
            0,
            "failed create left files"
        );
        create_user(&empty, PASSWORD, &KdfParams::insecure_for_tests(), "%Y-%m").unwrap();
        assert!(matches!(
            create_user(&empty, PASSWORD, &KdfParams::insecure_for_tests(), "%Y-%m"),
            Err(StoreError::DirectoryNotEmpty { .. })
        ));
    }

    #[test]
    fn default_kdf_account_unlocks() {
        let tmp = TempDir::new("create");
        let dir = tmp.path().join("strong");
        create_user(&dir, PASSWORD, &KdfParams::default(), "%Y-%m").unwrap();
        let uf = UserFile::load(&dir).unwrap();
        assert_eq!(uf.kdf_params().memory_kib, 19_456);
        assert!(uf.unlock(PASSWORD).is_ok());
    }

    #[test]
    fn generated_passwords() {
        let a = generate_password();
        assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
        assert!(a.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(a, generate_password());
    }
}
