//! The state of a logged-in session that every command group shares: the
//! user's keys and account log, the selected mailbox, what ENABLE switched
//! on, and the conversions between wire values and store values (sequence
//! sets to UIDs, flags, mailbox names). Owns no command logic and never
//! writes to the connection: commands append untagged responses to an
//! output buffer and return a [`Reply`] for the tagged line.

use std::path::PathBuf;
use std::sync::Arc;

use crate::imap::session::LoggedIn;
use crate::imap::wire::command::{self, SeqNum as WireSeq, SeqRange, SeqSet};
use crate::imap::wire::response::{ResponseCode, Status};
use crate::store::account::{AccountLog, MailboxName as StoreName};
use crate::store::mailbox::{Mailbox, UserKeys};
use crate::store::types::{Flag as StoreFlag, SeqNum, Uid};

/// The tagged completion of a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// OK, NO or BAD.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<ResponseCode>,
    /// Human-readable text.
    pub text: String,
}

impl Reply {
    /// `OK text`.
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `OK [code] text`.
    pub fn ok_code(code: ResponseCode, text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Ok,
            code: Some(code),
            text: text.into(),
        }
    }

    /// `NO [code] text` (or `NO text` without a code).
    pub fn no(code: Option<ResponseCode>, text: impl Into<String>) -> Reply {
        Reply {
            status: Status::No,
            code,
            text: text.into(),
        }
    }

    /// `BAD text`.
    pub fn bad(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Bad,
            code: None,
            text: text.into(),
        }
    }

    /// `NO [SERVERBUG]` for a storage failure; the detail goes to the log,
    /// not to the client.
    pub fn server_bug(what: &str, err: &dyn std::fmt::Display) -> Reply {
        log::error!("{what}: {err}");
        Reply::no(
            Some(ResponseCode::ServerBug),
            format!("{what} failed; see the server log"),
        )
    }
}

/// What ENABLE (or a CONDSTORE-enabling command) switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// RFC 7162 CONDSTORE.
    pub condstore: bool,
    /// RFC 7162 QRESYNC (implies CONDSTORE).
    pub qresync: bool,
    /// RFC 6855 UTF8=ACCEPT: mailbox names in UTF-8 on the wire.
    pub utf8_accept: bool,
    /// RFC 9051 IMAP4rev2 semantics.
    pub rev2: bool,
}

/// The selected mailbox.
pub struct Selected {
    /// Its name as the account knows it.
    pub name: StoreName,
    /// The store's view, which is also this session's view: other
    /// sessions' changes appear only at `Mailbox::refresh`.
    pub mailbox: Mailbox,
    /// EXAMINE, or SELECT of a mailbox this session may not change.
    pub read_only: bool,
    /// The result of the last `SEARCH RETURN (SAVE)` (RFC 5182 `$`).
    pub saved: Vec<Uid>,
    /// How many of `mailbox.defined_flags()` the client was told of in
    /// the last `* FLAGS`; more means a new keyword to announce.
    pub announced_flags: usize,
}

/// Limits the commands enforce.
#[derive(Debug, Clone, Copy)]
pub struct CtxLimits {
    /// Largest message APPEND accepts.
    pub max_message_size: usize,
}

/// Everything a logged-in session holds.
pub struct Ctx {
    /// Who, with the master key and the user directory.
    pub user: LoggedIn,
    /// Keys shared by every mailbox handle of this session.
    pub keys: Arc<UserKeys>,
    /// The sealed account log: mailbox names, subscriptions, settings.
    pub account: AccountLog,
    /// The selected mailbox, if any.
    pub selected: Option<Selected>,
    /// What ENABLE switched on.
    pub enabled: Enabled,
    /// Limits.
    pub limits: CtxLimits,
    /// Parsed message summaries of the selected mailbox (FETCH, SEARCH).
    pub summaries: crate::imap::commands::fetch::SummaryCache,
}

