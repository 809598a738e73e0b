//! Fuzz target for the MIME parser: arbitrary bytes must keep every
//! invariant of `mime::invariants::check` (offsets in bounds and ordered,
//! every section extracted or refused with a typed error, search text
//! built) and render ENVELOPE/BODY/BODYSTRUCTURE without a panic.
#![no_main]

use crymap_like::imap::wire::structure::{write_body, write_bodystructure, write_envelope};
use crymap_like::mime::invariants;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let s = match invariants::check(raw) {
        Ok(s) => s,
        Err(e) => panic!("invariant broken: {e}"),
    };
    let mut out = Vec::new();
    write_envelope(&mut out, &s.envelope);
    write_body(&mut out, &s.root);
    write_bodystructure(&mut out, &s.root);
});
