//! IMAP rendering of ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2)
//! from a `mime::Summary`, never from the message bytes. Choices the RFC
//! leaves open follow Dovecot (see doc/mime.md); this module only
//! serialises, it never parses mail.

use std::borrow::Cow;

use crate::imap::wire::response::{
    write_decimal, write_list_or_nil, write_nstring as raw_nstring, write_string as raw_string,
};
use crate::mime::address::Address;
use crate::mime::bodystructure::ContentInfo;
use crate::mime::envelope::Envelope;
use crate::mime::params::Param;
use crate::mime::summary::{Part, PartBody};

/// What Dovecot answers for a multipart that has no parts (BODY form).
const EMPTY_BODY: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
/// The same with extension data (BODYSTRUCTURE form).
const EMPTY_BODYSTRUCTURE: &[u8] =
    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";

/// A NUL byte may not appear in an IMAP string, quoted or literal (RFC
/// 9051 §4.3, CHAR8); header fields are the sender's bytes and may hold
/// one. Each becomes a space, so ENVELOPE and BODYSTRUCTURE never carry it.
fn without_nul(s: &[u8]) -> Cow<'_, [u8]> {
    if s.contains(&0) {
        Cow::Owned(s.iter().map(|&b| if b == 0 { b' ' } else { b }).collect())
    } else {
        Cow::Borrowed(s)
    }
}

fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    raw_string(out, &without_nul(s));
}

fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    raw_nstring(out, s.map(without_nul).as_deref());
}

/// Writes `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
pub fn write_envelope(out: &mut Vec<u8>, env: &Envelope) {
    out.push(b'(');
    write_nstring(out, env.date.as_deref());
    out.push(b' ');
    write_nstring(out, env.subject.as_deref());
    for list in [
        &env.from,
        &env.sender,
        &env.reply_to,
        &env.to,
        &env.cc,
        &env.bcc,
    ] {
        out.push(b' ');
        write_address_list(out, list);
    }
    out.push(b' ');
    write_nstring(out, env.in_reply_to.as_deref());
    out.push(b' ');
    write_nstring(out, env.message_id.as_deref());
    out.push(b')');
}

fn write_address_list(out: &mut Vec<u8>, list: &[Address]) {
    write_list_or_nil(out, list, b"", |out, a| {
        out.push(b'(');
        write_nstring(out, a.name.as_deref());
        out.push(b' ');
        write_nstring(out, a.adl.as_deref());
        out.push(b' ');
        write_nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        write_nstring(out, a.host.as_deref());
        out.push(b')');
    });
}

/// Writes FETCH BODY (no extension data) for `part`, parenthesised.
pub fn write_body(out: &mut Vec<u8>, part: &Part) {
    write_part(out, part, false);
}

/// Writes FETCH BODYSTRUCTURE (with extension data) for `part`.
pub fn write_bodystructure(out: &mut Vec<u8>, part: &Part) {
    write_part(out, part, true);
}

/// Writes `part` as a parenthesised body; `extended` adds extension data.
pub fn write_part(out: &mut Vec<u8>, part: &Part, extended: bool) {
    out.push(b'(');
    match &part.body {
        PartBody::Multipart(children) => write_multipart(out, part, children, extended),
        PartBody::Message { envelope, message } => {
            write_basic_fields(
                out,
                &part.content,
                b"message",
                b"rfc822",
                false,
                part.body_size,
            );
            out.push(b' ');
            write_envelope(out, envelope);
            out.push(b' ');
            write_part(out, message, extended);
            out.push(b' ');
            write_decimal(out, part.body_lines);
            if extended {
                write_single_extension(out, &part.content);
            }
        }
        PartBody::Single => {
            let c = &part.content;
            // A leaf cannot be reported as multipart or message/rfc822
            // (the grammar would demand children or an envelope), so
            // unsplit ones (limits, no boundary) become opaque data.
            let (ty, sub): (&[u8], &[u8]) = if c.is_multipart() || c.is_message_rfc822() {
                (b"application", b"octet-stream")
            } else {
                (&c.media_type, &c.media_subtype)
            };
            let text = ty.eq_ignore_ascii_case(b"text");
            write_basic_fields(out, c, ty, sub, text, part.body_size);
            if text {
                out.push(b' ');
                write_decimal(out, part.body_lines);
            }
            if extended {
                write_single_extension(out, c);
            }
        }
    }
    out.push(b')');
}

