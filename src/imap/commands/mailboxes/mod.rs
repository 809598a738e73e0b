//! Commands on mailboxes as a whole: CREATE, DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE, LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB,
//! XLIST, STATUS and APPEND (with MULTIAPPEND, APPENDLIMIT, UIDPLUS,
//! CATENATE and URL-PARTIAL).
//!
//! Never touches the selected mailbox's sequence numbers: changes to it
//! (an APPEND into it, a RENAME of INBOX emptying it) reach the client only
//! through the refresh the session runs after each command. Decisions where
//! the RFCs leave a choice are in `doc/imap-mailboxes.md`.

mod append;
mod catenate;
mod list;
mod pattern;
mod status;

pub(crate) use append::{append, append_error, prepare};
pub(crate) use list::{list, lsub_or_xlist};
pub(crate) use status::status;

use crate::imap::context::{mailbox_name, Ctx, Reply};
use crate::imap::wire::command::{MailboxArg, UseAttr};
use crate::imap::wire::response::ResponseCode;
use crate::store::account::{MailboxName, RenameOutcome, SpecialUse};
use crate::store::mailbox::Mailbox;
use crate::store::StoreError;

/// The hierarchy delimiter, as the store defines it.
const DELIMITER: char = '/';

/// Maps a store failure to the tagged answer: rule violations and state
/// conflicts get precise codes, anything else is a server bug.
fn store_reply(what: &str, e: StoreError) -> Reply {
    match e {
        StoreError::InvalidMailboxName { rule, .. } => {
            Reply::no(Some(ResponseCode::Cannot), format!("Invalid name: {rule}"))
        }
        StoreError::MailboxExists { .. } => {
            Reply::no(Some(ResponseCode::AlreadyExists), "Mailbox already exists")
        }
        StoreError::NoSuchMailbox { .. } => {
            Reply::no(Some(ResponseCode::Nonexistent), "No such mailbox")
        }
        StoreError::CannotDeleteInbox => {
            Reply::no(Some(ResponseCode::Cannot), "INBOX cannot be deleted")
        }
        StoreError::RenameIntoSelf { .. } => Reply::no(
            Some(ResponseCode::Cannot),
            "Cannot rename a mailbox into its own subtree",
        ),
        other => Reply::server_bug(what, &other),
    }
}

fn store_use(u: &UseAttr) -> Option<SpecialUse> {
    match u {
        UseAttr::Known(k) => Some(*k),
        UseAttr::Other(_) => None,
    }
}

/// Catches up with other sessions' account changes before deciding.
fn refresh_account(ctx: &mut Ctx) -> Result<(), Reply> {
    ctx.account
        .refresh()
        .map(|_| ())
        .map_err(|e| Reply::server_bug("reading the account", &e))
}

/// `CREATE`.
pub(crate) fn create(
    ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    name: &MailboxArg,
    uses: &[UseAttr],
) -> Reply {
    // RFC 3501 §6.3.3: a trailing delimiter only declares the intent to
    // create inferiors; the name is created without it.
    let trimmed = name.0.strip_suffix(DELIMITER).unwrap_or(&name.0);
    let name = match mailbox_name(&MailboxArg::new(trimmed.to_owned())) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if name.is_inbox() {
        return Reply::no(Some(ResponseCode::AlreadyExists), "INBOX always exists");
    }
    let mut wanted: Vec<SpecialUse> = Vec::new();
    for u in uses {
        match store_use(u) {
            Some(su) if !wanted.contains(&su) => wanted.push(su),
            Some(_) => {}
            None => {
                return Reply::no(
                    Some(ResponseCode::UseAttr),
                    "Unsupported special-use attribute",
                )
            }
        }
    }
    match ctx.account.create(name.as_str(), &wanted) {
        Ok(id) => Reply::ok_code(ResponseCode::MailboxId(id.to_string()), "CREATE completed"),
        Err(e) => store_reply("creating a mailbox", e),
    }
}

