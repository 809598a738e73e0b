//! The failed-login policy shared by every `serve` process (issue 7): each
//! LOGIN counts against its user name and its client's IP address in one
//! root-owned file (`sys::throttle`); past `[throttle] free_failures`
//! failed attempts the answer waits a doubling delay, past
//! `lockout_failures` attempts the password is not even checked until
//! `window_secs` pass without an attempt checked. A refused attempt counts
//! nothing (it checks no password): otherwise a locked-out address would
//! push every name it tried to the lock-out and keep its own alive for
//! as long as it kept trying. Never reads the file format itself and
//! never sees a password.
//!
//! An attempt is looked at twice. Before it waits for a derivation slot
//! ([`LoginThrottle::precheck`], nothing counted): refused at the lock-out,
//! or told how long to wait after failures. Once it holds the slot, right
//! before its password is checked ([`LoginThrottle::attempt`]): counted,
//! and refused if the count reached the lock-out, so a storm of parallel
//! guesses is locked out after `lockout_failures` checks. Counting only
//! from the slot on keeps attempts that merely queue for one out of the
//! count: fifty correct logins of one user (or from one NAT) at once used
//! to be fifty attempts in flight, past the lock-out (doc/scaling.md,
//! "Derivations in turn"). Only an attempt that *failed* delays later
//! ones: attempts still being checked are also counted under a `p:` key,
//! taken back when they finish, and subtracted for the delay; without
//! that, ten correct logins of one user at once (a client opening several
//! connections, imaptest's stress mode) delayed each other by up to
//! `max_delay_secs`, as if nine had failed.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::warn;

use crate::config::ThrottleConfig;
use crate::sys::throttle::{Change, CounterFile};

/// The file, under the system root.
pub(super) const FILE: &str = "login-throttle";

/// What to do with one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Check the password after waiting this long.
    Check(Duration),
    /// Do not check it: too many attempts lately.
    LockedOut,
}

/// One process's handle on the shared throttle.
#[derive(Debug)]
pub(super) struct LoginThrottle {
    file: CounterFile,
    policy: ThrottleConfig,
    address: Option<IpAddr>,
    /// Whether the attempt under way was counted (and so has `p:` keys
    /// to take back when it ends).
    counted: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl LoginThrottle {
    /// Opens `root/login-throttle`; must run before any chroot or uid drop
    /// (the descriptor is kept). `None` (logged) when throttling is off or
    /// the file cannot be opened: logins then go on with only the
    /// per-connection limits.
    pub(super) fn open(
        root: &Path,
        policy: &ThrottleConfig,
        address: Option<IpAddr>,
    ) -> Option<LoginThrottle> {
        if !policy.enabled {
            return None;
        }
        let path = root.join(FILE);
        match CounterFile::open(&path) {
            Ok(file) => Some(LoginThrottle {
                file,
                policy: policy.clone(),
                address,
                counted: false,
            }),
            Err(e) => {
                warn!(
                    "login throttle {} unavailable, not throttling across connections: {e}",
                    path.display()
                );
                None
            }
        }
    }

    fn user_key(user: &str) -> String {
        format!("u:{user}")
    }

    /// The key of a client address: an IPv4 address (also when it comes
    /// IPv4-mapped), or an IPv6 address's /64, the least a site or a
    /// subscriber is given, within which a client can pick any address.
    fn address_key(a: IpAddr) -> String {
        match a.to_canonical() {
            IpAddr::V4(v4) => format!("a:{v4}"),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("a:{net}/64")
            }
        }
    }

    /// The keys an attempt by `user` counts under.
    fn keys(&self, user: &str) -> Vec<String> {
        let mut keys = vec![Self::user_key(user)];
        if let Some(a) = self.address {
            keys.push(Self::address_key(a));
        }
        keys
    }

    /// The key counting the attempts under `key` still being checked.
    fn pending_key(key: &str) -> String {
        format!("p:{key}")
    }

