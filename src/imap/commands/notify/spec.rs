//! What a NOTIFY SET asked for, checked against RFC 5465's rules and
//! reduced to what this server acts on: the selected mailbox's events, and
//! for every other mailbox the ordered filters with their events. Owns the
//! validation answers (`NO [BADEVENT]`, `BAD`) and the matching of a
//! mailbox name against the filters; never reads the store.

use crate::imap::context::Reply;
use crate::imap::wire::command::{FetchAttr, NotifyEvent, NotifyFilter};
use crate::imap::wire::notify::EventGroup;
use crate::imap::wire::response::ResponseCode;
use crate::store::account::{MailboxName, DELIMITER};

/// The events this server can report, as BADEVENT lists them. The
/// annotation and metadata events need ANNOTATE / METADATA, which this
/// server does not have (RFC 5465 §5.1, §5.6, §5.7).
pub(super) const SUPPORTED: [&str; 5] = [
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "MailboxName",
    "SubscriptionChange",
];

/// Names a NOTIFY may list in SUBTREE and MAILBOXES together; more is
/// refused with `NO [NOTIFICATIONOVERFLOW]` before anything is looked up.
pub(super) const MAX_NAMED: usize = 1000;

/// The events asked for one mailbox (the union over the groups that match
/// it, up to a group with `NONE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Events {
    /// MessageNew and MessageExpunge (always together).
    pub messages: bool,
    /// FlagChange.
    pub flags: bool,
    /// MailboxName.
    pub names: bool,
    /// SubscriptionChange.
    pub subscriptions: bool,
}

impl Events {
    fn union(self, o: Events) -> Events {
        Events {
            messages: self.messages || o.messages,
            flags: self.flags || o.flags,
            names: self.names || o.names,
            subscriptions: self.subscriptions || o.subscriptions,
        }
    }

    /// Any event about messages (what a STATUS notification reports).
    pub(crate) fn any_message_event(self) -> bool {
        self.messages || self.flags
    }
}

/// The selected mailbox's events (SELECTED or SELECTED-DELAYED).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SelectedSpec {
    /// SELECTED-DELAYED: expunges wait for a command that may report them.
    pub delayed: bool,
    /// MessageNew and MessageExpunge.
    pub messages: bool,
    /// FlagChange.
    pub flags: bool,
    /// MessageNew's FETCH attributes for each new message.
    pub new_attrs: Vec<FetchAttr>,
}

/// Which mailboxes a group names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Mailboxes mail may be delivered to.
    Inboxes,
    /// Every mailbox.
    Personal,
    /// Subscribed mailboxes.
    Subscribed,
    /// These names and everything below them.
    Subtree(Vec<String>),
    /// Exactly these names.
    Mailboxes(Vec<String>),
}

/// What the account is like, for the filters that depend on it.
pub(crate) trait Facts {
    /// Whether `name` is subscribed.
    fn subscribed(&self, name: &MailboxName) -> bool;
    /// Whether mail can be delivered into mailboxes other than INBOX
    /// (`+detail` delivery on).
    fn delivers_everywhere(&self) -> bool;
}

/// A validated NOTIFY SET.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    /// `None`: nothing about the selected mailbox is pushed.
    pub selected: Option<SelectedSpec>,
    /// The other groups in order; `None` events is NONE.
    pub groups: Vec<(Filter, Option<Events>)>,
}

