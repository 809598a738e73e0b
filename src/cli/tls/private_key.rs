//! The server's private key from its DER (inside the PEM armour): PKCS#8
//! `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` and PKCS#1 `RSA PRIVATE KEY`.
//!
//! Why not OpenSSL's `PEM_read_bio_PrivateKey`: in OpenSSL 3 it goes
//! through the generic decoder framework, whose set-up in a fresh process
//! (every decoder of every provider enumerated and matched by name) cost
//! 4.3 M instructions per connection, a sixth of what a connection costs
//! before its login (doc/scaling.md, "What a login costs"). EC keys on the
//! named curves and RSA keys, the keys a mail server has, are built here
//! from their fields through the key-type-specific functions instead
//! (0.2 M); any other key type (Ed25519, RSA-PSS, DSA, an unnamed curve) is
//! still handed to the generic decoder, slower but as before.
//!
//! The file is root's configuration, but it is still parsed with every
//! length checked against what is left, and every problem is a typed
//! error. Never reads a file; never keeps a copy of the key material.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

/// Why the key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The DER does not have the structure its label promises.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// The public key stored beside an EC private key is not the one the
    /// private key makes: the file is corrupt or was spliced.
    #[error("the public key stored in the EC key is not the private key's")]
    PublicKeyMismatch,
    /// OpenSSL refused the key's fields.
    #[error("{0}")]
    OpenSsl(#[from] ErrorStack),
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
/// `[0]` and `[1]`, constructed, context-specific (SEC1's parameters and
/// public key).
const EXPLICIT_0: u8 = 0xa0;
const EXPLICIT_1: u8 = 0xa1;

/// DER contents of the object identifiers used here.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

fn named_curve(oid: &[u8]) -> Option<Nid> {
    match oid {
        OID_P256 => Some(Nid::X9_62_PRIME256V1),
        OID_P384 => Some(Nid::SECP384R1),
        OID_P521 => Some(Nid::SECP521R1),
        _ => None,
    }
}

/// A cursor over DER: tag, length, contents, each length checked against
/// what is left.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Result<(u8, &'a [u8]), KeyError> {
        let [tag, first, rest @ ..] = self.0 else {
            return Err(KeyError::Malformed("truncated"));
        };
        let (len, rest) = if *first < 0x80 {
            (usize::from(*first), rest)
        } else {
            // Long form: 1 to 4 length bytes (0x80, the indefinite length,
            // is not DER).
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(KeyError::Malformed("bad length"));
            }
            let (bytes, rest) = rest.split_at(n);
            let len = bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (len, rest)
        };
        if len > rest.len() {
            return Err(KeyError::Malformed("truncated"));
        }
        let (contents, rest) = rest.split_at(len);
        self.0 = rest;
        Ok((*tag, contents))
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], KeyError> {
        match self.next()? {
            (t, contents) if t == tag => Ok(contents),
            _ => Err(KeyError::Malformed(what)),
        }
    }

    /// The one SEQUENCE `der` must consist of.
    fn only_sequence(der: &'a [u8], what: &'static str) -> Result<Der<'a>, KeyError> {
        let mut outer = Der(der);
        let contents = outer.expect(SEQUENCE, what)?;
        if !outer.0.is_empty() {
            return Err(KeyError::Malformed("bytes after the key"));
        }
        Ok(Der(contents))
    }
}

/// The key of a PEM block labelled `label`; `None` when the label is not
/// a private key's.
pub(super) fn from_der(label: &str, der: &[u8]) -> Option<Result<PKey<Private>, KeyError>> {
    Some(match label {
        "PRIVATE KEY" => pkcs8(der),
        "EC PRIVATE KEY" => sec1(der, None).and_then(|k| match k {
            Some(k) => Ok(k),
            // An unnamed or unusual curve: OpenSSL's own SEC1 reader.
            None => Ok(PKey::from_ec_key(EcKey::private_key_from_der(der)?)?),
        }),
        "RSA PRIVATE KEY" => Rsa::private_key_from_der(der)
            .and_then(PKey::from_rsa)
            .map_err(KeyError::from),
        // DSA and whatever else OpenSSL knows: its generic decoder.
        l if l.ends_with("PRIVATE KEY") => PKey::private_key_from_der(der).map_err(KeyError::from),
        _ => return None,
    })
}

