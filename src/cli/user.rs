//! `crymap-like user add NAME [DIR]`: creates an account (keys, default
//! mailboxes, password) and, when run as root, gives it to its UNIX owner.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::{ArgError, Args};
use super::serve::{password_cost, valid_user_name};
use super::{exit, Global};
use crate::config::System;
use crate::store::create::{create_user, generate_password};
use crate::sys;

/// Where the new account's password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordSource {
    /// Generate one and print it once.
    Generate,
    /// Ask on the terminal, without echo, twice.
    Prompt,
    /// Read one line from standard input (scripts, tests).
    Stdin,
}

pub(super) fn add(global: &Global, args: &mut Args) -> Result<i32, ArgError> {
    let mut name = None;
    let mut dir = None;
    let mut owner = None;
    let mut source = PasswordSource::Generate;
    while let Some(w) = args.next_word() {
        let w = w?;
        match w.as_str() {
            "--uid" => owner = Some(args.value("--uid")?),
            "--prompt-password" | "--password-stdin" => {
                if source != PasswordSource::Generate {
                    return Err(ArgError::Conflict(
                        "--prompt-password and --password-stdin exclude each other",
                    ));
                }
                source = if w == "--prompt-password" {
                    PasswordSource::Prompt
                } else {
                    PasswordSource::Stdin
                };
            }
            s if s.starts_with('-') => return Err(ArgError::UnknownOption(w)),
            _ if name.is_none() => name = Some(w),
            _ if dir.is_none() => dir = Some(PathBuf::from(w)),
            _ => return Err(ArgError::Unexpected(w)),
        }
    }
    let name = name.ok_or(ArgError::Missing("NAME"))?;
    if !valid_user_name(&name) {
        return Err(ArgError::BadValue {
            option: "NAME".into(),
            value: name,
            expected: "letters, digits and . _ - @ +, not starting with . or -",
        });
    }
    let system = match System::load(&global.root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("crymap-like: {e}");
            return Ok(exit::CONFIG);
        }
    };
    Ok(
        match add_user(&system, &name, dir.as_deref(), owner.as_deref(), source) {
            Ok(generated) => {
                if let Some(p) = generated {
                    println!("user: {name}");
                    println!("password: {p}");
                }
                exit::OK
            }
            Err((code, msg)) => {
                eprintln!("crymap-like: user add {name}: {msg}");
                code
            }
        },
    )
}

/// The UNIX owner a new account's directory is given to.
fn resolve_owner(
    name: &str,
    owner: Option<&str>,
) -> Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>, (i32, String)> {
    if !sys::privilege::is_root() {
        if owner.is_some() {
            return Err((exit::NOPERM, "--uid needs root".to_owned()));
        }
        return Ok(None);
    }
    let wanted = owner.unwrap_or(name);
    let found = if let Ok(n) = wanted.parse::<u32>() {
        let uid = nix::unistd::Uid::from_raw(n);
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(u)) => Some((u.uid, u.gid)),
            Ok(None) => Some((uid, nix::unistd::Gid::from_raw(n))),
            Err(e) => return Err((exit::OSERR, format!("looking up uid {n}: {e}"))),
        }
    } else {
        match sys::privilege::lookup_user(wanted) {
            Ok(u) => u.map(|u| (u.uid, u.gid)),
            Err(e) => return Err((exit::OSERR, format!("looking up {wanted}: {e}"))),
        }
    };
    match found {
        Some((uid, _)) if uid.is_root() => Err((
            exit::NOPERM,
            "refusing to give an account to root: sessions never run as root".to_owned(),
        )),
        Some(o) => Ok(Some(o)),
        None => Err((
            exit::NOUSER,
            format!("no UNIX user {wanted:?} to own the account; name one with --uid"),
        )),
    }
}

/// Creates the account; returns the generated password, if one was made.
pub(crate) fn add_user(
    system: &System,
    name: &str,
    dir: Option<&Path>,
    owner: Option<&str>,
    source: PasswordSource,
) -> Result<Option<String>, (i32, String)> {
    let users = system.users_dir();
    let entry = users.join(name);
    if entry.symlink_metadata().is_ok() {
        return Err((
            exit::CANTCREAT,
            format!("{} already exists", entry.display()),
        ));
    }
    let owner = resolve_owner(name, owner)?;
    std::fs::create_dir_all(&users)
        .map_err(|e| (exit::CANTCREAT, format!("{}: {e}", users.display())))?;
    let target = match dir {
        Some(d) => std::path::absolute(d)
            .map_err(|e| (exit::CANTCREAT, format!("{}: {e}", d.display())))?,
        None => entry.clone(),
    };
    let (password, generated): (Vec<u8>, Option<String>) = match source {
        PasswordSource::Generate => {
            let p = generate_password();
            (p.clone().into_bytes(), Some(p))
        }
        PasswordSource::Prompt => {
            let read = |prompt| {
                sys::password::read_password_from_terminal(prompt)
                    .map_err(|e| (exit::DATAERR, e.to_string()))
            };
            let p = read("New password: ")?;
            if read("Again: ")? != p {
                return Err((exit::DATAERR, "the passwords differ".to_owned()));
            }
            (p.as_bytes().to_vec(), None)
        }
        PasswordSource::Stdin => (
            sys::password::read_password_from_stdin()
                .map_err(|e| (exit::DATAERR, e.to_string()))?
                .as_bytes()
                .to_vec(),
            None,
        ),
    };
    create_user(
        &target,
        &password,
        &password_cost(&system.config).kdf_params(),
        &system.config.keys.name_pattern,
    )
    .map_err(|e| (exit::CANTCREAT, e.to_string()))?;
    if let Some((uid, gid)) = owner {
        sys::privilege::chown_tree(&target, uid, gid)
            .map_err(|e| (exit::OSERR, format!("chown {}: {e}", target.display())))?;
    }
    if target != entry {
        std::os::unix::fs::symlink(&target, &entry)
            .map_err(|e| (exit::CANTCREAT, format!("{}: {e}", entry.display())))?;
    }
    let _ = std::io::stdout().flush();
    Ok(generated)
}
