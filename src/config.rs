//! The system configuration file (`crymap-like.toml`): typed, validated,
//! with defaults. Never reads user data and never opens sockets; it only
//! says where things are and how strict to be.
//!
//! Every option and its default is also listed, commented, in
//! `crymap-like.toml.example` at the top of the repository; keep the two in
//! step.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default system root when `--root` is not given.
pub(crate) const DEFAULT_ROOT: &str = "/etc/crymap-like";
/// The configuration file's name inside the system root.
pub(crate) const CONFIG_FILE: &str = "crymap-like.toml";

/// The largest message the server accepts at all (the design's 64 MiB);
/// `limits.max_message_size` may only lower it. Must equal
/// `store::MAX_MESSAGE_SIZE`, the bound the store owns and enforces on its
/// own: `config` is a leaf and does not import the store, so a test in
/// `cli::serve` (where both meet) asserts the two agree.
pub(crate) const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file that was read.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("{path}: {message}")]
    Syntax {
        /// The file that was parsed.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// The file parsed but a value is out of range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file that was checked.
        path: PathBuf,
        /// What is wrong and what would be accepted.
        message: String,
    },
}

/// The whole system configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// TLS certificate and key.
    pub tls: TlsConfig,
    /// Privilege and isolation settings.
    pub security: SecurityConfig,
    /// Password hashing parameters for new accounts and password changes.
    pub kdf: KdfConfig,
    /// Key-pair naming.
    pub keys: KeysConfig,
    /// Addresses the built-in `listen` super-server accepts on.
    pub listen: ListenConfig,
    /// Protocol limits and timeouts.
    pub limits: LimitsConfig,
    /// The LMTP server (`serve lmtp`).
    pub lmtp: LmtpConfig,
    /// Failed logins counted across connections.
    pub throttle: ThrottleConfig,
}

/// `[throttle]`: failed logins counted per user name and per client
/// address across every connection, in `ROOT/login-throttle`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ThrottleConfig {
    /// Count and slow down guesses at all.
    pub enabled: bool,
    /// Attempts within the window answered without an added delay.
    pub free_failures: u32,
    /// Ceiling of the doubling delay (1 s, 2 s, 4 s, ...) after them.
    pub max_delay_secs: u64,
    /// Attempts within the window after which passwords are not checked
    /// at all (answered NO) until the window passes without one.
    pub lockout_failures: u32,
    /// Seconds without an attempt after which a count is forgotten.
    pub window_secs: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            enabled: true,
            free_failures: 5,
            max_delay_secs: 30,
            lockout_failures: 20,
            window_secs: 15 * 60,
        }
    }
}

/// The longest `lmtp.delivery_timeout_secs` accepted: a day. A delivery
/// child that has not reported by then is stuck, and a larger value would
/// overflow the deadline computed from it.
const MAX_DELIVERY_TIMEOUT_SECS: u64 = 86_400;

/// `[lmtp]`: the LMTP server's limits and name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LmtpConfig {
    /// Recipients accepted per transaction; further RCPTs get 452 4.5.3
    /// (RFC 5321 §4.5.3.1.8 asks for at least 100).
    pub max_recipients: usize,
    /// Seconds of client silence before the session is closed (421 4.4.2).
    pub idle_timeout_secs: u64,
    /// Seconds a recipient's delivery child may take, once told to commit,
    /// to report its copy durable; past them it is killed and that
    /// recipient answered 451 4.3.0 unless its copy is in the spool (the
    /// child runs as the recipient's uid, which can stop it).
    pub delivery_timeout_secs: u64,
    /// The name in the greeting and in `Received:`; the host name if unset.
    pub hostname: Option<String>,
}

impl Default for LmtpConfig {
    fn default() -> Self {
        LmtpConfig {
            max_recipients: 100,
            idle_timeout_secs: 300,
            delivery_timeout_secs: 120,
            hostname: None,
        }
    }
}

