//! The integrity check of one account (`crymap-like check`): opens every
//! log, verifies every record, every message file (its whole AEAD stream
//! and its size), every summary, every key pair and every spool entry, and
//! says what is damaged or missing in plain words. With `repair` it
//! recomputes what can be recomputed — summaries from their messages, and
//! a fresh snapshot of a mailbox whose log has damaged records, so later
//! readers start past them — and nothing else: it never deletes or
//! rewrites a message, a record or a key.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::account::AccountLog;
use super::change_log::ChangeLog;
use super::credentials::UnlockedAccount;
use super::message_file::SealedMessage;
use super::summary;
use super::types::{MessageName, Uid};
use crate::crypto::keystore::{KeyName, KeyStore};
use crate::crypto::secret::MasterKey;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Mail or metadata is lost or unreadable.
    Damaged,
    /// Something that should exist does not.
    Missing,
    /// Harmless, reported for completeness (e.g. an unreferenced file that
    /// garbage collection will remove).
    Note,
}

/// One thing `check` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Where (a mailbox name, a key, a file).
    pub place: String,
    /// What, in plain words.
    pub what: String,
    /// Whether `repair` restored it.
    pub repaired: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Damaged => "damaged",
            Severity::Missing => "missing",
            Severity::Note => "note",
        };
        write!(f, "{sev}: {}: {}", self.place, self.what)?;
        if self.repaired {
            write!(f, " (repaired)")?;
        }
        Ok(())
    }
}

/// What `check` saw.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
    /// Key pairs verified.
    pub keys: u64,
    /// Mailboxes whose logs were opened.
    pub mailboxes: u64,
    /// Messages whose files were decrypted in full.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Spool entries verified.
    pub spool: u64,
}

impl Report {
    /// Findings that are neither notes nor repaired.
    pub(crate) fn unrepaired(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity != Severity::Note && !f.repaired)
            .count()
    }

    fn add(&mut self, severity: Severity, place: impl Into<String>, what: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            place: place.into(),
            what: what.into(),
            repaired: false,
        });
    }

    fn repaired(&mut self) {
        if let Some(f) = self.findings.last_mut() {
            f.repaired = true;
        }
    }
}

