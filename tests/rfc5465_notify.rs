//! NOTIFY (RFC 5465) over the real binary, with two real sessions: one
//! asks to be notified and then sends nothing (or idles), the other
//! changes mailboxes. Every notification the first one reads was pushed by
//! the server on its own; where nothing may be pushed, a NOOP (which
//! reports everything pending) shows that nothing was. Each test is named
//! for the section whose rule it checks.

mod common;

use common::alice::{login, root_with};
use common::client::{tagged_code, texts};
use crymap_like::imap::wire::response::ResponseCode;

/// The untagged lines and the tagged one of a command that must have
/// pushed nothing but its tagged OK.
fn quiet_noop(s: &mut common::Session) {
    let r = s.ok("NOOP");
    assert_eq!(r.len(), 1, "nothing pending: {r:#?}");
}

#[test]
fn rfc5465_3_1_set_status_reports_every_watched_mailbox_but_the_selected_one() {
    let root = root_with("notify-status", 2);
    let mut s = login(&root);
    s.ok("SELECT INBOX");
    let r = s.ok("NOTIFY SET STATUS (SELECTED (MessageNew MessageExpunge)) (PERSONAL (MessageNew MessageExpunge))");
    let statuses: Vec<&String> = r.iter().filter(|l| l.starts_with("* STATUS")).collect();
    for name in ["Archive", "Drafts", "Sent", "Spam", "Trash"] {
        assert!(
            statuses.iter().any(|l| l.starts_with(&format!(
                "* STATUS \"{name}\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY "
            )) && l.ends_with("UNSEEN 0)")),
            "{name}: {r:#?}"
        );
    }
    assert_eq!(statuses.len(), 5, "none for the selected INBOX: {r:#?}");
    // Without STATUS nothing is said before the OK.
    let r = s.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))");
    assert_eq!(r.len(), 1, "{r:#?}");
    // FlagChange adds HIGHESTMODSEQ, with or without CONDSTORE (imaptest
    // `notify`, as fixed upstream in dovecot/imaptest#18).
    let r = s.ok("NOTIFY SET STATUS (MAILBOXES Drafts (MessageNew MessageExpunge FlagChange))");
    assert!(
        r.iter().any(
            |l| l.starts_with("* STATUS \"Drafts\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ")
                && l.contains(" HIGHESTMODSEQ ")
        ),
        "{r:#?}"
    );
    // CONDSTORE adds HIGHESTMODSEQ (RFC 5465 §3.1).
    s.ok("ENABLE CONDSTORE");
    let r = s.ok("NOTIFY SET STATUS (MAILBOXES Archive (MessageNew MessageExpunge))");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* STATUS \"Archive\" (") && l.contains(" HIGHESTMODSEQ ")),
        "{r:#?}"
    );
}

#[test]
fn rfc5465_3_1_unsupported_events_are_no_badevent_and_forbidden_combinations_bad() {
    let root = root_with("notify-bad", 1);
    let mut s = login(&root);
    for event in [
        "AnnotationChange",
        "MailboxMetadataChange",
        "ServerMetadataChange",
        "X-NoSuchEvent",
    ] {
        let r = s.run(&format!("NOTIFY SET (PERSONAL ({event}))"));
        let last = texts(&r).pop().unwrap_or_default();
        assert!(last.contains(" NO [BADEVENT ("), "{event}: {last}");
        assert_eq!(
            tagged_code(&r),
            Some(&ResponseCode::BadEvent(
                [
                    "MessageNew",
                    "MessageExpunge",
                    "FlagChange",
                    "MailboxName",
                    "SubscriptionChange"
                ]
                .map(String::from)
                .to_vec()
            )),
            "{event}"
        );
    }
    for text in [
        "NOTIFY SET (PERSONAL (MessageNew))",
        "NOTIFY SET (PERSONAL (MessageExpunge))",
        "NOTIFY SET (INBOXES (FlagChange))",
        "NOTIFY SET (SELECTED (MailboxName))",
        "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (SELECTED-DELAYED (MessageNew MessageExpunge))",
    ] {
        s.expect(text, "BAD");
    }
    // Malformed commands are BAD with a reason, sent as raw bytes.
    for raw in [
        "NOTIFY",
        "NOTIFY SET",
        "NOTIFY SET (PERSONAL MessageNew)",
        "NOTIFY SET (EVERYWHERE (MessageNew MessageExpunge))",
    ] {
        let r = s.raw_cmd(raw);
        assert!(
            r.last().is_some_and(|l| l.contains(" BAD ")),
            "{raw}: {r:#?}"
        );
    }
    // Thousands of named mailboxes: refused whole, nothing watched.
    let names: Vec<String> = (0..3000).map(|i| format!("box{i}")).collect();
    let r = s.run(&format!(
        "NOTIFY SET (MAILBOXES ({}) (MessageNew MessageExpunge))",
        names.join(" ")
    ));
    assert_eq!(
        tagged_code(&r),
        Some(&ResponseCode::NotificationOverflow),
        "{:?}",
        texts(&r).last()
    );
    // The session goes on, with no NOTIFY in force.
    s.ok("SELECT INBOX");
    quiet_noop(&mut s);
}

