//! Tests of the full-text index against real mailboxes in a temporary user
//! directory: the property that an indexed search equals the linear scan
//! (random corpora and needles), what the disk shows (no word, no posting
//! size), incremental builds, compaction and every kind of damage.

use std::fs;
use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::crypto::test_util::all_files;
use crate::mime::search_text::fold;
use crate::store::types::InternalDate;

/// The shared store fixture, with this file's INBOX and index directory.
struct Fixture(crate::store::test_fixture::Fixture);

impl Fixture {
    fn new() -> Fixture {
        Fixture(crate::store::test_fixture::Fixture::new("fts"))
    }

    fn open(&self) -> Mailbox {
        self.0.open("INBOX")
    }

    fn fts_dir(&self, mb: &Mailbox) -> PathBuf {
        mb.dir().join(files::DIR)
    }
}

/// Appends `raw` and makes it visible, as a session's refresh does.
fn put(mb: &mut Mailbox, raw: &[u8]) -> Uid {
    let uid = mb.append(raw, &[], InternalDate::now()).unwrap();
    mb.refresh().unwrap();
    uid
}

/// The linear scan's text of every message `mb` shows (read once: the
/// text of a message never changes).
// Ordered: the property test picks needles from these texts by position,
// so a random iteration order made its seeds (and its non-vacuity check)
// differ from run to run.
type Texts = std::collections::BTreeMap<Uid, crate::mime::search_text::SearchText>;

fn texts(mb: &Mailbox) -> Texts {
    mb.uids()
        .map(|u| (u, search_text(mb, u, &mb.summary(u).unwrap()).unwrap()))
        .collect()
}

/// What the linear scan answers for one message.
fn scan(t: &Texts, uid: Uid, needle: &str, scope: Scope) -> bool {
    let t = &t[&uid];
    match scope {
        Scope::Body => t.body.contains(needle),
        Scope::Text => t.headers.contains(needle) || t.body.contains(needle),
    }
}

/// What SEARCH answers with the index (the rule of `Key::Indexed` in
/// `imap::commands::search`).
fn indexed(t: &Texts, a: &Option<Answer>, uid: Uid, needle: &str, scope: Scope) -> bool {
    match a {
        Some(a) if a.coverage.covers(uid) => {
            a.hits.contains(uid.get()) && (a.exact || scan(t, uid, needle, scope))
        }
        _ => scan(t, uid, needle, scope),
    }
}

fn assert_same(mb: &Mailbox, idx: &FtsIndex, needle: &str) {
    assert_same_in(mb, &texts(mb), idx, needle);
}

/// Asserts index and scan agree on every message; returns how many
/// matched and whether the index answered exactly, narrowed or not at all.
fn assert_same_in(mb: &Mailbox, t: &Texts, idx: &FtsIndex, needle: &str) -> (usize, [usize; 3]) {
    let mut matched = 0;
    let mut kinds = [0; 3];
    for scope in [Scope::Text, Scope::Body] {
        let a = idx.query(needle, scope);
        for uid in mb.uids() {
            let want = scan(t, uid, needle, scope);
            let got = indexed(t, &a, uid, needle, scope);
            assert_eq!(
                got, want,
                "needle {needle:?} {scope:?} uid {uid}: index {got}, scan {want} ({a:?})"
            );
            matched += usize::from(want);
        }
        kinds[match &a {
            Some(a) if a.exact => 0,
            Some(_) => 1,
            None => 2,
        }] += 1;
    }
    (matched, kinds)
}

const WORDS: &[&str] = &[
    "Alpha",
    "bravo",
    "MEETING",
    "meetings",
    "review",
    "preview",
    "Grüße",
    "GRÜSSE",
    "façade",
    "naïve",
    "Straße",
    "ÉCOLE",
    "ΣΊΣΥΦΟΣ",
    "σίσυφος",
    "русский",
    "Москва",
    "日本語のテキスト",
    "東京",
    "中文",
    "x1",
    "42",
    "e\u{301}t\u{e9}",
    "İstanbul",
    "ſtop",
    "ǅemal",
    "Ωmega",
    "quote\"d",
    "dash-ed",
    "a.b",
    "mail@example.com",
    "tab\tbed",
];

