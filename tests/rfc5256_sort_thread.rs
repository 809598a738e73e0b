//! SORT (RFC 5256, RFC 5957), ESORT (RFC 5267), THREAD (RFC 5256) and
//! WITHIN (RFC 5032) end to end: the real binary over TLS, on the
//! 32-message fixture in `tests/fixtures/threads/` (seeded through the
//! store library, so message N has sequence number and UID N).
//!
//! The fixture, by thread (dates are UTC unless said):
//!
//! | msgs | what | Message-ID / references |
//! |---|---|---|
//! | 1–4, 21 | "Project plan", 1 Jan 10:00–13:00 | 2 refs 1; 3 refs 1 2; 4 only In-Reply-To 1; 21 (8 Jan) has 3,000 References ending with 3 |
//! | 5–7 | "Re: Lunch", 2 Jan | all reference the absent `b0`; 7 also 6 |
//! | 8–10 | "Budget", 3 Jan | 9 refs 8 and the absent `c2`; 10 refs 8 c2 9 |
//! | 11–12 | "Holiday photos", 4 Jan | 12 only In-Reply-To an absent message |
//! | 13 | "No date here" | no Date header (INTERNALDATE = seeding time) |
//! | 14 | "Bad date" | unparsable Date header |
//! | 15–16 | "Loop", 5 Jan | 15 refs 16 and 16 refs 15 |
//! | 17–19 | "Duplicate", 6 Jan | 17 and 18 share a Message-ID; 19 refs it |
//! | 20 | "Self", 7 Jan | references itself |
//! | 22 | `=?x-unknown-charset?q?Hello?=`, 9 Jan | unknown charset: decodes as "Hello" |
//! | 23, 24 | "Re: Fwd:" and no Subject, 10 Jan | empty base subjects |
//! | 25–27 | "Meeting notes", "[fwd: Meeting notes]", "Meeting notes (fwd)", 11 Jan | no references |
//! | 28–29 | "[dev-list] Release", 12 Jan | 29 refs 28 |
//! | 30–31 | "Re: Order" 13 Jan 10:00 before its parent "Order" 09:00 | 30 refs 31 |
//! | 32 | "Zebra", 13 Jan 20:00 +1400 = 06:00 UTC | none |

mod common;

use common::{Client, Root, Session};

const USER: &str = "sorter";
const PASS: &str = "pw-sorter";

fn fixture() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/threads");
    (1..=32)
        .map(|n| std::fs::read(dir.join(format!("{n:02}.eml"))).unwrap())
        .collect()
}

fn session(label: &str) -> (Root, Session) {
    let msgs = fixture();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let (root, s, uids) = common::session_on_inbox(label, USER, PASS, &refs, false);
    assert_eq!(uids, (1..=32).collect::<Vec<u32>>());
    (root, s)
}

/// The untagged line starting with `prefix` (`* SORT`, `* THREAD`, ...),
/// without the prefix; the command must succeed.
fn answer(c: &mut Client, cmd: &str, prefix: &str) -> String {
    let r = c.transcript(cmd);
    assert!(
        r.lines().last().is_some_and(|l| l.contains(" OK ")),
        "{cmd}: {r}"
    );
    let line = r
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{cmd}: no {prefix} in {r}"));
    line.trim_start_matches(prefix).trim().to_owned()
}

