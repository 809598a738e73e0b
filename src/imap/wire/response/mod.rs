//! Server responses as values: the [`Response`] every handler builds, with
//! its status kinds, response codes and FETCH items. `encode.rs` is the
//! one place that turns a response into bytes (and holds the token writers
//! the command encoder and `structure.rs` share); the parser that reads
//! responses back is `wire::parser::response`, re-exported here.
//!
//! This module only describes responses: it never decides what to answer
//! (the handlers do) and never performs I/O.

use std::borrow::Cow;
use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset};

use crate::imap::wire::command::{FlagPerm, ModseqValue, PartialRange, Section, SeqSet, WireFlag};
use crate::imap::wire::mutf7;
use crate::mime::envelope::Envelope;
use crate::mime::summary::Part;
use crate::store::account::UidValidity;
use crate::store::types::{Modseq, SeqNum, Uid};

mod encode;
#[cfg(test)]
mod tests;

pub use crate::imap::wire::parser::response::{frame_response, parse_response, ResponseParseError};
pub use encode::{
    is_atom_char, write_atom, write_date_time, write_decimal, write_flag, write_flag_list,
    write_list_or_nil, write_nstring, write_seq_set, write_string, write_string_opts, EncodedItem,
    FetchEncoder,
};

/// The kind of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD`
    Bad,
    /// `PREAUTH` (greeting only)
    PreAuth,
    /// `BYE`
    Bye,
}

