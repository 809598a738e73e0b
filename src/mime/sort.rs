//! The message facts SORT and THREAD order by (RFC 5256, RFC 5957),
//! computed once per message into [`SortFields`] and kept in the sealed
//! summary: the base subject (RFC 5256 §2.1), the address keys, the
//! Message-ID and References chain, all already mapped with
//! i;unicode-casemap (RFC 5051) so sorting only compares bytes. Pure: never
//! fails, never panics, never touches files or session state.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::address::Address;
use super::encoded_word;
use super::envelope::Envelope;
use super::header;

/// At most this many References entries are kept per message: the last
/// ones, which name the nearest ancestors (the parent is the last one). A
/// message with thousands of References still threads under its parent.
pub const MAX_REFERENCES: usize = 200;

/// Longest message ID kept; longer ones are treated as absent.
const MAX_ID_LEN: usize = 998;

/// What SORT and THREAD need of a message, stored in its summary.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SortFields {
    /// The base subject (RFC 5256 §2.1), casemapped (RFC 5051).
    pub base_subject: String,
    /// Extracting the base subject removed a reply or forward marker
    /// (`Re:`, `Fwd:`, `(fwd)`, `[fwd: ...]`); REFERENCES uses it when
    /// merging threads by subject.
    pub is_reply: bool,
    /// SORT FROM: the addr-mailbox of the first From address, casemapped.
    pub from: String,
    /// SORT TO: the addr-mailbox of the first To address, casemapped.
    pub to: String,
    /// SORT CC: the addr-mailbox of the first Cc address, casemapped.
    pub cc: String,
    /// SORT DISPLAYFROM (RFC 5957): the decoded display name of the first
    /// From address, or its `mailbox@host` when it has none; casemapped.
    pub display_from: String,
    /// SORT DISPLAYTO, likewise for To.
    pub display_to: String,
    /// The Message-ID without angle brackets; None when absent or invalid.
    pub message_id: Option<String>,
    /// The References chain (oldest first), or the first In-Reply-To ID
    /// when there is no usable References field (RFC 5256 §2.2 step 1A);
    /// at most [`MAX_REFERENCES`], the last ones.
    pub references: Vec<String>,
}

/// i;unicode-casemap (RFC 5051): each character replaced by its simple
/// titlecase mapping, then the string decomposed to NFKD. Comparing the
/// UTF-8 bytes of two mapped strings is the collation's ordering.
pub fn casemap(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() {
                return c.to_ascii_uppercase();
            }
            // Titlecase equals uppercase except for a handful of digraphs;
            // a multi-character uppercase (ß → SS) is full mapping only,
            // and the simple mapping keeps the character.
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect();
    if mapped.is_ascii() {
        return mapped;
    }
    mapped.nfkd().collect()
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Removes one leading `subj-blob` (`"[" *BLOBCHAR "]" *WSP`); None when
/// `s` does not start with one.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(['[', ']'])?;
    let after = rest.get(end..)?.strip_prefix(']')?;
    Some(after.trim_start_matches(is_wsp))
}

