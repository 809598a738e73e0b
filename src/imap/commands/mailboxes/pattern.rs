//! LIST/LSUB mailbox patterns (RFC 3501 §6.3.8): a reference name joined
//! to a pattern in which `*` matches anything and `%` anything but the
//! hierarchy delimiter. Pure string logic: knows nothing of the account.
//!
//! Matching is dynamic programming over (pattern token, name position), so
//! hostile patterns such as `*%*%*%…a` cost O(pattern × name), never the
//! exponential time of naive backtracking.

/// One pattern element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A literal character.
    Lit(char),
    /// `*`
    Star,
    /// `%`
    Percent,
}

/// A compiled LIST pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pattern {
    tokens: Vec<Tok>,
}

impl Pattern {
    /// Joins `reference` and `pattern` as RFC 3501 describes (plain
    /// concatenation: the reference is a prefix, normally ending in the
    /// delimiter) and compiles the result.
    pub(super) fn new(reference: &str, pattern: &str) -> Pattern {
        let mut tokens: Vec<Tok> = Vec::with_capacity(reference.len() + pattern.len());
        for c in reference.chars().chain(pattern.chars()) {
            let t = match c {
                '*' => Tok::Star,
                '%' => Tok::Percent,
                c => Tok::Lit(c),
            };
            // `**` and `*%` match what `*` alone matches.
            match (tokens.last(), t) {
                (Some(Tok::Star), Tok::Star | Tok::Percent) => {}
                (Some(Tok::Percent), Tok::Star) => {
                    if let Some(last) = tokens.last_mut() {
                        *last = Tok::Star;
                    }
                }
                _ => tokens.push(t),
            }
        }
        Pattern { tokens }
    }

    /// Whether canonical mailbox name `name` matches. The `INBOX` at the
    /// start of INBOX and its inferiors matches case-insensitively, since
    /// clients may spell it any way.
    pub(super) fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        let inbox_prefix = if name == "INBOX" || name.starts_with("INBOX/") {
            5
        } else {
            0
        };
        let n = chars.len();
        let mut cur = vec![false; n + 1];
        if let Some(first) = cur.first_mut() {
            *first = true;
        }
        for tok in &self.tokens {
            let mut next = vec![false; n + 1];
            match *tok {
                Tok::Lit(p) => {
                    for (j, &c) in chars.iter().enumerate() {
                        let same = if j < inbox_prefix {
                            c.eq_ignore_ascii_case(&p)
                        } else {
                            c == p
                        };
                        if same && cur.get(j) == Some(&true) {
                            if let Some(x) = next.get_mut(j + 1) {
                                *x = true;
                            }
                        }
                    }
                }
                Tok::Star => {
                    let mut any = false;
                    for (x, &c) in next.iter_mut().zip(cur.iter()) {
                        any |= c;
                        *x = any;
                    }
                }
                Tok::Percent => {
                    let mut any = false;
                    for (j, (x, &c)) in next.iter_mut().zip(cur.iter()).enumerate() {
                        any |= c;
                        *x = any;
                        if chars.get(j) == Some(&'/') {
                            any = false;
                        }
                    }
                }
            }
            if !next.contains(&true) {
                return false;
            }
            cur = next;
        }
        cur.last() == Some(&true)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(reference: &str, pattern: &str, name: &str) -> bool {
        Pattern::new(reference, pattern).matches(name)
    }

    #[test]
    fn star_crosses_levels_percent_does_not() {
        assert!(m("", "*", "a/b/c"));
        assert!(m("", "%", "a"));
        assert!(!m("", "%", "a/b"));
        assert!(m("", "a/%", "a/b"));
        assert!(!m("", "a/%", "a/b/c"));
        assert!(m("", "a/*", "a/b/c"));
        assert!(!m("", "a/*", "a"));
        assert!(m("", "%/%", "a/b"));
        assert!(m("", "a%c", "abbc"));
        assert!(!m("", "a%c", "ab/c"));
        assert!(m("", "a*c", "ab/c"));
    }

    #[test]
    fn literals_are_case_sensitive_except_inbox() {
        assert!(!m("", "work", "Work"));
        assert!(m("", "inbox", "INBOX"));
        assert!(m("", "Inbox/%", "INBOX/x"));
        assert!(m("", "inb*", "INBOX"));
        assert!(!m("", "inbox/X", "INBOX/x"));
        assert!(!m("", "inboxes", "inboxes2"));
        assert!(m("", "inboxes", "inboxes"));
    }

    #[test]
    fn reference_is_a_prefix() {
        assert!(m("Archive/", "%", "Archive/2020"));
        assert!(!m("Archive/", "%", "Archive"));
        assert!(!m("Archive/", "%", "Archive/2020/01"));
        assert!(m("Arch", "ive", "Archive"));
    }

    #[test]
    fn empty_pattern_matches_only_the_empty_name() {
        let p = Pattern::new("", "");
        assert!(p.matches(""));
        assert!(!p.matches("a"));
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let pattern = "*%".repeat(500) + "x";
        let name = "a".repeat(1000);
        let t = std::time::Instant::now();
        assert!(!m("", &pattern, &name));
        let pattern = "%a".repeat(400) + "%";
        assert!(m("", &pattern, &name));
        assert!(!m("", &pattern, &"a".repeat(399)));
        let pattern = "%a".repeat(400) + "%b";
        assert!(!m("", &pattern, &name));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn non_ascii_names() {
        assert!(m("", "Ä%", "Äpfel"));
        assert!(m("", "*ß", "Straße/Fuß"));
    }
}