#[test]
fn rfc5465_5_2_5_3_5_1_other_mailboxes_report_status_between_commands() {
    let root = root_with("notify-other", 1);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    a.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge FlagChange))");
    b.ok("SELECT Archive");
    b.ok("APPEND Archive {12+}\r\nSubject: x\r\n");
    // Pushed while `a` sends nothing at all.
    // FlagChange asked: HIGHESTMODSEQ comes along, CONDSTORE or not.
    let l = a.c.line();
    assert!(
        l.starts_with("* STATUS \"Archive\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1 HIGHESTMODSEQ "),
        "{l}"
    );
    b.ok("STORE 1 +FLAGS (\\Seen)");
    let l = a.c.line();
    assert!(
        l.starts_with("* STATUS \"Archive\" (UIDVALIDITY ")
            && l.contains(" UNSEEN 0 HIGHESTMODSEQ "),
        "{l}"
    );
    b.ok("STORE 1 +FLAGS (\\Deleted)");
    a.c.line();
    b.ok("EXPUNGE");
    let l = a.c.line();
    assert!(
        l.starts_with("* STATUS \"Archive\" (MESSAGES 0 UIDNEXT 2 UNSEEN 0 HIGHESTMODSEQ "),
        "{l}"
    );
    // A change to the selected INBOX is not a STATUS (SELECTED was not
    // asked for: nothing is pushed), and the command's own refresh still
    // reports it as RFC 3501 wants.
    b.ok("APPEND INBOX {12+}\r\nSubject: y\r\n");
    let r = a.ok("NOOP");
    assert!(r.iter().any(|l| l == "* 2 EXISTS"), "{r:#?}");
    assert!(!r.iter().any(|l| l.starts_with("* STATUS")), "{r:#?}");
    // NOTIFY NONE: nothing more.
    a.ok("NOTIFY NONE");
    b.ok("APPEND Archive {12+}\r\nSubject: z\r\n");
    quiet_noop(&mut a);
}

#[test]
fn rfc5465_5_2_selected_mailbox_new_flags_and_expunges_are_pushed_with_fetch_attributes() {
    let root = root_with("notify-selected", 2);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    a.ok("NOTIFY SET (SELECTED (MessageNew (UID RFC822.SIZE) MessageExpunge FlagChange))");
    b.ok("APPEND INBOX {14+}\r\nSubject: new\r\n");
    assert_eq!(a.c.line(), "* 3 EXISTS");
    assert_eq!(
        a.c.line(),
        "* 3 RECENT",
        "the only session with INBOX selected"
    );
    assert_eq!(a.c.line(), "* 3 FETCH (UID 3 RFC822.SIZE 14)");
    b.ok("SELECT INBOX");
    b.ok("UID STORE 1 +FLAGS.SILENT (\\Flagged)");
    let l = a.c.line();
    assert!(l.starts_with("* 1 FETCH (FLAGS (\\Flagged"), "{l}");
    b.ok("XVANQUISH 1");
    assert_eq!(
        a.c.line(),
        "* 1 EXPUNGE",
        "pushed: SELECTED allows it at any time"
    );
    b.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    let l = a.c.line();
    assert!(l.starts_with("* 1 FETCH (FLAGS (\\Deleted"), "{l}");
    // Own APPEND: the EXISTS, but no MessageNew FETCH (RFC 5465 §5.2).
    let r = a.ok("APPEND INBOX {14+}\r\nSubject: own\r\n");
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:#?}");
    assert!(!r.iter().any(|l| l.contains("FETCH")), "{r:#?}");
}

