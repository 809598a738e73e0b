//! PEM armour (RFC 7468) of the configured certificate and key files: finds
//! the `-----BEGIN L-----` … `-----END L-----` blocks and decodes their
//! base64. Text outside the blocks is ignored, as OpenSSL ignores it (a
//! certificate file often carries `openssl x509 -text` output or comments).
//! Never interprets the DER inside a block; never reads a file itself.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use zeroize::Zeroizing;

/// Base64 read leniently: non-zero bits after the last byte and missing
/// padding are accepted. That is more than OpenSSL's PEM reader takes (it
/// refuses a block whose padding was stripped), never less, so no file it
/// read before is refused now; the DER inside is still parsed strictly.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One armoured block.
pub(super) struct Block {
    /// The label between `BEGIN ` and the closing dashes, e.g. `CERTIFICATE`.
    pub(super) label: String,
    /// The decoded contents; wiped when dropped (it may be a private key).
    pub(super) der: Zeroizing<Vec<u8>>,
    /// An RFC 1421 `Proc-Type: 4,ENCRYPTED` header was present: the contents
    /// are encrypted with a passphrase.
    pub(super) encrypted: bool,
    /// The line of its `BEGIN`, from 1, for messages.
    pub(super) line: usize,
}

/// Why the armour could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// A `BEGIN` line whose block never ends.
    #[error("line {line}: \"-----BEGIN {label}-----\" has no matching END line")]
    Unterminated {
        /// The block's label.
        label: String,
        /// Its BEGIN line.
        line: usize,
    },
    /// An `END` line naming another label than its `BEGIN`.
    #[error("line {line}: \"-----END {end}-----\" closes a block begun as {label:?}")]
    MismatchedEnd {
        /// The label of the BEGIN line.
        label: String,
        /// The label of the END line.
        end: String,
        /// The END line.
        line: usize,
    },
    /// The contents are not base64, or decode to nothing.
    #[error("line {line}: the {label} block is not valid base64")]
    Base64 {
        /// The block's label.
        label: String,
        /// Its BEGIN line.
        line: usize,
    },
    /// A BEGIN or END line whose label is not printable ASCII.
    #[error("line {line}: a PEM boundary with a label that is not printable ASCII")]
    BadLabel {
        /// The boundary's line.
        line: usize,
    },
}

/// The label of a `-----BEGIN L-----` / `-----END L-----` line, if it is one.
fn boundary<'a>(line: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(b"-----")?.strip_prefix(kind)?;
    rest.strip_suffix(b"-----")
}

fn label_text(label: &[u8], line: usize) -> Result<String, PemError> {
    if label.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        // Printable ASCII, checked just above, is UTF-8.
        Ok(String::from_utf8_lossy(label).into_owned())
    } else {
        Err(PemError::BadLabel { line })
    }
}

/// Every block of `text`, in order.
pub(super) fn blocks(text: &[u8]) -> Result<Vec<Block>, PemError> {
    let mut out = Vec::new();
    let mut lines = text.split(|&b| b == b'\n').enumerate();
    while let Some((i, raw)) = lines.next() {
        let Some(label) = boundary(raw.trim_ascii(), b"BEGIN ") else {
            continue;
        };
        let line = i + 1;
        let label = label_text(label, line)?;
        let mut body = Zeroizing::new(Vec::new());
        let mut encrypted = false;
        let mut ended = false;
        for (j, raw) in lines.by_ref() {
            let l = raw.trim_ascii();
            if let Some(end) = boundary(l, b"END ") {
                let end = label_text(end, j + 1)?;
                if end != label {
                    return Err(PemError::MismatchedEnd {
                        label,
                        end,
                        line: j + 1,
                    });
                }
                ended = true;
                break;
            }
            // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`):
            // base64 never holds a colon.
            if let Some(colon) = l.iter().position(|&b| b == b':') {
                let (name, value) = l.split_at(colon);
                if name.trim_ascii().eq_ignore_ascii_case(b"Proc-Type")
                    && value
                        .windows(9)
                        .any(|w| w.eq_ignore_ascii_case(b"ENCRYPTED"))
                {
                    encrypted = true;
                }
                continue;
            }
            body.extend(l.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        }
        if !ended {
            return Err(PemError::Unterminated { label, line });
        }
        let der = match LENIENT.decode(&body[..]) {
            Ok(d) if !d.is_empty() => Zeroizing::new(d),
            _ => return Err(PemError::Base64 { label, line }),
        };
        out.push(Block {
            label,
            der,
            encrypted,
            line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_between_text_and_decoded() {
        let text = b"subject=CN = x\r\n-----BEGIN CERTIFICATE-----\r\nAAEC\r\nAwQ=\r\n-----END CERTIFICATE-----\r\n\
                     junk\n  -----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----  \n";
        let b = blocks(text).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].label.as_str(), &b[0].der[..], b[0].line),
            ("CERTIFICATE", &[0u8, 1, 2, 3, 4][..], 2)
        );
        assert_eq!(b[1].label, "EC PARAMETERS");
        assert!(!b[0].encrypted);
        assert!(blocks(b"no armour at all\n").unwrap().is_empty());
    }

    #[test]
    fn base64_without_padding_or_with_stray_bits_is_read() {
        // "AAF" = 0x00 0x01 and two stray bits; no padding either.
        let b = blocks(b"-----BEGIN X-----\nAAF\n-----END X-----\n").unwrap();
        assert_eq!(&b[0].der[..], &[0u8, 1][..]);
    }

    #[test]
    fn rfc1421_encrypted_headers_are_noticed() {
        let text = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        let b = blocks(text).unwrap();
        assert!(b[0].encrypted);
    }

    #[test]
    fn broken_armour_gives_typed_errors() {
        assert_eq!(
            blocks(b"-----BEGIN CERTIFICATE-----\nAAEC\n").err(),
            Some(PemError::Unterminated {
                label: "CERTIFICATE".into(),
                line: 1
            })
        );
        assert_eq!(
            blocks(b"x\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END PRIVATE KEY-----\n").err(),
            Some(PemError::MismatchedEnd {
                label: "CERTIFICATE".into(),
                end: "PRIVATE KEY".into(),
                line: 4
            })
        );
        assert_eq!(
            blocks(b"-----BEGIN CERTIFICATE-----\nAA*C\n-----END CERTIFICATE-----\n").err(),
            Some(PemError::Base64 {
                label: "CERTIFICATE".into(),
                line: 1
            })
        );
        assert_eq!(
            blocks(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").err(),
            Some(PemError::Base64 {
                label: "CERTIFICATE".into(),
                line: 1
            })
        );
        assert_eq!(
            blocks(b"-----BEGIN \xffX-----\n").err(),
            Some(PemError::BadLabel { line: 1 })
        );
    }
}
