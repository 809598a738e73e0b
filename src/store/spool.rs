//! The delivery spool (`spool/NAME`): messages delivered while the user is
//! offline. `deliver` (no master key) writes an entry as a message file
//! wrapped to the account's current public key, with the delivery
//! instructions sealed inside it; a logged-in session later files each
//! entry into its mailbox exactly once. Owns the spool entry format, bare
//! LF to CRLF conversion and the filing protocol; never writes a change log
//! directly (filing goes through [`Mailbox`]).
//!
//! Filing order, crash-safe at every step: hard-link `spool/NAME` to
//! `mailboxes/ID/msg/XX/NAME`; write the summary; under the mailbox lock,
//! log the add unless a record already names `NAME` (a previous attempt
//! got that far); unlink the spool entry.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::account::{AccountLog, MailboxName};
use super::crash;
use super::mailbox::{Mailbox, MailboxError, UserKeys, MAX_MESSAGE_SIZE};
use super::message_file::{self, MessageFileError, SealedMessage};
use super::types::{Flag, InternalDate, MessageName, Uid};
use super::StoreError;
use crate::crypto::keystore::{wrap_to_public, KeyStore};
use crate::crypto::secret::SecretKey;
use crate::crypto::CryptoError;
use crate::sys::durable::{self, FsError};

/// What `deliver` asks of the filing session, sealed in the spool entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryInstructions {
    /// Target mailbox name; INBOX when `None` or when it does not exist
    /// and `create` is false.
    pub mailbox: Option<String>,
    /// Initial flags.
    pub flags: Vec<Flag>,
    /// Create the target mailbox if missing.
    pub create: bool,
    /// Arrival time (INTERNALDATE).
    pub received: InternalDate,
    /// The `+detail` of the recipient address: the entry is filed into
    /// that mailbox when it exists and the account's
    /// [`DETAIL_SETTING`](super::delivery::DETAIL_SETTING) is `yes`, unless
    /// `mailbox` names a target.
    pub detail: Option<String>,
}

/// The instructions of entries written before `detail` existed, still
/// decoded so that no spooled message is stranded by an upgrade.
#[derive(Deserialize)]
struct InstructionsV1 {
    mailbox: Option<String>,
    flags: Vec<Flag>,
    create: bool,
    received: InternalDate,
}

impl DeliveryInstructions {
    /// Decodes the sealed instructions of an entry, in either format.
    fn decode(bytes: &[u8]) -> Result<DeliveryInstructions, postcard::Error> {
        postcard::from_bytes::<DeliveryInstructions>(bytes).or_else(|e| {
            let v1: InstructionsV1 = postcard::from_bytes(bytes).map_err(|_| e)?;
            Ok(DeliveryInstructions {
                mailbox: v1.mailbox,
                flags: v1.flags,
                create: v1.create,
                received: v1.received,
                detail: None,
            })
        })
    }
}

/// Errors of the spool.
#[derive(Debug, Error)]
pub enum SpoolError {
    /// The entry's content key was wrapped to a public key that is not the
    /// account's (a replaced `keys/NAME.pub`): it stays in the spool,
    /// unreadable to the user, and is reported.
    #[error("spool entry {name} was sealed to a public key that is not this account's")]
    ForeignKey {
        /// The entry.
        name: MessageName,
    },
    /// No usable public key (the account has none, or it is unreadable).
    #[error("no public key to deliver to: {0}")]
    NoKey(CryptoError),
    /// Wrapping the content key failed.
    #[error("wrapping the content key: {0}")]
    Wrap(CryptoError),
    /// Writing or reading the entry failed.
    #[error(transparent)]
    MessageFile(#[from] MessageFileError),
    /// The spool directory or an entry's name failed (the step and the
    /// path are in the error).
    #[error(transparent)]
    Io(#[from] FsError),
    /// The instructions inside an entry are unreadable.
    #[error("spool entry {name}: {reason}")]
    BadEntry {
        /// The entry.
        name: MessageName,
        /// What is wrong.
        reason: String,
    },
    /// Filing into the mailbox failed.
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    /// The account log failed (looking up or creating the target).
    #[error(transparent)]
    Account(#[from] StoreError),
}

/// Converts bare LF line ends to CRLF while reading, leaving CRLF alone.
pub struct CrlfReader<R> {
    inner: R,
    prev_cr: bool,
    pending_lf: bool,
}

impl<R: Read> CrlfReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> CrlfReader<R> {
        CrlfReader {
            inner,
            prev_cr: false,
            pending_lf: false,
        }
    }
}

impl<R: Read> Read for CrlfReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(first) = out.first_mut() else {
            return Ok(0);
        };
        if self.pending_lf {
            *first = b'\n';
            self.pending_lf = false;
            self.prev_cr = false;
            return Ok(1);
        }
        // Read at most half the room so every byte fits even if each
        // becomes two; a one-byte buffer gets the LF on the next call.
        let mut buf = vec![0u8; (out.len() / 2).max(1)];
        let got = self.inner.read(&mut buf)?;
        let mut n = 0;
        for &b in buf.iter().take(got) {
            let mut push = |v: u8| match out.get_mut(n) {
                Some(slot) => {
                    *slot = v;
                    n += 1;
                    true
                }
                None => false,
            };
            if b == b'\n' && !self.prev_cr {
                push(b'\r');
                if !push(b'\n') {
                    self.pending_lf = true;
                }
            } else {
                push(b);
            }
            self.prev_cr = b == b'\r';
        }
        Ok(n)
    }
}