impl Status {
    /// The keyword on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A response code (the bracketed part of a status response).
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseCode {
    /// `ALERT`
    Alert,
    /// `BADCHARSET (charsets)`
    BadCharset(Vec<String>),
    /// `CAPABILITY caps`
    Capability(Vec<String>),
    /// `PARSE`
    Parse,
    /// `PERMANENTFLAGS (flags)`
    PermanentFlags(Vec<FlagPerm>),
    /// `READ-ONLY`
    ReadOnly,
    /// `READ-WRITE`
    ReadWrite,
    /// `TRYCREATE`
    TryCreate,
    /// `UIDNEXT n`
    UidNext(Uid),
    /// `UIDVALIDITY n`
    UidValidity(UidValidity),
    /// `UNSEEN n`: the first unseen message.
    Unseen(SeqNum),
    /// `APPENDUID uidvalidity uids` (RFC 4315)
    AppendUid {
        /// Destination UIDVALIDITY.
        uid_validity: UidValidity,
        /// Assigned UIDs.
        uids: SeqSet,
    },
    /// `COPYUID uidvalidity source dest` (RFC 4315)
    CopyUid {
        /// Destination UIDVALIDITY.
        uid_validity: UidValidity,
        /// Source UIDs.
        source: SeqSet,
        /// Destination UIDs, element-wise matching `source`.
        dest: SeqSet,
    },
    /// `UIDNOTSTICKY`
    UidNotSticky,
    /// `HIGHESTMODSEQ n` (RFC 7162)
    HighestModSeq(ModseqValue),
    /// `NOMODSEQ`
    NoModSeq,
    /// `MODIFIED set`
    Modified(SeqSet),
    /// `CLOSED` (RFC 7162)
    Closed,
    /// `TOOBIG` (RFC 7889)
    TooBig,
    /// `NOUPDATE "tag"` (RFC 5267 §4.3.1): the search with this tag will
    /// not be kept up to date.
    NoUpdate(String),
    /// `BADURL url` (RFC 4469): the CATENATE URL that could not be
    /// resolved (`]`, CR, LF and NUL are replaced when written).
    BadUrl(String),
    /// `UNKNOWN-CTE` (RFC 3516)
    UnknownCte,
    /// `NONEXISTENT` (RFC 5530 and following)
    Nonexistent,
    /// `ALREADYEXISTS`
    AlreadyExists,
    /// `AUTHENTICATIONFAILED`
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED`
    AuthorizationFailed,
    /// `CANNOT`
    Cannot,
    /// `CLIENTBUG`
    ClientBug,
    /// `CONTACTADMIN`
    ContactAdmin,
    /// `EXPUNGEISSUED`
    ExpungeIssued,
    /// `INUSE`
    InUse,
    /// `LIMIT`
    Limit,
    /// `NOPERM`
    NoPerm,
    /// `OVERQUOTA`
    OverQuota,
    /// `PRIVACYREQUIRED`
    PrivacyRequired,
    /// `PRIVACYNOTREQUIRED`
    PrivacyNotRequired,
    /// `SERVERBUG`
    ServerBug,
    /// `UNAVAILABLE`
    Unavailable,
    /// `EXPIRED`
    Expired,
    /// `CORRUPTION`
    Corruption,
    /// `HASCHILDREN` (RFC 9051)
    HasChildren,
    /// `MAILBOXID (id)` (RFC 8474)
    MailboxId(String),
    /// `NOTSAVED` (RFC 5182)
    NotSaved,
    /// `USEATTR` (RFC 6154)
    UseAttr,
    /// `COMPRESSIONACTIVE` (RFC 4978)
    CompressionActive,
    /// `NOTIFICATIONOVERFLOW` (RFC 5465 §5.8)
    NotificationOverflow,
    /// `BADEVENT (events)` (RFC 5465 §3.1): the events this server supports.
    BadEvent(Vec<String>),
    /// `UIDREQUIRED` (RFC 9586): a command used message sequence numbers
    /// after UIDONLY was enabled.
    UidRequired,
    /// Any other code: an atom and optional text (sanitised when written).
    Other(String, Option<String>),
}

/// One server response: a status line, a continuation request or one
/// piece of untagged data. Borrowed parts (`Cow`) let a handler hand over
/// message bytes without copying them and let the parser point into its
/// input; [`Response::into_owned`] detaches a parsed response.
#[derive(Debug, Clone, PartialEq)]
pub enum Response<'a> {
    /// `tag|* OK|NO|BAD|PREAUTH|BYE [code] text`. Build it with
    /// [`Response::status`], which gives an empty text a placeholder.
    Status {
        /// The command's tag; `None` for `*`.
        tag: Option<Cow<'a, str>>,
        /// OK, NO, BAD, PREAUTH or BYE.
        status: Status,
        /// The bracketed response code.
        code: Option<ResponseCode>,
        /// Human-readable text (CR, LF and NUL become spaces when written).
        text: Cow<'a, str>,
    },
    /// `+ text`: the server waits for more from the client.
    Continue(Cow<'a, str>),
    /// `* CAPABILITY name...`
    Capability(Vec<Cow<'a, str>>),
    /// `* ENABLED name...` (RFC 5161)
    Enabled(Vec<Cow<'a, str>>),
    /// `* ID (field value ...)` or `* ID NIL` (RFC 2971).
    Id(Option<Vec<IdField<'a>>>),
    /// `* NAMESPACE personal other shared` (RFC 2342); an empty list is NIL.
    Namespace {
        /// Personal namespaces.
        personal: Vec<NamespaceDescr<'a>>,
        /// Other users' namespaces.
        other: Vec<NamespaceDescr<'a>>,
        /// Shared namespaces.
        shared: Vec<NamespaceDescr<'a>>,
    },
    /// `* LIST|LSUB|XLIST (attrs) delim mailbox [extended]`.
    List(ListResponse<'a>),
    /// `* STATUS mailbox (item value ...)`.
    MailboxStatus {
        /// The mailbox, as sent.
        mailbox: EncodedMailbox<'a>,
        /// The requested items, in order.
        items: Vec<StatusValue>,
    },
    /// `* FLAGS (flags)`.
    Flags(Vec<WireFlag>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT` (IMAP4rev1 only).
    Recent(u32),
    /// `* seq EXPUNGE`.
    Expunge(SeqNum),
    /// `* VANISHED [(EARLIER)] uids` (RFC 7162).
    Vanished {
        /// `(EARLIER)`: an answer to FETCH/SELECT, not news.
        earlier: bool,
        /// The UIDs that are gone.
        uids: SeqSet,
    },
    /// `* SEARCH n... [(MODSEQ m)]`: sequence numbers or UIDs, as asked.
    Search {
        /// The matching messages.
        numbers: Vec<NonZeroU32>,
        /// The highest modseq among them (RFC 7162 §3.1.5).
        modseq: Option<Modseq>,
    },
    /// `* SORT n... [(MODSEQ m)]` (RFC 5256, RFC 7162 §3.1.5): sequence
    /// numbers or UIDs in sort order.
    Sort {
        /// The matching messages, sorted.
        numbers: Vec<NonZeroU32>,
        /// The highest modseq among them, when the search used MODSEQ.
        modseq: Option<Modseq>,
    },
    /// `* THREAD (thread)...` (RFC 5256 §5).
    Thread(Vec<ThreadList>),
    /// `* ESEARCH [(TAG "t")] [UID] item...` (RFC 4731).
    ESearch {
        /// The tag of the SEARCH this answers.
        tag: Option<Cow<'a, str>>,
        /// The numbers are UIDs.
        uid: bool,
        /// The returned data, in order.
        items: Vec<ESearchItem>,
    },
    /// `* seq FETCH (item...)`.
    Fetch {
        /// The message's sequence number.
        seq: SeqNum,
        /// The data items, in order.
        items: Vec<FetchItem<'a>>,
    },
    /// `* uid UIDFETCH (item...)` (RFC 9586): what `Fetch` is once the
    /// client enabled UIDONLY, the message named by its UID.
    UidFetch {
        /// The message's UID.
        uid: Uid,
        /// The data items, in order (`UID` only when the client asked).
        items: Vec<FetchItem<'a>>,
    },
    /// `* XCRY USER-CONFIG (name value ...)`: settings as
    /// `UserSetting::name()` / `value()` give them.
    XCryUserConfig(Vec<(Cow<'a, str>, Cow<'a, [u8]>)>),
    /// `* XCRY BACKUP-FILE path`.
    XCryBackupFile(Cow<'a, str>),
}

/// One `field value` pair of an ID response; `None` is NIL.
pub type IdField<'a> = (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>);

/// A mailbox name exactly as it goes on the wire: modified UTF-7, or raw
/// UTF-8 once the client enabled UTF8=ACCEPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMailbox<'a>(pub Cow<'a, str>);

impl EncodedMailbox<'_> {
    /// Encodes a store name for a client with (`utf8`) or without UTF8=ACCEPT.
    pub fn new(name: &str, utf8: bool) -> EncodedMailbox<'static> {
        if utf8 {
            EncodedMailbox(Cow::Owned(name.to_owned()))
        } else {
            EncodedMailbox(Cow::Owned(mutf7::encode(name)))
        }
    }

