//! The change-log record types of a mailbox and the in-memory state they
//! build when replayed in order. Pure data: owns the replay rules (what each
//! record does to the state) and never touches files, locks or keys.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::types::{Flag, FlagOp, InternalDate, MessageName, Modseq, Uid, UidSet};

/// Number of flag bits a message carries: the five system flags and up to
/// 59 keywords per mailbox.
pub(crate) const MAX_FLAGS: usize = 64;

/// How many inbound move ids a destination remembers, so the source of an
/// interrupted move can learn whether its adds landed. Moves finish within
/// milliseconds; this bounds memory while covering any realistic backlog.
pub(crate) const INBOUND_MOVES_KEPT: usize = 4096;

/// The log contradicts itself (a record that no correct writer produces).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StateError {
    /// A record breaks a replay invariant; the text names which.
    #[error("inconsistent change log: {0}")]
    Inconsistent(&'static str),
}

/// One sealed log record: everything one writer commits under one lock
/// hold, so a STORE over 1,000 messages is one record and one fsync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// The modseq given to the changes in this batch that carry one.
    pub modseq: Option<Modseq>,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
}

/// A message entering the mailbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Added {
    /// Its UID (at least the UIDNEXT before this record).
    pub uid: Uid,
    /// The immutable message file under `msg/`.
    pub name: MessageName,
    /// INTERNALDATE.
    pub internal: InternalDate,
    /// SAVEDATE (RFC 8514), seconds since the epoch.
    pub saved: i64,
    /// Plaintext size in octets (RFC822.SIZE).
    pub size: u32,
    /// Initial flag bits.
    pub flags: u64,
    /// The move this add belongs to, when it was a MOVE into this mailbox.
    pub move_id: Option<u64>,
}

/// One change to a mailbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Flag bit `bit` now means `flag` (bits are allocated in order).
    FlagDefined {
        /// The bit, equal to the number of flags defined before.
        bit: u8,
        /// What it means.
        flag: Flag,
    },
    /// A message was added.
    Added(Added),
    /// Flags of the given messages changed.
    Flags {
        /// Which messages.
        uids: UidSet,
        /// How `bits` combines with their flags.
        op: FlagOp,
        /// The flag bits.
        bits: u64,
    },
    /// Messages were expunged at the given time.
    Expunged {
        /// Which messages.
        uids: UidSet,
        /// When, seconds since the epoch (their files live 24 h more).
        at: i64,
    },
    /// All messages up to `upto` have been shown as \Recent by one session.
    RecentClaimed {
        /// The highest claimed UID.
        upto: Uid,
    },
    /// A MOVE of `uids` to `dest` started (see `doc/store.md`).
    MoveIntent {
        /// Random id, carried by the adds in the destination.
        id: u64,
        /// The destination mailbox id.
        dest: String,
        /// The moved messages.
        uids: UidSet,
    },
    /// The move did not reach the destination; the messages stay here.
    MoveCancelled {
        /// The move.
        id: u64,
    },
    /// The move reached the destination; an `Expunged` follows in the batch.
    MoveDone {
        /// The move.
        id: u64,
    },
}

/// What the store knows of one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// UID.
    pub uid: Uid,
    /// Message file name.
    pub name: MessageName,
    /// INTERNALDATE.
    pub internal: InternalDate,
    /// SAVEDATE, seconds since the epoch.
    pub saved: i64,
    /// Plaintext size.
    pub size: u32,
    /// Flag bits (see [`State::flag_table`]).
    pub flags: u64,
    /// Modseq of the last change to this message.
    pub modseq: Modseq,
    /// Expunged in the log but not yet reported to this session; never part
    /// of a snapshot.
    #[serde(skip)]
    pub expunged: bool,
}

/// An interrupted or running MOVE out of this mailbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingMove {
    /// Move id.
    pub id: u64,
    /// Destination mailbox id.
    pub dest: String,
    /// Messages being moved.
    pub uids: UidSet,
}

/// The state of a mailbox after replaying its log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Messages by ascending UID, including unreported tombstones.
    pub messages: Vec<MessageMeta>,
    /// The next UID to assign.
    pub uidnext: Uid,
    /// The highest modseq of any change.
    pub highest_modseq: Modseq,
    /// Meaning of each flag bit; the first five are [`Flag::SYSTEM`].
    pub flag_table: Vec<Flag>,
    /// The highest UID already shown as \Recent to some session.
    pub recent_upto: Option<Uid>,
    /// Moves out of this mailbox not yet finished or cancelled.
    pub pending_moves: Vec<PendingMove>,
    /// Ids of moves whose adds landed here (bounded).
    pub inbound_moves: VecDeque<u64>,
    /// Expunged UIDs with the modseq of their expunge (QRESYNC VANISHED).
    pub vanished: Vec<(Uid, Modseq)>,
    /// Files of expunged messages with the expunge time, until collected.
    pub expunged_files: Vec<(MessageName, i64)>,
}

