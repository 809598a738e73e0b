//! `crymap-like serve imaps|imap`: one IMAP session on stdin/stdout (inetd)
//! or on the connected socket systemd passes (`LISTEN_FDS`, `Accept=yes`).
//!
//! Owns the start-up order the design fixes: configuration and TLS material
//! first, then the optional system chroot and system user, only then the
//! network; and after a successful login, chroot into the user directory and
//! become its owner. Any failing step ends the session; the process never
//! serves a logged-in user as root.

use std::path::PathBuf;
use std::time::Duration;

use log::{error, info, warn};

use super::throttle::{LoginThrottle, Verdict};
use super::{exit, Global, ServeCommand};
use crate::config::{Config, System};
use crate::imap::session::{self, LoggedIn, Login, LoginError, SessionConfig};
use crate::store::credentials::{PasswordCost, UnlockedAccount};
use crate::store::error::StoreError;
use crate::store::user_file::{UserFile, USER_FILE};
use crate::sys;
use crate::sys::kdf_slots::KdfSlots;
use crate::sys::privilege::{UserDir, UserDirError};

/// Which flavour of IMAP to speak on the connection.
type Mode = ServeCommand;

pub(super) fn run(global: &Global, mode: Mode) -> i32 {
    match start(global) {
        Ok(system) => serve(mode, &system),
        Err(code) => code,
    }
}

fn serve(mode: Mode, system: &System) -> i32 {
    let config = &system.config;
    let acceptor = match super::tls::acceptor(
        &Config::resolve(&system.root, &config.tls.certificate),
        &Config::resolve(&system.root, &config.tls.private_key),
    ) {
        Ok(a) => a,
        Err(e) => {
            error!("TLS: {e}");
            return exit::CONFIG;
        }
    };

    // A socket passed by systemd (Accept=yes) is the connection; otherwise
    // stdin/stdout are (inetd, xinetd, `listen`). Taken before any chroot:
    // detaching stdio opens /dev/null.
    let mut conn = match sys::activation::connection_from_environment() {
        Ok(c) => c,
        Err(e) => {
            error!("taking the connection: {e}");
            return exit::OSERR;
        }
    };
    // The shared failed-login counts live under the system root, which a
    // chroot into users/ or a drop to system_user would put out of reach:
    // opened now, the descriptor is kept (and closed at login).
    let address = match conn.peer() {
        Ok(sys::peer::Peer::Loopback(a) | sys::peer::Peer::Remote(a)) => Some(a.ip()),
        _ => None,
    };
    let throttle = LoginThrottle::open(&system.root, &config.throttle, address);
    let kdf_slots = open_kdf_slots(&system.root, config.kdf.concurrent);
    // Everything that needs the system's files or the user database is
    // looked up now, before the process shuts itself in.
    let users_dir = match shut_in(system) {
        Ok(dir) => dir,
        Err(code) => return code,
    };

    if let Err(e) = conn.make_blocking() {
        error!("connection: {e}");
        return exit::OSERR;
    }
    conn.set_nodelay();
    // Every read and write is bounded by the idle timeout, not only the wait
    // between commands: a client that stalls inside a literal or an
    // AUTHENTICATE exchange would otherwise hold the (still root) process.
    let idle = Duration::from_secs(config.limits.idle_timeout_secs);
    conn.set_read_timeout(Some(idle));
    conn.set_write_timeout(idle);
    let direct = match conn.peer() {
        Ok(p) => p,
        Err(e) => {
            warn!("peer address: {e}");
            sys::peer::Peer::NotASocket
        }
    };
    let peer_is_local = direct.is_local();
    // Only a configured proxy may tell us who its client is; the decision
    // is made here, on the socket's own peer, once.
    let proxy_trusted = match direct {
        sys::peer::Peer::Loopback(a) | sys::peer::Peer::Remote(a) => config
            .security
            .trusted_proxies
            .iter()
            .any(|net| net.contains(a.ip())),
        sys::peer::Peer::Unix | sys::peer::Peer::NotASocket => false,
    };
    let peer = sys::peer::ClientAddr::new(direct, proxy_trusted);
    info!(
        "connection from {peer} ({}{})",
        mode_name(mode),
        if proxy_trusted { ", trusted proxy" } else { "" }
    );

    let login = SystemLogin::new(users_dir, config, throttle, kdf_slots);
    let session_config = SessionConfig {
        implicit_tls: mode == Mode::Imaps,
        cleartext_login_allowed: peer_is_local,
        peer,
        idle_timeout: Duration::from_secs(config.limits.idle_timeout_secs),
        login_failure_delay: Duration::from_millis(config.limits.login_failure_delay_ms),
        max_login_failures: config.limits.max_login_failures,
        max_message_size: config.limits.max_message_size,
        prelogin_timeout: Duration::from_secs(config.limits.prelogin_timeout_secs),
        command_timeout: Duration::from_secs(config.limits.command_timeout_secs),
        max_prelogin_commands: config.limits.max_prelogin_commands,
    };
    match session::run(conn, acceptor, session_config, login) {
        Ok(()) => exit::OK,
        Err(e) => {
            warn!("session ended: {e}");
            exit::IOERR
        }
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Imaps => "imaps",
        Mode::Imap => "imap",
        Mode::Lmtp => "lmtp",
    }
}