/// Removes one leading `subj-refwd` (`("re" / ("fw" ["d"])) *WSP
/// [subj-blob] ":"`), leading white space already gone; None when `s` does
/// not start with one.
fn strip_refwd(s: &str) -> Option<&str> {
    let lower = |n: usize| s.get(..n).map(str::to_ascii_lowercase);
    let rest = if lower(3).as_deref() == Some("fwd") {
        s.get(3..)?
    } else if matches!(lower(2).as_deref(), Some("re" | "fw")) {
        s.get(2..)?
    } else {
        return None;
    };
    let rest = rest.trim_start_matches(is_wsp);
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// The base subject of a decoded Subject (RFC 5256 §2.1), not yet
/// casemapped, and whether a reply/forward marker was removed.
pub fn base_subject(subject: &str) -> (String, bool) {
    // (1) White space runs (also tabs and line breaks of folding) become
    // one space.
    let mut s = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if !(c == ' ' && s.ends_with(' ')) {
            s.push(c);
        }
    }
    let mut is_reply = false;
    let mut cur: &str = &s;
    loop {
        // (2) Trailing "(fwd)" and white space.
        loop {
            let t = cur.trim_end_matches(is_wsp);
            let n = t.len();
            let tail = n.checked_sub(5).and_then(|i| t.get(i..));
            if tail.is_some_and(|x| x.eq_ignore_ascii_case("(fwd)")) {
                cur = t.get(..n - 5).unwrap_or_default();
                is_reply = true;
            } else {
                cur = t;
                break;
            }
        }
        // (3)+(4) Leading subj-refwd and subj-blob, repeatedly; a blob is
        // removed only if something remains after it.
        loop {
            let t = cur.trim_start_matches(is_wsp);
            if let Some(r) = strip_refwd(t) {
                cur = r;
                is_reply = true;
                continue;
            }
            if let Some(r) = strip_blob(t) {
                if !r.trim_matches(is_wsp).is_empty() {
                    cur = r;
                    continue;
                }
            }
            cur = t;
            break;
        }
        // (5) "[fwd:" subject "]" wraps: unwrap and start again at (2).
        let starts = cur
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("[fwd:"));
        if starts && cur.ends_with(']') && cur.len() >= 6 {
            cur = cur.get(5..cur.len() - 1).unwrap_or_default();
            is_reply = true;
            continue;
        }
        break;
    }
    (cur.trim_matches(is_wsp).to_owned(), is_reply)
}

/// The message IDs in a field value (`<a@b> <c@d>`), without brackets,
/// white space and comments inside removed; anything between IDs ignored.
pub fn msg_ids(value: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(value);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(open) = rest.find('<') {
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = after.find('>') else { break };
        let inner = after.get(..close).unwrap_or_default();
        rest = after.get(close + 1..).unwrap_or_default();
        // A '<' inside means the first one was stray: restart from it.
        if let Some(p) = inner.rfind('<') {
            let inner = inner.get(p + 1..).unwrap_or_default();
            push_id(&mut out, inner);
            continue;
        }
        push_id(&mut out, inner);
    }
    out
}

fn push_id(out: &mut Vec<String>, inner: &str) {
    let id: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    if !id.is_empty() && id.len() <= MAX_ID_LEN && id.contains('@') {
        out.push(id);
    }
}

/// The first address, where a group's start counts as an address whose
/// mailbox is the group name (Dovecot; imaptest sort-addresses and
/// sort-display-to); a group's end is skipped.
fn first_addr(list: &[Address]) -> Option<&Address> {
    list.iter().find(|a| a.mailbox.is_some())
}

fn addr_mailbox(list: &[Address]) -> String {
    first_addr(list)
        .and_then(|a| a.mailbox.as_deref())
        .map(|m| casemap(&String::from_utf8_lossy(m)))
        .unwrap_or_default()
}

fn display_name(list: &[Address]) -> String {
    let Some(a) = first_addr(list) else {
        return String::new();
    };
    let name = a
        .name
        .as_deref()
        .map(encoded_word::decode)
        .filter(|n| !n.trim().is_empty());
    let shown = name.unwrap_or_else(|| {
        let mb = String::from_utf8_lossy(a.mailbox.as_deref().unwrap_or_default());
        match a.host.as_deref() {
            Some(host) => format!("{mb}@{}", String::from_utf8_lossy(host)),
            // A group start: its name.
            None => encoded_word::decode(mb.as_bytes()),
        }
    });
    casemap(shown.trim())
}