/// `[tls]`: the server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TlsConfig {
    /// PEM certificate chain, leaf first. Relative paths are relative to the
    /// system root.
    pub certificate: PathBuf,
    /// PEM private key. Relative paths are relative to the system root.
    pub private_key: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            certificate: PathBuf::from("tls/cert.pem"),
            private_key: PathBuf::from("tls/key.pem"),
        }
    }
}

/// `[security]`: how `serve` isolates itself before and after login.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SecurityConfig {
    /// Chroot into `users/` before reading anything from the network.
    pub chroot_system: bool,
    /// Drop to this UNIX user before reading anything from the network. In a
    /// black-box deployment every user directory is owned by this account
    /// and sessions keep running as it after login.
    pub system_user: Option<String>,
    /// Peers (IMAP proxies) whose forwarded client address, sent in `ID`
    /// as `x-originating-ip`/`x-originating-port` before login, is believed.
    /// From any other peer the fields are logged and ignored: a client
    /// could otherwise pick the address the logs and the login throttle
    /// blame.
    pub trusted_proxies: Vec<ProxyNet>,
}

/// One entry of `security.trusted_proxies`: an address (`192.0.2.7`,
/// `2001:db8::7`) or a network in CIDR form (`10.1.0.0/16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    /// Whether `ip` lies in this network. An IPv4-mapped IPv6 address is
    /// compared as the IPv4 address it carries.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` agree.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

impl TryFrom<String> for ProxyNet {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let bad = || format!("{text:?} is not an IP address or ADDRESS/PREFIX network");
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.as_str(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `[kdf]`: Argon2id parameters used when a password is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct KdfConfig {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub passes: u32,
    /// Degree of parallelism.
    pub lanes: u32,
    /// Accept parameters below the safe minimum (tests only).
    pub allow_weak: bool,
    /// Login refuses an account file asking for more memory than this
    /// (KiB): the file is user-owned and hashed by a root process.
    pub max_memory_kib: u32,
    /// Login refuses an account file asking for more passes than this.
    pub max_passes: u32,
    /// Login refuses an account file asking for more lanes than this.
    pub max_lanes: u32,
    /// Password derivations running at once across all sessions (logins,
    /// unknown users' decoys); 0 means one per CPU core.
    pub concurrent: u32,
}

impl Default for KdfConfig {
    fn default() -> Self {
        KdfConfig {
            memory_kib: 19 * 1024,
            passes: 2,
            lanes: 1,
            allow_weak: false,
            max_memory_kib: 64 * 1024,
            max_passes: 4,
            max_lanes: 4,
            concurrent: 0,
        }
    }
}

/// `[keys]`: how X25519 key pairs are named (and so how often they rotate).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct KeysConfig {
    /// strftime pattern naming the current key pair of a new account.
    pub name_pattern: String,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            name_pattern: "%Y-%m".to_owned(),
        }
    }
}

/// `[listen]`: socket addresses for `crymap-like listen`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ListenConfig {
    /// Addresses for IMAP with implicit TLS.
    pub imaps: Vec<String>,
    /// Addresses for cleartext IMAP with STARTTLS.
    pub imap: Vec<String>,
    /// Addresses for LMTP: `host:port`, or an absolute path for a UNIX
    /// socket. None by default: LMTP must not be exposed by accident.
    pub lmtp: Vec<String>,
    /// Most connections served at once; further ones wait in the backlog.
    pub max_sessions: usize,
    /// Most connections served at once from one client IP address; further
    /// ones are closed at once, so one client cannot take every session.
    pub max_sessions_per_address: usize,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            imaps: vec!["0.0.0.0:993".to_owned()],
            imap: vec!["0.0.0.0:143".to_owned()],
            lmtp: Vec::new(),
            max_sessions: 512,
            max_sessions_per_address: 10,
        }
    }
}