    /// The name as the user sees it; `None` when it is not valid modified
    /// UTF-7 (`utf8` false).
    pub fn decode(&self, utf8: bool) -> Option<String> {
        if utf8 {
            Some(self.0.clone().into_owned())
        } else {
            mutf7::decode(self.0.as_bytes()).ok()
        }
    }

    /// Detaches from the buffer the name was parsed from.
    pub fn into_owned(self) -> EncodedMailbox<'static> {
        EncodedMailbox(Cow::Owned(self.0.into_owned()))
    }
}

/// One namespace: a prefix and its hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDescr<'a> {
    /// The prefix (`""` for the user's own mailboxes here).
    pub prefix: Cow<'a, str>,
    /// The hierarchy delimiter; `None` for a flat namespace.
    pub delimiter: Option<char>,
}

/// Which listing command a mailbox line answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `LIST`
    List,
    /// `LSUB`
    Lsub,
    /// `XLIST` (Gmail's special-use listing)
    XList,
}

impl ListKind {
    /// The response name.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::List => "LIST",
            ListKind::Lsub => "LSUB",
            ListKind::XList => "XLIST",
        }
    }
}

/// `* LIST (attrs) delim mailbox [(extended items)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResponse<'a> {
    /// LIST, LSUB or XLIST.
    pub kind: ListKind,
    /// Attributes with their backslash (`\HasNoChildren`, `\Sent`...).
    pub attributes: Vec<Cow<'a, str>>,
    /// The hierarchy delimiter; `None` for NIL.
    pub delimiter: Option<char>,
    /// The mailbox, as sent.
    pub mailbox: EncodedMailbox<'a>,
    /// LIST-EXTENDED data (RFC 5258 §9).
    pub extended: Vec<ListExtended<'a>>,
}