    /// Says what to do with an attempt for `user` before it waits for a
    /// derivation slot, counting nothing: [`Verdict::LockedOut`] at the
    /// lock-out, else the delay its failures earned, to be waited before
    /// taking a slot (a wait inside one would hold every other login up).
    pub(super) fn precheck(&mut self, user: &str) -> Verdict {
        let keys = self.keys(user);
        let pending: Vec<String> = keys.iter().map(|k| Self::pending_key(k)).collect();
        let refs: Vec<&str> = keys.iter().chain(&pending).map(String::as_str).collect();
        match self.file.counts(&refs, now(), self.policy.window_secs) {
            Ok(counts) => {
                let (worst, failed) = Self::worst_and_failed(&counts, keys.len());
                self.verdict(worst, failed)
            }
            Err(e) => {
                warn!("login throttle: {e}");
                Verdict::Check(Duration::ZERO)
            }
        }
    }

    /// From the counts of the attempt keys followed by their `p:` keys:
    /// the highest attempt count, and the highest count of finished
    /// (failed) attempts.
    fn worst_and_failed(counts: &[u32], keys: usize) -> (u32, u32) {
        let (attempts, in_flight) = counts.split_at(keys.min(counts.len()));
        let worst = attempts.iter().copied().max().unwrap_or(0);
        // u32::MAX says "not stored", not a count: subtracted, it would
        // cancel the failures of a key that was.
        let failed = attempts
            .iter()
            .zip(in_flight)
            .map(|(a, p)| a.saturating_sub(if *p == u32::MAX { 0 } else { *p }))
            .max()
            .unwrap_or(0);
        (worst, failed)
    }

    /// Counts an attempt for `user` (and the client's address) right
    /// before its password is checked — with a derivation slot held, when
    /// there are slots — so parallel connections see each other's guesses
    /// at once, and says what to do with it: only [`Verdict::LockedOut`]
    /// matters here, the delay was [`LoginThrottle::precheck`]'s. The
    /// attempt must end with [`LoginThrottle::succeeded`] or
    /// [`LoginThrottle::failed`]; a [`Verdict::LockedOut`] one was not
    /// counted, and its `failed` changes nothing.
    pub(super) fn attempt(&mut self, user: &str) -> Verdict {
        self.counted = false;
        let keys = self.keys(user);
        let pending: Vec<String> = keys.iter().map(|k| Self::pending_key(k)).collect();
        let refs: Vec<&str> = keys.iter().chain(&pending).map(String::as_str).collect();
        // Names and addresses at the lock-out are kept in the table until
        // their window passes, whatever else arrives; an attempt under
        // one of them (the first `keys.len()` keys) is not counted.
        let counts = match self.file.count_and_bump(
            &refs,
            keys.len(),
            now(),
            self.policy.window_secs,
            self.policy.lockout_failures,
        ) {
            Ok(c) => c,
            Err(e) => {
                warn!("login throttle: {e}");
                return Verdict::Check(Duration::ZERO);
            }
        };
        if counts.contains(&u32::MAX) {
            warn!(
                "login throttle: the table is full of locked-out names and addresses; \
                 refusing attempts under keys it does not hold until a window passes"
            );
        }
        let (worst, failed) = Self::worst_and_failed(&counts, keys.len());
        let verdict = self.verdict(worst, failed);
        // The store counted the attempt exactly when no key was at the
        // lock-out (`keep` is `lockout_failures`) and all found a slot.
        self.counted = verdict != Verdict::LockedOut;
        verdict
    }