#[test]
fn rfc5465_6_1_selected_delayed_holds_expunges_until_a_command_allows_them() {
    let root = root_with("notify-delayed", 2);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    a.ok("NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge))");
    b.ok("SELECT INBOX");
    b.ok("XVANQUISH 1");
    b.ok("APPEND INBOX {14+}\r\nSubject: new\r\n");
    // The new message comes at once, numbered after the expunged one,
    // which keeps its sequence number until a command may expunge.
    assert_eq!(a.c.line(), "* 3 EXISTS");
    let r = a.ok("FETCH 1:3 (UID)");
    assert!(
        r.iter().any(|l| l == "* 1 FETCH (UID 1)"),
        "still there: {r:#?}"
    );
    assert!(!r.iter().any(|l| l.ends_with("EXPUNGE")), "{r:#?}");
    let r = a.ok("NOOP");
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:#?}");
}

#[test]
fn rfc5465_4_idle_reports_exactly_what_notify_asked_for() {
    let root = root_with("notify-idle", 1);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    a.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))");
    let t = a.start("IDLE");
    assert_eq!(a.c.line(), "+ idling");
    // The selected INBOX has no SELECTED group: its new message is not
    // pushed during IDLE ...
    b.ok("APPEND INBOX {12+}\r\nSubject: x\r\n");
    // ... so the first thing the idler hears is about Trash.
    b.ok("APPEND Trash {12+}\r\nSubject: t\r\n");
    assert_eq!(
        a.c.line(),
        "* STATUS \"Trash\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"
    );
    // Another session renames a mailbox during IDLE.
    b.ok("RENAME Spam Junk");
    assert_eq!(
        a.c.line(),
        "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\" (\"OLDNAME\" (\"Spam\"))"
    );
    a.c.send(b"DONE\r\n");
    let r = a.c.until_tagged(&t);
    assert!(
        r.iter().any(|l| l == "* 2 EXISTS"),
        "reported at the end: {r:#?}"
    );
    assert!(
        r.last().is_some_and(|l| l.starts_with(&format!("{t} OK"))),
        "{r:#?}"
    );
}

#[test]
fn rfc5465_5_4_5_5_mailbox_names_and_subscriptions_changed_by_another_session() {
    let root = root_with("notify-names", 0);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("NOTIFY SET (PERSONAL (MailboxName SubscriptionChange))");
    b.ok("CREATE Projects");
    assert_eq!(a.c.line(), "* LIST (\\HasNoChildren) \"/\" \"Projects\"");
    b.ok("SUBSCRIBE Projects");
    assert_eq!(
        a.c.line(),
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Projects\""
    );
    b.ok("CREATE Projects/2026");
    assert_eq!(
        a.c.line(),
        "* LIST (\\HasNoChildren) \"/\" \"Projects/2026\""
    );
    // A rename reports every renamed mailbox with its old name.
    b.ok("RENAME Projects Work");
    let mut got = vec![a.c.line(), a.c.line()];
    got.sort();
    assert_eq!(
        got,
        vec![
            "* LIST (\\HasChildren) \"/\" \"Work\" (\"OLDNAME\" (\"Projects\"))".to_owned(),
            "* LIST (\\HasNoChildren) \"/\" \"Work/2026\" (\"OLDNAME\" (\"Projects/2026\"))"
                .to_owned(),
        ]
    );
    b.ok("DELETE Work/2026");
    assert_eq!(
        a.c.line(),
        "* LIST (\\NonExistent \\HasNoChildren) \"/\" \"Work/2026\""
    );
    // The subscription stayed with the old name (RFC 3501 §6.3.6).
    b.ok("UNSUBSCRIBE Projects");
    assert_eq!(
        a.c.line(),
        "* LIST (\\NonExistent \\HasNoChildren) \"/\" \"Projects\""
    );
    // Names go out in modified UTF-7, as in any LIST.
    b.ok("CREATE Entw&APw-rfe");
    assert_eq!(
        a.c.line(),
        "* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\""
    );
    // Only SubscriptionChange asked: a CREATE is not reported.
    a.ok("NOTIFY SET (PERSONAL (SubscriptionChange))");
    b.ok("CREATE Quiet");
    quiet_noop(&mut a);
}

