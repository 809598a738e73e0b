//! `ENABLE` (RFC 5161): switches session extensions on. Owns which
//! capabilities can be enabled; never changes anything but the session's
//! `Enabled`. Names are recognised by `imap::capability`.

use crate::imap::capability::Capability;
use crate::imap::commands::selected::write_highest_modseq;
use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::response::{Response, ResponseCode, Status};

/// `ENABLE`: answers `* ENABLED` with exactly the extensions this command
/// newly switched on; unknown names are ignored (RFC 5161 §3.1).
pub(crate) fn enable(ctx: &mut Ctx, out: &mut Vec<u8>, capabilities: &[String]) -> Reply {
    let had_condstore = ctx.enabled.condstore;
    let mut newly: Vec<Capability> = Vec::new();
    for name in capabilities {
        let Some(cap) = Capability::from_name(name) else {
            continue;
        };
        let e = &mut ctx.enabled;
        let flag = match cap {
            Capability::CondStore => &mut e.condstore,
            Capability::QResync => {
                e.condstore = true;
                &mut e.qresync
            }
            Capability::Utf8Accept => &mut e.utf8_accept,
            Capability::Imap4rev2 => &mut e.rev2,
            Capability::UidOnly => &mut e.uidonly,
            // Known, but nothing to switch on.
            _ => continue,
        };
        if !*flag {
            *flag = true;
            newly.push(cap);
        }
    }
    Response::Enabled(newly.iter().map(|c| c.to_string().into()).collect()).encode(out);
    if newly.contains(&Capability::UidOnly) {
        if let Some(sel) = ctx.selected.as_mut() {
            for tag in sel.live.end_sequence_number_contexts() {
                Response::status(
                    None,
                    Status::No,
                    Some(ResponseCode::NoUpdate(tag)),
                    "Updates by sequence number end with UIDONLY",
                )
                .encode(out);
            }
        }
    }
    if ctx.enabled.condstore && !had_condstore {
        // RFC 7162 §3.1: a CONDSTORE-enabling command with a mailbox
        // selected tells the client its HIGHESTMODSEQ.
        if let Some(sel) = &ctx.selected {
            write_highest_modseq(out, &sel.mailbox);
        }
    }
    Reply::ok("ENABLE completed")
}