fn write_multipart(out: &mut Vec<u8>, part: &Part, children: &[Part], extended: bool) {
    if children.is_empty() {
        out.extend_from_slice(if extended {
            EMPTY_BODYSTRUCTURE
        } else {
            EMPTY_BODY
        });
    }
    for child in children {
        write_part(out, child, extended);
    }
    out.push(b' ');
    write_string(out, &part.content.media_subtype);
    if extended {
        out.push(b' ');
        write_params(out, &part.content.params, false);
        write_common_extension(out, &part.content);
    }
}

/// `type subtype params id description encoding size`.
fn write_basic_fields(
    out: &mut Vec<u8>,
    c: &ContentInfo,
    ty: &[u8],
    sub: &[u8],
    text: bool,
    size: u64,
) {
    write_string(out, ty);
    out.push(b' ');
    write_string(out, sub);
    out.push(b' ');
    write_params(out, &c.params, text);
    out.push(b' ');
    write_nstring(out, c.id.as_deref());
    out.push(b' ');
    write_nstring(out, c.description.as_deref());
    out.push(b' ');
    write_string(out, c.encoding.as_deref().unwrap_or(b"7bit"));
    out.push(b' ');
    write_decimal(out, size);
}

/// Parameter list; text parts without a charset get Dovecot's default
/// `"charset" "us-ascii"` appended (RFC 2045 5.2 default made explicit).
fn write_params(out: &mut Vec<u8>, params: &[Param], text: bool) {
    let has_charset = params
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case(b"charset"));
    if params.is_empty() && !text {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(out, &p.name);
        out.push(b' ');
        write_string(out, &p.value);
    }
    if text && !has_charset {
        if !params.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"\"charset\" \"us-ascii\"");
    }
    out.push(b')');
}

/// Extension data of a non-multipart body: MD5 (the Content-MD5 value,
/// as Dovecot echoes it; NIL without one), then the common
/// disposition/language/location.
fn write_single_extension(out: &mut Vec<u8>, c: &ContentInfo) {
    out.push(b' ');
    write_nstring(out, c.md5.as_deref());
    write_common_extension(out, c);
}

fn write_common_extension(out: &mut Vec<u8>, c: &ContentInfo) {
    out.push(b' ');
    match &c.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            out.push(b'(');
            write_string(out, &d.kind);
            out.push(b' ');
            write_params(out, &d.params, false);
            out.push(b')');
        }
    }
    out.push(b' ');
    write_list_or_nil(out, &c.language, b" ", |out, l| write_string(out, l));
    out.push(b' ');
    write_nstring(out, c.location.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::summarize;

    fn bs(raw: &[u8]) -> String {
        let mut out = Vec::new();
        write_bodystructure(&mut out, &summarize(raw).root);
        String::from_utf8(out).unwrap()
    }

    fn body(raw: &[u8]) -> String {
        let mut out = Vec::new();
        write_body(&mut out, &summarize(raw).root);
        String::from_utf8(out).unwrap()
    }

    fn env(raw: &[u8]) -> String {
        let mut out = Vec::new();
        write_envelope(&mut out, &summarize(raw).envelope);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_default_message() {
        // Dovecot: ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)
        let raw = b"Subject: x\r\n\r\nab\n";
        assert_eq!(
            bs(raw),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)"
        );
        assert_eq!(
            body(raw),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)"
        );
    }

    #[test]
    fn envelope_never_carries_nul() {
        let e = env(b"Subject: a\0b\r\nFrom: \"x\0y\" <u@h>\r\n\r\nbody");
        assert!(!e.contains('\0'), "{e:?}");
        assert!(e.contains("a b"), "{e}");
    }

    #[test]
    fn empty_envelope() {
        assert_eq!(env(b"\r\n"), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        assert_eq!(
            env(b"Subject:\r\nTo: undisclosed-recipients:;\r\n\r\n"),
            "(NIL \"\" NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn empty_multipart_and_no_boundary() {
        let raw =
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\nno parts\r\n";
        assert_eq!(
            bs(raw),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"q\") NIL NIL NIL)"
        );
        let raw = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n";
        assert_eq!(
            bs(raw),
            "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 3 NIL NIL NIL NIL)"
        );
    }
}