#[test]
fn rfc5465_6_4_6_6_filters_follow_subscriptions_renames_and_deletes() {
    let root = root_with("notify-filters", 0);
    let mut a = login(&root);
    let mut b = login(&root);
    b.ok("CREATE Lists");
    b.ok("CREATE Other");
    a.ok("NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge)) (MAILBOXES Other (MessageNew MessageExpunge))");
    // Lists is not subscribed: nothing.
    b.ok("APPEND Lists {12+}\r\nSubject: 1\r\n");
    quiet_noop(&mut a);
    // Subscribing it brings it under SUBSCRIBED at once (RFC 5465 §6.4).
    b.ok("SUBSCRIBE Lists");
    b.ok("APPEND Lists {12+}\r\nSubject: 2\r\n");
    // Entering the watched set, Lists is reported with what it holds
    // (unless the second message came first and that report covers it).
    let mut l = a.c.line();
    if l == "* STATUS \"Lists\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)" {
        l = a.c.line();
    }
    assert_eq!(l, "* STATUS \"Lists\" (MESSAGES 2 UIDNEXT 3 UNSEEN 2)");
    // MAILBOXES names a name: renamed away, the mailbox is no longer it.
    b.ok("RENAME Other Elsewhere");
    b.ok("APPEND Elsewhere {12+}\r\nSubject: 3\r\n");
    quiet_noop(&mut a);
    // A new mailbox under the name is.
    b.ok("CREATE Other");
    b.ok("APPEND Other {12+}\r\nSubject: 4\r\n");
    assert_eq!(
        a.c.line(),
        "* STATUS \"Other\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"
    );
    // A deleted watched mailbox simply stops being reported.
    b.ok("DELETE Lists");
    quiet_noop(&mut a);
}

#[test]
fn rfc5465_5_8_watching_more_than_the_limit_overflows() {
    let root = root_with("notify-overflow", 0);
    let mut a = login(&root);
    let mut b = login(&root);
    // A new account has six mailboxes; make it exactly the limit of 1000.
    for i in 0..994 {
        b.ok(&format!("CREATE m{i:04}"));
    }
    a.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge)) (PERSONAL (MailboxName))");
    b.ok("APPEND m0500 {12+}\r\nSubject: 1\r\n");
    assert_eq!(
        a.c.line(),
        "* STATUS \"m0500\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"
    );
    // One more mailbox than NOTIFY may watch: it ends, as NOTIFY NONE
    // would (RFC 5465 §5.8).
    b.ok("CREATE one-too-many");
    // MailboxName still reports the creation that overflows.
    assert_eq!(
        a.c.line(),
        "* LIST (\\HasNoChildren) \"/\" \"one-too-many\""
    );
    let l = a.c.line();
    assert!(l.starts_with("* OK [NOTIFICATIONOVERFLOW] "), "{l}");
    b.ok("APPEND m0501 {12+}\r\nSubject: 2\r\n");
    quiet_noop(&mut a);
    // Asking again is refused whole.
    let r = a.run("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))");
    assert_eq!(tagged_code(&r), Some(&ResponseCode::NotificationOverflow));
    // A narrower request works.
    a.ok("NOTIFY SET (SUBTREE m0501 (MessageNew MessageExpunge))");
    b.ok("APPEND m0501 {12+}\r\nSubject: 3\r\n");
    assert_eq!(
        a.c.line(),
        "* STATUS \"m0501\" (MESSAGES 2 UIDNEXT 3 UNSEEN 2)"
    );
}

