//! How many passwords can 100 parallel connections try per minute (issue
//! 7, finding 7)? 100 client threads each connect to a fresh `serve imaps`
//! over a socket pair (no network at all), send wrong passwords for one
//! user until the server closes, and reconnect, for `BENCH_SECS` (30 s by
//! default), with the production settings: Argon2id 19 MiB, 2 s delay per
//! failure, 3 failures per connection, and the default `[throttle]`.
//! Counts the passwords actually checked ("Authentication failed") and
//! those refused unchecked ("try again later"); figures go to
//! doc/benchmarks.md. Run with `cargo bench --bench guessing`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let parallel: usize = std::env::var("BENCH_PARALLEL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let root = Root::with_default_kdf("bench-guessing");
    let cfg = root.path().join("crymap-like.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "login_failure_delay_ms = 50",
        "login_failure_delay_ms = 2000",
    );
    std::fs::write(&cfg, text).unwrap();
    root.add_user("alice", "the-right-password");
    let root = Arc::new(root);
    let checked = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let threads: Vec<_> = (0..parallel)
        .map(|t| {
            let (root, checked, refused) = (root.clone(), checked.clone(), refused.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while Instant::now() < end {
                    let (child, sock) = root.spawn_serve("imaps");
                    let _g = Guard(child);
                    let (mut c, _) = Client::imaps(sock);
                    while Instant::now() < end {
                        n += 1;
                        let Ok(r) = c.try_login("alice", &format!("guess-{t}-{n}")) else {
                            break;
                        };
                        let text = r.last().map(|r| r.text.clone()).unwrap_or_default();
                        if text.contains("try again later") {
                            refused.fetch_add(1, Ordering::Relaxed);
                        } else if text.contains("Authentication failed") {
                            checked.fetch_add(1, Ordering::Relaxed);
                        }
                        if r.iter().any(|r| r.text.contains("BYE")) {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let c = checked.load(Ordering::Relaxed);
    let r = refused.load(Ordering::Relaxed);
    println!(
        "{parallel} parallel connections for {elapsed:.1} s: {c} passwords checked \
         ({:.1} per minute), {r} attempts refused unchecked",
        c as f64 * 60.0 / elapsed
    );
}
