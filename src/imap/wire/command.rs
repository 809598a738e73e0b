//! The typed syntax tree of every IMAP client command this server accepts
//! (RFC 3501, RFC 9051 and the extensions listed in `doc/protocol-syntax.md`).
//!
//! This module only describes what a client said. It never decides whether a
//! command is allowed in the current state, never touches the store and never
//! performs I/O; the session does all of that. Mailbox names held here are
//! already decoded (modified UTF-7 undone, INBOX normalised).

use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset, NaiveDate};

pub use super::notify::{EventGroup, NotifyCommand, NotifyEvent, NotifyFilter};
use super::user_setting::{UnknownUserSetting, UserSetting};

/// A command tag: the client's identifier echoed in the tagged response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(pub String);

/// A command's mailbox argument, decoded (Unicode, `/` as hierarchy
/// delimiter, INBOX normalised to upper case) but not yet checked against
/// the store's naming rules: `context::mailbox_name` turns it into the
/// store's `MailboxName` or a `NO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxArg(pub String);

impl MailboxArg {
    /// Builds a name, normalising any case variant of INBOX to `INBOX`.
    pub fn new(name: String) -> Self {
        if name.eq_ignore_ascii_case("INBOX") {
            MailboxArg("INBOX".to_owned())
        } else {
            MailboxArg(name)
        }
    }

    /// The decoded name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CONDSTORE modification sequence as a client wrote it (RFC 7162); at
/// most 2^63-1. Unlike the store's `Modseq` it may be zero
/// (`UNCHANGEDSINCE 0`, `SEARCH MODSEQ 0`), so it is a distinct type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModseqValue(pub u64);

/// One end of a sequence range: a number, or `*`. Not yet a sequence
/// number or UID: `imap::seqset` resolves it against the selected mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqBound {
    /// A concrete (non-zero) sequence number or UID.
    Value(NonZeroU32),
    /// `*`: the largest number in use.
    Star,
}

/// One element of a sequence set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqRange {
    /// A single number or `*`.
    Single(SeqBound),
    /// `a:b`, kept in the order the client wrote it (`b` may be below `a`).
    Range(SeqBound, SeqBound),
}

/// A sequence set as written by the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SeqSet {
    /// `$`: the result saved by `SEARCH RETURN (SAVE)` (RFC 5182).
    Saved,
    /// A non-empty list of ranges.
    Ranges(Vec<SeqRange>),
}

impl SeqSet {
    /// Builds the most compact set that lists `numbers` in the given order,
    /// merging runs of consecutive ascending values (`1,2,3,7` → `1:3,7`).
    /// Zeroes are skipped because they are not valid sequence numbers.
    /// Order matters for COPYUID, whose two sets correspond element-wise.
    pub fn from_numbers<I: IntoIterator<Item = u32>>(numbers: I) -> Option<SeqSet> {
        let mut ranges: Vec<(NonZeroU32, NonZeroU32)> = Vec::new();
        for n in numbers.into_iter().filter_map(NonZeroU32::new) {
            match ranges.last_mut() {
                Some((_, end)) if end.get().checked_add(1) == Some(n.get()) => *end = n,
                _ => ranges.push((n, n)),
            }
        }
        if ranges.is_empty() {
            return None;
        }
        Some(SeqSet::Ranges(
            ranges
                .into_iter()
                .map(|(a, b)| {
                    if a == b {
                        SeqRange::Single(SeqBound::Value(a))
                    } else {
                        SeqRange::Range(SeqBound::Value(a), SeqBound::Value(b))
                    }
                })
                .collect(),
        ))
    }
}

/// A message flag as it appears in commands and responses. Unlike the
/// store's `Flag` it can say `\Recent` (which the session, not the store,
/// decides) and unknown `\Name` extensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WireFlag {
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Seen`
    Seen,
    /// `\Draft`
    Draft,
    /// `\Recent` (IMAP4rev1 only; clients may not set it, the session decides).
    Recent,
    /// A keyword such as `$Junk` (an atom, case preserved).
    Keyword(String),
    /// An unknown `\Name` flag extension (name without the backslash).
    Extension(String),
}

/// An entry of PERMANENTFLAGS: a flag or `\*` (new keywords allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagPerm {
    /// A concrete flag.
    Flag(WireFlag),
    /// `\*`
    Any,
}

/// A special-use attribute of CREATE (USE ...) (RFC 6154 `use-attr`,
/// RFC 8457): one the store knows, or any other `\Name` (the session
/// answers `NO [USEATTR]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UseAttr {
    /// `\All`, `\Archive`, `\Drafts`, ... (the store's one list of them).
    Known(crate::store::account::SpecialUse),
    /// Any other attribute, without its backslash, as sent.
    Other(String),
}

