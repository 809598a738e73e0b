//! Command-line entry points, one file per subcommand. Owns argument parsing
//! (clap, derive), process start-up order and the mapping of failures to
//! exit codes (`exit`); never implements protocol or storage logic itself.
//!
//! Every command accepts `--help`; the top level and every subcommand accept
//! `--version`. Options mean the same thing wherever they appear: `--root`
//! (the system root), `--log`, `--user` (an account), `--password-stdin` /
//! `--prompt-password` (where a user's password comes from).

mod check;
pub(crate) mod deliver;
pub(crate) mod demo;
pub(crate) mod exit;
mod export;
mod facts;
mod import;
mod listen;
mod lmtp;
mod mailfmt;
mod manpages;
mod opened;
mod password;
mod progress;
mod remote;
mod serve;
pub mod tls;
pub(crate) mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes (sysexits.h): 0 success, 64 bad command line, 65 bad input, something
skipped, or damage found by check, 66 missing input, 67 no such user, 69 server refused,
70 internal error, 71 OS error, 73 cannot create, 74 I/O error,
75 temporary failure, 77 permission denied or wrong password,
78 configuration error. See `man crymap-like` and doc/cli.md.";

/// An IMAP server whose mail is encrypted at rest and readable only with
/// the user's password.
#[derive(Debug, Parser)]
#[command(name = "crymap-like", version, propagate_version = true, after_help = AFTER_HELP)]
pub struct Cli {
    /// The system root: crymap-like.toml and users/.
    #[arg(long, global = true, value_name = "DIR", default_value = crate::config::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Where log lines go. Default: syslog (facility mail) when stderr is
    /// not a terminal, else stderr.
    #[arg(long, global = true, value_enum, value_name = "WHERE")]
    pub log: Option<LogTarget>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The log sink asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogTarget {
    /// Standard error, one line per record.
    Stderr,
    /// RFC 3164 datagrams to /dev/log, facility mail.
    Syslog,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one connection on stdin/stdout or the socket systemd passes.
    Serve {
        /// Which protocol.
        #[command(subcommand)]
        what: ServeCommand,
    },
    /// Accept on the configured addresses and spawn one `serve` process per
    /// connection.
    Listen,
    /// UNIX MDA: one message on stdin into a user's spool (no password
    /// needed). Exit codes: 75 temporary, 67 no such user, 65 bad data.
    Deliver(deliver::DeliverArgs),
    /// Manage accounts.
    User {
        /// What to do.
        #[command(subcommand)]
        what: user::UserCommand,
    },
    /// The client side of XCRY over IMAPS.
    Remote {
        /// What to do.
        #[command(subcommand)]
        what: remote::RemoteCommand,
    },
    /// A throwaway server on 127.0.0.1 under ./demo-root.
    Demo(demo::DemoArgs),
    /// Bring mail in from Maildir, Maildir++ or mbox.
    Import(import::ImportArgs),
    /// Write an account's mail out as Maildir++ or mbox (needs the password).
    Export(export::ExportArgs),
    /// Verify every log, record, message, summary and key of an account
    /// (needs the password); --repair recomputes what can be recomputed.
    Check(check::CheckArgs),
    /// Write the man pages (one per subcommand) into DIR.
    Manpages {
        /// Target directory, e.g. /usr/local/share/man/man1.
        dir: PathBuf,
    },
    /// Print a shell completion script on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The `serve` flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum ServeCommand {
    /// One IMAP session with implicit TLS (port 993).
    Imaps,
    /// One cleartext IMAP session offering STARTTLS (port 143).
    Imap,
    /// One LMTP session (RFC 2033) delivering into users' spools.
    Lmtp,
}

/// Options every command sees.
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
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(&e),
    };
    run(cli)
}

/// Prints clap's message; help and version are successes, anything else
/// is a usage error (64), as sysexits.h wants, not clap's own 2.
fn clap_error(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
        _ => exit::USAGE,
    }
}

fn run(cli: Cli) -> i32 {
    use std::io::IsTerminal;
    let log_stderr = match cli.log {
        Some(LogTarget::Stderr) => true,
        Some(LogTarget::Syslog) => false,
        None => std::io::stderr().is_terminal(),
    };
    let global = Global {
        root: cli.root,
        log_stderr,
    };
    match cli.command {
        Command::Serve {
            what: ServeCommand::Lmtp,
        } => lmtp::run(&global),
        Command::Serve { what } => serve::run(&global, what),
        Command::Listen => listen::run(&global),
        Command::Deliver(args) => deliver::run(&global, args),
        Command::User { what } => user::run(&global, what),
        Command::Remote { what } => remote::run(what),
        Command::Demo(args) => demo::run(args),
        Command::Import(args) => import::run(&global, args),
        Command::Export(args) => export::run(&global, args),
        Command::Check(args) => check::run(&global, args),
        Command::Manpages { dir } => manpages::write_all(&dir),
        Command::Completions { shell } => manpages::completions(shell),
    }
}
