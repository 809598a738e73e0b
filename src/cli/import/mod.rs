//! `crymap-like import NAME SOURCE...`: brings mail in from Maildir,
//! Maildir++ and mbox (one file, or a directory of them as Thunderbird
//! keeps them, `X.sbd/` holding X's subfolders). Without a password every
//! message is delivered into the spool exactly like `deliver` (with its
//! flags, keywords, date and target mailbox in the sealed instructions);
//! with one, messages are appended directly in batches. Owns the walk
//! over the sources, the mapping of folders to mailboxes and the report;
//! the formats are `mailfmt`'s, the writing the store's, and the
//! exactly-once bookkeeping the `journal`'s. Never modifies a source.

mod journal;

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use journal::{Hash, Journal, JournalError, PendingBatch, PendingDelivery};

use super::mailfmt::{self, maildir, mbox, Content, FolderPath, Skipped, SourceMessage};
use super::opened::Opened;
use super::password::{self, PasswordArgs};
use super::progress::Progress;
use super::{exit, Global};
use crate::config::System;
use crate::store::account::MailboxName;
use crate::store::fts::FtsIndex;
use crate::store::mailbox::{Mailbox, NewMessage};
use crate::store::spool::{self, DeliveryInstructions};
use crate::store::types::{InternalDate, MessageName};
use crate::sys::durable;

/// `import`'s options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 everything imported, 65 some messages were \
                        skipped (each is named on stderr) or the progress journal \
                        was not written by an import, 66 a source is missing, \
                        67 no such user, 77 wrong password, 75 temporary failure."
)]
pub struct ImportArgs {
    /// The account.
    pub name: String,
    /// Maildir(++) directories, mbox files, or directories of mbox files.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// The mailbox a source's top folder goes to (default: INBOX for a
    /// Maildir, the file name for an mbox); subfolders go beneath it.
    #[arg(long, value_name = "NAME")]
    pub mailbox: Option<String>,
    /// Messages per batch when filing directly (one sync each), 1 to
    /// 10000.
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = batch_size)]
    pub batch: usize,
    /// With a password, messages are filed directly instead of spooled.
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// `--batch`: 1 to [`journal::MAX_BATCH`] (a batch is one journal line,
/// and the journal's reader refuses longer lines than that makes).
fn batch_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=journal::MAX_BATCH).contains(&n) => Ok(n),
        _ => Err(format!("a number from 1 to {}", journal::MAX_BATCH)),
    }
}

/// One message ready to write.
struct Ready {
    id: Hash,
    content_hash: Hash,
    raw: Vec<u8>,
    msg: SourceMessage,
}

/// Where messages go.
enum Target {
    Spool,
    Direct(Box<Opened>),
}

struct Run<'a> {
    dir: PathBuf,
    target: Target,
    journal: Journal,
    progress: &'a mut Progress,
    max_size: u64,
    batch_size: usize,
    occurrences: HashMap<(String, Hash), u32>,
    /// The mailbox the last batch went to, kept open: reopening replays
    /// its snapshot, which grows with every batch.
    open: Option<(MailboxName, Mailbox)>,
    /// Mailboxes messages went to directly: indexed at the end.
    touched: Vec<MailboxName>,
    imported: u64,
    already: u64,
    skipped: u64,
}

pub(super) fn run(global: &Global, args: ImportArgs) -> i32 {
    match import(global, &args) {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("crymap-like import: {msg}");
            code
        }
    }
}

