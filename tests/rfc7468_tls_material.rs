//! The server's certificate and key files (RFC 7468 textual encodings),
//! read by `serve` itself since it stopped handing them to OpenSSL 3's
//! generic decoders (doc/scaling.md, "What a login costs"): every key
//! encoding a mail server meets still works, a chain still reaches the
//! client whole, and a broken, encrypted or wrong-type file ends the
//! session with a configuration error naming what is wrong — never a panic.

mod common;

use std::io::Read;
use std::process::Child;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::symm::Cipher;
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};

use common::*;

/// A certificate for `cn` with `key`, signed by `issuer` (itself when
/// `None`); a CA when `ca`.
fn certificate(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .dns(cn)
            .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    let signer = issuer.map_or(key, |(_, k)| k);
    // Ed25519 hashes inside its own signature: no separate digest.
    let digest = if signer.id() == openssl::pkey::Id::ED25519 {
        MessageDigest::null()
    } else {
        MessageDigest::sha256()
    };
    b.sign(signer, digest).unwrap();
    b.build()
}

fn ec(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

/// Writes the configured `tls/cert.pem` and `tls/key.pem` of `root`.
fn install(root: &Root, cert: &[u8], key: &[u8]) {
    std::fs::write(root.path().join("tls/cert.pem"), cert).unwrap();
    std::fs::write(root.path().join("tls/key.pem"), key).unwrap();
}

/// `serve imaps` started on a socket pair; the greeting over a handshake
/// with `connector` (verifying against what the test set up).
fn greeting_with(root: &Root, connector: &SslConnector) -> String {
    let (child, sock) = root.spawn_serve("imaps");
    let _server = Guard(child);
    let tls = connector
        .configure()
        .unwrap()
        .connect("localhost", sock)
        .unwrap_or_else(|e| panic!("handshake: {e}"));
    let mut c = Client::new(Box::new(tls));
    let greeting = c.line();
    c.ok("LOGOUT");
    greeting
}

/// `serve imaps` that must refuse to start: its exit code and log.
fn refused(root: &Root) -> (i32, String) {
    let (mut child, _sock): (Child, _) = root.spawn_serve("imaps");
    let status = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    (status.code().unwrap_or(-1), log)
}

#[test]
fn rfc7468_a_chain_with_an_intermediate_reaches_the_client_whole() {
    let root = Root::new("tls-chain");
    let ca_key = ec(Nid::X9_62_PRIME256V1);
    let ca = certificate("Test Root CA", &ca_key, None, true);
    let mid_key = ec(Nid::SECP384R1);
    let mid = certificate("Test Intermediate", &mid_key, Some((&ca, &ca_key)), true);
    let leaf_key = ec(Nid::X9_62_PRIME256V1);
    let leaf = certificate("localhost", &leaf_key, Some((&mid, &mid_key)), false);
    let mut chain = b"# leaf first, then the intermediate\n".to_vec();
    chain.extend(leaf.to_pem().unwrap());
    chain.extend(b"some text between blocks, as `openssl x509 -text` leaves\n");
    chain.extend(mid.to_pem().unwrap());
    install(&root, &chain, &leaf_key.private_key_to_pem_pkcs8().unwrap());
    // The client trusts only the root: the handshake verifies only if the
    // server sends the intermediate.
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.cert_store_mut().add_cert(ca).unwrap();
    b.set_verify(SslVerifyMode::PEER);
    let greeting = greeting_with(&root, &b.build());
    assert!(greeting.starts_with("* OK"), "{greeting}");
}

#[test]
fn rfc7468_every_usual_key_encoding_is_accepted() {
    let root = Root::new("tls-keys");
    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let p256 = ec(Nid::X9_62_PRIME256V1);
    let p384 = ec(Nid::SECP384R1);
    let ed = PKey::generate_ed25519().unwrap();
    // `openssl ecparam -genkey` writes the curve as its own block first.
    let mut sec1 =
        b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n".to_vec();
    sec1.extend(p256.ec_key().unwrap().private_key_to_pem().unwrap());
    let cases: Vec<(&str, &PKey<Private>, Vec<u8>)> = vec![
        (
            "RSA, PKCS#1",
            &rsa,
            rsa.rsa().unwrap().private_key_to_pem().unwrap(),
        ),
        ("RSA, PKCS#8", &rsa, rsa.private_key_to_pem_pkcs8().unwrap()),
        ("P-256, SEC1 after EC PARAMETERS", &p256, sec1),
        ("P-256, PKCS#8, CRLF", &p256, {
            let pem = String::from_utf8(p256.private_key_to_pem_pkcs8().unwrap()).unwrap();
            pem.replace('\n', "\r\n").into_bytes()
        }),
        (
            "P-384, PKCS#8",
            &p384,
            p384.private_key_to_pem_pkcs8().unwrap(),
        ),
        (
            "Ed25519, PKCS#8 (OpenSSL's generic reader)",
            &ed,
            ed.private_key_to_pem_pkcs8().unwrap(),
        ),
    ];
    for (what, key, pem) in cases {
        let cert = certificate("localhost", key, None, false);
        install(&root, &cert.to_pem().unwrap(), &pem);
        let greeting = greeting_with(&root, tls_connector());
        assert!(greeting.starts_with("* OK"), "{what}: {greeting}");
    }
    // Certificate and key in one file, named by both settings.
    let cert = certificate("localhost", &p256, None, false);
    let mut both = p256.private_key_to_pem_pkcs8().unwrap();
    both.extend(cert.to_pem().unwrap());
    install(&root, &both, &both);
    let greeting = greeting_with(&root, tls_connector());
    assert!(greeting.starts_with("* OK"), "one file: {greeting}");
}

#[test]
fn rfc7468_broken_encrypted_or_wrong_files_are_refused_with_the_reason() {
    let root = Root::new("tls-broken");
    let key = ec(Nid::X9_62_PRIME256V1);
    let cert = certificate("localhost", &key, None, false);
    let cert_pem = cert.to_pem().unwrap();
    let key_pem = key.private_key_to_pem_pkcs8().unwrap();
    let other = ec(Nid::X9_62_PRIME256V1)
        .private_key_to_pem_pkcs8()
        .unwrap();
    let encrypted = key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_128_cbc(), b"secret")
        .unwrap();
    let legacy_encrypted = key
        .ec_key()
        .unwrap()
        .private_key_to_pem_passphrase(Cipher::aes_128_cbc(), b"secret")
        .unwrap();
    let truncated = key_pem[..key_pem.len() - 30].to_vec();
    let bad_base64 = String::from_utf8(key_pem.clone())
        .unwrap()
        .replacen("MIG", "M*G", 1)
        .into_bytes();
    let garbage_der =
        b"-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n".to_vec();
    let garbage_cert =
        b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n".to_vec();
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
        (
            "key file holds a certificate",
            cert_pem.clone(),
            cert_pem.clone(),
            "holds no private key (PEM blocks found: CERTIFICATE)",
        ),
        (
            "certificate file holds a key",
            key_pem.clone(),
            key_pem.clone(),
            "holds no certificate (PEM blocks found: PRIVATE KEY)",
        ),
        (
            "empty key file",
            cert_pem.clone(),
            Vec::new(),
            "holds no private key (PEM blocks found: none)",
        ),
        (
            "PKCS#8 encrypted key",
            cert_pem.clone(),
            encrypted,
            "the private key is encrypted",
        ),
        (
            "RFC 1421 encrypted key",
            cert_pem.clone(),
            legacy_encrypted,
            "the private key is encrypted",
        ),
        (
            "truncated key",
            cert_pem.clone(),
            truncated,
            "has no matching END line",
        ),
        (
            "not base64",
            cert_pem.clone(),
            bad_base64,
            "is not valid base64",
        ),
        (
            "not a key inside",
            cert_pem.clone(),
            garbage_der,
            "malformed key",
        ),
        (
            "not a certificate inside",
            garbage_cert,
            key_pem.clone(),
            "certificate at line 1",
        ),
        (
            "another key",
            cert_pem.clone(),
            other,
            "must be the key of the certificate",
        ),
    ];
    for (what, cert_file, key_file, reason) in cases {
        install(&root, &cert_file, &key_file);
        let (code, log) = refused(&root);
        assert_eq!(code, 78, "{what}: exit code (EX_CONFIG) {log}");
        assert!(log.contains(reason), "{what}: no {reason:?} in {log}");
        assert!(!log.contains("panicked"), "{what}: {log}");
    }
    // Too large to be a certificate file: refused before it is parsed.
    std::fs::write(root.path().join("tls/cert.pem"), vec![b'A'; (1 << 20) + 1]).unwrap();
    std::fs::write(root.path().join("tls/key.pem"), &key_pem).unwrap();
    let (code, log) = refused(&root);
    assert_eq!(code, 78, "{log}");
    assert!(log.contains("is larger than 1048576 bytes"), "{log}");
}
