//! The process logger: a `log::Log` implementation writing either to stderr
//! (`crymap-like[pid]: LEVEL message`, for `demo` and tests) or to syslog
//! (RFC 3164 datagrams, facility MAIL, ident `crymap-like`).
//!
//! The syslog socket is connected once at start-up and reused, so logging
//! keeps working after the process chroots (where `/dev/log` no longer
//! exists); it is never reopened by path. Messages are sanitised so that
//! client-controlled text cannot forge extra log lines.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// The tag every line carries.
pub(crate) const IDENT: &str = "crymap-like";

/// Where the system logger listens by default.
pub(crate) const DEFAULT_SYSLOG_PATH: &str = "/dev/log";

/// `LOG_MAIL`, the facility of mail servers.
const FACILITY_MAIL: u8 = 2;

/// Longest message body sent; longer ones are cut (syslog daemons drop or
/// truncate big datagrams anyway, and a client must not inflate our logs).
const MAX_MESSAGE: usize = 2048;

/// Failure to install the logger.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogError {
    /// A logger was already installed in this process.
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sink<'p> {
    /// Standard error, one line per record.
    Stderr,
    /// The syslog datagram socket at this path (normally
    /// [`DEFAULT_SYSLOG_PATH`]); stderr if it cannot be reached.
    Syslog(&'p Path),
}

#[derive(Debug)]
enum Output {
    Stderr,
    Syslog(UnixDatagram),
}

/// A logger; [`init`] installs one process-wide, tests use it directly.
#[derive(Debug)]
pub(crate) struct Logger {
    output: Output,
    level: log::LevelFilter,
    context: Mutex<Option<String>>,
    pid: u32,
    warned_send_failure: AtomicBool,
}

impl Logger {
    /// Builds a logger for `sink`. Connecting to syslog happens here, once;
    /// if it fails the logger writes to stderr and says so there once.
    pub(crate) fn new(sink: Sink<'_>, level: log::LevelFilter) -> Logger {
        let output = match sink {
            Sink::Stderr => Output::Stderr,
            Sink::Syslog(path) => {
                match UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s)) {
                    Ok(sock) => Output::Syslog(sock),
                    Err(e) => {
                        stderr_notice(&format!(
                            "cannot connect to syslog at {}: {e}; logging to stderr",
                            path.display()
                        ));
                        Output::Stderr
                    }
                }
            }
        };
        Logger {
            output,
            level,
            context: Mutex::new(None),
            pid: std::process::id(),
            warned_send_failure: AtomicBool::new(false),
        }
    }

    #[cfg(test)]
    /// Whether records go to syslog (false: stderr).
    pub(crate) fn is_syslog(&self) -> bool {
        matches!(self.output, Output::Syslog(_))
    }

    /// Tags every later line with `user` (after login), or clears the tag.
    pub(crate) fn set_context(&self, user: Option<&str>) {
        let mut ctx = self
            .context
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *ctx = user.map(|u| sanitize(u, 64));
    }

    /// The message part of a line: `[user] ` prefix, then the sanitised text.
    fn body(&self, record: &log::Record<'_>) -> String {
        let mut body = String::new();
        let ctx = self
            .context
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(user) = ctx.as_deref() {
            let _ = write!(body, "[{user}] ");
        }
        body.push_str(&sanitize(&record.args().to_string(), MAX_MESSAGE));
        body
    }

    /// The stderr form of a record.
    fn stderr_line(&self, record: &log::Record<'_>) -> String {
        format!(
            "{IDENT}[{}]: {} {}\n",
            self.pid,
            record.level(),
            self.body(record)
        )
    }

    /// The RFC 3164 datagram for a record, in the form glibc's `syslog(3)`
    /// sends to the local daemon: `<PRI>Mmm dd hh:mm:ss ident[pid]: msg`.
    fn syslog_datagram(&self, record: &log::Record<'_>) -> String {
        let pri = FACILITY_MAIL * 8 + severity(record.level());
        let stamp = chrono::Local::now().format("%b %e %H:%M:%S");
        format!(
            "<{pri}>{stamp} {IDENT}[{}]: {}",
            self.pid,
            self.body(record)
        )
    }
}

/// Tells the operator, on stderr, about a problem with logging itself.
fn stderr_notice(text: &str) {
    let _ = writeln!(io::stderr(), "{IDENT}[{}]: WARN {text}", std::process::id());
}

