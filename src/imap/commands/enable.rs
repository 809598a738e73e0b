//! `ENABLE` (RFC 5161): switches session extensions on. Owns which names
//! can be enabled; never changes anything but the session's `Enabled`.

use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::response::Response;

/// `ENABLE`: answers `* ENABLED` with exactly the extensions this command
/// newly switched on; unknown names are ignored (RFC 5161 §3.1).
pub fn enable(ctx: &mut Ctx, out: &mut Vec<u8>, capabilities: &[String]) -> Reply {
    let mut newly: Vec<&'static str> = Vec::new();
    for cap in capabilities {
        let e = &mut ctx.enabled;
        let (flag, name): (&mut bool, &'static str) = match cap.to_ascii_uppercase().as_str() {
            "CONDSTORE" => (&mut e.condstore, "CONDSTORE"),
            "QRESYNC" => {
                e.condstore = true;
                (&mut e.qresync, "QRESYNC")
            }
            "UTF8=ACCEPT" => (&mut e.utf8_accept, "UTF8=ACCEPT"),
            "IMAP4REV2" => (&mut e.rev2, "IMAP4rev2"),
            _ => continue,
        };
        if !*flag {
            *flag = true;
            newly.push(name);
        }
    }
    Response::Enabled(newly.into_iter().map(Into::into).collect()).encode(out);
    Reply::ok("ENABLE completed")
}
