//! Messages carried between mailboxes: COPY (hard links, then one record
//! in the destination), MOVE (intent in the source, adds in the
//! destination, expunge in the source, both locks held in id order), MOVE
//! within one mailbox, and the recovery of a MOVE a crash interrupted.
//! Never re-encrypts or rewrites a message file (the same immutable file is
//! linked), and never leaves a message visible in both mailboxes or in
//! neither.

use rand::RngCore;

use super::{msg_path, next_batch, now_secs, FlagPlan, Mailbox, MailboxError};
use crate::store::account::MailboxId;
use crate::store::change_log::{ChangeLog, MailboxLock};
use crate::store::crash;
use crate::store::state::{Added, Batch, Change, State};
use crate::store::summary;
use crate::store::types::{Flag, InternalDate, MessageName, Uid, UidSet};
use crate::sys::durable;

impl Mailbox {
    /// Links the files of `uids` into `dest` and logs them there, with
    /// their flags and INTERNALDATE. Returns (source, destination) UIDs.
    pub fn copy_to(
        &mut self,
        uids: &[Uid],
        dest: &mut Mailbox,
    ) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        dest.refuse_if_read_only()?;
        let items = self.link_into(uids, dest)?;
        crash::point("copy.after-link");
        let lock = dest.log.lock()?;
        let map = dest.add_linked(&lock, &items, None)?;
        drop(lock);
        crash::point("copy.after-log");
        Ok(map)
    }

    /// Messages to carry to another mailbox: source UID, file, date, size,
    /// flags; and their files linked into `dest`.
    pub(super) fn link_into(
        &self,
        uids: &[Uid],
        dest: &Mailbox,
    ) -> Result<Vec<Carried>, MailboxError> {
        let mut items = Vec::new();
        for uid in UidSet::from_uids(uids.iter().copied()).iter() {
            let Some(m) = self.state.get(uid) else {
                continue;
            };
            let src = msg_path(self.log.dir(), &m.name);
            let dst = msg_path(dest.log.dir(), &m.name);
            durable::link_exclusive(&src, &dst)?;
            let src_sum = summary::path_for(&src);
            if src_sum.exists() {
                durable::link_exclusive(&src_sum, &summary::path_for(&dst))?;
            }
            items.push(Carried {
                uid,
                name: m.name,
                internal: m.internal,
                size: m.size,
                flags: self.state.flags_of(m.flags),
            });
        }
        Ok(items)
    }

    pub(super) fn add_linked(
        &mut self,
        lock: &MailboxLock,
        items: &[Carried],
        move_id: Option<u64>,
    ) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.log.write_locked(
            lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let mut plan = FlagPlan::new(st);
                let mut adds = Vec::with_capacity(items.len());
                let mut uid = st.uidnext;
                let saved = now_secs();
                let mut map = Vec::with_capacity(items.len());
                for it in items {
                    let bits = plan.bits(&it.flags)?;
                    adds.push(Change::Added(Added {
                        uid,
                        name: it.name,
                        internal: it.internal,
                        saved,
                        size: it.size,
                        flags: bits,
                        move_id,
                    }));
                    map.push((it.uid, uid));
                    uid = uid.next().ok_or(MailboxError::UidsExhausted)?;
                }
                let mut changes = plan.into_defs();
                changes.append(&mut adds);
                Ok((next_batch(st, changes), map))
            },
        )
    }

    /// MOVE into the mailbox the messages are already in (Dovecot allows
    /// it; imaptest `move`): each message gets a new UID and the old one is
    /// expunged in one batch of records, so a crash leaves the old UIDs or
    /// the new ones, never both. Returns (old, new) UIDs.
    pub fn move_within(&mut self, uids: &[Uid]) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        let wanted = UidSet::from_uids(uids.iter().copied());
        let lock = self.log.lock()?;
        let map = self.log.write_locked(
            &lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let mut uid = st.uidnext;
                let saved = now_secs();
                let mut changes = Vec::new();
                let mut map = Vec::new();
                for src in wanted.iter() {
                    let Some(m) = st.get(src).filter(|m| !m.expunged) else {
                        continue;
                    };
                    changes.push(Change::Added(Added {
                        uid,
                        name: m.name,
                        internal: m.internal,
                        saved,
                        size: m.size,
                        flags: m.flags,
                        move_id: None,
                    }));
                    map.push((src, uid));
                    uid = uid.next().ok_or(MailboxError::UidsExhausted)?;
                }
                if map.is_empty() {
                    return Ok((Vec::new(), map));
                }
                changes.push(Change::Expunged {
                    uids: UidSet::from_uids(map.iter().map(|&(s, _)| s)),
                    at: saved,
                });
                Ok((next_batch(st, changes), map))
            },
        )?;
        drop(lock);
        Ok(map)
    }

    /// Moves `uids` to `dest` atomically as clients see it: intent logged
    /// here, adds logged there, then the expunge here, all under both
    /// mailbox locks (taken in id order). A crash at any point is repaired
    /// by the next opener of this mailbox. Returns (source, destination)
    /// UIDs.
    pub fn move_to(
        &mut self,
        uids: &[Uid],
        dest: &mut Mailbox,
    ) -> Result<Vec<(Uid, Uid)>, MailboxError> {
        if self.mailbox_id == dest.mailbox_id {
            return Err(MailboxError::SameMailbox);
        }
        self.refuse_if_read_only()?;
        dest.refuse_if_read_only()?;
        // Locks in id order, so two opposite moves cannot deadlock.
        let (src_lock, dst_lock) = if self.mailbox_id < dest.mailbox_id {
            let s = self.log.lock()?;
            (s, dest.log.lock()?)
        } else {
            let d = dest.log.lock()?;
            (self.log.lock()?, d)
        };
        let id = rand::rngs::OsRng.next_u64();
        let dest_id = dest.id().to_string();
        let wanted = UidSet::from_uids(uids.iter().copied());
        let moving = self.log.write_locked(
            &src_lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let live = UidSet::from_uids(
                    wanted
                        .iter()
                        .filter(|u| st.get(*u).is_some_and(|m| !m.expunged)),
                );
                if live.is_empty() {
                    return Ok((Vec::new(), live));
                }
                let batch = Batch {
                    modseq: None,
                    changes: vec![Change::MoveIntent {
                        id,
                        dest: dest_id.clone(),
                        uids: live.clone(),
                    }],
                };
                Ok((vec![batch], live))
            },
        )?;
        if moving.is_empty() {
            return Ok(Vec::new());
        }
        crash::point("move.after-intent");
        let moving: Vec<Uid> = moving.iter().collect();
        let items = self.link_into(&moving, dest)?;
        let map = dest.add_linked(&dst_lock, &items, Some(id))?;
        crash::point("move.after-dest-add");
        self.finish_move(&src_lock, id, UidSet::from_uids(moving))?;
        crash::point("move.after-source-expunge");
        drop(dst_lock);
        drop(src_lock);
        Ok(map)
    }

    fn finish_move(
        &mut self,
        lock: &MailboxLock,
        id: u64,
        uids: UidSet,
    ) -> Result<(), MailboxError> {
        self.log.write_locked(
            lock,
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                Ok((next_batch(st, move_done(id, uids)), ()))
            },
        )
    }

    /// Finishes (destination has the adds) or cancels (it has not) every
    /// pending move out of this mailbox. Safe against a mover still running:
    /// movers hold this mailbox's lock throughout, so an intent still
    /// pending once we hold both locks belongs to a dead process.
    pub(super) fn recover_moves(&mut self) -> Result<(), MailboxError> {
        let pending = self.state.pending_moves.clone();
        for p in pending {
            // The destination as a value: a name that is not an id names no
            // mailbox, so the move is cancelled.
            let dest_id = MailboxId::parse_hex(&p.dest);
            let dest_dir = self.user_dir.join("mailboxes").join(&p.dest);
            let dest = match dest_id {
                Some(dest_id) if dest_dir.is_dir() => Some((
                    dest_id,
                    ChangeLog::open(
                        &dest_dir,
                        &self.user_dir.join("tmp"),
                        &p.dest,
                        &self.keys.master,
                    )?,
                )),
                _ => None,
            };
            // Locks in id order, as `move_to` takes them.
            let (src_lock, dest_guard) = match &dest {
                Some((dest_id, (dlog, _))) if *dest_id < self.mailbox_id => {
                    let d = dlog.lock()?;
                    (self.log.lock()?, Some(d))
                }
                Some((_, (dlog, _))) => {
                    let s = self.log.lock()?;
                    (s, Some(dlog.lock()?))
                }
                None => (self.log.lock()?, None),
            };
            let landed = match dest {
                Some((_, (mut dlog, mut dstate))) => {
                    dlog.catch_up(&mut dstate, None)?;
                    dstate.inbound_moves.contains(&p.id)
                }
                None => false,
            };
            let id = p.id;
            self.log.write_locked(
                &src_lock,
                &mut self.state,
                Some(&mut self.changed),
                |st: &State| -> Result<_, MailboxError> {
                    let Some(p) = st.pending_moves.iter().find(|m| m.id == id) else {
                        return Ok((Vec::new(), ()));
                    };
                    let batches = if landed {
                        next_batch(st, move_done(id, p.uids.clone()))
                    } else {
                        vec![Batch {
                            modseq: None,
                            changes: vec![Change::MoveCancelled { id }],
                        }]
                    };
                    Ok((batches, ()))
                },
            )?;
            drop(dest_guard);
            drop(src_lock);
        }
        Ok(())
    }
}

/// The changes ending a MOVE that reached its destination: the move is
/// done and its messages leave the source.
fn move_done(id: u64, uids: UidSet) -> Vec<Change> {
    vec![
        Change::MoveDone { id },
        Change::Expunged {
            uids,
            at: now_secs(),
        },
    ]
}

/// A message on its way to another mailbox.
pub(super) struct Carried {
    uid: Uid,
    name: MessageName,
    internal: InternalDate,
    size: u32,
    flags: Vec<Flag>,
}