/// Every client command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The client's tag.
    pub tag: Tag,
    /// What the client asked for.
    pub body: CommandBody,
}

/// The command proper, without its tag.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandBody {
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    /// `STARTTLS`
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 4959 SASL-IR).
    Authenticate {
        /// SASL mechanism name, as sent.
        mechanism: String,
        /// `None`: no initial response; `Some(empty)`: `=`; else decoded base64.
        initial_response: Option<Vec<u8>>,
    },
    /// `LOGIN user password`
    Login {
        /// User name bytes (astring).
        username: Vec<u8>,
        /// Password bytes (astring).
        password: Vec<u8>,
    },
    /// `SELECT mailbox [(params)]`
    Select {
        /// Mailbox to select.
        mailbox: MailboxArg,
        /// CONDSTORE / QRESYNC parameters.
        params: SelectParams,
    },
    /// `EXAMINE mailbox [(params)]`
    Examine {
        /// Mailbox to examine.
        mailbox: MailboxArg,
        /// CONDSTORE / QRESYNC parameters.
        params: SelectParams,
    },
    /// `CREATE mailbox [(USE (attrs))]`
    Create {
        /// Mailbox to create.
        mailbox: MailboxArg,
        /// Special-use attributes requested (RFC 6154 CREATE-SPECIAL-USE).
        special_use: Vec<UseAttr>,
    },
    /// `DELETE mailbox`
    Delete {
        /// Mailbox to delete.
        mailbox: MailboxArg,
    },
    /// `RENAME from to`
    Rename {
        /// Existing name.
        from: MailboxArg,
        /// New name.
        to: MailboxArg,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// Mailbox to subscribe to.
        mailbox: MailboxArg,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// Mailbox to unsubscribe from.
        mailbox: MailboxArg,
    },
    /// `LIST` in all its RFC 5258 / RFC 5819 forms.
    List(ListCommand),
    /// `LSUB reference pattern`
    Lsub {
        /// Reference name (decoded).
        reference: String,
        /// Pattern with `%` / `*` wildcards (decoded).
        pattern: String,
    },
    /// `XLIST reference pattern` (the pre-SPECIAL-USE Gmail extension).
    XList {
        /// Reference name (decoded).
        reference: String,
        /// Pattern with `%` / `*` wildcards (decoded).
        pattern: String,
    },
    /// `NAMESPACE`
    Namespace,
    /// `STATUS mailbox (items)`
    Status {
        /// Mailbox asked about.
        mailbox: MailboxArg,
        /// Requested items, in order.
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox message...` (several messages = MULTIAPPEND).
    Append {
        /// Destination mailbox.
        mailbox: MailboxArg,
        /// One or more messages.
        messages: Vec<AppendMessage>,
    },
    /// `[UID] REPLACE n mailbox message` (RFC 8508): append `message` to
    /// `mailbox`, then expunge message `target` of the selected mailbox.
    Replace {
        /// UID REPLACE?
        uid: bool,
        /// The message replaced: a sequence number or UID (or `*`).
        target: SeqBound,
        /// Where the new message goes.
        mailbox: MailboxArg,
        /// The new message (a literal or CATENATE parts).
        message: AppendMessage,
    },
    /// `IDLE`
    Idle,
    /// `ENABLE cap...`
    Enable {
        /// Capability names as sent.
        capabilities: Vec<String>,
    },
    /// `ID (key value ...)` or `ID NIL`.
    Id {
        /// `None` for `NIL`; otherwise field/value pairs (`None` value = NIL).
        params: Option<IdParams>,
    },
    /// `COMPRESS algorithm`
    Compress {
        /// Algorithm name as sent (only DEFLATE is defined).
        algorithm: String,
    },
    /// `CHECK`
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT`
    Unselect,
    /// `EXPUNGE`
    Expunge,
    /// `UID EXPUNGE uid-set` (UIDPLUS)
    UidExpunge {
        /// UIDs to expunge.
        uids: SeqSet,
    },
    /// `[UID] SEARCH ...`
    Search(SearchCommand),
    /// `[UID] SORT ...` (RFC 5256, RFC 5957, RFC 5267 ESORT)
    Sort(SortCommand),
    /// `[UID] THREAD ...` (RFC 5256)
    Thread(ThreadCommand),
    /// `[UID] FETCH ...`
    Fetch(FetchCommand),
    /// `[UID] STORE ...`
    Store(StoreCommand),
    /// `[UID] COPY set mailbox`
    Copy {
        /// UID command?
        uid: bool,
        /// Messages to copy.
        set: SeqSet,
        /// Destination.
        mailbox: MailboxArg,
    },
    /// `[UID] MOVE set mailbox`
    Move {
        /// UID command?
        uid: bool,
        /// Messages to move.
        set: SeqSet,
        /// Destination.
        mailbox: MailboxArg,
    },
    /// `XCRY ...` private administration commands.
    XCry(XCryCommand),
    /// `XVANQUISH uid-set`: expunge the given UIDs without touching \Deleted.
    XVanquish {
        /// UIDs to remove.
        uids: SeqSet,
    },
    /// `XYZZY`
    Xyzzy,
    /// `NOTIFY ...` (RFC 5465)
    Notify(NotifyCommand),
    /// `CANCELUPDATE "tag" ...` (RFC 5267 §4.3.5): stop updating these
    /// contexts.
    CancelUpdate {
        /// The tags of the searching commands, as sent.
        tags: Vec<String>,
    },
}