#[test]
fn rfc5465_6_3_inboxes_hear_of_a_delivery_while_the_session_waits() {
    let root = root_with("notify-deliver", 0);
    let mut a = login(&root);
    a.ok("NOTIFY SET (INBOXES (MessageNew MessageExpunge))");
    // The real MDA writes the spool; the waiting session files it and
    // reports the INBOX it landed in.
    common::deliver(
        &root,
        common::alice::USER,
        b"From: x@example.org\nSubject: hi\n\nbody\n",
    );
    assert_eq!(
        a.c.line(),
        "* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"
    );
}

#[test]
fn rfc5465_4_idle_pushes_the_selected_mailbox_when_selected_was_asked() {
    let root = root_with("notify-idle-selected", 2);
    let mut a = login(&root);
    let mut b = login(&root);
    // NOTIFY before SELECT: SELECTED applies to whatever is selected later.
    a.ok("NOTIFY SET (SELECTED-DELAYED (MessageNew (FLAGS) MessageExpunge))");
    a.ok("SELECT INBOX");
    let t = a.start("IDLE");
    assert_eq!(a.c.line(), "+ idling");
    // During IDLE expunges are allowed, even with SELECTED-DELAYED.
    b.ok("SELECT INBOX");
    b.ok("XVANQUISH 2");
    assert_eq!(a.c.line(), "* 2 EXPUNGE");
    b.ok("APPEND INBOX (\\Flagged) {12+}\r\nSubject: f\r\n");
    assert_eq!(a.c.line(), "* 2 EXISTS");
    let l = a.c.line();
    let l = if l.ends_with("RECENT") { a.c.line() } else { l };
    assert!(l.starts_with("* 2 FETCH (UID 3 FLAGS (\\Flagged"), "{l}");
    a.c.send(b"DONE\r\n");
    let r = a.c.until_tagged(&t);
    assert_eq!(r.len(), 1, "everything was pushed already: {r:#?}");
}

/// RFC 5465 §7 with RFC 5267: a live search context follows the changes
/// NOTIFY pushes between commands, ADDTO after the EXISTS, REMOVEFROM
/// before the EXPUNGE.
#[test]
fn rfc5465_7_search_contexts_follow_what_notify_pushes() {
    let root = root_with("notify-context", 2);
    let mut a = login(&root);
    let mut b = login(&root);
    a.ok("SELECT INBOX");
    a.ok("NOTIFY SET (SELECTED (MessageNew MessageExpunge))");
    let r = a.ok("UID SEARCH RETURN (UPDATE COUNT) ALL");
    let t = a.last_tag();
    assert!(
        r.contains(&format!("* ESEARCH (TAG \"{t}\") UID COUNT 2")),
        "{r:#?}"
    );
    b.ok("APPEND INBOX {12+}\r\nSubject: c\r\n");
    assert_eq!(a.c.line(), "* 3 EXISTS");
    let l = a.c.line();
    let l = if l.ends_with("RECENT") { a.c.line() } else { l };
    assert_eq!(l, format!("* ESEARCH (TAG \"{t}\") UID ADDTO (0 3)"));
    b.ok("SELECT INBOX");
    b.ok("XVANQUISH 1");
    assert_eq!(
        a.c.line(),
        format!("* ESEARCH (TAG \"{t}\") UID REMOVEFROM (0 1)")
    );
    assert_eq!(a.c.line(), "* 1 EXPUNGE");
    // A context with fetch attributes (§7's UPDATE (fetch-att)) is not
    // supported: the grammar refuses it.
    let r = a.raw_cmd("SEARCH RETURN (UPDATE (UID)) ALL");
    assert!(r.last().is_some_and(|l| l.contains(" BAD ")), "{r:#?}");
}