/// Writes a spool entry for the account in `user_dir` from `content`
/// (bare LFs become CRLF), encrypted to the current public key; needs no
/// secret of the account. Returns the entry's name once it is durable.
/// Content over 64 MiB is refused with [`MessageFileError::TooLarge`] and
/// leaves nothing behind.
pub fn deliver(
    user_dir: &Path,
    content: &mut dyn Read,
    instructions: &DeliveryInstructions,
) -> Result<MessageName, SpoolError> {
    deliver_named(user_dir, MessageName::random(), content, instructions)
}

/// [`deliver`] under a name the caller chose (fresh from
/// [`MessageName::random`]), so that a caller whose writer died (LMTP's
/// parent, an interrupted `import`) can tell with [`is_delivered`] whether
/// the entry was made durable.
pub fn deliver_named(
    user_dir: &Path,
    name: MessageName,
    content: &mut dyn Read,
    instructions: &DeliveryInstructions,
) -> Result<MessageName, SpoolError> {
    let dest = user_dir.join("spool").join(name.to_string());
    write_entry(
        user_dir,
        name,
        content,
        instructions,
        &dest,
        message_file::Durability::Now,
    )?;
    crash::point("deliver.after-rename");
    retire_old_password(user_dir);
    Ok(name)
}

/// Deliveries also retire expired password backups, so an old password
/// stops working even for a user who does not log in. Best effort: the
/// message is already delivered.
fn retire_old_password(user_dir: &Path) {
    if let Err(e) = super::user_file::retire_old_backups(user_dir, chrono::Utc::now()) {
        log::warn!("retiring old user.toml backups: {e}");
    }
}

/// Writes the sealed entry `name` at `dest` (through `tmp/`).
fn write_entry(
    user_dir: &Path,
    name: MessageName,
    content: &mut dyn Read,
    instructions: &DeliveryInstructions,
    dest: &Path,
    durability: message_file::Durability,
) -> Result<(), SpoolError> {
    let keys = KeyStore::new(user_dir.join("keys"));
    let (key_name, public) = keys
        .current_public(chrono::Utc::now())
        .map_err(SpoolError::NoKey)?;
    let content_key = SecretKey::generate();
    let wrapped = wrap_to_public(&key_name, &public, &content_key).map_err(SpoolError::Wrap)?;
    let extra = postcard::to_stdvec(instructions).map_err(|e| SpoolError::BadEntry {
        name,
        reason: format!("encoding instructions: {e}"),
    })?;
    let mut crlf = CrlfReader::new(content);
    message_file::write(
        &user_dir.join("tmp"),
        dest,
        name,
        message_file::Keys {
            wrapped: &wrapped,
            content_key: &content_key,
        },
        &mut crlf,
        message_file::HeaderData {
            extra: Some(&extra),
            // Sealing it needs the master key, which delivery never has:
            // the summary goes beside the file when it is filed.
            sealed_summary: None,
        },
        MAX_MESSAGE_SIZE,
        "deliver.before-rename",
        durability,
    )?;
    Ok(())
}

