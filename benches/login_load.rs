//! The login load client of `benches/login-bench.sh` (issue 12): N threads,
//! each in a loop until the time is up: TCP connect to 127.0.0.1:PORT, TLS
//! (implicit, no certificate check, no session resumption), read the
//! greeting, `LOGIN`, `SELECT INBOX`, `LOGOUT`, close. It replaces a Python
//! client that spent more CPU per login than the server it measured, on the
//! same two cores: this one spends well under a millisecond, so the rate it
//! reports is the servers'.
//!
//! Besides the rate and latency it reports CPU time per completed login:
//! its own (`getrusage(RUSAGE_SELF)`), and with `--tree PID` the server's —
//! user + system time of PID and every process under it, including the
//! children they reaped (`/proc/*/stat`, fields 14–17), before and after.
//! CPU per login is what the KDF bound is about, and unlike wall time it
//! means something on a machine other people are loading.
//!
//!   cargo bench --bench login_load -- --port P --user U --password PW
//!       [--clients 10] [--seconds 20] [--tree PID] [--name NAME] [--no-login]
//!
//! `--no-login` sends only LOGOUT after the greeting: the cost of a
//! connection (process start, TLS, exit) without the login's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslSessionCacheMode, SslVerifyMode};

struct Args {
    port: u16,
    user: String,
    password: String,
    clients: usize,
    seconds: f64,
    tree: Option<u32>,
    name: String,
    /// Only greeting and LOGOUT: what a connection costs without a login.
    no_login: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: login_load --port P --user U --password PW [--clients N] [--seconds S] \
         [--tree PID] [--name NAME] [--no-login]"
    );
    std::process::exit(64)
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 0,
        user: String::new(),
        password: String::new(),
        clients: 10,
        seconds: 20.0,
        tree: None,
        name: "server".to_owned(),
        no_login: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--bench" {
            continue;
        }
        if k == "--no-login" {
            a.no_login = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--port" => a.port = v.parse().unwrap_or_else(|_| usage()),
            "--user" => a.user = v,
            "--password" => a.password = v,
            "--clients" => a.clients = v.parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = v.parse().unwrap_or_else(|_| usage()),
            "--tree" => a.tree = Some(v.parse().unwrap_or_else(|_| usage())),
            "--name" => a.name = v,
            _ => usage(),
        }
    }
    if a.port == 0 || a.user.is_empty() || !(1..=500).contains(&a.clients) {
        usage();
    }
    a
}