    /// What to do with an attempt when `earlier` attempts were counted in
    /// the window, `failed` of them finished and wrong: the lock-out
    /// counts every attempt, the delay only the failures.
    fn verdict(&self, earlier: u32, failed: u32) -> Verdict {
        if earlier >= self.policy.lockout_failures {
            return Verdict::LockedOut;
        }
        let over = failed.saturating_sub(self.policy.free_failures.saturating_sub(1));
        if failed < self.policy.free_failures || over == 0 {
            return Verdict::Check(Duration::ZERO);
        }
        let secs = 1u64
            .checked_shl(over.saturating_sub(1).min(32))
            .unwrap_or(u64::MAX)
            .min(self.policy.max_delay_secs);
        Verdict::Check(Duration::from_secs(secs))
    }

    /// A correct password: the user's count starts again, and this
    /// attempt no longer counts against the address. The address's earlier
    /// failures stay (one account of one's own must not wipe the guesses
    /// made at others), but successful logins never add up to a lock-out:
    /// a client that logs in often, a NAT, a webmail or a proxy in front
    /// would otherwise be locked out by its own users.
    pub(super) fn succeeded(&mut self, user: &str) {
        let counted = self.counted;
        let mut changes = self.finished(user);
        changes.push((Self::user_key(user), Change::Clear));
        if let (Some(a), true) = (self.address, counted) {
            changes.push((Self::address_key(a), Change::TakeBack));
        }
        self.apply(&changes);
    }

    /// A wrong password (or an unknown user): the attempt stays counted,
    /// now as a failure that delays the next ones.
    pub(super) fn failed(&mut self, user: &str) {
        let changes = self.finished(user);
        self.apply(&changes);
    }

    /// The changes that say the attempt is no longer being checked: none
    /// for one that was not counted (its `p:` keys may be another
    /// attempt's, still in flight).
    fn finished(&mut self, user: &str) -> Vec<(String, Change)> {
        if !std::mem::take(&mut self.counted) {
            return Vec::new();
        }
        self.keys(user)
            .iter()
            .map(|key| (Self::pending_key(key), Change::TakeBack))
            .collect()
    }

