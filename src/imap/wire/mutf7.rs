//! Modified UTF-7 (RFC 3501 §5.1.3), the mailbox-name encoding of IMAP
//! without UTF8=ACCEPT.
//!
//! Owns only the pure conversion; it never decides whether a name is an
//! acceptable mailbox name (the store does). Decoding is strict: every
//! non-canonical form the RFC forbids is an error, so that each mailbox has
//! exactly one wire spelling.

use thiserror::Error;

/// Why a modified UTF-7 string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum Mutf7Error {
    /// A byte outside printable US-ASCII appeared unencoded.
    #[error("byte 0x{byte:02x} at offset {offset} must be encoded")]
    RawByte {
        /// The offending byte.
        byte: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// A `&` sequence was not closed by `-`.
    #[error("unterminated '&' sequence starting at offset {0}")]
    Unterminated(usize),
    /// A character outside the modified base64 alphabet inside `&...-`.
    #[error("invalid base64 character at offset {0}")]
    BadBase64(usize),
    /// The base64 bits do not form whole UTF-16 units, or padding bits are set.
    #[error("base64 run ending at offset {0} has leftover bits")]
    LeftoverBits(usize),
    /// A surrogate without its pair.
    #[error("unpaired UTF-16 surrogate in sequence ending at offset {0}")]
    UnpairedSurrogate(usize),
    /// A printable ASCII character was base64-encoded.
    #[error("printable ASCII encoded in base64 at offset {0}")]
    EncodedAscii(usize),
    /// Two encoded runs were adjacent (`&AOk-&AOk-`) instead of merged.
    #[error("adjacent encoded sequences at offset {0}")]
    AdjacentRuns(usize),
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a Unicode name in modified UTF-7.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush_run(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_run(&mut out, &mut pending);
    out
}

fn flush_run(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for unit in units.drain(..) {
        acc = (acc << 16) | u32::from(unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 0x3f) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
}

/// Decodes a modified UTF-7 name, rejecting every non-canonical form.
pub(crate) fn decode(input: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    // Offset just past the previous encoded run, to detect adjacent runs.
    let mut last_run_end: Option<usize> = None;
    while let Some(&b) = input.get(i) {
        if b == b'&' {
            let start = i;
            let rel_end = input
                .get(i + 1..)
                .and_then(|rest| rest.iter().position(|&c| c == b'-'))
                .ok_or(Mutf7Error::Unterminated(start))?;
            let body_start = i + 1;
            let body_end = body_start + rel_end;
            if rel_end == 0 {
                out.push('&');
            } else {
                if last_run_end == Some(start) {
                    return Err(Mutf7Error::AdjacentRuns(start));
                }
                let body = input.get(body_start..body_end).unwrap_or_default();
                decode_run(body, body_start, &mut out)?;
                last_run_end = Some(body_end + 1);
            }
            i = body_end + 1;
        } else if (0x20..=0x7e).contains(&b) {
            out.push(char::from(b));
            i += 1;
        } else {
            return Err(Mutf7Error::RawByte { byte: b, offset: i });
        }
    }
    Ok(out)
}

fn decode_run(body: &[u8], base: usize, out: &mut String) -> Result<(), Mutf7Error> {
    let end = base + body.len();
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut units: Vec<u16> = Vec::with_capacity(body.len() * 6 / 16);
    for (k, &c) in body.iter().enumerate() {
        let v = b64_value(c).ok_or(Mutf7Error::BadBase64(base + k))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push(((acc >> bits) & 0xffff) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    // Canonical encoders pad with at most 5 zero bits.
    if bits >= 6 || acc != 0 {
        return Err(Mutf7Error::LeftoverBits(end));
    }
    for r in char::decode_utf16(units.iter().copied()) {
        let c = r.map_err(|_| Mutf7Error::UnpairedSurrogate(end))?;
        if is_direct(c) {
            return Err(Mutf7Error::EncodedAscii(base));
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        assert_eq!(
            decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Ok("~peter/mail/台北/日本語")
        );
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode(b"Tom &- Jerry").as_deref(), Ok("Tom & Jerry"));
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode(b"Entw&APw-rfe").as_deref(), Ok("Entwürfe"));
    }

    #[test]
    fn astral_plane_round_trip() {
        let s = "mail 📬 box é";
        let enc = encode(s);
        assert!(enc.is_ascii());
        assert_eq!(decode(enc.as_bytes()).as_deref(), Ok(s));
    }

    #[test]
    fn rejects_non_canonical() {
        assert!(matches!(decode(b"&Jjo!"), Err(Mutf7Error::Unterminated(0))));
        assert!(matches!(
            decode(b"&U,BTFw-&ZeVnLIqe-"),
            Err(Mutf7Error::AdjacentRuns(_))
        ));
        // "A" encoded in base64 (U+0041).
        assert!(matches!(decode(b"&AEE-"), Err(Mutf7Error::EncodedAscii(_))));
        assert!(matches!(decode(b"&AO-"), Err(Mutf7Error::LeftoverBits(_))));
        // U+00E9 with a non-zero padding bit.
        assert!(matches!(decode(b"&AOl-"), Err(Mutf7Error::LeftoverBits(_))));
        assert!(matches!(decode(b"&2D3-"), Err(Mutf7Error::LeftoverBits(_))));
        assert!(matches!(
            decode(b"&2D0-"),
            Err(Mutf7Error::UnpairedSurrogate(_))
        ));
        assert!(matches!(decode(b"&A/k-"), Err(Mutf7Error::BadBase64(_))));
        assert!(matches!(
            decode("é".as_bytes()),
            Err(Mutf7Error::RawByte { .. })
        ));
        assert!(matches!(decode(b"a\tb"), Err(Mutf7Error::RawByte { .. })));
    }

    #[test]
    fn round_trips_many_strings() {
        let samples = [
            "",
            "INBOX",
            "&",
            "&&",
            "a&b&",
            "日本",
            "x日y本z",
            "\u{7f}",
            "é&é",
            "\u{10FFFF}",
        ];
        for s in samples {
            assert_eq!(decode(encode(s).as_bytes()).as_deref(), Ok(s), "{s:?}");
        }
    }
}