/// PKCS#8 `PrivateKeyInfo` (RFC 5208, RFC 5958): version, algorithm,
/// the key as an OCTET STRING, then optional attributes and public key.
fn pkcs8(der: &[u8]) -> Result<PKey<Private>, KeyError> {
    let mut info = Der::only_sequence(der, "not a PKCS#8 PrivateKeyInfo")?;
    match info.expect(INTEGER, "PKCS#8 version")? {
        [0] | [1] => {}
        _ => return Err(KeyError::Malformed("unknown PKCS#8 version")),
    }
    let mut algorithm = Der(info.expect(SEQUENCE, "PKCS#8 algorithm")?);
    let oid = algorithm.expect(OID, "PKCS#8 algorithm identifier")?;
    let key = info.expect(OCTET_STRING, "PKCS#8 private key")?;
    let fast = match oid {
        OID_EC_PUBLIC_KEY => match algorithm.next() {
            Ok((OID, curve)) => match named_curve(curve) {
                Some(nid) => sec1(key, Some(nid))?,
                None => None,
            },
            _ => None,
        },
        OID_RSA_ENCRYPTION => Some(PKey::from_rsa(Rsa::private_key_from_der(key)?)?),
        _ => None,
    };
    match fast {
        Some(k) => Ok(k),
        None => Ok(PKey::private_key_from_der(der)?),
    }
}