/// A spool entry written and synced under `tmp/` but not yet in `spool/`:
/// the expensive part of a delivery, done ahead so that the commit is one
/// rename. Dropped without [`Staged::commit`], it is removed (and if the
/// process dies first, it is an ordinary `tmp/*.tmp` file that garbage
/// collection removes after 24 hours).
#[derive(Debug)]
pub struct Staged {
    user_dir: PathBuf,
    name: MessageName,
    committed: bool,
}

fn staged_path(user_dir: &Path, name: MessageName) -> PathBuf {
    user_dir.join("tmp").join(format!("{name}.staged.tmp"))
}

/// Like [`deliver_named`], but stops before the entry becomes visible.
pub fn stage(
    user_dir: &Path,
    name: MessageName,
    content: &mut dyn Read,
    instructions: &DeliveryInstructions,
) -> Result<Staged, SpoolError> {
    // Only the file's own content must be durable before the commit's
    // rename (fsynced while it is still open, before it gets its staged
    // name); that name under tmp/ never needs to be.
    let path = staged_path(user_dir, name);
    write_entry(
        user_dir,
        name,
        content,
        instructions,
        &path,
        message_file::Durability::ContentNow,
    )?;
    Ok(Staged {
        user_dir: user_dir.to_owned(),
        name,
        committed: false,
    })
}

impl Staged {
    /// Makes the entry visible in `spool/` and durable: the commit point.
    pub fn commit(mut self) -> Result<MessageName, SpoolError> {
        crash::point("deliver.before-commit");
        let from = staged_path(&self.user_dir, self.name);
        let to = self.user_dir.join("spool").join(self.name.to_string());
        // Once renamed the entry is committed, even if the directory's
        // fsync then fails: it must not be removed as an uncommitted one.
        let renamed = durable::rename_into(&from, &to);
        self.committed = renamed.is_ok() || to.exists();
        renamed?;
        crash::point("deliver.after-rename");
        retire_old_password(&self.user_dir);
        Ok(self.name)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(staged_path(&self.user_dir, self.name));
        }
    }
}

/// Whether the delivery named `name` happened: its entry is still in the
/// spool, or a session already filed it into some mailbox (a filed entry
/// keeps its name). Needs no secret.
pub fn is_delivered(user_dir: &Path, name: &MessageName) -> bool {
    // Run by root on the user's directory: nothing here follows a link
    // the user may have planted, and only a regular file counts.
    let regular = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    let spool = user_dir.join("spool");
    if regular(&spool.join(name.to_string())) {
        // The child may have been stopped between its rename and the
        // spool directory's fsync: make the name durable before the MTA
        // is told 250.
        return sync_spool_dir(&spool).is_ok();
    }
    let Ok(boxes) = fs::read_dir(user_dir.join("mailboxes")) else {
        return false;
    };
    boxes.flatten().any(|b| {
        regular(
            &b.path()
                .join("msg")
                .join(name.fanout())
                .join(name.to_string()),
        )
    })
}

/// fsync of `spool/`, refusing a link or anything but a directory.
fn sync_spool_dir(spool: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(
            nix::libc::O_DIRECTORY
                | nix::libc::O_NOFOLLOW
                | nix::libc::O_NONBLOCK
                | nix::libc::O_CLOEXEC,
        )
        .open(spool)?
        .sync_all()
}

/// One spool entry filed by [`file_pending`].
#[derive(Debug, PartialEq, Eq)]
pub struct Filed {
    /// The entry.
    pub name: MessageName,
    /// Target mailbox name.
    pub mailbox: String,
    /// The new UID, `None` if an earlier interrupted attempt had logged it.
    pub uid: Option<Uid>,
}

