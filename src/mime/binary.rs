//! Turning a message sent as a literal8 (RFC 3516 §4.4) into a valid RFC
//! 5322 message before it is stored: each leaf part whose
//! Content-Transfer-Encoding is `binary` (raw octets, NULs allowed, which
//! no `BODY[]` literal can carry) is base64-encoded and its CTE field
//! rewritten, as Dovecot does. `BINARY[part]` decodes it back to the
//! original octets. Pure: bytes in, bytes out; never touches files and
//! never knows which command sent the message (the APPEND handler
//! decides when to call it).

use base64::Engine;

use crate::mime::header;
use crate::mime::summary::{summarize, Part, PartBody};
use crate::mime::transfer::TransferEncoding;

/// Base64 line length (RFC 2045 §6.8: at most 76 characters).
const LINE: usize = 76;

/// The message with every `binary` leaf part base64-encoded, or `None`
/// when it has none (the message is stored as sent).
pub(crate) fn encode_binary_parts(raw: &[u8]) -> Option<Vec<u8>> {
    // A `binary` CTE is spelled out as that token in some header: without
    // it anywhere, no part is binary, and the full parse (which the store
    // repeats when it saves the message) is skipped.
    if !raw.windows(6).any(|w| w.eq_ignore_ascii_case(b"binary")) {
        return None;
    }
    let summary = summarize(raw);
    let mut parts: Vec<&Part> = Vec::new();
    collect(&summary.root, &mut parts);
    if parts.is_empty() {
        return None;
    }
    parts.sort_by_key(|p| p.header_start);
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 3 + 64);
    let mut pos = 0usize;
    for p in parts {
        let hs = offset(p.header_start, raw)?;
        let bs = offset(p.body_start, raw)?;
        let end = offset(p.end, raw)?;
        if hs < pos || bs < hs || end < bs {
            // Overlapping ranges would mean a summary bug: store as sent.
            return None;
        }
        out.extend_from_slice(raw.get(pos..hs)?);
        rewrite_header(raw.get(hs..bs)?, &mut out);
        encode_body(raw.get(bs..end)?, &mut out);
        if end == raw.len() {
            out.extend_from_slice(b"\r\n");
        }
        pos = end;
    }
    out.extend_from_slice(raw.get(pos..)?);
    Some(out)
}

fn offset(v: u64, raw: &[u8]) -> Option<usize> {
    usize::try_from(v).ok().filter(|o| *o <= raw.len())
}

/// The leaf parts with a `binary` CTE, inside multiparts and
/// encapsulated messages too.
fn collect<'a>(part: &'a Part, out: &mut Vec<&'a Part>) {
    match &part.body {
        PartBody::Multipart(children) => children.iter().for_each(|c| collect(c, out)),
        PartBody::Message { message, .. } => collect(message, out),
        PartBody::Single => {
            if part.content.transfer_encoding() == TransferEncoding::Binary {
                out.push(part);
            }
        }
    }
}

/// Copies a header block, every Content-Transfer-Encoding field replaced
/// by `base64`; the empty line that ends it is kept.
fn rewrite_header(block: &[u8], out: &mut Vec<u8>) {
    let mut used = 0usize;
    for line in header::logical_lines(block) {
        used += line.len();
        match header::parse_line(line) {
            Some(f) if f.is(b"Content-Transfer-Encoding") => {
                out.extend_from_slice(f.name);
                out.extend_from_slice(b": base64\r\n");
            }
            _ => out.extend_from_slice(line),
        }
    }
    out.extend_from_slice(block.get(used..).unwrap_or_default());
}

/// Base64 in lines of [`LINE`] characters joined by CRLF; no line break
/// after the last (the one before a boundary belongs to the boundary).
fn encode_body(body: &[u8], out: &mut Vec<u8>) {
    let text = base64::engine::general_purpose::STANDARD.encode(body);
    for (i, chunk) in text.as_bytes().chunks(LINE).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(chunk);
    }
}

/// Whether the top-level header of `raw` has a byte above 0x7f (RFC 6855
/// §4: such a message needs UTF8=ACCEPT).
pub(crate) fn header_has_8bit(raw: &[u8]) -> bool {
    let len = header::header_len(raw);
    raw.get(..len).unwrap_or(raw).iter().any(|b| *b >= 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::section::{decode_binary, locate_binary};

    #[test]
    fn binary_part_becomes_base64_and_decodes_back() {
        let raw = b"From: a@b\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\
a\x00b\x00\xff\nc\r\n--x--\r\n";
        let out = encode_binary_parts(raw).unwrap();
        assert!(!out.contains(&0u8));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n\r\n"),
            "{text}"
        );
        assert!(text.contains("hello\r\n--x\r\n"), "{text}");
        assert!(text.ends_with("\r\n--x--\r\n"), "{text}");
        let s = summarize(&out);
        let (range, enc) = locate_binary(&s, &[2]).unwrap();
        let body = &out[range.start as usize..range.end as usize];
        assert_eq!(&*decode_binary(body, &enc).unwrap(), b"a\x00b\x00\xff\nc");
        assert_eq!(encode_binary_parts(b"Subject: x\r\n\r\nplain\r\n"), None);
    }

    #[test]
    fn single_part_message_and_long_body() {
        let body: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut raw = b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: BINARY\r\n\r\n".to_vec();
        raw.extend_from_slice(&body);
        let out = encode_binary_parts(&raw).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.lines().all(|l| l.trim_end().len() <= LINE));
        let s = summarize(&out);
        let (range, enc) = locate_binary(&s, &[1]).unwrap();
        let got = decode_binary(&out[range.start as usize..range.end as usize], &enc).unwrap();
        assert_eq!(&*got, &body[..]);
    }

    #[test]
    fn eight_bit_headers() {
        assert!(header_has_8bit("Subject: caf\u{e9}\r\n\r\nx".as_bytes()));
        assert!(!header_has_8bit(
            "Subject: cafe\r\n\r\ncaf\u{e9}".as_bytes()
        ));
    }
}
