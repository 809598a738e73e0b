//! The typed syntax tree of every IMAP client command this server accepts
//! (RFC 3501, RFC 9051 and the extensions listed in `doc/protocol-syntax.md`).
//!
//! This module only describes what a client said. It never decides whether a
//! command is allowed in the current state, never touches the store and never
//! performs I/O; the session does all of that. Mailbox names held here are
//! already decoded (modified UTF-7 undone, INBOX normalised).

use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset, NaiveDate};

/// A command tag: the client's identifier echoed in the tagged response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(pub String);

/// A decoded mailbox name (Unicode, `/` as hierarchy delimiter, INBOX
/// normalised to upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(pub String);

impl MailboxName {
    /// Builds a name, normalising any case variant of INBOX to `INBOX`.
    pub fn new(name: String) -> Self {
        if name.eq_ignore_ascii_case("INBOX") {
            MailboxName("INBOX".to_owned())
        } else {
            MailboxName(name)
        }
    }

    /// The decoded name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CONDSTORE modification sequence (RFC 7162); at most 2^63-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModSeq(pub u64);

/// One end of a sequence range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNum {
    /// A concrete (non-zero) sequence number or UID.
    Value(NonZeroU32),
    /// `*`: the largest number in use.
    Star,
}

/// One element of a sequence set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqRange {
    /// A single number or `*`.
    Single(SeqNum),
    /// `a:b`, kept in the order the client wrote it (`b` may be below `a`).
    Range(SeqNum, SeqNum),
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
                        SeqRange::Single(SeqNum::Value(a))
                    } else {
                        SeqRange::Range(SeqNum::Value(a), SeqNum::Value(b))
                    }
                })
                .collect(),
        ))
    }
}

/// A message flag as it appears in commands and responses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
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
    Flag(Flag),
    /// `\*`
    Any,
}

