//! Text for SEARCH: decoded header text and decoded text/* bodies (at most
//! [`PART_TEXT_CAP`] bytes of text per part; non-text parts are ignored),
//! case-folded with Unicode simple case folding, plus the substring
//! matcher that works on folded text. It reads only the parts it needs.

use super::charset;
use super::encoded_word;
use super::header;
use super::summary::{Part, PartBody, Summary};
use super::transfer::{Base64Decoder, QpDecoder, TransferEncoding};

/// At most this much decoded text is considered per part.
pub(crate) const PART_TEXT_CAP: usize = 128 * 1024;

/// Folded text of a message for SEARCH TEXT/BODY.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SearchText {
    /// `Name: decoded value` lines of the top-level header.
    pub headers: String,
    /// Decoded text parts (and encapsulated messages' headers), joined by
    /// newlines.
    pub body: String,
}

impl SearchText {
    #[cfg(test)]
    /// SEARCH BODY.
    pub(crate) fn body_matches(&self, needle: &str) -> bool {
        matches(&self.body, needle)
    }

    #[cfg(test)]
    /// SEARCH TEXT (header or body).
    pub(crate) fn text_matches(&self, needle: &str) -> bool {
        matches(&self.headers, needle) || matches(&self.body, needle)
    }
}

/// Simple case folding of one character (Unicode CaseFolding.txt status
/// C+S). `char::to_lowercase` gives the answer for all but the few
/// characters whose folding differs from their lower-case form, listed here.
fn fold_char(c: char, out: &mut String) {
    let special = match c {
        'ς' => Some('σ'),
        'ϐ' => Some('β'),
        'ϑ' => Some('θ'),
        'ϕ' => Some('φ'),
        'ϖ' => Some('π'),
        'ϰ' => Some('κ'),
        'ϱ' => Some('ρ'),
        'ϵ' => Some('ε'),
        'ſ' => Some('s'),
        'ẛ' => Some('ṡ'),
        'ι' => Some('ι'),
        'µ' => Some('μ'),
        'ẞ' => Some('ß'),
        _ => None,
    };
    if let Some(f) = special {
        out.push(f);
        return;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => out.push(l),
        // Multi-character lowercase (e.g. U+0130) is full folding only:
        // simple folding keeps the character.
        _ => out.push(c),
    }
}

/// Unicode simple case folding of a string.
pub(crate) fn fold(s: &str) -> String {
    // Most mail text is ASCII, where folding is lower-casing; this path is
    // several times faster than folding character by character.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            fold_char(c, &mut out);
        }
    }
    out
}

#[cfg(test)]
/// True when `folded_haystack` (already [`fold`]ed) contains `needle`
/// (folded here). An empty needle matches everything, as in IMAP.
pub(crate) fn matches(folded_haystack: &str, needle: &str) -> bool {
    folded_haystack.contains(fold(needle).as_str())
}

/// The decoded values of every field named `name` in a header block, for
/// SEARCH HEADER; not folded.
pub(crate) fn header_values(block: &[u8], name: &[u8]) -> Vec<String> {
    header::fields(block)
        .filter(|f| f.is(name))
        .map(|f| encoded_word::decode(&f.unfolded()))
        .collect()
}

fn push_header_text(block: &[u8], out: &mut String) {
    for line in header::logical_lines(block) {
        match header::parse_line(line) {
            Some(f) => {
                out.push_str(&String::from_utf8_lossy(f.name));
                out.push_str(": ");
                out.push_str(&encoded_word::decode(&f.unfolded()));
            }
            // Not a field, yet text of the message: SEARCH TEXT finds it
            // (Dovecot does).
            None => out.push_str(&String::from_utf8_lossy(&header::unfold(line))),
        }
        out.push('\n');
    }
}

/// Raw input read per text part: base64 needs 4/3 of the output plus line
/// breaks, quoted-printable at most 3x.
const INPUT_CAP: usize = PART_TEXT_CAP * 3 + 1024;

/// The byte ranges of the raw message that [`extract`] reads: the top
/// header, the bounded start of each text part, the headers of
/// encapsulated messages. A caller holding encrypted content decrypts only
/// these (attachments are skipped) and may leave the rest of `raw` zeroed.
pub(crate) fn needed_ranges(summary: &Summary) -> Vec<std::ops::Range<u64>> {
    fn walk(part: &Part, out: &mut Vec<std::ops::Range<u64>>) {
        match &part.body {
            PartBody::Multipart(children) => children.iter().for_each(|c| walk(c, out)),
            PartBody::Message { message, .. } => {
                out.push(message.header_start..message.body_start);
                walk(message, out);
            }
            PartBody::Single if part.content.is_text() && !part.opaque => {
                let cap = part.body_start.saturating_add(INPUT_CAP as u64);
                out.push(part.body_start..part.end.min(cap));
            }
            PartBody::Single => {}
        }
    }
    let mut out = Vec::new();
    out.push(0..summary.root.body_start);
    walk(&summary.root, &mut out);
    out.retain(|r| r.start < r.end);
    out
}