/// Every number in a THREAD answer, sorted: each message exactly once.
fn members(thread: &str) -> Vec<u32> {
    let mut v: Vec<u32> = thread
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// RFC 5256 §2.2 and §3: DATE is the Date header in UTC (32's +1400 puts
/// it before 31), INTERNALDATE when the header is missing (13) or
/// unparsable (14), ties in mailbox order.
#[test]
fn rfc5256_3_sort_date_missing_and_bad_dates_use_internaldate() {
    let (_root, mut c) = session("sort-date");
    let all = answer(&mut c, "SORT (DATE) UTF-8 ALL", "* SORT");
    assert_eq!(
        all,
        "1 2 3 4 5 6 7 8 9 10 11 12 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 32 31 30 13 14"
    );
    // REVERSE reverses the key, not the mailbox-order tie-break; 13 and 14
    // are left out because seeding may give them the same second.
    let rev = answer(&mut c, "SORT (REVERSE DATE) UTF-8 NOT 13:14", "* SORT");
    assert_eq!(
        rev,
        "30 31 32 29 28 27 26 25 24 23 22 21 20 19 18 17 16 15 12 11 10 9 8 7 6 5 4 3 2 1"
    );
}

/// RFC 5256 §2.1 base subjects ("Re:", "Fwd:", "(fwd)", "[fwd: ]", list
/// blobs removed; "Re: Fwd:" and a missing Subject are empty, sorting
/// first) compared with i;unicode-casemap; ties by the next key, then
/// mailbox order.
#[test]
fn rfc5256_2_1_sort_subject_uses_the_base_subject() {
    let (_root, mut c) = session("sort-subject");
    let by_subject = answer(&mut c, "SORT (SUBJECT) UTF-8 ALL", "* SORT");
    assert_eq!(
        by_subject,
        "23 24 14 8 9 10 17 18 19 22 11 12 15 16 5 6 7 25 26 27 13 30 31 1 2 3 4 21 28 29 20 32"
    );
    let then_date = answer(&mut c, "SORT (SUBJECT DATE) US-ASCII ALL", "* SORT");
    assert_eq!(
        then_date,
        "23 24 14 8 9 10 17 18 19 22 11 12 15 16 5 6 7 25 26 27 13 31 30 1 2 3 4 21 28 29 20 32"
    );
    // The search keys restrict what is sorted.
    let some = answer(
        &mut c,
        "SORT (REVERSE SUBJECT) UTF-8 1:5 SINCE 1-Jan-2000",
        "* SORT",
    );
    assert_eq!(some, "1 2 3 4 5");
}

/// RFC 5256 §4 (REFERENCES), hand-derived from the fixture: 21's 3,000
/// References still put it under 3; absent parents become dummies (5–7,
/// whose dummy stays because it has two children) or vanish (c2 between
/// 8 and 9; 12's absent parent, after which 12 joins 11 by subject); the
/// loop 15↔16 is broken; the duplicate ID of 18 makes it a separate
/// message that joins 17 under a dummy by subject; 25–27 merge by subject
/// with the original as parent; empty subjects never merge; threads are
/// ordered by their first message's date.
#[test]
fn rfc5256_4_thread_references() {
    let (_root, mut c) = session("thread-refs");
    let t = answer(&mut c, "THREAD REFERENCES UTF-8 ALL", "* THREAD");
    assert_eq!(
        t,
        "(1 (2 3 21)(4))((5)(6 7))(8 9 10)(11 12)(16 15)((17 19)(18))(20)(22)(23)(24)\
         (25 (26)(27))(28 29)(32)(31 30)(13)(14)"
    );
    assert_eq!(members(&t), (1..=32).collect::<Vec<u32>>());
}

/// THREAD=REFS (draft-ietf-morg-inthread), hand-derived: the links of
/// REFERENCES without merging by subject (12 stays apart from 11, 18 from
/// 17's thread, 25–27 apart), threads ordered by their latest message:
/// 5–7 end on 2 Jan, 8–10 on 3 Jan, ..., the thread of 1 only on 8 Jan
/// (21), 31 30 after 32 (13 Jan 10:00 against 06:00 UTC), 13 and 14 (no
/// usable Date: INTERNALDATE, the seeding time) last.
#[test]
fn inthread_refs_thread_order_and_no_subject_merge() {
    let (_root, mut c) = session("thread-refs2");
    let t = answer(&mut c, "THREAD REFS UTF-8 ALL", "* THREAD");
    assert_eq!(
        t,
        "((5)(6 7))(8 9 10)(11)(12)(16 15)(18)(17 19)(20)(1 (2 3 21)(4))(22)(23)(24)\
         (25)(26)(27)(28 29)(32)(31 30)(13)(14)"
    );
    assert_eq!(members(&t), (1..=32).collect::<Vec<u32>>());
    // Without 21 the thread of 1 ends on 1 Jan (4) and comes first.
    let t = answer(&mut c, "UID THREAD REFS UTF-8 1:12", "* THREAD");
    assert_eq!(t, "(1 (2 3)(4))((5)(6 7))(8 9 10)(11)(12)");
}

/// RFC 5256 §3 (ORDEREDSUBJECT): grouped by base subject, the earliest
/// message the parent of the others, groups by their first date.
#[test]
fn rfc5256_3_thread_orderedsubject() {
    let (_root, mut c) = session("thread-subj");
    let t = answer(&mut c, "THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD");
    assert_eq!(
        t,
        "(1 (2)(3)(4)(21))(5 (6)(7))(8 (9)(10))(11 12)(15 16)(17 (18)(19))(20)(22)(23 24)\
         (25 (26)(27))(28 29)(32)(31 30)(13)(14)"
    );
    assert_eq!(members(&t), (1..=32).collect::<Vec<u32>>());
}

/// RFC 5256 §3: UID SORT and UID THREAD answer UIDs; after expunging
/// message 1 sequence numbers shift by one and 2 and 4 hang under the
/// dummy of the now absent 1.
#[test]
fn rfc5256_3_uid_sort_and_uid_thread_after_expunge() {
    let (_root, mut c) = session("uid-sort");
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    c.ok("EXPUNGE");
    let seqs = answer(&mut c, "SORT (DATE) UTF-8 1:6", "* SORT");
    assert_eq!(seqs, "1 2 3 4 5 6");
    let uids = answer(&mut c, "UID SORT (DATE) UTF-8 1:6", "* SORT");
    assert_eq!(uids, "2 3 4 5 6 7");
    let t = answer(&mut c, "UID THREAD REFERENCES UTF-8 UID 2:7", "* THREAD");
    assert_eq!(t, "((2 3)(4))((5)(6 7))");
    let t = answer(&mut c, "THREAD REFERENCES UTF-8 1:6", "* THREAD");
    assert_eq!(t, "((1 2)(3))((4)(5 6))");
}

/// RFC 5957 §3: DISPLAYFROM sorts by the decoded display name (or the
/// address when there is none); FROM by the address's local part.
#[test]
fn rfc5957_3_sort_display_from() {
    let msgs: [&[u8]; 4] = [
        b"From: Zed <alpha@x>\r\nSubject: 1\r\n\r\nx\r\n",
        b"From: =?utf-8?q?=C3=89mile?= <zulu@x>\r\nSubject: 2\r\n\r\nx\r\n",
        b"From: bravo@x\r\nSubject: 3\r\n\r\nx\r\n",
        b"Subject: 4\r\n\r\nx\r\n",
    ];
    let (_root, mut c, _) = common::session_on_inbox("sort-display", USER, PASS, &msgs, false);
    // Missing From sorts first; "bravo@x" < "Emile" (É casemaps to E +
    // combining accent) < "Zed".
    assert_eq!(
        answer(&mut c, "SORT (DISPLAYFROM) UTF-8 ALL", "* SORT"),
        "4 3 2 1"
    );
    assert_eq!(answer(&mut c, "SORT (FROM) UTF-8 ALL", "* SORT"), "4 1 3 2");
    assert_eq!(
        answer(&mut c, "SORT (REVERSE FROM) UTF-8 ALL", "* SORT"),
        "2 3 1 4"
    );
}

/// RFC 5267 §3 (ESORT): RETURN answers ESEARCH with MIN/MAX the first and
/// last in sort order and ALL in sort order; RFC 5182 SAVE stores the
/// result for `$`.
#[test]
fn rfc5267_3_esort_return_options() {
    let (_root, mut c) = session("esort");
    let tag_free = |s: String| s.split_once(") ").map(|(_, r)| r.to_owned()).unwrap_or(s);
    let r = answer(
        &mut c,
        "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 1:5",
        "* ESEARCH",
    );
    assert_eq!(tag_free(r), "MIN 5 MAX 4 ALL 5,1:4 COUNT 5");
    let r = answer(
        &mut c,
        "UID SORT RETURN () (REVERSE DATE) UTF-8 1:3",
        "* ESEARCH",
    );
    assert_eq!(tag_free(r), "UID ALL 3,2,1");
    c.ok("SORT RETURN (SAVE) (DATE) UTF-8 30:32");
    assert_eq!(answer(&mut c, "SEARCH $", "* SEARCH"), "30 31 32");
}

/// RFC 5032 §3: OLDER and YOUNGER compare INTERNALDATE with the time of
/// the command.
#[test]
fn rfc5032_3_within_older_and_younger() {
    let msgs: [&[u8]; 1] = [b"Subject: new\r\n\r\nx\r\n"];
    let (_root, mut c, _) = common::session_on_inbox("within", USER, PASS, &msgs, false);
    c.ok_run("APPEND INBOX \"01-Jan-2020 00:00:00 +0000\" {19+}\r\nSubject: old\r\n\r\nx\r\n");
    assert_eq!(answer(&mut c, "SEARCH OLDER 3600", "* SEARCH"), "2");
    assert_eq!(answer(&mut c, "SEARCH YOUNGER 3600", "* SEARCH"), "1");
    assert_eq!(answer(&mut c, "SORT (ARRIVAL) UTF-8 ALL", "* SORT"), "2 1");
}

/// Unknown charsets are refused with BADCHARSET, as SEARCH does.
#[test]
fn rfc5256_3_unknown_charset_is_no_badcharset() {
    let (_root, mut c) = session("sort-charset");
    let r = c.expect("SORT (DATE) X-UNKNOWN ALL", "NO");
    assert!(r.last().unwrap().contains("BADCHARSET"), "{r:?}");
    let r = c.expect("THREAD REFERENCES X-UNKNOWN ALL", "NO");
    assert!(r.last().unwrap().contains("BADCHARSET"), "{r:?}");
}

/// RFC 9394 §3.1: SEARCH RETURN (PARTIAL) pages the result: positions
/// from the start or (negative) from the end, reversed ends accepted,
/// NIL beyond the result; PARTIAL with ALL is refused.
#[test]
fn rfc9394_3_1_search_and_sort_partial() {
    let (_root, mut c) = session("partial");
    let tag_free = |s: String| s.split_once(") ").map(|(_, r)| r.to_owned()).unwrap_or(s);
    let r = answer(&mut c, "SEARCH RETURN (PARTIAL 4:2) 1:2,4:5", "* ESEARCH");
    assert_eq!(tag_free(r), "PARTIAL (2:4 2,4:5)");
    let r = answer(
        &mut c,
        "UID SEARCH RETURN (PARTIAL -1:-3 COUNT) ALL",
        "* ESEARCH",
    );
    assert_eq!(tag_free(r), "UID COUNT 32 PARTIAL (-1:-3 30:32)");
    let r = answer(&mut c, "SEARCH RETURN (PARTIAL 40:50) ALL", "* ESEARCH");
    assert_eq!(tag_free(r), "PARTIAL (40:50 NIL)");
    // In sort order: the second to fourth by date, newest first.
    let r = answer(
        &mut c,
        "SORT RETURN (PARTIAL 2:4) (REVERSE DATE) UTF-8 NOT 13:14",
        "* ESEARCH",
    );
    assert_eq!(tag_free(r), "PARTIAL (2:4 31:32,29)");
    c.expect("SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "BAD");
}

/// RFC 9394 §3.3: FETCH (PARTIAL) answers only that page of the set.
#[test]
fn rfc9394_3_3_fetch_partial() {
    let (_root, mut c) = session("fetch-partial");
    let r = c.transcript("UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)");
    let fetched: Vec<&str> = r
        .lines()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH "))
        .collect();
    assert_eq!(fetched.len(), 2, "{r}");
    assert!(
        fetched[0].starts_with("* 31 FETCH") && fetched[1].starts_with("* 32 FETCH"),
        "{r}"
    );
    let r = c.transcript("FETCH 1:10 (UID) (PARTIAL 3:4)");
    let fetched: Vec<&str> = r
        .lines()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH "))
        .collect();
    assert_eq!(fetched, ["* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)"], "{r}");
}

/// RFC 8970 §3: PREVIEW is the start of the first readable text part,
/// white space collapsed (HTML reduced to text); (LAZY) gets the same,
/// since the preview is stored with the message.
#[test]
fn rfc8970_3_fetch_preview() {
    let msgs: [&[u8]; 3] = [
        b"Subject: a\r\n\r\n  Hello,\r\n   world.\r\n",
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head><body><p>Caf\xc3\xa9 &amp; cr\xc3\xa8me</p></body></html>\r\n",
        b"MIME-Version: 1.0\r\nContent-Type: image/png\r\n\r\nxx\r\n",
    ];
    let (_root, mut c, _) = common::session_on_inbox("preview", USER, PASS, &msgs, false);
    let r = c.transcript("FETCH 1:3 (PREVIEW)");
    assert!(r.contains("* 1 FETCH (PREVIEW \"Hello, world.\")"), "{r}");
    assert!(
        r.contains("* 2 FETCH (PREVIEW {14}\r\nCafé & crème)"),
        "{r}"
    );
    assert!(r.contains("* 3 FETCH (PREVIEW \"\")"), "{r}");
    let r = c.transcript("UID FETCH 1 (PREVIEW (LAZY))");
    assert!(r.contains("PREVIEW \"Hello, world.\""), "{r}");
    // PREVIEW does not set \Seen.
    let r = c.transcript("FETCH 1 (FLAGS)");
    assert!(!r.contains("\\Seen"), "{r}");
}

/// The sealed sort-key cache (`store::sort_keys`): the first SORT of a
/// session on 80 messages writes it; a new session sorts from it with the
/// same answer, and a message appended since is sorted from its summary.
#[test]
fn rfc5256_3_sort_from_the_sealed_key_cache() {
    let msgs: Vec<Vec<u8>> = (0..80u32)
        .map(|i| {
            format!(
                "From: u{i}@example.org\r\nSubject: s{:02}\r\nDate: {:02} Feb 2024 10:00:00 +0000\r\n\
                 Message-ID: <k{i}@x>\r\n\r\nbody\r\n",
                (i * 37) % 80,
                1 + (i * 7) % 28
            )
            .into_bytes()
        })
        .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let (root, mut c, _) = common::session_on_inbox("sort-keycache", USER, PASS, &refs, false);
    let by_date = answer(&mut c, "SORT (DATE) UTF-8 ALL", "* SORT");
    let by_subject = answer(&mut c, "SORT (SUBJECT) UTF-8 ALL", "* SORT");
    let boxes = root.path().join("users").join(USER).join("mailboxes");
    let cached: Vec<_> = std::fs::read_dir(&boxes)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path().join("sortkeys");
            p.exists().then_some(p)
        })
        .collect();
    assert_eq!(cached.len(), 1, "one sealed sort-key file");
    let sealed = std::fs::read(&cached[0]).unwrap();
    assert!(
        !sealed.windows(3).any(|w| w == b"S00"),
        "subjects are not kept in clear"
    );
    drop(c);

    let mut c = Session::login(&root, USER, PASS);
    c.ok("SELECT INBOX");
    assert_eq!(
        answer(&mut c, "SORT (SUBJECT) UTF-8 ALL", "* SORT"),
        by_subject
    );
    assert_eq!(answer(&mut c, "SORT (DATE) UTF-8 ALL", "* SORT"), by_date);
    let late = b"Subject: a first\r\nDate: 01 Jan 2024 00:00:00 +0000\r\n\r\nx\r\n";
    c.append("INBOX", &[], late).unwrap();
    drop(c);
    let mut c = Session::login(&root, USER, PASS);
    c.ok("SELECT INBOX");
    assert_eq!(
        answer(&mut c, "SORT (DATE) UTF-8 ALL", "* SORT"),
        format!("81 {by_date}")
    );
    drop(c);
    // A file that fails authentication (an older format, or planted) is
    // removed by the first session that reads it, even one that sorts
    // too few messages to write a new file, and the answer is unchanged.
    let mut bytes = std::fs::read(&cached[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&cached[0], bytes).unwrap();
    let mut c = Session::login(&root, USER, PASS);
    c.ok("SELECT INBOX");
    assert_eq!(
        answer(&mut c, "UID SORT (DATE) UTF-8 UID 80:81", "* SORT"),
        "81 80"
    );
    assert!(!cached[0].exists(), "the unusable sort-key file is removed");
}

/// The in-memory ranks a SORT builds are dropped when mail arrives or goes
/// within one session: a message another session appends sorts into its
/// place (not first, as a stale rank list would put it), and after an
/// EXPUNGE the sequence numbers are the new ones.
#[test]
fn rfc5256_3_repeated_sort_after_another_sessions_append_and_an_expunge() {
    let subjects = ["e", "a", "d", "b", "f"];
    let msgs: Vec<Vec<u8>> = subjects
        .iter()
        .map(|s| format!("Subject: {s}\r\nMessage-ID: <{s}@x>\r\n\r\nx\r\n").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let (root, mut c, _) = common::session_on_inbox("sort-ranks", USER, PASS, &refs, false);
    assert_eq!(
        answer(&mut c, "SORT (SUBJECT) UTF-8 ALL", "* SORT"),
        "2 4 3 1 5"
    );
    assert_eq!(
        answer(&mut c, "SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT"),
        "5 1 3 4 2"
    );
    let mut other = Session::login(&root, USER, PASS);
    other
        .append(
            "INBOX",
            &[],
            b"Subject: c\r\nMessage-ID: <c@x>\r\n\r\nx\r\n",
        )
        .unwrap();
    drop(other);
    c.ok("NOOP");
    assert_eq!(
        answer(&mut c, "SORT (SUBJECT) UTF-8 ALL", "* SORT"),
        "2 4 6 3 1 5"
    );
    c.ok("STORE 3 +FLAGS.SILENT (\\Deleted)");
    c.ok("EXPUNGE");
    assert_eq!(
        answer(&mut c, "SORT (SUBJECT) UTF-8 ALL", "* SORT"),
        "2 3 5 1 4"
    );
    assert_eq!(
        answer(&mut c, "UID SORT (SUBJECT) UTF-8 ALL", "* SORT"),
        "2 4 6 1 5"
    );
}
