//! RFC 5322 address lists (with obsolete routes, comments as names and
//! groups) parsed into IMAP ENVELOPE address structures. Lenient: anything
//! unparseable is skipped; missing parts are filled with Dovecot's
//! `MISSING_MAILBOX` / `MISSING_DOMAIN` placeholders, because a NIL host
//! would turn the address into group syntax for the client.

use serde::{Deserialize, Serialize};

use super::encoded_word;
use super::params::Lexer;

/// Placeholder for an address without a local part (Dovecot's choice).
pub(crate) const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
/// Placeholder for an address without a domain (Dovecot's choice).
pub(crate) const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// One IMAP address: `(name adl mailbox host)`. A group start has only
/// `mailbox` (the group name); a group end has all four None.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Display name, raw (encoded words are left for the client).
    pub name: Option<Vec<u8>>,
    /// Obsolete source route (`@a,@b`).
    pub adl: Option<Vec<u8>>,
    /// Local part, or group name for a group start.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; None only in group markers.
    pub host: Option<Vec<u8>>,
}

impl Address {
    /// True for the group start and end markers.
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Vec<u8>),
    Comment(Vec<u8>),
    Special(u8),
}

fn is_atom_char(b: u8) -> bool {
    b > b' ' && b != 0x7f && !b"()<>[]:;@\\,\"".contains(&b)
}

fn tokenize(value: &[u8]) -> Vec<Tok> {
    let mut lx = Lexer::new(value);
    let mut toks = Vec::new();
    loop {
        if let Some(c) = lx.skip_cfws() {
            toks.push(Tok::Comment(c));
            continue;
        }
        let Some(b) = lx.peek() else { break };
        match b {
            b'"' => toks.push(Tok::Word(lx.quoted())),
            b'[' => {
                let mut lit = lx.take_while(|c| c != b']').to_vec();
                if lx.peek() == Some(b']') {
                    lx.bump();
                    lit.push(b']');
                }
                toks.push(Tok::Word(lit));
            }
            _ if is_atom_char(b) => toks.push(Tok::Word(lx.take_while(is_atom_char).to_vec())),
            _ => {
                lx.bump();
                toks.push(Tok::Special(b));
            }
        }
    }
    toks
}

fn join(words: &[Vec<u8>], sep: &[u8]) -> Vec<u8> {
    words.join(sep)
}

fn non_empty(v: Vec<u8>) -> Option<Vec<u8>> {
    (!v.is_empty()).then_some(v)
}

fn mailbox(
    name: Option<Vec<u8>>,
    adl: Option<Vec<u8>>,
    local: Vec<u8>,
    domain: Vec<u8>,
) -> Address {
    Address {
        name: name.and_then(non_empty),
        adl: adl.and_then(non_empty),
        mailbox: Some(non_empty(local).unwrap_or_else(|| MISSING_MAILBOX.to_vec())),
        host: Some(non_empty(domain).unwrap_or_else(|| MISSING_DOMAIN.to_vec())),
    }
}

/// Parses an unfolded address-list header value.
pub(crate) fn parse_list(value: &[u8]) -> Vec<Address> {
    let toks = tokenize(value);
    let mut out = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while i < toks.len() {
        let mut phrase: Vec<Vec<u8>> = Vec::new();
        let mut comment: Option<Vec<u8>> = None;
        let mut done_item = false;
        while let Some(t) = toks.get(i) {
            match t {
                Tok::Word(w) => phrase.push(w.clone()),
                Tok::Comment(c) => comment = Some(c.clone()),
                Tok::Special(b':') if !in_group => {
                    out.push(Address {
                        mailbox: Some(join(&phrase, b" ")),
                        ..Address::default()
                    });
                    in_group = true;
                    i += 1;
                    done_item = true;
                    break;
                }
                Tok::Special(b'<') => {
                    i += 1;
                    let (adl, local, domain, next) = parse_angle(&toks, i);
                    i = next;
                    let name = if phrase.is_empty() {
                        comment.take()
                    } else {
                        Some(join(&phrase, b" "))
                    };
                    out.push(mailbox(name, adl, local, domain));
                    skip_to_separator(&toks, &mut i);
                    done_item = true;
                    break;
                }
                Tok::Special(b'@') => {
                    i += 1;
                    let mut domain = Vec::new();
                    while let Some(t) = toks.get(i) {
                        match t {
                            Tok::Word(w) => domain.extend_from_slice(w),
                            Tok::Special(b'.') => domain.push(b'.'),
                            Tok::Comment(c) => comment = Some(c.clone()),
                            _ => break,
                        }
                        i += 1;
                    }
                    out.push(mailbox(comment.take(), None, join(&phrase, b""), domain));
                    skip_to_separator(&toks, &mut i);
                    done_item = true;
                    break;
                }
                Tok::Special(b',' | b';') => break,
                Tok::Special(_) => {}
            }
            i += 1;
        }
        if !done_item && !phrase.is_empty() {
            // A bare word list without '@': a local part with no domain.
            out.push(mailbox(None, None, join(&phrase, b""), Vec::new()));
        }
        match toks.get(i) {
            Some(Tok::Special(b';')) if in_group => {
                out.push(Address::default());
                in_group = false;
                i += 1;
            }
            Some(Tok::Special(b',' | b';')) => i += 1,
            _ => {}
        }
    }
    if in_group {
        out.push(Address::default());
    }
    out
}

