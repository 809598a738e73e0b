//! IMAP URLs (RFC 5092) as CATENATE (RFC 4469) uses them: a URL naming one
//! message, or a section of it, or an octet range of that (RFC 5550
//! `;PARTIAL=`), parsed into [`ImapUrl`]. Syntax only: whether the user,
//! mailbox and message exist is for the handler that resolves the URL.
//! Never accepts a form it cannot resolve exactly (message lists, URLAUTH,
//! a section without a message); those are [`UrlError`]s, which become
//! `NO [BADURL]`.

use std::num::NonZeroU32;

use thiserror::Error;

use super::command::{MailboxArg, Section};
use super::parser::parse_section;

/// A parsed IMAP URL naming a message or part of one.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapUrl {
    /// Where the URL points.
    pub mailbox: UrlMailbox,
    /// `;UIDVALIDITY=`, when given: the mailbox must still have it.
    pub uid_validity: Option<NonZeroU32>,
    /// `;UID=`.
    pub uid: NonZeroU32,
    /// `;SECTION=`, decoded and parsed as a FETCH `BODY[]` section.
    pub section: Option<Section>,
    /// `;PARTIAL=offset[.length]` (RFC 5550).
    pub partial: Option<UrlPartial>,
}

/// The mailbox part of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlMailbox {
    /// `imap://user@host/mailbox...`: the user must be the session's.
    Absolute {
        /// The (decoded) user name.
        user: String,
        /// The mailbox.
        mailbox: MailboxArg,
    },
    /// `/mailbox...` or `mailbox;UIDVALIDITY=n/...`: a mailbox of the
    /// session's user.
    Path(MailboxArg),
    /// `;UID=n...`: the selected mailbox.
    Selected,
}

/// An octet range (`;PARTIAL=offset[.length]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPartial {
    /// First octet, from 0.
    pub offset: u32,
    /// How many octets at most; `None` = to the end.
    pub length: Option<NonZeroU32>,
}

/// Why a URL is not one this server resolves.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// Not an IMAP URL of a form RFC 5092 defines.
    #[error("not a valid IMAP URL: {0}")]
    Syntax(&'static str),
    /// A form this server does not resolve in CATENATE.
    #[error("unsupported IMAP URL: {0}")]
    Unsupported(&'static str),
}

/// Parses `url` (absolute, absolute path, or relative to the selected
/// mailbox).
pub fn parse(url: &str) -> Result<ImapUrl, UrlError> {
    let (mailbox_part, rest) = if let Some(after) = strip_prefix_ci(url, "imap://") {
        let (server, path) = after
            .split_once('/')
            .ok_or(UrlError::Syntax("no path after the server"))?;
        let (userinfo, _host) = server
            .rsplit_once('@')
            .ok_or(UrlError::Unsupported("anonymous URL (no user)"))?;
        // `;AUTH=` names a mechanism, not a user: the user is what precedes it.
        let user = match find_ci(userinfo, ";AUTH=") {
            Some(at) => &userinfo[..at],
            None => userinfo,
        };
        if user.is_empty() {
            return Err(UrlError::Unsupported("anonymous URL (no user)"));
        }
        let user = decode(user)?;
        let (mb, rest) = mailbox_ref(path)?;
        (
            UrlMailbox::Absolute {
                user,
                mailbox: mb.ok_or(UrlError::Syntax("no mailbox"))?,
            },
            rest,
        )
    } else if let Some(path) = url.strip_prefix('/') {
        if path.starts_with('/') {
            return Err(UrlError::Unsupported("network-path reference"));
        }
        let (mb, rest) = mailbox_ref(path)?;
        (
            UrlMailbox::Path(mb.ok_or(UrlError::Syntax("no mailbox"))?),
            rest,
        )
    } else if starts_with_ci(url, ";UID=") {
        (UrlMailbox::Selected, (None, url))
    } else if starts_with_ci(url, ";SECTION=") || starts_with_ci(url, ";PARTIAL=") {
        return Err(UrlError::Unsupported("a section without a message"));
    } else {
        let (mb, rest) = mailbox_ref(url)?;
        (
            UrlMailbox::Path(mb.ok_or(UrlError::Syntax("no mailbox"))?),
            rest,
        )
    };
    let mailbox = mailbox_part;
    let (uid_validity, rest) = rest;
    let mut params = rest.split('/');
    let uid = match params.next().and_then(|p| value_of(p, ";UID=")) {
        Some(v) => nz(v)?,
        None => {
            return Err(UrlError::Unsupported(
                "a URL that names no single message (;UID=)",
            ))
        }
    };
    let mut section = None;
    let mut partial = None;
    for p in params {
        if let Some(v) = value_of(p, ";SECTION=") {
            if section.is_some() || partial.is_some() {
                return Err(UrlError::Syntax(";SECTION= out of place"));
            }
            let text = decode(v)?;
            section =
                Some(parse_section(text.as_bytes()).ok_or(UrlError::Syntax("invalid ;SECTION="))?);
        } else if let Some(v) = value_of(p, ";PARTIAL=") {
            if partial.is_some() {
                return Err(UrlError::Syntax(";PARTIAL= given twice"));
            }
            partial = Some(partial_range(v)?);
        } else if starts_with_ci(p, ";URLAUTH=") || starts_with_ci(p, ";EXPIRE=") {
            return Err(UrlError::Unsupported("URLAUTH"));
        } else {
            return Err(UrlError::Syntax("unknown URL component"));
        }
    }
    Ok(ImapUrl {
        mailbox,
        uid_validity,
        uid,
        section,
        partial,
    })
}

/// `enc-mailbox [;UIDVALIDITY=n]` up to the `/` before `;UID=`: the
/// mailbox (if any), its UIDVALIDITY, and the rest after that `/`.
type MailboxRef<'a> = (Option<MailboxArg>, (Option<NonZeroU32>, &'a str));