    /// Writes `changes` to the shared file in one locked update.
    fn apply(&mut self, changes: &[(String, Change)]) {
        if changes.is_empty() {
            return;
        }
        let refs: Vec<(&str, Change)> = changes.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        if let Err(e) = self.file.update(&refs) {
            warn!("login throttle: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_after_the_free_failures_then_locks_out() {
        let dir = std::env::temp_dir().join(format!("throttle-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = ThrottleConfig {
            enabled: true,
            free_failures: 3,
            max_delay_secs: 4,
            lockout_failures: 6,
            window_secs: 900,
        };
        let t = LoginThrottle::open(&dir, &policy, None).unwrap();
        let d = |n: u32| t.verdict(n, n);
        assert_eq!(d(0), Verdict::Check(Duration::ZERO));
        assert_eq!(d(2), Verdict::Check(Duration::ZERO));
        assert_eq!(d(3), Verdict::Check(Duration::from_secs(1)));
        assert_eq!(d(4), Verdict::Check(Duration::from_secs(2)));
        assert_eq!(d(5), Verdict::Check(Duration::from_secs(4)));
        assert_eq!(d(6), Verdict::LockedOut);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn policy(free: u32, lockout: u32) -> ThrottleConfig {
        ThrottleConfig {
            enabled: true,
            free_failures: free,
            max_delay_secs: 3600,
            lockout_failures: lockout,
            window_secs: 900,
        }
    }

    /// Found by imaptest's stress mode (10 clients logging in as one user
    /// again and again): attempts still being checked counted as failures,
    /// so the sixth of ten parallel correct logins waited 1 s and the
    /// tenth 16 s. Each handle is one `serve` process on the shared file.
    #[test]
    fn parallel_attempts_in_flight_do_not_delay_each_other() {
        let dir = std::env::temp_dir().join(format!("throttle-inflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 20);
        let addr: Option<IpAddr> = "127.0.0.1".parse().ok();
        let mut sessions: Vec<LoginThrottle> = (0..10)
            .map(|_| LoginThrottle::open(&dir, &policy, addr).unwrap())
            .collect();
        for t in &mut sessions {
            assert_eq!(t.attempt("demo"), Verdict::Check(Duration::ZERO));
        }
        for t in &mut sessions {
            t.succeeded("demo");
        }
        let mut next = LoginThrottle::open(&dir, &policy, addr).unwrap();
        assert_eq!(next.attempt("demo"), Verdict::Check(Duration::ZERO));
        next.succeeded("demo");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The end of an attempt is one update of several counters: a success
    /// clears its user's count and takes back only its own attempt from
    /// the address, whose earlier failure still delays the next login.
    #[test]
    fn a_success_clears_its_user_and_leaves_the_address_s_failures() {
        let dir = std::env::temp_dir().join(format!("throttle-success-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 20);
        let addr: Option<IpAddr> = "192.0.2.7".parse().ok();
        let open = |a| LoginThrottle::open(&dir, &policy, a).unwrap();
        let mut a = open(addr);
        assert_eq!(a.attempt("u"), Verdict::Check(Duration::ZERO));
        a.failed("u");
        let mut b = open(addr);
        assert_eq!(b.attempt("u"), Verdict::Check(Duration::from_secs(1)));
        b.succeeded("u");
        // The user's failure is gone: from nowhere in particular, no delay.
        let mut c = open(None);
        assert_eq!(c.attempt("u"), Verdict::Check(Duration::ZERO));
        c.succeeded("u");
        // The address keeps the one failure, not b's success.
        let mut d = open(addr);
        assert_eq!(d.attempt("w"), Verdict::Check(Duration::from_secs(1)));
        d.failed("w");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Locks `user` out (from `addr`), then sends 2 × SLOTS attempts with
    /// junk names from addresses elsewhere: before, about 256 of them
    /// (four keys each) evicted the locked-out name from the table and its
    /// next guess was checked again.
    #[test]
    fn junk_names_cannot_evict_a_locked_out_name() {
        let dir = std::env::temp_dir().join(format!("throttle-evict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 3);
        let addr: Option<IpAddr> = "192.0.2.1".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, addr).unwrap();
        for _ in 0..3 {
            t.attempt("victim");
            t.failed("victim");
        }
        assert_eq!(t.attempt("victim"), Verdict::LockedOut);
        t.failed("victim");
        for i in 0..(2 * crate::sys::throttle::SLOTS) {
            let from: Option<IpAddr> = format!("198.51.{}.{}", i / 256, i % 256).parse().ok();
            let mut junk = LoginThrottle::open(&dir, &policy, from).unwrap();
            junk.attempt(&format!("junk{i}"));
            junk.failed(&format!("junk{i}"));
        }
        let other: Option<IpAddr> = "203.0.113.9".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, other).unwrap();
        assert_eq!(t.attempt("victim"), Verdict::LockedOut);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every slot but one held a locked-out name: the four keys of an
    /// attempt at "victim" from a fresh address then evicted each other
    /// and all read 0, so its password was checked at every attempt,
    /// undelayed. Now the attempt is refused whole.
    #[test]
    fn an_attempt_whose_keys_do_not_all_fit_is_locked_out() {
        let dir = std::env::temp_dir().join(format!("throttle-fit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 3);
        // Names locked out from no address (a UNIX socket): one slot each
        // (their p: twins are back at 0 and make way for the next name).
        for i in 0..(crate::sys::throttle::SLOTS - 1) {
            let mut t = LoginThrottle::open(&dir, &policy, None).unwrap();
            for _ in 0..3 {
                t.attempt(&format!("junk{i}"));
                t.failed(&format!("junk{i}"));
            }
        }
        let from: Option<IpAddr> = "203.0.113.5".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, from).unwrap();
        let mut checked = 0;
        for _ in 0..10 {
            if let Verdict::Check(_) = t.attempt("victim") {
                checked += 1;
            }
            t.failed("victim");
        }
        assert!(checked <= 3, "{checked} of 10 attempts checked");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A locked-out address's further attempts are refused and count
    /// nothing: before, each one counted against the name it tried, so
    /// one address could lock out every name it liked, for as long as it
    /// liked.
    #[test]
    fn a_locked_out_address_cannot_lock_out_other_names() {
        let dir = std::env::temp_dir().join(format!("throttle-pushing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 3);
        let bad: Option<IpAddr> = "192.0.2.66".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, bad).unwrap();
        for i in 0..3 {
            assert!(matches!(t.attempt(&format!("x{i}")), Verdict::Check(_)));
            t.failed(&format!("x{i}"));
        }
        for _ in 0..10 {
            assert_eq!(t.attempt("victim"), Verdict::LockedOut);
            t.failed("victim");
        }
        let good: Option<IpAddr> = "198.51.100.8".parse().ok();
        let mut u = LoginThrottle::open(&dir, &policy, good).unwrap();
        assert_eq!(u.attempt("victim"), Verdict::Check(Duration::ZERO));
        u.succeeded("victim");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// An IPv6 client holds a whole /64 (and can rotate within it): its
    /// attempts count per /64. Before, each address was its own key, so
    /// rotating addresses was never locked out. An IPv4-mapped address
    /// counts as the IPv4 address.
    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let dir = std::env::temp_dir().join(format!("throttle-v6-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 3);
        for i in 0..3 {
            let a: Option<IpAddr> = format!("2001:db8:1:2::{i:x}").parse().ok();
            let mut t = LoginThrottle::open(&dir, &policy, a).unwrap();
            t.attempt(&format!("name{i}"));
            t.failed(&format!("name{i}"));
        }
        let same64: Option<IpAddr> = "2001:db8:1:2:ffff:1:2:3".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, same64).unwrap();
        assert_eq!(t.attempt("fresh"), Verdict::LockedOut);
        let next64: Option<IpAddr> = "2001:db8:1:3::1".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, next64).unwrap();
        assert_eq!(t.attempt("fresh2"), Verdict::Check(Duration::ZERO));
        for i in 0..3 {
            let a: Option<IpAddr> = "192.0.2.7".parse().ok();
            let mut t = LoginThrottle::open(&dir, &policy, a).unwrap();
            t.attempt(&format!("v4-{i}"));
            t.failed(&format!("v4-{i}"));
        }
        let mapped: Option<IpAddr> = "::ffff:192.0.2.7".parse().ok();
        let mut t = LoginThrottle::open(&dir, &policy, mapped).unwrap();
        assert_eq!(t.attempt("v4-fresh"), Verdict::LockedOut);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn finished_failures_delay_and_attempts_in_flight_count_for_the_lockout() {
        let dir = std::env::temp_dir().join(format!("throttle-failed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = policy(1, 4);
        let open = || LoginThrottle::open(&dir, &policy, None).unwrap();
        // One wrong password, finished: the next attempt waits.
        let mut a = open();
        assert_eq!(a.attempt("u"), Verdict::Check(Duration::ZERO));
        a.failed("u");
        let mut b = open();
        assert_eq!(b.attempt("u"), Verdict::Check(Duration::from_secs(1)));
        // Two more in flight with b: four attempts in the window, so a
        // fifth is not checked at all, whatever the others turn out to be.
        let mut c = open();
        assert_eq!(c.attempt("u"), Verdict::Check(Duration::from_secs(1)));
        let mut d = open();
        assert_eq!(d.attempt("u"), Verdict::Check(Duration::from_secs(1)));
        let mut e = open();
        assert_eq!(e.attempt("u"), Verdict::LockedOut);
        e.failed("u");
        for t in [&mut b, &mut c, &mut d] {
            t.failed("u");
        }
        let mut f = open();
        assert_eq!(f.attempt("u"), Verdict::LockedOut);
        f.failed("u");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