/// `[limits]`: bounds that protect the server from clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LimitsConfig {
    /// Largest message APPEND accepts, in bytes.
    pub max_message_size: usize,
    /// Seconds of client silence before an autologout (RFC 9051: at least 30
    /// minutes).
    pub idle_timeout_secs: u64,
    /// Milliseconds a failed login waits before it is answered.
    pub login_failure_delay_ms: u64,
    /// Failed logins after which the connection is closed.
    pub max_login_failures: u32,
    /// Seconds a connection may stay unauthenticated (TLS handshake
    /// included) before it is closed: until login the process is root.
    pub prelogin_timeout_secs: u64,
    /// Seconds one command may take to arrive, first byte to last (the idle
    /// timeout bounds each wait only, so a byte every few seconds would
    /// otherwise hold the process).
    pub command_timeout_secs: u64,
    /// Commands accepted before login; the next one closes the connection.
    pub max_prelogin_commands: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_size: MAX_MESSAGE_SIZE,
            idle_timeout_secs: 30 * 60,
            login_failure_delay_ms: 2000,
            max_login_failures: 3,
            prelogin_timeout_secs: 60,
            command_timeout_secs: 600,
            max_prelogin_commands: 50,
        }
    }
}

impl Config {
    /// Loads `ROOT/crymap-like.toml`; a missing file means all defaults.
    pub(crate) fn load(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Config::parse(&text, &path)
    }

    /// Parses and validates configuration text; `path` is for messages.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.limits.idle_timeout_secs == 0 {
            return Err("limits.idle_timeout_secs must be at least 1".to_owned());
        }
        if self.limits.max_message_size == 0 || self.limits.max_message_size > MAX_MESSAGE_SIZE {
            return Err(format!(
                "limits.max_message_size must be between 1 and {MAX_MESSAGE_SIZE} (64 MiB)"
            ));
        }
        if self.limits.prelogin_timeout_secs == 0
            || self.limits.command_timeout_secs == 0
            || self.limits.max_prelogin_commands == 0
        {
            return Err("limits.prelogin_timeout_secs, command_timeout_secs and \
                 max_prelogin_commands must be at least 1"
                .to_owned());
        }
        if self.limits.max_login_failures == 0 {
            return Err("limits.max_login_failures must be at least 1".to_owned());
        }
        if self.kdf.lanes == 0 || self.kdf.passes == 0 || self.kdf.memory_kib < 8 {
            return Err("kdf: lanes and passes must be >= 1, memory_kib >= 8".to_owned());
        }
        if self.kdf.memory_kib > self.kdf.max_memory_kib
            || self.kdf.passes > self.kdf.max_passes
            || self.kdf.lanes > self.kdf.max_lanes
        {
            return Err(
                "kdf: memory_kib, passes and lanes must not exceed max_memory_kib, \
                 max_passes and max_lanes (what login accepts)"
                    .to_owned(),
            );
        }
        if self.keys.name_pattern.is_empty()
            || self.keys.name_pattern.contains('/')
            || self.keys.name_pattern.starts_with('.')
        {
            return Err(
                "keys.name_pattern must be non-empty, contain no '/' and not start with '.'"
                    .to_owned(),
            );
        }
        if self.lmtp.max_recipients == 0
            || self.lmtp.idle_timeout_secs == 0
            || self.lmtp.delivery_timeout_secs == 0
        {
            return Err(
                "lmtp.max_recipients, lmtp.idle_timeout_secs and lmtp.delivery_timeout_secs \
                 must be at least 1"
                    .to_owned(),
            );
        }
        if self.lmtp.delivery_timeout_secs > MAX_DELIVERY_TIMEOUT_SECS {
            return Err(format!(
                "lmtp.delivery_timeout_secs must be at most {MAX_DELIVERY_TIMEOUT_SECS} (a day)"
            ));
        }
        if let Some(h) = &self.lmtp.hostname {
            if h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_[]:".contains(&b))
            {
                return Err("lmtp.hostname must be a host name".to_owned());
            }
        }
        if self.throttle.lockout_failures == 0 || self.throttle.window_secs == 0 {
            return Err(
                "throttle.lockout_failures and throttle.window_secs must be at least 1".to_owned(),
            );
        }
        if self.listen.max_sessions == 0 || self.listen.max_sessions_per_address == 0 {
            return Err(
                "listen.max_sessions and listen.max_sessions_per_address must be at least 1"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Resolves a path from the configuration against the system root.
    pub(crate) fn resolve(root: &Path, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            root.join(p)
        }
    }
}

