//! NOTIFY (RFC 5465 §8): `NOTIFY NONE` and `NOTIFY SET [STATUS]
//! event-group...`. Grammar only: unknown event names are kept as
//! [`NotifyEvent::Other`] for the handler to answer `NO [BADEVENT]`.

use super::fetch::fetch_att;
use super::*;

pub(super) fn notify<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, CommandBody> {
    let (i, ()) = sp(i)?;
    if let Some(r) = keyword(i, "NONE").filter(|r| !starts_word(r)) {
        return Ok((r, CommandBody::Notify(NotifyCommand::None)));
    }
    let Some(i) = keyword(i, "SET").filter(|r| !starts_word(r)) else {
        return fail("expected SET or NONE after NOTIFY");
    };
    let (mut i, status) = match keyword(i, " STATUS").filter(|r| !starts_word(r)) {
        Some(r) => (r, true),
        None => (i, false),
    };
    let mut groups = Vec::new();
    while let Some(r) = i.strip_prefix(b" ") {
        let (r, g) = event_group(r, opts)?;
        groups.push(g);
        i = r;
    }
    if groups.is_empty() {
        return fail("NOTIFY SET needs at least one event group");
    }
    Ok((
        i,
        CommandBody::Notify(NotifyCommand::Set { status, groups }),
    ))
}

fn event_group<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, EventGroup> {
    let (i, ()) = expect(i, b"(", "expected '(' before event group")?;
    let (i, filter) = filter(i, opts)?;
    let (i, ()) = sp(i)?;
    let (i, events) = match keyword(i, "NONE").filter(|r| !starts_word(r)) {
        Some(r) => (r, None),
        None => {
            let (r, l) = paren_list(i, false, event)?;
            (r, Some(l))
        }
    };
    let (i, ()) = expect(i, b")", "expected ')' after event group")?;
    Ok((i, EventGroup { filter, events }))
}

fn filter<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, NotifyFilter> {
    let (r, name) = ctx(
        "expected mailbox filter",
        take_while1(|b: u8| b.is_ascii_alphabetic() || b == b'-'),
    )(i)?;
    let f = match name.to_ascii_uppercase().as_slice() {
        b"SELECTED" => NotifyFilter::Selected,
        b"SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
        b"INBOXES" => NotifyFilter::Inboxes,
        b"PERSONAL" => NotifyFilter::Personal,
        b"SUBSCRIBED" => NotifyFilter::Subscribed,
        b"SUBTREE" => {
            let (r, l) = mailboxes(r, opts)?;
            return Ok((r, NotifyFilter::Subtree(l)));
        }
        b"MAILBOXES" => {
            let (r, l) = mailboxes(r, opts)?;
            return Ok((r, NotifyFilter::Mailboxes(l)));
        }
        _ => return fail(format!("unknown mailbox filter {}", shown(name))),
    };
    Ok((r, f))
}

/// `SP one-or-more-mailbox`.
fn mailboxes<'a>(i: &'a [u8], opts: &ParseOptions) -> R<'a, Vec<MailboxArg>> {
    let (i, ()) = sp(i)?;
    if peek(i) == Some(b'(') {
        paren_list(i, false, |i| mailbox(i, opts))
    } else {
        let (i, m) = mailbox(i, opts)?;
        Ok((i, vec![m]))
    }
}

fn event(i: &[u8]) -> R<'_, NotifyEvent> {
    let (r, name) = ctx("expected event name", atom_string)(i)?;
    match NotifyEvent::from_name(&name) {
        NotifyEvent::MessageNew(_) => {
            match r.strip_prefix(b" ").filter(|r| peek(r) == Some(b'(')) {
                Some(list) => {
                    let (r, attrs) = paren_list(list, false, fetch_att)?;
                    Ok((r, NotifyEvent::MessageNew(attrs)))
                }
                None => Ok((r, NotifyEvent::MessageNew(Vec::new()))),
            }
        }
        other => Ok((r, other)),
    }
}
