//! The user settings the XCRY commands name (`SET-USER-CONFIG` sets them,
//! `GET-USER-CONFIG` reports them): one enum carrying each setting's value,
//! with the one table of wire names. Syntax only: never reads or changes an
//! account (`imap::commands::xcry` does, through the store).

use std::fmt;

use zeroize::Zeroizing;

/// One user setting with its value.
#[derive(Clone, PartialEq, Eq)]
pub enum UserSetting {
    /// `PASSWORD`: a new password. Can be set, is never reported.
    Password(Zeroizing<Vec<u8>>),
    /// `KEY-NAME-PATTERN`: how new key pairs are named. Reported only.
    KeyNamePattern(String),
    /// `PASSWORD-CHANGED`: when the password was last set, RFC 3339.
    /// Reported only.
    PasswordChanged(String),
    /// `KDF`: how the password is hashed, e.g. `argon2id m=19456 t=2 p=1`.
    /// Reported only.
    Kdf(String),
    /// `DETAIL-DELIVERY`: whether mail to `user+detail` is filed into
    /// mailbox `detail` when it exists (`yes` / `no`, default `no`). The
    /// value is as sent; the handler accepts only `yes` and `no`.
    DetailDelivery(String),
}

/// A key `SET-USER-CONFIG` sent that names no [`UserSetting`], with the
/// value sent for it (so the command still encodes back as it came). The
/// handler answers it `NO [CANNOT] Unknown user setting KEY`; it is not a
/// parse failure, which would be `BAD` and answered before the login check.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown user setting {key}")]
pub struct UnknownUserSetting {
    /// The key as sent.
    pub key: String,
    /// The value as sent (it may be a password under a mistyped key).
    pub value: Zeroizing<Vec<u8>>,
}

const PASSWORD: &str = "PASSWORD";
const KEY_NAME_PATTERN: &str = "KEY-NAME-PATTERN";
const PASSWORD_CHANGED: &str = "PASSWORD-CHANGED";
const KDF: &str = "KDF";
const DETAIL_DELIVERY: &str = "DETAIL-DELIVERY";

impl UserSetting {
    /// The setting `key` (case-insensitive) names, with `value`.
    pub fn parse(key: &str, value: Vec<u8>) -> Result<UserSetting, UnknownUserSetting> {
        let text = || String::from_utf8_lossy(&value).into_owned();
        Ok(match key.to_ascii_uppercase().as_str() {
            PASSWORD => UserSetting::Password(Zeroizing::new(value)),
            KEY_NAME_PATTERN => UserSetting::KeyNamePattern(text()),
            PASSWORD_CHANGED => UserSetting::PasswordChanged(text()),
            KDF => UserSetting::Kdf(text()),
            DETAIL_DELIVERY => UserSetting::DetailDelivery(text()),
            _ => {
                return Err(UnknownUserSetting {
                    key: key.to_owned(),
                    value: Zeroizing::new(value),
                })
            }
        })
    }

    /// The wire name, e.g. `PASSWORD`.
    pub fn name(&self) -> &'static str {
        match self {
            UserSetting::Password(_) => PASSWORD,
            UserSetting::KeyNamePattern(_) => KEY_NAME_PATTERN,
            UserSetting::PasswordChanged(_) => PASSWORD_CHANGED,
            UserSetting::Kdf(_) => KDF,
            UserSetting::DetailDelivery(_) => DETAIL_DELIVERY,
        }
    }

    /// The value as sent on the wire.
    pub fn value(&self) -> &[u8] {
        match self {
            UserSetting::Password(p) => p,
            UserSetting::KeyNamePattern(s)
            | UserSetting::PasswordChanged(s)
            | UserSetting::Kdf(s)
            | UserSetting::DetailDelivery(s) => s.as_bytes(),
        }
    }
}

impl fmt::Debug for UserSetting {
    /// Never shows a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserSetting::Password(_) => f.write_str("Password(<redacted>)"),
            UserSetting::KeyNamePattern(s) => f.debug_tuple("KeyNamePattern").field(s).finish(),
            UserSetting::PasswordChanged(s) => f.debug_tuple("PasswordChanged").field(s).finish(),
            UserSetting::Kdf(s) => f.debug_tuple("Kdf").field(s).finish(),
            UserSetting::DetailDelivery(s) => f.debug_tuple("DetailDelivery").field(s).finish(),
        }
    }
}

impl fmt::Debug for UnknownUserSetting {
    /// Never shows the value: it may be a password under a mistyped key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnknownUserSetting")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_parses_from_its_name_in_any_case() {
        for s in [
            UserSetting::Password(Zeroizing::new(b"hunter 2".to_vec())),
            UserSetting::KeyNamePattern("%Y-%m".into()),
            UserSetting::PasswordChanged("2026-11-27T18:00:00+00:00".into()),
            UserSetting::Kdf("argon2id m=8 t=1 p=1".into()),
            UserSetting::DetailDelivery("yes".into()),
        ] {
            let back = UserSetting::parse(&s.name().to_ascii_lowercase(), s.value().to_vec());
            assert_eq!(back, Ok(s));
        }
        let unknown = UserSetting::parse("Colour", b"blue".to_vec()).unwrap_err();
        assert_eq!(unknown.key, "Colour");
        assert_eq!(unknown.to_string(), "Unknown user setting Colour");
    }

    #[test]
    fn debug_never_shows_a_password() {
        let p = UserSetting::Password(Zeroizing::new(b"sekrit".to_vec()));
        let u = UserSetting::parse("PASWORD", b"sekrit".to_vec()).unwrap_err();
        let shown = format!("{p:?} {u:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
    }
}
