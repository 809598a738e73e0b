//! MIME header values with parameters (Content-Type, Content-Disposition):
//! RFC 2045 tokens and quoted strings, comments, and RFC 2231 parameter
//! continuations and `charset'lang'` values. Parameters are kept in the
//! form Dovecot reports in BODYSTRUCTURE (names lower-cased, continuations
//! merged, extended values left percent-encoded under `name*`); decoding a
//! value for our own use is [`decoded_value`].

use serde::{Deserialize, Serialize};

/// One `name=value` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// Lower-cased name; `name*` when the value is RFC 2231 extended.
    pub name: Vec<u8>,
    /// The value, unquoted; still `charset'lang'%XX` when extended.
    pub value: Vec<u8>,
}

/// A cursor over a structured header value.
pub(crate) struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Lexer { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips white space and (nested) comments, returning the text of the
    /// last comment seen (address parsing uses it as a display name).
    pub(crate) fn skip_cfws(&mut self) -> Option<Vec<u8>> {
        let mut last_comment = None;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.bump(),
                b'(' => last_comment = Some(self.comment()),
                _ => break,
            }
        }
        last_comment
    }

    fn comment(&mut self) -> Vec<u8> {
        let mut depth = 0usize;
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'(' => {
                    if depth > 0 {
                        text.push(b);
                    }
                    depth += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                    text.push(b);
                }
                b'\\' => {
                    if let Some(c) = self.peek() {
                        text.push(c);
                        self.bump();
                    }
                }
                _ => text.push(b),
            }
        }
        text
    }

    /// A quoted string starting at the current `"`, unescaped; an
    /// unterminated one runs to the end.
    pub(crate) fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.bump();
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(c) = self.peek() {
                        out.push(c);
                        self.bump();
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
        out
    }

    /// A run of bytes accepted by `ok`.
    pub(crate) fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.bump();
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }
}

/// RFC 2045 token characters; 8-bit bytes are tolerated as real mail has them.
pub(crate) fn is_token_char(b: u8) -> bool {
    b > b' ' && b != 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Parses `token *(";" param)`: the leading token (e.g. a disposition)
/// and the merged parameters. Returns None if there is no token.
pub(crate) fn parse_token_with_params(value: &[u8]) -> Option<(Vec<u8>, Vec<Param>)> {
    let mut lx = Lexer::new(value);
    lx.skip_cfws();
    let token = lx.take_while(is_token_char).to_vec();
    if token.is_empty() {
        return None;
    }
    Some((token, parse_params(&mut lx)))
}

/// Parses a Content-Type value into type, subtype and parameters, keeping
/// the case of type and subtype as written (Dovecot does the same).
pub(crate) fn parse_content_type(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<Param>)> {
    let mut lx = Lexer::new(value);
    lx.skip_cfws();
    let ty = lx.take_while(is_token_char).to_vec();
    lx.skip_cfws();
    if ty.is_empty() || lx.peek() != Some(b'/') {
        return None;
    }
    lx.bump();
    lx.skip_cfws();
    let sub = lx.take_while(is_token_char).to_vec();
    if sub.is_empty() {
        return None;
    }
    Some((ty, sub, parse_params(&mut lx)))
}

struct Section {
    name: Vec<u8>,
    index: u32,
    extended: bool,
    value: Vec<u8>,
}

fn parse_params(lx: &mut Lexer<'_>) -> Vec<Param> {
    let mut plain: Vec<Param> = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    loop {
        lx.skip_cfws();
        match lx.peek() {
            None => break,
            Some(b';') => lx.bump(),
            Some(_) => {
                // Garbage between parameters: skip to the next separator.
                while lx.peek().is_some_and(|b| b != b';') {
                    lx.bump();
                }
                continue;
            }
        }
        lx.skip_cfws();
        let name = lx.take_while(is_token_char).to_ascii_lowercase();
        lx.skip_cfws();
        if name.is_empty() || lx.peek() != Some(b'=') {
            continue;
        }
        lx.bump();
        lx.skip_cfws();
        let value = match lx.peek() {
            Some(b'"') => lx.quoted(),
            _ => lx.take_while(is_token_char).to_vec(),
        };
        match split_section_name(&name) {
            Some((base, index, extended)) => sections.push(Section {
                name: base.to_vec(),
                index,
                extended,
                value,
            }),
            None => plain.push(Param { name, value }),
        }
    }
    merge_sections(plain, sections)
}

/// `name*`, `name*N` or `name*N*` → (name, N, extended).
fn split_section_name(name: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = name.iter().position(|&b| b == b'*')?;
    let base = name.get(..star)?;
    let mut rest = name.get(star + 1..)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let index = match rest.get(..digits) {
        Some(d) if !d.is_empty() => std::str::from_utf8(d).ok()?.parse().ok()?,
        _ => 0,
    };
    rest = rest.get(digits..)?;
    let extended = match rest {
        b"" => digits == 0,
        b"*" if digits > 0 => true,
        _ => return None,
    };
    Some((base, index, extended))
}

fn merge_sections(mut out: Vec<Param>, mut sections: Vec<Section>) -> Vec<Param> {
    sections.sort_by(|a, b| a.name.cmp(&b.name).then(a.index.cmp(&b.index)));
    let mut i = 0;
    while i < sections.len() {
        let name = sections.get(i).map(|s| s.name.clone()).unwrap_or_default();
        let group: Vec<&Section> = sections
            .iter()
            .skip(i)
            .take_while(|s| s.name == name)
            .collect();
        i += group.len();
        let complete = group.iter().enumerate().all(|(n, s)| s.index as usize == n);
        let have_extended = group.iter().any(|s| s.extended);
        if !complete {
            // Missing pieces: report them as written, like Dovecot.
            for s in group {
                let mut n = s.name.clone();
                n.extend_from_slice(format!("*{}", s.index).as_bytes());
                if s.extended {
                    n.push(b'*');
                }
                out.push(Param {
                    name: n,
                    value: s.value.clone(),
                });
            }
            continue;
        }
        let mut value = Vec::new();
        if have_extended && group.first().is_some_and(|s| !s.extended) {
            value.extend_from_slice(b"''");
        }
        for s in &group {
            if have_extended && !s.extended {
                for &b in &s.value {
                    if b == b'%' {
                        value.extend_from_slice(b"%25");
                    } else {
                        value.push(b);
                    }
                }
            } else {
                value.extend_from_slice(&s.value);
            }
        }
        let mut n = name;
        if have_extended {
            n.push(b'*');
        }
        out.push(Param { name: n, value });
    }
    out
}

#[cfg(test)]
fn percent_decode(s: &[u8]) -> Vec<u8> {
    super::transfer::decode_hex_escapes(s, b'%', false)
}

#[cfg(test)]
/// The decoded value of parameter `name` (e.g. `filename`): the RFC 2231
/// extended form wins over the plain one; plain values may carry RFC 2047
/// encoded words, which many mailers (wrongly but commonly) use.
pub(crate) fn decoded_value(params: &[Param], name: &[u8]) -> Option<String> {
    let mut ext_name = name.to_ascii_lowercase();
    ext_name.push(b'*');
    if let Some(p) = params.iter().find(|p| p.name == ext_name) {
        let mut parts = p.value.splitn(3, |&b| b == b'\'');
        let (cs, _lang, text) = (parts.next(), parts.next(), parts.next());
        return Some(match (cs, text) {
            (Some(cs), Some(text)) => {
                super::charset::decode(cs, &percent_decode(text)).into_owned()
            }
            _ => super::charset::decode_unlabelled(&percent_decode(&p.value)).into_owned(),
        });
    }
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| super::encoded_word::decode(&p.value))
}

