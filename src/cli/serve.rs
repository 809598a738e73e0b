//! `crymap-like serve imaps|imap`: one IMAP session on stdin/stdout (inetd)
//! or on the connected socket systemd passes (`LISTEN_FDS`, `Accept=yes`).
//!
//! Owns the start-up order the design fixes: configuration and TLS material
//! first, then the optional system chroot and system user, only then the
//! network; and after a successful login, chroot into the user directory and
//! become its owner. Any failing step ends the session; the process never
//! serves a logged-in user as root.

use std::path::{Path, PathBuf};
use std::time::Duration;

use log::{error, info, warn};

use super::{exit, Global, ServeCommand};
use crate::config::{Config, System};
use crate::imap::session::{self, LoggedIn, Login, LoginError, SessionConfig};
use crate::store::credentials::{PasswordCost, UnlockedAccount};
use crate::store::error::StoreError;
use crate::store::user_file::UserFile;
use crate::sys;

/// Which flavour of IMAP to speak on the connection.
type Mode = ServeCommand;

pub(super) fn run(global: &Global, mode: Mode) -> i32 {
    // Before anything opens a descriptor of its own: whatever the launcher
    // leaked would otherwise survive the chroot.
    let closed = sys::fds::close_inherited();
    super::init_logging(global);
    match closed {
        Ok(fds) if !fds.is_empty() => info!("closed inherited descriptors {fds:?}"),
        Ok(_) => {}
        Err(e) => {
            error!("cannot list inherited descriptors: {e}");
            return exit::OSERR;
        }
    }
    serve(global, mode)
}

fn serve(global: &Global, mode: Mode) -> i32 {
    let system = match System::load(&global.root) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            return exit::CONFIG;
        }
    };
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
    // Everything that needs the system's files or the user database is
    // looked up now, before the process shuts itself in.
    let system_user = match &config.security.system_user {
        None => None,
        Some(name) => match sys::privilege::lookup_user(name) {
            Ok(Some(u)) => Some(u),
            Ok(None) => {
                error!("security.system_user {name:?} does not exist");
                return exit::CONFIG;
            }
            Err(e) => {
                error!("looking up security.system_user {name:?}: {e}");
                return exit::OSERR;
            }
        },
    };
    let mut users_dir = system.users_dir();
    if config.security.chroot_system {
        if let Err(e) = sys::privilege::chroot_into(&users_dir) {
            error!("chroot into {}: {e}", users_dir.display());
            return exit::OSERR;
        }
        users_dir = PathBuf::from("/");
    }
    if let Some(u) = &system_user {
        if let Err(e) = sys::privilege::drop_to(u.uid, u.gid) {
            error!("dropping to security.system_user: {e}");
            return exit::OSERR;
        }
    }

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
    let (peer, peer_is_local) = match conn.peer() {
        Ok(p) => (p.to_string(), p.is_local()),
        Err(e) => (format!("unknown peer ({e})"), false),
    };
    info!("connection from {peer} ({})", mode_name(mode));

    let login = SystemLogin {
        users_dir,
        cost: password_cost(config),
    };
    let session_config = SessionConfig {
        implicit_tls: mode == Mode::Imaps,
        cleartext_login_allowed: peer_is_local,
        peer,
        idle_timeout: Duration::from_secs(config.limits.idle_timeout_secs),
        login_failure_delay: Duration::from_millis(config.limits.login_failure_delay_ms),
        max_login_failures: config.limits.max_login_failures,
        max_message_size: config.limits.max_message_size,
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

/// Authenticates against `users/NAME/user.toml` and then isolates the
/// process in that user's directory.
struct SystemLogin {
    users_dir: PathBuf,
    cost: PasswordCost,
}

impl Login for SystemLogin {
    fn login(&mut self, user: &str, password: &[u8]) -> Result<LoggedIn, LoginError> {
        if !valid_user_name(user) {
            return Err(LoginError::BadCredentials);
        }
        let entry = self.users_dir.join(user);
        let dir = match std::fs::canonicalize(&entry) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LoginError::BadCredentials)
            }
            Err(e) => return Err(LoginError::Unavailable(format!("{}: {e}", entry.display()))),
        };
        let file = UserFile::load(&dir).map_err(|e| match e {
            StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                LoginError::BadCredentials
            }
            other => LoginError::Unavailable(other.to_string()),
        })?;
        let account = UnlockedAccount::unlock(&file, password, self.cost).map_err(|e| match e {
            StoreError::WrongPassword => LoginError::BadCredentials,
            other => LoginError::Unavailable(other.to_string()),
        })?;
        let root = isolate(&dir).map_err(LoginError::Fatal)?;
        Ok(LoggedIn { account, dir: root })
    }
}

/// Shuts the process into `dir` and becomes its owner; returns the path of
/// the user directory as the process now sees it.
fn isolate(dir: &Path) -> Result<PathBuf, String> {
    if !sys::privilege::is_root() {
        warn!(
            "not running as root: serving {} without chroot, as uid {}",
            dir.display(),
            nix::unistd::geteuid()
        );
        return Ok(dir.to_owned());
    }
    let (uid, gid) =
        sys::privilege::owner_of(dir).map_err(|e| format!("stat {}: {e}", dir.display()))?;
    if uid.is_root() {
        return Err(format!(
            "{} is owned by root; refusing to serve a user as root",
            dir.display()
        ));
    }
    sys::privilege::chroot_into(dir).map_err(|e| format!("chroot {}: {e}", dir.display()))?;
    sys::privilege::drop_to(uid, gid).map_err(|e| format!("setuid {uid}: {e}"))?;
    info!("isolated in {} as uid {uid} gid {gid}", dir.display());
    Ok(PathBuf::from("/"))
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