/// Where the system lives: the root directory and its parsed configuration.
#[derive(Debug, Clone)]
pub(crate) struct System {
    /// The system root (`--root`).
    pub root: PathBuf,
    /// The parsed `crymap-like.toml`.
    pub config: Config,
}

impl System {
    /// Loads the configuration of the system rooted at `root`.
    pub(crate) fn load(root: &Path) -> Result<System, ConfigError> {
        Ok(System {
            root: root.to_owned(),
            config: Config::load(root)?,
        })
    }

    /// The directory holding one entry (directory or symlink) per user.
    pub(crate) fn users_dir(&self) -> PathBuf {
        self.root.join("users")
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", Path::new("x")).unwrap();
        assert_eq!(c.kdf.memory_kib, 19456);
        assert_eq!(c.limits.idle_timeout_secs, 1800);
        assert_eq!(c.listen.imaps, vec!["0.0.0.0:993"]);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = Config::parse("[tls]\ncert = \"a\"\n", Path::new("c.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("c.toml") && msg.contains("cert"), "{msg}");
    }

    #[test]
    fn a_delivery_timeout_past_a_day_is_invalid_not_an_overflow() {
        // u64::MAX once made every LMTP session panic computing its deadline.
        let text = format!("[lmtp]\ndelivery_timeout_secs = {}\n", u64::MAX);
        assert!(Config::parse(&text, Path::new("c")).is_err());
        let ok = Config::parse("[lmtp]\ndelivery_timeout_secs = 86400\n", Path::new("c"));
        assert!(ok.is_ok());
    }

    #[test]
    fn out_of_range_is_invalid() {
        let e = Config::parse("[limits]\nidle_timeout_secs = 0\n", Path::new("c")).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
    }

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let text = include_str!("../crymap-like.toml.example");
        let c = Config::parse(text, Path::new("example")).unwrap();
        let d = Config::default();
        assert_eq!(c.kdf.memory_kib, d.kdf.memory_kib);
        assert_eq!(c.limits.max_message_size, d.limits.max_message_size);
        assert_eq!(c.listen.imaps, d.listen.imaps);
        assert_eq!(c.keys.name_pattern, d.keys.name_pattern);
        assert_eq!(c.tls.certificate, d.tls.certificate);
        assert_eq!(c.security.trusted_proxies, d.security.trusted_proxies);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let c = Config::parse(
            "[security]\ntrusted_proxies = [\"192.0.2.7\", \"10.1.0.0/16\", \"2001:db8::/32\"]\n",
            Path::new("c"),
        )
        .unwrap();
        let nets = &c.security.trusted_proxies;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = |s: &str| nets.iter().any(|n| n.contains(ip(s)));
        assert!(trusted("192.0.2.7"));
        assert!(!trusted("192.0.2.8"));
        assert!(trusted("10.1.255.3"));
        assert!(!trusted("10.2.0.1"));
        assert!(trusted("::ffff:10.1.0.9"));
        assert!(trusted("2001:db8:ffff::1"));
        assert!(!trusted("2001:db9::1"));
        for bad in [
            "\"10.0.0.0/33\"",
            "\"proxy.example\"",
            "\"::/129\"",
            "\"1.2.3.4/\"",
        ] {
            let text = format!("[security]\ntrusted_proxies = [{bad}]\n");
            assert!(Config::parse(&text, Path::new("c")).is_err(), "{bad}");
        }
        let zero = ProxyNet::try_from("0.0.0.0/0".to_owned()).unwrap();
        assert!(zero.contains(ip("203.0.113.1")));
        assert!(!zero.contains(ip("::1")));
    }
}