/// The cost the configuration asks for when a password is set.
pub(super) fn password_cost(config: &Config) -> PasswordCost {
    PasswordCost {
        memory_kib: config.kdf.memory_kib,
        passes: config.kdf.passes,
        lanes: config.kdf.lanes,
        allow_weak: config.kdf.allow_weak,
    }
}

/// Checks a login name before it is used as a path component.
pub(super) fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+'))
}

/// The most an account file may ask of a login (`[kdf] max_*`).
#[derive(Debug, Clone, Copy)]
struct KdfPolicy {
    max_memory_kib: u32,
    max_passes: u32,
    max_lanes: u32,
}

impl KdfPolicy {
    fn from_config(config: &Config) -> KdfPolicy {
        KdfPolicy {
            max_memory_kib: config.kdf.max_memory_kib,
            max_passes: config.kdf.max_passes,
            max_lanes: config.kdf.max_lanes,
        }
    }

    fn allows(&self, memory_kib: u32, passes: u32, lanes: u32) -> bool {
        memory_kib <= self.max_memory_kib && passes <= self.max_passes && lanes <= self.max_lanes
    }
}

/// Authenticates against `users/NAME/user.toml` and then isolates the
/// process in that user's directory.
///
/// The directory belongs to the user, the process is root: the directory
/// is opened once (no link followed at its last component), `user.toml`
/// is read through that descriptor (no link, regular file, the
/// directory's owner's, at most [`UserFile::MAX_SIZE`] bytes), its Argon2
/// cost is checked against the system's policy before any hashing, and the
/// chroot is made on the same descriptor. Argon2 runs in this (root)
/// process, bounded by that policy; see doc/cryptography.md for why not in
/// a child dropped to the owner's uid.
struct SystemLogin {
    users_dir: PathBuf,
    cost: PasswordCost,
    policy: KdfPolicy,
    /// Hashed for unknown users, at the cost a new account gets.
    decoy: UserFile,
    /// Attempts counted across connections; dropped (closed) at login.
    throttle: Option<LoginThrottle>,
    /// Bounds derivations running at once across sessions; dropped
    /// (closed) at login like the throttle.
    kdf_slots: Option<KdfSlots>,
}

/// Opens `root/kdf-slots` before the process shuts itself in (the
/// descriptor is kept). `None` (logged) when it cannot be opened: logins
/// then derive without waiting for a slot.
fn open_kdf_slots(root: &std::path::Path, concurrent: u32) -> Option<KdfSlots> {
    let slots = match concurrent {
        0 => std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(sys::kdf_slots::MAX_SLOTS))
            .unwrap_or(1),
        n => n,
    };
    let path = root.join("kdf-slots");
    match KdfSlots::open(&path, slots) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(
                "{}: {e}; password derivations are not bounded across sessions",
                path.display()
            );
            None
        }
    }
}

impl SystemLogin {
    fn new(
        users_dir: PathBuf,
        config: &Config,
        throttle: Option<LoginThrottle>,
        kdf_slots: Option<KdfSlots>,
    ) -> SystemLogin {
        let cost = password_cost(config);
        SystemLogin {
            users_dir,
            decoy: UserFile::decoy(&cost.kdf_params()),
            cost,
            policy: KdfPolicy::from_config(config),
            throttle,
            kdf_slots,
        }
    }

    /// An unknown user costs the same Argon2 run as a wrong password, and
    /// counts as the same attempt.
    fn unknown(&mut self, user: &str, password: &[u8]) -> LoginError {
        let _slot = match take_turn(self.kdf_slots.as_ref(), self.throttle.as_mut(), user) {
            Ok(slot) => slot,
            Err(e) => return e,
        };
        let _ = self.decoy.unlock(password);
        LoginError::BadCredentials
    }
}

