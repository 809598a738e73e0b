//! FETCH BODY[section] / BINARY[section] resolution: from a [`SectionSpec`]
//! and a [`Summary`] to the raw byte range to read, then to the bytes to
//! send (header-field filtering, CRLF normalisation, transfer decoding).
//! Locating never touches the message, so the store can decrypt only the
//! range it needs; extraction works on that range alone.

use std::borrow::Cow;
use std::ops::Range;

use super::header;
use super::summary::{Part, PartBody, Summary};
use super::transfer::{decode_base64, decode_qp, TransferEncoding};

/// What part of the addressed part to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// The whole part (`BODY[]`, `BODY[1.2]`).
    Whole,
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`.
    HeaderFields(Vec<Vec<u8>>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(Vec<Vec<u8>>),
    /// `TEXT`.
    Text,
    /// `MIME` (only with a non-empty part path).
    Mime,
}

/// A section specification: a part path (1-based numbers, empty for the
/// whole message) and what to take from that part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpec {
    /// Part numbers, e.g. `[2, 1]` for `2.1`.
    pub path: Vec<u32>,
    /// Which text of the part.
    pub text: SectionText,
}

/// Why a section cannot be returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    /// The path names a part the message does not have.
    #[error("no part {path:?} in this message")]
    NoSuchPart {
        /// The requested path.
        path: Vec<u32>,
    },
    /// HEADER/TEXT/HEADER.FIELDS on a part that is not message/rfc822.
    #[error("part {path:?} is not a message/rfc822 part")]
    NotMessage {
        /// The requested path.
        path: Vec<u32>,
    },
    /// MIME requires a part number.
    #[error("MIME needs a part number")]
    MimeWithoutPart,
    /// The summary's offsets do not fit the bytes supplied (wrong message).
    #[error("section range {start}..{end} outside message of {len} bytes")]
    OutOfBounds {
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
        /// Bytes available.
        len: usize,
    },
    /// BINARY on a part whose Content-Transfer-Encoding is not known;
    /// IMAP answers `NO [UNKNOWN-CTE]`.
    #[error("unknown content-transfer-encoding {0:?}")]
    UnknownCte(String),
}

/// Resolves a part path. `is_message` tracks whether `part` stands for a
/// whole message (root or encapsulated), whose part 1 is its own body
/// when it is not multipart.
fn resolve<'a>(root: &'a Part, path: &[u32]) -> Option<&'a Part> {
    let mut cur = root;
    let mut is_message = true;
    for &n in path {
        (cur, is_message) = step(cur, is_message, n)?;
    }
    Some(cur)
}

fn step(cur: &Part, is_message: bool, n: u32) -> Option<(&Part, bool)> {
    let idx = usize::try_from(n.checked_sub(1)?).ok()?;
    match &cur.body {
        PartBody::Multipart(children) => children.get(idx).map(|c| (c, false)),
        PartBody::Message { message, .. } if !is_message => step(message, true, n),
        _ if is_message && idx == 0 => Some((cur, false)),
        _ => None,
    }
}

/// The message a HEADER/TEXT specifier applies to.
fn message_of<'a>(summary: &'a Summary, path: &[u32]) -> Result<&'a Part, SectionError> {
    if path.is_empty() {
        return Ok(&summary.root);
    }
    let part = resolve(&summary.root, path).ok_or_else(|| SectionError::NoSuchPart {
        path: path.to_vec(),
    })?;
    match &part.body {
        PartBody::Message { message, .. } => Ok(message),
        _ => Err(SectionError::NotMessage {
            path: path.to_vec(),
        }),
    }
}

/// The raw byte range of the message that `spec` needs. For
/// HEADER.FIELDS[.NOT] it is the whole header block, which
/// [`extract_from_range`] then filters.
pub fn locate(summary: &Summary, spec: &SectionSpec) -> Result<Range<u64>, SectionError> {
    let no_part = || SectionError::NoSuchPart {
        path: spec.path.clone(),
    };
    match &spec.text {
        SectionText::Whole if spec.path.is_empty() => Ok(0..summary.root.end),
        SectionText::Whole => {
            let p = resolve(&summary.root, &spec.path).ok_or_else(no_part)?;
            Ok(p.body_start..p.end)
        }
        SectionText::Mime => {
            if spec.path.is_empty() {
                return Err(SectionError::MimeWithoutPart);
            }
            let p = resolve(&summary.root, &spec.path).ok_or_else(no_part)?;
            Ok(p.header_start..p.body_start)
        }
        SectionText::Header | SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_) => {
            let m = message_of(summary, &spec.path)?;
            Ok(m.header_start..m.body_start)
        }
        SectionText::Text => {
            let m = message_of(summary, &spec.path)?;
            Ok(m.body_start..m.end)
        }
    }
}

/// Turns the bytes of the range [`locate`] returned into the bytes to
/// send: header fields filtered for HEADER.FIELDS[.NOT], bare LFs turned
/// into CRLF (so the data matches the sizes BODYSTRUCTURE reports).
pub fn extract_from_range<'a>(spec: &SectionSpec, bytes: &'a [u8]) -> Cow<'a, [u8]> {
    match &spec.text {
        SectionText::HeaderFields(names) => Cow::Owned(filter_fields(bytes, names, true)),
        SectionText::HeaderFieldsNot(names) => Cow::Owned(filter_fields(bytes, names, false)),
        _ => normalize_crlf(bytes),
    }
}

/// [`locate`] then [`extract_from_range`] on a whole message in memory.
pub fn extract<'a>(
    summary: &Summary,
    spec: &SectionSpec,
    raw: &'a [u8],
) -> Result<Cow<'a, [u8]>, SectionError> {
    let range = locate(summary, spec)?;
    let bytes = slice(raw, &range)?;
    Ok(extract_from_range(spec, bytes))
}

fn slice<'a>(raw: &'a [u8], range: &Range<u64>) -> Result<&'a [u8], SectionError> {
    let oob = || SectionError::OutOfBounds {
        start: range.start,
        end: range.end,
        len: raw.len(),
    };
    let start = usize::try_from(range.start).map_err(|_| oob())?;
    let end = usize::try_from(range.end).map_err(|_| oob())?;
    raw.get(start..end).ok_or_else(oob)
}

/// The selected (or, with `keep` false, the other) fields of a header
/// block, in message order, followed by the empty line, as RFC 3501 wants.
pub fn filter_fields(block: &[u8], names: &[Vec<u8>], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in header::fields(block) {
        let listed = names.iter().any(|n| f.is(n));
        if listed == keep {
            out.extend_from_slice(&normalize_crlf(f.raw));
            if !f.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Replaces bare LF with CRLF; borrows when there is none.
pub fn normalize_crlf(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut prev = 0u8;
    let has_bare = bytes.iter().any(|&b| {
        let bare = b == b'\n' && prev != b'\r';
        prev = b;
        bare
    });
    if !has_bare {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    Cow::Owned(out)
}

/// The `<offset.length>` window of a section (RFC 3501 partial fetch):
/// empty when the offset is past the end.
pub fn partial(bytes: &[u8], offset: u64, length: Option<u64>) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let rest = bytes.get(start..).unwrap_or_default();
    match length.map(|l| usize::try_from(l).unwrap_or(usize::MAX)) {
        Some(l) => rest.get(..l.min(rest.len())).unwrap_or_default(),
        None => rest,
    }
}

/// The raw range BINARY[path] needs, and how to decode it.
pub fn locate_binary(
    summary: &Summary,
    path: &[u32],
) -> Result<(Range<u64>, TransferEncoding), SectionError> {
    if path.is_empty() {
        return Ok((0..summary.root.end, TransferEncoding::Binary));
    }
    let p = resolve(&summary.root, path).ok_or_else(|| SectionError::NoSuchPart {
        path: path.to_vec(),
    })?;
    let enc = match &p.body {
        PartBody::Single => p.content.transfer_encoding(),
        // Composite parts are sent as they are (RFC 3516 forbids encoding
        // them with anything but identity encodings).
        _ => TransferEncoding::Binary,
    };
    Ok((p.body_start..p.end, enc))
}

/// Decodes the bytes of [`locate_binary`]'s range.
pub fn decode_binary<'a>(
    bytes: &'a [u8],
    encoding: &TransferEncoding,
) -> Result<Cow<'a, [u8]>, SectionError> {
    match encoding {
        TransferEncoding::Binary => Ok(Cow::Borrowed(bytes)),
        TransferEncoding::SevenBit | TransferEncoding::EightBit => Ok(normalize_crlf(bytes)),
        TransferEncoding::Base64 => Ok(Cow::Owned(decode_base64(bytes))),
        TransferEncoding::QuotedPrintable => Ok(Cow::Owned(decode_qp(bytes))),
        TransferEncoding::Unknown(name) => Err(SectionError::UnknownCte(
            String::from_utf8_lossy(name).into_owned(),
        )),
    }
}

/// BINARY[path] of a message in memory; BINARY.SIZE is its length.
pub fn extract_binary<'a>(
    summary: &Summary,
    path: &[u32],
    raw: &'a [u8],
) -> Result<Cow<'a, [u8]>, SectionError> {
    let (range, enc) = locate_binary(summary, path)?;
    decode_binary(slice(raw, &range)?, &enc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::summary::summarize;

    fn spec(path: &[u32], text: SectionText) -> SectionSpec {
        SectionSpec {
            path: path.to_vec(),
            text,
        }
    }

    const MSG: &[u8] = b"Subject: s\r\nTo: a@b\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--x\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\n\r\ninner body\n\
--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n\
--x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n\
--x--\r\n";

    fn get(path: &[u32], text: SectionText) -> Result<Vec<u8>, SectionError> {
        let s = summarize(MSG);
        extract(&s, &spec(path, text), MSG).map(|c| c.into_owned())
    }

    #[test]
    fn top_level_sections() {
        assert_eq!(get(&[], SectionText::Whole).unwrap(), &*normalize_crlf(MSG));
        assert_ne!(&*normalize_crlf(MSG), MSG);
        let h = get(&[], SectionText::Header).unwrap();
        assert!(h.starts_with(b"Subject: s\r\n") && h.ends_with(b"boundary=x\r\n\r\n"));
        assert_eq!(
            get(
                &[],
                SectionText::HeaderFields(vec![b"to".to_vec(), b"SUBJECT".to_vec()])
            )
            .unwrap(),
            b"Subject: s\r\nTo: a@b\r\n\r\n"
        );
        assert_eq!(
            get(&[], SectionText::HeaderFields(vec![b"X-None".to_vec()])).unwrap(),
            b"\r\n"
        );
        let not = get(
            &[],
            SectionText::HeaderFieldsNot(vec![b"Content-Type".to_vec(), b"MIME-Version".to_vec()]),
        )
        .unwrap();
        assert_eq!(not, b"Subject: s\r\nTo: a@b\r\n\r\n");
        assert!(get(&[], SectionText::Text).unwrap().starts_with(b"--x\r\n"));
        assert_eq!(
            get(&[], SectionText::Mime),
            Err(SectionError::MimeWithoutPart)
        );
    }

    #[test]
    fn numbered_parts_and_rfc822() {
        assert_eq!(get(&[1], SectionText::Whole).unwrap(), b"hello");
        assert_eq!(
            get(&[1], SectionText::Mime).unwrap(),
            b"Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            get(&[2], SectionText::Whole).unwrap(),
            b"Subject: inner\r\n\r\ninner body"
        );
        assert_eq!(
            get(&[2], SectionText::Header).unwrap(),
            b"Subject: inner\r\n\r\n"
        );
        assert_eq!(get(&[2], SectionText::Text).unwrap(), b"inner body");
        assert_eq!(get(&[2, 1], SectionText::Whole).unwrap(), b"inner body");
        assert_eq!(
            get(&[2, 1], SectionText::Mime).unwrap(),
            b"Subject: inner\r\n\r\n"
        );
        assert_eq!(
            get(&[1], SectionText::Header),
            Err(SectionError::NotMessage { path: vec![1] })
        );
        assert_eq!(
            get(&[9], SectionText::Whole),
            Err(SectionError::NoSuchPart { path: vec![9] })
        );
        assert_eq!(
            get(&[1, 1], SectionText::Whole),
            Err(SectionError::NoSuchPart { path: vec![1, 1] })
        );
        assert_eq!(
            get(&[0], SectionText::Whole),
            Err(SectionError::NoSuchPart { path: vec![0] })
        );
    }

    #[test]
    fn single_part_message_part_one_is_body() {
        let raw = b"Subject: x\n\nline\n";
        let s = summarize(raw);
        let body = extract(&s, &spec(&[1], SectionText::Whole), raw).unwrap();
        assert_eq!(&*body, b"line\r\n");
        let mime = extract(&s, &spec(&[1], SectionText::Mime), raw).unwrap();
        assert_eq!(&*mime, b"Subject: x\r\n\r\n");
    }

    #[test]
    fn binary_and_partial() {
        let s = summarize(MSG);
        assert_eq!(&*extract_binary(&s, &[3], MSG).unwrap(), &[0u8, 1, 2]);
        assert_eq!(&*extract_binary(&s, &[1], MSG).unwrap(), b"hello");
        assert_eq!(
            extract_binary(&s, &[4], MSG),
            Err(SectionError::UnknownCte("x-uuencode".into()))
        );
        assert_eq!(partial(b"abcdef", 2, Some(3)), b"cde");
        assert_eq!(partial(b"abcdef", 4, Some(10)), b"ef");
        assert_eq!(partial(b"abcdef", 10, None), b"");
    }

    #[test]
    fn out_of_bounds_is_an_error() {
        let s = summarize(MSG);
        let r = extract(&s, &spec(&[], SectionText::Text), b"short");
        assert!(matches!(r, Err(SectionError::OutOfBounds { .. })));
    }
}