fn phrase(rng: &mut StdRng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push_str([" ", " ", ", ", "-", "  ", "/"][rng.gen_range(0..6)]);
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
    }
    s
}

/// Quoted-printable with soft breaks at random places (also between the
/// bytes of one character, which the decoder must join).
fn qp(rng: &mut StdRng, text: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for b in text.bytes() {
        let enc = if b == b'\n' {
            "\r\n".to_string()
        } else if b.is_ascii_alphanumeric() || b == b' ' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if line + enc.len() > 70 || rng.gen_bool(0.05) {
            out.push_str("=\r\n");
            line = 0;
        }
        line = if b == b'\n' { 0 } else { line + enc.len() };
        out.push_str(&enc);
    }
    out
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
        .collect()
}

fn encoded_word(rng: &mut StdRng, text: &str) -> String {
    use base64::Engine;
    // Split across several encoded words: a needle may span them.
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for part in chars.chunks(rng.gen_range(2..6)) {
        let p: String = part.iter().collect();
        out.push(if rng.gen_bool(0.5) {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(p.as_bytes())
            )
        } else {
            let q: String = p
                .bytes()
                .map(|b| match b {
                    b' ' => "_".to_string(),
                    b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                    b => format!("={b:02X}"),
                })
                .collect();
            format!("=?UTF-8?Q?{q}?=")
        });
    }
    out.join(" ")
}

fn message(rng: &mut StdRng, i: usize) -> Vec<u8> {
    let n = rng.gen_range(1..5);
    let subject = phrase(rng, n);
    let subject = if rng.gen_bool(0.5) {
        encoded_word(rng, &subject)
    } else {
        subject.replace(|c: char| !c.is_ascii() || c == '\t', "?")
    };
    let body = (0..rng.gen_range(1..6))
        .map(|_| {
            let n = rng.gen_range(1..12);
            phrase(rng, n)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut m = format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: r@example.net\r\nSubject: {subject}\r\nMessage-ID: <{i}@t>\r\nMIME-Version: 1.0\r\n"
    );
    match rng.gen_range(0..5) {
        0 => m += &format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n",
            qp(rng, &body)
        ),
        1 => m += &format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            b64(body.as_bytes())
        ),
        2 => {
            let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(&body);
            let enc: String = latin
                .iter()
                .map(|&b| if b.is_ascii_alphanumeric() || b == b' ' || b == b'\n' { (b as char).to_string() } else { format!("={b:02X}") })
                .collect::<String>()
                .replace('\n', "\r\n");
            m += &format!(
                "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{enc}\r\n"
            );
        }
        3 => {
            let other = phrase(rng, 4);
            m += &format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{body}</p>\r\n--b{i}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--b{i}--\r\n",
                b64(other.as_bytes())
            );
        }
        _ => m += &format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n", body.replace('\n', "\r\n")),
    }
    m.into_bytes()
}

/// A random needle: mostly a substring of some message's text (random
/// case), else words, phrases or separators.
fn needle(rng: &mut StdRng, texts: &[String]) -> String {
    let raw = match rng.gen_range(0..10) {
        0..=5 if texts.iter().all(|t| !t.is_empty()) => {
            let t = &texts[rng.gen_range(0..texts.len())];
            let chars: Vec<char> = t.chars().collect();
            let start = rng.gen_range(0..chars.len());
            let len = rng.gen_range(1..12).min(chars.len() - start);
            let s: String = chars[start..start + len].iter().collect();
            if rng.gen_bool(0.5) {
                s.to_uppercase()
            } else {
                s
            }
        }
        0..=6 => WORDS[rng.gen_range(0..WORDS.len())].to_string(),
        7 => phrase(rng, 2),
        8 => [" ", "-", ", ", "@", "é", "日", "s", "ß"][rng.gen_range(0..8)].to_string(),
        _ => format!("zz{}", rng.gen_range(0..100)),
    };
    fold(&raw)
}