/// `DELETE`. Inferiors stay (the name then lists as `\Noselect`);
/// deleting the selected mailbox is allowed and leaves this session's view
/// of it intact until it selects another one.
pub(crate) fn delete(ctx: &mut Ctx, _out: &mut Vec<u8>, name: &MailboxArg) -> Reply {
    let name = match mailbox_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if name.is_inbox() {
        return Reply::no(Some(ResponseCode::Cannot), "INBOX cannot be deleted");
    }
    match ctx.account.delete(name.as_str()) {
        Ok(_) => Reply::ok("DELETE completed"),
        Err(e) => store_reply("deleting a mailbox", e),
    }
}

/// `RENAME`, with inferiors; RENAME of INBOX moves its messages into the
/// new mailbox and leaves INBOX empty (RFC 3501 §6.3.5).
pub(crate) fn rename(
    ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    from: &MailboxArg,
    to: &MailboxArg,
) -> Reply {
    let (from, to) = match (mailbox_name(from), mailbox_name(to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if let Err(r) = refresh_account(ctx) {
        return r;
    }
    match ctx.account.rename(from.as_str(), to.as_str()) {
        Ok(RenameOutcome::Renamed) => {
            rename_selected(ctx, &from, &to);
            Reply::ok("RENAME completed")
        }
        Ok(RenameOutcome::InboxMoved { inbox, new }) => match move_inbox(ctx, inbox, new) {
            Ok(()) => Reply::ok("RENAME completed"),
            Err(r) => r,
        },
        Err(e) => store_reply("renaming a mailbox", e),
    }
}

/// Keeps the selected mailbox's name in step with a RENAME of it or of one
/// of its superiors, so later commands naming it still find it.
fn rename_selected(ctx: &mut Ctx, from: &MailboxName, to: &MailboxName) {
    let Some(sel) = ctx.selected.as_mut() else {
        return;
    };
    if sel.name == *from || sel.name.is_inside(from) {
        let suffix = sel.name.as_str().get(from.as_str().len()..).unwrap_or("");
        if let Ok(n) = MailboxName::parse(&format!("{to}{suffix}")) {
            sel.name = n;
        }
    }
}

fn move_inbox(
    ctx: &mut Ctx,
    inbox: crate::store::account::MailboxId,
    new: crate::store::account::MailboxId,
) -> Result<(), Reply> {
    let state = ctx.account.state();
    let (Some(src), Some(dst)) = (state.mailbox_by_id(&inbox), state.mailbox_by_id(&new)) else {
        return Err(Reply::no(
            Some(ResponseCode::Nonexistent),
            "INBOX or the new mailbox vanished during RENAME",
        ));
    };
    let (src_validity, dst_validity) = (src.uid_validity, dst.uid_validity);
    let dir = ctx.user.dir.clone();
    let open = |id, validity| {
        Mailbox::open(ctx.keys.clone(), &dir, &id, validity)
            .map_err(|e| Reply::server_bug("opening a mailbox", &e))
    };
    let mut source = open(inbox, src_validity)?;
    let mut dest = open(new, dst_validity)?;
    let uids: Vec<_> = source.uids().collect();
    source
        .move_to(&uids, &mut dest)
        .map(|_| ())
        .map_err(|e| Reply::server_bug("moving INBOX's messages", &e))
}

/// `SUBSCRIBE` (`subscribe` true) and `UNSUBSCRIBE`. Names need not exist
/// (RFC 3501 §6.3.6); unsubscribing a name that is not subscribed is OK,
/// as RFC 9051 §6.3.10 allows.
pub(crate) fn subscribe(
    ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    name: &MailboxArg,
    subscribe: bool,
) -> Reply {
    let name = match mailbox_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let result = if subscribe {
        ctx.account.subscribe(name.as_str())
    } else {
        ctx.account.unsubscribe(name.as_str())
    };
    match (result, subscribe) {
        (Ok(_), true) => Reply::ok("SUBSCRIBE completed"),
        (Ok(_), false) => Reply::ok("UNSUBSCRIBE completed"),
        (Err(e), _) => store_reply("changing subscriptions", e),
    }
}