/// A special-use attribute (RFC 6154, RFC 8457) used by CREATE (USE ...):
/// one the store knows, or any other `\Name` (the session answers
/// `NO [USEATTR]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpecialUse {
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
        mailbox: MailboxName,
        /// CONDSTORE / QRESYNC parameters.
        params: SelectParams,
    },
    /// `EXAMINE mailbox [(params)]`
    Examine {
        /// Mailbox to examine.
        mailbox: MailboxName,
        /// CONDSTORE / QRESYNC parameters.
        params: SelectParams,
    },
    /// `CREATE mailbox [(USE (attrs))]`
    Create {
        /// Mailbox to create.
        mailbox: MailboxName,
        /// Special-use attributes requested (RFC 6154 CREATE-SPECIAL-USE).
        special_use: Vec<SpecialUse>,
    },
    /// `DELETE mailbox`
    Delete {
        /// Mailbox to delete.
        mailbox: MailboxName,
    },
    /// `RENAME from to`
    Rename {
        /// Existing name.
        from: MailboxName,
        /// New name.
        to: MailboxName,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// Mailbox to subscribe to.
        mailbox: MailboxName,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// Mailbox to unsubscribe from.
        mailbox: MailboxName,
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
        mailbox: MailboxName,
        /// Requested items, in order.
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox message...` (several messages = MULTIAPPEND).
    Append {
        /// Destination mailbox.
        mailbox: MailboxName,
        /// One or more messages.
        messages: Vec<AppendMessage>,
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
        mailbox: MailboxName,
    },
    /// `[UID] MOVE set mailbox`
    Move {
        /// UID command?
        uid: bool,
        /// Messages to move.
        set: SeqSet,
        /// Destination.
        mailbox: MailboxName,
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
    pub mod_seq: ModSeq,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendKind {
    /// An ordinary `{n}` literal.
    Literal,
    /// A `~{n}` literal8 (RFC 3516): may contain NUL, needs no CTE.
    Literal8,
    /// `UTF8 (~{n})` (RFC 6855): the message has UTF-8 headers.
    Utf8,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    /// Initial flags.
    pub flags: Vec<Flag>,
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

/// An ESEARCH return option (RFC 4731, RFC 5182).
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
        mod_seq: ModSeq,
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
    pub changed_since: Option<ModSeq>,
    /// `VANISHED` (RFC 7162, UID FETCH with CHANGEDSINCE only).
    pub vanished: bool,
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
    pub unchanged_since: Option<ModSeq>,
    /// Replace, add or remove.
    pub mode: StoreMode,
    /// `.SILENT`
    pub silent: bool,
    /// The flags (may be empty).
    pub flags: Vec<Flag>,
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
    /// `XCRY SET-USER-CONFIG key value...` (keys are atoms, e.g. PASSWORD).
    SetUserConfig(Vec<(String, Vec<u8>)>),
}

// ------------------------------------------------------------ encoding

use super::response::{
    is_atom_char, write_atom, write_date_time, write_flag, write_flag_list, write_seq_set,
    write_string_opts,
};

/// Client-side writer: strings that cannot be quoted become non-synchronising
/// `{n+}` literals (LITERAL+), so an encoded command can be sent in one go.
struct Enc {
    out: Vec<u8>,
    utf8: bool,
}

impl Enc {
    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn sp(&mut self) {
        self.out.push(b' ');
    }

    fn num<T: ToString>(&mut self, n: T) {
        self.raw(&n.to_string());
    }

    fn string(&mut self, s: &[u8]) {
        write_string_opts(&mut self.out, s, false, true);
    }

    fn astring(&mut self, s: &[u8]) {
        let bare = !s.is_empty()
            && s.iter().all(|&b| is_atom_char(b) || b == b']')
            && !s.eq_ignore_ascii_case(b"NIL");
        if bare {
            self.out.extend_from_slice(s);
        } else {
            self.string(s);
        }
    }

    fn atom(&mut self, s: &str) {
        write_atom(&mut self.out, s);
    }

    fn name(&mut self, name: &str) {
        if self.utf8 {
            self.astring(name.as_bytes());
        } else {
            self.astring(super::mutf7::encode(name).as_bytes());
        }
    }

    fn set(&mut self, set: &SeqSet) {
        write_seq_set(&mut self.out, set);
    }

    fn date(&mut self, d: &NaiveDate) {
        self.raw(&d.format("%d-%b-%Y").to_string());
    }

    fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.out.push(b'(');
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                self.sp();
            }
            f(self, item);
        }
        self.out.push(b')');
    }

    fn literal(&mut self, data: &[u8], binary: bool) {
        if binary {
            self.out.push(b'~');
        }
        self.raw(&format!("{{{}+}}\r\n", data.len()));
        self.out.extend_from_slice(data);
    }

    fn status_items(&mut self, items: &[StatusItem]) {
        self.list(items, |e, i| {
            e.raw(match i {
                StatusItem::Messages => "MESSAGES",
                StatusItem::Recent => "RECENT",
                StatusItem::UidNext => "UIDNEXT",
                StatusItem::UidValidity => "UIDVALIDITY",
                StatusItem::Unseen => "UNSEEN",
                StatusItem::Deleted => "DELETED",
                StatusItem::Size => "SIZE",
                StatusItem::HighestModSeq => "HIGHESTMODSEQ",
                StatusItem::AppendLimit => "APPENDLIMIT",
                StatusItem::MailboxId => "MAILBOXID",
            })
        });
    }

    fn uid(&mut self, uid: bool) {
        if uid {
            self.raw("UID ");
        }
    }

    fn select(&mut self, verb: &str, mailbox: &MailboxName, p: &SelectParams) {
        self.raw(verb);
        self.name(&mailbox.0);
        let mut params: Vec<Vec<u8>> = Vec::new();
        if p.condstore {
            params.push(b"CONDSTORE".to_vec());
        }
        if let Some(q) = &p.qresync {
            let mut e = Enc {
                out: Vec::new(),
                utf8: self.utf8,
            };
            e.raw(&format!("QRESYNC ({} {}", q.uid_validity, q.mod_seq.0));
            if let Some(k) = &q.known_uids {
                e.sp();
                e.set(k);
            }
            if let Some((s, u)) = &q.seq_match {
                e.raw(" (");
                e.set(s);
                e.sp();
                e.set(u);
                e.raw(")");
            }
            e.raw(")");
            params.push(e.out);
        }
        if !params.is_empty() {
            self.sp();
            self.list(&params, |e, p| e.out.extend_from_slice(p));
        }
    }

    fn search_key(&mut self, k: &SearchKey) {
        use SearchKey as K;
        let (word, arg): (&str, Option<&[u8]>) = match k {
            K::All => ("ALL", None),
            K::Answered => ("ANSWERED", None),
            K::Deleted => ("DELETED", None),
            K::Draft => ("DRAFT", None),
            K::Flagged => ("FLAGGED", None),
            K::New => ("NEW", None),
            K::Old => ("OLD", None),
            K::Recent => ("RECENT", None),
            K::Seen => ("SEEN", None),
            K::Unanswered => ("UNANSWERED", None),
            K::Undeleted => ("UNDELETED", None),
            K::Undraft => ("UNDRAFT", None),
            K::Unflagged => ("UNFLAGGED", None),
            K::Unseen => ("UNSEEN", None),
            K::SaveDateSupported => ("SAVEDATESUPPORTED", None),
            K::Bcc(s) => ("BCC", Some(s)),
            K::Body(s) => ("BODY", Some(s)),
            K::Cc(s) => ("CC", Some(s)),
            K::From(s) => ("FROM", Some(s)),
            K::Subject(s) => ("SUBJECT", Some(s)),
            K::Text(s) => ("TEXT", Some(s)),
            K::To(s) => ("TO", Some(s)),
            K::Before(d)
            | K::On(d)
            | K::Since(d)
            | K::SentBefore(d)
            | K::SentOn(d)
            | K::SentSince(d)
            | K::SavedBefore(d)
            | K::SavedOn(d)
            | K::SavedSince(d) => {
                self.raw(match k {
                    K::Before(_) => "BEFORE ",
                    K::On(_) => "ON ",
                    K::Since(_) => "SINCE ",
                    K::SentBefore(_) => "SENTBEFORE ",
                    K::SentOn(_) => "SENTON ",
                    K::SentSince(_) => "SENTSINCE ",
                    K::SavedBefore(_) => "SAVEDBEFORE ",
                    K::SavedOn(_) => "SAVEDON ",
                    _ => "SAVEDSINCE ",
                });
                self.date(d);
                return;
            }
            K::Header(f, v) => {
                self.raw("HEADER ");
                self.astring(f);
                self.sp();
                self.astring(v);
                return;
            }
            K::Keyword(w) | K::Unkeyword(w) => {
                self.raw(if matches!(k, K::Keyword(_)) {
                    "KEYWORD "
                } else {
                    "UNKEYWORD "
                });
                self.atom(w);
                return;
            }
            K::Larger(n) | K::Smaller(n) => {
                self.raw(if matches!(k, K::Larger(_)) {
                    "LARGER "
                } else {
                    "SMALLER "
                });
                self.num(n);
                return;
            }
            K::Uid(s) => {
                self.raw("UID ");
                self.set(s);
                return;
            }
            K::SeqSet(s) => {
                self.set(s);
                return;
            }
            K::Not(k) => {
                self.raw("NOT ");
                self.search_key(k);
                return;
            }
            K::Or(a, b) => {
                self.raw("OR ");
                self.search_key(a);
                self.sp();
                self.search_key(b);
                return;
            }
            K::And(keys) => {
                self.list(keys, |e, k| e.search_key(k));
                return;
            }
            K::ModSeq { entry, mod_seq } => {
                self.raw("MODSEQ ");
                if let Some((name, t)) = entry {
                    self.string(name);
                    self.raw(match t {
                        EntryType::Private => " priv ",
                        EntryType::Shared => " shared ",
                        EntryType::All => " all ",
                    });
                }
                self.num(mod_seq.0);
                return;
            }
            K::EmailId(id) | K::ThreadId(id) => {
                self.raw(if matches!(k, K::EmailId(_)) {
                    "EMAILID "
                } else {
                    "THREADID "
                });
                self.atom(id);
                return;
            }
        };
        self.raw(word);
        if let Some(a) = arg {
            self.sp();
            self.astring(a);
        }
    }

    fn part(&mut self, part: &[NonZeroU32]) {
        for (k, n) in part.iter().enumerate() {
            if k > 0 {
                self.raw(".");
            }
            self.num(n);
        }
    }

    fn partial(&mut self, p: &Option<Partial>) {
        if let Some(p) = p {
            self.raw(&format!("<{}.{}>", p.offset, p.length));
        }
    }

    fn fetch_attr(&mut self, a: &FetchAttr) {
        match a {
            FetchAttr::Envelope => self.raw("ENVELOPE"),
            FetchAttr::Flags => self.raw("FLAGS"),
            FetchAttr::InternalDate => self.raw("INTERNALDATE"),
            FetchAttr::Rfc822 => self.raw("RFC822"),
            FetchAttr::Rfc822Header => self.raw("RFC822.HEADER"),
            FetchAttr::Rfc822Size => self.raw("RFC822.SIZE"),
            FetchAttr::Rfc822Text => self.raw("RFC822.TEXT"),
            FetchAttr::Body => self.raw("BODY"),
            FetchAttr::BodyStructure => self.raw("BODYSTRUCTURE"),
            FetchAttr::Uid => self.raw("UID"),
            FetchAttr::ModSeq => self.raw("MODSEQ"),
            FetchAttr::EmailId => self.raw("EMAILID"),
            FetchAttr::ThreadId => self.raw("THREADID"),
            FetchAttr::SaveDate => self.raw("SAVEDATE"),
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            } => {
                self.raw(if *peek { "BODY.PEEK[" } else { "BODY[" });
                self.part(&section.part);
                if let Some(t) = &section.text {
                    if !section.part.is_empty() {
                        self.raw(".");
                    }
                    match t {
                        SectionText::Header => self.raw("HEADER"),
                        SectionText::Text => self.raw("TEXT"),
                        SectionText::Mime => self.raw("MIME"),
                        SectionText::HeaderFields(f) | SectionText::HeaderFieldsNot(f) => {
                            self.raw(if matches!(t, SectionText::HeaderFields(_)) {
                                "HEADER.FIELDS "
                            } else {
                                "HEADER.FIELDS.NOT "
                            });
                            self.list(f, |e, f| e.astring(f.as_bytes()));
                        }
                    }
                }
                self.raw("]");
                self.partial(partial);
            }
            FetchAttr::Binary {
                peek,
                part,
                partial,
            } => {
                self.raw(if *peek { "BINARY.PEEK[" } else { "BINARY[" });
                self.part(part);
                self.raw("]");
                self.partial(partial);
            }
            FetchAttr::BinarySize { part } => {
                self.raw("BINARY.SIZE[");
                self.part(part);
                self.raw("]");
            }
        }
    }

    fn body(&mut self, body: &CommandBody) {
        use CommandBody as B;
        match body {
            B::Capability => self.raw("CAPABILITY"),
            B::Noop => self.raw("NOOP"),
            B::Logout => self.raw("LOGOUT"),
            B::StartTls => self.raw("STARTTLS"),
            B::Namespace => self.raw("NAMESPACE"),
            B::Idle => self.raw("IDLE"),
            B::Check => self.raw("CHECK"),
            B::Close => self.raw("CLOSE"),
            B::Unselect => self.raw("UNSELECT"),
            B::Expunge => self.raw("EXPUNGE"),
            B::Xyzzy => self.raw("XYZZY"),
            B::Authenticate {
                mechanism,
                initial_response,
            } => {
                self.raw("AUTHENTICATE ");
                self.atom(mechanism);
                if let Some(ir) = initial_response {
                    self.sp();
                    if ir.is_empty() {
                        self.raw("=");
                    } else {
                        use base64::Engine as _;
                        self.raw(&base64::engine::general_purpose::STANDARD.encode(ir));
                    }
                }
            }
            B::Login { username, password } => {
                self.raw("LOGIN ");
                self.astring(username);
                self.sp();
                self.astring(password);
            }
            B::Select { mailbox, params } => self.select("SELECT ", mailbox, params),
            B::Examine { mailbox, params } => self.select("EXAMINE ", mailbox, params),
            B::Create {
                mailbox,
                special_use,
            } => {
                self.raw("CREATE ");
                self.name(&mailbox.0);
                if !special_use.is_empty() {
                    self.raw(" (USE ");
                    self.list(special_use, |e, u| match u {
                        SpecialUse::Known(k) => e.raw(k.as_imap()),
                        SpecialUse::Other(o) => {
                            e.raw("\\");
                            e.atom(o)
                        }
                    });
                    self.raw(")");
                }
            }
            B::Delete { mailbox } => {
                self.raw("DELETE ");
                self.name(&mailbox.0);
            }
            B::Subscribe { mailbox } => {
                self.raw("SUBSCRIBE ");
                self.name(&mailbox.0);
            }
            B::Unsubscribe { mailbox } => {
                self.raw("UNSUBSCRIBE ");
                self.name(&mailbox.0);
            }
            B::Rename { from, to } => {
                self.raw("RENAME ");
                self.name(&from.0);
                self.sp();
                self.name(&to.0);
            }
            B::List(l) => {
                self.raw("LIST ");
                if !l.selection.is_empty() {
                    self.list(&l.selection, |e, o| {
                        e.raw(match o {
                            ListSelectOpt::Subscribed => "SUBSCRIBED",
                            ListSelectOpt::Remote => "REMOTE",
                            ListSelectOpt::RecursiveMatch => "RECURSIVEMATCH",
                            ListSelectOpt::SpecialUse => "SPECIAL-USE",
                        })
                    });
                    self.sp();
                }
                self.name(&l.reference);
                self.sp();
                if l.multiple_patterns || l.patterns.len() != 1 {
                    self.list(&l.patterns, |e, p| e.name(p));
                } else {
                    for p in &l.patterns {
                        self.name(p);
                    }
                }
                if let Some(opts) = &l.return_opts {
                    self.raw(" RETURN ");
                    self.list(opts, |e, o| match o {
                        ListReturnOpt::Subscribed => e.raw("SUBSCRIBED"),
                        ListReturnOpt::Children => e.raw("CHILDREN"),
                        ListReturnOpt::SpecialUse => e.raw("SPECIAL-USE"),
                        ListReturnOpt::Status(items) => {
                            e.raw("STATUS ");
                            e.status_items(items);
                        }
                    });
                }
            }
            B::Lsub { reference, pattern } | B::XList { reference, pattern } => {
                self.raw(if matches!(body, B::Lsub { .. }) {
                    "LSUB "
                } else {
                    "XLIST "
                });
                self.name(reference);
                self.sp();
                self.name(pattern);
            }
            B::Status { mailbox, items } => {
                self.raw("STATUS ");
                self.name(&mailbox.0);
                self.sp();
                self.status_items(items);
            }
            B::Append { mailbox, messages } => {
                self.raw("APPEND ");
                self.name(&mailbox.0);
                for m in messages {
                    self.sp();
                    if !m.flags.is_empty() {
                        write_flag_list(&mut self.out, &m.flags);
                        self.sp();
                    }
                    if let Some(d) = &m.internal_date {
                        write_date_time(&mut self.out, d);
                        self.sp();
                    }
                    match m.kind {
                        AppendKind::Literal => self.literal(&m.data, false),
                        AppendKind::Literal8 => self.literal(&m.data, true),
                        AppendKind::Utf8 => {
                            self.raw("UTF8 (");
                            self.literal(&m.data, true);
                            self.raw(")");
                        }
                    }
                }
            }
            B::Enable { capabilities } => {
                self.raw("ENABLE");
                for c in capabilities {
                    self.sp();
                    self.atom(c);
                }
            }
            B::Id { params } => {
                self.raw("ID ");
                match params {
                    None => self.raw("NIL"),
                    Some(p) => self.list(p, |e, (k, v)| {
                        e.string(k);
                        e.sp();
                        match v {
                            None => e.raw("NIL"),
                            Some(v) => e.string(v),
                        }
                    }),
                }
            }
            B::Compress { algorithm } => {
                self.raw("COMPRESS ");
                self.atom(algorithm);
            }
            B::UidExpunge { uids } => {
                self.raw("UID EXPUNGE ");
                self.set(uids);
            }
            B::Search(s) => {
                self.uid(s.uid);
                self.raw("SEARCH");
                if let Some(r) = &s.return_opts {
                    self.raw(" RETURN ");
                    self.list(r, |e, o| {
                        e.raw(match o {
                            SearchReturnOpt::Min => "MIN",
                            SearchReturnOpt::Max => "MAX",
                            SearchReturnOpt::All => "ALL",
                            SearchReturnOpt::Count => "COUNT",
                            SearchReturnOpt::Save => "SAVE",
                        })
                    });
                }
                if let Some(c) = &s.charset {
                    self.raw(" CHARSET ");
                    self.astring(c.as_bytes());
                }
                for k in &s.criteria {
                    self.sp();
                    self.search_key(k);
                }
            }
            B::Fetch(f) => {
                self.uid(f.uid);
                self.raw("FETCH ");
                self.set(&f.set);
                self.sp();
                match &f.attrs {
                    FetchAttrs::All => self.raw("ALL"),
                    FetchAttrs::Fast => self.raw("FAST"),
                    FetchAttrs::Full => self.raw("FULL"),
                    FetchAttrs::List(l) => self.list(l, |e, a| e.fetch_attr(a)),
                }
                let mut mods = Vec::new();
                if let Some(m) = f.changed_since {
                    mods.push(format!("CHANGEDSINCE {}", m.0));
                }
                if f.vanished {
                    mods.push("VANISHED".to_owned());
                }
                if !mods.is_empty() {
                    self.raw(&format!(" ({})", mods.join(" ")));
                }
            }
            B::Store(s) => {
                self.uid(s.uid);
                self.raw("STORE ");
                self.set(&s.set);
                if let Some(m) = s.unchanged_since {
                    self.raw(&format!(" (UNCHANGEDSINCE {})", m.0));
                }
                self.raw(match s.mode {
                    StoreMode::Replace => " FLAGS",
                    StoreMode::Add => " +FLAGS",
                    StoreMode::Remove => " -FLAGS",
                });
                if s.silent {
                    self.raw(".SILENT");
                }
                self.sp();
                self.list(&s.flags, |e, f| write_flag(&mut e.out, f));
            }
            B::Copy { uid, set, mailbox } | B::Move { uid, set, mailbox } => {
                self.uid(*uid);
                self.raw(if matches!(body, B::Copy { .. }) {
                    "COPY "
                } else {
                    "MOVE "
                });
                self.set(set);
                self.sp();
                self.name(&mailbox.0);
            }
            B::XCry(x) => match x {
                XCryCommand::Purge => self.raw("XCRY PURGE"),
                XCryCommand::GetUserConfig => self.raw("XCRY GET-USER-CONFIG"),
                XCryCommand::SetUserConfig(pairs) => {
                    self.raw("XCRY SET-USER-CONFIG");
                    for (k, v) in pairs {
                        self.sp();
                        self.atom(k);
                        self.sp();
                        self.astring(v);
                    }
                }
            },
            B::XVanquish { uids } => {
                self.raw("XVANQUISH ");
                self.set(uids);
            }
        }
    }
}

impl Command {
    /// Serialises the command as a client would send it, mailbox names in
    /// modified UTF-7; literals are non-synchronising (`{n+}`, LITERAL+).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(false)
    }

    /// Like [`Command::encode`], with raw UTF-8 mailbox names when
    /// `utf8_accept` (the session enabled UTF8=ACCEPT).
    pub fn encode_with(&self, utf8_accept: bool) -> Vec<u8> {
        let mut e = Enc {
            out: Vec::with_capacity(64),
            utf8: utf8_accept,
        };
        let tag = if self.tag.0.is_empty() {
            "X"
        } else {
            self.tag.0.as_str()
        };
        e.out.extend(tag.bytes().map(|b| {
            if (is_atom_char(b) || b == b']') && b != b'+' {
                b
            } else {
                b'X'
            }
        }));
        e.sp();
        e.body(&self.body);
        e.raw("\r\n");
        e.out
    }
}
