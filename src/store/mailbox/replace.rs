//! A message replacing another (what IMAP REPLACE needs, said without
//! IMAP): the new message is added and the old one expunged. Within one
//! mailbox both changes are one log record, so every reader, and the
//! store after a crash, sees the old message or the new one, never both
//! and never neither. Across two mailboxes the new message is logged in
//! its mailbox first and the old one expunged after, both locks held, so
//! a crash between the two leaves both (never neither). Never adds
//! anything when the old message is already expunged.

use super::append::{added_changes, remove_written, NewMessage};
use super::{next_batch, now_secs, Mailbox, MailboxError};
use crate::store::change_log::MailboxLock;
use crate::store::crash;
use crate::store::state::{Change, State};
use crate::store::types::{Uid, UidSet};

impl Mailbox {
    /// Adds `msg` to this mailbox and expunges `old` from it in one log
    /// record. Returns the new message's UID, or
    /// [`MailboxError::AlreadyExpunged`] (and nothing is logged) if `old`
    /// was expunged meanwhile, by this or another session.
    pub fn replace(&mut self, old: Uid, msg: NewMessage<'_>) -> Result<Uid, MailboxError> {
        self.log.refuse_if_known_bad()?;
        let msgs = [msg];
        let written = self.write_files(&msgs)?;
        crash::point("replace.after-file");
        let result = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                refuse_if_gone(st, old)?;
                let (mut changes, uids) = added_changes(st, &msgs, &written)?;
                changes.push(Change::Expunged {
                    uids: UidSet::from_uids([old]),
                    at: now_secs(),
                });
                Ok((next_batch(st, changes), uids))
            },
        );
        let uids = self.unless_gone(result, &written)?;
        crash::point("replace.after-log");
        uids.first().copied().ok_or(MailboxError::UidsExhausted)
    }

    /// Adds `msg` to `dest` (another mailbox) and expunges `old` from this
    /// one, both mailbox locks held (taken in id order, as MOVE takes
    /// them). Returns the new UID in `dest`, or
    /// [`MailboxError::AlreadyExpunged`] with nothing added if `old` is
    /// gone.
    pub fn replace_into(
        &mut self,
        old: Uid,
        dest: &mut Mailbox,
        msg: NewMessage<'_>,
    ) -> Result<Uid, MailboxError> {
        if self.mailbox_id == dest.mailbox_id {
            return Err(MailboxError::SameMailbox);
        }
        self.refuse_if_read_only()?;
        dest.refuse_if_read_only()?;
        let msgs = [msg];
        let written = dest.write_files(&msgs)?;
        crash::point("replace.after-file");
        let locks = if self.mailbox_id < dest.mailbox_id {
            self.log.lock().and_then(|s| Ok((s, dest.log.lock()?)))
        } else {
            dest.log.lock().and_then(|d| Ok((self.log.lock()?, d)))
        };
        let (src_lock, dst_lock) = match locks {
            Ok(l) => l,
            Err(e) => {
                remove_written(&written);
                return Err(e.into());
            }
        };
        let live = self.log.write_locked(
            &src_lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                refuse_if_gone(st, old)?;
                Ok((Vec::new(), ()))
            },
        );
        self.unless_gone(live, &written)?;
        let uids = dest.log.write_locked(
            &dst_lock,
            &mut dest.state,
            Some(&mut dest.changed),
            |st: &State| -> Result<_, MailboxError> {
                let (changes, uids) = added_changes(st, &msgs, &written)?;
                Ok((next_batch(st, changes), uids))
            },
        )?;
        crash::point("replace.after-dest-add");
        self.expunge_locked(&src_lock, old)?;
        crash::point("replace.after-source-expunge");
        drop(dst_lock);
        drop(src_lock);
        uids.first().copied().ok_or(MailboxError::UidsExhausted)
    }

    fn expunge_locked(&mut self, lock: &MailboxLock, old: Uid) -> Result<(), MailboxError> {
        self.log.write_locked(
            lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                // Our lock has been held since the check: still live.
                if !st.get(old).is_some_and(|m| !m.expunged) {
                    return Ok((Vec::new(), ()));
                }
                let expunged = Change::Expunged {
                    uids: UidSet::from_uids([old]),
                    at: now_secs(),
                };
                Ok((next_batch(st, vec![expunged]), ()))
            },
        )
    }

    /// Passes `result` on; when the old message was gone, first removes
    /// the files written for the replacement (no record names them).
    fn unless_gone<R>(
        &self,
        result: Result<R, MailboxError>,
        written: &[super::append::Written],
    ) -> Result<R, MailboxError> {
        if let Err(MailboxError::AlreadyExpunged(_)) = &result {
            remove_written(written);
        }
        result
    }
}

fn refuse_if_gone(st: &State, old: Uid) -> Result<(), MailboxError> {
    match st.get(old) {
        Some(m) if !m.expunged => Ok(()),
        _ => Err(MailboxError::AlreadyExpunged(old)),
    }
}
