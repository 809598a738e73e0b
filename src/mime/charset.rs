//! Charset conversion of message text to UTF-8 through `encoding_rs`.
//! Owns only the label lookup and the fallback for unlabelled 8-bit text;
//! it never fails: undecodable bytes become U+FFFD.

use std::borrow::Cow;

use encoding_rs::{Encoding, WINDOWS_1252};

/// Decodes `bytes` written in the charset named `label` (an IANA/WHATWG
/// label such as `utf-8` or `ISO-8859-1`). Unknown labels fall back to
/// [`decode_unlabelled`], because a wrong label is far more common in real
/// mail than text that is not UTF-8 or Latin-1.
pub(crate) fn decode<'a>(label: &[u8], bytes: &'a [u8]) -> Cow<'a, str> {
    let label = trim_ascii(label);
    // RFC 2231 allows `charset*language` inside encoded words.
    let label = match label.iter().position(|&b| b == b'*') {
        Some(star) => label.get(..star).unwrap_or(label),
        None => label,
    };
    match Encoding::for_label(label) {
        Some(enc) if enc == encoding_rs::UTF_8 => String::from_utf8_lossy(bytes),
        Some(enc) => enc.decode_without_bom_handling(bytes).0,
        None => decode_unlabelled(bytes),
    }
}

/// Decodes bytes that carry no charset label (raw 8-bit headers, text parts
/// without a charset parameter): UTF-8 when valid, else Windows-1252, the
/// superset of Latin-1 that unlabelled Western mail almost always is.
pub(crate) fn decode_unlabelled(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => WINDOWS_1252.decode_without_bom_handling(bytes).0,
    }
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() || *first == b'"' {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() || *last == b'"' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_labels() {
        assert_eq!(decode(b"ISO-8859-1", b"caf\xe9"), "café");
        assert_eq!(decode(b"utf-8", "naïve".as_bytes()), "naïve");
        assert_eq!(decode(b" \"koi8-r\" ", b"\xf0\xd2\xc9"), "При");
        assert_eq!(decode(b"utf-8*en", b"ok"), "ok");
    }

    #[test]
    fn unknown_label_falls_back() {
        assert_eq!(decode(b"x-nonsense", "ü".as_bytes()), "ü");
        assert_eq!(decode(b"x-nonsense", b"\xfc"), "ü");
        assert_eq!(decode_unlabelled(b"\xe9t\xe9"), "été");
    }
}