/// One LIST-EXTENDED data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListExtended<'a> {
    /// `"CHILDINFO" (opts)`: why a parent is listed (`SUBSCRIBED`).
    ChildInfo(Vec<Cow<'a, str>>),
    /// `"OLDNAME" (mailbox)`: the name before a RENAME (RFC 5465).
    OldName(EncodedMailbox<'a>),
}

/// One STATUS data item with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusValue {
    /// `MESSAGES n`
    Messages(u32),
    /// `RECENT n`
    Recent(u32),
    /// `UIDNEXT n`
    UidNext(Uid),
    /// `UIDVALIDITY n`
    UidValidity(u32),
    /// `UNSEEN n`
    Unseen(u32),
    /// `DELETED n` (RFC 9051)
    Deleted(u32),
    /// `SIZE n` (RFC 8438)
    Size(u64),
    /// `HIGHESTMODSEQ n` (RFC 7162)
    HighestModSeq(u64),
    /// `APPENDLIMIT n` (RFC 7889)
    AppendLimit(u64),
    /// `MAILBOXID (id)` (RFC 8474)
    MailboxId(String),
}

/// One thread of a THREAD response, as RFC 5256 §5 writes it: `members`
/// is a chain (each the only child of the one before), then `children`
/// (two or more) hang under the last member. Empty `members` is a parent
/// that is not in the result, holding its children. Only branching
/// nests, so a long reply chain costs no recursion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadList {
    /// The chain: sequence numbers or UIDs.
    pub members: Vec<NonZeroU32>,
    /// The sub-threads under the last member.
    pub children: Vec<ThreadList>,
}

/// One item of an ESEARCH response (RFC 4731, RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ESearchItem {
    /// `MIN n`
    Min(NonZeroU32),
    /// `MAX n`
    Max(NonZeroU32),
    /// `ALL set`
    All(SeqSet),
    /// `COUNT n`
    Count(u32),
    /// `MODSEQ n`
    ModSeq(Modseq),
    /// `PARTIAL (range set-or-NIL)` (RFC 9394): the page asked for and the
    /// messages in it (`None` = NIL, the page lies beyond the result).
    Partial {
        /// The range, as asked (ends in order).
        range: PartialRange,
        /// The messages in the page.
        set: Option<SeqSet>,
    },
    /// `ADDTO (position set ...)` (RFC 5267 §4.3.3): insert each set at
    /// its position (0: anywhere, for SEARCH contexts).
    AddTo(Vec<(u32, SeqSet)>),
    /// `REMOVEFROM (position set ...)` (RFC 5267 §4.3.4).
    RemoveFrom(Vec<(u32, SeqSet)>),
}

/// RFC822, RFC822.HEADER or RFC822.TEXT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc822Part {
    /// `RFC822`: the whole message.
    Whole,
    /// `RFC822.HEADER`
    Header,
    /// `RFC822.TEXT`
    Text,
}

/// ENVELOPE, BODY or BODYSTRUCTURE data: rendered from the stored summary
/// by `wire::structure` when the server sends it, or, when parsed, the
/// validated bytes as received (a balanced list of NIL, numbers, strings).
#[derive(Debug, Clone)]
pub enum Structure<'a> {
    /// An envelope to render.
    Envelope(&'a Envelope),
    /// A part to render as BODY (no extension data).
    Body(&'a Part),
    /// A part to render as BODYSTRUCTURE (with extension data).
    BodyStructure(&'a Part),
    /// Bytes from the wire, checked to be one well-formed parenthesised list.
    Raw(Cow<'a, [u8]>),
}

impl Structure<'_> {
    /// The bytes this structure is written as.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        let mut out = Vec::new();
        match self {
            Structure::Raw(raw) => return Cow::Borrowed(raw),
            Structure::Envelope(e) => crate::imap::wire::structure::write_envelope(&mut out, e),
            Structure::Body(p) => crate::imap::wire::structure::write_body(&mut out, p),
            Structure::BodyStructure(p) => {
                crate::imap::wire::structure::write_bodystructure(&mut out, p)
            }
        }
        Cow::Owned(out)
    }

    fn into_owned(self) -> Structure<'static> {
        Structure::Raw(Cow::Owned(self.to_bytes().into_owned()))
    }
}

