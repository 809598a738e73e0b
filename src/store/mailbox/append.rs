//! Messages entering a mailbox: APPEND and MULTIAPPEND (files written and
//! made durable, then one log record), the summary sealed into each file
//! (or beside it when too large), and the filing of a delivered spool
//! entry exactly once. Never removes a
//! file of a logged message and never logs a message whose file is not
//! durable yet.

use std::fs;
use std::path::{Path, PathBuf};

use super::{msg_path, next_batch, now_secs, FlagPlan, Mailbox, MailboxError, MAX_MESSAGE_SIZE};
use crate::crypto::keystore;
use crate::crypto::secret::SecretKey;
use crate::store::crash;
use crate::store::message_file::{self, HeaderData, MessageFileError, MAX_IN_FILE_SUMMARY};
use crate::store::state::{Added, Change, State};
use crate::store::summary;
use crate::store::types::{Flag, InternalDate, MessageName, Uid};
use crate::sys::durable::{self, DirSyncs, Durability};

/// Batches up to this many messages make their files durable one by one
/// (an fsync of each file, then of each directory it changed): on a busy
/// host that costs less, and more predictably, than `syncfs`, which waits
/// for every dirty page of the whole file system, other users' included.
/// Larger batches (MULTIAPPEND, import) use one `syncfs`, which costs the
/// same for 5 files as for 5,000.
pub(crate) const SYNC_EACH_UP_TO: usize = 4;

/// One message of a batch append.
#[derive(Clone, Copy, Debug)]
pub struct NewMessage<'a> {
    /// The raw RFC 5322 message.
    pub raw: &'a [u8],
    /// Its initial flags.
    pub flags: &'a [Flag],
    /// Its INTERNALDATE.
    pub internal: InternalDate,
}

impl Mailbox {
    /// Appends a message; returns its UID. The client learns of it at the
    /// next refresh.
    pub fn append(
        &mut self,
        raw: &[u8],
        flags: &[Flag],
        internal: InternalDate,
    ) -> Result<Uid, MailboxError> {
        let uids = self.append_many(&[NewMessage {
            raw,
            flags,
            internal,
        }])?;
        uids.first().copied().ok_or(MailboxError::UidsExhausted)
    }

