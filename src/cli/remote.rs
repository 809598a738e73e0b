//! `crymap-like remote test|chpw|config`: the client side of the XCRY
//! extension, over IMAPS. Owns prompting for passwords and printing what the
//! server answers; the protocol itself is in `imap::client`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use super::args::{ArgError, Args};
use super::{exit, Global};
use crate::imap::client::{shown, Client, ClientError, Part};
use crate::imap::wire::user_setting::{UnknownUserSetting, UserSetting};
use crate::sys;

const HELP: &str = "\
usage: crymap-like remote test|chpw|config [options]

  test      log in and print the server's capabilities
  chpw      change the password (prints the server's backup file name)
  config    print the user configuration; with --set KEY VALUE (repeatable)
            change it

options:
  --host HOST        server (default localhost)
  --port PORT        IMAPS port (default 993)
  --user NAME        account name (required)
  --ca FILE          trust this certificate (e.g. the demo's tls/cert.pem)
  --insecure         do not verify the server certificate
  --password-stdin   read passwords from stdin, one per line (chpw: the
                     current one, then the new one) instead of prompting
";

struct Options {
    host: String,
    port: u16,
    user: Option<String>,
    ca: Option<PathBuf>,
    insecure: bool,
    password_stdin: bool,
    set: Vec<(String, String)>,
}

pub(super) fn run(_global: &Global, args: &mut Args) -> Result<i32, ArgError> {
    let what = args.command("remote test|chpw|config")?;
    if what == "--help" || what == "-h" {
        print!("{HELP}");
        return Ok(exit::OK);
    }
    if !matches!(what.as_str(), "test" | "chpw" | "config") {
        return Err(ArgError::UnknownCommand(format!("remote {what}")));
    }
    let mut o = Options {
        host: "localhost".into(),
        port: 993,
        user: None,
        ca: None,
        insecure: false,
        password_stdin: false,
        set: Vec::new(),
    };
    while let Some(w) = args.next_word() {
        let w = w?;
        match w.as_str() {
            "--host" => o.host = args.value("--host")?,
            "--port" => o.port = args.number("--port", "a port number")?,
            "--user" => o.user = Some(args.value("--user")?),
            "--ca" => o.ca = Some(PathBuf::from(args.value("--ca")?)),
            "--insecure" => o.insecure = true,
            "--password-stdin" => o.password_stdin = true,
            "--set" if what == "config" => {
                let k = args.value("--set")?;
                let v = args.value("--set")?;
                o.set.push((k, v));
            }
            _ if w.starts_with('-') => return Err(ArgError::UnknownOption(w)),
            _ => return Err(ArgError::Unexpected(w)),
        }
    }
    let user = o.user.clone().ok_or(ArgError::Missing("--user NAME"))?;
    Ok(match session(&what, &o, &user) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("crymap-like remote {what}: {e}");
            match e {
                RemoteError::Client(ClientError::Refused(_)) => exit::UNAVAILABLE,
                RemoteError::Input(_) | RemoteError::Mismatch => exit::DATAERR,
                _ => exit::IOERR,
            }
        }
    })
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

fn session(what: &str, o: &Options, user: &str) -> Result<(), RemoteError> {
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
            if !o.set.is_empty() {
                // Unknown keys are sent too: the server says what it knows.
                let settings: Vec<_> = o
                    .set
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
