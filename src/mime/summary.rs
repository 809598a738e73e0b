//! The message summary computed once when a message enters a mailbox and
//! stored sealed beside it: the part tree with byte offsets, sizes, line
//! counts and MIME fields, the ENVELOPE, and the decoded header values
//! SEARCH and SORT use. [`summarize`] never fails and never panics:
//! malformed input degrades, and structure beyond the nesting and part
//! limits is kept as an opaque leaf (its bytes still fetch exactly).

use serde::{Deserialize, Serialize};

use super::address;
use super::bodystructure::{self, ContentInfo, DefaultType};
use super::encoded_word;
use super::envelope::{self, Envelope, MessageDate};
use super::header;
use super::params;
use super::preview;
use super::sort::{self, SortFields};

/// Parts nested deeper than this are not split (opaque).
pub const MAX_DEPTH: usize = 20;
/// At most this many parts are parsed per message.
pub const MAX_PARTS: usize = 1000;

/// One node of the part tree. Offsets index the raw message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Where the part's header starts.
    pub header_start: u64,
    /// Where its body starts (after the empty line).
    pub body_start: u64,
    /// One past the end of its body (the line break before a boundary
    /// belongs to the boundary, RFC 2046 5.1.1).
    pub end: u64,
    /// Body size as IMAP counts it: bare LFs count as CRLF (Dovecot's
    /// "virtual size"), so the number matches the bytes FETCH sends.
    pub body_size: u64,
    /// Number of lines (LF characters) in the body.
    pub body_lines: u64,
    /// The MIME fields.
    pub content: ContentInfo,
    /// What the body holds.
    pub body: PartBody,
    /// True when a limit stopped parsing inside this part.
    pub opaque: bool,
}

/// The body of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartBody {
    /// A leaf (also multipart without boundary, or opaque parts).
    Single,
    /// The children of a multipart (may be empty when no boundary occurs).
    Multipart(Vec<Part>),
    /// An encapsulated message/rfc822: its envelope and the message
    /// itself (header_start = the enclosing part's body_start).
    Message {
        /// ENVELOPE of the encapsulated message.
        envelope: Box<Envelope>,
        /// The encapsulated message as a part.
        message: Box<Part>,
    },
}

/// Decoded header values for SEARCH and SORT.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchFields {
    /// Date header, parsed; None when absent or unparseable.
    pub date: Option<MessageDate>,
    /// Subject, RFC 2047-decoded ("" when absent).
    pub subject: String,
    /// From, decoded display form.
    pub from: String,
    /// To, decoded display form.
    pub to: String,
    /// Cc, decoded display form.
    pub cc: String,
    /// Bcc, decoded display form.
    pub bcc: String,
    /// Message-ID, raw.
    pub message_id: Option<String>,
}

/// Everything FETCH, SEARCH and SORT need without re-reading the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The message as the root part (header_start 0).
    pub root: Part,
    /// Its ENVELOPE.
    pub envelope: Envelope,
    /// RFC822.SIZE: the whole message with bare LFs counted as CRLF.
    pub size: u64,
    /// Header values for SEARCH and SORT.
    pub search: SearchFields,
    /// SORT and THREAD keys (base subject, address keys, references).
    pub sort: SortFields,
    /// The PREVIEW text (RFC 8970); empty when there is no readable text.
    pub preview: String,
}

/// (IMAP size, line count) of `bytes`.
pub fn measure(bytes: &[u8]) -> (u64, u64) {
    let mut lines = 0u64;
    let mut bare = 0u64;
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' {
            lines += 1;
            if prev != b'\r' {
                bare += 1;
            }
        }
        prev = b;
    }
    (bytes.len() as u64 + bare, lines)
}

struct Builder<'a> {
    raw: &'a [u8],
    parts: usize,
}

impl Builder<'_> {
    /// Parses the part at `[start, end)`. The caller has already counted it.
    fn part(
        &mut self,
        start: usize,
        end: usize,
        depth: usize,
        default: DefaultType,
        implied_mime: bool,
    ) -> Part {
        let data = self.raw.get(start..end).unwrap_or_default();
        let hlen = header::header_len(data);
        let block = data.get(..hlen).unwrap_or_default();
        let is_mime = implied_mime || bodystructure::has_mime_version(block);
        let content = ContentInfo::parse(block, is_mime, default);
        let body_start = start + hlen;
        let (body_size, body_lines) = measure(data.get(hlen..).unwrap_or_default());
        let mut part = Part {
            header_start: start as u64,
            body_start: body_start as u64,
            end: end as u64,
            body_size,
            body_lines,
            content,
            body: PartBody::Single,
            opaque: false,
        };
        if part.content.is_multipart() {
            let boundary = params::raw_value(&part.content.params, b"boundary")
                .filter(|b| !b.is_empty())
                .map(<[u8]>::to_vec);
            if let Some(boundary) = boundary {
                if depth >= MAX_DEPTH {
                    part.opaque = true;
                    return part;
                }
                let ranges = split_multipart(self.raw, body_start, end, &boundary);
                if self.parts + ranges.len() > MAX_PARTS {
                    part.opaque = true;
                    return part;
                }
                self.parts += ranges.len();
                let child_default = part.content.child_default();
                let children = ranges
                    .into_iter()
                    .map(|(s, e)| self.part(s, e, depth + 1, child_default, true))
                    .collect();
                part.body = PartBody::Multipart(children);
            }
        } else if part.content.is_message_rfc822() {
            if depth >= MAX_DEPTH || self.parts >= MAX_PARTS {
                part.opaque = true;
                return part;
            }
            self.parts += 1;
            // The enclosing part is MIME, so its encapsulated message is
            // too, MIME-Version or not (Dovecot; imaptest fetch-body-mime).
            let inner = self.part(body_start, end, depth + 1, DefaultType::TextPlain, true);
            let inner_block = self
                .raw
                .get(body_start..inner.body_start as usize)
                .unwrap_or_default();
            part.body = PartBody::Message {
                envelope: Box::new(envelope::build(inner_block)),
                message: Box::new(inner),
            };
        }
        part
    }
}