fn import(global: &Global, args: &ImportArgs) -> Result<i32, (i32, String)> {
    let dir = password::user_dir(&global.root, &args.name)?;
    let max_size = System::load(&global.root)
        .map(|s| s.config.limits.max_message_size as u64)
        .unwrap_or(crate::store::mailbox::MAX_MESSAGE_SIZE);
    password::become_owner(&dir)?;
    let target = if args.password.given() {
        Target::Direct(Box::new(Opened::open(&dir, &args.password)?))
    } else {
        Target::Spool
    };
    let mut missing = false;
    let mut plans = Vec::new();
    for source in &args.sources {
        match plan(source, args.mailbox.as_deref()) {
            Ok(p) => plans.push((source.clone(), p)),
            Err(reason) => {
                eprintln!("crymap-like import: {}: {reason}", source.display());
                missing = true;
            }
        }
    }
    let total: u64 = plans.iter().map(|(_, p)| p.bytes).sum();
    let mut progress = Progress::new(total, "import");
    let mut target = Some(target);
    let (mut imported, mut already, mut skipped) = (0, 0, 0);
    let mut touched: Vec<MailboxName> = Vec::new();
    for (source, plan) in plans {
        let canonical = source.canonicalize().unwrap_or(source.clone());
        let journal = Journal::open(&Journal::path_for(&dir, &canonical)).map_err(|e| {
            let code = match e {
                // Rerunning will not help: someone has to look at it.
                JournalError::Malformed { .. } => exit::DATAERR,
                JournalError::Io { .. } => exit::TEMPFAIL,
            };
            (code, e.to_string())
        })?;
        let mut run = Run {
            dir: dir.clone(),
            target: target
                .take()
                .ok_or((exit::SOFTWARE, "no target".to_owned()))?,
            journal,
            progress: &mut progress,
            max_size,
            batch_size: args.batch,
            occurrences: HashMap::new(),
            open: None,
            touched: Vec::new(),
            imported: 0,
            already: 0,
            skipped: 0,
        };
        run.resolve_pending()?;
        run.import_plan(plan)?;
        let complete = run.skipped == 0;
        imported += run.imported;
        already += run.already;
        skipped += run.skipped;
        if complete {
            run.journal
                .remove()
                .map_err(|e| (exit::TEMPFAIL, e.to_string()))?;
        }
        for name in run.touched {
            if !touched.contains(&name) {
                touched.push(name);
            }
        }
        target = Some(run.target);
    }
    progress.finish();
    if let Some(Target::Direct(opened)) = &target {
        index(opened, &touched);
    }
    eprintln!(
        "crymap-like import: {imported} imported, {already} already there, {skipped} skipped"
    );
    Ok(if missing {
        exit::NOINPUT
    } else if skipped > 0 {
        exit::DATAERR
    } else {
        exit::OK
    })
}

/// Builds the full-text index of the mailboxes mail was imported into
/// (`doc/fts.md`), so that the first search after a large import does not
/// pay for it. The index is a cache: a failure is reported and left to
/// the first search.
fn index(opened: &Opened, mailboxes: &[MailboxName]) {
    let infos = opened.mailboxes();
    for name in mailboxes {
        // Only mailboxes that still exist: a session may have deleted one
        // during the import, and indexing must not bring it back.
        let Some(info) = infos.iter().find(|i| i.name == *name) else {
            continue;
        };
        let result = opened
            .open_mailbox(info)
            .map_err(|(_, e)| e)
            .and_then(|mb| FtsIndex::default().sync(&mb).map_err(|e| e.to_string()));
        if let Err(e) = result {
            eprintln!(
                "crymap-like import: full-text index of {name}: {e} (left to the first search)"
            );
        }
    }
}

/// What one source holds.
struct Plan {
    folders: Vec<FolderPath>,
    /// Maildir messages, or mbox files with their folder.
    maildir: Vec<SourceMessage>,
    mboxes: Vec<(PathBuf, FolderPath)>,
    skipped: Vec<Skipped>,
    bytes: u64,
}

fn base_folder(mailbox: Option<&str>) -> FolderPath {
    mailbox
        .map(|m| m.split('/').map(str::to_owned).collect())
        .unwrap_or_default()
}

