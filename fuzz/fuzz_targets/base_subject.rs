//! Fuzz target for the RFC 5256 §2.1 base-subject extraction and the
//! RFC 5051 casemap: arbitrary bytes (as lossy UTF-8, what a decoded
//! Subject is) must
//! never panic; the base subject has no leading, trailing or doubled
//! white space and is never longer than its input.
#![no_main]

use crymap_like::mime::sort;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let subject = String::from_utf8_lossy(raw);
    let (base, _) = sort::base_subject(&subject);
    assert!(base.len() <= subject.len());
    assert!(!base.starts_with(' ') && !base.ends_with(' ') && !base.contains("  "));
    let _ = sort::casemap(&base);
    let _ = sort::msg_ids(raw);
});
