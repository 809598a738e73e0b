//! Words of folded search text, for the full-text index: the tokeniser
//! (maximal runs of alphanumeric characters of text already folded by
//! [`super::search_text::fold`]) and the plan that turns a folded SEARCH
//! needle into constraints on those words. Pure: never touches files and
//! never decides what is stored or how (that is `store::fts`).
//!
//! Why this keeps SEARCH's substring semantics: a needle made only of word
//! characters can occur only inside one maximal run of word characters, so
//! "the text contains the needle" is exactly "some word of the text
//! contains it" ([`Plan::Exact`]). Likewise a needle `run1 SEP run2` (SEP a
//! separator run of at most [`MAX_SEP`] bytes, no separator at either end)
//! occurs exactly inside some *pair*: the slice of the text from the start
//! of one word to the end of the next, when the separator between them is
//! SEP ([`Plan::Pair`]). Any other needle with separators is narrowed only
//! (every word run of the needle must be a prefix, suffix, whole or part of
//! some word of the text), and the candidates are checked by the matcher.

/// Whether `c` belongs to a word. Works on folded text and needles alike
/// (folding maps alphanumerics to alphanumerics).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// The maximal runs of word characters of `folded`, in order (repeats
/// included).
pub(crate) fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

/// Longest separator (bytes) kept inside a pair: longer ones (blank lines,
/// rules of dashes) are rarely searched across.
pub(crate) const MAX_SEP: usize = 4;

/// The pairs of `folded`: for each two consecutive words separated by at
/// most [`MAX_SEP`] bytes, the slice from the first's start to the
/// second's end (repeats included).
pub(crate) fn pairs(folded: &str) -> impl Iterator<Item = &str> {
    let mut spans = folded
        .char_indices()
        .scan(None::<usize>, move |start, (i, c)| {
            let word = is_word_char(c);
            let end = i + c.len_utf8();
            Some(match (*start, word) {
                (None, true) => {
                    *start = Some(i);
                    (end == folded.len()).then_some((i, end))
                }
                (Some(s), true) => (end == folded.len()).then_some((s, end)),
                (Some(s), false) => {
                    *start = None;
                    Some((s, i))
                }
                (None, false) => None,
            })
        })
        .flatten();
    let mut prev = spans.next();
    std::iter::from_fn(move || loop {
        let (s0, e0) = prev?;
        let next = spans.next();
        prev = next;
        let (s1, e1) = next?;
        // A NUL in the separator never comes from a needle (IMAP strings
        // cannot carry one) and would end the term early in a segment's
        // NUL-terminated table: such pairs are left to the scan.
        let sep_ok = folded.get(e0..s1).is_some_and(|sep| !sep.contains('\0'));
        if s1 - e0 <= MAX_SEP && sep_ok {
            return folded.get(s0..e1);
        }
    })
}

/// Where a word run of the needle must sit inside a word of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Anywhere inside the word.
    Inside,
    /// At the word's start (a separator precedes it in the needle).
    Start,
    /// At the word's end (a separator follows it in the needle).
    End,
    /// The whole word.
    Whole,
}

impl Bound {
    /// Whether word `word` satisfies this bound for `run` (already known to
    /// occur in it at byte `at`).
    pub(crate) fn fits(self, word: &str, run: &str, at: usize) -> bool {
        match self {
            Bound::Inside => true,
            Bound::Start => at == 0,
            Bound::End => at + run.len() == word.len(),
            Bound::Whole => at == 0 && run.len() == word.len(),
        }
    }
}

/// What the index can do for one folded needle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The needle is one run of word characters: the messages with a word
    /// containing it are exactly the matches.
    Exact(String),
    /// Two word runs around one short separator: the messages with a pair
    /// containing it are exactly the matches.
    Pair(String),
    /// Every run must fit some word of a match; matches are a subset of
    /// the messages satisfying all runs, to be checked by the matcher.
    Narrow(Vec<(String, Bound)>),
    /// No word characters (or empty): the index cannot help.
    Scan,
}

/// The word runs of `needle` with their byte offsets.
fn runs(needle: &str) -> Vec<(usize, &str)> {
    needle
        .split(|c: char| !is_word_char(c))
        .scan(0usize, |pos, w| {
            let at = *pos;
            // The separator after this run is one character of unknown
            // width: advance past it by finding the next boundary.
            let next = at + w.len();
            let sep = needle
                .get(next..)
                .and_then(|r| r.chars().next())
                .map_or(0, char::len_utf8);
            *pos = next + sep;
            Some((at, w))
        })
        .filter(|(_, w)| !w.is_empty())
        .collect()
}

