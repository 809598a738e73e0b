//! CATENATE (RFC 4469) with URL-PARTIAL (RFC 5550): a message assembled
//! from the client's TEXT parts and IMAP URLs naming the user's own stored
//! messages, their sections (`;SECTION=`) and octet ranges (`;PARTIAL=`).
//!
//! Builds the message in memory and never stores anything: APPEND (and
//! REPLACE) store it once every part has resolved, so a bad part leaves
//! nothing behind. A URL that names another user, a mailbox that does not
//! exist, a UIDVALIDITY that changed, a message that is not (or no longer)
//! in the mailbox, or a part the message does not have is `NO [BADURL
//! url]`; a result over the APPEND limit is `NO [TOOBIG]`, noticed as soon
//! as the parts so far exceed it; decrypting more than a few messages'
//! worth for one message is `NO [LIMIT]`. Decisions: `doc/imap-append.md`.

use crate::imap::commands::fetch::section_spec;
use crate::imap::context::{mailbox_name, same_uid_validity, Ctx, Reply};
use crate::imap::wire::command::{CatPart, MailboxArg};
use crate::imap::wire::imap_url::{self, ImapUrl, UrlMailbox};
use crate::imap::wire::response::ResponseCode;
use crate::mime::section;
use crate::store::account::MailboxName;
use crate::store::mailbox::Mailbox;
use crate::store::types::Uid;

/// How many times the APPEND limit one CATENATE may decrypt in all: a
/// few whole messages' worth, so a command naming a large message
/// thousands of times (each URL decrypts its message) costs a bounded
/// amount of work, not thousands of decryptions.
const READ_BUDGET_FACTOR: u64 = 4;

/// What one CATENATE has opened and read: each mailbox once, and the last
/// message decrypted (URLs usually name parts of one message in a row).
struct Sources {
    opened: Vec<(MailboxName, Mailbox)>,
    last: Option<(usize, Uid, Vec<u8>)>,
    /// Octets still allowed to be decrypted.
    budget: u64,
}

/// Builds the message `parts` describe, at most `limit` octets.
pub(super) fn build(ctx: &mut Ctx, parts: &[CatPart], limit: u64) -> Result<Vec<u8>, Reply> {
    let mut out = Vec::new();
    let mut src = Sources {
        opened: Vec::new(),
        last: None,
        budget: limit.saturating_mul(READ_BUDGET_FACTOR),
    };
    for part in parts {
        match part {
            CatPart::Text(data) | CatPart::Text8(data) => out.extend_from_slice(data),
            CatPart::Url(url) => {
                let data = resolve(ctx, &mut src, url)?;
                out.extend_from_slice(&data);
            }
        }
        let len = u64::try_from(out.len()).unwrap_or(u64::MAX);
        if len > limit {
            return Err(Reply::no(
                Some(ResponseCode::TooBig),
                format!("The CATENATE result exceeds the limit of {limit} bytes"),
            ));
        }
    }
    Ok(out)
}

fn bad_url(url: &str, why: impl std::fmt::Display) -> Reply {
    // `url-resp-text` is one or more characters.
    let shown = if url.is_empty() { "\"\"" } else { url };
    Reply::no(
        Some(ResponseCode::BadUrl(shown.to_owned())),
        format!("Bad CATENATE URL: {why}"),
    )
}

/// The octets `url` names.
fn resolve(ctx: &mut Ctx, src: &mut Sources, url: &str) -> Result<Vec<u8>, Reply> {
    let parsed = imap_url::parse(url).map_err(|e| bad_url(url, e))?;
    let name = match &parsed.mailbox {
        UrlMailbox::Absolute { user, mailbox } => {
            // Only the session's own user: the server has no shared or
            // other users' namespaces, and a URL must not become a way to
            // probe for other accounts.
            if *user != ctx.user.name {
                return Err(bad_url(url, "it names another user"));
            }
            checked_name(url, mailbox)?
        }
        UrlMailbox::Path(mailbox) => checked_name(url, mailbox)?,
        UrlMailbox::Selected => match &ctx.selected {
            Some(sel) => sel.name.clone(),
            None => return Err(bad_url(url, "a relative URL needs a selected mailbox")),
        },
    };
    let at = match src.opened.iter().position(|(n, _)| *n == name) {
        Some(at) => at,
        None => {
            // A fresh handle: it shows the mailbox as it is now, so a
            // message another session expunged is not found.
            let mb = ctx.open_mailbox(&name).map_err(|r| match r.code {
                Some(ResponseCode::Nonexistent) => bad_url(url, "no such mailbox"),
                _ => r,
            })?;
            src.opened.push((name, mb));
            src.opened.len() - 1
        }
    };
    read_part(src, at, url, &parsed)
}

fn checked_name(url: &str, mailbox: &MailboxArg) -> Result<MailboxName, Reply> {
    mailbox_name(mailbox).map_err(|_| bad_url(url, "invalid mailbox name"))
}

fn read_part(src: &mut Sources, at: usize, url: &str, parsed: &ImapUrl) -> Result<Vec<u8>, Reply> {
    let Some((_, mb)) = src.opened.get(at) else {
        return Err(bad_url(url, "no such mailbox"));
    };
    if let Some(v) = parsed.uid_validity {
        if !same_uid_validity(v, mb.uid_validity()) {
            return Err(bad_url(url, "the mailbox's UIDVALIDITY has changed"));
        }
    }
    let Some(uid) = Uid::new(parsed.uid.get()).filter(|u| mb.info(*u).is_some()) else {
        return Err(bad_url(url, "no such message"));
    };
    let unreadable = |e: &dyn std::fmt::Display| Reply::server_bug("reading a CATENATE part", e);
    let cached = matches!(&src.last, Some((a, u, _)) if *a == at && *u == uid);
    if !cached {
        let size = mb.info(uid).map_or(0, |i| u64::from(i.size));
        if size > src.budget {
            return Err(Reply::no(
                Some(ResponseCode::Limit),
                "This CATENATE reads too many stored messages",
            ));
        }
        src.budget -= size;
        src.last = None;
        let raw = mb
            .open_message(uid)
            .and_then(|mut r| Ok(r.read_all()?))
            .map_err(|e| unreadable(&e))?;
        src.last = Some((at, uid, raw));
    }
    let Some((_, _, raw)) = &src.last else {
        return Err(unreadable(&"the message just read is gone"));
    };
    let data = match &parsed.section {
        None => raw.clone(),
        Some(s) => {
            let spec = section_spec(s);
            let summary = mb.summary(uid).map_err(|e| unreadable(&e))?;
            match section::extract(&summary, &spec, raw) {
                Ok(d) => d.into_owned(),
                Err(e) => return Err(bad_url(url, e)),
            }
        }
    };
    Ok(match parsed.partial {
        None => data,
        Some(p) => section::partial(
            &data,
            u64::from(p.offset),
            p.length.map(|l| u64::from(l.get())),
        )
        .to_vec(),
    })
}
