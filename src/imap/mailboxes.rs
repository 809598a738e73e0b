//! Commands on mailboxes as a whole: CREATE, DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE, LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB,
//! XLIST, STATUS and APPEND (with MULTIAPPEND, APPENDLIMIT, UIDPLUS). Never
//! touches the selected mailbox's sequence numbers: it reports changes to it
//! only through the refresh the session runs after each command.

use super::command::{AppendMessage, ListCommand, MailboxName, SpecialUse, StatusItem};
use super::context::{Ctx, Reply};

/// Capabilities this module implements end to end.
pub const CAPABILITIES: &[&str] = &[];

fn absent(name: &str) -> Reply {
    Reply::bad(format!("{name} is not implemented by this server"))
}

/// `CREATE`.
pub fn create(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _name: &MailboxName,
    _uses: &[SpecialUse],
) -> Reply {
    absent("CREATE")
}

/// `DELETE`.
pub fn delete(_ctx: &mut Ctx, _out: &mut Vec<u8>, _name: &MailboxName) -> Reply {
    absent("DELETE")
}

/// `RENAME`.
pub fn rename(_ctx: &mut Ctx, _out: &mut Vec<u8>, _from: &MailboxName, _to: &MailboxName) -> Reply {
    absent("RENAME")
}

/// `SUBSCRIBE` (`subscribe` true) and `UNSUBSCRIBE`.
pub fn subscribe(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _name: &MailboxName,
    _subscribe: bool,
) -> Reply {
    absent("SUBSCRIBE")
}

/// `LIST` in all its forms.
pub fn list(_ctx: &mut Ctx, _out: &mut Vec<u8>, _cmd: &ListCommand) -> Reply {
    absent("LIST")
}

/// `LSUB` (`xlist` false) and `XLIST` (`xlist` true).
pub fn lsub_or_xlist(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _reference: &str,
    _pattern: &str,
    _xlist: bool,
) -> Reply {
    absent("LSUB")
}

/// `STATUS`.
pub fn status(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _name: &MailboxName,
    _items: &[StatusItem],
) -> Reply {
    absent("STATUS")
}

/// `APPEND` with one or more messages.
pub fn append(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _name: &MailboxName,
    _messages: &[AppendMessage],
) -> Reply {
    absent("APPEND")
}
