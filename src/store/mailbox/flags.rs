//! Changes to messages already in a mailbox: STORE (with CONDSTORE's
//! UNCHANGEDSINCE), the \Recent claim, and EXPUNGE. Each is one log record
//! under the mailbox lock. Never touches a message file (expunged files are
//! removed by `gc`, after the grace period).

use super::{next_batch, now_secs, FlagPlan, Mailbox, MailboxError};
use crate::store::crash;
use crate::store::state::{Batch, Change, State};
use crate::store::types::{Flag, FlagOp, Modseq, Uid, UidSet};

/// Outcome of [`Mailbox::store_flags`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// Messages whose flags changed.
    pub changed: Vec<Uid>,
    /// Messages skipped because modified after UNCHANGEDSINCE.
    pub failed_modified: Vec<Uid>,
    /// The modseq of the change, if anything changed.
    pub modseq: Option<Modseq>,
}

impl Mailbox {
    /// Changes flags of `uids` (messages the client knows, including ones
    /// others expunged unseen). With `unchanged_since`, messages modified
    /// after it are left alone and reported (CONDSTORE). One record, one
    /// fsync whatever the number of messages.
    pub fn store_flags(
        &mut self,
        uids: &[Uid],
        op: FlagOp,
        flags: &[Flag],
        unchanged_since: Option<Modseq>,
    ) -> Result<StoreOutcome, MailboxError> {
        let flags = flags.to_vec();
        let uids = UidSet::from_uids(uids.iter().copied());
        // The client stays current only if nobody else wrote since it
        // was last current: then this change is all it has not seen.
        let current = self.reported == self.state.highest_modseq;
        let before = self.state.highest_modseq;
        let (out, stays_current) = self
            .log
            .write(
                &mut self.state,
                Some(&mut self.changed),
                |st: &State| -> Result<_, MailboxError> {
                    let stays_current = current && st.highest_modseq == before;
                    let mut plan = FlagPlan::new(st);
                    let bits = plan.bits(&flags)?;
                    let mut out = StoreOutcome::default();
                    for uid in uids.iter() {
                        let Some(m) = st.get(uid) else { continue };
                        if unchanged_since.is_some_and(|s| m.modseq > s) {
                            out.failed_modified.push(uid);
                            continue;
                        }
                        let new = match op {
                            FlagOp::Add => m.flags | bits,
                            FlagOp::Remove => m.flags & !bits,
                            FlagOp::Replace => bits,
                        };
                        if new != m.flags {
                            out.changed.push(uid);
                        }
                    }
                    if out.changed.is_empty() {
                        return Ok((Vec::new(), (out, stays_current)));
                    }
                    let mut changes = plan.into_defs();
                    changes.push(Change::Flags {
                        uids: UidSet::from_uids(out.changed.iter().copied()),
                        op,
                        bits,
                    });
                    let batches = next_batch(st, changes);
                    out.modseq = batches.first().and_then(|b| b.modseq);
                    Ok((batches, (out, stays_current)))
                },
            )
            .inspect(|_| crash::point("flags.after-log"))?;
        if stays_current {
            self.reported = self.state.highest_modseq;
        }
        Ok(out)
    }

    /// Claims \Recent for every message not yet claimed by any session
    /// (call after [`Mailbox::refresh`] in a read-write session); returns
    /// the UIDs this session now holds \Recent for.
    pub fn claim_recent(&mut self) -> Result<Vec<Uid>, MailboxError> {
        let claimed = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let Some(last) = st.messages.last().map(|m| m.uid) else {
                    return Ok((Vec::new(), None));
                };
                let from = st.recent_upto.and_then(Uid::next).unwrap_or(Uid::MIN);
                if st.recent_upto >= Some(last) {
                    return Ok((Vec::new(), None));
                }
                let batch = Batch {
                    modseq: None,
                    changes: vec![Change::RecentClaimed { upto: last }],
                };
                Ok((vec![batch], Some((from, last))))
            },
        )?;
        let Some((from, last)) = claimed else {
            return Ok(Vec::new());
        };
        self.recent.push((from, last));
        Ok(self
            .state
            .messages
            .iter()
            .filter(|m| m.uid >= from && m.uid <= last && !m.expunged)
            .map(|m| m.uid)
            .collect())
    }

    /// Expunges `uids`; returns those this call expunged. The client is told
    /// at the next refresh, like any other session.
    pub fn expunge(&mut self, uids: &[Uid]) -> Result<Vec<Uid>, MailboxError> {
        let uids = UidSet::from_uids(uids.iter().copied());
        let done = self.log.write(
            &mut self.state,
            Some(&mut self.changed),
            |st: &State| -> Result<_, MailboxError> {
                let gone: Vec<Uid> = uids
                    .iter()
                    .filter(|u| st.get(*u).is_some_and(|m| !m.expunged))
                    .collect();
                if gone.is_empty() {
                    return Ok((Vec::new(), gone));
                }
                let expunged = Change::Expunged {
                    uids: UidSet::from_uids(gone.iter().copied()),
                    at: now_secs(),
                };
                Ok((next_batch(st, vec![expunged]), gone))
            },
        )?;
        crash::point("expunge.after-log");
        Ok(done)
    }
}
