//! TLS material: building the server's acceptor from the configured PEM
//! files, the client connector of `remote`, and the self-signed certificate
//! `demo` (and the tests) make. Never reads from a connection itself.
//!
//! Every connection is a freshly exec'd `serve`, so everything here runs
//! once per connection: the PEM armour is read here ([`pem`]), and EC and
//! RSA keys are built from their DER through OpenSSL's type-specific
//! functions ([`private_key`]) rather than OpenSSL 3's generic decoders,
//! whose set-up alone cost more than the TLS handshake (doc/scaling.md,
//! "TLS material").

mod pem;
mod private_key;

use std::io::Read as _;
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    SslAcceptor, SslConnector, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use zeroize::Zeroizing;

pub use pem::PemError;
pub use private_key::KeyError;

/// The most a certificate or key file may hold. A certificate chain is a
/// few KiB; the bound keeps a wrong path (a log, a device) from being read
/// whole.
pub const MAX_PEM_FILE: u64 = 1 << 20;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A PEM file is larger than [`MAX_PEM_FILE`].
    #[error("{path} is larger than {MAX_PEM_FILE} bytes; not a certificate or key file")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// A PEM file's armour is broken.
    #[error("{path}: {source}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong with it.
        source: PemError,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("{path} holds no certificate (PEM blocks found: {found})")]
    NoCertificate {
        /// The file.
        path: String,
        /// The labels it does hold, for the message.
        found: String,
    },
    /// A certificate block is not an X.509 certificate.
    #[error("{path}: certificate at line {line}: {source}")]
    Certificate {
        /// The file.
        path: String,
        /// The block's BEGIN line.
        line: usize,
        /// OpenSSL's reason.
        source: openssl::error::ErrorStack,
    },
    /// The key file holds no private key block.
    #[error("{path} holds no private key (PEM blocks found: {found})")]
    NoPrivateKey {
        /// The file.
        path: String,
        /// The labels it does hold, for the message.
        found: String,
    },
    /// The private key is encrypted; a server started for each connection
    /// has nobody to ask for the passphrase.
    #[error(
        "{path}: the private key is encrypted; store it unencrypted, readable by root only \
             (openssl pkey -in KEY -out KEY.plain)"
    )]
    EncryptedKey {
        /// The file.
        path: String,
    },
    /// The private key block does not hold a usable key.
    #[error("{path}: private key at line {line}: {source}")]
    PrivateKey {
        /// The file.
        path: String,
        /// The block's BEGIN line.
        line: usize,
        /// What is wrong with it.
        source: KeyError,
    },
    /// OpenSSL refused the material or an operation.
    #[error("{context}: {source}")]
    OpenSsl {
        /// What was being done.
        context: String,
        /// OpenSSL's error stack.
        source: openssl::error::ErrorStack,
    },
}

fn ossl(context: impl Into<String>) -> impl FnOnce(openssl::error::ErrorStack) -> TlsError {
    let context = context.into();
    move |source| TlsError::OpenSsl { context, source }
}

/// The PEM blocks of `path`, read with a bound; the bytes are wiped after.
fn read_blocks(path: &Path) -> Result<Vec<pem::Block>, TlsError> {
    let name = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TlsError::Read {
        path: name(),
        source,
    })?;
    let mut text = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut text)
        .map_err(|source| TlsError::Read {
            path: name(),
            source,
        })?;
    if text.len() as u64 > MAX_PEM_FILE {
        return Err(TlsError::TooLarge { path: name() });
    }
    pem::blocks(&text).map_err(|source| TlsError::Pem {
        path: name(),
        source,
    })
}

fn labels(blocks: &[pem::Block]) -> String {
    if blocks.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
    names.join(", ")
}

/// The certificates of `path` in order, the server's own first. Blocks of
/// other kinds (a key kept in the same file) are skipped, as OpenSSL's
/// PEM reader skips them; `X509 CERTIFICATE` is the label's older name.
pub fn load_certificates(path: &Path) -> Result<Vec<X509>, TlsError> {
    let blocks = read_blocks(path)?;
    let chain = blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE" || b.label == "X509 CERTIFICATE")
        .map(|b| {
            X509::from_der(&b.der).map_err(|source| TlsError::Certificate {
                path: path.display().to_string(),
                line: b.line,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
            found: labels(&blocks),
        });
    }
    Ok(chain)
}

/// The first private key of `path`. Other blocks (`EC PARAMETERS` before
/// an `EC PRIVATE KEY`, certificates kept in the same file) are skipped.
pub fn load_private_key(path: &Path) -> Result<PKey<Private>, TlsError> {
    let blocks = read_blocks(path)?;
    for b in &blocks {
        if b.encrypted || b.label == "ENCRYPTED PRIVATE KEY" {
            return Err(TlsError::EncryptedKey {
                path: path.display().to_string(),
            });
        }
        if let Some(key) = private_key::from_der(&b.label, &b.der) {
            return key.map_err(|source| TlsError::PrivateKey {
                path: path.display().to_string(),
                line: b.line,
                source,
            });
        }
    }
    Err(TlsError::NoPrivateKey {
        path: path.display().to_string(),
        found: labels(&blocks),
    })
}

/// Builds the server-side acceptor: TLS 1.2 and newer only, Mozilla's
/// "intermediate" cipher choice, certificate chain and key from PEM files.
pub fn acceptor(certificate: &Path, private_key: &Path) -> Result<SslAcceptor, TlsError> {
    let chain = load_certificates(certificate)?;
    let key = load_private_key(private_key)?;
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(ossl("TLS acceptor"))?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(ossl("TLS minimum version"))?;
    let mut certs = chain.into_iter();
    if let Some(leaf) = certs.next() {
        b.set_certificate(&leaf).map_err(ossl("certificate"))?;
    }
    for c in certs {
        b.add_extra_chain_cert(c)
            .map_err(ossl("certificate chain"))?;
    }
    // OpenSSL compares the key with the certificate here already.
    b.set_private_key(&key).map_err(ossl(format!(
        "private key {} (it must be the key of the certificate {})",
        private_key.display(),
        certificate.display()
    )))?;
    b.check_private_key()
        .map_err(ossl("the private key does not match the certificate"))?;
    // Every connection is a fresh process with a fresh ticket key and an
    // empty session cache, so no session could ever be resumed: tickets
    // (two per TLS 1.3 handshake by default) would be sealed and sent for
    // nothing (doc/scaling.md, "What a login costs").
    b.set_num_tickets(0).map_err(ossl("TLS session tickets"))?;
    b.set_options(SslOptions::NO_TICKET);
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    Ok(b.build())
}

/// Builds the client connector of `remote`: verifies against `ca` if given,
/// against the system's trust store otherwise, or not at all if `insecure`.
pub fn connector(ca: Option<&Path>, insecure: bool) -> Result<SslConnector, TlsError> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(ossl("TLS connector"))?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(ossl("TLS minimum version"))?;
    if let Some(ca) = ca {
        b.set_ca_file(ca)
            .map_err(ossl(format!("CA file {}", ca.display())))?;
    }
    if insecure {
        b.set_verify(SslVerifyMode::NONE);
    }
    Ok(b.build())
}