impl Spec {
    /// Checks a NOTIFY SET's groups: an unsupported event is `NO
    /// [BADEVENT (supported...)]` (RFC 5465 §3.1, checked first, as the
    /// answer a client can act on), the forbidden combinations are `BAD`
    /// (§5: MessageNew and MessageExpunge together, FlagChange only with
    /// them; §6.1: one selected filter, message events only), too many
    /// names `NO [NOTIFICATIONOVERFLOW]`.
    pub(crate) fn from_wire(groups: &[EventGroup]) -> Result<Spec, Reply> {
        for g in groups {
            for e in g.events.iter().flatten() {
                let supported = matches!(
                    e,
                    NotifyEvent::MessageNew(_)
                        | NotifyEvent::MessageExpunge
                        | NotifyEvent::FlagChange
                        | NotifyEvent::MailboxName
                        | NotifyEvent::SubscriptionChange
                );
                if !supported {
                    return Err(Reply::no(
                        Some(ResponseCode::BadEvent(
                            SUPPORTED.iter().map(|s| (*s).to_owned()).collect(),
                        )),
                        format!("Event {} is not supported", e.name()),
                    ));
                }
            }
        }
        let named: usize = groups
            .iter()
            .map(|g| match &g.filter {
                NotifyFilter::Subtree(m) | NotifyFilter::Mailboxes(m) => m.len(),
                _ => 0,
            })
            .sum();
        if named > MAX_NAMED {
            return Err(Reply::no(
                Some(ResponseCode::NotificationOverflow),
                format!("At most {MAX_NAMED} mailboxes can be named in one NOTIFY"),
            ));
        }
        let mut spec = Spec {
            selected: None,
            groups: Vec::new(),
        };
        let mut saw_selected = false;
        for g in groups {
            let events = match &g.events {
                Some(list) => Some(events_of(list)?),
                None => None,
            };
            match &g.filter {
                NotifyFilter::Selected | NotifyFilter::SelectedDelayed => {
                    if saw_selected {
                        return Err(Reply::bad(
                            "Only one of SELECTED and SELECTED-DELAYED may be given",
                        ));
                    }
                    saw_selected = true;
                    let list = g.events.as_deref().unwrap_or_default();
                    if let Some(e) = list.iter().find(|e| !e.is_message_event()) {
                        return Err(Reply::bad(format!(
                            "{} is not a message event; SELECTED takes only those",
                            e.name()
                        )));
                    }
                    let new_attrs = list
                        .iter()
                        .find_map(|e| match e {
                            NotifyEvent::MessageNew(a) => Some(a.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    spec.selected = events.map(|e| SelectedSpec {
                        delayed: g.filter == NotifyFilter::SelectedDelayed,
                        messages: e.messages,
                        flags: e.flags,
                        new_attrs,
                    });
                }
                NotifyFilter::Inboxes => spec.groups.push((Filter::Inboxes, events)),
                NotifyFilter::Personal => spec.groups.push((Filter::Personal, events)),
                NotifyFilter::Subscribed => spec.groups.push((Filter::Subscribed, events)),
                NotifyFilter::Subtree(m) => spec.groups.push((Filter::Subtree(names(m)), events)),
                NotifyFilter::Mailboxes(m) => {
                    spec.groups.push((Filter::Mailboxes(names(m)), events))
                }
            }
        }
        Ok(spec)
    }

    /// The events asked for mailbox `name` (other than as the selected
    /// one): the groups whose filter matches, in order, until one says
    /// NONE (RFC 5465 §6).
    pub(crate) fn events_for(&self, name: &MailboxName, facts: &dyn Facts) -> Events {
        let mut all = Events::default();
        for (filter, events) in &self.groups {
            let matches = match filter {
                Filter::Personal => true,
                Filter::Inboxes => name.is_inbox() || facts.delivers_everywhere(),
                Filter::Subscribed => facts.subscribed(name),
                Filter::Mailboxes(list) => list.iter().any(|n| n == name.as_str()),
                Filter::Subtree(list) => list.iter().any(|top| {
                    let n = name.as_str();
                    n == top
                        || n.strip_prefix(top.as_str())
                            .is_some_and(|rest| rest.starts_with(DELIMITER))
                }),
            };
            if !matches {
                continue;
            }
            match events {
                Some(e) => all = all.union(*e),
                None => break,
            }
        }
        all
    }

    /// Whether any group can match a mailbox's message events (then the
    /// mailboxes have to be watched at all).
    pub(crate) fn watches_messages(&self) -> bool {
        self.groups
            .iter()
            .any(|(_, e)| e.is_some_and(|e| e.any_message_event()))
    }
}

/// The names as given (already decoded, INBOX normalised). Names the store
/// could never hold stay too: they just never match (RFC 5465 §6.5, §6.6:
/// names that do not exist are not an error).
fn names(list: &[crate::imap::wire::command::MailboxArg]) -> Vec<String> {
    list.iter().map(|m| m.0.clone()).collect()
}

fn events_of(list: &[NotifyEvent]) -> Result<Events, Reply> {
    let has = |f: fn(&NotifyEvent) -> bool| list.iter().any(f);
    let new = has(|e| matches!(e, NotifyEvent::MessageNew(_)));
    let expunge = has(|e| matches!(e, NotifyEvent::MessageExpunge));
    let flags = has(|e| matches!(e, NotifyEvent::FlagChange));
    if new != expunge {
        return Err(Reply::bad(
            "MessageNew and MessageExpunge must be given together",
        ));
    }
    if flags && !new {
        return Err(Reply::bad(
            "FlagChange needs MessageNew and MessageExpunge as well",
        ));
    }
    Ok(Events {
        messages: new,
        flags,
        names: has(|e| matches!(e, NotifyEvent::MailboxName)),
        subscriptions: has(|e| matches!(e, NotifyEvent::SubscriptionChange)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::command::{Command, CommandBody, NotifyCommand};
    use crate::imap::wire::parser::{parse_command, ParseOptions};
    use crate::imap::wire::response::Status;

    struct F;
    impl Facts for F {
        fn subscribed(&self, name: &MailboxName) -> bool {
            name.as_str() == "Lists/rust"
        }
        fn delivers_everywhere(&self) -> bool {
            false
        }
    }

    fn spec(text: &str) -> Result<Spec, Reply> {
        let cmd = parse_command(format!("a {text}\r\n").as_bytes(), &ParseOptions::default());
        let Ok(Command {
            body: CommandBody::Notify(NotifyCommand::Set { groups, .. }),
            ..
        }) = cmd
        else {
            panic!("{text} did not parse: {cmd:?}");
        };
        Spec::from_wire(&groups)
    }

    fn name(s: &str) -> MailboxName {
        MailboxName::parse(s).expect("name")
    }

    #[test]
    fn rfc5465_3_1_unsupported_event_is_no_badevent_listing_the_supported() {
        for event in ["AnnotationChange", "MailboxMetadataChange", "X-Unknown"] {
            let r = spec(&format!(
                "NOTIFY SET (PERSONAL ({event})) (SELECTED (MessageNew MessageExpunge))"
            ))
            .expect_err(event);
            assert_eq!(r.status, Status::No, "{event}");
            let Some(ResponseCode::BadEvent(list)) = r.code else {
                panic!("{event}: {r:?}");
            };
            assert_eq!(list, SUPPORTED.to_vec(), "{event}");
        }
    }

    #[test]
    fn rfc5465_5_and_6_1_forbidden_combinations_are_bad() {
        for text in [
            "NOTIFY SET (PERSONAL (MessageNew))",
            "NOTIFY SET (PERSONAL (MessageExpunge))",
            "NOTIFY SET (PERSONAL (FlagChange))",
            "NOTIFY SET (PERSONAL (FlagChange MessageNew))",
            "NOTIFY SET (SELECTED (MailboxName))",
            "NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge SubscriptionChange))",
            "NOTIFY SET (SELECTED NONE) (SELECTED-DELAYED (MessageNew MessageExpunge))",
        ] {
            let r = spec(text).expect_err(text);
            assert_eq!(r.status, Status::Bad, "{text}: {r:?}");
        }
    }

    #[test]
    fn rfc5465_3_1_thousands_of_named_mailboxes_overflow() {
        let many: Vec<String> = (0..=MAX_NAMED).map(|i| format!("m{i}")).collect();
        let r = spec(&format!(
            "NOTIFY SET (MAILBOXES ({}) (MessageNew MessageExpunge))",
            many.join(" ")
        ))
        .expect_err("too many");
        assert_eq!(r.status, Status::No);
        assert_eq!(r.code, Some(ResponseCode::NotificationOverflow));
    }

    #[test]
    fn rfc5465_6_filters_match_in_order_until_none() {
        let s = spec(
            "NOTIFY SET (MAILBOXES Trash NONE) (SUBTREE Lists (MessageNew MessageExpunge)) \
             (SUBSCRIBED (MessageNew MessageExpunge FlagChange)) (PERSONAL (MailboxName)) \
             (SELECTED-DELAYED (MessageNew (UID) MessageExpunge))",
        )
        .expect("valid");
        let sel = s.selected.clone().expect("selected");
        assert!(sel.delayed && sel.messages && !sel.flags);
        assert_eq!(sel.new_attrs, vec![FetchAttr::Uid]);
        let e = |n: &str| s.events_for(&name(n), &F);
        assert_eq!(e("Trash"), Events::default(), "NONE stops the search");
        assert_eq!(
            e("Lists/rust"),
            Events {
                messages: true,
                flags: true,
                names: true,
                subscriptions: false
            }
        );
        assert!(e("Lists").messages && !e("Lists").flags);
        assert!(!e("Listsx").messages, "a subtree is not a prefix");
        assert!(e("Listsx").names);
        assert!(!e("INBOX").messages);
        assert!(s.watches_messages());
    }

    #[test]
    fn rfc5465_6_3_inboxes_is_inbox_unless_detail_delivery_is_on() {
        let s = spec("NOTIFY SET (INBOXES (MessageNew MessageExpunge))").expect("valid");
        assert!(s.events_for(&name("INBOX"), &F).messages);
        assert!(!s.events_for(&name("Archive"), &F).messages);
        struct Everywhere;
        impl Facts for Everywhere {
            fn subscribed(&self, _: &MailboxName) -> bool {
                false
            }
            fn delivers_everywhere(&self) -> bool {
                true
            }
        }
        assert!(s.events_for(&name("Archive"), &Everywhere).messages);
        assert!(s.selected.is_none(), "no SELECTED group: SELECTED NONE");
    }
}
