//! Sealing of small records with XChaCha20-Poly1305 and a random nonce.
//! Owns the sealed byte format `nonce(24) || ciphertext || tag(16)`. The
//! associated data must bind each record to its place (file purpose,
//! identity, offset) so sealed records cannot be moved or swapped.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use super::secret::SecretKey;
use super::CryptoError;

/// Length of the random nonce prefixed to every sealed value.
pub(crate) const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Encrypts and authenticates `plaintext` bound to `aad`.
///
/// # Panics
/// Only for plaintexts over 256 GiB, which no caller produces.
pub(crate) fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("XChaCha20-Poly1305 accepts plaintexts below 256 GiB");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Verifies and decrypts a value made by [`seal`] with the same key and AAD.
pub(crate) fn open(
    key: &SecretKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < OVERHEAD {
        return Err(CryptoError::Truncated {
            what: "sealed value",
        });
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication {
            what: "sealed value",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_empty() {
        let k = SecretKey::generate();
        for msg in [&b""[..], b"hello", &[0u8; 1000]] {
            let s = seal(&k, b"aad", msg);
            assert_eq!(s.len(), msg.len() + OVERHEAD);
            assert_eq!(&open(&k, b"aad", &s).unwrap()[..], msg);
        }
    }

    #[test]
    fn nonces_are_random() {
        let k = SecretKey::generate();
        assert_ne!(seal(&k, b"", b"x"), seal(&k, b"", b"x"));
    }

    #[test]
    fn wrong_key_aad_or_flipped_bit_fails() {
        let k = SecretKey::generate();
        let s = seal(&k, b"place 1", b"secret");
        assert!(matches!(
            open(&SecretKey::generate(), b"place 1", &s),
            Err(CryptoError::Authentication { .. })
        ));
        assert!(matches!(
            open(&k, b"place 2", &s),
            Err(CryptoError::Authentication { .. })
        ));
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 0x01;
            assert!(open(&k, b"place 1", &t).is_err(), "flip at {i} undetected");
        }
        assert!(matches!(
            open(&k, b"place 1", &s[..OVERHEAD - 1]),
            Err(CryptoError::Truncated { .. })
        ));
        assert!(open(&k, b"place 1", &s[..s.len() - 1]).is_err());
    }
}