/// SEC1 `ECPrivateKey` (RFC 5915): version 1, the scalar, the curve as
/// `[0]` (absent inside PKCS#8, whose algorithm names it: `curve`), the
/// public point as `[1]`. `None` when the curve is not one named here.
fn sec1(der: &[u8], curve: Option<Nid>) -> Result<Option<PKey<Private>>, KeyError> {
    let mut key = Der::only_sequence(der, "not an EC private key")?;
    if key.expect(INTEGER, "EC private key version")? != [1] {
        return Err(KeyError::Malformed("unknown EC private key version"));
    }
    let scalar = key.expect(OCTET_STRING, "EC private key scalar")?;
    let mut own_curve = None;
    if key.peek() == Some(EXPLICIT_0) {
        let mut params = Der(key.expect(EXPLICIT_0, "EC parameters")?);
        match params.next()? {
            (OID, oid) => match named_curve(oid) {
                Some(nid) => own_curve = Some(nid),
                None => return Ok(None),
            },
            // Explicit curve parameters: left to OpenSSL.
            _ => return Ok(None),
        }
    }
    let mut public = None;
    if key.peek() == Some(EXPLICIT_1) {
        let mut wrapped = Der(key.expect(EXPLICIT_1, "EC public key")?);
        match wrapped.expect(BIT_STRING, "EC public key bit string")? {
            [0, point @ ..] => public = Some(point),
            _ => return Err(KeyError::Malformed("EC public key bit string")),
        }
    }
    let nid = match (curve, own_curve) {
        (Some(a), Some(b)) if a != b => {
            return Err(KeyError::Malformed("two different curves"));
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => return Err(KeyError::Malformed("EC key without a curve")),
    };
    let group = EcGroup::from_curve_name(nid)?;
    let mut ctx = BigNumContext::new()?;
    let d = BigNum::from_slice(scalar)?;
    let mut order = BigNum::new()?;
    group.order(&mut order, &mut ctx)?;
    if d.num_bits() == 0 || d >= order {
        return Err(KeyError::Malformed("EC private scalar out of range"));
    }
    // The public point is computed, never trusted from the file: a file
    // whose stored point is not d·G would otherwise pass the certificate
    // match (which compares public keys) and sign nothing a client accepts.
    let mut point = EcPoint::new(&group)?;
    point.mul_generator2(&group, &d, &mut ctx)?;
    if let Some(stored) = public {
        let stored = EcPoint::from_bytes(&group, stored, &mut ctx)?;
        if !point.eq(&group, &stored, &mut ctx)? {
            return Err(KeyError::PublicKeyMismatch);
        }
    }
    let ec = EcKey::from_private_components(&group, &d, &point)?;
    Ok(Some(PKey::from_ec_key(ec)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::Id;
    use rand::{Rng, SeedableRng};

    fn ec_key(nid: Nid) -> PKey<Private> {
        let group = EcGroup::from_curve_name(nid).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    #[test]
    fn ec_keys_load_as_openssl_reads_them() {
        for nid in [Nid::X9_62_PRIME256V1, Nid::SECP384R1, Nid::SECP521R1] {
            let key = ec_key(nid);
            let pkcs8 = key.private_key_to_pkcs8().unwrap();
            let sec1 = key.ec_key().unwrap().private_key_to_der().unwrap();
            for (label, der) in [("PRIVATE KEY", &pkcs8), ("EC PRIVATE KEY", &sec1)] {
                let got = from_der(label, der).unwrap().unwrap();
                assert!(got.public_eq(&key), "{nid:?} {label}");
                let ours = got.ec_key().unwrap();
                assert_eq!(
                    ours.private_key().to_vec(),
                    key.ec_key().unwrap().private_key().to_vec()
                );
            }
        }
    }

    #[test]
    fn rsa_keys_load_in_both_encodings() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pkcs8 = key.private_key_to_pkcs8().unwrap();
        let pkcs1 = key.rsa().unwrap().private_key_to_der().unwrap();
        for (label, der) in [("PRIVATE KEY", &pkcs8), ("RSA PRIVATE KEY", &pkcs1)] {
            let got = from_der(label, der).unwrap().unwrap();
            assert!(got.public_eq(&key), "{label}");
        }
    }

    #[test]
    fn other_key_types_still_load_through_openssl() {
        let key = PKey::generate_ed25519().unwrap();
        let got = from_der("PRIVATE KEY", &key.private_key_to_pkcs8().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(got.id(), Id::ED25519);
        assert!(got.public_eq(&key));
    }

    #[test]
    fn a_stored_public_point_that_is_not_the_private_key_s_is_refused() {
        let a = ec_key(Nid::X9_62_PRIME256V1);
        let b = ec_key(Nid::X9_62_PRIME256V1);
        let a_der = a.ec_key().unwrap().private_key_to_der().unwrap();
        let b_der = b.ec_key().unwrap().private_key_to_der().unwrap();
        // Same layout for both (fixed-size fields on one curve): a's
        // scalar with b's public point.
        let spliced: Vec<u8> = a_der[..a_der.len() - 65]
            .iter()
            .chain(&b_der[b_der.len() - 65..])
            .copied()
            .collect();
        assert!(matches!(
            from_der("EC PRIVATE KEY", &spliced),
            Some(Err(KeyError::PublicKeyMismatch))
        ));
    }

    #[test]
    fn not_a_private_key_label_is_none() {
        assert!(from_der("CERTIFICATE", b"\x30\x00").is_none());
        assert!(from_der("EC PARAMETERS", b"\x06\x01\x00").is_none());
    }

    /// Every truncation and many single-byte corruptions of real keys give
    /// a key or a typed error, never a panic.
    #[test]
    fn property_damaged_keys_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let ec = ec_key(Nid::X9_62_PRIME256V1);
        let rsa = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let samples = [
            ("PRIVATE KEY", ec.private_key_to_pkcs8().unwrap()),
            (
                "EC PRIVATE KEY",
                ec.ec_key().unwrap().private_key_to_der().unwrap(),
            ),
            ("PRIVATE KEY", rsa.private_key_to_pkcs8().unwrap()),
        ];
        for (label, der) in &samples {
            for n in 0..der.len() {
                let _ = from_der(label, &der[..n]);
            }
            for _ in 0..300 {
                let mut d = der.clone();
                let i = rng.gen_range(0..d.len());
                d[i] = rng.gen();
                let _ = from_der(label, &d);
            }
        }
    }
}