/// After `<`: optional route, local part, domain, up to `>`.
fn parse_angle(toks: &[Tok], mut i: usize) -> (Option<Vec<u8>>, Vec<u8>, Vec<u8>, usize) {
    let mut adl = None;
    if toks.get(i) == Some(&Tok::Special(b'@')) {
        let mut route = Vec::new();
        while let Some(t) = toks.get(i) {
            i += 1;
            match t {
                Tok::Special(b':') => break,
                Tok::Special(b'>') => {
                    // `<@domain>`: no route after all, just a missing local part.
                    let domain = route.strip_prefix(b"@").unwrap_or(&route).to_vec();
                    return (None, Vec::new(), domain, i);
                }
                Tok::Word(w) => route.extend_from_slice(w),
                Tok::Special(c) => route.push(*c),
                Tok::Comment(_) => {}
            }
        }
        adl = Some(route);
    }
    let mut local = Vec::new();
    let mut domain = Vec::new();
    let mut in_domain = false;
    while let Some(t) = toks.get(i) {
        i += 1;
        let target = if in_domain { &mut domain } else { &mut local };
        match t {
            Tok::Special(b'>') => break,
            Tok::Special(b'@') if !in_domain => in_domain = true,
            Tok::Word(w) => target.extend_from_slice(w),
            Tok::Special(b'.') => target.push(b'.'),
            Tok::Special(b',' | b';') => {
                i -= 1;
                break;
            }
            _ => {}
        }
    }
    (adl, local, domain, i)
}

fn skip_to_separator(toks: &[Tok], i: &mut usize) {
    while let Some(t) = toks.get(*i) {
        if matches!(t, Tok::Special(b',' | b';')) {
            break;
        }
        *i += 1;
    }
}

/// A human-readable, RFC 2047-decoded rendering of an address list
/// (`Name <local@domain>, …`), the text SEARCH FROM/TO and SORT DISPLAY use.
pub(crate) fn display(addrs: &[Address]) -> String {
    let mut out = String::new();
    for a in addrs {
        if a.is_group_marker() {
            if let Some(g) = &a.mailbox {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(&encoded_word::decode(g));
                out.push(':');
            }
            continue;
        }
        if !out.is_empty() && !out.ends_with(':') {
            out.push_str(", ");
        } else if out.ends_with(':') {
            out.push(' ');
        }
        let mb = String::from_utf8_lossy(a.mailbox.as_deref().unwrap_or_default());
        let host = String::from_utf8_lossy(a.host.as_deref().unwrap_or_default());
        match &a.name {
            Some(n) => {
                out.push_str(&encoded_word::decode(n));
                out.push_str(&format!(" <{mb}@{host}>"));
            }
            None => out.push_str(&format!("{mb}@{host}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: Option<&str>, adl: Option<&str>, mb: Option<&str>, host: Option<&str>) -> Address {
        let f = |s: Option<&str>| s.map(|s| s.as_bytes().to_vec());
        Address {
            name: f(name),
            adl: f(adl),
            mailbox: f(mb),
            host: f(host),
        }
    }

    #[test]
    fn common_forms() {
        assert_eq!(
            parse_list(
                b"\"Doe, John\" <john@example.com>, jane@example.org (Jane D), Q. Public <q@x>"
            ),
            vec![
                a(Some("Doe, John"), None, Some("john"), Some("example.com")),
                a(Some("Jane D"), None, Some("jane"), Some("example.org")),
                a(Some("Q. Public"), None, Some("q"), Some("x")),
            ]
        );
        assert_eq!(
            parse_list(b"=?utf-8?q?Chlo=C3=A9?= <chloe@ex.com>"),
            vec![a(
                Some("=?utf-8?q?Chlo=C3=A9?="),
                None,
                Some("chloe"),
                Some("ex.com")
            )]
        );
    }

    #[test]
    fn groups_and_routes() {
        assert_eq!(
            parse_list(b"undisclosed-recipients:;"),
            vec![
                a(None, None, Some("undisclosed-recipients"), None),
                a(None, None, None, None)
            ]
        );
        assert_eq!(
            parse_list(b"Team: a@x, B <b@y>; c@z"),
            vec![
                a(None, None, Some("Team"), None),
                a(None, None, Some("a"), Some("x")),
                a(Some("B"), None, Some("b"), Some("y")),
                a(None, None, None, None),
                a(None, None, Some("c"), Some("z")),
            ]
        );
        assert_eq!(
            parse_list(b"<@r1,@r2:u@h>"),
            vec![a(None, Some("@r1,@r2"), Some("u"), Some("h"))]
        );
    }

    #[test]
    fn broken_inputs_fill_missing() {
        assert_eq!(
            parse_list(b"foo"),
            vec![a(None, None, Some("foo"), Some("MISSING_DOMAIN"))]
        );
        assert_eq!(
            parse_list(b"<@example.com>"),
            vec![a(None, None, Some("MISSING_MAILBOX"), Some("example.com"))]
        );
        assert_eq!(parse_list(b""), vec![]);
        assert_eq!(
            parse_list(b"Unclosed: a@b"),
            vec![
                a(None, None, Some("Unclosed"), None),
                a(None, None, Some("a"), Some("b")),
                a(None, None, None, None),
            ]
        );
    }

    #[test]
    fn display_decodes() {
        let l = parse_list(b"=?utf-8?q?Chlo=C3=A9?= <chloe@ex.com>, bob@b.org");
        assert_eq!(display(&l), "Chloé <chloe@ex.com>, bob@b.org");
    }
}
