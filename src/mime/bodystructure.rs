//! The per-part MIME fields BODYSTRUCTURE reports (type, parameters, id,
//! description, transfer encoding, MD5, disposition, language, location),
//! parsed from a part's header block. Follows Dovecot: the first
//! occurrence of each Content-* field wins, and Content-* fields of a
//! message (top level or message/rfc822) without MIME-Version are ignored.

use serde::{Deserialize, Serialize};

use super::header;
use super::params::{self, is_token_char, Lexer, Param};
use super::transfer::TransferEncoding;

/// Content-Disposition: the disposition token and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// The disposition as written (`attachment`, `inline`, ...).
    pub kind: Vec<u8>,
    /// Its parameters (see [`Param`]).
    pub params: Vec<Param>,
}

/// The type a part has when it has no (valid) Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultType {
    /// text/plain; charset=us-ascii (everywhere but multipart/digest).
    TextPlain,
    /// message/rfc822 (children of multipart/digest, RFC 2046 5.1.5).
    MessageRfc822,
}

/// The MIME fields of one part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentInfo {
    /// Media type as written, or the default.
    pub media_type: Vec<u8>,
    /// Media subtype as written, or the default.
    pub media_subtype: Vec<u8>,
    /// False when the type is the default (no usable Content-Type).
    pub explicit_type: bool,
    /// Content-Type parameters.
    pub params: Vec<Param>,
    /// Content-ID, raw.
    pub id: Option<Vec<u8>>,
    /// Content-Description, raw.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding token as written.
    pub encoding: Option<Vec<u8>>,
    /// Content-MD5, raw (BODYSTRUCTURE echoes it, see doc/mime.md).
    pub md5: Option<Vec<u8>>,
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language tags.
    pub language: Vec<Vec<u8>>,
    /// Content-Location, raw.
    pub location: Option<Vec<u8>>,
}

impl ContentInfo {
    /// The fields of a part without any Content-* header.
    pub fn with_default(default: DefaultType) -> Self {
        let (t, s): (&[u8], &[u8]) = match default {
            DefaultType::TextPlain => (b"text", b"plain"),
            DefaultType::MessageRfc822 => (b"message", b"rfc822"),
        };
        ContentInfo {
            media_type: t.to_vec(),
            media_subtype: s.to_vec(),
            explicit_type: false,
            params: Vec::new(),
            id: None,
            description: None,
            encoding: None,
            md5: None,
            disposition: None,
            language: Vec::new(),
            location: None,
        }
    }

    /// Parses the Content-* fields of `block`. With `is_mime` false they
    /// are ignored and the default is returned.
    pub fn parse(block: &[u8], is_mime: bool, default: DefaultType) -> Self {
        let mut info = Self::with_default(default);
        if !is_mime {
            return info;
        }
        let (mut seen_type, mut seen_cte, mut seen_disp, mut seen_lang) =
            (false, false, false, false);
        for f in header::fields(block) {
            let Some(rest) = strip_prefix_ci(f.name, b"Content-") else {
                continue;
            };
            let eq = |n: &[u8]| rest.eq_ignore_ascii_case(n);
            if eq(b"Type") && !seen_type {
                seen_type = true;
                if let Some((t, s, p)) = params::parse_content_type(&f.unfolded()) {
                    info.media_type = t;
                    info.media_subtype = s;
                    info.explicit_type = true;
                    info.params = p;
                }
            } else if eq(b"Transfer-Encoding") && !seen_cte {
                seen_cte = true;
                info.encoding = parse_cte(&f.unfolded());
            } else if eq(b"ID") && info.id.is_none() {
                info.id = Some(f.unfolded());
            } else if eq(b"Description") && info.description.is_none() {
                info.description = Some(f.unfolded());
            } else if eq(b"MD5") && info.md5.is_none() {
                info.md5 = Some(f.unfolded());
            } else if eq(b"Location") && info.location.is_none() {
                info.location = Some(f.unfolded());
            } else if eq(b"Disposition") && !seen_disp {
                seen_disp = true;
                info.disposition = params::parse_token_with_params(&f.unfolded())
                    .map(|(kind, params)| Disposition { kind, params });
            } else if eq(b"Language") && !seen_lang {
                seen_lang = true;
                info.language = parse_language(&f.unfolded());
            }
        }
        info
    }

