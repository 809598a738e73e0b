//! The X25519 key store in the user's `keys/` directory and the wrapping of
//! per-message content keys.
//!
//! Files: `NAME.pub` holds the raw 32-byte public key in the clear (so
//! `deliver` can encrypt without the password); `NAME.priv` holds the
//! 32-byte private key sealed under `master.subkey("keypair-private")` with
//! AAD `"crymap-like keypair-private v1\0" || NAME`. Names come from a
//! strftime pattern (default `%Y-%m`, formatted in UTC). Pairs are created
//! with hard links, which never replace an existing file, so two sessions
//! racing to create a period's pair cannot destroy a key that already
//! encrypted mail. Old pairs are kept forever. Never deletes a key file.
//!
//! The public halves are written by the session but read by `deliver`,
//! which has no master key and so cannot authenticate them. Their
//! authenticator is the sealed private half: `NAME.pub` is genuine iff it
//! equals X25519(unseal(`NAME.priv`)), an AEAD under a master-derived key
//! bound to NAME. [`KeyStore::verify_public_keys`] checks at login every
//! pair whose files changed since it last found them genuine (see
//! `crypto::key_audit`), rewrites a replaced public half from its private
//! half, and sets aside (renames, never deletes) public halves no genuine
//! private half vouches for.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
pub(crate) use x25519_dalek::PublicKey;
use x25519_dalek::StaticSecret;

use super::key_audit::{self, Checked, Stamp};
use super::seal::{open, seal};
use super::secret::{MasterKey, SecretKey, KEY_LEN};
use super::CryptoError;
use crate::sys::durable;

/// The key-name pattern used when the user has not chosen one.
pub(crate) const DEFAULT_KEY_PATTERN: &str = "%Y-%m";
/// Purpose string of the subkey that seals private keys.
pub(crate) const PRIVATE_KEY_PURPOSE: &str = "keypair-private";
/// Purpose string of the subkey that wraps content keys for a session.
pub(crate) const MASTER_WRAP_PURPOSE: &str = "content-key-wrap";

const PRIV_AAD_PREFIX: &[u8] = b"crymap-like keypair-private v1\0";
const X25519_WRAP_INFO: &[u8] = b"crymap-like content-key wrap x25519 v1";
const X25519_WRAP_AAD: &[u8] = b"crymap-like wrapped content key x25519 v1\0";
const MASTER_WRAP_AAD: &[u8] = b"crymap-like wrapped content key master v1";
const MAX_NAME_LEN: usize = 64;
/// The most read of a `NAME.priv` file (a sealed 32-byte key is far
/// smaller): a link, a FIFO or a longer file planted there is refused.
const MAX_PRIVATE_FILE: u64 = 4096;

/// The validated name of a key pair: 1 to 64 characters from
/// `[A-Za-z0-9._-]`, not starting with `.`, so it is always a plain file
/// name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyName(String);