/// Splits the multipart body `[start, end)` of `raw` into the byte ranges
/// of its parts. Preamble and epilogue are dropped; a missing close
/// delimiter lets the last part run to the end.
fn split_multipart(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let body = raw.get(start..end).unwrap_or_default();
    // (line start, offset after the line, is close delimiter)
    let mut delims: Vec<(usize, usize, bool)> = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let rest = body.get(pos..).unwrap_or_default();
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (rest.get(..nl).unwrap_or_default(), pos + nl + 1),
            None => (rest, body.len()),
        };
        if let Some(after) = line
            .strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(boundary))
        {
            let is_close = after.starts_with(b"--");
            if is_close || after.trim_ascii().is_empty() {
                delims.push((pos, next, is_close));
                if is_close {
                    break;
                }
            }
        }
        pos = next;
    }
    let mut ranges = Vec::new();
    for (i, &(_, after, is_close)) in delims.iter().enumerate() {
        if is_close {
            break;
        }
        let part_end = match delims.get(i + 1) {
            Some(&(next_start, _, _)) => {
                let before = body.get(..next_start).unwrap_or_default();
                let nl = if before.ends_with(b"\r\n") {
                    2
                } else if before.ends_with(b"\n") {
                    1
                } else {
                    0
                };
                (next_start - nl).max(after)
            }
            None => body.len(),
        };
        ranges.push((start + after, start + part_end.max(after)));
    }
    ranges
}

/// Parses a raw message into its [`Summary`]. Never fails.
pub fn summarize(raw: &[u8]) -> Summary {
    let mut b = Builder { raw, parts: 1 };
    let root = b.part(0, raw.len(), 0, DefaultType::TextPlain, false);
    let block = raw.get(..root.body_start as usize).unwrap_or_default();
    let envelope = envelope::build(block);
    let decoded = |name: &[u8]| {
        header::last_value(block, name)
            .map(|v| encoded_word::decode(&v))
            .unwrap_or_default()
    };
    let search = SearchFields {
        date: header::last_value(block, b"Date").and_then(|d| envelope::parse_date(&d)),
        subject: decoded(b"Subject"),
        from: address::display(&envelope.from),
        to: address::display(&envelope.to),
        cc: address::display(&envelope.cc),
        bcc: address::display(&envelope.bcc),
        message_id: envelope
            .message_id
            .as_ref()
            .map(|m| String::from_utf8_lossy(m).into_owned()),
    };
    let sort = sort::build(block, &envelope, &search.subject);
    let preview = preview::build(&root, raw);
    Summary {
        size: measure(raw).0,
        root,
        envelope,
        search,
        sort,
        preview,
    }
}

impl Part {
    /// Visits this part and all parts below it, depth first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Part)) {
        f(self);
        match &self.body {
            PartBody::Single => {}
            PartBody::Multipart(children) => children.iter().for_each(|c| c.walk(f)),
            PartBody::Message { message, .. } => message.walk(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_counts_bare_lf() {
        assert_eq!(measure(b"a\r\nb\nc"), (7, 2));
        assert_eq!(measure(b""), (0, 0));
    }

    #[test]
    fn split_rules() {
        let raw = b"pre\r\n--b\r\nA\r\n--b  \r\n\r\nB\r\n--bx\r\n--b--\r\nepi";
        let r = split_multipart(raw, 0, raw.len(), b"b");
        let got: Vec<&[u8]> = r.iter().map(|&(s, e)| &raw[s..e]).collect();
        assert_eq!(got, vec![&b"A"[..], &b"\r\nB\r\n--bx"[..]]);
        // Truncated: no close delimiter.
        let raw = b"--b\nA\n--b\nB\n";
        let r = split_multipart(raw, 0, raw.len(), b"b");
        let got: Vec<&[u8]> = r.iter().map(|&(s, e)| &raw[s..e]).collect();
        assert_eq!(got, vec![&b"A"[..], &b"B\n"[..]]);
        // Adjacent delimiters give an empty part.
        let raw = b"--b\r\n--b--";
        let r = split_multipart(raw, 0, raw.len(), b"b");
        assert_eq!(r, vec![(5, 5)]);
    }

    #[test]
    fn simple_message() {
        let raw = b"Subject: =?utf-8?q?h=C3=A9?=\r\nFrom: A <a@x>\r\nDate: 1 Jan 2020 00:00:00 +0000\r\n\r\nbody\r\n";
        let s = summarize(raw);
        assert_eq!(s.search.subject, "hé");
        assert_eq!(s.search.from, "A <a@x>");
        assert_eq!(s.search.date.map(|d| d.unix_seconds), Some(1_577_836_800));
        assert_eq!(s.root.body_lines, 1);
        assert_eq!(s.root.body_size, 6);
        assert_eq!(s.size, raw.len() as u64);
        assert_eq!(s.root.body, PartBody::Single);
    }
}