/// User + system seconds of `pid` and all its descendants, counting the
/// children each of them has reaped.
fn tree_cpu(pid: u32) -> f64 {
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut stats: HashMap<u32, (u32, u64)> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for e in dir.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The command name may hold spaces; fields resume after its ')'.
        let Some(rest) = text.rfind(')').map(|i| &text[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split(' ').collect();
        // rest[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
        let num = |i: usize| {
            f.get(i - 3)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let cpu = num(14) + num(15) + num(16) + num(17);
        stats.insert(p, (num(4) as u32, cpu));
    }
    let mut total = 0u64;
    for (&p, &(_, cpu)) in &stats {
        let mut q = p;
        // Walk up to pid (or to init); bounded against a cycle in a racy read.
        for _ in 0..64 {
            if q == pid {
                total += cpu;
                break;
            }
            match stats.get(&q) {
                Some(&(pp, _)) if pp != 0 && pp != q => q = pp,
                _ => break,
            }
        }
    }
    total as f64 / tick
}

fn self_cpu() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(u) = getrusage(UsageWho::RUSAGE_SELF) else {
        return 0.0;
    };
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    s(u.user_time()) + s(u.system_time())
}

/// One login: Ok(()) when every command was answered OK.
fn login_once(
    connector: &SslConnector,
    addr: SocketAddr,
    login: Option<&[u8]>,
) -> Result<(), String> {
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let cfg = connector
        .configure()
        .map_err(|e| e.to_string())?
        .verify_hostname(false)
        .use_server_name_indication(false);
    let tls = cfg.connect("localhost", tcp).map_err(|e| e.to_string())?;
    let mut r = BufReader::with_capacity(16 * 1024, tls);
    let mut line = Vec::with_capacity(256);
    r.read_until(b'\n', &mut line).map_err(|e| e.to_string())?;
    if !line.starts_with(b"* OK") {
        return Err(format!("greeting {:?}", String::from_utf8_lossy(&line)));
    }
    let commands: &[(&[u8], &[u8])] = match login {
        Some(login) => &[
            (b"a", login),
            (b"b", b"SELECT INBOX\r\n"),
            (b"c", b"LOGOUT\r\n"),
        ],
        None => &[(b"c", b"LOGOUT\r\n")],
    };
    for &(tag, cmd) in commands {
        let mut out = Vec::with_capacity(cmd.len() + 2);
        out.extend_from_slice(tag);
        out.push(b' ');
        out.extend_from_slice(cmd);
        r.get_mut().write_all(&out).map_err(|e| e.to_string())?;
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed".to_owned());
            }
            if line.starts_with(tag) && line.get(tag.len()) == Some(&b' ') {
                if !line[tag.len() + 1..].starts_with(b"OK") {
                    return Err(String::from_utf8_lossy(&line).into_owned());
                }
                break;
            }
        }
    }
    // The server closes after LOGOUT; a close_notify is not waited for.
    Ok(())
}

fn main() {
    let a = parse_args();
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("TLS connector");
    b.set_verify(SslVerifyMode::NONE);
    // Every login is a full handshake, as each one is with a fresh server
    // process (and as the Python client did).
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    let connector = Arc::new(b.build());
    let addr: SocketAddr = ([127, 0, 0, 1], a.port).into();
    let login = Arc::new(format!("LOGIN \"{}\" \"{}\"\r\n", a.user, a.password).into_bytes());
    let server0 = a.tree.map(tree_cpu);
    let client0 = self_cpu();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.seconds);
    let no_login = a.no_login;
    let threads: Vec<_> = (0..a.clients)
        .map(|_| {
            let (connector, login) = (connector.clone(), login.clone());
            std::thread::spawn(move || {
                let (mut lat, mut failed, mut last_err) = (Vec::new(), 0usize, None);
                while Instant::now() < end {
                    let t = Instant::now();
                    let login = (!no_login).then_some(&login[..]);
                    match login_once(&connector, addr, login) {
                        Ok(()) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => {
                            failed += 1;
                            last_err = Some(e);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
                (lat, failed, last_err)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut failed = 0;
    let mut last_err = None;
    for t in threads {
        let (l, f, e) = t.join().expect("client thread");
        lat.extend(l);
        failed += f;
        last_err = last_err.or(e);
    }
    let wall = start.elapsed().as_secs_f64();
    let client = self_cpu() - client0;
    // Sessions still exiting are reaped within a moment; their CPU counts.
    std::thread::sleep(Duration::from_millis(300));
    let server = a.tree.zip(server0).map(|(p, s0)| tree_cpu(p) - s0);
    lat.sort_by(f64::total_cmp);
    let done = lat.len();
    let median = lat.get(done / 2).copied().unwrap_or(f64::NAN);
    let per = |s: f64| {
        if done > 0 {
            s * 1000.0 / done as f64
        } else {
            f64::NAN
        }
    };
    print!(
        "{:<17} {:6} logins in {:.0} s = {:6.1}/s, median {:.1} ms, {} failed; CPU per login: client {:.2} ms",
        a.name,
        done,
        wall,
        done as f64 / wall,
        median,
        failed,
        per(client)
    );
    match server {
        Some(s) => println!(", server {:.2} ms", per(s)),
        None => println!(),
    }
    if let Some(e) = last_err {
        println!("  last failure: {e}");
    }
}
