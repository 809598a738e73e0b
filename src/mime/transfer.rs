//! Content-Transfer-Encoding decoding (base64, quoted-printable), and the
//! hex escapes the header encodings share (RFC 2047 Q `=XX`, RFC 2231 `%XX`).
//! Decoders are incremental (`feed` any chunking, then `finish`) so a
//! caller can decode a part while it is being decrypted, and lenient: bytes
//! that violate the encoding are skipped or kept, never an error, because
//! real mail is often slightly broken and BINARY must still answer.

use serde::{Deserialize, Serialize};

/// A part's Content-Transfer-Encoding, as far as decoding is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferEncoding {
    /// `7bit`, or no header at all.
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`: raw octets, line endings are data.
    Binary,
    /// `base64`.
    Base64,
    /// `quoted-printable`.
    QuotedPrintable,
    /// Anything else (`x-uuencode`, garbage): cannot be decoded.
    Unknown(Vec<u8>),
}

impl TransferEncoding {
    /// Classifies the (already token-parsed) header value; `None` means the
    /// header was absent, which RFC 2045 defines as 7bit.
    pub fn from_header(value: Option<&[u8]>) -> Self {
        let Some(v) = value else {
            return Self::SevenBit;
        };
        let v = v.trim_ascii();
        if v.eq_ignore_ascii_case(b"7bit") {
            Self::SevenBit
        } else if v.eq_ignore_ascii_case(b"8bit") {
            Self::EightBit
        } else if v.eq_ignore_ascii_case(b"binary") {
            Self::Binary
        } else if v.eq_ignore_ascii_case(b"base64") {
            Self::Base64
        } else if v.eq_ignore_ascii_case(b"quoted-printable") {
            Self::QuotedPrintable
        } else {
            Self::Unknown(v.to_vec())
        }
    }
}

fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Incremental, lenient base64 decoder: characters outside the alphabet
/// (line breaks, stray punctuation) are skipped; `=` ends the data.
#[derive(Debug, Default, Clone)]
pub(crate) struct Base64Decoder {
    acc: u32,
    bits: u8,
    done: bool,
}

impl Base64Decoder {
    /// A decoder at the start of the data.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Decodes `input`, appending to `out`.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.done {
                return;
            }
            if b == b'=' {
                self.done = true;
                return;
            }
            let Some(v) = b64_value(b) else { continue };
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                out.push((self.acc >> self.bits) as u8);
                self.acc &= (1 << self.bits) - 1;
            }
        }
    }
}

/// Decodes a whole base64 buffer.
pub(crate) fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    Base64Decoder::new().feed(input, &mut out);
    out
}

/// Decodes `escape` followed by two hex digits as that byte (RFC 2047 Q
/// encoding's `=XX`, RFC 2231's `%XX`); an escape without them stays as it
/// is. With `underscore_is_space`, `_` is a space (Q encoding only).
pub(crate) fn decode_hex_escapes(s: &[u8], escape: u8, underscore_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == escape {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'_' && underscore_is_space {
            b' '
        } else {
            b
        });
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Incremental quoted-printable decoder. It works line by line (a soft
/// break or trailing white space can only be recognised at the line end),
/// so it holds back at most one incomplete line between `feed` calls.
#[derive(Debug, Default, Clone)]
pub(crate) struct QpDecoder {
    pending: Vec<u8>,
}

impl QpDecoder {
    /// A decoder at the start of the data.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Decodes the complete lines of `pending + input`, appending to `out`.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(nl + 1);
            rest = tail;
            if self.pending.is_empty() {
                decode_qp_line(line, out);
            } else {
                self.pending.extend_from_slice(line);
                let line = std::mem::take(&mut self.pending);
                decode_qp_line(&line, out);
            }
        }
        self.pending.extend_from_slice(rest);
    }

    /// Decodes the final, unterminated line.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.pending);
        decode_qp_line(&line, out);
    }
}

/// Decodes one line (with or without its line end).
fn decode_qp_line(line: &[u8], out: &mut Vec<u8>) {
    let (content, eol): (&[u8], &[u8]) = if let Some(c) = line.strip_suffix(b"\r\n") {
        (c, b"\r\n")
    } else if let Some(c) = line.strip_suffix(b"\n") {
        (c, b"\r\n")
    } else {
        (line, b"")
    };
    // RFC 2045 6.7 (3): trailing white space was added in transport.
    let content = content.trim_ascii_end();
    let (content, soft) = match content.strip_suffix(b"=") {
        Some(c) => (c, true),
        None => (content, false),
    };
    let mut i = 0;
    while let Some(&b) = content.get(i) {
        if b == b'=' {
            let hi = content.get(i + 1).copied().and_then(hex_value);
            let lo = content.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    if !soft {
        out.extend_from_slice(eol);
    }
}

/// Decodes a whole quoted-printable buffer.
pub(crate) fn decode_qp(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut dec = QpDecoder::new();
    dec.feed(input, &mut out);
    dec.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify() {
        assert_eq!(
            TransferEncoding::from_header(None),
            TransferEncoding::SevenBit
        );
        assert_eq!(
            TransferEncoding::from_header(Some(b"BASE64")),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::from_header(Some(b"x-uuencode")),
            TransferEncoding::Unknown(b"x-uuencode".to_vec())
        );
    }

    #[test]
    fn base64_lenient_and_incremental() {
        assert_eq!(decode_base64(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(decode_base64(b"aGVsbG8"), b"hello");
        assert_eq!(decode_base64(b"AAEC/w=="), [0u8, 1, 2, 255]);
        let mut dec = Base64Decoder::new();
        let mut out = Vec::new();
        for chunk in b"aGVs bG8g d29y bGQ=".chunks(3) {
            dec.feed(chunk, &mut out);
        }
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn header_hex_escapes() {
        assert_eq!(
            decode_hex_escapes(b"a=3Db_c=ZZ=4", b'=', true),
            b"a=b c=ZZ=4"
        );
        assert_eq!(decode_hex_escapes(b"r%E9s_%2%", b'%', false), b"r\xe9s_%2%");
    }

    #[test]
    fn qp_rules() {
        assert_eq!(decode_qp(b"caf=E9 =\r\nfin\r\n"), b"caf\xe9 fin\r\n");
        assert_eq!(decode_qp(b"trailing   \nx=3d=3D"), b"trailing\r\nx==");
        assert_eq!(decode_qp(b"bad =ZZ = end"), b"bad =ZZ = end");
        let mut dec = QpDecoder::new();
        let mut out = Vec::new();
        for chunk in b"a=4\r\n1=\r\nb".chunks(2) {
            dec.feed(chunk, &mut out);
        }
        dec.finish(&mut out);
        assert_eq!(out, b"a=4\r\n1b");
    }
}
