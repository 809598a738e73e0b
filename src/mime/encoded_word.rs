//! RFC 2047 encoded-word decoding for unstructured text and phrases.
//! Lenient like real clients: encoded words need not be separated by white
//! space, adjacent words in one charset are joined before charset decoding
//! (so a multi-byte character split across words survives), and raw 8-bit
//! text around them is taken as UTF-8 or else Windows-1252.

use super::charset;
use super::transfer::{decode_base64, decode_hex_escapes};

/// One `=?charset?enc?text?=` token found at the start of `s`: returns its
/// charset, decoded bytes and total length.
fn parse_word(s: &[u8]) -> Option<(&[u8], Vec<u8>, usize)> {
    let body = s.strip_prefix(b"=?")?;
    let q1 = body.iter().take(76).position(|&b| b == b'?')?;
    let charset = body.get(..q1)?;
    if charset.is_empty() || charset.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let enc = *body.get(q1 + 1)?;
    if body.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let text = body.get(text_start..)?;
    let mut end = None;
    for (i, w) in text.windows(2).enumerate() {
        if w == b"?=" {
            end = Some(i);
            break;
        }
        if w.first().is_some_and(|b| b.is_ascii_whitespace()) {
            return None;
        }
    }
    let end = end?;
    let encoded = text.get(..end)?;
    let decoded = match enc {
        b'B' | b'b' => decode_base64(encoded),
        b'Q' | b'q' => decode_hex_escapes(encoded, b'=', true),
        _ => return None,
    };
    Some((charset, decoded, 2 + text_start + end + 2))
}

/// Accumulates output: raw text runs and runs of encoded bytes sharing a
/// charset, each decoded when the run ends.
#[derive(Default)]
struct Decoder {
    out: String,
    raw: Vec<u8>,
    word_charset: Vec<u8>,
    word_bytes: Vec<u8>,
}

impl Decoder {
    fn flush_raw(&mut self) {
        if !self.raw.is_empty() {
            self.out.push_str(&charset::decode_unlabelled(&self.raw));
            self.raw.clear();
        }
    }

    fn flush_word(&mut self) {
        if !self.word_bytes.is_empty() {
            self.out
                .push_str(&charset::decode(&self.word_charset, &self.word_bytes));
            self.word_bytes.clear();
        }
        self.word_charset.clear();
    }

    fn push_word(&mut self, cs: &[u8], bytes: &[u8]) {
        if !self.word_charset.eq_ignore_ascii_case(cs) {
            self.flush_word();
            self.word_charset.extend_from_slice(cs);
        }
        self.word_bytes.extend_from_slice(bytes);
    }
}

/// Decodes an unfolded header value (unstructured text or a phrase) to
/// UTF-8, expanding encoded words. White space between two encoded words
/// is dropped as RFC 2047 section 6.2 requires.
pub(crate) fn decode(value: &[u8]) -> String {
    let mut d = Decoder::default();
    let mut pending_ws: Vec<u8> = Vec::new();
    let mut after_word = false;
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        if b == b'=' && value.get(i + 1) == Some(&b'?') {
            if let Some((cs, bytes, len)) = value.get(i..).and_then(parse_word) {
                if !after_word {
                    d.raw.append(&mut pending_ws);
                    d.flush_raw();
                }
                pending_ws.clear();
                d.push_word(cs, &bytes);
                after_word = true;
                i += len;
                continue;
            }
        }
        if after_word && matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            pending_ws.push(b);
            i += 1;
            continue;
        }
        if after_word {
            d.flush_word();
            after_word = false;
        }
        d.raw.append(&mut pending_ws);
        d.raw.push(b);
        i += 1;
    }
    d.flush_word();
    d.raw.append(&mut pending_ws);
    d.flush_raw();
    d.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_latin1_words() {
        assert_eq!(decode(b"=?UTF-8?B?R3LDvMOfZQ==?="), "Grüße");
        assert_eq!(decode(b"=?iso-8859-1?q?caf=E9_cr=E8me?="), "café crème");
        assert_eq!(decode(b"Re: =?utf-8?q?na=C3=AFve?= idea"), "Re: naïve idea");
    }

    #[test]
    fn whitespace_between_words_dropped_and_split_chars_joined() {
        // "é" (C3 A9) split across two words.
        assert_eq!(decode(b"=?utf-8?q?caf=C3?= \t =?utf-8?q?=A9?="), "café");
        assert_eq!(decode(b"=?utf-8?q?a?==?utf-8?q?b?="), "ab");
        assert_eq!(decode(b"=?utf-8?q?a?= =?iso-8859-1?q?=E9?= x"), "aé x");
    }

    #[test]
    fn malformed_words_stay_literal() {
        assert_eq!(decode(b"=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
        assert_eq!(decode(b"=?utf-8?q?no end"), "=?utf-8?q?no end");
        assert_eq!(decode(b"=?utf-8?q?has space?="), "=?utf-8?q?has space?=");
        assert_eq!(decode(b"raw \xe9t\xe9"), "raw été");
        assert_eq!(decode(b""), "");
    }
}