/// Checks the account in `user_dir`. `progress` is called with the size
/// of every message verified (to drive a progress bar). A failure to
/// open the account at all is an `Err`; everything else is a finding.
pub(crate) fn check(
    user_dir: &Path,
    unlocked: &UnlockedAccount,
    repair: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, super::StoreError> {
    let master = unlocked.master_key();
    let mut report = Report::default();
    let keystore = KeyStore::new(user_dir.join("keys"));
    check_keys(user_dir, &keystore, master, &mut report);

    let (account, skipped) = AccountLog::open_skipping_damaged(user_dir, master)?;
    for offset in skipped {
        report.add(
            Severity::Damaged,
            "account log",
            format!(
                "record at offset {offset} fails authentication; the change it held \
                 (a mailbox created, renamed or deleted, a subscription or a setting) is lost"
            ),
        );
    }
    if let Some(problem) = account.problem() {
        report.add(Severity::Damaged, "account log", problem);
    }
    let mut mailboxes: Vec<_> = account.state().mailboxes().cloned().collect();
    mailboxes.sort_by(|a, b| a.name.cmp(&b.name));
    let tmp = user_dir.join("tmp");
    let summary_key = master.subkey("message-summary");
    let mut known_dirs = HashSet::new();
    for info in &mailboxes {
        let place = info.name.to_string();
        let id = info.id.to_string();
        known_dirs.insert(id.clone());
        let dir = user_dir.join("mailboxes").join(&id);
        let (mut log, mut state) = match ChangeLog::open(&dir, &tmp, &id, master) {
            Ok(x) => x,
            Err(e) => {
                report.add(
                    Severity::Damaged,
                    &place,
                    format!("its log cannot be read, so none of its messages can be listed: {e}"),
                );
                continue;
            }
        };
        report.mailboxes += 1;
        let damaged = log.damaged_records();
        if let (0, Some(problem)) = (damaged, log.problem()) {
            // Damaged records are reported below; this is what only the
            // high-water mark shows (a rolled-back or unverifiable log).
            report.add(Severity::Damaged, &place, problem.to_string());
        }
        if damaged > 0 {
            report.add(
                Severity::Damaged,
                &place,
                format!(
                    "{damaged} change-log record(s) fail authentication; the changes they \
                     held (flags, expunges or added messages) are lost"
                ),
            );
            if repair {
                let done = log
                    .lock()
                    .and_then(|lock| log.compact_past_damage(&lock, &mut state));
                match done {
                    Ok(()) => report.repaired(),
                    Err(e) => report.add(
                        Severity::Damaged,
                        &place,
                        format!("snapshot not rewritten: {e}"),
                    ),
                }
            }
        }
        let mut referenced: HashSet<MessageName> = HashSet::new();
        referenced.extend(state.expunged_files.iter().map(|(n, _)| *n));
        for m in state.messages.iter().filter(|m| !m.expunged) {
            referenced.insert(m.name);
            let path = dir
                .join("msg")
                .join(m.name.fanout())
                .join(m.name.to_string());
            progress(u64::from(m.size));
            let (raw, in_file) = match read_message(&path, m.name, &keystore, master) {
                Ok(read) => read,
                Err(Problem::Missing) => {
                    report.add(
                        Severity::Missing,
                        &place,
                        format!("message UID {} has no file ({})", m.uid, path.display()),
                    );
                    continue;
                }
                Err(Problem::Damaged(why)) => {
                    report.add(
                        Severity::Damaged,
                        &place,
                        format!(
                            "message UID {} cannot be read: {why} ({})",
                            m.uid,
                            path.display()
                        ),
                    );
                    continue;
                }
            };
            report.messages += 1;
            report.bytes += raw.len() as u64;
            if raw.len() as u64 != u64::from(m.size) {
                report.add(
                    Severity::Damaged,
                    &place,
                    format!(
                        "message UID {} holds {} bytes, the log says {}",
                        m.uid,
                        raw.len(),
                        m.size
                    ),
                );
            }
            check_summary(
                &mut report,
                &place,
                m.uid,
                &m.name,
                &path,
                in_file.as_deref(),
                &raw,
                &summary_key,
                &tmp,
                repair,
            );
        }
        note_unreferenced(&mut report, &place, &dir, &referenced);
    }
    if let Ok(entries) = fs::read_dir(user_dir.join("mailboxes")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !known_dirs.contains(&name) {
                report.add(
                    Severity::Note,
                    format!("mailboxes/{name}"),
                    "a mailbox directory the account no longer names (a deleted mailbox waiting to be collected)",
                );
            }
        }
    }
    check_spool(user_dir, &keystore, master, &mut report);
    Ok(report)
}

enum Problem {
    Missing,
    Damaged(String),
}

/// The content of the message file at `path` and the summary sealed into
/// its header, if any (still sealed).
fn read_message(
    path: &Path,
    name: MessageName,
    keystore: &KeyStore,
    master: &MasterKey,
) -> Result<(Vec<u8>, Option<Vec<u8>>), Problem> {
    if !path.exists() {
        return Err(Problem::Missing);
    }
    let sealed = SealedMessage::open(path, name).map_err(|e| Problem::Damaged(e.to_string()))?;
    let in_file = sealed.sealed_summary().map(<[u8]>::to_vec);
    let key = keystore
        .unwrap(master, sealed.wrapped_key())
        .map_err(|e| Problem::Damaged(format!("its key cannot be unwrapped: {e}")))?;
    let mut reader = sealed
        .decrypt(&key)
        .map_err(|e| Problem::Damaged(e.to_string()))?;
    let raw = reader
        .read_all()
        .map_err(|e| Problem::Damaged(e.to_string()))?;
    Ok((raw, in_file))
}

