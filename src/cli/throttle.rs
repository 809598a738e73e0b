//! The failed-login policy shared by every `serve` process (issue 7): each
//! LOGIN counts against its user name and its client's IP address in one
//! root-owned file (`sys::throttle`); past `[throttle] free_failures` the
//! answer waits a doubling delay, past `lockout_failures` the password is
//! not even checked until `window_secs` pass without an attempt. Never
//! reads the file format itself and never sees a password.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::warn;

use crate::config::ThrottleConfig;
use crate::sys::throttle::CounterFile;

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

    /// Counts an attempt for `user` (and the client's address) before its
    /// password is checked, so parallel connections see each other's
    /// guesses at once, and says what to do with it.
    pub(super) fn attempt(&mut self, user: &str) -> Verdict {
        let mut keys = vec![Self::user_key(user)];
        if let Some(a) = self.address {
            keys.push(format!("a:{a}"));
        }
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let counts = match self
            .file
            .count_and_bump(&refs, now(), self.policy.window_secs)
        {
            Ok(c) => c,
            Err(e) => {
                warn!("login throttle: {e}");
                return Verdict::Check(Duration::ZERO);
            }
        };
        let worst = counts.into_iter().max().unwrap_or(0);
        self.verdict(worst)
    }

    fn verdict(&self, earlier: u32) -> Verdict {
        if earlier >= self.policy.lockout_failures {
            return Verdict::LockedOut;
        }
        let over = earlier.saturating_sub(self.policy.free_failures.saturating_sub(1));
        if earlier < self.policy.free_failures || over == 0 {
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
        if let Err(e) = self.file.reset(&Self::user_key(user)) {
            warn!("login throttle: {e}");
        }
        if let Some(a) = self.address {
            if let Err(e) = self.file.unbump(&format!("a:{a}")) {
                warn!("login throttle: {e}");
            }
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
        let d = |n: u32| t.verdict(n);
        assert_eq!(d(0), Verdict::Check(Duration::ZERO));
        assert_eq!(d(2), Verdict::Check(Duration::ZERO));
        assert_eq!(d(3), Verdict::Check(Duration::from_secs(1)));
        assert_eq!(d(4), Verdict::Check(Duration::from_secs(2)));
        assert_eq!(d(5), Verdict::Check(Duration::from_secs(4)));
        assert_eq!(d(6), Verdict::LockedOut);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
