//! `crymap-like export NAME DEST`: writes every mailbox of an account out
//! as Maildir++ (INBOX at DEST, `A/B` as `DEST/.A.B` with modified UTF-7
//! names, flags in `:2,`, keywords in `dovecot-keywords`, the internal
//! date as mtime) or as a tree of mbox files (`DEST/INBOX`, `A/B` as
//! `DEST/A.sbd/B`, mboxrd quoting, flags in `Status:`/`X-Status:`/
//! `X-Keywords:`, the internal date on the `From ` line) — the inverse of
//! `import`. Needs the password. Owns the walk over mailboxes and the
//! report; never changes the account (beyond filing its spool, as any
//! login does) and never writes into a DEST that is not empty.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::mailfmt::{self, maildir::FolderWriter, mbox};
use super::opened::Opened;
use super::password::{self, PasswordArgs};
use super::progress::Progress;
use super::{exit, Global};
use crate::store::account::MailboxName;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Maildir++ (Dovecot, Courier, mutt, isync).
    Maildir,
    /// One mbox file per mailbox (mutt, Thunderbird).
    Mbox,
}

/// `export`'s options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 exported, 65 some messages could not be read \
                        (each is named on stderr), 67 no such user, 73 DEST is not \
                        empty or cannot be written, 77 wrong password, 75 temporary failure."
)]
pub struct ExportArgs {
    /// The account.
    pub name: String,
    /// The directory to create (must not exist, or be empty).
    pub dest: PathBuf,
    /// The output format.
    #[arg(long, value_enum, default_value = "maildir")]
    pub format: Format,
    /// The account's password (prompted for when neither is given).
    #[command(flatten)]
    pub password: PasswordArgs,
}

pub(super) fn run(global: &Global, args: ExportArgs) -> i32 {
    match export(global, &args) {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("crymap-like export: {msg}");
            code
        }
    }
}

fn cant(path: &Path) -> impl Fn(std::io::Error) -> (i32, String) + '_ {
    move |e| (exit::CANTCREAT, format!("{}: {e}", path.display()))
}

fn export(global: &Global, args: &ExportArgs) -> Result<i32, (i32, String)> {
    let dir = password::user_dir(&global.root, &args.name)?;
    if std::fs::read_dir(&args.dest).is_ok_and(|mut d| d.next().is_some()) {
        return Err((
            exit::CANTCREAT,
            format!("{} is not empty", args.dest.display()),
        ));
    }
    password::become_owner(&dir)?;
    std::fs::create_dir_all(&args.dest).map_err(cant(&args.dest))?;
    let opened = Opened::open(&dir, &args.password)?;
    let mailboxes = opened.mailboxes();
    let mut total = 0u64;
    let mut opened_boxes = Vec::new();
    for info in &mailboxes {
        let mb = opened.open_mailbox(info)?;
        total += mb
            .uids()
            .filter_map(|u| mb.info(u))
            .map(|i| u64::from(i.size))
            .sum::<u64>();
        opened_boxes.push((info.name.clone(), mb));
    }
    let mut progress = Progress::new(total, "export");
    let (mut written, mut failed) = (0u64, 0u64);
    for (name, mb) in opened_boxes {
        let mut sink = Sink::open(&args.dest, &name, args.format)?;
        for uid in mb.uids().collect::<Vec<_>>() {
            let Some(info) = mb.info(uid) else { continue };
            progress.message(u64::from(info.size));
            let content = mb.open_message(uid).and_then(|mut r| Ok(r.read_all()?));
            let content = match content {
                Ok(c) => c,
                Err(e) => {
                    failed += 1;
                    progress.report(&format!(
                        "crymap-like export: {name} UID {uid} not exported: {e}"
                    ));
                    continue;
                }
            };
            let dropped = sink.write(&content, &info.flags, info.internal)?;
            if !dropped.is_empty() {
                progress.report(&format!(
                    "crymap-like export: {name} UID {uid}: keywords beyond Maildir's 26 \
                     letters dropped: {}",
                    dropped.join(" ")
                ));
            }
            written += 1;
        }
        sink.finish()?;
    }
    progress.finish();
    eprintln!("crymap-like export: {written} messages exported, {failed} unreadable");
    Ok(if failed > 0 { exit::DATAERR } else { exit::OK })
}

/// Where one mailbox goes.
enum Sink {
    Maildir(FolderWriter),
    Mbox(PathBuf, BufWriter<std::fs::File>),
}

impl Sink {
    fn open(dest: &Path, name: &MailboxName, format: Format) -> Result<Sink, (i32, String)> {
        match format {
            Format::Maildir => {
                let dir = if name.is_inbox() {
                    dest.to_path_buf()
                } else {
                    let parts: Vec<String> = name
                        .as_str()
                        .split('/')
                        .map(crate::imap::wire::mutf7::encode)
                        .collect();
                    dest.join(format!(".{}", parts.join(".")))
                };
                Ok(Sink::Maildir(
                    FolderWriter::create(&dir).map_err(cant(&dir))?,
                ))
            }
            Format::Mbox => {
                let parts: Vec<&str> = name.as_str().split('/').collect();
                let mut path = dest.to_path_buf();
                for (i, p) in parts.iter().enumerate() {
                    if i + 1 == parts.len() {
                        path.push(p);
                    } else {
                        path.push(format!("{p}.sbd"));
                    }
                }
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(cant(parent))?;
                }
                let f = std::fs::File::create(&path).map_err(cant(&path))?;
                Ok(Sink::Mbox(path, BufWriter::new(f)))
            }
        }
    }

    fn write(
        &mut self,
        content: &[u8],
        flags: &[crate::store::types::Flag],
        internal: crate::store::types::InternalDate,
    ) -> Result<Vec<String>, (i32, String)> {
        match self {
            Sink::Maildir(w) => w
                .write(content, flags, internal)
                .map_err(|e| (exit::CANTCREAT, e.to_string())),
            Sink::Mbox(path, out) => {
                mbox::write_message(out, &mailfmt::to_lf(content), flags, internal)
                    .map_err(cant(path))?;
                Ok(Vec::new())
            }
        }
    }

    fn finish(self) -> Result<(), (i32, String)> {
        match self {
            Sink::Maildir(w) => w.finish().map_err(|e| (exit::CANTCREAT, e.to_string())),
            Sink::Mbox(path, out) => {
                let f = out.into_inner().map_err(|e| cant(&path)(e.into_error()))?;
                f.sync_all().map_err(cant(&path))
            }
        }
    }
}
