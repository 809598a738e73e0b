//! The state of a logged-in session that every command group shares: the
//! user's keys and account log, the selected mailbox, what ENABLE switched
//! on, and the conversions between wire values and store values (sequence
//! sets to UIDs through `imap::seqset`, flags, mailbox names, modseqs,
//! UID and sequence-number sets for responses). Handlers carry the store's
//! typed values and convert only through these functions. Owns no command
//! logic and never writes to the connection: commands append untagged
//! responses to an output buffer and return a [`Reply`] for the tagged
//! line.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::imap::seqset::{Numbers, View};
use crate::imap::session::LoggedIn;
use crate::imap::wire::command::{self, ModseqValue, SeqSet};
use crate::imap::wire::response::{ResponseCode, Status};
use crate::store::account::{AccountLog, MailboxName, UidValidity};
use crate::store::mailbox::{Mailbox, MailboxError, UserKeys};
use crate::store::message_file::MessageFileError;
use crate::store::types::{Flag, Modseq, SeqNum, Uid};

/// Why a stored message could not be read, for every command that reads
/// messages (FETCH, SEARCH): each command's error wraps it next to its own
/// reasons.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unreadable {
    /// The store could not give the summary or open the file.
    #[error("message {uid}: {source}")]
    Store {
        /// Which message.
        uid: Uid,
        /// Why.
        source: MailboxError,
    },
    /// Decrypting content failed (tampering, truncation, I/O).
    #[error("message {uid}: {source}")]
    Content {
        /// Which message.
        uid: Uid,
        /// Why.
        source: MessageFileError,
    },
}

/// The tagged completion of a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// OK, NO or BAD.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<ResponseCode>,
    /// Human-readable text.
    pub text: String,
}

impl Reply {
    /// `OK text`.
    pub(crate) fn ok(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `OK [code] text`.
    pub(crate) fn ok_code(code: ResponseCode, text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Ok,
            code: Some(code),
            text: text.into(),
        }
    }

    /// `NO [code] text` (or `NO text` without a code).
    pub(crate) fn no(code: Option<ResponseCode>, text: impl Into<String>) -> Reply {
        Reply {
            status: Status::No,
            code,
            text: text.into(),
        }
    }

    /// `BAD text`.
    pub(crate) fn bad(text: impl Into<String>) -> Reply {
        Reply {
            status: Status::Bad,
            code: None,
            text: text.into(),
        }
    }

    /// `NO [SERVERBUG]` for a storage failure; the detail goes to the log,
    /// not to the client.
    pub(crate) fn server_bug(what: &str, err: &dyn std::fmt::Display) -> Reply {
        log::error!("{what}: {err}");
        Reply::no(
            Some(ResponseCode::ServerBug),
            format!("{what} failed; see the server log"),
        )
    }
}

/// What ENABLE (or a CONDSTORE-enabling command) switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Enabled {
    /// RFC 7162 CONDSTORE.
    pub condstore: bool,
    /// RFC 7162 QRESYNC (implies CONDSTORE).
    pub qresync: bool,
    /// RFC 6855 UTF8=ACCEPT: mailbox names in UTF-8 on the wire.
    pub utf8_accept: bool,
    /// RFC 9051 IMAP4rev2 semantics.
    pub rev2: bool,
    /// RFC 9586 UIDONLY: no sequence numbers in commands (BAD
    /// [UIDREQUIRED]) or responses (UIDFETCH, VANISHED).
    pub uidonly: bool,
}

/// The selected mailbox.
pub(crate) struct Selected {
    /// Its name as the account knows it.
    pub name: MailboxName,
    /// The store's view, which is also this session's view: other
    /// sessions' changes appear only at `Mailbox::refresh`.
    pub mailbox: Mailbox,
    /// EXAMINE, or SELECT of a mailbox this session may not change.
    pub read_only: bool,
    /// The result of the last `SEARCH RETURN (SAVE)` (RFC 5182 `$`).
    pub saved: Vec<Uid>,
    /// The live RFC 5267 contexts (`RETURN (UPDATE)`) on this selection.
    pub live: crate::imap::commands::updates::LiveContexts,
    /// How many of `mailbox.defined_flags()` the client was told of in
    /// the last `* FLAGS`; more means a new keyword to announce.
    pub announced_flags: usize,
}

/// Limits the commands enforce.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CtxLimits {
    /// Largest message APPEND accepts.
    pub max_message_size: usize,
}

