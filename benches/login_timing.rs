//! Can a stranger tell which user names exist by timing LOGIN (issue 7,
//! finding 8)? Times `LOGIN <unknown user>` against `LOGIN <known user>
//! <wrong password>` over the real binary with the production Argon2id
//! parameters, interleaved, one connection each, and compares the two
//! samples: medians, their ratio, and a Mann-Whitney U test. Run with
//! `cargo bench --bench login_timing`; figures go to doc/benchmarks.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

fn one_login(root: &Root, user: &str, password: &str) -> Duration {
    let (child, sock) = root.spawn_serve("imaps");
    let _g = Guard(child);
    let (mut c, g) = Client::imaps(sock);
    assert!(g.starts_with("* OK"), "{g}");
    let t = Instant::now();
    let reply = c.login(user, password);
    let d = t.elapsed();
    assert!(reply.contains("NO [AUTHENTICATIONFAILED]"), "{reply}");
    d
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Two-sided Mann-Whitney U test (normal approximation, ties averaged):
/// returns (U of `a`, z, p).
fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let mut all: Vec<(f64, usize)> = a.iter().map(|&x| (x, 0)).collect();
    all.extend(b.iter().map(|&x| (x, 1)));
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut ranks = vec![0.0; all.len()];
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in ranks.iter_mut().take(j + 1).skip(i) {
            *k = r;
        }
        i = j + 1;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|((_, g), _)| *g == 0)
        .map(|(_, r)| r)
        .sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let sd = (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt();
    let z = (u - mean) / sd;
    (u, z, 2.0 * (1.0 - phi(z.abs())))
}

/// Standard normal CDF (Abramowitz-Stegun 26.2.17, error < 7.5e-8).
fn phi(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.231_641_9 * x);
    let poly = t
        * (0.319_381_530
            + t * (-0.356_563_782
                + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    1.0 - (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * poly
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let root = Root::with_default_kdf("bench-login-timing");
    // The cross-connection throttle would lock "alice" out after 20
    // attempts (and delay both samples alike): measured separately in
    // benches/guessing.rs.
    let cfg = root.path().join("crymap-like.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[throttle]\nenabled = false\n");
    std::fs::write(&cfg, text).unwrap();
    root.add_user("alice", "the-right-password");
    // Warm-up: page cache, binary, TLS context.
    for _ in 0..3 {
        one_login(&root, "alice", "wrong");
        one_login(&root, "nobody-here", "wrong");
    }
    let (mut unknown, mut known) = (Vec::new(), Vec::new());
    for i in 0..runs * 2 {
        // Interleaved so drift in machine load hits both samples alike.
        if i % 2 == 0 {
            unknown.push(one_login(&root, "nobody-here", "wrong").as_secs_f64() * 1000.0);
        } else {
            known.push(one_login(&root, "alice", "wrong").as_secs_f64() * 1000.0);
        }
    }
    let (mu, mk) = (median(&unknown), median(&known));
    let (u, z, p) = mann_whitney(&unknown, &known);
    println!(
        "LOGIN unknown user: median {mu:.2} ms ({} runs)",
        unknown.len()
    );
    println!(
        "LOGIN known user, wrong password: median {mk:.2} ms ({} runs)",
        known.len()
    );
    println!(
        "difference of medians: {:+.2}% ; Mann-Whitney U = {u:.0}, z = {z:.2}, p = {p:.3}",
        (mu - mk) / mk * 100.0
    );
}