#[test]
fn property_indexed_search_equals_linear_scan() {
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let f = Fixture::new();
        let mut mb = f.open();
        let n = rng.gen_range(5..30);
        for i in 0..n {
            put(&mut mb, &message(&mut rng, i));
        }
        let mut idx = FtsIndex::default();
        idx.sync(&mb).unwrap();
        for uid in mb.uids() {
            assert!(idx.coverage.covers(uid), "seed {seed}: {uid} not covered");
        }
        let t = texts(&mb);
        let strings: Vec<String> = t.values().map(|t| t.headers.clone() + &t.body).collect();
        let mut matched = 0;
        let mut kinds = [0; 3];
        for _ in 0..100 {
            let n = needle(&mut rng, &strings);
            let (m, k) = assert_same_in(&mb, &t, &idx, &n);
            matched += m;
            kinds.iter_mut().zip(k).for_each(|(a, b)| *a += b);
        }
        // Not vacuous: needles match, and all three plans occur.
        assert!(matched > 100, "seed {seed}: only {matched} matches");
        assert!(kinds.iter().all(|&k| k > 0), "seed {seed}: plans {kinds:?}");
        // More mail, and searches again: the new messages are indexed
        // incrementally (several chunks, then a compaction).
        for i in n..n + 40 {
            put(&mut mb, &message(&mut rng, i));
        }
        let gone: Vec<Uid> = mb.uids().step_by(3).collect();
        mb.expunge(&gone).unwrap();
        mb.refresh().unwrap();
        idx.sync(&mb).unwrap();
        let t = texts(&mb);
        for _ in 0..100 {
            let n = needle(&mut rng, &strings);
            assert_same_in(&mb, &t, &idx, &n);
        }
    }
}

#[test]
fn words_and_pairs_are_exact_other_phrases_narrow() {
    let f = Fixture::new();
    let mut mb = f.open();
    let raw = |s: &str, b: &str| format!("Subject: {s}\r\n\r\n{b}\r\n").into_bytes();
    let u1 = put(&mut mb, &raw("budget", "budget review"));
    let u2 = put(&mut mb, &raw("x", "budget, review"));
    let u3 = put(&mut mb, &raw("x", "reviewer budgets"));
    let mut idx = FtsIndex::default();
    idx.sync(&mb).unwrap();
    let a = idx.query("review", Scope::Body).unwrap();
    assert!(a.exact);
    assert_eq!(
        a.hits.iter().collect::<Vec<_>>(),
        vec![u1.get(), u2.get(), u3.get()]
    );
    let a = idx.query("budget", Scope::Body).unwrap();
    assert_eq!(a.hits.len(), 3);
    let a = idx.query("budget", Scope::Text).unwrap();
    assert_eq!(a.hits.len(), 3);
    let a = idx.query("subject", Scope::Body).unwrap();
    assert!(a.hits.is_empty());
    assert_eq!(idx.query("subject", Scope::Text).unwrap().hits.len(), 3);
    // Two words around a short separator: exact through the pairs.
    let a = idx.query("budget review", Scope::Body).unwrap();
    assert!(a.exact);
    assert_eq!(a.hits.iter().collect::<Vec<_>>(), vec![u1.get()]);
    let a = idx.query("get, rev", Scope::Body).unwrap();
    assert_eq!(a.hits.iter().collect::<Vec<_>>(), vec![u2.get()]);
    // A leading separator: narrowed to words starting with "budget", then
    // checked (u2 has no space before its "budget").
    let a = idx.query(" budget", Scope::Body).unwrap();
    assert!(!a.exact);
    assert_eq!(
        a.hits.iter().collect::<Vec<_>>(),
        vec![u1.get(), u2.get(), u3.get()]
    );
    assert_same(&mb, &idx, " budget");
    assert!(idx.query(" ", Scope::Body).is_none());
    assert_same(&mb, &idx, "budget review");
}

#[test]
fn no_word_of_the_corpus_is_on_disk_after_indexing() {
    let f = Fixture::new();
    let mut mb = f.open();
    let markers: Vec<String> = (0..40).map(|i| format!("zqxmarker{i:03}k")).collect();
    for (i, m) in markers.iter().enumerate() {
        let raw = format!(
            "Subject: {m} subj{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{m} plain words Grüße {m}\r\n"
        );
        put(&mut mb, raw.as_bytes());
    }
    let mut idx = FtsIndex::default();
    idx.sync(&mb).unwrap();
    assert_eq!(
        idx.query("zqxmarker007k", Scope::Text).unwrap().hits.len(),
        1
    );
    let mut files = Vec::new();
    all_files(&f.0.user, &mut files);
    assert!(files.iter().any(|p| p.starts_with(f.fts_dir(&mb))));
    for p in &files {
        let data = fs::read(p).unwrap();
        for needle in [
            "zqxmarker",
            "plain words",
            "Grüße",
            "gr\u{fc}\u{df}e",
            "subj1",
        ] {
            assert!(
                !data.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} in {}",
                p.display()
            );
        }
    }
}