/// Everything a logged-in session holds.
pub(crate) struct Ctx {
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
    /// SORT/THREAD keys of the selected mailbox's messages.
    pub sort_keys: crate::imap::commands::sort::SortKeyCache,
    /// The selected mailbox's full-text index, as this session last loaded it.
    pub fts: crate::store::fts::FtsIndex,
    /// `* OK [ALERT]` texts found at login (store integrity), sent before
    /// the response to the next command (the login response itself is
    /// written by the session, which this layer does not touch).
    pub alerts: Vec<String>,
    /// The last APPEND's target (unless it is the selected mailbox) and
    /// when it was last written: kept open so that one APPEND after
    /// another reads only the new log records instead of replaying the
    /// whole log each time.
    append_target: Option<(Mailbox, Instant)>,
    /// The NOTIFY SET in force (RFC 5465), if any.
    pub notify: Option<Box<crate::imap::commands::notify::Notifier>>,
}

/// How long an idle APPEND target stays open. Well under the hour for
/// which superseded log segments are kept (`change_log::SEGMENT_GRACE`),
/// so a kept handle always finds its place in the log again.
const APPEND_TARGET_IDLE: Duration = Duration::from_secs(600);

/// Why the logged-in context could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening the account: {0}")]
pub(crate) struct OpenError(#[from] crate::store::StoreError);

impl Ctx {
    /// Opens the account of a freshly logged-in user.
    pub(crate) fn open(user: LoggedIn, limits: CtxLimits) -> Result<Ctx, OpenError> {
        let account = AccountLog::open(&user.dir, user.account.master_key())?;
        let keys = UserKeys::new(&user.dir, user.account.master_key().clone());
        Ok(Ctx {
            user,
            keys,
            account,
            selected: None,
            enabled: Enabled::default(),
            limits,
            summaries: Default::default(),
            fts: Default::default(),
            sort_keys: Default::default(),
            alerts: Vec::new(),
            append_target: None,
            notify: None,
        })
    }

    /// The user directory as the process sees it.
    pub(crate) fn dir(&self) -> &PathBuf {
        &self.user.dir
    }

    /// Opens a handle on mailbox `name`, refreshing the account first so
    /// that mailboxes other sessions created are found.
    pub(crate) fn open_mailbox(&mut self, name: &MailboxName) -> Result<Mailbox, Reply> {
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

impl Ctx {
    /// Once a reply is out: writes the high-water marks that writes left
    /// pending in the mailboxes this session keeps open (those APPEND
    /// wrote through defer them), while the client reads the reply (see
    /// `doc/store.md`, "An APPEND's sync order").
    pub(crate) fn after_reply(&mut self) {
        if let Some(sel) = self.selected.as_mut() {
            sel.mailbox.raise_mark();
        }
        if let Some((mb, _)) = self.append_target.as_mut() {
            mb.raise_mark();
        }
    }

    /// Gives back what the session cached for a mailbox no longer
    /// selected (sort keys, summaries, the full-text index: tens of MB for
    /// a large mailbox), keeping what belongs to the selected one. Called
    /// when a mailbox is closed (CLOSE, UNSELECT, a SELECT of another one);
    /// before, the caches stayed until the next SORT or FETCH of another
    /// mailbox, for the rest of the session.
    pub(crate) fn release_caches(&mut self) {
        let keep = self.selected.as_ref().map(|s| s.mailbox.id());
        self.sort_keys.release_unless(keep);
        self.summaries.release_unless(keep);
        self.fts.release_unless(keep);
    }

    /// Whether a high-water mark is still to be raised: [`Ctx::after_reply`]
    /// found a mailbox lock held by another transaction. The session then
    /// tries again shortly, while it waits for the client (between
    /// commands and during IDLE), not only after the next command.
    pub(crate) fn marks_pending(&self) -> bool {
        self.selected
            .as_ref()
            .is_some_and(|s| s.mailbox.mark_pending())
            || self
                .append_target
                .as_ref()
                .is_some_and(|(mb, _)| mb.mark_pending())
    }

    /// The mailbox an APPEND to `name` writes through: the selected
    /// mailbox's handle when it is the target, else the handle kept from
    /// the previous APPEND to the same mailbox, else a newly opened one
    /// (which is then kept). Errors as [`Ctx::open_mailbox`].
    pub(crate) fn append_target(&mut self, name: &MailboxName) -> Result<&mut Mailbox, Reply> {
        if let Err(e) = self.account.refresh() {
            return Err(Reply::server_bug("reading the account", &e));
        }
        let Some(info) = self.account.state().mailbox(name) else {
            self.append_target = None;
            return Err(Reply::no(
                Some(ResponseCode::Nonexistent),
                "No such mailbox",
            ));
        };
        let (id, validity) = (info.id, info.uid_validity);
        // The session raises its marks once the reply is out
        // (`Ctx::after_reply`): an APPEND's OK does not wait for one more
        // rename.
        if let Some(sel) = self.selected.as_mut().filter(|s| s.mailbox.id() == id) {
            sel.mailbox.defer_marks();
            return Ok(&mut sel.mailbox);
        }
        let now = Instant::now();
        let keep = self.append_target.as_ref().is_some_and(|(mb, used)| {
            mb.id() == id && now.duration_since(*used) < APPEND_TARGET_IDLE
        });
        if !keep {
            self.append_target = None;
            let mut mb = Mailbox::open(self.keys.clone(), &self.user.dir, &id, validity)
                .map_err(|e| Reply::server_bug("opening the mailbox", &e))?;
            mb.defer_marks();
            self.append_target = Some((mb, now));
        }
        match self.append_target.as_mut() {
            Some((mb, used)) => {
                *used = now;
                Ok(mb)
            }
            None => Err(Reply::server_bug("opening the mailbox", &"no handle")),
        }
    }
}

/// Converts a wire mailbox name (already decoded from modified UTF-7) into
/// the store's validated name, or a `NO` naming the rule it breaks.
pub(crate) fn mailbox_name(name: &command::MailboxArg) -> Result<MailboxName, Reply> {
    MailboxName::parse(&name.0).map_err(|e| Reply::no(Some(ResponseCode::Cannot), e.to_string()))
}

/// Converts a wire flag into a store flag. `\Recent` and `\*` are not
/// storable: `None`; keywords follow the store's rule
/// ([`Flag::from_name`]), the one `deliver --flag` follows too.
pub(crate) fn store_flag(f: &command::WireFlag) -> Option<Flag> {
    Some(match f {
        command::WireFlag::Answered => Flag::Answered,
        command::WireFlag::Flagged => Flag::Flagged,
        command::WireFlag::Deleted => Flag::Deleted,
        command::WireFlag::Seen => Flag::Seen,
        command::WireFlag::Draft => Flag::Draft,
        command::WireFlag::Keyword(k) => {
            Flag::from_name(k).filter(|f| matches!(f, Flag::Keyword(_)))?
        }
        command::WireFlag::Recent | command::WireFlag::Extension(_) => return None,
    })
}

/// Converts a store flag into a wire flag.
pub(crate) fn wire_flag(f: &Flag) -> command::WireFlag {
    match f {
        Flag::Answered => command::WireFlag::Answered,
        Flag::Flagged => command::WireFlag::Flagged,
        Flag::Deleted => command::WireFlag::Deleted,
        Flag::Seen => command::WireFlag::Seen,
        Flag::Draft => command::WireFlag::Draft,
        Flag::Keyword(k) => command::WireFlag::Keyword(k.clone()),
    }
}

/// A client's modseq (CHANGEDSINCE, UNCHANGEDSINCE, SEARCH MODSEQ, QRESYNC)
/// as the store's: `None` for 0, which is below every modseq.
pub(crate) fn modseq(v: ModseqValue) -> Option<Modseq> {
    Modseq::new(v.0)
}

/// The store's modseq as a wire value (HIGHESTMODSEQ).
pub(crate) fn wire_modseq(m: Modseq) -> ModseqValue {
    ModseqValue(m.get())
}

/// Whether a client's UIDVALIDITY (QRESYNC) is the mailbox's.
pub(crate) fn same_uid_validity(client: NonZeroU32, mailbox: UidValidity) -> bool {
    UidValidity::new(client.get()) == Some(mailbox)
}

/// UIDs as a wire set (COPYUID, MODIFIED, VANISHED, ESEARCH), in the given
/// order; `None` when there are none.
pub(crate) fn wire_uid_set<I: IntoIterator<Item = Uid>>(uids: I) -> Option<SeqSet> {
    SeqSet::from_numbers(uids.into_iter().map(Uid::get))
}

/// Sequence numbers as a wire set (MODIFIED, ESEARCH), in the given order;
/// `None` when there are none.
pub(crate) fn wire_seq_set<I: IntoIterator<Item = SeqNum>>(seqs: I) -> Option<SeqSet> {
    SeqSet::from_numbers(seqs.into_iter().map(SeqNum::get))
}

/// The messages a sequence set (or UID set, with `uid`) names in the
/// selected mailbox, ascending and without duplicates, or the `BAD` for a
/// sequence number beyond the last message. The rules are
/// [`crate::imap::seqset`]'s.
pub(crate) fn resolve(sel: &Selected, set: &SeqSet, uid: bool) -> Result<Vec<Uid>, Reply> {
    View::of(sel)
        .resolve(set, Numbers::of_uid_command(uid))
        .map_err(|e| Reply::bad(e.to_string()))
}

/// The selected mailbox, or the `BAD` a command that needs one answers.
pub(crate) fn selected(ctx: &mut Ctx) -> Result<&mut Selected, Reply> {
    ctx.selected
        .as_mut()
        .ok_or_else(|| Reply::bad("No mailbox selected"))
}