/// The raw value of parameter `name` (plain form only).
pub(crate) fn raw_value<'a>(params: &'a [Param], name: &[u8]) -> Option<&'a [u8]> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> Param {
        Param {
            name: name.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn content_type_basic() {
        let (t, s, ps) =
            parse_content_type(b"Text/HTML (c) ; Charset=\"UTF-8\"; format=flowed").unwrap();
        assert_eq!(t, b"Text");
        assert_eq!(s, b"HTML");
        assert_eq!(ps, vec![p("charset", "UTF-8"), p("format", "flowed")]);
        assert!(parse_content_type(b"text").is_none());
        assert!(parse_content_type(b"/plain").is_none());
    }

    #[test]
    fn quoted_escapes_and_garbage() {
        let (_, _, ps) =
            parse_content_type(b"multipart/mixed; junk; boundary=\"a\\\"b;c\" ;;x=1").unwrap();
        assert_eq!(ps, vec![p("boundary", "a\"b;c"), p("x", "1")]);
    }

    #[test]
    fn rfc2231_continuations_and_charset() {
        let (d, ps) = parse_token_with_params(
            b"attachment; filename*1*=%E9.txt; filename*0*=iso-8859-1'fr'caf; size=3",
        )
        .unwrap();
        assert_eq!(d, b"attachment");
        assert_eq!(
            ps,
            vec![p("size", "3"), p("filename*", "iso-8859-1'fr'caf%E9.txt")]
        );
        assert_eq!(decoded_value(&ps, b"filename").as_deref(), Some("café.txt"));

        let (_, ps) = parse_token_with_params(b"inline; name*0=\"a b\"; name*1=\"%c\"").unwrap();
        assert_eq!(ps, vec![p("name", "a b%c")]);

        let (_, ps) =
            parse_token_with_params(b"inline; name*0*=utf-8''%C3%A9; name*1=\"%\"").unwrap();
        assert_eq!(ps, vec![p("name*", "utf-8''%C3%A9%25")]);
        assert_eq!(decoded_value(&ps, b"name").as_deref(), Some("é%"));

        let (_, ps) = parse_token_with_params(b"inline; name*0=a; name*2=c").unwrap();
        assert_eq!(ps, vec![p("name*0", "a"), p("name*2", "c")]);
    }

    #[test]
    fn encoded_word_in_plain_param() {
        let (_, ps) =
            parse_token_with_params(b"attachment; filename=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"")
                .unwrap();
        assert_eq!(
            decoded_value(&ps, b"filename").as_deref(),
            Some("résumé.pdf")
        );
    }
}
