//! Command-line entry points, one file per subcommand. Owns argument parsing
//! and process start-up order; never implements protocol or storage logic.
//!
//! Exit codes follow sysexits.h so that inetd, systemd and MTAs can tell a
//! usage error from a temporary failure.

mod args;
pub(crate) mod deliver;
pub(crate) mod demo;
mod listen;
mod lmtp;
mod remote;
mod serve;
mod throttle;
pub mod tls;
pub(crate) mod user;

use std::ffi::OsString;
use std::path::PathBuf;

pub use args::{ArgError, Args};

/// sysexits.h codes used by the commands.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Command line usage error.
    pub const USAGE: i32 = 64;
    /// Input data was malformed.
    pub const DATAERR: i32 = 65;
    /// Addressee (user) unknown.
    pub const NOUSER: i32 = 67;
    /// Service unavailable (e.g. the server refused).
    pub const UNAVAILABLE: i32 = 69;
    /// Internal software error.
    pub const SOFTWARE: i32 = 70;
    /// Operating system error (fork, chroot, setuid...).
    pub const OSERR: i32 = 71;
    /// Cannot create output file.
    pub const CANTCREAT: i32 = 73;
    /// Input/output error.
    pub const IOERR: i32 = 74;
    /// Temporary failure; the caller should retry later.
    pub const TEMPFAIL: i32 = 75;
    /// Permission denied.
    pub const NOPERM: i32 = 77;
    /// Configuration error.
    pub const CONFIG: i32 = 78;
}

const USAGE: &str = "\
usage: crymap-like [--root DIR] [--log stderr|syslog] COMMAND ...

commands:
  serve imaps            one IMAP session with implicit TLS on stdin/stdout
                         or on the socket systemd passes (LISTEN_FDS)
  serve imap             one cleartext IMAP session offering STARTTLS
  serve lmtp             one LMTP session (RFC 2033) delivering into users'
                         spools, on stdin/stdout or the socket systemd passes
  listen                 accept on the configured addresses and spawn one
                         `serve` process per connection
  deliver                UNIX MDA: a message on stdin into a user's INBOX
                         [--user NAME | --address USER+DETAIL@DOMAIN]
                         [--mailbox NAME] [--flag F]...
                         [--create]; exit codes from sysexits.h
  user add NAME [DIR]    create an account [--uid USER|UID]
                         [--prompt-password | --password-stdin]
  remote test|chpw|config
                         the client side of XCRY over IMAPS
                         (--host H --port P --user U [--password-stdin]
                          [--ca FILE | --insecure]; see `remote --help`)
  demo                   a throwaway server on 127.0.0.1 (IMAPS 1993,
                         IMAP 1143) under ./demo-root

--root defaults to /etc/crymap-like.
";

/// Options that come before the command.
#[derive(Debug, Clone)]
pub struct Global {
    /// The system root.
    pub root: PathBuf,
    /// Whether log lines go to stderr instead of syslog.
    pub log_stderr: bool,
}

/// Installs the logger: stderr when asked, syslog otherwise. Must run
/// before any chroot, since the syslog socket is connected only once.
fn init_logging(global: &Global) {
    let sink = if global.log_stderr {
        crate::sys::log::Sink::Stderr
    } else {
        crate::sys::log::Sink::Syslog(std::path::Path::new(crate::sys::log::DEFAULT_SYSLOG_PATH))
    };
    if let Err(e) = crate::sys::log::init(sink, log::LevelFilter::Info) {
        eprintln!("crymap-like: logging: {e}");
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let mut args = Args::from_env();
    match run(&mut args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("crymap-like: {e}");
            eprintln!("try `crymap-like --help`");
            exit::USAGE
        }
    }
}

fn run(args: &mut Args) -> Result<i32, ArgError> {
    let mut global = Global {
        root: PathBuf::from(crate::config::DEFAULT_ROOT),
        log_stderr: false,
    };
    loop {
        match args.peek() {
            Some("--root") => {
                args.next_word();
                global.root = PathBuf::from(args.value("--root")?);
            }
            Some("--log") => {
                args.next_word();
                global.log_stderr = match args.value("--log")?.as_str() {
                    "stderr" => true,
                    "syslog" => false,
                    other => {
                        return Err(ArgError::BadValue {
                            option: "--log".into(),
                            value: other.into(),
                            expected: "stderr or syslog",
                        })
                    }
                };
            }
            Some("-h" | "--help" | "help") => {
                print!("{USAGE}");
                return Ok(exit::OK);
            }
            _ => break,
        }
    }
    let command = args.command("COMMAND")?;
    match command.as_str() {
        "serve" => {
            let what = args.command("serve imaps|imap|lmtp")?;
            match what.as_str() {
                "imaps" => serve::run(&global, args, serve::Mode::Imaps),
                "imap" => serve::run(&global, args, serve::Mode::Imap),
                "lmtp" => lmtp::run(&global, args),
                other => Err(ArgError::UnknownCommand(format!("serve {other}"))),
            }
        }
        "listen" => listen::run(&global, args),
        "deliver" => {
            // `deliver` parses its own options (it is what MTAs call); the
            // global --root is handed on in front of them.
            let mut rest = vec![
                OsString::from("--root"),
                global.root.clone().into_os_string(),
            ];
            rest.extend(args.rest_os());
            Ok(deliver::run(&rest))
        }
        "user" => {
            let what = args.command("user add")?;
            match what.as_str() {
                "add" => user::add(&global, args),
                other => Err(ArgError::UnknownCommand(format!("user {other}"))),
            }
        }
        "remote" => remote::run(&global, args),
        "demo" => demo::run(&global, args),
        other => Err(ArgError::UnknownCommand(other.to_owned())),
    }
}