impl KeyName {
    /// Validates a name.
    pub fn new(name: String) -> Result<Self, CryptoError> {
        let bad = |reason| {
            Err(CryptoError::InvalidKeyName {
                name: name.clone(),
                reason,
            })
        };
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return bad("length must be 1 to 64");
        }
        if name.starts_with('.') {
            return bad("must not start with '.'");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad("only letters, digits, '.', '_' and '-' are allowed");
        }
        Ok(KeyName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyName {
    type Error = CryptoError;
    fn try_from(s: String) -> Result<Self, CryptoError> {
        KeyName::new(s)
    }
}

impl From<KeyName> for String {
    fn from(k: KeyName) -> String {
        k.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a content key was wrapped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WrapMethod {
    /// Sealed under `master.subkey("content-key-wrap")`: written by a
    /// logged-in session.
    Master,
    /// Sealed under a key agreed between an ephemeral X25519 key and a
    /// stored key pair: written by `deliver`, which has no master key.
    X25519 {
        /// The recipient key pair.
        key_name: KeyName,
        /// The sender's ephemeral public key.
        ephemeral_public: [u8; 32],
    },
}

/// A per-message content key, wrapped so only the account can unwrap it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// How to unwrap it.
    pub method: WrapMethod,
    /// The sealed content key (`seal` format).
    pub sealed: Vec<u8>,
}

fn x25519_kek(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> SecretKey {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut out = [0u8; KEY_LEN];
    hk.expand(X25519_WRAP_INFO, &mut out)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    let key = SecretKey::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    key
}

fn x25519_aad(name: &KeyName) -> Vec<u8> {
    let mut aad = X25519_WRAP_AAD.to_vec();
    aad.extend_from_slice(name.as_str().as_bytes());
    aad
}

fn key_from_plain(plain: &[u8], what: &'static str) -> Result<SecretKey, CryptoError> {
    let bytes: [u8; KEY_LEN] = plain.try_into().map_err(|_| CryptoError::Malformed {
        what,
        reason: format!("expected {KEY_LEN} bytes, got {}", plain.len()),
    })?;
    Ok(SecretKey::from_bytes(bytes))
}

/// Wraps `content_key` to the public key `public` of pair `name`
/// (ephemeral X25519, HKDF-SHA-256 over the shared secret with both public
/// keys as salt, then [`seal`]). Needs no secret of the account.
pub(crate) fn wrap_to_public(
    name: &KeyName,
    public: &PublicKey,
    content_key: &SecretKey,
) -> Result<WrappedKey, CryptoError> {
    let ephemeral = StaticSecret::random_from_rng(OsRng);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(public);
    if !shared.was_contributory() {
        return Err(CryptoError::WeakPublicKey {
            name: name.to_string(),
        });
    }
    let kek = x25519_kek(shared.as_bytes(), &ephemeral_public, public.as_bytes());
    Ok(WrappedKey {
        sealed: seal(&kek, &x25519_aad(name), content_key.as_bytes()),
        method: WrapMethod::X25519 {
            key_name: name.clone(),
            ephemeral_public,
        },
    })
}

/// Wraps `content_key` under the master key, for content a logged-in
/// session writes itself.
pub(crate) fn wrap_under_master(master: &MasterKey, content_key: &SecretKey) -> WrappedKey {
    WrappedKey {
        method: WrapMethod::Master,
        sealed: seal(
            &master.subkey(MASTER_WRAP_PURPOSE),
            MASTER_WRAP_AAD,
            content_key.as_bytes(),
        ),
    }
}

/// What [`KeyStore::verify_public_keys`] found and repaired.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyAudit {
    /// Pairs whose public half had been replaced; rewritten from the
    /// private half.
    pub restored: Vec<KeyName>,
    /// Public halves that no genuine private half vouches for (no private
    /// half, or one that does not authenticate): renamed to
    /// `NAME.pub.rejected` (and `NAME.priv.rejected`) so nothing encrypts
    /// to them any more.
    pub rejected: Vec<KeyName>,
    /// Pairs checked in full (private half unsealed, public half derived);
    /// the others had not changed since an earlier login found them
    /// genuine.
    pub checked: usize,
}

impl KeyAudit {
    /// True when every public key was genuine.
    pub fn is_clean(&self) -> bool {
        self.restored.is_empty() && self.rejected.is_empty()
    }
}

/// Renames `path` to `path.rejected` (or `.rejected-N` when taken): set
/// aside for inspection, never deleted.
fn set_aside(path: &Path) -> Result<(), CryptoError> {
    for n in 0..100u32 {
        let mut dest = path.as_os_str().to_owned();
        if n == 0 {
            dest.push(".rejected");
        } else {
            dest.push(format!(".rejected-{n}"));
        }
        let dest = PathBuf::from(dest);
        if exists(&dest)? {
            continue;
        }
        return fs::rename(path, &dest)
            .map_err(|e| CryptoError::io(format!("setting aside {}", path.display()), e));
    }
    Err(CryptoError::io(
        format!("setting aside {}", path.display()),
        io::Error::other("too many rejected copies"),
    ))
}

/// The key pairs of one account.
pub struct KeyStore {
    dir: PathBuf,
    pattern: String,
    /// Unsealed private keys; `StaticSecret` zeroises itself on drop.
    cache: Mutex<HashMap<KeyName, StaticSecret>>,
}

impl KeyStore {
    /// The key store in `dir` with the default `%Y-%m` naming.
    pub fn new(dir: PathBuf) -> Self {
        KeyStore {
            dir,
            pattern: DEFAULT_KEY_PATTERN.to_owned(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `pattern` (strftime, UTC) to name new pairs. Rejected if it does
    /// not format, or formats to an invalid [`KeyName`].
    pub fn with_pattern(mut self, pattern: &str) -> Result<Self, CryptoError> {
        name_for(pattern, Utc::now())?;
        self.pattern = pattern.to_owned();
        Ok(self)
    }

    /// The directory holding the key files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name of the pair for the period containing `now`.
    pub fn name_for(&self, now: DateTime<Utc>) -> Result<KeyName, CryptoError> {
        name_for(&self.pattern, now)
    }

    fn pub_path(&self, name: &KeyName) -> PathBuf {
        self.dir.join(format!("{name}.pub"))
    }

    fn priv_path(&self, name: &KeyName) -> PathBuf {
        self.dir.join(format!("{name}.priv"))
    }

    /// Makes sure the pair for the current period exists, creating it if
    /// needed, and returns its name.
    pub fn ensure_current(
        &self,
        master: &MasterKey,
        now: DateTime<Utc>,
    ) -> Result<KeyName, CryptoError> {
        let name = self.name_for(now)?;
        let priv_path = self.priv_path(&name);
        if !exists(&priv_path)? {
            let secret = StaticSecret::random_from_rng(OsRng);
            let mut aad = PRIV_AAD_PREFIX.to_vec();
            aad.extend_from_slice(name.as_str().as_bytes());
            let sealed = seal(&master.subkey(PRIVATE_KEY_PURPOSE), &aad, secret.as_bytes());
            // Losing the race to another session is fine: its pair wins and
            // ours was never used.
            durable::write_new(&self.dir, &priv_path, &sealed)?;
        }
        // Also repairs a crash between writing the private and public halves.
        if !exists(&self.pub_path(&name))? {
            let secret = self.private_key(master, &name)?;
            let public = PublicKey::from(&secret);
            durable::write_new(&self.dir, &self.pub_path(&name), public.as_bytes())?;
        }
        Ok(name)
    }

    /// The public key to encrypt new mail to: the current period's pair, or
    /// the most recently created pair if that one does not exist yet.
    pub fn current_public(&self, now: DateTime<Utc>) -> Result<(KeyName, PublicKey), CryptoError> {
        let name = self.name_for(now)?;
        if let Some(pk) = self.read_public(&name)? {
            return Ok((name, pk));
        }
        let newest = self.newest_pair()?.ok_or_else(|| CryptoError::NoKeyPair {
            dir: self.dir.clone(),
        })?;
        let pk = self
            .read_public(&newest)?
            .ok_or_else(|| CryptoError::KeyNotFound {
                name: newest.to_string(),
            })?;
        Ok((newest, pk))
    }

    /// Reads `NAME.pub`, `None` if absent. Read by delivery without any
    /// secret to authenticate it (the login's audit does, `key_audit`), so
    /// it is only bounded: no link followed, no FIFO waited on, no more than
    /// a key's 32 bytes read (anything else is an error).
    pub fn read_public(&self, name: &KeyName) -> Result<Option<PublicKey>, CryptoError> {
        let path = self.pub_path(name);
        match durable::read_bounded(&path, 32) {
            Ok(bytes) => {
                let arr: [u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| CryptoError::Malformed {
                            what: "public key file",
                            reason: format!(
                                "{} holds {} bytes, expected 32",
                                path.display(),
                                bytes.len()
                            ),
                        })?;
                Ok(Some(PublicKey::from(arr)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CryptoError::io(format!("reading {}", path.display()), e)),
        }
    }

    /// Names of all complete pairs (both files present), sorted.
    pub fn list(&self) -> Result<Vec<KeyName>, CryptoError> {
        Ok(self.scan()?.into_iter().map(|(n, _)| n).collect())
    }

    fn scan(&self) -> Result<Vec<(KeyName, std::time::SystemTime)>, CryptoError> {
        let ctx = || format!("listing {}", self.dir.display());
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| CryptoError::io(ctx(), e))? {
            let entry = entry.map_err(|e| CryptoError::io(ctx(), e))?;
            let file_name = entry.file_name();
            let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".pub")) else {
                continue;
            };
            let Ok(name) = KeyName::new(stem.to_owned()) else {
                continue;
            };
            if !exists(&self.priv_path(&name))? {
                continue;
            }
            let mtime = entry
                .metadata()
                .and_then(|m| m.modified())
                .map_err(|e| CryptoError::io(ctx(), e))?;
            out.push((name, mtime));
        }
        out.sort();
        Ok(out)
    }

    fn newest_pair(&self) -> Result<Option<KeyName>, CryptoError> {
        Ok(self
            .scan()?
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
            .map(|(n, _)| n))
    }

    fn private_key(&self, master: &MasterKey, name: &KeyName) -> Result<StaticSecret, CryptoError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = cache.get(name) {
            return Ok(s.clone());
        }
        let path = self.priv_path(name);
        let sealed = match durable::read_bounded(&path, MAX_PRIVATE_FILE) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CryptoError::KeyNotFound {
                    name: name.to_string(),
                })
            }
            Err(e) => return Err(CryptoError::io(format!("reading {}", path.display()), e)),
        };
        let mut aad = PRIV_AAD_PREFIX.to_vec();
        aad.extend_from_slice(name.as_str().as_bytes());
        let plain = open(&master.subkey(PRIVATE_KEY_PURPOSE), &aad, &sealed)?;
        let key = key_from_plain(&plain, "private key file")?;
        let secret = StaticSecret::from(*key.as_bytes());
        cache.insert(name.clone(), secret.clone());
        Ok(secret)
    }

    /// Checks pair `name`: its private key unseals under `master` and
    /// belongs to its public key (for integrity checks).
    pub fn verify_pair(&self, master: &MasterKey, name: &KeyName) -> Result<(), CryptoError> {
        let secret = self.private_key(master, name)?;
        match self.read_public(name)? {
            Some(public) if public == PublicKey::from(&secret) => Ok(()),
            Some(_) => Err(CryptoError::Malformed {
                what: "key pair",
                reason: format!("{name}.pub does not belong to {name}.priv"),
            }),
            None => Err(CryptoError::KeyNotFound {
                name: name.to_string(),
            }),
        }
    }

    /// Checks every `NAME.pub` against its sealed private half (see the
    /// module documentation): a replaced public half is rewritten from the
    /// private one; a public half with no private half, or whose private
    /// half fails authentication, is set aside with that private half.
    /// Costs one AEAD open and one scalar multiplication per pair changed
    /// since the last login that found it genuine (`crypto::key_audit`),
    /// and a directory listing and two `stat`s per pair for the rest.
    pub fn verify_public_keys(&self, master: &MasterKey) -> Result<KeyAudit, CryptoError> {
        self.verify_public_keys_at(master, SystemTime::now())
    }

    /// [`KeyStore::verify_public_keys`] as of `now` (tests move it on so
    /// that files they just wrote count as settled).
    fn verify_public_keys_at(
        &self,
        master: &MasterKey,
        now: SystemTime,
    ) -> Result<KeyAudit, CryptoError> {
        let ctx = || format!("listing {}", self.dir.display());
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| CryptoError::io(ctx(), e))? {
            let entry = entry.map_err(|e| CryptoError::io(ctx(), e))?;
            let file_name = entry.file_name();
            if let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".pub")) {
                // A `.pub` whose stem is no valid name is never read either.
                if let Ok(name) = KeyName::new(stem.to_owned()) {
                    names.push(name);
                }
            }
        }
        names.sort();
        let audit_key = master.subkey(key_audit::PURPOSE);
        let known = key_audit::read(&self.dir, &audit_key);
        let mut genuine_now: Vec<Checked> = Vec::with_capacity(names.len());
        let mut audit = KeyAudit::default();
        for name in names {
            let stamps =
                |ks: &KeyStore| Stamp::of(&ks.pub_path(&name)).zip(Stamp::of(&ks.priv_path(&name)));
            if let Some((public, private)) = stamps(self) {
                let unchanged = known.iter().find(|c| {
                    c.name == name.as_str() && c.public == public && c.private == private
                });
                if let Some(c) = unchanged {
                    genuine_now.push(c.clone());
                    continue;
                }
            }
            audit.checked += 1;
            match self.private_key(master, &name) {
                Ok(secret) => {
                    let genuine = PublicKey::from(&secret);
                    let found = self.read_public(&name).ok().flatten();
                    if found.map(|p| p.to_bytes()) != Some(genuine.to_bytes()) {
                        durable::replace(&self.dir, &self.pub_path(&name), genuine.as_bytes())?;
                        log::error!("public key {name} had been replaced; restored");
                        audit.restored.push(name.clone());
                    }
                    // Stamped after any repair; a file changed just now is
                    // checked again next time rather than trusted.
                    if let Some((public, private)) = stamps(self) {
                        if public.settled(now) && private.settled(now) {
                            genuine_now.push(Checked {
                                name: name.as_str().to_owned(),
                                public,
                                private,
                            });
                        }
                    }
                }
                Err(CryptoError::KeyNotFound { .. }) => {
                    set_aside(&self.pub_path(&name))?;
                    log::error!("public key {name} has no private half; set aside");
                    audit.rejected.push(name);
                }
                Err(
                    CryptoError::Authentication { .. }
                    | CryptoError::Truncated { .. }
                    | CryptoError::Malformed { .. },
                ) => {
                    set_aside(&self.pub_path(&name))?;
                    set_aside(&self.priv_path(&name))?;
                    log::error!("key pair {name} is not this account's; set aside");
                    audit.rejected.push(name);
                }
                Err(e) => return Err(e),
            }
        }
        if genuine_now != known {
            if let Err(e) = key_audit::write(&self.dir, &audit_key, &genuine_now) {
                log::warn!("recording the checked key pairs: {e}");
            }
        }
        Ok(audit)
    }

    /// Recovers a content key wrapped by [`wrap_to_public`] or
    /// [`wrap_under_master`].
    pub fn unwrap(
        &self,
        master: &MasterKey,
        wrapped: &WrappedKey,
    ) -> Result<SecretKey, CryptoError> {
        let plain = match &wrapped.method {
            WrapMethod::Master => open(
                &master.subkey(MASTER_WRAP_PURPOSE),
                MASTER_WRAP_AAD,
                &wrapped.sealed,
            )?,
            WrapMethod::X25519 {
                key_name,
                ephemeral_public,
            } => {
                let secret = self.private_key(master, key_name)?;
                let recipient = PublicKey::from(&secret);
                let shared = secret.diffie_hellman(&PublicKey::from(*ephemeral_public));
                if !shared.was_contributory() {
                    return Err(CryptoError::Authentication {
                        what: "wrapped content key",
                    });
                }
                let kek = x25519_kek(shared.as_bytes(), ephemeral_public, recipient.as_bytes());
                open(&kek, &x25519_aad(key_name), &wrapped.sealed)?
            }
        };
        key_from_plain(&plain, "wrapped content key")
    }
}