impl Default for State {
    fn default() -> State {
        State {
            messages: Vec::new(),
            uidnext: Uid::MIN,
            highest_modseq: Modseq::MIN,
            flag_table: Flag::SYSTEM.to_vec(),
            recent_upto: None,
            pending_moves: Vec::new(),
            inbound_moves: VecDeque::new(),
            vanished: Vec::new(),
            expunged_files: Vec::new(),
        }
    }
}

impl State {
    /// Position of `uid` in [`State::messages`].
    pub fn position(&self, uid: Uid) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// The message with `uid`, tombstone or not.
    pub fn get(&self, uid: Uid) -> Option<&MessageMeta> {
        self.position(uid).and_then(|i| self.messages.get(i))
    }

    /// The bit of `flag`, if defined.
    pub fn bit_of(&self, flag: &Flag) -> Option<u8> {
        self.flag_table
            .iter()
            .position(|f| f.same_as(flag))
            .and_then(|p| u8::try_from(p).ok())
    }

    /// The flags a bit set stands for.
    pub fn flags_of(&self, bits: u64) -> Vec<Flag> {
        self.flag_table
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1u64 << i) != 0)
            .map(|(_, f)| f.clone())
            .collect()
    }

    /// Whether a message file is referenced by a message (tombstones count),
    /// or was expunged recently enough to be remembered.
    pub fn knows_file(&self, name: &MessageName) -> bool {
        self.messages.iter().any(|m| &m.name == name)
            || self.expunged_files.iter().any(|(n, _)| n == name)
    }

    /// Applies one batch. When `changed` is given, UIDs whose flags changed
    /// are added to it.
    pub fn apply(
        &mut self,
        batch: &Batch,
        mut changed: Option<&mut BTreeSet<Uid>>,
    ) -> Result<(), StateError> {
        let modseq = batch.modseq;
        if let Some(m) = modseq {
            if m > self.highest_modseq {
                self.highest_modseq = m;
            }
        }
        let need_modseq = || modseq.ok_or(StateError::Inconsistent("change without modseq"));
        for change in &batch.changes {
            match change {
                Change::FlagDefined { bit, flag } => {
                    if usize::from(*bit) != self.flag_table.len()
                        || self.flag_table.len() >= MAX_FLAGS
                    {
                        return Err(StateError::Inconsistent("flag bit out of order"));
                    }
                    self.flag_table.push(flag.clone());
                }
                Change::Added(a) => {
                    if a.uid < self.uidnext {
                        return Err(StateError::Inconsistent("UID not ascending"));
                    }
                    self.check_bits(a.flags)?;
                    self.messages.push(MessageMeta {
                        uid: a.uid,
                        name: a.name,
                        internal: a.internal,
                        saved: a.saved,
                        size: a.size,
                        flags: a.flags,
                        modseq: need_modseq()?,
                        expunged: false,
                    });
                    // Exhausting the UID space leaves UIDNEXT at MAX; the
                    // writer refuses further adds (UIDVALIDITY must change).
                    self.uidnext = a.uid.next().unwrap_or(Uid::MAX);
                    if let Some(id) = a.move_id {
                        if self.inbound_moves.len() >= INBOUND_MOVES_KEPT {
                            self.inbound_moves.pop_front();
                        }
                        self.inbound_moves.push_back(id);
                    }
                }
                Change::Flags { uids, op, bits } => {
                    let m = need_modseq()?;
                    self.check_bits(*bits)?;
                    for (lo, hi) in uids.ranges() {
                        let start = self.messages.partition_point(|x| x.uid < *lo);
                        for msg in self.messages.iter_mut().skip(start) {
                            if msg.uid > *hi {
                                break;
                            }
                            let new = match op {
                                FlagOp::Add => msg.flags | bits,
                                FlagOp::Remove => msg.flags & !bits,
                                FlagOp::Replace => *bits,
                            };
                            if new != msg.flags {
                                msg.flags = new;
                                msg.modseq = m;
                                if let Some(c) = changed.as_deref_mut() {
                                    c.insert(msg.uid);
                                }
                            }
                        }
                    }
                }
                Change::Expunged { uids, at } => {
                    let m = need_modseq()?;
                    for (lo, hi) in uids.ranges() {
                        let start = self.messages.partition_point(|x| x.uid < *lo);
                        for msg in self.messages.iter_mut().skip(start) {
                            if msg.uid > *hi {
                                break;
                            }
                            if !msg.expunged {
                                msg.expunged = true;
                                self.vanished.push((msg.uid, m));
                                self.expunged_files.push((msg.name, *at));
                            }
                        }
                    }
                }
                Change::RecentClaimed { upto } => {
                    if self.recent_upto < Some(*upto) {
                        self.recent_upto = Some(*upto);
                    }
                }
                Change::MoveIntent { id, dest, uids } => self.pending_moves.push(PendingMove {
                    id: *id,
                    dest: dest.clone(),
                    uids: uids.clone(),
                }),
                Change::MoveCancelled { id } | Change::MoveDone { id } => {
                    self.pending_moves.retain(|p| p.id != *id)
                }
            }
        }
        Ok(())
    }

    fn check_bits(&self, bits: u64) -> Result<(), StateError> {
        let defined = self.flag_table.len();
        if defined < MAX_FLAGS && bits >> defined != 0 {
            return Err(StateError::Inconsistent("undefined flag bit"));
        }
        Ok(())
    }

    /// Removes tombstones (after they were reported, or for a snapshot).
    pub fn drop_tombstones(&mut self) {
        self.messages.retain(|m| !m.expunged);
    }

    /// Live (non-tombstone) messages.
    pub fn live(&self) -> impl Iterator<Item = &MessageMeta> {
        self.messages.iter().filter(|m| !m.expunged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(v: u32) -> Uid {
        Uid::new(v).unwrap()
    }

    fn add(uid: u32) -> Change {
        Change::Added(Added {
            uid: u(uid),
            name: MessageName::random(),
            internal: InternalDate::now(),
            saved: 0,
            size: 10,
            flags: 0,
            move_id: None,
        })
    }

    fn batch(m: u64, changes: Vec<Change>) -> Batch {
        Batch {
            modseq: Modseq::new(m),
            changes,
        }
    }

    #[test]
    fn replay_adds_flags_expunges() {
        let mut s = State::default();
        s.apply(&batch(2, vec![add(1), add(2), add(3)]), None)
            .unwrap();
        assert_eq!(s.uidnext, u(4));
        let mut changed = BTreeSet::new();
        let seen = 1u64 << s.bit_of(&Flag::Seen).unwrap();
        s.apply(
            &batch(
                3,
                vec![Change::Flags {
                    uids: UidSet::from_uids([u(1), u(2), u(3)]),
                    op: FlagOp::Add,
                    bits: seen,
                }],
            ),
            Some(&mut changed),
        )
        .unwrap();
        assert_eq!(changed.len(), 3);
        assert_eq!(s.get(u(2)).unwrap().modseq.get(), 3);
        s.apply(
            &batch(
                4,
                vec![Change::Expunged {
                    uids: UidSet::from_uids([u(2)]),
                    at: 5,
                }],
            ),
            None,
        )
        .unwrap();
        assert!(s.get(u(2)).unwrap().expunged);
        assert_eq!(s.vanished, vec![(u(2), Modseq::new(4).unwrap())]);
        s.drop_tombstones();
        assert_eq!(s.messages.len(), 2);
        assert_eq!(s.highest_modseq.get(), 4);
        assert_eq!(s.flags_of(seen), vec![Flag::Seen]);
    }

    #[test]
    fn replay_rejects_inconsistent_records() {
        let mut s = State::default();
        s.apply(&batch(2, vec![add(5)]), None).unwrap();
        assert!(s.apply(&batch(3, vec![add(4)]), None).is_err());
        assert!(s.apply(&batch(0, vec![add(9)]), None).is_err());
        let bad_bit = Change::FlagDefined {
            bit: 9,
            flag: Flag::keyword("x").unwrap(),
        };
        assert!(s.apply(&batch(3, vec![bad_bit]), None).is_err());
    }

    #[test]
    fn moves_and_recent_tracked() {
        let mut s = State::default();
        let intent = Change::MoveIntent {
            id: 7,
            dest: "d".into(),
            uids: UidSet::new(),
        };
        s.apply(
            &batch(0, vec![intent, Change::RecentClaimed { upto: u(3) }]),
            None,
        )
        .unwrap();
        assert_eq!(s.pending_moves.len(), 1);
        assert_eq!(s.recent_upto, Some(u(3)));
        s.apply(&batch(0, vec![Change::MoveCancelled { id: 7 }]), None)
            .unwrap();
        assert!(s.pending_moves.is_empty());
    }
}