#[allow(clippy::too_many_arguments)]
fn check_summary(
    report: &mut Report,
    place: &str,
    uid: Uid,
    name: &MessageName,
    msg_path: &Path,
    in_file: Option<&[u8]>,
    raw: &[u8],
    key: &crate::crypto::secret::SecretKey,
    tmp: &Path,
    repair: bool,
) {
    // As sessions read it: the summary in the file's header first, then
    // the one beside it. One that fails in the header but is sound beside
    // it (written by an earlier repair) is no problem left.
    let header_fails = match in_file.map(|s| summary::open(key, name, s)) {
        Some(Some(blob)) if summary::decode(&blob).is_some() => return,
        Some(_) => true,
        None => false,
    };
    let path = summary::path_for(msg_path);
    let size = raw.len() as u64;
    let problem = match summary::read(&path, key, name, size) {
        Ok(Some(blob)) if summary::decode(&blob).is_some() => return,
        Ok(Some(_)) => (Severity::Damaged, "is of an unknown format"),
        Ok(None) if header_fails => (
            Severity::Damaged,
            "in its file's header fails authentication (it is recomputed from the message when needed)",
        ),
        Ok(None) => (
            Severity::Missing,
            "is missing (it is recomputed from the message when needed)",
        ),
        Err(_) => (
            Severity::Damaged,
            "fails authentication (it is recomputed from the message when needed)",
        ),
    };
    report.add(
        problem.0,
        place,
        format!("summary of message UID {uid} {}", problem.1),
    );
    if repair {
        let blob = summary::compute(raw);
        if summary::write(tmp, &path, key, name, size, &blob).is_ok() {
            report.repaired();
        }
    }
}

fn note_unreferenced(
    report: &mut Report,
    place: &str,
    dir: &Path,
    referenced: &HashSet<MessageName>,
) {
    let Ok(fans) = fs::read_dir(dir.join("msg")) else {
        return;
    };
    for fan in fans.flatten() {
        let Ok(files) = fs::read_dir(fan.path()) else {
            continue;
        };
        for f in files.flatten() {
            let file = f.file_name().to_string_lossy().into_owned();
            let Some(name) = MessageName::parse(file.strip_suffix(".sum").unwrap_or(&file)) else {
                continue;
            };
            if !referenced.contains(&name) && !file.ends_with(".sum") {
                report.add(
                    Severity::Note,
                    place,
                    format!(
                        "file {} belongs to no message (an interrupted append or copy); \
                         garbage collection removes it after 24 hours",
                        f.path().display()
                    ),
                );
            }
        }
    }
}

fn check_keys(user_dir: &Path, keystore: &KeyStore, master: &MasterKey, report: &mut Report) {
    let dir = user_dir.join("keys");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".pub")
                .or_else(|| n.strip_suffix(".priv"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        report.add(
            Severity::Missing,
            "keys",
            format!("no key pair in {}: nothing can be delivered", dir.display()),
        );
    }
    for n in names {
        let place = format!("key {n}");
        let Ok(name) = KeyName::new(n.clone()) else {
            report.add(Severity::Note, place, "not a key name; ignored");
            continue;
        };
        for ext in ["pub", "priv"] {
            if !dir.join(format!("{n}.{ext}")).exists() {
                report.add(Severity::Missing, &place, format!("{n}.{ext} is missing"));
            }
        }
        match keystore.verify_pair(master, &name) {
            Ok(()) => report.keys += 1,
            Err(e) => report.add(
                Severity::Damaged,
                &place,
                format!("{e}: mail encrypted to this key cannot be read"),
            ),
        }
    }
}

fn check_spool(user_dir: &Path, keystore: &KeyStore, master: &MasterKey, report: &mut Report) {
    let spool: PathBuf = user_dir.join("spool");
    let Ok(entries) = fs::read_dir(&spool) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(MessageName::parse)
        else {
            report.add(
                Severity::Damaged,
                format!("spool entry {}", path.display()),
                "its file name is not a message name",
            );
            continue;
        };
        match read_message(&path, name, keystore, master) {
            Ok(_) => report.spool += 1,
            Err(Problem::Missing) => {}
            Err(Problem::Damaged(why)) => report.add(
                Severity::Damaged,
                "spool",
                format!("delivery {} cannot be read: {why}", path.display()),
            ),
        }
    }
}
