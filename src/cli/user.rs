//! `crymap-like user add|list|show|remove`: creates an account (keys,
//! default mailboxes, password) and, when run as root, gives it to its UNIX
//! owner; lists and shows accounts (what is visible without the password,
//! and with it what the account's sealed data says); removes one. Never
//! removes anything without a confirmation or `--yes`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::opened::Opened;
use super::password::{self, PasswordArgs};
use super::serve::{password_cost, valid_user_name};
use super::{exit, facts, Global};
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

/// `user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create an account: keys, default mailboxes, password.
    Add(AddArgs),
    /// List the accounts with what is visible without their passwords.
    List,
    /// Show one account; with a password, its mailboxes too.
    Show(ShowArgs),
    /// Remove an account and all its mail (asks first, unless --yes).
    Remove(RemoveArgs),
}

/// `user add`'s options.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The account name.
    pub name: String,
    /// Where the data directory goes (default ROOT/users/NAME; otherwise
    /// users/NAME becomes a symlink to it).
    pub dir: Option<PathBuf>,
    /// The UNIX user (name or number) that owns the account (root only;
    /// default: the UNIX user named like the account).
    #[arg(long, value_name = "USER|UID")]
    pub uid: Option<String>,
    /// Ask for the password on the terminal, twice, without echo.
    #[arg(long, conflicts_with = "password_stdin")]
    pub prompt_password: bool,
    /// Read the password from one line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `user show`'s options.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The account name.
    pub name: String,
    /// With a password: the account's mailboxes, messages and unseen counts.
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// `user remove`'s options.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The account name.
    pub name: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub(super) fn run(global: &Global, what: UserCommand) -> i32 {
    let result = match what {
        UserCommand::Add(a) => add(global, a),
        UserCommand::List => list(global),
        UserCommand::Show(a) => show(global, &a),
        UserCommand::Remove(a) => remove(global, &a),
    };
    match result {
        Ok(()) => exit::OK,
        Err((code, msg)) => {
            eprintln!("crymap-like user: {msg}");
            code
        }
    }
}

fn add(global: &Global, a: AddArgs) -> Result<(), (i32, String)> {
    let source = if a.prompt_password {
        PasswordSource::Prompt
    } else if a.password_stdin {
        PasswordSource::Stdin
    } else {
        PasswordSource::Generate
    };
    let name = a.name;
    if !valid_user_name(&name) {
        return Err((
            exit::USAGE,
            format!(
                "invalid user name {name:?}: letters, digits and . _ - @ +, \
                 not starting with . or -"
            ),
        ));
    }
    let system = System::load(&global.root).map_err(|e| (exit::CONFIG, e.to_string()))?;
    let generated = add_user(&system, &name, a.dir.as_deref(), a.uid.as_deref(), source)
        .map_err(|(code, msg)| (code, format!("add {name}: {msg}")))?;
    if let Some(p) = generated {
        println!("user: {name}");
        println!("password: {p}");
    }
    Ok(())
}

fn list(global: &Global) -> Result<(), (i32, String)> {
    let users = global.root.join("users");
    let entries = match std::fs::read_dir(&users) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(());
        }
        Err(e) => return Err((exit::IOERR, format!("{}: {e}", users.display()))),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| valid_user_name(n))
        .collect();
    names.sort();
    println!(
        "{:<20} {:>6} {:<10} {:>9} {:>8} {:>10}",
        "NAME", "UID", "CREATED", "MAILBOXES", "MESSAGES", "SIZE"
    );
    for name in names {
        match password::user_dir(&global.root, &name).map(|d| facts::visible(&d)) {
            Ok(f) => println!(
                "{:<20} {:>6} {:<10} {:>9} {:>8} {:>10}",
                name,
                f.uid,
                f.created_day(),
                f.mailboxes,
                f.messages,
                facts::human_size(f.bytes)
            ),
            Err((_, msg)) => println!("{name:<20} (unreadable: {msg})"),
        }
    }
    Ok(())
}

fn show(global: &Global, a: &ShowArgs) -> Result<(), (i32, String)> {
    let dir = password::user_dir(&global.root, &a.name)?;
    let f = facts::visible(&dir);
    println!("name: {}", a.name);
    println!("directory: {}", dir.display());
    println!("uid: {}", f.uid);
    println!("created: {}", f.created_full());
    println!("password changed: {}", f.password_changed);
    println!("mailbox directories: {}", f.mailboxes);
    println!("message files: {}", f.messages);
    println!("size: {} ({} bytes)", facts::human_size(f.bytes), f.bytes);
    println!("spool entries waiting: {}", f.spool);
    if !a.password.given() {
        return Ok(());
    }
    let opened = Opened::open(&dir, &a.password)?;
    println!("mailboxes:");
    for info in opened.mailboxes() {
        let mb = opened.open_mailbox(&info)?;
        let (mut count, mut unseen, mut bytes) = (0u64, 0u64, 0u64);
        for uid in mb.uids() {
            if let Some(m) = mb.info(uid) {
                count += 1;
                bytes += u64::from(m.size);
                if !m.flags.contains(&crate::store::types::Flag::Seen) {
                    unseen += 1;
                }
            }
        }
        let uses: Vec<&str> = info.special_use.iter().map(|u| u.as_imap()).collect();
        println!(
            "  {} {}messages={count} unseen={unseen} size={}",
            info.name,
            if uses.is_empty() {
                String::new()
            } else {
                format!("({}) ", uses.join(" "))
            },
            facts::human_size(bytes)
        );
    }
    Ok(())
}

fn remove(global: &Global, a: &RemoveArgs) -> Result<(), (i32, String)> {
    let dir = password::user_dir(&global.root, &a.name)?;
    let entry = global.root.join("users").join(&a.name);
    if !a.yes {
        eprint!(
            "Remove account {} and ALL its mail in {}? Type yes: ",
            a.name,
            dir.display()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| (exit::IOERR, format!("reading the answer: {e}")))?;
        if !matches!(answer.trim(), "yes" | "y") {
            return Err((exit::NOPERM, format!("{} not removed", a.name)));
        }
    }
    // The entry first: once it is gone no new session or delivery can
    // reach the account, then the data.
    std::fs::remove_file(&entry)
        .or_else(|_| std::fs::remove_dir_all(&entry))
        .map_err(|e| (exit::IOERR, format!("{}: {e}", entry.display())))?;
    if dir != entry && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| (exit::IOERR, format!("{}: {e}", dir.display())))?;
    }
    println!("removed {}", a.name);
    Ok(())
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
