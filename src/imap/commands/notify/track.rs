//! What NOTIFY remembers between two looks at the store, to say what
//! changed: each watched mailbox's STATUS counts, and the account's
//! mailbox names and subscriptions. Turns differences into the untagged
//! STATUS and LIST responses of RFC 5465 §5.2–§5.5. Never watches files
//! (the caller says which mailboxes may have changed) and never writes to
//! a mailbox.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::imap::wire::response::{
    EncodedMailbox, ListExtended, ListKind, ListResponse, Response, StatusValue,
};
use crate::store::account::{Account, MailboxId, MailboxInfo, MailboxName, UidValidity};
use crate::store::mailbox::{Mailbox, MailboxError};
use crate::store::types::{Flag, Modseq, Uid};

/// A watched mailbox's counts, as last reported (or first seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts {
    pub messages: u32,
    pub uidnext: Uid,
    pub uid_validity: UidValidity,
    pub unseen: u32,
    pub highest_modseq: Modseq,
}

impl Counts {
    /// The counts of a freshly opened mailbox.
    pub(super) fn of(mb: &Mailbox) -> Counts {
        let unseen = mb
            .uids()
            .filter(|u| mb.info(*u).is_some_and(|i| !i.flags.contains(&Flag::Seen)))
            .count();
        Counts {
            messages: mb.exists(),
            uidnext: mb.uidnext(),
            uid_validity: mb.uid_validity(),
            unseen: u32::try_from(unseen).unwrap_or(u32::MAX),
            highest_modseq: mb.highest_modseq(),
        }
    }

    /// Opens mailbox `info` afresh and counts.
    pub(super) fn read(
        keys: &std::sync::Arc<crate::store::mailbox::UserKeys>,
        dir: &std::path::Path,
        info: &MailboxInfo,
    ) -> Result<Counts, MailboxError> {
        Mailbox::open(keys.clone(), dir, &info.id, info.uid_validity).map(|mb| Counts::of(&mb))
    }
}

/// How many watched mailboxes stay open between looks.
const OPEN_MAX: usize = 8;
/// Larger mailboxes are opened afresh each time rather than kept: their
/// state would cost more memory than a session should hold for this.
const OPEN_MAX_MESSAGES: u32 = 20_000;

/// The most recently changed watched mailboxes, kept open so that their
/// next change costs only reading the new log records, not the snapshot.
#[derive(Default)]
pub(super) struct OpenCache {
    handles: std::collections::VecDeque<(MailboxId, Mailbox)>,
}

impl OpenCache {
    /// The counts of mailbox `info` now.
    pub(super) fn counts(
        &mut self,
        keys: &std::sync::Arc<crate::store::mailbox::UserKeys>,
        dir: &std::path::Path,
        info: &MailboxInfo,
    ) -> Result<Counts, MailboxError> {
        let mb = match self.handles.iter().position(|(id, _)| *id == info.id) {
            Some(i) => match self.handles.remove(i) {
                Some((_, mut mb)) => {
                    mb.refresh()?;
                    mb
                }
                None => Mailbox::open(keys.clone(), dir, &info.id, info.uid_validity)?,
            },
            None => Mailbox::open(keys.clone(), dir, &info.id, info.uid_validity)?,
        };
        let c = Counts::of(&mb);
        if mb.exists() <= OPEN_MAX_MESSAGES {
            self.handles.push_front((info.id, mb));
            self.handles.truncate(OPEN_MAX);
        }
        Ok(c)
    }

    /// Closes mailbox `id` (no longer watched).
    pub(super) fn forget(&mut self, id: MailboxId) {
        self.handles.retain(|(i, _)| *i != id);
    }
}

/// What kind of change a new look at a mailbox found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Nothing a client can see.
    None,
    /// Messages came or went (or the mailbox was recreated).
    Messages,
    /// Only flags (or other modseq-carrying metadata) changed.
    Flags,
}

pub(super) fn kind(before: Counts, after: Counts) -> Kind {
    if before.messages != after.messages
        || before.uidnext != after.uidnext
        || before.uid_validity != after.uid_validity
    {
        Kind::Messages
    } else if before.highest_modseq != after.highest_modseq || before.unseen != after.unseen {
        Kind::Flags
    } else {
        Kind::None
    }
}

/// `* STATUS name (...)` for a change of `kind` (RFC 5465 §5.2, §5.3:
/// MESSAGES and UIDNEXT; §5.1: UIDVALIDITY for a flag change; UNSEEN in
/// both, which is what a client shows; HIGHESTMODSEQ (`modseq`) with
/// CONDSTORE on or FlagChange asked for, as Dovecot does), or the full set
/// NOTIFY SET STATUS sends (`kind` None).
pub(super) fn status_line(
    out: &mut Vec<u8>,
    name: &MailboxName,
    c: Counts,
    kind: Kind,
    modseq: bool,
    utf8: bool,
) {
    let mut items = Vec::with_capacity(5);
    if kind != Kind::Flags {
        items.push(StatusValue::Messages(c.messages));
        items.push(StatusValue::UidNext(c.uidnext));
    }
    if kind != Kind::Messages {
        items.push(StatusValue::UidValidity(c.uid_validity.get()));
    }
    items.push(StatusValue::Unseen(c.unseen));
    if modseq {
        items.push(StatusValue::HighestModSeq(c.highest_modseq.get()));
    }
    Response::MailboxStatus {
        mailbox: EncodedMailbox::new(name.as_str(), utf8),
        items,
    }
    .encode(out);
}