/// Why the logged-in context could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening the account: {0}")]
pub struct OpenError(#[from] crate::store::StoreError);

impl Ctx {
    /// Opens the account of a freshly logged-in user.
    pub fn open(user: LoggedIn, limits: CtxLimits) -> Result<Ctx, OpenError> {
        let account = AccountLog::open(&user.dir, &user.master)?;
        let keys = UserKeys::new(&user.dir, user.master.clone());
        Ok(Ctx {
            user,
            keys,
            account,
            selected: None,
            enabled: Enabled::default(),
            limits,
            summaries: Default::default(),
        })
    }

    /// The user directory as the process sees it.
    pub fn dir(&self) -> &PathBuf {
        &self.user.dir
    }

    /// Opens a handle on mailbox `name`, refreshing the account first so
    /// that mailboxes other sessions created are found.
    pub fn open_mailbox(&mut self, name: &StoreName) -> Result<Mailbox, Reply> {
        if let Err(e) = self.account.refresh() {
            return Err(Reply::server_bug("reading the account", &e));
        }
        let Some(info) = self.account.state().mailbox(name) else {
            return Err(Reply::no(
                Some(ResponseCode::Nonexistent),
                "No such mailbox",
            ));
        };
        let (id, validity) = (info.id, info.uid_validity);
        Mailbox::open(self.keys.clone(), &self.user.dir, &id, validity)
            .map_err(|e| Reply::server_bug("opening the mailbox", &e))
    }
}

/// Converts a wire mailbox name (already decoded from modified UTF-7) into
/// the store's validated name, or a `NO` naming the rule it breaks.
pub fn mailbox_name(name: &command::MailboxName) -> Result<StoreName, Reply> {
    StoreName::parse(&name.0).map_err(|e| Reply::no(Some(ResponseCode::Cannot), e.to_string()))
}

/// Converts a wire flag into a store flag. `\Recent` and `\*` are not
/// storable: `None`.
pub fn store_flag(f: &command::Flag) -> Option<StoreFlag> {
    Some(match f {
        command::Flag::Answered => StoreFlag::Answered,
        command::Flag::Flagged => StoreFlag::Flagged,
        command::Flag::Deleted => StoreFlag::Deleted,
        command::Flag::Seen => StoreFlag::Seen,
        command::Flag::Draft => StoreFlag::Draft,
        command::Flag::Keyword(k) => StoreFlag::keyword(k)?,
        command::Flag::Recent | command::Flag::Extension(_) => return None,
    })
}

/// Converts a store flag into a wire flag.
pub fn wire_flag(f: &StoreFlag) -> command::Flag {
    match f {
        StoreFlag::Answered => command::Flag::Answered,
        StoreFlag::Flagged => command::Flag::Flagged,
        StoreFlag::Deleted => command::Flag::Deleted,
        StoreFlag::Seen => command::Flag::Seen,
        StoreFlag::Draft => command::Flag::Draft,
        StoreFlag::Keyword(k) => command::Flag::Keyword(k.clone()),
    }
}

/// Resolves a sequence set (or UID set, with `uid`) against the selected
/// mailbox into the UIDs it names, ascending and without duplicates.
///
/// Sequence numbers beyond the mailbox are a `BAD` (RFC 9051 §6.4.5 asks
/// for it, Dovecot does it); UIDs that do not exist are silently skipped,
/// as RFC 3501 requires. `*` is the last message (or UID); `$` is the saved
/// search result.
pub fn resolve(sel: &Selected, set: &SeqSet, uid: bool) -> Result<Vec<Uid>, Reply> {
    let mb = &sel.mailbox;
    let ranges = match set {
        SeqSet::Saved => return Ok(sel.saved.clone()),
        SeqSet::Ranges(r) => r,
    };
    let mut out: Vec<Uid> = Vec::new();
    if uid {
        let max = mb.uids().last().map(Uid::get).unwrap_or(0);
        let value = |n: &WireSeq| match n {
            WireSeq::Value(v) => v.get(),
            WireSeq::Star => max,
        };
        for r in ranges {
            let (a, b) = match r {
                SeqRange::Single(n) => (value(n), value(n)),
                SeqRange::Range(a, b) => (value(a), value(b)),
            };
            let (lo, hi) = (a.min(b), a.max(b));
            out.extend(mb.uids().filter(|u| (lo..=hi).contains(&u.get())));
        }
    } else {
        let exists = mb.exists();
        let value = |n: &WireSeq| -> Result<u32, Reply> {
            match n {
                WireSeq::Value(v) if v.get() <= exists => Ok(v.get()),
                WireSeq::Value(v) => Err(Reply::bad(format!(
                    "Sequence number {v} is beyond the last message ({exists})"
                ))),
                WireSeq::Star if exists > 0 => Ok(exists),
                WireSeq::Star => Err(Reply::bad("No messages: * is not a valid number")),
            }
        };
        for r in ranges {
            let (a, b) = match r {
                SeqRange::Single(n) => (value(n)?, value(n)?),
                SeqRange::Range(a, b) => (value(a)?, value(b)?),
            };
            for s in a.min(b)..=a.max(b) {
                if let Some(u) = SeqNum::new(s).and_then(|s| mb.uid_of(s)) {
                    out.push(u);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The selected mailbox, or the `BAD` a command that needs one answers.
pub fn selected(ctx: &mut Ctx) -> Result<&mut Selected, Reply> {
    ctx.selected
        .as_mut()
        .ok_or_else(|| Reply::bad("No mailbox selected"))
}