/// Files every spool entry of the account in `user_dir` into its mailbox,
/// exactly once each. An entry that cannot be read is left in place and
/// reported in the second list; the others are still filed.
pub fn file_pending(
    user_dir: &Path,
    keys: &Arc<UserKeys>,
    account: &mut AccountLog,
) -> Result<(Vec<Filed>, Vec<SpoolError>), SpoolError> {
    let spool = user_dir.join("spool");
    let mut names: Vec<MessageName> = fs::read_dir(&spool)
        .map_err(FsError::at("listing", &spool))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(MessageName::parse))
        .collect();
    // One stat per entry, not one per comparison.
    names.sort_by_cached_key(|n| {
        fs::metadata(spool.join(n.to_string()))
            .and_then(|m| m.modified())
            .ok()
    });
    let mut filed = Vec::new();
    let mut failed = Vec::new();
    for name in names {
        match file_one(user_dir, keys, account, name) {
            Ok(f) => filed.push(f),
            Err(e) => {
                log::error!("spool entry {name} not filed: {e}");
                failed.push(e);
            }
        }
    }
    Ok((filed, failed))
}

fn file_one(
    user_dir: &Path,
    keys: &Arc<UserKeys>,
    account: &mut AccountLog,
    name: MessageName,
) -> Result<Filed, SpoolError> {
    let entry = user_dir.join("spool").join(name.to_string());
    let sealed = SealedMessage::open(&entry, name)?;
    let content_key = keys
        .keystore()
        .unwrap(keys.master(), sealed.wrapped_key())
        .map_err(|e| match e {
            // The private half opened (it is genuine), yet the wrapped key
            // does not: it was wrapped to another public key.
            CryptoError::Authentication { .. } => SpoolError::ForeignKey { name },
            e => SpoolError::BadEntry {
                name,
                reason: format!("unwrapping its key: {e}"),
            },
        })?;
    let mut reader = sealed.decrypt(&content_key)?;
    let instructions =
        DeliveryInstructions::decode(reader.extra().unwrap_or(&[])).map_err(|e| {
            SpoolError::BadEntry {
                name,
                reason: format!("instructions do not decode: {e}"),
            }
        })?;
    account.refresh()?;
    let target = resolve_target(account, &instructions)?;
    let info = account
        .state()
        .mailbox(&target)
        .cloned()
        .ok_or_else(|| SpoolError::BadEntry {
            name,
            reason: format!("target mailbox {target} vanished"),
        })?;
    let mut mailbox = Mailbox::open(keys.clone(), user_dir, &info.id, info.uid_validity)?;
    // The entry stays in the spool while its target does not verify.
    mailbox.refuse_if_read_only()?;
    let dest = mailbox.message_path(&name);
    if !durable::link_exclusive(&entry, &dest)? && !durable::same_file(&entry, &dest) {
        // Not an earlier attempt of this filing (that leaves `dest` a link
        // of the entry): another file already has the name. Names are
        // random, so the entry was made to collide, by someone holding the
        // account's public key; filing it would seal a summary of its
        // content under the name of the message already there.
        return Err(SpoolError::BadEntry {
            name,
            reason: format!("{} is another file", dest.display()),
        });
    }
    crash::point("spool.after-link");
    let raw = reader.read_all()?;
    mailbox.write_summary_for(&name, &raw)?;
    let size = u32::try_from(raw.len()).map_err(|_| MessageFileError::TooLarge {
        limit: MAX_MESSAGE_SIZE,
    })?;
    let uid = mailbox.add_delivered(name, size, &instructions.flags, instructions.received)?;
    crash::point("spool.after-log");
    fs::remove_file(&entry).map_err(FsError::at("removing", &entry))?;
    let spool = user_dir.join("spool");
    durable::sync_dir(&spool)?;
    Ok(Filed {
        name,
        mailbox: target.to_string(),
        uid,
    })
}