/// The account as NOTIFY last told the client about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AccountView {
    pub names: BTreeMap<MailboxId, MailboxName>,
    pub subscriptions: BTreeSet<MailboxName>,
}

impl AccountView {
    pub(super) fn of(account: &Account) -> AccountView {
        AccountView {
            names: account
                .mailboxes()
                .map(|i| (i.id, i.name.clone()))
                .collect(),
            subscriptions: account.subscriptions().cloned().collect(),
        }
    }
}

/// One account change, as RFC 5465 §5.4 and §5.5 report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AccountChange {
    Created(MailboxName),
    Deleted(MailboxName),
    Renamed { from: MailboxName, to: MailboxName },
    Subscription(MailboxName),
}

/// The changes from `before` to `after`, in a stable order: names first
/// (by mailbox), then subscriptions (by name).
pub(super) fn account_changes(before: &AccountView, after: &AccountView) -> Vec<AccountChange> {
    let mut out = Vec::new();
    for (id, name) in &after.names {
        match before.names.get(id) {
            None => out.push(AccountChange::Created(name.clone())),
            Some(old) if old != name => out.push(AccountChange::Renamed {
                from: old.clone(),
                to: name.clone(),
            }),
            Some(_) => {}
        }
    }
    for (id, name) in &before.names {
        if !after.names.contains_key(id) {
            out.push(AccountChange::Deleted(name.clone()));
        }
    }
    let changed: BTreeSet<&MailboxName> = before
        .subscriptions
        .symmetric_difference(&after.subscriptions)
        .collect();
    out.extend(
        changed
            .into_iter()
            .map(|n| AccountChange::Subscription(n.clone())),
    );
    out
}

/// `* LIST (attrs) "/" name [("OLDNAME" (old))]` describing `name` as the
/// account now has it: `\NonExistent` when no mailbox has the name,
/// `\Subscribed` when subscribed, children and special-use otherwise.
pub(super) fn list_line(
    out: &mut Vec<u8>,
    account: &Account,
    name: &MailboxName,
    old: Option<&MailboxName>,
    utf8: bool,
) {
    let mut attrs: Vec<Cow<'_, str>> = Vec::new();
    let info = account.mailbox(name);
    if info.is_none() {
        attrs.push(Cow::Borrowed("\\NonExistent"));
    }
    if account.is_subscribed(name) {
        attrs.push(Cow::Borrowed("\\Subscribed"));
    }
    attrs.push(Cow::Borrowed(if account.has_children(name) {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    }));
    if let Some(info) = info {
        attrs.extend(info.special_use.iter().map(|u| Cow::Borrowed(u.as_imap())));
    }
    Response::List(ListResponse {
        kind: ListKind::List,
        attributes: attrs,
        delimiter: Some('/'),
        mailbox: EncodedMailbox::new(name.as_str(), utf8),
        extended: old
            .map(|o| vec![ListExtended::OldName(EncodedMailbox::new(o.as_str(), utf8))])
            .unwrap_or_default(),
    })
    .encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> MailboxName {
        MailboxName::parse(s).expect("name")
    }

    fn id(b: u8) -> MailboxId {
        MailboxId::parse_hex(&format!("{b:02x}").repeat(16)).expect("id")
    }

    #[test]
    fn account_changes_name_creations_renames_deletions_and_subscriptions() {
        let before = AccountView {
            names: [(id(1), n("A")), (id(2), n("B")), (id(3), n("C"))].into(),
            subscriptions: [n("A"), n("X")].into(),
        };
        let after = AccountView {
            names: [(id(1), n("A")), (id(2), n("B2")), (id(4), n("D"))].into(),
            subscriptions: [n("A"), n("Y")].into(),
        };
        assert_eq!(
            account_changes(&before, &after),
            vec![
                AccountChange::Renamed {
                    from: n("B"),
                    to: n("B2")
                },
                AccountChange::Created(n("D")),
                AccountChange::Deleted(n("C")),
                AccountChange::Subscription(n("X")),
                AccountChange::Subscription(n("Y")),
            ]
        );
        assert!(account_changes(&after, &after).is_empty());
    }

    #[test]
    fn kind_tells_messages_from_flags() {
        let c = Counts {
            messages: 2,
            uidnext: Uid::new(3).expect("uid"),
            uid_validity: UidValidity::new(7).expect("v"),
            unseen: 1,
            highest_modseq: Modseq::new(5).expect("m"),
        };
        assert_eq!(kind(c, c), Kind::None);
        let more = Counts {
            uidnext: Uid::new(4).expect("uid"),
            ..c
        };
        assert_eq!(kind(c, more), Kind::Messages);
        let seen = Counts {
            unseen: 0,
            highest_modseq: Modseq::new(6).expect("m"),
            ..c
        };
        assert_eq!(kind(c, seen), Kind::Flags);
        let mut out = Vec::new();
        status_line(&mut out, &n("Lists/a"), seen, Kind::Flags, true, false);
        status_line(&mut out, &n("B"), more, Kind::Messages, false, false);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "* STATUS \"Lists/a\" (UIDVALIDITY 7 UNSEEN 0 HIGHESTMODSEQ 6)\r\n\
             * STATUS \"B\" (MESSAGES 2 UIDNEXT 4 UNSEEN 1)\r\n"
        );
    }
}