/// Right before a password is checked: waits for a derivation slot, then
/// counts the attempt with the throttle, which may still refuse it
/// (`LoginThrottle::attempt`; counted only now, so that attempts queued
/// for a slot are not "in flight" for the lock-out). The slot is `None`
/// when there is no slot file or taking one failed (logged: the
/// derivation then goes on unbounded rather than refusing the login).
fn take_turn<'a>(
    slots: Option<&'a KdfSlots>,
    throttle: Option<&mut LoginThrottle>,
    user: &str,
) -> Result<Option<sys::kdf_slots::Slot<'a>>, LoginError> {
    let slot = match slots.map(KdfSlots::acquire) {
        None => None,
        Some(Ok(slot)) => Some(slot),
        Some(Err(e)) => {
            warn!("kdf-slots: {e}; deriving without a slot");
            None
        }
    };
    crate::store::crash::point("login.kdf-slot-held");
    match throttle.map(|t| t.attempt(user)) {
        Some(Verdict::LockedOut) => Err(LoginError::Throttled),
        _ => Ok(slot),
    }
}

impl Login for SystemLogin {
    fn login(&mut self, user: &str, password: &[u8]) -> Result<LoggedIn, LoginError> {
        // Refused or delayed before queueing for a derivation slot;
        // counted once it holds one (`take_turn`).
        if let Some(t) = self.throttle.as_mut() {
            match t.precheck(user) {
                Verdict::LockedOut => return Err(LoginError::Throttled),
                Verdict::Check(delay) => std::thread::sleep(delay),
            }
        }
        let result = self.check(user, password);
        // A success has already told the throttle (and dropped it).
        if let (Err(_), Some(t)) = (&result, self.throttle.as_mut()) {
            t.failed(user);
        }
        result
    }
}

impl SystemLogin {
    fn check(&mut self, user: &str, password: &[u8]) -> Result<LoggedIn, LoginError> {
        if !valid_user_name(user) {
            return Err(self.unknown(user, password));
        }
        let entry = self.users_dir.join(user);
        // `users/` is root's: a link there was placed by the administrator
        // and is resolved once, here. What it leads to is then opened
        // without following a link.
        let path = match std::fs::canonicalize(&entry) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.unknown(user, password))
            }
            Err(e) => return Err(LoginError::Unavailable(format!("{}: {e}", entry.display()))),
        };
        let dir = match UserDir::open(&path) {
            Ok(d) => d,
            Err(UserDirError::NotFound(_)) => return Err(self.unknown(user, password)),
            Err(e) => return Err(LoginError::Unavailable(e.to_string())),
        };
        let bytes = match dir.read_owned_file(USER_FILE, UserFile::MAX_SIZE) {
            Ok(b) => b,
            Err(UserDirError::NotFound(_)) => return Err(self.unknown(user, password)),
            Err(e) => return Err(LoginError::Unavailable(e.to_string())),
        };
        let file = UserFile::from_bytes(path.join(USER_FILE), &bytes)
            .map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let params = file.kdf_params();
        if !self
            .policy
            .allows(params.memory_kib, params.passes, params.lanes)
        {
            return Err(LoginError::Unavailable(format!(
                "{}: Argon2 cost (memory_kib {}, passes {}, lanes {}) is above the system's \
                 policy (kdf.max_memory_kib {}, max_passes {}, max_lanes {})",
                path.join(USER_FILE).display(),
                params.memory_kib,
                params.passes,
                params.lanes,
                self.policy.max_memory_kib,
                self.policy.max_passes,
                self.policy.max_lanes
            )));
        }
        let slot = take_turn(self.kdf_slots.as_ref(), self.throttle.as_mut(), user)?;
        let unlocked = UnlockedAccount::unlock(&file, password, self.cost);
        drop(slot);
        let account = unlocked.map_err(|e| match e {
            StoreError::WrongPassword => LoginError::BadCredentials,
            other => LoginError::Unavailable(other.to_string()),
        })?;
        // Root's slot file must not reach the user either.
        self.kdf_slots = None;
        // The throttle's descriptor (root's file) must not reach the user.
        if let Some(mut t) = self.throttle.take() {
            t.succeeded(user);
        }
        let root = isolate(&dir).map_err(LoginError::Fatal)?;
        crate::store::credentials::note_login(&root);
        Ok(LoggedIn {
            account,
            dir: root,
            name: user.to_owned(),
        })
    }
}

