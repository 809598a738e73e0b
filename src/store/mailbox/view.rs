//! What the client of one session sees of a mailbox: sequence numbers,
//! message facts, \Recent as this session holds it, and
//! [`Mailbox::refresh`], the only door through which other sessions'
//! changes reach the client; plus decrypted access to messages and their
//! summaries and the sealed sort-key cache. Never writes a log record
//! (except through the recovery of an interrupted move, which belongs to
//! `moves`) and never changes a file but those caches.

use super::{msg_path, Mailbox, MailboxError};
use crate::mime::summary::Summary;
use crate::store::change_log::ChangeLogError;
use crate::store::message_file::{MessageReader, SealedMessage};
use crate::store::sort_keys::{self, SortEntry};
use crate::store::state::State;
use crate::store::summary;
use crate::store::types::{Flag, InternalDate, MessageName, Modseq, SeqNum, Uid};

/// What changed since the previous [`Mailbox::refresh`], in the order the
/// IMAP layer should report it: flag changes (FETCH, sequence numbers valid
/// before the expunges), then expunges (EXPUNGE, already in an order where
/// each sequence number is right when sent: descending), then the new
/// message count (EXISTS).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Messages whose flags others changed, with their sequence numbers.
    pub flags_changed: Vec<(SeqNum, Uid)>,
    /// Expunged messages, descending sequence numbers.
    pub expunged: Vec<(SeqNum, Uid)>,
    /// Messages that appeared, ascending.
    pub new_uids: Vec<Uid>,
    /// The message count after the changes.
    pub exists: u32,
}

/// Store-side facts about one message as this session sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// UID.
    pub uid: Uid,
    /// Flags (without \Recent).
    pub flags: Vec<Flag>,
    /// Whether this session holds \Recent for it.
    pub recent: bool,
    /// Modseq of its last change.
    pub modseq: Modseq,
    /// INTERNALDATE.
    pub internal: InternalDate,
    /// SAVEDATE, seconds since the epoch.
    pub saved: i64,
    /// RFC822.SIZE.
    pub size: u32,
    /// Expunged by another session; not yet reported.
    pub expunged: bool,
    /// The message file name (stable across COPY: usable as EMAILID).
    pub name: MessageName,
}

/// The same facts as [`MessageInfo`] with the flags as bits of
/// [`Mailbox::defined_flags`] (bit `i` is entry `i`), plus the sequence
/// number: what FETCH reads for each of many messages, found with one
/// search and no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageFacts {
    /// Sequence number in this session.
    pub seq: SeqNum,
    /// UID.
    pub uid: Uid,
    /// Flags (without \Recent), as bits of the mailbox's flag table.
    pub flag_bits: u64,
    /// Whether this session holds \Recent for it.
    pub recent: bool,
    /// Modseq of its last change.
    pub modseq: Modseq,
    /// INTERNALDATE.
    pub internal: InternalDate,
    /// SAVEDATE, seconds since the epoch.
    pub saved: i64,
    /// RFC822.SIZE.
    pub size: u32,
    /// The message file name (stable across COPY: usable as EMAILID).
    pub name: MessageName,
}

impl Mailbox {
    /// UIDNEXT as of the last refresh (or later own writes).
    pub fn uidnext(&self) -> Uid {
        self.state.uidnext
    }

    /// HIGHESTMODSEQ of everything read so far.
    pub fn highest_modseq(&self) -> Modseq {
        self.state.highest_modseq
    }

    /// The HIGHESTMODSEQ a client may cache now: every change up to it
    /// has been made visible to this handle's client (by a refresh, or by
    /// this handle's own flag changes while nobody else wrote). Below
    /// [`Mailbox::highest_modseq`] while another session's expunge, flag
    /// change or new message waits for the next refresh (RFC 7162 §3.2).
    pub fn reported_modseq(&self) -> Modseq {
        self.reported
    }

    /// Number of messages the client knows (EXISTS).
    pub fn exists(&self) -> u32 {
        u32::try_from(self.visible).unwrap_or(u32::MAX)
    }

