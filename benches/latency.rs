//! Connection latency of the real binary: process start + TLS handshake to
//! the greeting, and LOGIN with the production Argon2id parameters
//! (19 MiB, 2 passes, 1 lane), over a socket pair as inetd would connect
//! it. Run with `cargo bench --bench latency`; figures go to
//! doc/benchmarks.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = v[v.len() / 2];
    let p90 = v[v.len() * 9 / 10];
    println!(
        "{name}: median {:.2} ms, p90 {:.2} ms, min {:.2} ms ({} runs)",
        ms(median),
        ms(p90),
        ms(v[0]),
        v.len()
    );
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let root = Root::with_default_kdf("bench-latency");
    root.add_user("bench", "bench-password");
    let mut greet = Vec::new();
    let mut login = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let (child, sock) = root.spawn_serve("imaps");
        let _g = Guard(child);
        let (mut c, g) = Client::imaps(sock);
        greet.push(t0.elapsed());
        assert!(g.starts_with("* OK"), "{g}");
        let t1 = Instant::now();
        let ok = c.login("bench", "bench-password");
        login.push(t1.elapsed());
        assert!(ok.starts_with("t1 OK"), "{ok}");
        c.cmd("LOGOUT");
    }
    summary("connect to greeting (process start + TLS)", greet);
    summary("LOGIN, default Argon2id (19 MiB, t=2, p=1)", login);
}