    /// `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        self.media_type.eq_ignore_ascii_case(b"multipart")
    }

    /// `message/rfc822`.
    pub fn is_message_rfc822(&self) -> bool {
        self.media_type.eq_ignore_ascii_case(b"message")
            && self.media_subtype.eq_ignore_ascii_case(b"rfc822")
    }

    /// `text/*`.
    pub fn is_text(&self) -> bool {
        self.media_type.eq_ignore_ascii_case(b"text")
    }

    /// The transfer encoding for decoding purposes.
    pub fn transfer_encoding(&self) -> TransferEncoding {
        TransferEncoding::from_header(self.encoding.as_deref())
    }

    /// The charset parameter, if any.
    pub fn charset(&self) -> Option<&[u8]> {
        params::raw_value(&self.params, b"charset")
    }

    /// The default type of this multipart's children.
    pub fn child_default(&self) -> DefaultType {
        if self.is_multipart() && self.media_subtype.eq_ignore_ascii_case(b"digest") {
            DefaultType::MessageRfc822
        } else {
            DefaultType::TextPlain
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// True when the block has a MIME-Version field.
pub(crate) fn has_mime_version(block: &[u8]) -> bool {
    header::fields(block).any(|f| f.is(b"MIME-Version"))
}

/// Dovecot keeps the encoding only when it is a single token.
fn parse_cte(value: &[u8]) -> Option<Vec<u8>> {
    let mut lx = Lexer::new(value);
    lx.skip_cfws();
    let tok = lx.take_while(is_token_char).to_vec();
    lx.skip_cfws();
    (!tok.is_empty() && lx.at_end()).then_some(tok)
}

fn parse_language(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut lx = Lexer::new(value);
    loop {
        lx.skip_cfws();
        let tag = lx.take_while(|b| is_token_char(b) && b != b'.');
        if tag.is_empty() {
            break;
        }
        out.push(tag.to_vec());
        lx.skip_cfws();
        if lx.peek() != Some(b',') {
            break;
        }
        lx.bump();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_fields_first_wins() {
        let block = b"Content-Type: Text/Plain; charset=ISO-8859-1\r\n\
Content-Type: image/png\r\n\
Content-Transfer-Encoding: Quoted-Printable\r\n\
Content-ID: <id@x>\r\n\
Content-Description: a\r\n  description\r\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\
Content-Disposition: inline; filename=a.txt\r\n\
Content-Language: en-GB, fr\r\n\
Content-Location: http://x/y\r\n\r\n";
        let c = ContentInfo::parse(block, true, DefaultType::TextPlain);
        assert_eq!(c.media_type, b"Text");
        assert_eq!(c.media_subtype, b"Plain");
        assert!(c.is_text());
        assert_eq!(c.charset(), Some(&b"ISO-8859-1"[..]));
        assert_eq!(c.encoding.as_deref(), Some(&b"Quoted-Printable"[..]));
        assert_eq!(c.transfer_encoding(), TransferEncoding::QuotedPrintable);
        assert_eq!(c.id.as_deref(), Some(&b"<id@x>"[..]));
        assert_eq!(c.description.as_deref(), Some(&b"a  description"[..]));
        assert_eq!(c.md5.as_deref(), Some(&b"Q2hlY2sgSW50ZWdyaXR5IQ=="[..]));
        assert_eq!(
            c.disposition.as_ref().map(|d| d.kind.clone()),
            Some(b"inline".to_vec())
        );
        assert_eq!(c.language, vec![b"en-GB".to_vec(), b"fr".to_vec()]);
        assert_eq!(c.location.as_deref(), Some(&b"http://x/y"[..]));
    }

    #[test]
    fn non_mime_and_defaults() {
        let block = b"Content-Type: image/png\r\n\r\n";
        let c = ContentInfo::parse(block, false, DefaultType::TextPlain);
        assert_eq!(c, ContentInfo::with_default(DefaultType::TextPlain));
        let c = ContentInfo::parse(
            b"Content-Type: garbage\r\n\r\n",
            true,
            DefaultType::MessageRfc822,
        );
        assert!(c.is_message_rfc822());
        assert!(!c.explicit_type);
        let c = ContentInfo::parse(
            b"Content-Transfer-Encoding: base64 junk\r\n\r\n",
            true,
            DefaultType::TextPlain,
        );
        assert_eq!(c.encoding, None);
        assert!(has_mime_version(b"Mime-Version: 1.0\r\n\r\n"));
    }
}