/// The syslog severity of a `log` level.
fn severity(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Escapes control characters (so a CR/LF from a client cannot start a fake
/// log line) and cuts the text at `max` bytes on a character boundary.
fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if out.len() >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match &self.output {
            Output::Stderr => {
                let _ = io::stderr().write_all(self.stderr_line(record).as_bytes());
            }
            Output::Syslog(sock) => {
                if let Err(e) = sock.send(self.syslog_datagram(record).as_bytes()) {
                    // The daemon may have restarted; after chroot we cannot
                    // reconnect, so keep the record on stderr instead.
                    if !self.warned_send_failure.swap(true, Ordering::Relaxed) {
                        stderr_notice(&format!("syslog send failed: {e}; using stderr"));
                    }
                    let _ = io::stderr().write_all(self.stderr_line(record).as_bytes());
                }
            }
        }
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Installs the process-wide logger for `sink` at `level`. Call before any
/// chroot so the syslog socket can be reached.
pub(crate) fn init(sink: Sink<'_>, level: log::LevelFilter) -> Result<(), LogError> {
    if LOGGER.set(Logger::new(sink, level)).is_err() {
        return Err(LogError::AlreadyInstalled);
    }
    let logger = LOGGER.get().ok_or(LogError::AlreadyInstalled)?;
    log::set_logger(logger).map_err(|_| LogError::AlreadyInstalled)?;
    log::set_max_level(level);
    Ok(())
}

/// Tags all later lines of the installed logger with `user` (e.g. after a
/// successful login); a no-op if [`init`] was not called.
pub(crate) fn set_context(user: Option<&str>) {
    if let Some(logger) = LOGGER.get() {
        logger.set_context(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::temp_dir;
    use log::Log;
    use std::time::Duration;

    fn record_text(
        logger: &Logger,
        level: log::Level,
        text: &str,
        f: fn(&Logger, &log::Record<'_>) -> String,
    ) -> String {
        f(
            logger,
            &log::Record::builder()
                .level(level)
                .args(format_args!("{text}"))
                .build(),
        )
    }

    #[test]
    fn syslog_datagram_reaches_the_socket_with_pri_ident_pid_and_context() {
        let dir = temp_dir("log");
        let path = dir.join("log");
        let server = UnixDatagram::bind(&path).expect("bind");
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let logger = Logger::new(Sink::Syslog(&path), log::LevelFilter::Info);
        assert!(logger.is_syslog());
        // The path is gone afterwards (as after chroot); the connected socket must still work.
        std::fs::remove_file(&path).expect("unlink");
        logger.set_context(Some("alice"));
        logger.log(
            &log::Record::builder()
                .level(log::Level::Warn)
                .args(format_args!("login failed\r\nforged"))
                .build(),
        );
        logger.log(
            &log::Record::builder()
                .level(log::Level::Debug)
                .args(format_args!("filtered out"))
                .build(),
        );
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).expect("recv");
        let line = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
        let pid = std::process::id();
        assert!(line.starts_with("<20>"), "{line}"); // MAIL(2)*8 + WARNING(4)
        assert!(
            line.contains(&format!(
                " crymap-like[{pid}]: [alice] login failed\\x0d\\x0aforged"
            )),
            "{line}"
        );
        server.set_nonblocking(true).expect("nonblocking");
        assert!(
            server.recv(&mut buf).is_err(),
            "debug record must be filtered"
        );
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn stderr_format_and_missing_syslog_falls_back() {
        let logger = Logger::new(
            Sink::Syslog(Path::new("/nonexistent/dev/log")),
            log::LevelFilter::Trace,
        );
        assert!(!logger.is_syslog());
        let line = record_text(
            &logger,
            log::Level::Info,
            "serving imaps",
            Logger::stderr_line,
        );
        assert_eq!(
            line,
            format!("crymap-like[{}]: INFO serving imaps\n", std::process::id())
        );
        logger.set_context(Some("bob\n"));
        let line = record_text(&logger, log::Level::Error, "x", Logger::stderr_line);
        assert!(line.ends_with(": ERROR [bob\\x0a] x\n"), "{line}");
        logger.set_context(None);
        let line = record_text(&logger, log::Level::Error, "x", Logger::stderr_line);
        assert_eq!(
            line,
            format!("crymap-like[{}]: ERROR x\n", std::process::id())
        );
    }

    #[test]
    fn severities_and_truncation() {
        assert_eq!(severity(log::Level::Error), 3);
        assert_eq!(severity(log::Level::Info), 6);
        assert_eq!(severity(log::Level::Trace), 7);
        let long = "é".repeat(MAX_MESSAGE);
        let cut = sanitize(&long, MAX_MESSAGE);
        assert!(cut.len() <= MAX_MESSAGE + 3 + 1 && cut.ends_with("..."));
        assert_eq!(sanitize("tab\there", 100), "tab\\x09here");
    }

    #[test]
    fn vanished_syslog_daemon_falls_back_to_stderr_without_panicking() {
        let dir = temp_dir("log-gone");
        let path = dir.join("log");
        let server = UnixDatagram::bind(&path).expect("bind");
        let logger = Logger::new(Sink::Syslog(&path), log::LevelFilter::Info);
        assert!(logger.is_syslog());
        drop(server);
        let record = log::Record::builder()
            .level(log::Level::Error)
            .args(format_args!("after the daemon left"))
            .build();
        logger.log(&record);
        logger.log(&record);
        assert!(logger.warned_send_failure.load(Ordering::Relaxed));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
