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
//! (`2 / median`). Also the CPU time (user + system, `getrusage`) of the
//! derivation in the fresh process: on a machine other people are
//! loading, wall time includes waiting for a core, CPU time does not, and
//! `benches/login-bench.sh` compares it with the CPU a whole login costs.

use std::process::Command;
use std::time::Instant;

use crymap_like::crypto::kdf::{derive, KdfParams};

fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(u) = getrusage(UsageWho::RUSAGE_SELF) else {
        return 0.0;
    };
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    s(u.user_time()) + s(u.system_time())
}

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
        let cpu = cpu_seconds();
        let wall = once();
        println!("{wall:.3} {:.3}", (cpu_seconds() - cpu) * 1000.0);
        return;
    }
    let runs: usize = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40)
        .clamp(3, 1000);
    let me = std::env::current_exe().expect("own path");
    let (fresh, fresh_cpu): (Vec<f64>, Vec<f64>) = (0..runs)
        .map(|_| {
            let out = Command::new(&me).arg("--one").output().expect("child");
            let text = String::from_utf8_lossy(&out.stdout);
            let mut v = text
                .split_whitespace()
                .map(|x| x.parse::<f64>().expect("child prints its times"));
            (v.next().expect("wall"), v.next().expect("cpu"))
        })
        .unzip();
    let steady: Vec<f64> = (0..runs).map(|_| once()).collect();
    let (fm, fmin) = summary(fresh);
    let (cm, cmin) = summary(fresh_cpu);
    let (sm, smin) = summary(steady);
    println!("argon2 crate, Argon2id 19 MiB t=2 p=1, {runs} runs");
    println!("  one derivation in a fresh process: median {fm:.2} ms, min {fmin:.2} ms");
    println!("  its CPU time (user + system):      median {cm:.2} ms, min {cmin:.2} ms");
    println!("  repeated in one process:           median {sm:.2} ms, min {smin:.2} ms");
    println!(
        "  login bound on {} cores: {:.0} logins/s (from the fresh-process median)",
        2,
        2000.0 / fm
    );
    println!(
        "  login bound on 2 cores from CPU time: {:.0} logins/s",
        2000.0 / cm
    );
}