/// The slices `run SEP run` of `needle` for consecutive word runs whose
/// separator is at most [`MAX_SEP`] bytes: each lies inside one pair of any
/// text containing the needle, so a match has a pair containing each (a
/// further narrowing of [`Plan::Narrow`]).
pub(crate) fn inner_pairs(needle: &str) -> Vec<&str> {
    runs(needle)
        .windows(2)
        .filter_map(|w| {
            let ((a_at, a), (b_at, b)) = (w[0], w[1]);
            (b_at - (a_at + a.len()) <= MAX_SEP).then(|| needle.get(a_at..b_at + b.len()))?
        })
        .collect()
}

/// The plan for `needle`, which must already be folded.
pub(crate) fn plan(needle: &str) -> Plan {
    let runs = runs(needle);
    match runs.as_slice() {
        [] => Plan::Scan,
        [(0, w)] if w.len() == needle.len() => Plan::Exact((*w).to_owned()),
        [(0, a), (b_at, b)] if b_at + b.len() == needle.len() && b_at - a.len() <= MAX_SEP => {
            Plan::Pair(needle.to_owned())
        }
        _ => Plan::Narrow(
            runs.iter()
                .map(|&(at, w)| {
                    let start = at > 0;
                    let end = at + w.len() < needle.len();
                    let bound = match (start, end) {
                        (false, false) => Bound::Inside,
                        (true, false) => Bound::Start,
                        (false, true) => Bound::End,
                        (true, true) => Bound::Whole,
                    };
                    (w.to_owned(), bound)
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_maximal_alphanumeric_runs() {
        let w: Vec<&str> = words("grüße, 日本語のテキスト! a-b_c 42").collect();
        assert_eq!(w, ["grüße", "日本語のテキスト", "a", "b", "c", "42"]);
    }

    #[test]
    fn plans() {
        assert_eq!(plan("meet"), Plan::Exact("meet".into()));
        assert_eq!(plan("日本"), Plan::Exact("日本".into()));
        assert_eq!(plan(""), Plan::Scan);
        assert_eq!(plan(" - "), Plan::Scan);
        assert_eq!(plan("budget review"), Plan::Pair("budget review".into()));
        assert_eq!(plan("get, rev"), Plan::Pair("get, rev".into()));
        assert_eq!(
            plan("budget  --  review"),
            Plan::Narrow(vec![
                ("budget".into(), Bound::End),
                ("review".into(), Bound::Start)
            ])
        );
        assert_eq!(
            plan("a b c"),
            Plan::Narrow(vec![
                ("a".into(), Bound::End),
                ("b".into(), Bound::Whole),
                ("c".into(), Bound::Start)
            ])
        );
        assert_eq!(
            plan("«a» b"),
            Plan::Narrow(vec![("a".into(), Bound::Whole), ("b".into(), Bound::Start)])
        );
        assert_eq!(plan("x@"), Plan::Narrow(vec![("x".into(), Bound::End)]));
        assert_eq!(plan("é\u{301}a"), Plan::Pair("é\u{301}a".into()));
        assert_eq!(
            plan("-é\u{301}a"),
            Plan::Narrow(vec![("é".into(), Bound::Whole), ("a".into(), Bound::Start)])
        );
    }

    #[test]
    fn pairs_are_adjacent_words_with_short_separators() {
        let p: Vec<&str> = pairs("a b, c\n\n\n\n\nd 日本 語x").collect();
        assert_eq!(p, ["a b", "b, c", "d 日本", "日本 語x"]);
        assert_eq!(pairs("one").count(), 0);
        assert_eq!(pairs(" x  y ").collect::<Vec<_>>(), ["x  y"]);
    }

    #[test]
    fn inner_pairs_of_longer_phrases() {
        assert_eq!(
            inner_pairs("big budget review"),
            ["big budget", "budget review"]
        );
        assert_eq!(inner_pairs(" a, b -------- c"), ["a, b"]);
        assert!(inner_pairs("word").is_empty());
    }

    #[test]
    fn bounds() {
        assert!(Bound::Start.fits("review", "rev", 0));
        assert!(!Bound::Start.fits("preview", "rev", 1));
        assert!(Bound::End.fits("budget", "get", 3));
        assert!(Bound::Whole.fits("a", "a", 0));
        assert!(!Bound::Whole.fits("ab", "a", 0));
    }
}