fn name_for(pattern: &str, now: DateTime<Utc>) -> Result<KeyName, CryptoError> {
    let mut name = String::new();
    // Formatting with an invalid specifier returns fmt::Error here rather
    // than panicking as `to_string()` would.
    write!(name, "{}", now.format(pattern)).map_err(|_| CryptoError::InvalidKeyPattern {
        pattern: pattern.to_owned(),
    })?;
    KeyName::new(name)
}

fn exists(path: &Path) -> Result<bool, CryptoError> {
    path.try_exists()
        .map_err(|e| CryptoError::io(format!("checking {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_util::TempDir;
    use chrono::TimeZone;

    fn at(y: i32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, 15, 12, 0, 0).unwrap()
    }

    /// A fresh store holding January 2026's pair: its directory (kept
    /// alive), the master key, the store, the pair's name and public half.
    fn store_with_january_pair() -> (TempDir, MasterKey, KeyStore, KeyName, PublicKey) {
        let dir = TempDir::new("ks");
        let m = MasterKey::generate();
        let ks = KeyStore::new(dir.path().to_owned());
        let a = ks.ensure_current(&m, at(2026, 1)).unwrap();
        let pk = ks.read_public(&a).unwrap().unwrap();
        (dir, m, ks, a, pk)
    }

    /// `NAME.pub` (read by delivery, which has no secret to check it)
    /// replaced by a FIFO, a link (to /dev/zero, to another user's file) or
    /// a longer file: an error at once, so delivery fails temporarily and
    /// the login's audit restores the key. Before, a FIFO hung every
    /// delivery; `NAME.priv` is bounded the same way.
    #[test]
    fn hostile_key_files_are_errors_not_waits() {
        use crate::crypto::test_util::{finishes, Hostile};
        let (dir, m, ks, a, pk) = store_with_january_pair();
        let sealed_private = fs::read(ks.priv_path(&a)).unwrap();
        for what in Hostile::all(32) {
            what.plant(&ks.pub_path(&a));
            let (d, n) = (dir.path().to_owned(), a.clone());
            let r = finishes("reading a public key", move || {
                KeyStore::new(d).read_public(&n).map(|_| ())
            });
            assert!(r.is_err(), "{what:?}");
        }
        let report = ks.verify_public_keys(&m).unwrap();
        assert_eq!(report.restored, std::slice::from_ref(&a));
        assert_eq!(
            ks.read_public(&a).unwrap().unwrap().to_bytes(),
            pk.to_bytes()
        );
        for what in Hostile::all(MAX_PRIVATE_FILE) {
            what.plant(&ks.priv_path(&a));
            let (d, n, key) = (dir.path().to_owned(), a.clone(), m.clone());
            let r = finishes("reading a private key", move || {
                KeyStore::new(d).private_key(&key, &n).map(|_| ())
            });
            assert!(r.is_err(), "{what:?}");
        }
        std::fs::remove_file(ks.priv_path(&a)).unwrap();
        std::fs::write(ks.priv_path(&a), sealed_private).unwrap();
        assert!(ks.verify_pair(&m, &a).is_ok());
    }

    #[test]
    fn creates_one_pair_per_month_and_keeps_old() {
        let (dir, m, ks, a, pk_a) = store_with_january_pair();
        assert_eq!(a.as_str(), "2026-01");
        assert_eq!(ks.ensure_current(&m, at(2026, 1)).unwrap(), a);
        assert_eq!(ks.read_public(&a).unwrap().unwrap(), pk_a, "pair replaced");
        let b = ks.ensure_current(&m, at(2026, 2)).unwrap();
        assert_eq!(ks.list().unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(ks.current_public(at(2026, 2)).unwrap().0, b);
        assert_eq!(ks.current_public(at(2026, 1)).unwrap(), (a, pk_a));
        let priv_bytes = fs::read(dir.path().join("2026-01.priv")).unwrap();
        assert_eq!(priv_bytes.len(), 24 + 32 + 16);
    }

    #[test]
    fn current_public_falls_back_to_newest() {
        let dir = TempDir::new("ks");
        let ks = KeyStore::new(dir.path().to_owned());
        assert!(matches!(
            ks.current_public(at(2026, 3)),
            Err(CryptoError::NoKeyPair { .. })
        ));
        let m = MasterKey::generate();
        let old = ks.ensure_current(&m, at(2025, 12)).unwrap();
        assert_eq!(ks.current_public(at(2026, 3)).unwrap().0, old);
    }

    #[test]
    fn wrap_and_unwrap_both_methods() {
        let dir = TempDir::new("ks");
        let m = MasterKey::generate();
        let ks = KeyStore::new(dir.path().to_owned());
        let name = ks.ensure_current(&m, at(2026, 5)).unwrap();
        let (n2, pk) = ks.current_public(at(2026, 5)).unwrap();
        assert_eq!(n2, name);
        let ck = SecretKey::generate();
        let w = wrap_to_public(&name, &pk, &ck).unwrap();
        // A fresh store (no cache) must unseal the private key from disk.
        let fresh = KeyStore::new(dir.path().to_owned());
        assert_eq!(fresh.unwrap(&m, &w).unwrap(), ck);
        assert_eq!(ks.unwrap(&m, &w).unwrap(), ck);
        let wm = wrap_under_master(&m, &ck);
        assert_eq!(ks.unwrap(&m, &wm).unwrap(), ck);
        assert!(ks.unwrap(&MasterKey::generate(), &wm).is_err());
        assert!(fresh_unwrap_fails_with_other_master(dir.path(), &w));
        let mut bad = w.clone();
        bad.sealed[30] ^= 1;
        assert!(matches!(
            ks.unwrap(&m, &bad),
            Err(CryptoError::Authentication { .. })
        ));
        let mut renamed = w.clone();
        if let WrapMethod::X25519 { key_name, .. } = &mut renamed.method {
            *key_name = KeyName::new("2099-01".into()).unwrap();
        }
        assert!(matches!(
            ks.unwrap(&m, &renamed),
            Err(CryptoError::KeyNotFound { .. })
        ));
    }

    fn fresh_unwrap_fails_with_other_master(dir: &Path, w: &WrappedKey) -> bool {
        KeyStore::new(dir.to_owned())
            .unwrap(&MasterKey::generate(), w)
            .is_err()
    }

    #[test]
    fn private_key_bound_to_its_name() {
        let (dir, m, _, a, pk) = store_with_january_pair();
        let w = wrap_to_public(&a, &pk, &SecretKey::generate()).unwrap();
        // Swapping the sealed private file under another name must fail.
        let b = KeyName::new("other".into()).unwrap();
        fs::copy(
            dir.path().join("2026-01.priv"),
            dir.path().join("other.priv"),
        )
        .unwrap();
        fs::copy(dir.path().join("2026-01.pub"), dir.path().join("other.pub")).unwrap();
        let mut moved = w.clone();
        if let WrapMethod::X25519 { key_name, .. } = &mut moved.method {
            *key_name = b;
        }
        assert!(KeyStore::new(dir.path().to_owned())
            .unwrap(&m, &moved)
            .is_err());
    }

    #[test]
    fn missing_public_half_is_repaired() {
        let (dir, m, ks, a, pk) = store_with_january_pair();
        fs::remove_file(dir.path().join("2026-01.pub")).unwrap();
        ks.ensure_current(&m, at(2026, 1)).unwrap();
        assert_eq!(ks.read_public(&a).unwrap().unwrap(), pk);
    }

    #[test]
    fn patterns_and_names_validated() {
        let dir = TempDir::new("ks");
        let ks = KeyStore::new(dir.path().to_owned());
        assert!(ks.with_pattern("%Y-%m-%d").is_ok());
        let ks = KeyStore::new(dir.path().to_owned());
        assert!(matches!(
            ks.with_pattern("%Y/%m"),
            Err(CryptoError::InvalidKeyName { .. })
        ));
        let ks = KeyStore::new(dir.path().to_owned());
        assert!(matches!(
            ks.with_pattern("%Q"),
            Err(CryptoError::InvalidKeyPattern { .. })
        ));
        for bad in ["", ".x", "a b", "../x", &"x".repeat(65)] {
            assert!(KeyName::new(bad.to_owned()).is_err(), "{bad:?}");
        }
        assert!(serde_json_like_roundtrip());
    }

    fn serde_json_like_roundtrip() -> bool {
        let w = WrappedKey {
            method: WrapMethod::X25519 {
                key_name: KeyName::new("2026-01".into()).unwrap(),
                ephemeral_public: [3; 32],
            },
            sealed: vec![1, 2, 3],
        };
        let bytes = postcard::to_stdvec(&w).unwrap();
        let back: WrappedKey = postcard::from_bytes(&bytes).unwrap();
        let encode = |name: &str| {
            let mut v = postcard::to_stdvec(&WrapMethod::X25519 {
                key_name: KeyName(name.into()),
                ephemeral_public: [3; 32],
            })
            .unwrap();
            v.push(0);
            v
        };
        back == w
            && postcard::from_bytes::<WrappedKey>(&encode("ok")).is_ok()
            && postcard::from_bytes::<WrappedKey>(&encode("../../x")).is_err()
    }

    #[test]
    fn low_order_public_key_refused() {
        let name = KeyName::new("x".into()).unwrap();
        let zero = PublicKey::from([0u8; 32]);
        assert!(matches!(
            wrap_to_public(&name, &zero, &SecretKey::generate()),
            Err(CryptoError::WeakPublicKey { .. })
        ));
    }

    #[test]
    fn verify_public_keys_restores_replaced_and_sets_aside_foreign() {
        let (dir, m, ks, a, pk_a) = store_with_january_pair();
        assert!(ks.verify_public_keys(&m).unwrap().is_clean());
        // Replaced public half: rewritten from the private half.
        fs::write(dir.path().join("2026-01.pub"), [0x42u8; 32]).unwrap();
        // A public half with no private half, and a whole foreign pair.
        fs::write(dir.path().join("2026-05.pub"), [0x43u8; 32]).unwrap();
        let other = MasterKey::generate();
        let foreign = KeyStore::new(dir.path().to_owned());
        let f = foreign.ensure_current(&other, at(2026, 6)).unwrap();
        let audit = ks.verify_public_keys(&m).unwrap();
        assert_eq!(audit.restored, vec![a.clone()]);
        assert_eq!(
            audit.rejected,
            vec![KeyName::new("2026-05".into()).unwrap(), f.clone()]
        );
        assert_eq!(ks.read_public(&a).unwrap().unwrap(), pk_a);
        assert!(dir.path().join("2026-05.pub.rejected").exists());
        assert!(dir.path().join("2026-06.priv.rejected").exists());
        assert_eq!(ks.list().unwrap(), vec![a]);
        assert!(ks.verify_public_keys(&m).unwrap().is_clean());
    }

    #[test]
    fn unchanged_pairs_are_not_checked_again_but_any_change_is() {
        let (dir, m, ks, a, pk_a) = store_with_january_pair();
        let later = |s: u64| SystemTime::now() + std::time::Duration::from_secs(s);
        // Files written just now are checked but not yet recorded.
        assert_eq!(ks.verify_public_keys(&m).unwrap().checked, 1);
        assert_eq!(ks.verify_public_keys_at(&m, later(10)).unwrap().checked, 1);
        let quiet = ks.verify_public_keys_at(&m, later(20)).unwrap();
        assert!(quiet.is_clean());
        assert_eq!(quiet.checked, 0, "an unchanged pair was checked again");
        // A public half rewritten in place (new ctime) is checked again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.path().join("2026-01.pub"), [0x42u8; 32]).unwrap();
        let caught = ks.verify_public_keys_at(&m, later(30)).unwrap();
        assert_eq!(caught.restored, vec![a.clone()]);
        assert_eq!(ks.read_public(&a).unwrap().unwrap(), pk_a);
        // A record that does not authenticate means checking everything.
        ks.verify_public_keys_at(&m, later(40)).unwrap();
        fs::write(dir.path().join(key_audit::FILE), [0u8; 100]).unwrap();
        assert_eq!(ks.verify_public_keys_at(&m, later(50)).unwrap().checked, 1);
        // The record is no key: listing ignores it.
        assert_eq!(ks.list().unwrap(), vec![a]);
    }
}