/// ID field/value pairs (RFC 2971); a `None` value was sent as NIL.
pub type IdParams = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Parameters of SELECT / EXAMINE (RFC 7162).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectParams {
    /// `(CONDSTORE)` was given.
    pub condstore: bool,
    /// `(QRESYNC (...))` was given.
    pub qresync: Option<QResyncParams>,
}

/// The argument of the QRESYNC select parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct QResyncParams {
    /// The UIDVALIDITY the client last knew (non-zero).
    pub uid_validity: NonZeroU32,
    /// The HIGHESTMODSEQ the client last knew (non-zero).
    pub mod_seq: ModseqValue,
    /// UIDs the client knows about.
    pub known_uids: Option<SeqSet>,
    /// `(known-sequence-set known-uid-set)` matching data.
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// `LIST [(select-opts)] reference patterns [RETURN (opts)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListCommand {
    /// Selection options (RFC 5258); empty for a basic LIST.
    pub selection: Vec<ListSelectOpt>,
    /// Reference name (decoded).
    pub reference: String,
    /// One or more patterns (decoded); several only with the `(..)` form.
    pub patterns: Vec<String>,
    /// True when the patterns were given in parentheses.
    pub multiple_patterns: bool,
    /// Return options; `None` when no RETURN clause was given.
    pub return_opts: Option<Vec<ListReturnOpt>>,
}

/// A LIST selection option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSelectOpt {
    /// `SUBSCRIBED`
    Subscribed,
    /// `REMOTE`
    Remote,
    /// `RECURSIVEMATCH`
    RecursiveMatch,
    /// `SPECIAL-USE`
    SpecialUse,
}

/// A LIST return option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturnOpt {
    /// `SUBSCRIBED`
    Subscribed,
    /// `CHILDREN`
    Children,
    /// `SPECIAL-USE`
    SpecialUse,
    /// `STATUS (items)` (RFC 5819)
    Status(Vec<StatusItem>),
}

/// A STATUS data item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`
    Messages,
    /// `RECENT`
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `DELETED` (RFC 9051)
    Deleted,
    /// `SIZE` (RFC 8438)
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162)
    HighestModSeq,
    /// `APPENDLIMIT` (RFC 7889)
    AppendLimit,
    /// `MAILBOXID` (RFC 8474)
    MailboxId,
}

/// How an APPEND message body was transmitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendKind {
    /// An ordinary `{n}` literal.
    Literal,
    /// A `~{n}` literal8 (RFC 3516): may contain NUL, needs no CTE.
    Literal8,
    /// `UTF8 (~{n})` (RFC 6855): the message has UTF-8 headers.
    Utf8,
    /// `CATENATE (parts)` (RFC 4469): the message is built from these
    /// parts in order; [`AppendMessage::data`] is empty.
    Catenate(Vec<CatPart>),
}

