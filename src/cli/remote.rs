//! `crymap-like remote test|chpw|config`: the client side of the XCRY
//! extension, over IMAPS. Owns prompting for passwords and printing what the
//! server answers; the protocol itself is in `imap::client`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use super::exit;
use crate::imap::client::{shown, Client, ClientError, Part};
use crate::imap::wire::user_setting::{UnknownUserSetting, UserSetting};
use crate::sys;

/// `remote` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RemoteCommand {
    /// Log in and print the server's capabilities.
    Test(Options),
    /// Change the password (prints the server's backup file name).
    Chpw(Options),
    /// Print the user configuration; with --set KEY VALUE, change it first.
    Config(ConfigArgs),
}

/// The connection options every `remote` command takes.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The server.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// The IMAPS port.
    #[arg(long, default_value_t = 993)]
    port: u16,
    /// The account name.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Trust this certificate (e.g. the demo's tls/cert.pem).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    ca: Option<PathBuf>,
    /// Do not verify the server certificate.
    #[arg(long)]
    insecure: bool,
    /// Read passwords from stdin, one per line (chpw: the current one, then
    /// the new one) instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

/// `remote config`'s options.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    options: Options,
    /// Set KEY to VALUE (repeatable).
    #[arg(long, num_args = 2, value_names = ["KEY", "VALUE"], action = clap::ArgAction::Append)]
    set: Vec<String>,
}

pub(super) fn run(what: RemoteCommand) -> i32 {
    let (name, o, set) = match what {
        RemoteCommand::Test(o) => ("test", o, Vec::new()),
        RemoteCommand::Chpw(o) => ("chpw", o, Vec::new()),
        RemoteCommand::Config(c) => {
            let pairs = c
                .set
                .chunks(2)
                .filter_map(|p| match p {
                    [k, v] => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect();
            ("config", c.options, pairs)
        }
    };
    match session(name, &o, &set) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("crymap-like remote {name}: {e}");
            match e {
                RemoteError::Client(ClientError::Refused(_)) => exit::UNAVAILABLE,
                RemoteError::Input(_) | RemoteError::Mismatch => exit::DATAERR,
                _ => exit::IOERR,
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RemoteError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Input(#[from] sys::password::PasswordError),
    #[error("the new passwords differ")]
    Mismatch,
}

fn read_password(o: &Options, prompt: &str) -> Result<Vec<u8>, RemoteError> {
    let p = if o.password_stdin {
        sys::password::read_password_from_stdin()?
    } else {
        sys::password::read_password_from_terminal(prompt)?
    };
    Ok(p.as_bytes().to_vec())
}

fn session(what: &str, o: &Options, set: &[(String, String)]) -> Result<(), RemoteError> {
    let user = o.user.as_str();
    let password = read_password(o, "Password: ")?;
    let new_password = if what == "chpw" {
        let p = read_password(o, "New password: ")?;
        if !o.password_stdin {
            let again = read_password(o, "Again: ")?;
            if again != p {
                return Err(RemoteError::Mismatch);
            }
        }
        Some(p)
    } else {
        None
    };
    let tcp = TcpStream::connect((o.host.as_str(), o.port)).map_err(RemoteError::Connect)?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(RemoteError::Connect)?;
    let connector = super::tls::connector(o.ca.as_deref(), o.insecure)
        .map_err(|e| RemoteError::Tls(e.to_string()))?;
    let tls = connector
        .connect(&o.host, tcp)
        .map_err(|e| RemoteError::Tls(e.to_string()))?;
    let (mut c, _greeting) = Client::new(tls)?;
    c.command(&[
        Part::Atom("LOGIN"),
        Part::Literal(user.as_bytes()),
        Part::Literal(&password),
    ])?;
    match what {
        "test" => {
            let r = c.command(&[Part::Atom("CAPABILITY")])?;
            for l in r.untagged {
                println!("{}", shown(&l));
            }
            println!("login ok");
        }
        "chpw" => {
            let new = Ok(UserSetting::Password(
                new_password.unwrap_or_default().into(),
            ));
            let mut parts = vec![Part::Atom("XCRY"), Part::Atom("SET-USER-CONFIG")];
            parts.extend(setting_parts(&new));
            let r = c.command(&parts)?;
            for l in r.untagged {
                println!("{}", shown(&l));
            }
            println!("password changed");
        }
        _ => {
            if !set.is_empty() {
                // Unknown keys are sent too: the server says what it knows.
                let settings: Vec<_> = set
                    .iter()
                    .map(|(k, v)| UserSetting::parse(k, v.as_bytes().to_vec()))
                    .collect();
                let mut parts = vec![Part::Atom("XCRY"), Part::Atom("SET-USER-CONFIG")];
                for s in &settings {
                    parts.extend(setting_parts(s));
                }
                let r = c.command(&parts)?;
                for l in r.untagged {
                    println!("{}", shown(&l));
                }
            }
            let r = c.command(&[Part::Atom("XCRY"), Part::Atom("GET-USER-CONFIG")])?;
            for l in r.untagged {
                println!("{}", shown(&l));
            }
        }
    }
    let _ = c.command(&[Part::Atom("LOGOUT")]);
    Ok(())
}

/// A setting as the key and literal value `SET-USER-CONFIG` sends.
fn setting_parts(s: &Result<UserSetting, UnknownUserSetting>) -> [Part<'_>; 2] {
    match s {
        Ok(s) => [Part::Atom(s.name()), Part::Literal(s.value())],
        Err(u) => [Part::Atom(&u.key), Part::Literal(&u.value)],
    }
}
