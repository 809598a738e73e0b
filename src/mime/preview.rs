//! The PREVIEW text of a message (RFC 8970): the start of its first
//! readable text part, computed once when the message is summarised and
//! kept only inside the sealed summary. Pure: never fails, never panics.

use super::search_text::{part_text, strip_tags};
use super::summary::{Part, PartBody};

/// Longest preview, in characters (RFC 8970 §3 allows up to 256; about
/// 200 is what clients show).
pub(crate) const MAX_CHARS: usize = 200;

fn is_attachment(p: &Part) -> bool {
    p.content
        .disposition
        .as_ref()
        .is_some_and(|d| d.kind.eq_ignore_ascii_case(b"attachment"))
}

fn is_subtype(p: &Part, t: &[u8]) -> bool {
    p.content.is_text() && p.content.media_subtype.eq_ignore_ascii_case(t)
}

/// The leaf whose text is the preview: the first inline text part, a
/// multipart/alternative giving its text/plain (else its first text)
/// alternative; encapsulated messages and attachments are not looked into.
fn text_part(p: &Part) -> Option<&Part> {
    match &p.body {
        PartBody::Single if p.content.is_text() && !p.opaque && !is_attachment(p) => Some(p),
        PartBody::Single | PartBody::Message { .. } => None,
        PartBody::Multipart(children) => {
            if p.content.media_subtype.eq_ignore_ascii_case(b"alternative") {
                if let Some(plain) = children.iter().find(|c| is_subtype(c, b"plain")) {
                    return text_part(plain);
                }
            }
            children.iter().find_map(text_part)
        }
    }
}

/// Removes `<name ...> ... </name>` blocks (style, script, head), whose
/// text is not part of what a reader sees.
fn drop_blocks(html: &str, name: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let (open, close) = (format!("<{name}"), format!("</{name}"));
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    while let Some(rel) = lower.get(pos..).and_then(|r| r.find(&open)) {
        let start = pos + rel;
        out.push_str(html.get(pos..start).unwrap_or_default());
        match lower.get(start..).and_then(|r| r.find(&close)) {
            Some(end_rel) => {
                let end = start + end_rel;
                pos = lower
                    .get(end..)
                    .and_then(|r| r.find('>'))
                    .map_or(lower.len(), |gt| end + gt + 1);
            }
            None => {
                pos = lower.len();
            }
        }
    }
    out.push_str(html.get(pos..).unwrap_or_default());
    out
}

/// The preview of the message whose root part is `root` (raw bytes
/// `raw`): white space collapsed, at most [`MAX_CHARS`] characters, empty
/// when the message has no readable text.
pub(crate) fn build(root: &Part, raw: &[u8]) -> String {
    let Some(part) = text_part(root) else {
        return String::new();
    };
    let text = if is_subtype(part, b"html") {
        // part_text strips tags itself; the blocks must go first, so the
        // raw text is decoded without that step.
        let mut plain = part.clone();
        plain.content.media_subtype = b"plain".to_vec();
        let html = part_text(&plain, raw);
        let mut h = html;
        for name in ["head", "style", "script"] {
            h = drop_blocks(&h, name);
        }
        strip_tags(&h)
    } else {
        part_text(part, raw)
    };
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        for (k, c) in std::iter::once(' ').chain(word.chars()).enumerate() {
            if k == 0 && out.is_empty() {
                continue;
            }
            if count == MAX_CHARS {
                return out;
            }
            // Control characters never reach a client's list view.
            out.push(if c.is_control() { ' ' } else { c });
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::summarize;

    fn preview(raw: &[u8]) -> String {
        build(&summarize(raw).root, raw)
    }

    #[test]
    fn rfc8970_plain_text_collapsed_and_capped() {
        assert_eq!(
            preview(b"Subject: x\r\n\r\n  Hello,\r\n\r\n  world!\r\n"),
            "Hello, world!"
        );
        let long = format!("Subject: x\r\n\r\n{}\r\n", "abcd ".repeat(100));
        let p = preview(long.as_bytes());
        assert_eq!(p.chars().count(), MAX_CHARS);
        assert_eq!(preview(b"Subject: x\r\n\r\n"), "");
    }

    #[test]
    fn rfc8970_html_alternative_and_attachments() {
        let raw = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n\
--a\r\nContent-Type: text/html\r\n\r\n<html><head><style>p{}</style></head><p>Html &amp; more</p>\r\n\
--a\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 plain\r\n\
--a--\r\n--o--\r\n";
        assert_eq!(preview(raw), "Café plain");
        let html_only = b"MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<html><head><title>T</title><style>p{color:red}</style></head><body><p>Html &amp; more</p><script>x()</script></body></html>\r\n";
        assert_eq!(preview(html_only), "Html & more");
        let attached = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nsecret.txt\r\n\
--o\r\nContent-Type: image/png\r\n\r\nxx\r\n--o--\r\n";
        assert_eq!(preview(attached), "");
    }
}