fn plan(source: &Path, mailbox: Option<&str>) -> Result<Plan, String> {
    // metadata() follows links: a loop or a dangling link fails here.
    let meta = std::fs::metadata(source).map_err(|e| format!("cannot open: {e}"))?;
    let mut p = Plan {
        folders: Vec::new(),
        maildir: Vec::new(),
        mboxes: Vec::new(),
        skipped: Vec::new(),
        bytes: 0,
    };
    if meta.is_dir() && maildir::is_maildir(source) {
        let tree = maildir::read_tree(source, &base_folder(mailbox));
        p.folders = tree.folders;
        p.bytes = tree.messages.iter().map(|m| m.size).sum();
        p.maildir = tree.messages;
        p.skipped = tree.skipped;
    } else if meta.is_dir() {
        walk_mbox_dir(source, base_folder(mailbox), &mut p);
    } else if meta.is_file() {
        let folder = match mailbox {
            Some(m) => base_folder(Some(m)),
            None => vec![file_folder_name(source)],
        };
        p.folders.push(folder.clone());
        p.bytes = meta.len();
        p.mboxes.push((source.to_path_buf(), folder));
    } else {
        return Err("neither a directory nor a file".to_owned());
    }
    Ok(p)
}

fn file_folder_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| mailfmt::decode_component(n.as_encoded_bytes()))
        .unwrap_or_else(|| "imported".to_owned());
    if name.eq_ignore_ascii_case("inbox") {
        "INBOX".to_owned()
    } else {
        name
    }
}

/// A directory of mbox files: every regular file that is not a client's
/// index or settings is a folder; `X.sbd/` holds X's subfolders.
fn walk_mbox_dir(dir: &Path, base: FolderPath, p: &mut Plan) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            p.skipped.push(Skipped {
                origin: dir.display().to_string(),
                reason: format!("cannot list: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        if name.starts_with('.') {
            continue;
        }
        if ft.is_dir() {
            let child = name.strip_suffix(".sbd").unwrap_or(&name);
            let mut f = base.clone();
            f.push(mailfmt::decode_component(child.as_bytes()));
            walk_mbox_dir(&e.path(), f, p);
        } else if ft.is_file() {
            let skip_ext = [".msf", ".dat", ".json", ".html", ".sqlite", ".lock"];
            if skip_ext.iter().any(|x| name.ends_with(x)) {
                continue;
            }
            let mut f = base.clone();
            f.push(file_folder_name(&e.path()));
            p.bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            p.folders.push(f.clone());
            p.mboxes.push((e.path(), f));
        } else {
            p.skipped.push(Skipped {
                origin: e.path().display().to_string(),
                reason: "not a regular file".to_owned(),
            });
        }
    }
}

/// Opens an mbox to stream it: the source may be the user's own, so a
/// FIFO (or anything but a regular file) is refused, never waited on. A
/// link is followed: the import already runs as the user.
fn open_mbox(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok(f)
}

fn mailbox_of(folder: &FolderPath) -> Result<MailboxName, String> {
    if folder.is_empty() {
        return Ok(MailboxName::inbox());
    }
    MailboxName::parse(&folder.join("/"))
        .map_err(|e| format!("mailbox name {:?}: {e}", folder.join("/")))
}