fn resolve_target(
    account: &mut AccountLog,
    instructions: &DeliveryInstructions,
) -> Result<MailboxName, SpoolError> {
    let detail_allowed = account
        .state()
        .setting(super::delivery::DETAIL_SETTING)
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let wanted = match (&instructions.mailbox, &instructions.detail) {
        (Some(m), _) => m.as_str(),
        (None, Some(d)) if detail_allowed => match MailboxName::parse(d) {
            Ok(parsed) if account.state().mailbox(&parsed).is_some() => return Ok(parsed),
            _ => return Ok(MailboxName::inbox()),
        },
        (None, _) => return Ok(MailboxName::inbox()),
    };
    let Ok(parsed) = MailboxName::parse(wanted) else {
        log::warn!("delivery to an invalid mailbox name; filing into INBOX");
        return Ok(MailboxName::inbox());
    };
    if account.state().mailbox(&parsed).is_some() {
        return Ok(parsed);
    }
    if instructions.create {
        match account.create(wanted, &[]) {
            Ok(_) | Err(StoreError::MailboxExists { .. }) => return Ok(parsed),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(MailboxName::inbox())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_delivered` runs as root (the LMTP parent) on the user's
    /// directory: a link planted where an entry would be, or a planted
    /// `spool` link, is no delivery; a genuine entry is, and its directory
    /// is synced.
    #[test]
    fn hostile_links_are_not_deliveries() {
        let dir = std::env::temp_dir().join(format!("spool-delivered-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("spool")).unwrap();
        let name = MessageName::from_bytes([9; 16]);
        let entry = dir.join("spool").join(name.to_string());
        std::os::unix::fs::symlink("/etc/hostname", &entry).unwrap();
        assert!(!is_delivered(&dir, &name));
        fs::remove_file(&entry).unwrap();
        fs::write(&entry, b"sealed").unwrap();
        assert!(is_delivered(&dir, &name));
        fs::rename(dir.join("spool"), dir.join("real")).unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("spool")).unwrap();
        assert!(!is_delivered(&dir, &name));
        fs::remove_dir_all(dir).unwrap();
    }

    /// Anyone with the account's public key can write a spool entry under
    /// a name of their choosing. One named like a filed message used to
    /// be "already filed": its content's summary was sealed under that
    /// name (`msg/XX/NAME.sum`), and a format-2 file of the message (or a
    /// format-3 one whose header summary was stripped) then answered
    /// ENVELOPE and SEARCH from the stranger's text. Now the entry is
    /// refused and left in the spool, and the message keeps its own.
    #[test]
    fn hostile_entry_under_a_filed_messages_name_is_refused() {
        use crate::store::test_fixture::Fixture;
        let f = Fixture::new("spool-clash");
        let mut mb = f.open("INBOX");
        let raw = b"From: a@example.test\r\nSubject: genuine\r\n\r\nbody\r\n";
        let uid = mb.append(raw, &[], InternalDate::now()).unwrap();
        // The fixture's INBOX was empty: the one message file under
        // `mailboxes/` is this message's.
        let mut names = Vec::new();
        for b in fs::read_dir(f.user.join("mailboxes")).unwrap().flatten() {
            for d in fs::read_dir(b.path().join("msg"))
                .into_iter()
                .flatten()
                .flatten()
            {
                for m in fs::read_dir(d.path()).into_iter().flatten().flatten() {
                    names.extend(m.file_name().to_str().and_then(MessageName::parse));
                }
            }
        }
        let [name] = names[..] else {
            panic!("{names:?}")
        };
        let forged = b"From: boss@example.test\r\nSubject: forged\r\n\r\npay\r\n";
        let instructions = DeliveryInstructions {
            mailbox: None,
            flags: Vec::new(),
            create: false,
            received: InternalDate::now(),
            detail: None,
        };
        deliver_named(&f.user, name, &mut &forged[..], &instructions).unwrap();
        let mut account = AccountLog::open(&f.user, f.keys.master()).unwrap();
        let (filed, failed) = file_pending(&f.user, &f.keys, &mut account).unwrap();
        assert!(filed.is_empty(), "{filed:?}");
        assert!(
            matches!(failed.as_slice(), [SpoolError::BadEntry { name: n, .. }] if *n == name),
            "{failed:?}"
        );
        assert!(!super::super::summary::path_for(&mb.message_path(&name)).exists());
        assert!(is_delivered(&f.user, &name), "left in the spool");
        let mb = f.open("INBOX");
        assert_eq!(
            mb.summary(uid).unwrap().envelope.subject.as_deref(),
            Some(&b"genuine"[..])
        );
    }

    fn convert(input: &[u8], out_buf: usize) -> Vec<u8> {
        let mut r = CrlfReader::new(input);
        let mut out = Vec::new();
        let mut buf = vec![0u8; out_buf];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        for size in [1, 2, 3, 7, 4096] {
            assert_eq!(convert(b"a\nb\r\nc\n\n", size), b"a\r\nb\r\nc\r\n\r\n");
            assert_eq!(convert(b"", size), b"");
            assert_eq!(convert(b"\r\r\n", size), b"\r\r\n");
        }
    }
}
