//! Deterministic input mutation for the wire round-trip property tests
//! (commands in `parser/tests.rs`, responses in `response/tests.rs`): the
//! fuzz targets' property, run in CI without libFuzzer. Test-only; never
//! parses or encodes anything itself.

/// A small deterministic PRNG (xorshift64*) so the property tests are
/// reproducible without extra crates.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Syntax pieces both directions start their piece lists with:
/// delimiters and quoting...
pub(crate) const DELIMITERS: &[&[u8]] = &[b" ", b"(", b")", b"\"", b"\\"];
/// ...and `NIL` with the brackets of sections and partial ranges.
pub(crate) const NIL_AND_SECTIONS: &[&[u8]] = &[b"NIL", b"[", b"]", b"<", b">", b"."];

/// `base` with `ops` random edits: a cut, an inserted syntax `piece`, a
/// flipped byte, or a chunk of another of the `seeds` spliced in.
pub(crate) fn mutate(
    rng: &mut Rng,
    base: &[u8],
    ops: usize,
    pieces: &[&[u8]],
    seeds: &[Vec<u8>],
) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..ops {
        let pos = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if !out.is_empty() => {
                let end = (pos + rng.below(8)).min(out.len());
                out.drain(pos.min(end)..end);
            }
            1 => {
                let piece = pieces.get(rng.below(pieces.len())).copied().unwrap_or(b" ");
                out.splice(pos..pos, piece.iter().copied());
            }
            2 if pos < out.len() => {
                if let Some(b) = out.get_mut(pos) {
                    *b = (rng.next() & 0xff) as u8;
                }
            }
            _ => {
                let other = seeds.get(rng.below(seeds.len())).map_or(&[][..], |s| s);
                let a = rng.below(other.len() + 1);
                let b = (a + rng.below(24)).min(other.len());
                out.splice(pos..pos, other.get(a..b).unwrap_or(b"").iter().copied());
            }
        }
    }
    out
}
