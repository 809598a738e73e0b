//! SEARCH end to end: the real binary over TLS, messages put in through
//! the store library.

mod common;

use common::{Client, Root, Session};

const USER: &str = "fs";
const PASS: &str = "pw-fs";

/// A root with `messages` in INBOX and a session that has INBOX selected
/// (EXAMINEd when `read_only`).
fn session(label: &str, messages: &[&[u8]], read_only: bool) -> (Root, Session, Vec<u32>) {
    common::session_on_inbox(label, USER, PASS, messages, read_only)
}

/// `s` as a non-synchronising literal (LITERAL+), for 8-bit arguments.
fn lit(s: &str) -> String {
    format!("{{{}+}}\r\n{s}", s.len())
}

fn msg(i: u32, from: &str, to: &str, subject: &str, date: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nX-Seq: {i}\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn corpus() -> Vec<Vec<u8>> {
    vec![
        msg(1, "Alice <alice@example.com>", "bob@example.org", "Lunch plans", "Mon, 1 Jan 2024 10:00:00 +0000", "Shall we eat at noon?"),
        msg(2, "Bob <bob@example.org>", "alice@example.com", "=?utf-8?q?R=C3=A9union_budget?=", "Tue, 2 Jan 2024 23:30:00 -0500", "The budget is attached."),
        b"From: Chloe <c@example.net>\r\nTo: alice@example.com\r\nCc: dave@example.com\r\nSubject: Photos\r\nDate: Wed, 3 Jan 2024 08:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus K=C3=B6ln, Stra=C3=9Fe\r\n".to_vec(),
        b"From: Dave <dave@example.com>\r\nSubject: no date here\r\n\r\nplain words, then a very long body of text\r\n".to_vec(),
    ]
}

fn search(c: &mut Client, keys: &str) -> String {
    let r = c.transcript(&format!("SEARCH {keys}"));
    let line = r
        .lines()
        .find(|l| l.starts_with("* SEARCH"))
        .unwrap_or_else(|| panic!("SEARCH {keys}: {r}"));
    assert!(r.lines().last().unwrap().contains(" OK "), "{r}");
    line.trim_start_matches("* SEARCH").trim().to_owned()
}

#[test]
fn rfc9051_6_4_4_every_search_key() {
    let msgs = corpus();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let (_root, mut c, _) = session("search-keys", &refs, false);
    assert!(c
        .status("STORE 1 +FLAGS (\\Answered \\Seen $Work)")
        .contains(" OK "));
    assert!(c
        .status("STORE 2 +FLAGS (\\Flagged \\Deleted)")
        .contains(" OK "));
    assert!(c.status("STORE 3 +FLAGS (\\Draft \\Seen)").contains(" OK "));
    let cases: &[(&str, &str)] = &[
        ("ALL", "1 2 3 4"),
        ("ANSWERED", "1"),
        ("UNANSWERED", "2 3 4"),
        ("DELETED", "2"),
        ("UNDELETED", "1 3 4"),
        ("DRAFT", "3"),
        ("UNDRAFT", "1 2 4"),
        ("FLAGGED", "2"),
        ("UNFLAGGED", "1 3 4"),
        ("SEEN", "1 3"),
        ("UNSEEN", "2 4"),
        ("KEYWORD $work", "1"),
        ("UNKEYWORD $Work", "2 3 4"),
        ("KEYWORD $Never", ""),
        ("RECENT", "1 2 3 4"),
        ("NEW", "2 4"),
        ("OLD", ""),
        ("2:3", "2 3"),
        ("3:*", "3 4"),
        ("*", "4"),
        ("1,4", "1 4"),
        ("UID 2,4:*", "2 4"),
        ("FROM alice", "1"),
        ("FROM EXAMPLE.ORG", "2"),
        ("TO alice@example.com", "2 3"),
        ("CC dave", "3"),
        ("BCC dave", ""),
        ("SUBJECT \"LUNCH PLANS\"", "1"),
        ("HEADER X-Seq 2", "2"),
        ("HEADER Subject budget", "2"),
        ("HEADER X-Seq \"\"", "1 2"),
        ("HEADER Cc \"\"", "3"),
        ("BODY noon", "1"),
        ("BODY STRASSE", ""),
        ("BODY lunch", ""),
        ("TEXT lunch", "1"),
        ("TEXT dave@example.com", "3 4"),
        ("SENTBEFORE 2-Jan-2024", "1"),
        ("SENTON 2-Jan-2024", "2"),
        ("SENTSINCE 3-Jan-2024", "3"),
        ("SENTSINCE 1-Jan-2000", "1 2 3"),
        ("SINCE 1-Jan-2000", "1 2 3 4"),
        ("BEFORE 1-Jan-2000", ""),
        ("SAVEDSINCE 1-Jan-2000", "1 2 3 4"),
        ("SAVEDBEFORE 1-Jan-2000", ""),
        ("SAVEDATESUPPORTED", "1 2 3 4"),
        ("LARGER 200", "3"),
        ("LARGER 149", "2 3"),
        ("SMALLER 150", "1 4"),
        ("SMALLER 149", "4"),
        ("NOT SEEN", "2 4"),
        ("OR ANSWERED DRAFT", "1 3"),
        ("(SEEN UNANSWERED)", "3"),
        ("OR (FROM bob) (NOT OR 1 2)", "2 3 4"),
        ("THREADID T1", ""),
        ("CHARSET US-ASCII FROM alice", "1"),
    ];
    for (keys, want) in cases {
        assert_eq!(search(&mut c, keys), *want, "SEARCH {keys}");
    }
    let eight_bit: Vec<(String, &str)> = vec![
        (format!("SUBJECT {}", lit("réunion")), "2"),
        (format!("BODY {}", lit("köln")), "3"),
        (format!("BODY {}", lit("straße")), "3"),
        (format!("SEEN NOT (ANSWERED) BODY {}", lit("köln")), "3"),
        (format!("CHARSET UTF-8 SUBJECT {}", lit("réunion")), "2"),
    ];
    for (keys, want) in &eight_bit {
        assert_eq!(search(&mut c, keys), *want, "SEARCH {keys}");
    }
    // ON uses the internal date's own day: today for seeded messages.
    let today = chrono::Utc::now().format("%-d-%b-%Y").to_string();
    assert_eq!(search(&mut c, &format!("ON {today}")), "1 2 3 4");
    assert_eq!(search(&mut c, &format!("SAVEDON {today}")), "1 2 3 4");
    // UID SEARCH answers UIDs; EMAILID comes from FETCH.
    assert_eq!(
        c.transcript("UID SEARCH 2").lines().next().unwrap(),
        "* SEARCH 2"
    );
    let r = c.transcript("FETCH 3 EMAILID");
    let id = r
        .split("EMAILID (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(search(&mut c, &format!("EMAILID {id}")), "3");
    // MODSEQ: the classic response carries the highest modseq.
    // The first MODSEQ search enables CONDSTORE: `* OK [HIGHESTMODSEQ]` first.
    let r = c.transcript("SEARCH MODSEQ 1");
    assert!(
        r.lines()
            .any(|l| l.starts_with("* SEARCH 1 2 3 4 (MODSEQ ")),
        "{r}"
    );
    // Unknown charset.
    let r = c.status("SEARCH CHARSET KOI8-R FROM x");
    assert!(r.contains(" NO [BADCHARSET (UTF-8 US-ASCII)]"), "{r}");
    // Sequence numbers beyond the mailbox simply match nothing.
    assert_eq!(search(&mut c, "9"), "");
}

#[test]
fn rfc4731_esearch_and_rfc5182_searchres() {
    let msgs = corpus();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let (_root, mut c, _) = session("search-esearch", &refs, false);
    let es = |c: &mut Client, cmd: &str, rest: &str| {
        let r = c.transcript(cmd);
        let want = format!("* ESEARCH (TAG \"{}\"){rest}\r\n", c.last_tag());
        assert!(r.starts_with(&want), "{cmd}: {r}");
    };
    es(
        &mut c,
        "SEARCH RETURN (MIN MAX COUNT ALL) OR 1 3:4",
        " MIN 1 MAX 4 ALL 1,3:4 COUNT 3",
    );
    es(&mut c, "UID SEARCH RETURN () ALL", " UID ALL 1:4");
    es(&mut c, "SEARCH RETURN (COUNT) KEYWORD nope", " COUNT 0");
    es(&mut c, "SEARCH RETURN (MIN MAX) KEYWORD nope", "");
    // SAVE alone: no ESEARCH response; `$` then works in SEARCH and FETCH.
    let r = c.transcript("SEARCH RETURN (SAVE) OR 2 4");
    assert!(!r.contains("ESEARCH") && r.lines().count() == 1, "{r}");
    assert_eq!(search(&mut c, "$"), "2 4");
    assert_eq!(search(&mut c, "NOT $"), "1 3");
    assert_eq!(search(&mut c, "UID $"), "2 4");
    let r = c.transcript("FETCH $ (UID)");
    assert!(
        r.contains("* 2 FETCH (UID 2)") && r.contains("* 4 FETCH (UID 4)"),
        "{r}"
    );
    // SAVE with MIN only saves the minimum.
    c.transcript("SEARCH RETURN (SAVE MIN) 2:4");
    assert_eq!(search(&mut c, "$"), "2");
    // SAVE with MIN MAX saves both.
    c.transcript("SEARCH RETURN (SAVE MIN MAX) 1:4");
    assert_eq!(search(&mut c, "$"), "1 4");
    // SAVE with COUNT saves everything.
    let r = c.transcript("SEARCH RETURN (SAVE COUNT) 2:3");
    assert!(r.contains("COUNT 2"), "{r}");
    assert_eq!(search(&mut c, "$"), "2 3");
    // A failed SAVE empties `$`.
    let r = c.status("SEARCH RETURN (SAVE) CHARSET BOGUS ALL");
    assert!(r.contains(" NO "), "{r}");
    assert_eq!(search(&mut c, "$"), "");
    // ESEARCH with MODSEQ.
    let r = c.transcript("SEARCH RETURN (COUNT) MODSEQ 1");
    assert!(r.contains(" COUNT 4 MODSEQ "), "{r}");
}

#[test]
fn rfc9051_6_4_4_deeply_nested_criteria_are_bad() {
    let (_root, mut c, _) = session("search-deep", &[b"Subject: x\r\n\r\nx\r\n"], true);
    let deep = format!("SEARCH {}ALL{}", "(".repeat(10_000), ")".repeat(10_000));
    // Sent raw: the library's parser refuses it too (MAX_DEPTH).
    let r = c.raw_cmd(&deep).pop().unwrap();
    assert!(r.contains(" BAD "), "{r}");
    assert!(c.status("NOOP").contains(" OK "));
}

/// The benchmark corpus: SEARCH TEXT "tok<N>" finds exactly message N.
#[test]
fn rfc9051_6_4_4_text_finds_each_corpus_token() {
    let dir = common::TempDir::new("search-corpus");
    let mbox = dir.path().join("corpus.mbox");
    // The generator sits in `shared/bench/` beside the checkout (or beside
    // the directory holding a git worktree of it).
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .skip(1)
        .map(|d| d.join("shared/bench/gen-corpus.py"))
        .find(|p| p.is_file());
    let ok = script.is_some_and(|script| {
        std::process::Command::new("python3")
            .arg(script)
            .args(["--count", "200"])
            .arg(&mbox)
            .status()
            .is_ok_and(|s| s.success())
    });
    if !ok {
        common::missing(
            "rfc9051_6_4_4_text_finds_each_corpus_token",
            "python3 and shared/bench/gen-corpus.py beside the checkout",
        );
        return;
    }
    let data = std::fs::read(&mbox).unwrap();
    let sep = b"From corpus@example.com Thu Jan  1 00:00:00 2026\r\n";
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while let Some(p) = find(&data[i..], sep) {
        let start = i + p + sep.len();
        let end = find(&data[start..], sep)
            .map(|q| start + q)
            .unwrap_or(data.len());
        let mut m = Vec::new();
        for line in data[start..end].split_inclusive(|&b| b == b'\n') {
            let unescaped = if line.starts_with(b">")
                && line
                    .iter()
                    .skip_while(|&&b| b == b'>')
                    .take(5)
                    .eq(b"From ".iter())
            {
                &line[1..]
            } else {
                line
            };
            m.extend_from_slice(unescaped);
        }
        messages.push(m);
        i = end;
    }
    assert_eq!(messages.len(), 200);
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    let (_root, mut c, _) = session("search-corpus-s", &refs, true);
    for n in [20u32, 37, 64, 123, 150, 199] {
        assert_eq!(
            search(&mut c, &format!("TEXT \"tok{n}\"")),
            (n + 1).to_string(),
            "tok{n}"
        );
        assert_eq!(
            search(&mut c, &format!("BODY tok{n}")),
            (n + 1).to_string(),
            "tok{n}"
        );
    }
    assert_eq!(search(&mut c, "TEXT tok-none"), "");
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}
