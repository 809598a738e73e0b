//! Fuzz target for the THREAD builders: arbitrary bytes split at NUL into
//! header blocks (so Message-ID, In-Reply-To, References and Subject are
//! arbitrary, including loops, duplicates and thousands of references),
//! each summarised as on append; ORDEREDSUBJECT and REFERENCES must never
//! panic and must return every message exactly once.
#![no_main]

use crymap_like::mime::summarize;
use crymap_like::mime::thread::{self, ThreadInput, Tree};
use libfuzzer_sys::fuzz_target;

fn check(trees: &[Tree], n: usize) {
    let mut seen: Vec<usize> = trees.iter().flat_map(Tree::indices).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
}

fuzz_target!(|raw: &[u8]| {
    let summaries: Vec<_> = raw.split(|&b| b == 0).take(500).map(summarize).collect();
    let input: Vec<ThreadInput> = summaries
        .iter()
        .enumerate()
        .map(|(i, s)| ThreadInput {
            date: s.search.date.map_or(i as i64, |d| d.unix_seconds),
            fields: &s.sort,
        })
        .collect();
    check(&thread::references(&input), input.len());
    check(&thread::refs(&input), input.len());
    check(&thread::ordered_subject(&input), input.len());
});