/// One part of a CATENATE (RFC 4469 `cat-part`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    /// `TEXT literal`: octets sent by the client.
    Text(Vec<u8>),
    /// `TEXT literal8` (RFC 4469 §5 with BINARY, RFC 3516): octets that
    /// may be binary; the message is then stored as a literal8 APPEND's.
    Text8(Vec<u8>),
    /// `URL astring`: an IMAP URL (RFC 5092) naming a stored message or
    /// part, kept as written (a URL that does not parse is a `BADURL`
    /// answer, not a syntax error: `imap_url` parses it when resolved).
    Url(String),
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    /// Initial flags.
    pub flags: Vec<WireFlag>,
    /// Requested internal date.
    pub internal_date: Option<DateTime<FixedOffset>>,
    /// How the message was sent.
    pub kind: AppendKind,
    /// The raw message.
    pub data: Vec<u8>,
}

/// `[UID] SEARCH [RETURN (..)] [CHARSET x] keys`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchCommand {
    /// UID SEARCH?
    pub uid: bool,
    /// ESEARCH return options; `None` = classic SEARCH response,
    /// `Some(empty)` = `RETURN ()` which means ALL.
    pub return_opts: Option<Vec<SearchReturnOpt>>,
    /// Charset name as sent.
    pub charset: Option<String>,
    /// Top-level keys, implicitly ANDed (never empty).
    pub criteria: Vec<SearchKey>,
}

/// `[UID] SORT [RETURN (..)] (criteria) charset keys` (RFC 5256 §3,
/// RFC 5267 §3 for RETURN).
#[derive(Debug, Clone, PartialEq)]
pub struct SortCommand {
    /// UID SORT?
    pub uid: bool,
    /// ESORT return options; `None` = the classic SORT response.
    pub return_opts: Option<Vec<SearchReturnOpt>>,
    /// Sort criteria, most significant first (never empty).
    pub criteria: Vec<SortCriterion>,
    /// Charset name as sent (mandatory in SORT).
    pub charset: String,
    /// Search keys, implicitly ANDed (never empty).
    pub search: Vec<SearchKey>,
}

/// One SORT criterion: a key, optionally reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// `REVERSE` was given before the key.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// A SORT key (RFC 5256 §3, RFC 5957 §3 DISPLAYFROM/DISPLAYTO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `ARRIVAL`: INTERNALDATE.
    Arrival,
    /// `CC`: first Cc addr-mailbox.
    Cc,
    /// `DATE`: sent date.
    Date,
    /// `FROM`: first From addr-mailbox.
    From,
    /// `SIZE`: RFC822.SIZE.
    Size,
    /// `SUBJECT`: base subject.
    Subject,
    /// `TO`: first To addr-mailbox.
    To,
    /// `DISPLAYFROM`: first From display name.
    DisplayFrom,
    /// `DISPLAYTO`: first To display name.
    DisplayTo,
}

impl SortKey {
    /// The wire name; the one table the parser and encoder share.
    pub const NAMES: &'static [(SortKey, &'static str)] = &[
        (SortKey::Arrival, "ARRIVAL"),
        (SortKey::Cc, "CC"),
        (SortKey::Date, "DATE"),
        (SortKey::From, "FROM"),
        (SortKey::Size, "SIZE"),
        (SortKey::Subject, "SUBJECT"),
        (SortKey::To, "TO"),
        (SortKey::DisplayFrom, "DISPLAYFROM"),
        (SortKey::DisplayTo, "DISPLAYTO"),
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("ARRIVAL", |(_, n)| n)
    }
}

/// `[UID] THREAD algorithm charset keys` (RFC 5256 §3).
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadCommand {
    /// UID THREAD?
    pub uid: bool,
    /// The threading algorithm.
    pub algorithm: ThreadAlgorithm,
    /// Charset name as sent.
    pub charset: String,
    /// Search keys, implicitly ANDed (never empty).
    pub search: Vec<SearchKey>,
}

/// A THREAD algorithm this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// `ORDEREDSUBJECT` (RFC 5256 §3).
    OrderedSubject,
    /// `REFERENCES` (RFC 5256 §4).
    References,
    /// `REFS` (draft-ietf-morg-inthread): REFERENCES without subject
    /// merging, threads ordered by their latest message.
    Refs,
}

impl ThreadAlgorithm {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            ThreadAlgorithm::OrderedSubject => "ORDEREDSUBJECT",
            ThreadAlgorithm::References => "REFERENCES",
            ThreadAlgorithm::Refs => "REFS",
        }
    }
}

