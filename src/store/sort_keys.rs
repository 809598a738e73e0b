//! The sealed per-mailbox cache of what SORT and THREAD need of each
//! message (its Date header's instant and its `SortFields`), stored as
//! `mailboxes/ID/sortkeys`: one file to unseal where the summaries are one
//! file per message, so the first SORT of a session on a large mailbox
//! does not open every summary. Only a cache of the summaries (which stay
//! the truth): a missing, oversized, tampered or stale file costs the
//! reader the summaries, never a wrong answer. Owns that file's format and
//! sealing; never decides what to sort.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::account::{MailboxId, UidValidity};
use super::types::{MessageName, Uid};
use crate::crypto::seal;
use crate::crypto::secret::SecretKey;
use crate::mime::sort::SortFields;
use crate::sys::durable::{Durability, NewFile};

/// Largest file read (and written): a user-writable file is never read
/// without a bound. 100,000 ordinary messages take some 20 MB; a mailbox
/// whose keys do not fit is sorted from its summaries.
pub(crate) const MAX_FILE: u64 = 256 << 20;

/// The marker of this format, inside the sealed text.
const FORMAT: &[u8] = b"CLK1";

/// One message's keys as stored: the message file's name binds the entry
/// to the message the UID names now (a reused or replayed entry whose
/// name differs is ignored).
#[derive(Serialize, Deserialize)]
struct Entry {
    uid: u32,
    name: MessageName,
    date: Option<i64>,
    fields: SortFields,
}

/// One stored entry as read: UID, message file name, Date header instant,
/// sort fields.
pub(crate) type StoredKeys = (Uid, MessageName, Option<i64>, SortFields);

/// The cache file of the mailbox stored in `mailbox_dir`.
pub(crate) fn path(mailbox_dir: &Path) -> PathBuf {
    mailbox_dir.join("sortkeys")
}

fn aad(id: &MailboxId, uid_validity: UidValidity) -> Vec<u8> {
    format!("crymap-like sortkeys {id} {} v1", uid_validity.get()).into_bytes()
}

/// Reads and opens the cache; entries as stored (the caller checks each
/// against the mailbox). `None` when there is none or it cannot be used.
pub(crate) fn read(
    file: &Path,
    key: &SecretKey,
    id: &MailboxId,
    uid_validity: UidValidity,
) -> Option<Vec<StoredKeys>> {
    let sealed = match read_bounded(file) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            log::warn!("{}: {e}; sorting from the summaries", file.display());
            return None;
        }
    };
    let Ok(plain) = seal::open(key, &aad(id, uid_validity), &sealed) else {
        log::warn!(
            "{} failed authentication; sorting from the summaries",
            file.display()
        );
        return None;
    };
    let plain: Zeroizing<Vec<u8>> = plain;
    let entries: Vec<Entry> = postcard::from_bytes(plain.strip_prefix(FORMAT)?).ok()?;
    Some(
        entries
            .into_iter()
            .filter_map(|e| Some((Uid::new(e.uid)?, e.name, e.date, e.fields)))
            .collect(),
    )
}

/// Seals `entries` and puts them in place (not synced: a cache).
pub(crate) fn write(
    tmp_dir: &Path,
    file: &Path,
    key: &SecretKey,
    id: &MailboxId,
    uid_validity: UidValidity,
    entries: &[(Uid, MessageName, Option<i64>, &SortFields)],
) -> io::Result<()> {
    let list: Vec<EntryRef<'_>> = entries
        .iter()
        .map(|&(uid, name, date, fields)| EntryRef {
            uid: uid.get(),
            name,
            date,
            fields,
        })
        .collect();
    let body = postcard::to_stdvec(&list).map_err(io::Error::other)?;
    let plain = Zeroizing::new([FORMAT, &body].concat());
    if plain.len() as u64 + 64 > MAX_FILE {
        return Err(io::Error::other("sort keys too large to cache"));
    }
    let sealed = seal::seal(key, &aad(id, uid_validity), &plain);
    let mut staged = NewFile::create(tmp_dir).map_err(io::Error::other)?;
    staged.write_all(&sealed).map_err(io::Error::other)?;
    staged
        .place(file, Durability::Deferred)
        .map_err(io::Error::other)
}

/// [`Entry`] borrowing its fields, for writing.
#[derive(Serialize)]
struct EntryRef<'a> {
    uid: u32,
    name: MessageName,
    date: Option<i64>,
    fields: &'a SortFields,
}

/// The whole file, refusing links, non-files and anything over
/// [`MAX_FILE`].
fn read_bounded(file: &Path) -> io::Result<Vec<u8>> {
    crate::sys::durable::read_bounded(file, MAX_FILE)
}
