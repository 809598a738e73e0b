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

use std::borrow::Cow;

use crate::imap::commands::fetch::section_spec;
use crate::imap::context::{mailbox_name, same_uid_validity, Ctx, Reply};
use crate::imap::wire::command::{CatPart, MailboxArg};
use crate::imap::wire::imap_url::{self, ImapUrl, UrlMailbox};
use crate::imap::wire::response::ResponseCode;
use crate::mime::section;
use crate::mime::summary::Summary;
use crate::store::account::MailboxName;
use crate::store::mailbox::Mailbox;
use crate::store::types::Uid;

/// How many times the APPEND limit one command (an APPEND, a whole
/// MULTIAPPEND, a REPLACE) may decrypt, and may build, in all: a few whole
/// messages' worth, so that a command naming a large message thousands of
/// times, or thousands of CATENATE messages each naming one, costs a
/// bounded amount of work and memory.
const BUDGET_FACTOR: u64 = 4;

/// What one command's CATENATEs have opened and read: each mailbox once,
/// the last message decrypted (URLs usually name parts of one message in
/// a row) with its summary once a section needed it, and what is left of
/// the command's budgets.
pub(crate) struct Catenator {
    limit: u64,
    opened: Vec<(MailboxName, Mailbox)>,
    last: Option<Last>,
    /// Octets still allowed to be decrypted.
    read_budget: u64,
    /// Octets still allowed to be built, over every message of the command.
    build_budget: u64,
}

struct Last {
    at: usize,
    uid: Uid,
    raw: Vec<u8>,
    summary: Option<Summary>,
}

fn over_budget() -> Reply {
    Reply::no(
        Some(ResponseCode::Limit),
        "This command reads or builds too much through CATENATE",
    )
}

impl Catenator {
    /// Budgets for one command whose messages may be at most `limit`
    /// octets each.
    pub(crate) fn new(limit: u64) -> Self {
        let budget = limit.saturating_mul(BUDGET_FACTOR);
        Catenator {
            limit,
            opened: Vec::new(),
            last: None,
            read_budget: budget,
            build_budget: budget,
        }
    }

    /// Builds the message `parts` describe, at most the limit's octets.
    pub(crate) fn build(&mut self, ctx: &mut Ctx, parts: &[CatPart]) -> Result<Vec<u8>, Reply> {
        let limit = self.limit;
        let mut out = Vec::new();
        for part in parts {
            let before = out.len();
            match part {
                CatPart::Text(data) | CatPart::Text8(data) => out.extend_from_slice(data),
                CatPart::Url(url) => self.resolve(ctx, url, &mut out)?,
            }
            let len = u64::try_from(out.len()).unwrap_or(u64::MAX);
            if len > limit {
                return Err(Reply::no(
                    Some(ResponseCode::TooBig),
                    format!("The CATENATE result exceeds the limit of {limit} bytes"),
                ));
            }
            let added = u64::try_from(out.len() - before).unwrap_or(u64::MAX);
            self.build_budget = self
                .build_budget
                .checked_sub(added)
                .ok_or_else(over_budget)?;
        }
        Ok(out)
    }

    /// Appends the octets `url` names to `out`.
    fn resolve(&mut self, ctx: &mut Ctx, url: &str, out: &mut Vec<u8>) -> Result<(), Reply> {
        let parsed = imap_url::parse(url).map_err(|e| bad_url(url, e))?;
        let name = match &parsed.mailbox {
            UrlMailbox::Absolute { user, mailbox } => {
                // Only the session's own user: the server has no shared or
                // other users' namespaces, and a URL must not become a way
                // to probe for other accounts.
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
        let at = match self.opened.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                // A fresh handle: it shows the mailbox as it is now, so a
                // message another session expunged is not found.
                let mb = ctx.open_mailbox(&name).map_err(|r| match r.code {
                    Some(ResponseCode::Nonexistent) => bad_url(url, "no such mailbox"),
                    _ => r,
                })?;
                self.opened.push((name, mb));
                self.opened.len() - 1
            }
        };
        self.read_part(at, url, &parsed, out)
    }

    fn read_part(
        &mut self,
        at: usize,
        url: &str,
        parsed: &ImapUrl,
        out: &mut Vec<u8>,
    ) -> Result<(), Reply> {
        let Some((_, mb)) = self.opened.get(at) else {
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
        let unreadable =
            |e: &dyn std::fmt::Display| Reply::server_bug("reading a CATENATE part", e);
        let cached = matches!(&self.last, Some(l) if l.at == at && l.uid == uid);
        if !cached {
            let size = mb.info(uid).map_or(0, |i| u64::from(i.size));
            self.read_budget = self.read_budget.checked_sub(size).ok_or_else(over_budget)?;
            self.last = None;
            let raw = mb
                .open_message(uid)
                .and_then(|mut r| Ok(r.read_all()?))
                .map_err(|e| unreadable(&e))?;
            self.last = Some(Last {
                at,
                uid,
                raw,
                summary: None,
            });
        }
        let Some(last) = self.last.as_mut() else {
            return Err(unreadable(&"the message just read is gone"));
        };
        let data: Cow<'_, [u8]> = match &parsed.section {
            None => Cow::Borrowed(&last.raw),
            Some(s) => {
                if last.summary.is_none() {
                    last.summary = Some(mb.summary(uid).map_err(|e| unreadable(&e))?);
                }
                let Some(summary) = &last.summary else {
                    return Err(unreadable(&"the summary just read is gone"));
                };
                section::extract(summary, &section_spec(s), &last.raw)
                    .map_err(|e| bad_url(url, e))?
            }
        };
        out.extend_from_slice(match parsed.partial {
            None => &data,
            Some(p) => section::partial(
                &data,
                u64::from(p.offset),
                p.length.map(|l| u64::from(l.get())),
            ),
        });
        Ok(())
    }
}

fn bad_url(url: &str, why: impl std::fmt::Display) -> Reply {
    // `url-resp-text` is one or more characters.
    let shown = if url.is_empty() { "\"\"" } else { url };
    Reply::no(
        Some(ResponseCode::BadUrl(shown.to_owned())),
        format!("Bad CATENATE URL: {why}"),
    )
}

fn checked_name(url: &str, mailbox: &MailboxArg) -> Result<MailboxName, Reply> {
    mailbox_name(mailbox).map_err(|_| bad_url(url, "invalid mailbox name"))
}