    /// UIDs the client knows, by sequence number.
    pub fn uids(&self) -> impl Iterator<Item = Uid> + '_ {
        self.state.messages.iter().take(self.visible).map(|m| m.uid)
    }

    /// The UIDs the client knows at indices `range` (sequence numbers minus
    /// one; clamped to the messages it knows), read in place.
    pub fn uids_at(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = Uid> + '_ {
        let end = range.end.min(self.visible);
        let start = range.start.min(end);
        self.state
            .messages
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|m| m.uid)
    }

    /// The UID and modseq of each message the client knows, by sequence
    /// number: what tells a live search which messages changed.
    pub fn modseqs(&self) -> impl Iterator<Item = (Uid, Modseq)> + '_ {
        self.state
            .messages
            .iter()
            .take(self.visible)
            .map(|m| (m.uid, m.modseq))
    }

    /// The UID at sequence number `seq`.
    pub fn uid_of(&self, seq: SeqNum) -> Option<Uid> {
        if seq.index() >= self.visible {
            return None;
        }
        self.state.messages.get(seq.index()).map(|m| m.uid)
    }

    /// The sequence number of `uid`, if the client knows it.
    pub fn seq_of(&self, uid: Uid) -> Option<SeqNum> {
        self.state
            .position(uid)
            .filter(|i| *i < self.visible)
            .and_then(SeqNum::from_index)
    }

    /// Facts about a message the client knows.
    pub fn info(&self, uid: Uid) -> Option<MessageInfo> {
        let i = self.state.position(uid).filter(|i| *i < self.visible)?;
        let m = self.state.messages.get(i)?;
        Some(MessageInfo {
            uid: m.uid,
            flags: self.state.flags_of(m.flags),
            recent: self.is_recent(uid),
            modseq: m.modseq,
            internal: m.internal,
            saved: m.saved,
            size: m.size,
            expunged: m.expunged,
            name: m.name,
        })
    }

    /// [`MessageFacts`] of a message the client knows.
    pub fn facts(&self, uid: Uid) -> Option<MessageFacts> {
        self.facts_near(uid, usize::MAX)
    }

    /// [`Mailbox::facts`], looking at index `hint` (sequence number minus
    /// one) before searching: FETCH walks ascending UIDs, each usually the
    /// message after the previous one.
    pub fn facts_near(&self, uid: Uid, hint: usize) -> Option<MessageFacts> {
        let i = match self.state.messages.get(hint) {
            Some(m) if m.uid == uid => hint,
            _ => self.state.position(uid)?,
        };
        if i >= self.visible {
            return None;
        }
        let m = self.state.messages.get(i)?;
        Some(MessageFacts {
            seq: SeqNum::from_index(i)?,
            uid: m.uid,
            flag_bits: m.flags,
            recent: self.is_recent(uid),
            modseq: m.modseq,
            internal: m.internal,
            saved: m.saved,
            size: m.size,
            name: m.name,
        })
    }

    /// The first message the client knows without \Seen (SELECT's
    /// UNSEEN), from the flag bits alone.
    pub fn first_unseen(&self) -> Option<SeqNum> {
        let seen = self.state.bit_of(&Flag::Seen).map(|b| 1u64 << b);
        let i = self
            .state
            .messages
            .iter()
            .take(self.visible)
            .position(|m| seen.map_or(true, |bit| m.flags & bit == 0))?;
        SeqNum::from_index(i)
    }

    /// Every flag defined in this mailbox (for the FLAGS response).
    pub fn defined_flags(&self) -> &[Flag] {
        &self.state.flag_table
    }

    /// Whether this session holds \Recent for `uid`.
    pub fn is_recent(&self, uid: Uid) -> bool {
        self.recent.iter().any(|&(lo, hi)| lo <= uid && uid <= hi)
    }

    /// Number of messages this session holds \Recent for (RECENT).
    pub fn recent_count(&self) -> u32 {
        let n = self
            .state
            .messages
            .iter()
            .take(self.visible)
            .filter(|m| self.is_recent(m.uid))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Messages the client knows that no session has claimed \Recent for
    /// yet: what STATUS RECENT reports from a handle that claims nothing.
    pub fn unclaimed_recent_count(&self) -> u32 {
        let upto = self.state.recent_upto;
        let n = self
            .state
            .messages
            .iter()
            .take(self.visible)
            .filter(|m| Some(m.uid) > upto)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Shows \Recent to this handle's client for the messages it knows
    /// that no session has claimed, without claiming them: what a
    /// read-only selection (EXAMINE) does, so its RECENT count, FETCH
    /// FLAGS and SEARCH RECENT agree (RFC 3501 §7.3.2) and a later SELECT
    /// still gets them.
    pub fn observe_unclaimed_recent(&mut self) {
        let after_claimed = self
            .state
            .recent_upto
            .and_then(Uid::next)
            .unwrap_or(Uid::MIN);
        let after_observed = self
            .recent
            .iter()
            .map(|(_, hi)| hi.next().unwrap_or(Uid::MAX))
            .max()
            .unwrap_or(Uid::MIN);
        let from = after_claimed.max(after_observed);
        let shown = self.visible.min(self.state.messages.len());
        let Some(last) = self.state.messages.get(..shown).and_then(<[_]>::last) else {
            return;
        };
        if last.uid >= from {
            self.recent.push((from, last.uid));
        }
    }

    /// UIDs expunged with a modseq above `since` (QRESYNC VANISHED).
    pub fn vanished_since(&self, since: Modseq) -> Vec<Uid> {
        self.state
            .vanished
            .iter()
            .filter(|(_, m)| *m > since)
            .map(|(u, _)| *u)
            .collect()
    }

    /// Reads what other sessions wrote (without locking) and makes it
    /// visible to the client, returning what to report.
    pub fn refresh(&mut self) -> Result<Changes, MailboxError> {
        match self.log.catch_up(&mut self.state, Some(&mut self.changed)) {
            Ok(_) => {}
            Err(ChangeLogError::LostPlace { .. }) => {
                let fresh = self.log.reload()?;
                self.merge_fresh(fresh);
            }
            Err(e) => return Err(e.into()),
        }
        if !self.state.pending_moves.is_empty() {
            self.recover_moves()?;
        }
        let mut out = Changes::default();
        for uid in std::mem::take(&mut self.changed) {
            if let Some(seq) = self.seq_of(uid) {
                out.flags_changed.push((seq, uid));
            }
        }
        let known = if self.has_tombstones() {
            for (i, m) in self
                .state
                .messages
                .iter()
                .enumerate()
                .take(self.visible)
                .rev()
            {
                if m.expunged {
                    if let Some(seq) = SeqNum::from_index(i) {
                        out.expunged.push((seq, m.uid));
                    }
                }
            }
            let known = self
                .state
                .messages
                .iter()
                .take(self.visible)
                .filter(|m| !m.expunged)
                .count();
            self.state.drop_tombstones();
            self.no_tombstones_at = Some(self.state.highest_modseq);
            known
        } else {
            self.visible.min(self.state.messages.len())
        };
        out.new_uids = self
            .state
            .messages
            .iter()
            .skip(known)
            .map(|m| m.uid)
            .collect();
        self.visible = self.state.messages.len();
        out.exists = self.exists();
        self.reported = self.state.highest_modseq;
        Ok(out)
    }

    /// Reads what other sessions wrote and returns only the flag changes
    /// of messages the client knows, including ones expunged since but not
    /// yet reported: what may be said during FETCH, STORE and SEARCH by
    /// sequence number, where EXPUNGE and EXISTS may not (RFC 9051
    /// §7.5.1). Expunges and new messages stay pending for the next
    /// [`Mailbox::refresh`]; if nothing else is pending, the client is now
    /// current (RFC 7162 §3.2).
    pub fn refresh_flags(&mut self) -> Result<Vec<(SeqNum, Uid)>, MailboxError> {
        let out = self.catch_up_flags()?;
        let nothing_pending = self.state.messages.len() == self.visible
            && self.state.pending_moves.is_empty()
            && !self.has_tombstones();
        if nothing_pending {
            self.reported = self.state.highest_modseq;
        }
        Ok(out)
    }

    /// Reads what other sessions wrote and reports flag changes and new
    /// messages, but no expunges: the expunged messages stay in the
    /// client's view (readable, with their sequence numbers) until the
    /// next [`Mailbox::refresh`]. What NOTIFY's SELECTED-DELAYED may say
    /// between commands (RFC 5465 §6.1). A message that arrived and was
    /// expunged before this call is shown too, and its expunge reported
    /// by that refresh.
    pub fn refresh_keeping_expunged(&mut self) -> Result<Changes, MailboxError> {
        let mut out = Changes {
            flags_changed: self.catch_up_flags()?,
            ..Changes::default()
        };
        out.new_uids = self
            .state
            .messages
            .iter()
            .skip(self.visible)
            .map(|m| m.uid)
            .collect();
        self.visible = self.state.messages.len();
        out.exists = self.exists();
        let nothing_pending = self.state.pending_moves.is_empty() && !self.has_tombstones();
        if nothing_pending {
            self.reported = self.state.highest_modseq;
        }
        Ok(out)
    }

    /// Reads what other sessions wrote and takes out the changed messages
    /// this view can number; changes to messages it cannot number yet
    /// (new ones not yet shown) stay for a later report.
    fn catch_up_flags(&mut self) -> Result<Vec<(SeqNum, Uid)>, MailboxError> {
        match self.log.catch_up(&mut self.state, Some(&mut self.changed)) {
            Ok(_) => {}
            Err(ChangeLogError::LostPlace { .. }) => {
                let fresh = self.log.reload()?;
                self.merge_fresh(fresh);
            }
            Err(e) => return Err(e.into()),
        }
        let mut out = Vec::new();
        let mut later = std::collections::BTreeSet::new();
        for uid in std::mem::take(&mut self.changed) {
            match self.seq_of(uid) {
                Some(seq) => out.push((seq, uid)),
                None => {
                    later.insert(uid);
                }
            }
        }
        self.changed = later;
        Ok(out)
    }

    /// Whether some message is a tombstone (expunged, not yet reported);
    /// looks at every message only when something changed since it last
    /// found none.
    fn has_tombstones(&mut self) -> bool {
        if self.no_tombstones_at == Some(self.state.highest_modseq) {
            return false;
        }
        let any = self.state.messages.iter().any(|m| m.expunged);
        if !any {
            self.no_tombstones_at = Some(self.state.highest_modseq);
        }
        any
    }

    /// Adopts a state rebuilt from scratch, turning the difference into
    /// tombstones, flag changes and new messages as a refresh would.
    fn merge_fresh(&mut self, mut fresh: State) {
        self.no_tombstones_at = None;
        fresh.drop_tombstones();
        let mut merged: Vec<_> = Vec::with_capacity(fresh.messages.len());
        let mut new_iter = fresh.messages.into_iter().peekable();
        for mut old in std::mem::take(&mut self.state.messages) {
            while new_iter.peek().is_some_and(|n| n.uid < old.uid) {
                if let Some(n) = new_iter.next() {
                    merged.push(n);
                }
            }
            match new_iter.peek() {
                Some(n) if n.uid == old.uid => {
                    if n.flags != old.flags {
                        self.changed.insert(old.uid);
                    }
                    if let Some(n) = new_iter.next() {
                        let expunged = old.expunged;
                        old = n;
                        old.expunged = expunged;
                    }
                }
                _ => old.expunged = true,
            }
            merged.push(old);
        }
        merged.extend(new_iter);
        fresh.messages = merged;
        self.state = fresh;
    }

    /// Decrypted access to a message's content. Works for messages other
    /// sessions expunged that this session has not yet reported (their
    /// files live 24 h after the expunge).
    pub fn open_message(&self, uid: Uid) -> Result<MessageReader, MailboxError> {
        let m = self
            .state
            .get(uid)
            .ok_or(MailboxError::NoSuchMessage(uid))?;
        let sealed = SealedMessage::open(&msg_path(self.log.dir(), &m.name), m.name)?;
        let key = self
            .keys
            .keystore
            .unwrap(&self.keys.master, sealed.wrapped_key())
            .map_err(|source| MailboxError::Key { uid, source })?;
        Ok(sealed.decrypt(&key)?)
    }

    /// The stored sort keys (see `store::sort_keys`) of the messages the
    /// client knows whose entry still names the message's file, by UID.
    /// Empty when there is no usable cache.
    pub fn cached_sort_keys(&self) -> Vec<(Uid, SortEntry)> {
        let file = sort_keys::path(self.log.dir());
        let Some(entries) = sort_keys::read(
            &file,
            &self.keys.summary_key,
            &self.mailbox_id,
            self.uid_validity,
        ) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter(|(uid, name, _)| {
                self.state
                    .position(*uid)
                    .filter(|&i| i < self.visible)
                    .and_then(|i| self.state.messages.get(i))
                    .is_some_and(|m| m.name == *name)
            })
            .map(|(uid, _, entry)| (uid, entry))
            .collect()
    }

    /// Replaces the stored sort keys with `keys` (those of messages no
    /// longer here are dropped). A failure is logged: the cache only
    /// saves the next session work.
    pub fn store_sort_keys(&self, keys: &[(Uid, &SortEntry)]) {
        let entries: Vec<_> = keys
            .iter()
            .filter_map(|&(uid, entry)| {
                let m = self.state.get(uid)?;
                Some((uid, m.name, entry))
            })
            .collect();
        let file = sort_keys::path(self.log.dir());
        let tmp = self.user_dir.join("tmp");
        if let Err(e) = sort_keys::write(
            &tmp,
            &file,
            &self.keys.summary_key,
            &self.mailbox_id,
            self.uid_validity,
            &entries,
        ) {
            log::warn!("{}: {e}; the sort keys were not cached", file.display());
        }
    }

    /// The parsed summary of a message (see `store::summary`): the one
    /// sealed into its file's header, else the one in `NAME.sum`, else
    /// computed from the content (and stored in `NAME.sum`) if none was
    /// stored, it fails authentication or it is of an older format.
    pub fn summary(&self, uid: Uid) -> Result<Summary, MailboxError> {
        let m = self
            .state
            .get(uid)
            .ok_or(MailboxError::NoSuchMessage(uid))?;
        let msg = msg_path(self.log.dir(), &m.name);
        if let Some(parsed) = self.summary_in_file(&msg, &m.name) {
            return Ok(parsed);
        }
        let path = summary::path_for(&msg);
        // Summaries are written without fsync and are only a cache of what
        // the (authenticated) message says: a missing, torn or tampered one
        // is recomputed from the message.
        let size = u64::from(m.size);
        match summary::read(&path, &self.keys.summary_key, &m.name, size) {
            Ok(Some(s)) => {
                if let Some(parsed) = summary::decode(&s) {
                    return Ok(parsed);
                }
            }
            Ok(None) => {}
            Err(e) => log::warn!("{e}; recomputing it from the message"),
        }
        let raw = self.open_message(uid)?.read_all()?;
        let parsed = summary::summarize(&raw);
        // Stored again, so a summary of an older format (or a lost one) is
        // recomputed once, not on every use; failing to store it only
        // costs the next reader the same work.
        let blob = summary::encode_summary(&parsed);
        let tmp = self.user_dir.join("tmp");
        if let Err(e) = summary::write(&tmp, &path, &self.keys.summary_key, &m.name, size, &blob) {
            log::warn!("{e}; the recomputed summary was not stored");
        }
        Ok(parsed)
    }

    /// The summary sealed into the header of the message file at `path`
    /// (format 3), if it opens under `name` and decodes. Anything else
    /// (an older file, a summary moved from another file, an unreadable
    /// file) is `None`: the caller falls back to `NAME.sum` or the content,
    /// which reports a file that cannot be read.
    fn summary_in_file(&self, path: &std::path::Path, name: &MessageName) -> Option<Summary> {
        let sealed = SealedMessage::open(path, *name).ok()?;
        let Some(blob) = summary::open(&self.keys.summary_key, name, sealed.sealed_summary()?)
        else {
            log::warn!(
                "the summary in {} fails authentication (moved from another file?); \
                 using the one beside it or the message",
                path.display()
            );
            return None;
        };
        summary::decode(&blob)
    }
}