#[test]
fn segment_sizes_depend_only_on_bucketed_totals() {
    // One mailbox where one word has a 40-entry posting list, another
    // where 40 words have one entry each: the same file sizes.
    let sizes = |distinct: bool| {
        let f = Fixture::new();
        let mut mb = f.open();
        for i in 0..40 {
            let w = if distinct {
                format!("w{i:02}")
            } else {
                "w00".into()
            };
            put(&mut mb, format!("Subject: s\r\n\r\n{w}\r\n").as_bytes());
        }
        let mut idx = FtsIndex::default();
        idx.sync(&mb).unwrap();
        let mut files = Vec::new();
        all_files(&f.fts_dir(&mb), &mut files);
        let mut v: Vec<(String, u64)> = files
            .iter()
            .filter(|p| !p.ends_with("lock"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                let kind = if name.starts_with("seg-") {
                    "seg"
                } else {
                    "manifest"
                };
                (kind.to_string(), fs::metadata(p).unwrap().len())
            })
            .collect();
        v.sort();
        v
    };
    let a = sizes(false);
    let b = sizes(true);
    assert_eq!(a, b);
    for (_, len) in &a {
        let plain = *len as usize - crate::crypto::seal::OVERHEAD;
        assert_eq!(segment::bucket(plain), plain, "size {len} is not a bucket");
    }
}

#[test]
fn damaged_or_planted_files_are_rebuilt_never_trusted() {
    let f = Fixture::new();
    let mut mb = f.open();
    for i in 0..12 {
        put(
            &mut mb,
            format!("Subject: m{i}\r\n\r\nneedle{i} common\r\n").as_bytes(),
        );
    }
    let dir = f.fts_dir(&mb);
    let mut idx = FtsIndex::default();
    idx.sync(&mb).unwrap();
    let good = idx.query("common", Scope::Body).unwrap().hits;
    assert_eq!(good.len(), 12);
    let segs = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("seg-"))
            .collect();
        v.sort();
        v
    };
    let check = |label: &str| {
        let mut fresh = FtsIndex::default();
        fresh.sync(&mb).unwrap();
        let a = fresh.query("common", Scope::Body).unwrap();
        assert_eq!(a.hits, good, "{label}");
        for uid in mb.uids() {
            assert!(a.coverage.covers(uid), "{label}: {uid}");
        }
        assert_same(&mb, &fresh, "needle3");
    };
    // A planted segment claiming every word is in message 1: not named by
    // the manifest, never read, and removed by the next builder.
    let first = segs()[0].clone();
    let planted = dir.join(format!("seg-{:032x}", 7u128));
    fs::copy(&first, &planted).unwrap();
    check("planted segment");
    // A segment that fails authentication.
    let mut data = fs::read(&first).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    fs::write(&first, &data).unwrap();
    check("tampered segment");
    // A manifest swapped for garbage, then for a symbolic link to a
    // genuine-looking file, then a huge file.
    fs::write(dir.join("manifest"), b"garbage").unwrap();
    check("garbage manifest");
    let elsewhere = f.0.user.join("tmp").join("elsewhere");
    fs::copy(dir.join("manifest"), &elsewhere).unwrap();
    fs::remove_file(dir.join("manifest")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("manifest")).unwrap();
    check("manifest symlink");
    assert!(!fs::symlink_metadata(dir.join("manifest"))
        .unwrap()
        .file_type()
        .is_symlink());
    let big = fs::File::create(segs()[0].clone()).unwrap();
    big.set_len((1 << 30) + 1).unwrap();
    check("oversized segment");
    // The whole index missing.
    fs::remove_dir_all(&dir).unwrap();
    check("missing index");
    assert!(!planted.exists());
}