/// Two structures are equal when they are written the same.
impl PartialEq for Structure<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchItem<'a> {
    /// `FLAGS (flags)`
    Flags(Vec<WireFlag>),
    /// `UID n`
    Uid(Uid),
    /// `MODSEQ (n)` (RFC 7162)
    ModSeq(Modseq),
    /// `INTERNALDATE "date-time"`
    InternalDate(DateTime<FixedOffset>),
    /// `RFC822.SIZE n`
    Rfc822Size(u32),
    /// `ENVELOPE (...)`
    Envelope(Structure<'a>),
    /// `BODY (...)`
    Body(Structure<'a>),
    /// `BODYSTRUCTURE (...)`
    BodyStructure(Structure<'a>),
    /// `BODY[section]<origin> data`; `None` data is NIL (no such part).
    /// Sent as a literal; NUL bytes go out as 0x80 (see `encode.rs`).
    BodySection {
        /// The section as echoed (header field names as the server spells them).
        section: Cow<'a, Section>,
        /// The offset of a partial fetch.
        origin: Option<u64>,
        /// The bytes.
        data: Option<Cow<'a, [u8]>>,
    },
    /// `RFC822[.HEADER|.TEXT] data`.
    Rfc822 {
        /// Which of the three.
        part: Rfc822Part,
        /// The bytes; `None` is NIL.
        data: Option<Cow<'a, [u8]>>,
    },
    /// `BINARY[part]<origin> data` (RFC 3516); `~{n}` when it holds NUL.
    Binary {
        /// The part path (empty for the whole message).
        part: Cow<'a, [NonZeroU32]>,
        /// The offset of a partial fetch.
        origin: Option<u64>,
        /// The decoded bytes; `None` is NIL (no such part).
        data: Option<Cow<'a, [u8]>>,
    },
    /// `BINARY.SIZE[part] n`; `None` is NIL (no such part).
    BinarySize {
        /// The part path.
        part: Cow<'a, [NonZeroU32]>,
        /// The decoded size.
        size: Option<u64>,
    },
    /// `EMAILID (id)` (RFC 8474).
    EmailId(Cow<'a, str>),
    /// `THREADID (id)` or `THREADID NIL` (RFC 8474).
    ThreadId(Option<Cow<'a, str>>),
    /// `SAVEDATE "date-time"` or `SAVEDATE NIL` (RFC 8514).
    SaveDate(Option<DateTime<FixedOffset>>),
    /// `PREVIEW nstring` (RFC 8970): UTF-8 text, NIL when not available.
    Preview(Option<Cow<'a, str>>),
}

fn owned_bytes(c: Option<Cow<'_, [u8]>>) -> Option<Cow<'static, [u8]>> {
    c.map(|c| Cow::Owned(c.into_owned()))
}

fn owned_str(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn owned_strs(v: Vec<Cow<'_, str>>) -> Vec<Cow<'static, str>> {
    v.into_iter().map(owned_str).collect()
}

impl FetchItem<'_> {
    /// Detaches the item from the buffers it borrows.
    pub fn into_owned(self) -> FetchItem<'static> {
        match self {
            FetchItem::Flags(f) => FetchItem::Flags(f),
            FetchItem::Uid(u) => FetchItem::Uid(u),
            FetchItem::ModSeq(m) => FetchItem::ModSeq(m),
            FetchItem::InternalDate(d) => FetchItem::InternalDate(d),
            FetchItem::Rfc822Size(n) => FetchItem::Rfc822Size(n),
            FetchItem::Envelope(s) => FetchItem::Envelope(s.into_owned()),
            FetchItem::Body(s) => FetchItem::Body(s.into_owned()),
            FetchItem::BodyStructure(s) => FetchItem::BodyStructure(s.into_owned()),
            FetchItem::BodySection {
                section,
                origin,
                data,
            } => FetchItem::BodySection {
                section: Cow::Owned(section.into_owned()),
                origin,
                data: owned_bytes(data),
            },
            FetchItem::Rfc822 { part, data } => FetchItem::Rfc822 {
                part,
                data: owned_bytes(data),
            },
            FetchItem::Binary { part, origin, data } => FetchItem::Binary {
                part: Cow::Owned(part.into_owned()),
                origin,
                data: owned_bytes(data),
            },
            FetchItem::BinarySize { part, size } => FetchItem::BinarySize {
                part: Cow::Owned(part.into_owned()),
                size,
            },
            FetchItem::EmailId(id) => FetchItem::EmailId(owned_str(id)),
            FetchItem::ThreadId(id) => FetchItem::ThreadId(id.map(owned_str)),
            FetchItem::Preview(p) => FetchItem::Preview(p.map(owned_str)),
            FetchItem::SaveDate(d) => FetchItem::SaveDate(d),
        }
    }
}

impl<'a> Response<'a> {
    /// A status response. An empty `text` becomes `done`, because
    /// IMAP4rev1 requires at least one character of text.
    pub fn status(
        tag: Option<&'a str>,
        status: Status,
        code: Option<ResponseCode>,
        text: &'a str,
    ) -> Response<'a> {
        Response::Status {
            tag: tag.map(Cow::Borrowed),
            status,
            code,
            text: Cow::Borrowed(if text.is_empty() { "done" } else { text }),
        }
    }

    /// The bytes of this response, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Detaches the response from the buffer it was parsed from.
    pub fn into_owned(self) -> Response<'static> {
        match self {
            Response::Status {
                tag,
                status,
                code,
                text,
            } => Response::Status {
                tag: tag.map(owned_str),
                status,
                code,
                text: owned_str(text),
            },
            Response::Continue(t) => Response::Continue(owned_str(t)),
            Response::Capability(c) => Response::Capability(owned_strs(c)),
            Response::Enabled(c) => Response::Enabled(owned_strs(c)),
            Response::Id(fields) => Response::Id(fields.map(|f| {
                f.into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), owned_bytes(v)))
                    .collect()
            })),
            Response::Namespace {
                personal,
                other,
                shared,
            } => {
                let own = |v: Vec<NamespaceDescr<'_>>| {
                    v.into_iter()
                        .map(|d| NamespaceDescr {
                            prefix: owned_str(d.prefix),
                            delimiter: d.delimiter,
                        })
                        .collect()
                };
                Response::Namespace {
                    personal: own(personal),
                    other: own(other),
                    shared: own(shared),
                }
            }
            Response::List(l) => Response::List(ListResponse {
                kind: l.kind,
                attributes: owned_strs(l.attributes),
                delimiter: l.delimiter,
                mailbox: l.mailbox.into_owned(),
                extended: l
                    .extended
                    .into_iter()
                    .map(|e| match e {
                        ListExtended::ChildInfo(o) => ListExtended::ChildInfo(owned_strs(o)),
                        ListExtended::OldName(m) => ListExtended::OldName(m.into_owned()),
                    })
                    .collect(),
            }),
            Response::MailboxStatus { mailbox, items } => Response::MailboxStatus {
                mailbox: mailbox.into_owned(),
                items,
            },
            Response::Flags(f) => Response::Flags(f),
            Response::Exists(n) => Response::Exists(n),
            Response::Recent(n) => Response::Recent(n),
            Response::Expunge(n) => Response::Expunge(n),
            Response::Vanished { earlier, uids } => Response::Vanished { earlier, uids },
            Response::Search { numbers, modseq } => Response::Search { numbers, modseq },
            Response::Sort { numbers, modseq } => Response::Sort { numbers, modseq },
            Response::Thread(t) => Response::Thread(t),
            Response::ESearch { tag, uid, items } => Response::ESearch {
                tag: tag.map(owned_str),
                uid,
                items,
            },
            Response::Fetch { seq, items } => Response::Fetch {
                seq,
                items: items.into_iter().map(FetchItem::into_owned).collect(),
            },
            Response::UidFetch { uid, items } => Response::UidFetch {
                uid,
                items: items.into_iter().map(FetchItem::into_owned).collect(),
            },
            Response::XCryUserConfig(pairs) => Response::XCryUserConfig(
                pairs
                    .into_iter()
                    .map(|(k, v)| (owned_str(k), Cow::Owned(v.into_owned())))
                    .collect(),
            ),
            Response::XCryBackupFile(p) => Response::XCryBackupFile(owned_str(p)),
        }
    }
}