/// Computes the sort fields of a message from its header block, its
/// envelope and its decoded Subject.
pub fn build(block: &[u8], env: &Envelope, subject: &str) -> SortFields {
    let (base, is_reply) = base_subject(subject);
    let mut references = header::last_value(block, b"References")
        .map(|v| msg_ids(&v))
        .unwrap_or_default();
    if references.is_empty() {
        references = env
            .in_reply_to
            .as_deref()
            .map(msg_ids)
            .and_then(|v| v.into_iter().next())
            .into_iter()
            .collect();
    }
    if references.len() > MAX_REFERENCES {
        references.drain(..references.len() - MAX_REFERENCES);
    }
    SortFields {
        base_subject: casemap(&base),
        is_reply,
        from: addr_mailbox(&env.from),
        to: addr_mailbox(&env.to),
        cc: addr_mailbox(&env.cc),
        display_from: display_name(&env.from),
        display_to: display_name(&env.to),
        message_id: env
            .message_id
            .as_deref()
            .map(msg_ids)
            .and_then(|v| v.into_iter().next()),
        references,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> (String, bool) {
        base_subject(s)
    }

    #[test]
    fn rfc5256_2_1_base_subject() {
        assert_eq!(base("Re: hello"), ("hello".into(), true));
        assert_eq!(
            base("RE:   Fwd: [list]  Re[2]: hello"),
            ("hello".into(), true)
        );
        assert_eq!(base("hello (fwd) (FWD)  "), ("hello".into(), true));
        assert_eq!(base("[fwd: Re: hello]"), ("hello".into(), true));
        assert_eq!(base("[list] hello"), ("hello".into(), false));
        // A blob that is all there is stays.
        assert_eq!(base("[list]"), ("[list]".into(), false));
        assert_eq!(base("Re: [list]"), ("[list]".into(), true));
        assert_eq!(base("Re: Fwd:"), (String::new(), true));
        assert_eq!(base("Re: Fwd: "), (String::new(), true));
        assert_eq!(base(""), (String::new(), false));
        assert_eq!(base("  a \t  b  "), ("a b".into(), false));
        assert_eq!(base("Fw: x"), ("x".into(), true));
        assert_eq!(base("Rex: x"), ("Rex: x".into(), false));
        assert_eq!(base("re:re:re:"), (String::new(), true));
        assert_eq!(base("[fwd:]"), (String::new(), true));
        assert_eq!(base("[fwd: x"), ("[fwd: x".into(), false));
        assert_eq!(base("é (fwd)"), ("é".into(), true));
        assert_eq!(base("(fwd)"), (String::new(), true));
    }

    #[test]
    fn rfc5051_casemap() {
        assert_eq!(casemap("abc_Z"), "ABC_Z");
        assert_eq!(casemap("é"), "E\u{301}");
        assert_eq!(casemap("ß"), "ß");
        // U+FB01 has no single uppercase; NFKD expands it.
        assert_eq!(casemap("ﬁ"), "fi");
        assert!(casemap("a") < casemap("B"));
    }

    #[test]
    fn message_ids() {
        assert_eq!(msg_ids(b"<a@b> <c@d>"), vec!["a@b", "c@d"]);
        assert_eq!(
            msg_ids(b"junk <a@b (x)> <nope> <<c@d>"),
            vec!["a@b(x)", "c@d"]
        );
        assert_eq!(msg_ids(b"< a@b >"), vec!["a@b"]);
        assert!(msg_ids(b"<unterminated@x").is_empty());
    }

    #[test]
    fn references_fall_back_to_in_reply_to_and_are_capped() {
        let mut block = b"In-Reply-To: <p@x> <q@x>\r\n\r\n".to_vec();
        let env = super::super::envelope::build(&block);
        let f = build(&block, &env, "");
        assert_eq!(f.references, vec!["p@x"]);
        block = b"References: ".to_vec();
        for i in 0..5000 {
            block.extend_from_slice(format!("<{i}@x> ").as_bytes());
        }
        block.extend_from_slice(b"\r\n\r\n");
        let env = super::super::envelope::build(&block);
        let f = build(&block, &env, "");
        assert_eq!(f.references.len(), MAX_REFERENCES);
        assert_eq!(f.references.last().map(String::as_str), Some("4999@x"));
    }
}
