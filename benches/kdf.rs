//! The KDF alone (issue 12): Argon2id at the production parameters (19 MiB,
//! t=2, p=1) through `crypto::kdf::derive`, the call every LOGIN makes.
//! Each login runs in a fresh process, so the figure that bounds logins is
//! one derivation in a new process (its 19 MiB freshly mapped): the bench
//! re-runs itself once per sample. It also reports repeated derivations in
//! one process, to compare with other implementations measured that way
//! (`benches/login-bench.sh` measures Debian's reference C libargon2 so).
//!
//!   cargo bench --bench kdf [-- RUNS]
//!
//! Prints median and minimum wall time, and the login rate two cores allow
//! (`2 / median`).

use std::process::Command;
use std::time::Instant;

use crymap_like::crypto::kdf::{derive, KdfParams};

fn once() -> f64 {
    let t = Instant::now();
    let key = derive(
        b"a password of ordinary length",
        b"0123456789abcdef",
        &KdfParams::default(),
    );
    assert!(key.is_ok(), "derive failed");
    t.elapsed().as_secs_f64() * 1000.0
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--one") {
        println!("{:.3}", once());
        return;
    }
    let runs: usize = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40)
        .clamp(3, 1000);
    let me = std::env::current_exe().expect("own path");
    let fresh: Vec<f64> = (0..runs)
        .map(|_| {
            let out = Command::new(&me).arg("--one").output().expect("child");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("child prints its time")
        })
        .collect();
    let steady: Vec<f64> = (0..runs).map(|_| once()).collect();
    let (fm, fmin) = summary(fresh);
    let (sm, smin) = summary(steady);
    println!("argon2 crate, Argon2id 19 MiB t=2 p=1, {runs} runs");
    println!("  one derivation in a fresh process: median {fm:.2} ms, min {fmin:.2} ms");
    println!("  repeated in one process:           median {sm:.2} ms, min {smin:.2} ms");
    println!(
        "  login bound on {} cores: {:.0} logins/s (from the fresh-process median)",
        2,
        2000.0 / fm
    );
}