/// An ESEARCH return option (RFC 4731, RFC 5182, RFC 9394).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturnOpt {
    /// `MIN`
    Min,
    /// `MAX`
    Max,
    /// `ALL`
    All,
    /// `COUNT`
    Count,
    /// `SAVE`
    Save,
    /// `PARTIAL range` (RFC 9394): a page of the result.
    Partial(PartialRange),
    /// `UPDATE` (RFC 5267 §4.3): keep the result live with ADDTO and
    /// REMOVEFROM.
    Update,
    /// `CONTEXT` (RFC 5267 §4.2): a hint that the result will be paged.
    Context,
}

/// A page of a result (RFC 9394 §3): positions counted from 1, from the
/// start (`first:last`) or from the end (`-first:-last`, -1 the last
/// message). Kept with `first <= last`, as `4:2` means `2:4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialRange {
    /// Counted from the end of the result.
    pub from_end: bool,
    /// The nearer position (1-based).
    pub first: NonZeroU32,
    /// The farther position (1-based), `>= first`.
    pub last: NonZeroU32,
}

impl std::fmt::Display for PartialRange {
    /// `2:4` or `-1:-50`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.from_end { "-" } else { "" };
        write!(f, "{sign}{}:{sign}{}", self.first, self.last)
    }
}

impl PartialRange {
    /// The range with its ends in order.
    pub fn new(from_end: bool, a: NonZeroU32, b: NonZeroU32) -> PartialRange {
        PartialRange {
            from_end,
            first: a.min(b),
            last: a.max(b),
        }
    }

    /// The 0-based indices into a result of `len` items that the range
    /// names, ascending; empty when it lies beyond the result.
    pub fn indices(&self, len: usize) -> std::ops::Range<usize> {
        let first = usize::try_from(self.first.get()).unwrap_or(usize::MAX);
        let last = usize::try_from(self.last.get()).unwrap_or(usize::MAX);
        if self.from_end {
            // -first:-last: positions len-last .. len-first (0-based).
            let end = len.saturating_sub(first - 1);
            let start = len.saturating_sub(last);
            start..end.max(start)
        } else {
            let start = (first - 1).min(len);
            let end = last.min(len);
            start..end.max(start)
        }
    }
}

/// Which metadata entries a SEARCH MODSEQ refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// `priv`
    Private,
    /// `shared`
    Shared,
    /// `all`
    All,
}

/// A search criterion. String operands are raw bytes in the command's charset.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// `ANSWERED`
    Answered,
    /// `BCC string`
    Bcc(Vec<u8>),
    /// `BEFORE date`
    Before(NaiveDate),
    /// `BODY string`
    Body(Vec<u8>),
    /// `CC string`
    Cc(Vec<u8>),
    /// `DELETED`
    Deleted,
    /// `DRAFT`
    Draft,
    /// `FLAGGED`
    Flagged,
    /// `FROM string`
    From(Vec<u8>),
    /// `HEADER field string`
    Header(Vec<u8>, Vec<u8>),
    /// `KEYWORD flag`
    Keyword(String),
    /// `LARGER n`
    Larger(u64),
    /// `NEW`
    New,
    /// `NOT key`
    Not(Box<SearchKey>),
    /// `OLD`
    Old,
    /// `ON date`
    On(NaiveDate),
    /// `OR key key`
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT`
    Recent,
    /// `SEEN`
    Seen,
    /// `SENTBEFORE date`
    SentBefore(NaiveDate),
    /// `SENTON date`
    SentOn(NaiveDate),
    /// `SENTSINCE date`
    SentSince(NaiveDate),
    /// `SINCE date`
    Since(NaiveDate),
    /// `SMALLER n`
    Smaller(u64),
    /// `SUBJECT string`
    Subject(Vec<u8>),
    /// `TEXT string`
    Text(Vec<u8>),
    /// `TO string`
    To(Vec<u8>),
    /// `UID set`
    Uid(SeqSet),
    /// `UNANSWERED`
    Unanswered,
    /// `UNDELETED`
    Undeleted,
    /// `UNDRAFT`
    Undraft,
    /// `UNFLAGGED`
    Unflagged,
    /// `UNKEYWORD flag`
    Unkeyword(String),
    /// `UNSEEN`
    Unseen,
    /// A bare sequence set.
    SeqSet(SeqSet),
    /// `( key... )`: all must match.
    And(Vec<SearchKey>),
    /// `MODSEQ ["/flags/x" type] n` (RFC 7162).
    ModSeq {
        /// Optional entry name (raw bytes of the quoted string) and type.
        entry: Option<(Vec<u8>, EntryType)>,
        /// Minimum modseq (may be zero).
        mod_seq: ModseqValue,
    },
    /// `EMAILID id` (RFC 8474)
    EmailId(String),
    /// `THREADID id` (RFC 8474)
    ThreadId(String),
    /// `SAVEDBEFORE date` (RFC 8514)
    SavedBefore(NaiveDate),
    /// `SAVEDON date`
    SavedOn(NaiveDate),
    /// `SAVEDSINCE date`
    SavedSince(NaiveDate),
    /// `SAVEDATESUPPORTED`
    SaveDateSupported,
    /// `OLDER n` (RFC 5032): INTERNALDATE more than n seconds ago.
    Older(NonZeroU32),
    /// `YOUNGER n` (RFC 5032): INTERNALDATE at most n seconds ago.
    Younger(NonZeroU32),
}

/// `[UID] FETCH set attrs [(modifiers)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchCommand {
    /// UID FETCH?
    pub uid: bool,
    /// Messages to fetch.
    pub set: SeqSet,
    /// What to fetch.
    pub attrs: FetchAttrs,
    /// `CHANGEDSINCE n` (RFC 7162).
    pub changed_since: Option<ModseqValue>,
    /// `VANISHED` (RFC 7162, UID FETCH with CHANGEDSINCE only).
    pub vanished: bool,
    /// `PARTIAL range` (RFC 9394 §3.3): only that page of the messages
    /// the set names (after CHANGEDSINCE), counted in UID order.
    pub partial: Option<PartialRange>,
}

/// The attribute part of FETCH.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchAttrs {
    /// `ALL` = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
    All,
    /// `FAST` = FLAGS INTERNALDATE RFC822.SIZE
    Fast,
    /// `FULL` = ALL + BODY
    Full,
    /// An explicit list (a single attribute without parentheses included).
    List(Vec<FetchAttr>),
}

