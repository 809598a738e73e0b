//! The selected state: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, UID
//! EXPUNGE, XVANQUISH, CHECK, STORE, COPY, MOVE, ENABLE, XCRY PURGE, and
//! the unsolicited responses (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS, RECENT)
//! at the points RFC 3501/9051 allow them, including filing the delivery
//! spool. Never parses message content.

use super::command::{MailboxName, SelectParams, SeqSet, StoreCommand};
use super::context::{Ctx, Reply};

/// Capabilities this module implements end to end.
pub const CAPABILITIES: &[&str] = &[];

fn absent(name: &str) -> Reply {
    Reply::bad(format!("{name} is not implemented by this server"))
}

/// Runs once after login: files deliveries that arrived while the user was
/// offline.
pub fn after_login(_ctx: &mut Ctx) {}

/// Brings the selected mailbox up to date and writes the untagged responses
/// that report it. `expunge_allowed` is false during FETCH, STORE and
/// SEARCH by sequence number (RFC 3501 §7.4.1).
pub fn refresh(_ctx: &mut Ctx, _out: &mut Vec<u8>, _expunge_allowed: bool) {}

/// `SELECT` (`read_only` false) and `EXAMINE` (true).
pub fn select(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _name: &MailboxName,
    _params: &SelectParams,
    _read_only: bool,
) -> Reply {
    absent("SELECT")
}

/// `CLOSE` (`expunge` true) and `UNSELECT` (false).
pub fn close(_ctx: &mut Ctx, _out: &mut Vec<u8>, _expunge: bool) -> Reply {
    absent("CLOSE")
}

/// `EXPUNGE` (`uids` None), `UID EXPUNGE` and `XVANQUISH` (`vanquish`: the
/// given UIDs go whether or not they are \Deleted).
pub fn expunge(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _uids: Option<&SeqSet>,
    _vanquish: bool,
) -> Reply {
    absent("EXPUNGE")
}

/// `[UID] STORE`.
pub fn store(_ctx: &mut Ctx, _out: &mut Vec<u8>, _cmd: &StoreCommand) -> Reply {
    absent("STORE")
}

/// `[UID] COPY` (`is_move` false) and `[UID] MOVE`.
pub fn copy(
    _ctx: &mut Ctx,
    _out: &mut Vec<u8>,
    _uid: bool,
    _set: &SeqSet,
    _dest: &MailboxName,
    _is_move: bool,
) -> Reply {
    absent("COPY")
}

/// `ENABLE`.
pub fn enable(_ctx: &mut Ctx, out: &mut Vec<u8>, _capabilities: &[String]) -> Reply {
    out.extend_from_slice(b"* ENABLED\r\n");
    Reply::ok("ENABLE completed")
}

/// `XCRY PURGE`.
pub fn purge(_ctx: &mut Ctx, _out: &mut Vec<u8>) -> Reply {
    absent("XCRY PURGE")
}