    /// Appends several messages at once (MULTIAPPEND): every file is
    /// written and made durable (see [`SYNC_EACH_UP_TO`]), then one log
    /// record adds them all, so the batch is atomic (all or none appear).
    /// Returns their UIDs in order.
    pub fn append_many(&mut self, msgs: &[NewMessage<'_>]) -> Result<Vec<Uid>, MailboxError> {
        self.log.refuse_if_known_bad()?;
        let written = self.write_files(msgs)?;
        crash::point("append.after-file");
        let uids = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let (changes, uids) = added_changes(st, msgs, &written)?;
                Ok((next_batch(st, changes), uids))
            },
        )?;
        crash::point("append.after-log");
        Ok(uids)
    }

    /// Writes the encrypted file and summary of each message and makes
    /// the files durable before any record refers to them; on failure
    /// nothing written stays behind.
    ///
    /// A batch of up to [`SYNC_EACH_UP_TO`] places each file by name first
    /// (renamed into `msg/XX/` unsynced, summary beside it), then fsyncs
    /// the files and, on a second thread at the same time, each directory
    /// whose entries changed ([`durable::SyncHelper::sync_beside`]; the
    /// thread is started first, while the messages are encrypted), so an APPEND
    /// waits for about two sync rounds in all (this one, then the log's)
    /// where it took three. A crash before the syncs returned may leave a
    /// named but empty or torn file that no record refers to: garbage, as
    /// any unreferenced file (`doc/store.md`, "Message files"). A larger
    /// batch places every file unsynced and makes all durable with one
    /// `syncfs`.
    pub(super) fn write_files(
        &self,
        msgs: &[NewMessage<'_>],
    ) -> Result<Vec<Written>, MailboxError> {
        let tmp = self.user_dir.join("tmp");
        let sync_each = msgs.len() <= SYNC_EACH_UP_TO;
        let mut written: Vec<Written> = Vec::with_capacity(msgs.len());
        // The helper thread starts now, while the messages are encrypted.
        let result = durable::with_sync_helper(sync_each, |helper| -> Result<(), MailboxError> {
            let mut dirs = DirSyncs::default();
            let mut unsynced = Vec::new();
            for m in msgs {
                let content_key = SecretKey::generate();
                let wrapped = keystore::wrap_under_master(&self.keys.master, &content_key);
                let name = MessageName::random();
                let path = msg_path(self.log.dir(), &name);
                let keys = message_file::Keys {
                    wrapped: &wrapped,
                    content_key: &content_key,
                };
                // The summary rides in the file's header: one inode per
                // message (`doc/store.md`, "Summaries"). Only one too large
                // for a header gets its own file, after the message's.
                let sealed = self.sealed_summary(&name, m.raw);
                let (in_file, beside) = match sealed {
                    Some(s) if s.len() <= MAX_IN_FILE_SUMMARY => (Some(s), None),
                    other => (None, other),
                };
                let header = HeaderData {
                    extra: None,
                    sealed_summary: in_file.as_deref(),
                };
                let mut raw = m.raw;
                let size = if sync_each {
                    let (size, file) = message_file::write_unsynced(
                        &tmp,
                        &path,
                        name,
                        keys,
                        &mut raw,
                        header,
                        MAX_MESSAGE_SIZE,
                        "append.before-rename",
                        &mut dirs,
                    )?;
                    unsynced.push(file);
                    size
                } else {
                    message_file::write(
                        &tmp,
                        &path,
                        name,
                        keys,
                        &mut raw,
                        header,
                        MAX_MESSAGE_SIZE,
                        "append.before-rename",
                        Durability::Deferred,
                    )?
                };
                let Ok(size) = u32::try_from(size) else {
                    let _ = fs::remove_file(&path);
                    return Err(MessageFileError::TooLarge {
                        limit: MAX_MESSAGE_SIZE,
                    }
                    .into());
                };
                written.push(Written {
                    name,
                    path: path.clone(),
                    size,
                });
                // A summary file is a cache (recomputed from the message
                // when missing or torn): it is never synced on its own.
                // Written before the syncs, its rename rides in the same
                // commit.
                if let Some(sealed) = beside {
                    summary::write_sealed(&tmp, &summary::path_for(&path), size.into(), &sealed)?;
                }
            }
            crash::point("append.after-rename");
            if sync_each {
                Ok(helper
                    .sync_beside(&dirs, &unsynced)
                    .map_err(MessageFileError::from)?)
            } else {
                // One syncfs makes every file and name durable at once.
                Ok(durable::syncfs(self.log.dir()).map_err(MessageFileError::from)?)
            }
        });
        match result {
            Ok(()) => Ok(written),
            Err(e) => {
                remove_written(&written);
                Err(e)
            }
        }
    }

    /// The summary of `raw`, sealed for the message named `name`; `None`
    /// when it does not serialise (readers then recompute it).
    fn sealed_summary(&self, name: &MessageName, raw: &[u8]) -> Option<Vec<u8>> {
        let blob = summary::compute(raw);
        (!blob.is_empty()).then(|| summary::seal(&self.keys.summary_key, name, &blob))
    }

    /// Writes the summary of a message whose file is already in place (a
    /// filed delivery, whose file could not carry it) beside the file.
    fn write_summary(
        &self,
        name: &MessageName,
        path: &Path,
        raw: &[u8],
    ) -> Result<(), MailboxError> {
        if let Some(sealed) = self.sealed_summary(name, raw) {
            summary::write_sealed(
                &self.user_dir.join("tmp"),
                &summary::path_for(path),
                raw.len() as u64,
                &sealed,
            )?;
        }
        Ok(())
    }

    /// Files a delivered message (a spool entry already linked to
    /// `msg/XX/NAME`) exactly once: if a record already names the file, a
    /// previous attempt succeeded and nothing is logged. Returns the UID, or
    /// `None` if it was already filed.
    pub(crate) fn add_delivered(
        &mut self,
        name: MessageName,
        size: u32,
        flags: &[Flag],
        internal: InternalDate,
    ) -> Result<Option<Uid>, MailboxError> {
        let flags = flags.to_vec();
        self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                if st.knows_file(&name) {
                    return Ok((Vec::new(), None));
                }
                if st.uidnext == Uid::MAX {
                    return Err(MailboxError::UidsExhausted);
                }
                let mut plan = FlagPlan::new(st);
                let bits = plan.bits(&flags)?;
                let uid = st.uidnext;
                let mut changes = plan.into_defs();
                changes.push(Change::Added(Added {
                    uid,
                    name,
                    internal,
                    saved: now_secs(),
                    size,
                    flags: bits,
                    move_id: None,
                }));
                Ok((next_batch(st, changes), Some(uid)))
            },
        )
    }

    pub(crate) fn write_summary_for(
        &self,
        name: &MessageName,
        raw: &[u8],
    ) -> Result<(), MailboxError> {
        self.write_summary(name, &self.message_path(name), raw)
    }
}

/// A message file written for a batch, not yet logged.
pub(super) struct Written {
    name: MessageName,
    path: PathBuf,
    size: u32,
}

/// Removes the files of a batch that will not be logged. Unreferenced
/// files would be collected after 24 h anyway; removing them at once keeps
/// a refused batch from using space.
pub(super) fn remove_written(written: &[Written]) {
    for w in written {
        let _ = fs::remove_file(summary::path_for(&w.path));
        let _ = fs::remove_file(&w.path);
    }
}

/// The changes adding `msgs` (whose files are `written`) after `st`:
/// flag definitions first, then one `Added` per message with the next
/// UIDs. Returns them with the UIDs, in order.
pub(super) fn added_changes(
    st: &State,
    msgs: &[NewMessage<'_>],
    written: &[Written],
) -> Result<(Vec<Change>, Vec<Uid>), MailboxError> {
    let mut plan = FlagPlan::new(st);
    let mut adds = Vec::with_capacity(msgs.len());
    let mut next = Some(st.uidnext);
    let mut uids = Vec::with_capacity(msgs.len());
    let saved = now_secs();
    for (m, w) in msgs.iter().zip(written) {
        let uid = next
            .filter(|u| *u != Uid::MAX)
            .ok_or(MailboxError::UidsExhausted)?;
        let bits = plan.bits(m.flags)?;
        adds.push(Change::Added(Added {
            uid,
            name: w.name,
            internal: m.internal,
            saved,
            size: w.size,
            flags: bits,
            move_id: None,
        }));
        uids.push(uid);
        next = uid.next();
    }
    let mut changes = plan.into_defs();
    changes.append(&mut adds);
    Ok((changes, uids))
}