/// One FETCH data item request.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchAttr {
    /// `ENVELOPE`
    Envelope,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822`
    Rfc822,
    /// `RFC822.HEADER`
    Rfc822Header,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `RFC822.TEXT`
    Rfc822Text,
    /// `BODY` (non-extensible BODYSTRUCTURE)
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `UID`
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`
    BodySection {
        /// `.PEEK`: do not set \Seen.
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.length>`
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516)
    Binary {
        /// `.PEEK`
        peek: bool,
        /// Part path (empty = whole message).
        part: Vec<NonZeroU32>,
        /// `<offset.length>`
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`
    BinarySize {
        /// Part path.
        part: Vec<NonZeroU32>,
    },
    /// `MODSEQ`
    ModSeq,
    /// `EMAILID`
    EmailId,
    /// `THREADID`
    ThreadId,
    /// `PREVIEW [(LAZY)]` (RFC 8970); `lazy` lets the server answer NIL
    /// rather than compute it (it never has to: the preview is stored).
    Preview {
        /// `(LAZY)` was given.
        lazy: bool,
    },
    /// `SAVEDATE`
    SaveDate,
}

/// `<offset.length>` of a partial fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    /// First octet.
    pub offset: u64,
    /// Maximum number of octets (non-zero).
    pub length: u64,
}

/// A BODY section specifier.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// Part path such as 1.2.3 (empty = the whole message).
    pub part: Vec<NonZeroU32>,
    /// What of that part.
    pub text: Option<SectionText>,
}

/// The textual part of a section specifier.
#[derive(Debug, Clone, PartialEq)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (names)`
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`
    Text,
    /// `MIME` (only after a part number)
    Mime,
}

/// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreCommand {
    /// UID STORE?
    pub uid: bool,
    /// Messages affected.
    pub set: SeqSet,
    /// `UNCHANGEDSINCE n` (RFC 7162).
    pub unchanged_since: Option<ModseqValue>,
    /// Replace, add or remove.
    pub mode: StoreMode,
    /// `.SILENT`
    pub silent: bool,
    /// The flags (may be empty).
    pub flags: Vec<WireFlag>,
}

/// How STORE combines flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// The private XCRY commands.
#[derive(Debug, Clone, PartialEq)]
pub enum XCryCommand {
    /// `XCRY PURGE`: remove expunged message files now.
    Purge,
    /// `XCRY GET-USER-CONFIG`
    GetUserConfig,
    /// `XCRY SET-USER-CONFIG key value...`, in the order sent; a key that
    /// names no setting is kept as its typed error for the handler to
    /// answer (after the login check, as `NO`).
    SetUserConfig(Vec<Result<UserSetting, UnknownUserSetting>>),
}