fn mailbox_ref(path: &str) -> Result<MailboxRef<'_>, UrlError> {
    // The mailbox ends at the `/` that starts `;UID=` (a mailbox name may
    // itself contain `/`, the hierarchy delimiter).
    let at = find_ci(path, "/;UID=").ok_or(UrlError::Unsupported(
        "a URL that names no single message (;UID=)",
    ))?;
    let (mb, rest) = (&path[..at], &path[at + 1..]);
    let (name, validity) = match find_ci(mb, ";UIDVALIDITY=") {
        Some(v) => (&mb[..v], Some(nz(&mb[v + ";UIDVALIDITY=".len()..])?)),
        None => (mb, None),
    };
    if name.contains(';') || name.contains('?') {
        return Err(UrlError::Syntax(
            "unexpected ';' or '?' in the mailbox name",
        ));
    }
    if name.is_empty() {
        return Ok((None, (validity, rest)));
    }
    Ok((Some(MailboxArg::new(decode(name)?)), (validity, rest)))
}

fn partial_range(v: &str) -> Result<UrlPartial, UrlError> {
    let (off, len) = match v.split_once('.') {
        Some((o, l)) => (o, Some(nz(l)?)),
        None => (v, None),
    };
    let offset = number(off)?;
    Ok(UrlPartial {
        offset,
        length: len,
    })
}

fn number(s: &str) -> Result<u32, UrlError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::Syntax("expected a number"));
    }
    s.parse()
        .map_err(|_| UrlError::Syntax("number out of range"))
}

fn nz(s: &str) -> Result<NonZeroU32, UrlError> {
    NonZeroU32::new(number(s)?).ok_or(UrlError::Syntax("expected a non-zero number"))
}

/// The value of `;KEY=value` (the key matched without regard to case).
fn value_of<'a>(p: &'a str, key: &str) -> Option<&'a str> {
    strip_prefix_ci(p, key)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    strip_prefix_ci(s, prefix).is_some()
}

fn find_ci(s: &str, needle: &str) -> Option<usize> {
    let (h, n) = (s.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Undoes `%XX` escapes; the result must be UTF-8 (RFC 5092 §3: mailbox
/// names and sections are UTF-8, then escaped).
fn decode(s: &str) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError::Syntax("invalid %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Syntax("escaped text is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::command::SectionText;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn rfc4469_example_urls_parse() {
        let u = parse("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER").unwrap();
        assert_eq!(
            u.mailbox,
            UrlMailbox::Path(MailboxArg::new("Drafts".into()))
        );
        assert_eq!(u.uid_validity, Some(n(385759045)));
        assert_eq!(u.uid, n(20));
        assert_eq!(
            u.section,
            Some(Section {
                part: vec![],
                text: Some(SectionText::Header)
            })
        );
        let u = parse("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME").unwrap();
        assert_eq!(u.section.unwrap().part, vec![n(1)]);
        let u = parse("imap://joe@example.com/INBOX/;UID=7/;SECTION=1.2/;PARTIAL=10.20").unwrap();
        assert_eq!(
            u.mailbox,
            UrlMailbox::Absolute {
                user: "joe".into(),
                mailbox: MailboxArg::new("INBOX".into())
            }
        );
        assert_eq!(
            u.partial,
            Some(UrlPartial {
                offset: 10,
                length: Some(n(20))
            })
        );
        let u = parse(";UID=3/;PARTIAL=0").unwrap();
        assert_eq!(u.mailbox, UrlMailbox::Selected);
        assert_eq!(u.partial.unwrap().length, None);
    }

    #[test]
    fn escapes_hierarchy_and_header_fields_decode() {
        let u = parse("/a%2Fb/c;UIDVALIDITY=1/;UID=1/;SECTION=HEADER.FIELDS%20(Subject%20From)")
            .unwrap();
        assert_eq!(u.mailbox, UrlMailbox::Path(MailboxArg::new("a/b/c".into())));
        assert_eq!(
            u.section.unwrap().text,
            Some(SectionText::HeaderFields(vec![
                "Subject".into(),
                "From".into()
            ]))
        );
        let u = parse("imap://j%40x;AUTH=*@h:143/Entw%C3%BCrfe/;UID=2").unwrap();
        assert_eq!(
            u.mailbox,
            UrlMailbox::Absolute {
                user: "j@x".into(),
                mailbox: MailboxArg::new("Entwürfe".into())
            }
        );
    }

    #[test]
    fn forms_that_name_no_single_message_are_refused() {
        for bad in [
            "",
            "/INBOX",
            "/INBOX?SUBJECT%20x",
            "imap://host/INBOX/;UID=1",
            "imap:///INBOX/;UID=1",
            ";SECTION=1",
            ";PARTIAL=1.2",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;PARTIAL=1/;SECTION=1",
            "/INBOX/;UID=1/;URLAUTH=anonymous:internal:abc",
            "/INBOX/;UID=1/;SECTION=%ZZ",
            "/INBOX/;UID=1/;SECTION=BOGUS",
            "/INBOX/;UID=1/;FOO=1",
            "//host/INBOX/;UID=1",
            "/IN;BOX/;UID=1",
            "/INBOX/;UID=99999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
