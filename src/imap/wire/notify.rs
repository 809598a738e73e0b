//! The syntax tree of RFC 5465 NOTIFY: what a client asked to be told
//! about, exactly as it said it. Never checks the combinations the RFC
//! forbids (MessageNew without MessageExpunge, two SELECTED groups...) nor
//! whether an event is supported: the handler answers those, with the
//! response codes the RFC gives (`imap::commands::notify`).

use super::command::{FetchAttr, MailboxArg};

/// `NOTIFY NONE` or `NOTIFY SET [STATUS] event-group...`.
#[derive(Debug, Clone, PartialEq)]
pub enum NotifyCommand {
    /// `NONE`: no notifications at all.
    None,
    /// `SET`: replaces the whole notification set.
    Set {
        /// `STATUS`: report each watched mailbox's STATUS at once.
        status: bool,
        /// The event groups, in the order given (the first that matches a
        /// mailbox decides for it).
        groups: Vec<EventGroup>,
    },
}

/// `( filter-mailboxes SP events )`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventGroup {
    /// Which mailboxes.
    pub filter: NotifyFilter,
    /// The events; `None` is the keyword `NONE` (nothing for these).
    pub events: Option<Vec<NotifyEvent>>,
}

/// `filter-mailboxes` (RFC 5465 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyFilter {
    /// `SELECTED`: the selected mailbox, events at once.
    Selected,
    /// `SELECTED-DELAYED`: the selected mailbox, expunges held back until
    /// a command during which EXPUNGE may be sent.
    SelectedDelayed,
    /// `INBOXES`: mailboxes mail is delivered to.
    Inboxes,
    /// `PERSONAL`: every mailbox of the user.
    Personal,
    /// `SUBSCRIBED`: every subscribed mailbox.
    Subscribed,
    /// `SUBTREE mailboxes`: the named mailboxes and all their inferiors.
    Subtree(Vec<MailboxArg>),
    /// `MAILBOXES mailboxes`: exactly the named mailboxes.
    Mailboxes(Vec<MailboxArg>),
}

/// One event name (RFC 5465 §5), with MessageNew's FETCH attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum NotifyEvent {
    /// `MessageNew [(fetch-att...)]`.
    MessageNew(Vec<FetchAttr>),
    /// `MessageExpunge`.
    MessageExpunge,
    /// `FlagChange`.
    FlagChange,
    /// `AnnotationChange` (needs ANNOTATE, which this server lacks).
    AnnotationChange,
    /// `MailboxName`: mailboxes created, deleted, renamed.
    MailboxName,
    /// `SubscriptionChange`.
    SubscriptionChange,
    /// `MailboxMetadataChange` (needs METADATA).
    MailboxMetadataChange,
    /// `ServerMetadataChange` (needs METADATA).
    ServerMetadataChange,
    /// Any other event name, as sent (answered `NO [BADEVENT]`).
    Other(String),
}

impl NotifyEvent {
    /// The event's name as RFC 5465 spells it.
    pub fn name(&self) -> &str {
        match self {
            NotifyEvent::MessageNew(_) => "MessageNew",
            NotifyEvent::MessageExpunge => "MessageExpunge",
            NotifyEvent::FlagChange => "FlagChange",
            NotifyEvent::AnnotationChange => "AnnotationChange",
            NotifyEvent::MailboxName => "MailboxName",
            NotifyEvent::SubscriptionChange => "SubscriptionChange",
            NotifyEvent::MailboxMetadataChange => "MailboxMetadataChange",
            NotifyEvent::ServerMetadataChange => "ServerMetadataChange",
            NotifyEvent::Other(name) => name,
        }
    }

    /// The event a name stands for, case-insensitively; any other name is
    /// [`NotifyEvent::Other`]. MessageNew comes without attributes.
    pub fn from_name(name: &str) -> NotifyEvent {
        const KNOWN: &[NotifyEvent] = &[
            NotifyEvent::MessageExpunge,
            NotifyEvent::FlagChange,
            NotifyEvent::AnnotationChange,
            NotifyEvent::MailboxName,
            NotifyEvent::SubscriptionChange,
            NotifyEvent::MailboxMetadataChange,
            NotifyEvent::ServerMetadataChange,
        ];
        if name.eq_ignore_ascii_case("MessageNew") {
            return NotifyEvent::MessageNew(Vec::new());
        }
        KNOWN
            .iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| NotifyEvent::Other(name.to_owned()))
    }

    /// A `message-event` (RFC 5465 §8): the only kind the SELECTED and
    /// SELECTED-DELAYED filters take.
    pub fn is_message_event(&self) -> bool {
        matches!(
            self,
            NotifyEvent::MessageNew(_)
                | NotifyEvent::MessageExpunge
                | NotifyEvent::FlagChange
                | NotifyEvent::AnnotationChange
        )
    }
}