/// Shuts the process into the opened directory and becomes its owner;
/// returns the path of the user directory as the process now sees it.
fn isolate(dir: &UserDir) -> Result<PathBuf, String> {
    let path = dir.path();
    if !sys::privilege::is_root() {
        warn!(
            "not running as root: serving {} without chroot, as uid {}",
            path.display(),
            nix::unistd::geteuid()
        );
        return Ok(path.to_owned());
    }
    let (uid, gid) = dir.owner();
    if uid.is_root() {
        return Err(format!(
            "{} is owned by root; refusing to serve a user as root",
            path.display()
        ));
    }
    let root = dir
        .isolate()
        .map_err(|e| format!("isolating in {}: {e}", path.display()))?;
    info!("isolated in {} as uid {uid} gid {gid}", path.display());
    // The kernel sandbox, last: Landlock to the directory, then the
    // seccomp allow-list (doc/cryptography.md, "Kernel sandbox").
    match sys::sandbox::confine() {
        Ok(sys::sandbox::LandlockState::Unsupported) => {
            if sys::sandbox::first_report() {
                info!("this kernel has no Landlock: file access is confined by the chroot alone");
            }
        }
        Ok(_) => {}
        Err(e) => return Err(format!("sandboxing the session: {e}")),
    }
    Ok(root)
}

/// What every serving process (`serve`, `serve lmtp`) does first: close
/// whatever descriptors the launcher leaked (before anything opens one of
/// its own, so none survives the chroot), start logging, forbid core dumps
/// (before any secret is in memory), and load the system configuration.
/// `Err` is the exit code, the reason already logged.
pub(super) fn start(global: &Global) -> Result<System, i32> {
    let closed = sys::fds::close_inherited();
    super::init_logging(global);
    match closed {
        Ok(fds) if !fds.is_empty() => info!("closed inherited descriptors {fds:?}"),
        Ok(_) => {}
        Err(e) => {
            error!("cannot list inherited descriptors: {e}");
            return Err(exit::OSERR);
        }
    }
    if let Err(e) = sys::privilege::forbid_core_dumps() {
        error!("{e}");
        return Err(exit::OSERR);
    }
    System::load(&global.root).map_err(|e| {
        error!("{e}");
        exit::CONFIG
    })
}

/// The start-up steps `serve` and `serve lmtp` share once they hold what
/// they need from the system: look up `[security] system_user`, chroot into
/// `users/` when `chroot_system` says so, then drop to that user. Returns
/// where `users/` now is, or the exit code after logging why not.
pub(super) fn shut_in(system: &System) -> Result<PathBuf, i32> {
    let config = &system.config;
    let system_user = match &config.security.system_user {
        None => None,
        Some(name) => match sys::privilege::lookup_user(name) {
            Ok(Some(u)) => Some(u),
            Ok(None) => {
                error!("security.system_user {name:?} does not exist");
                return Err(exit::CONFIG);
            }
            Err(e) => {
                error!("looking up security.system_user {name:?}: {e}");
                return Err(exit::OSERR);
            }
        },
    };
    let mut users_dir = system.users_dir();
    if config.security.chroot_system {
        if let Err(e) = sys::privilege::chroot_into(&users_dir) {
            error!("chroot into {}: {e}", users_dir.display());
            return Err(exit::OSERR);
        }
        users_dir = PathBuf::from("/");
    }
    if let Some(u) = &system_user {
        if let Err(e) = sys::privilege::drop_to(u.uid, u.gid) {
            error!("dropping to security.system_user: {e}");
            return Err(exit::OSERR);
        }
    }
    Ok(users_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_message_bound_equals_the_store_s() {
        assert_eq!(
            u64::try_from(crate::config::MAX_MESSAGE_SIZE).ok(),
            Some(crate::store::MAX_MESSAGE_SIZE)
        );
    }

    #[test]
    fn user_names_that_could_escape_are_refused() {
        for bad in [
            "", ".", "..", "../etc", "a/b", ".hidden", "-x", "a\0b", "a b",
        ] {
            assert!(!valid_user_name(bad), "{bad:?}");
        }
        for good in ["demo", "alice.smith", "bob_1", "carol@example.org"] {
            assert!(valid_user_name(good), "{good:?}");
        }
    }
}