#[test]
fn chunks_are_durable_steps_and_compaction_drops_expunged() {
    let f = Fixture::new();
    let mut mb = f.open();
    let mut idx = FtsIndex::default();
    for round in 0..(MAX_SEGMENTS + 3) {
        for i in 0..CHUNK {
            let body = format!("r{round}m{i} shared");
            put(&mut mb, format!("Subject: x\r\n\r\n{body}\r\n").as_bytes());
        }
        idx.sync(&mb).unwrap();
        assert!(idx.stats().0 <= MAX_SEGMENTS, "round {round}: compacted");
    }
    let before = idx.query("shared", Scope::Body).unwrap().hits.len();
    assert_eq!(before, mb.uids().count());
    let gone: Vec<Uid> = mb.uids().take(CHUNK * 2).collect();
    mb.expunge(&gone).unwrap();
    mb.refresh().unwrap();
    // Force a compaction: enough new segments.
    for i in 0..(CHUNK * (MAX_SEGMENTS + 1)) {
        put(&mut mb, format!("Subject: y\r\n\r\nlate{i}\r\n").as_bytes());
    }
    idx.sync(&mb).unwrap();
    let after = idx.query("shared", Scope::Body).unwrap().hits;
    assert_eq!(after.len(), before - CHUNK * 2);
    for g in gone {
        assert!(!after.contains(g.get()));
    }
    // Only live segment files remain.
    let live = fs::read_dir(f.fts_dir(&mb))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("seg-")
        })
        .count();
    assert_eq!(live, idx.stats().0);
}

#[test]
fn a_second_session_reuses_the_index_and_sees_its_growth() {
    let f = Fixture::new();
    let mut a = f.open();
    let mut b = f.open();
    put(&mut a, b"Subject: one\r\n\r\nalpha\r\n");
    let mut ia = FtsIndex::default();
    ia.sync(&a).unwrap();
    b.refresh().unwrap();
    let mut ib = FtsIndex::default();
    ib.sync(&b).unwrap();
    assert_eq!(ib.query("alpha", Scope::Body).unwrap().hits.len(), 1);
    put(&mut b, b"Subject: two\r\n\r\nalphabet\r\n");
    ib.sync(&b).unwrap();
    a.refresh().unwrap();
    ia.sync(&a).unwrap();
    assert_eq!(ia.query("alpha", Scope::Body).unwrap().hits.len(), 2);
    // While another process holds the builder's lock, a session does not
    // wait: what is not covered is left to the scan.
    let place = FtsIndex::place(&a);
    let lock = place.try_lock().unwrap().unwrap();
    put(&mut a, b"Subject: three\r\n\r\nalpha3\r\n");
    let mut ic = FtsIndex::default();
    ic.sync(&a).unwrap();
    let ans = ic.query("alpha", Scope::Body).unwrap();
    let last = a.uids().last().unwrap();
    assert!(!ans.coverage.covers(last));
    drop(lock);
    ic.sync(&a).unwrap();
    assert!(ic
        .query("alpha", Scope::Body)
        .unwrap()
        .coverage
        .covers(last));
}

/// A NUL in a message's decoded text (quoted-printable `=00`) between two
/// words: the pair is not indexed (a segment's terms end at NUL), so the
/// message is indexed like any other, not left to fail every build.
#[test]
fn nul_between_words_does_not_break_the_index() {
    let f = Fixture::new();
    let mut mb = f.open();
    let mut idx = FtsIndex::default();
    put(
        &mut mb,
        b"Subject: nul\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nfoo=00bar baz\r\n",
    );
    put(&mut mb, b"Subject: next\r\n\r\nafter the nul\r\n");
    idx.sync(&mb).unwrap();
    assert_eq!(idx.stats().0, 1, "one segment, written once");
    for needle in ["foo", "bar", "after"] {
        assert_same(&mb, &idx, needle);
        let a = idx.query(needle, Scope::Body).unwrap();
        assert!(a.exact && a.hits.len() == 1, "{needle}");
    }
    assert!(mb
        .uids()
        .all(|u| idx.query("foo", Scope::Body).unwrap().coverage.covers(u)));
}