/// A freshly made certificate and its key, PEM-encoded.
pub struct SelfSigned {
    /// The certificate, PEM.
    pub certificate_pem: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: Vec<u8>,
}

/// Makes a self-signed P-256 certificate for `host`, valid for a year, with
/// the name both as CN and as subjectAltName so that clients checking host
/// names accept it once the user trusts it.
pub fn self_signed(host: &str) -> Result<SelfSigned, TlsError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ossl("EC group"))?;
    let ec = EcKey::generate(&group).map_err(ossl("EC key"))?;
    let key: PKey<Private> = PKey::from_ec_key(ec).map_err(ossl("EC key"))?;
    let mut name = X509NameBuilder::new().map_err(ossl("X509 name"))?;
    name.append_entry_by_nid(Nid::COMMONNAME, host)
        .map_err(ossl("X509 CN"))?;
    let name = name.build();
    let mut b = X509::builder().map_err(ossl("X509 builder"))?;
    b.set_version(2).map_err(ossl("X509 version"))?;
    let mut serial = BigNum::new().map_err(ossl("serial"))?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(ossl("serial"))?;
    let serial = serial.to_asn1_integer().map_err(ossl("serial"))?;
    b.set_serial_number(&serial).map_err(ossl("serial"))?;
    b.set_subject_name(&name).map_err(ossl("subject"))?;
    b.set_issuer_name(&name).map_err(ossl("issuer"))?;
    b.set_pubkey(&key).map_err(ossl("public key"))?;
    let not_before = Asn1Time::days_from_now(0).map_err(ossl("validity"))?;
    let not_after = Asn1Time::days_from_now(365).map_err(ossl("validity"))?;
    b.set_not_before(&not_before).map_err(ossl("validity"))?;
    b.set_not_after(&not_after).map_err(ossl("validity"))?;
    let bc = BasicConstraints::new()
        .critical()
        .build()
        .map_err(ossl("basicConstraints"))?;
    b.append_extension(bc).map_err(ossl("basicConstraints"))?;
    let eku = ExtendedKeyUsage::new()
        .server_auth()
        .build()
        .map_err(ossl("extendedKeyUsage"))?;
    b.append_extension(eku).map_err(ossl("extendedKeyUsage"))?;
    let san = SubjectAlternativeName::new()
        .dns(host)
        .build(&b.x509v3_context(None, None))
        .map_err(ossl("subjectAltName"))?;
    b.append_extension(san).map_err(ossl("subjectAltName"))?;
    b.sign(&key, MessageDigest::sha256())
        .map_err(ossl("sign"))?;
    let cert = b.build();
    Ok(SelfSigned {
        certificate_pem: cert.to_pem().map_err(ossl("PEM"))?,
        private_key_pem: key.private_key_to_pem_pkcs8().map_err(ossl("PEM"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_has_cn_and_san_and_loads_into_acceptor() {
        let s = self_signed("localhost").unwrap();
        let cert = X509::from_pem(&s.certificate_pem).unwrap();
        let cn = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .unwrap()
            .data()
            .as_slice()
            .to_vec();
        assert_eq!(cn, b"localhost");
        let sans: Vec<String> = cert
            .subject_alt_names()
            .unwrap()
            .iter()
            .filter_map(|n| n.dnsname().map(str::to_owned))
            .collect();
        assert_eq!(sans, vec!["localhost"]);
        let dir = std::env::temp_dir().join(format!("cl-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), &s.certificate_pem).unwrap();
        std::fs::write(dir.join("k.pem"), &s.private_key_pem).unwrap();
        acceptor(&dir.join("c.pem"), &dir.join("k.pem")).unwrap();
        let other = self_signed("localhost").unwrap();
        std::fs::write(dir.join("k.pem"), &other.private_key_pem).unwrap();
        assert!(acceptor(&dir.join("c.pem"), &dir.join("k.pem")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