impl Run<'_> {
    fn skip(&mut self, origin: &str, reason: &str) {
        self.skipped += 1;
        self.progress
            .report(&format!("crymap-like import: skipped {origin}: {reason}"));
    }

    /// Finishes what an interrupted run left undecided.
    fn resolve_pending(&mut self) -> Result<(), (i32, String)> {
        let temp = |e: &dyn std::fmt::Display| (exit::TEMPFAIL, e.to_string());
        for d in std::mem::take(&mut self.journal.pending_deliveries) {
            let delivered =
                MessageName::parse(&d.name).is_some_and(|n| spool::is_delivered(&self.dir, &n));
            if delivered {
                self.journal.done(&[d.id]).map_err(|e| temp(&e))?;
            }
        }
        let batches = std::mem::take(&mut self.journal.pending_batches);
        let Target::Direct(opened) = &mut self.target else {
            return Ok(());
        };
        for b in batches {
            let Ok(name) = MailboxName::parse(&b.mailbox) else {
                continue;
            };
            let Some(info) = opened.account.state().mailbox(&name).cloned() else {
                continue;
            };
            let mb = opened.open_mailbox(&info)?;
            let mut present: Vec<Hash> = Vec::new();
            for uid in mb.uids().filter(|u| u.get() >= b.uidnext) {
                let mut r = mb.open_message(uid).map_err(|e| temp(&e))?;
                present.push(Hash::of(&r.read_all().map_err(|e| temp(&e))?));
            }
            let done: Vec<Hash> = b
                .items
                .iter()
                .filter(|(_, h)| present.contains(h))
                .map(|(id, _)| *id)
                .collect();
            self.journal.done(&done).map_err(|e| temp(&e))?;
        }
        Ok(())
    }

    fn import_plan(&mut self, plan: Plan) -> Result<(), (i32, String)> {
        for s in &plan.skipped {
            self.skip(&s.origin, &s.reason);
        }
        if let Target::Direct(opened) = &mut self.target {
            for f in &plan.folders {
                if let Ok(name) = mailbox_of(f) {
                    opened.open_or_create(&name)?;
                }
            }
        }
        let mut queue: Vec<Ready> = Vec::new();
        for msg in plan.maildir {
            let raw = match &msg.content {
                // The source may be the user's own Maildir: a file swapped
                // for a FIFO or a link since it was listed is refused, and
                // no more than the limit is read.
                Content::File(path) => match durable::read_bounded(path, self.max_size) {
                    Ok(b) => mailfmt::to_crlf(&b),
                    Err(e) => {
                        let reason = match std::fs::symlink_metadata(path) {
                            Ok(m) if m.is_file() && m.len() > self.max_size => {
                                format!("{} bytes is over the limit of {}", m.len(), self.max_size)
                            }
                            _ => format!("cannot read: {e}"),
                        };
                        self.skip(&msg.origin, &reason);
                        continue;
                    }
                },
                Content::Bytes(b) => mailfmt::to_crlf(b),
            };
            self.offer(msg, raw, &mut queue)?;
        }
        for (path, folder) in plan.mboxes {
            let file = match open_mbox(&path) {
                Ok(f) => f,
                Err(e) => {
                    self.skip(&path.display().to_string(), &format!("cannot read: {e}"));
                    continue;
                }
            };
            let limit = usize::try_from(self.max_size).unwrap_or(usize::MAX);
            for raw in mbox::Reader::with_limit(BufReader::new(file), limit) {
                let raw = match raw {
                    Ok(r) => r,
                    Err(e) => {
                        self.skip(&path.display().to_string(), &format!("read error: {e}"));
                        break;
                    }
                };
                if raw.size > self.max_size {
                    let reason =
                        format!("{} bytes is over the limit of {}", raw.size, self.max_size);
                    self.skip(&format!("{}:{}", path.display(), raw.line), &reason);
                    continue;
                }
                let (content, flags) = mbox::unpack(&raw.bytes);
                let msg = SourceMessage {
                    origin: format!("{}:{}", path.display(), raw.line),
                    folder: folder.clone(),
                    size: raw.bytes.len() as u64,
                    flags,
                    internal: raw.internal,
                    content: Content::Bytes(Vec::new()),
                };
                self.offer(msg, mailfmt::to_crlf(&content), &mut queue)?;
            }
        }
        self.flush(&mut queue)
    }

    /// Checks one message and queues it unless it is already imported.
    fn offer(
        &mut self,
        msg: SourceMessage,
        raw: Vec<u8>,
        queue: &mut Vec<Ready>,
    ) -> Result<(), (i32, String)> {
        self.progress.message(msg.size);
        let mailbox = match mailbox_of(&msg.folder) {
            Ok(m) => m,
            Err(reason) => {
                self.skip(&msg.origin, &reason);
                return Ok(());
            }
        };
        if raw.len() as u64 > self.max_size {
            let reason = format!("{} bytes is over the limit of {}", raw.len(), self.max_size);
            self.skip(&msg.origin, &reason);
            return Ok(());
        }
        if raw.is_empty() {
            self.skip(&msg.origin, "empty message");
            return Ok(());
        }
        let content_hash = Hash::of(&raw);
        let key = (mailbox.to_string(), content_hash);
        let n = self.occurrences.entry(key).or_insert(0);
        let id = Hash::id(mailbox.as_str(), &content_hash, *n);
        *n += 1;
        if self.journal.is_done(&id) {
            self.already += 1;
            return Ok(());
        }
        if queue.first().is_some_and(|q| q.msg.folder != msg.folder)
            || queue.len() >= self.batch_size
        {
            self.flush(queue)?;
        }
        queue.push(Ready {
            id,
            content_hash,
            raw,
            msg,
        });
        Ok(())
    }

    fn flush(&mut self, queue: &mut Vec<Ready>) -> Result<(), (i32, String)> {
        let batch = std::mem::take(queue);
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let temp = |e: &dyn std::fmt::Display| (exit::TEMPFAIL, e.to_string());
        let mailbox = mailbox_of(&first.msg.folder).map_err(|e| (exit::SOFTWARE, e))?;
        match &mut self.target {
            Target::Spool => {
                for r in batch {
                    let name = MessageName::random();
                    let pending = PendingDelivery {
                        id: r.id,
                        name: name.to_string(),
                    };
                    self.journal
                        .begin_delivery(&pending)
                        .map_err(|e| temp(&e))?;
                    let instructions = DeliveryInstructions {
                        mailbox: (!mailbox.is_inbox()).then(|| mailbox.to_string()),
                        flags: r.msg.flags.clone(),
                        create: true,
                        received: r.msg.internal.unwrap_or_else(InternalDate::now),
                        detail: None,
                    };
                    spool::deliver_named(&self.dir, name, &mut &r.raw[..], &instructions)
                        .map_err(|e| temp(&e))?;
                    self.journal.done(&[r.id]).map_err(|e| temp(&e))?;
                    self.imported += 1;
                }
            }
            Target::Direct(opened) => {
                // A UIDNEXT from this handle can only be lower than the
                // true one (others may have appended since), which makes
                // the resolution of an interrupted batch look further,
                // never miss it.
                let mut mb = match self.open.take() {
                    Some((name, mb)) if name == mailbox => mb,
                    _ => opened.open_or_create(&mailbox)?,
                };
                let pending = PendingBatch {
                    mailbox: mailbox.to_string(),
                    uidnext: mb.uidnext().get(),
                    items: batch.iter().map(|r| (r.id, r.content_hash)).collect(),
                };
                self.journal.begin_batch(&pending).map_err(|e| temp(&e))?;
                match append(&mut mb, &batch) {
                    Ok(()) => {
                        let ids: Vec<Hash> = batch.iter().map(|r| r.id).collect();
                        self.journal.done(&ids).map_err(|e| temp(&e))?;
                        self.imported += batch.len() as u64;
                    }
                    Err(_) => {
                        // One bad message (too many keywords, say) must not
                        // sink its batch: retry one by one.
                        for r in &batch {
                            match append(&mut mb, std::slice::from_ref(r)) {
                                Ok(()) => {
                                    self.journal.done(&[r.id]).map_err(|e| temp(&e))?;
                                    self.imported += 1;
                                }
                                Err(e) => {
                                    let origin = r.msg.origin.clone();
                                    self.skip(&origin, &e.to_string());
                                }
                            }
                        }
                    }
                }
                if !self.touched.contains(&mailbox) {
                    self.touched.push(mailbox.clone());
                }
                self.open = Some((mailbox, mb));
            }
        }
        Ok(())
    }
}

fn append(mb: &mut Mailbox, batch: &[Ready]) -> Result<(), crate::store::mailbox::MailboxError> {
    let msgs: Vec<NewMessage<'_>> = batch
        .iter()
        .map(|r| NewMessage {
            raw: &r.raw,
            flags: &r.msg.flags,
            internal: r.msg.internal.unwrap_or_else(InternalDate::now),
        })
        .collect();
    mb.append_many(&msgs).map(|_| ())
}