/// Decodes up to [`PART_TEXT_CAP`] bytes of text of a leaf part.
pub(super) fn part_text(part: &Part, raw: &[u8]) -> String {
    let start = usize::try_from(part.body_start).unwrap_or(usize::MAX);
    let end = usize::try_from(part.end).unwrap_or(usize::MAX);
    let body = raw.get(start..end.min(raw.len())).unwrap_or_default();
    let enc = part.content.transfer_encoding();
    let input = body.get(..INPUT_CAP.min(body.len())).unwrap_or(body);
    let mut decoded = Vec::new();
    match enc {
        TransferEncoding::Base64 => Base64Decoder::new().feed(input, &mut decoded),
        TransferEncoding::QuotedPrintable => {
            let mut d = QpDecoder::new();
            d.feed(input, &mut decoded);
            d.finish(&mut decoded);
        }
        TransferEncoding::Unknown(_) => return String::new(),
        _ => decoded.extend_from_slice(input),
    }
    let text = match part.content.charset() {
        Some(cs) => charset::decode(cs, &decoded),
        None => charset::decode_unlabelled(&decoded),
    };
    let mut cut = text.len().min(PART_TEXT_CAP);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = text.get(..cut).unwrap_or_default();
    if part.content.media_subtype.eq_ignore_ascii_case(b"html") {
        strip_tags(text)
    } else {
        text.to_owned()
    }
}

/// Drops HTML tags so markup never matches a search; entities other than
/// the common few are left as written.
pub(super) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn collect_body(part: &Part, raw: &[u8], out: &mut String) {
    match &part.body {
        PartBody::Multipart(children) => {
            for c in children {
                collect_body(c, raw, out);
            }
        }
        PartBody::Message { message, .. } => {
            let hs = usize::try_from(message.header_start).unwrap_or(usize::MAX);
            let bs = usize::try_from(message.body_start).unwrap_or(usize::MAX);
            push_header_text(raw.get(hs..bs).unwrap_or_default(), out);
            collect_body(message, raw, out);
        }
        PartBody::Single if part.content.is_text() && !part.opaque => {
            out.push_str(&part_text(part, raw));
            out.push('\n');
        }
        PartBody::Single => {}
    }
}

/// Builds the folded search text of a message.
pub(crate) fn extract(summary: &Summary, raw: &[u8]) -> SearchText {
    let bs = usize::try_from(summary.root.body_start).unwrap_or(usize::MAX);
    let mut headers = String::new();
    push_header_text(raw.get(..bs).unwrap_or_default(), &mut headers);
    let mut body = String::new();
    collect_body(&summary.root, raw, &mut body);
    SearchText {
        headers: fold(&headers),
        body: fold(&body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::summary::summarize;

    #[test]
    fn extract_reads_only_the_needed_ranges() {
        let raw = b"Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\nMIME-Version: 1.0\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfindme\r\n--b\r\nContent-Type: application/pdf\r\n\r\nATTACHMENT-BYTES\r\n--b--\r\n";
        let s = summarize(raw);
        let mut sparse = vec![0u8; raw.len()];
        for r in needed_ranges(&s) {
            let r = r.start as usize..r.end as usize;
            sparse[r.clone()].copy_from_slice(&raw[r]);
        }
        assert!(!sparse.windows(10).any(|w| w == b"ATTACHMENT"));
        assert_eq!(extract(&s, &sparse), extract(&s, raw));
    }

    #[test]
    fn folding() {
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), "σίσυφοσ");
        assert_eq!(fold("Straße STRASSE"), "straße strasse");
        assert_eq!(fold("İx"), "İx");
        assert!(matches(&fold("Grüße aus KÖLN"), "köln"));
        assert!(matches(&fold("abc"), ""));
        assert!(!matches(&fold("abc"), "abd"));
    }

    #[test]
    fn decodes_text_parts_and_skips_others() {
        let raw = b"Subject: =?utf-8?q?R=C3=A9union?=\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PGI+R1LDnFNTRTwvYj4=\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\r\nsecretword\r\n\
--b--\r\n";
        let s = summarize(raw);
        let t = extract(&s, raw);
        assert!(t.body_matches("CAFÉ CRÈME"));
        assert!(t.body_matches("grüsse"));
        assert!(!t.body_matches("<b>"));
        assert!(!t.body_matches("secretword"));
        assert!(t.text_matches("réunion"));
        assert!(!t.body_matches("réunion"));
        assert_eq!(
            header_values(&raw[..], b"subject"),
            vec!["Réunion".to_string()]
        );
    }

    #[test]
    fn cap_per_part() {
        let mut raw = b"Content-Type: text/plain\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat(b'a').take(PART_TEXT_CAP));
        raw.extend_from_slice(b"needle");
        let s = summarize(&raw);
        let t = extract(&s, &raw);
        assert!(!t.body_matches("needle"));
        assert!(t.body_matches("aaaa"));
    }
}
