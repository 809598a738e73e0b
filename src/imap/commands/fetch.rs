//! `FETCH` and `UID FETCH`: every fetch attribute of RFC 3501/9051 and the
//! extensions (BINARY, CONDSTORE MODSEQ and CHANGEDSINCE, QRESYNC VANISHED,
//! OBJECTID, SAVEDATE), answered from the stored summary where possible and
//! decrypting only the byte ranges a section needs. Also owns the
//! per-session summary cache SEARCH shares. Never changes anything but
//! \Seen, and never parses message content itself (the `mime` module does).

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use crate::imap::commands::selected::write_vanished;
use crate::imap::context::{self, wire_flag, Ctx, Reply, Unreadable};
use crate::imap::output::{self, Spill};
use crate::imap::seqset::View;
use crate::imap::wire::command::{
    FetchAttr, FetchAttrs, FetchCommand, Partial, Section, SectionText, WireFlag,
};
use crate::imap::wire::response::{
    EncodedItem, FetchEncoder, FetchItem, ResponseCode, Rfc822Part, Structure,
};
use crate::mime::section::{self, SectionError, SectionSpec, SectionText as MimeText};
use crate::mime::Summary;
use crate::store::account::MailboxId;
use crate::store::mailbox::{Mailbox, MailboxError, MessageFacts};
use crate::store::message_file::MessageReader;
use crate::store::types::{Flag, FlagOp, Modseq, Uid};

/// More summaries than this are not kept: a session must stay small even
/// on a 100,000-message mailbox, and a full cache is simply dropped.
const CACHE_LIMIT: usize = 4096;

/// Parsed summaries of the selected mailbox's messages, so repeated
/// ENVELOPE/BODYSTRUCTURE/SEARCH do not re-read and re-open summary files,
/// and each message's BODYSTRUCTURE as encoded the first time it was sent:
/// encoding it was nine tenths of a repeated FETCH 1:* BODYSTRUCTURE
/// (callgrind, issue 12), copying it is a small fraction. Keyed by mailbox
/// id and UID, which together never name two messages (a UID's message
/// never changes, so neither does its encoding).
#[derive(Default)]
pub(crate) struct SummaryCache {
    mailbox: Option<MailboxId>,
    map: HashMap<Uid, Cached>,
}

struct Cached {
    summary: Arc<Summary>,
    bodystructure: Option<EncodedItem>,
}

impl SummaryCache {
    /// Gives its memory back unless it holds mailbox `keep`'s summaries
    /// (the mailbox selected now, if any).
    pub(crate) fn release_unless(&mut self, keep: Option<MailboxId>) {
        if self.mailbox.is_some() && self.mailbox != keep {
            *self = SummaryCache::default();
        }
    }

    /// Summaries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The summary of `uid` in `mb`, from the cache or the store.
    pub(crate) fn get(&mut self, mb: &Mailbox, uid: Uid) -> Result<Arc<Summary>, MailboxError> {
        Ok(self.entry(mb, uid)?.summary.clone())
    }

    /// `BODYSTRUCTURE (...)` of `uid` in `mb`, encoded on first use.
    fn bodystructure(&mut self, mb: &Mailbox, uid: Uid) -> Result<&EncodedItem, MailboxError> {
        let c = self.entry(mb, uid)?;
        let summary = &c.summary;
        Ok(c.bodystructure.get_or_insert_with(|| {
            EncodedItem::of(&FetchItem::BodyStructure(Structure::BodyStructure(
                &summary.root,
            )))
        }))
    }

    fn entry(&mut self, mb: &Mailbox, uid: Uid) -> Result<&mut Cached, MailboxError> {
        if self.mailbox != Some(mb.id()) {
            self.map.clear();
            self.mailbox = Some(mb.id());
        }
        if self.map.len() >= CACHE_LIMIT && !self.map.contains_key(&uid) {
            self.map.clear();
        }
        Ok(match self.map.entry(uid) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => v.insert(Cached {
                summary: Arc::new(mb.summary(uid)?),
                bodystructure: None,
            }),
        })
    }
}

/// Why one message's FETCH response could not be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The message could not be read at all.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// The stored summary does not fit the content.
    #[error("message {uid}: summary says {expected} bytes at {offset}, content gave {got}")]
    Mismatch {
        /// Which message.
        uid: Uid,
        /// Range start.
        offset: u64,
        /// Bytes the summary promised.
        expected: u64,
        /// Bytes read.
        got: usize,
    },
    /// BINARY of a part whose transfer encoding is not known (RFC 3516).
    #[error("message {uid}: unknown content-transfer-encoding {cte}")]
    UnknownCte {
        /// Which message.
        uid: Uid,
        /// The encoding named in the part.
        cte: String,
    },
}

/// One item of the response, resolved from the request.
enum Item {
    Flags,
    Uid,
    InternalDate,
    Size,
    Envelope,
    Body,
    BodyStructure,
    /// BODY[...], RFC822, RFC822.HEADER, RFC822.TEXT.
    Section {
        /// The name the response echoes.
        name: SectionName,
        spec: SectionSpec,
        partial: Option<Partial>,
    },
    Binary {
        part: Vec<NonZeroU32>,
        path: Vec<u32>,
        partial: Option<Partial>,
    },
    BinarySize {
        part: Vec<NonZeroU32>,
        path: Vec<u32>,
    },
    ModSeq,
    EmailId,
    ThreadId,
    SaveDate,
    Preview,
}

impl Item {
    fn needs_summary(&self) -> bool {
        match self {
            Item::Envelope
            | Item::Body
            | Item::BodyStructure
            | Item::BinarySize { .. }
            | Item::Preview => true,
            Item::Section { spec, .. } => !is_whole(spec),
            Item::Binary { path, .. } => !path.is_empty(),
            _ => false,
        }
    }
}

fn is_whole(spec: &SectionSpec) -> bool {
    spec.path.is_empty() && spec.text == MimeText::Whole
}

fn part_path(part: &[NonZeroU32]) -> Vec<u32> {
    part.iter().map(|n| n.get()).collect()
}

/// How a BODY section item is named in the response.
enum SectionName {
    /// `BODY[section]`, header field names upper-cased as Dovecot echoes them.
    Body(Section),
    /// `RFC822`, `RFC822.HEADER` or `RFC822.TEXT`.
    Rfc822(Rfc822Part),
}

impl SectionName {
    /// The response item carrying `data` (`None` is NIL).
    fn item<'a>(&'a self, partial: &Option<Partial>, data: Option<&'a [u8]>) -> FetchItem<'a> {
        let data = data.map(Cow::Borrowed);
        match self {
            SectionName::Body(section) => FetchItem::BodySection {
                section: Cow::Borrowed(section),
                origin: partial.map(|p| p.offset),
                data,
            },
            SectionName::Rfc822(part) => FetchItem::Rfc822 { part: *part, data },
        }
    }
}

/// `attrs` with each response item once: an item asked twice (`FLAGS
/// FLAGS`, `BODY[] BODY.PEEK[]`) is answered once, where it was first
/// asked (Dovecot), and sets \Seen if any of its requests does.
fn unique(attrs: &[FetchAttr]) -> Vec<FetchAttr> {
    fn unpeeked(a: &FetchAttr) -> FetchAttr {
        let mut a = a.clone();
        match &mut a {
            FetchAttr::BodySection { peek, .. } | FetchAttr::Binary { peek, .. } => *peek = false,
            _ => {}
        }
        a
    }
    // Keyed by the item's rendering so a hostile list of thousands of
    // items costs one pass, not a quadratic scan.
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(attrs.len());
    let mut out: Vec<FetchAttr> = Vec::with_capacity(attrs.len());
    for a in attrs {
        let key = unpeeked(a);
        match seen.get(&format!("{key:?}")) {
            Some(&i) => {
                let peeks = matches!(
                    a,
                    FetchAttr::BodySection { peek: true, .. }
                        | FetchAttr::Binary { peek: true, .. }
                );
                if let (false, Some(o)) = (peeks, out.get_mut(i)) {
                    *o = key;
                }
            }
            None => {
                seen.insert(format!("{key:?}"), out.len());
                out.push(a.clone());
            }
        }
    }
    out
}

/// The request as items, and whether it sets \Seen.
fn plan(attrs: &FetchAttrs) -> (Vec<Item>, bool) {
    use FetchAttr as A;
    let expanded: Vec<FetchAttr> = match attrs {
        FetchAttrs::All => vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope],
        FetchAttrs::Fast => vec![A::Flags, A::InternalDate, A::Rfc822Size],
        FetchAttrs::Full => vec![
            A::Flags,
            A::InternalDate,
            A::Rfc822Size,
            A::Envelope,
            A::Body,
        ],
        FetchAttrs::List(l) => unique(l),
    };
    let mut seen = false;
    let whole = |text| SectionSpec {
        path: Vec::new(),
        text,
    };
    let items = expanded
        .into_iter()
        .map(|a| match a {
            A::Envelope => Item::Envelope,
            A::Flags => Item::Flags,
            A::InternalDate => Item::InternalDate,
            A::Rfc822Size => Item::Size,
            A::Body => Item::Body,
            A::BodyStructure => Item::BodyStructure,
            A::Uid => Item::Uid,
            A::ModSeq => Item::ModSeq,
            A::EmailId => Item::EmailId,
            A::ThreadId => Item::ThreadId,
            A::Preview { .. } => Item::Preview,
            A::SaveDate => Item::SaveDate,
            A::Rfc822 => {
                seen = true;
                Item::Section {
                    name: SectionName::Rfc822(Rfc822Part::Whole),
                    spec: whole(MimeText::Whole),
                    partial: None,
                }
            }
            A::Rfc822Header => Item::Section {
                name: SectionName::Rfc822(Rfc822Part::Header),
                spec: whole(MimeText::Header),
                partial: None,
            },
            A::Rfc822Text => {
                seen = true;
                Item::Section {
                    name: SectionName::Rfc822(Rfc822Part::Text),
                    spec: whole(MimeText::Text),
                    partial: None,
                }
            }
            A::BodySection {
                peek,
                section,
                partial,
            } => {
                seen |= !peek;
                let (name, spec) = section_name(&section);
                Item::Section {
                    name,
                    spec,
                    partial,
                }
            }
            A::Binary {
                peek,
                part,
                partial,
            } => {
                seen |= !peek;
                let path = part_path(&part);
                Item::Binary {
                    part,
                    path,
                    partial,
                }
            }
            A::BinarySize { part } => {
                let path = part_path(&part);
                Item::BinarySize { part, path }
            }
        })
        .collect();
    (items, seen)
}

/// The section as the mime module wants it (CATENATE's `;SECTION=`
/// names the same sections as FETCH `BODY[...]`).
pub(crate) fn section_spec(section: &Section) -> SectionSpec {
    section_name(section).1
}

/// The response name of a BODY section (field names upper-cased, as
/// Dovecot echoes them) and the section as the mime module wants it.
fn section_name(section: &Section) -> (SectionName, SectionSpec) {
    let path = part_path(&section.part);
    let fields = |f: &[String]| f.iter().map(|s| s.as_bytes().to_vec()).collect();
    let upper = |f: &[String]| f.iter().map(|s| s.to_ascii_uppercase()).collect();
    let (echo, text) = match &section.text {
        None => (None, MimeText::Whole),
        Some(SectionText::Header) => (Some(SectionText::Header), MimeText::Header),
        Some(SectionText::Text) => (Some(SectionText::Text), MimeText::Text),
        Some(SectionText::Mime) => (Some(SectionText::Mime), MimeText::Mime),
        Some(SectionText::HeaderFields(f)) => (
            Some(SectionText::HeaderFields(upper(f))),
            MimeText::HeaderFields(fields(f)),
        ),
        Some(SectionText::HeaderFieldsNot(f)) => (
            Some(SectionText::HeaderFieldsNot(upper(f))),
            MimeText::HeaderFieldsNot(fields(f)),
        ),
    };
    let name = SectionName::Body(Section {
        part: section.part.clone(),
        text: echo,
    });
    (name, SectionSpec { path, text })
}

/// Decrypted content of one message, opened on first use.
struct Content<'a> {
    mb: &'a Mailbox,
    uid: Uid,
    reader: Option<MessageReader>,
}

impl Content<'_> {
    fn reader(&mut self) -> Result<&mut MessageReader, FetchError> {
        let uid = self.uid;
        let r = match self.reader.take() {
            Some(r) => r,
            None => self
                .mb
                .open_message(uid)
                .map_err(|source| Unreadable::Store { uid, source })?,
        };
        Ok(self.reader.insert(r))
    }

    fn read(&mut self, start: u64, end: u64) -> Result<Vec<u8>, FetchError> {
        let uid = self.uid;
        let reader = self.reader()?;
        let len = end.saturating_sub(start);
        let bytes = reader
            .read_range(start, len)
            .map_err(|source| Unreadable::Content { uid, source })?;
        if bytes.len() as u64 != len {
            return Err(FetchError::Mismatch {
                uid,
                offset: start,
                expected: len,
                got: bytes.len(),
            });
        }
        Ok(bytes)
    }

    fn read_all(&mut self) -> Result<Vec<u8>, FetchError> {
        let uid = self.uid;
        self.reader()?
            .read_all()
            .map_err(|source| Unreadable::Content { uid, source }.into())
    }
}

/// Everything one message's response needs besides the items.
struct Message<'a> {
    info: MessageFacts,
    summary: Option<Arc<Summary>>,
    content: Content<'a>,
    /// FLAGS must be sent even if not asked for (\Seen was just set).
    flags_changed: bool,
    /// MODSEQ must be sent even if not asked for (CHANGEDSINCE).
    want_modseq: bool,
    /// UID must be sent even if not asked for (UID FETCH).
    want_uid: bool,
    /// UIDONLY (RFC 9586 §3.3): `* uid UIDFETCH`, not `* seq FETCH`.
    by_uid: bool,
}

/// The `FLAGS (...)` item of each distinct set of flag bits (and \Recent)
/// one FETCH meets, encoded on first use: a mailbox holds few distinct
/// combinations, and a list built per message (its flags, then its wire
/// flags) was a fifth of FETCH 1:* (UID FLAGS), writing each list flag by
/// flag another tenth (callgrind, issue 12). Neighbouring messages mostly
/// share their flags, so the last item used is tried first; a hash of
/// every lookup cost as much as the list. When that misses, the few
/// sets of an ordinary mailbox are scanned, and past [`FLAG_SETS_SCANNED`]
/// the set is looked up by its bits in a map: a scan of every set met so
/// far made a FETCH quadratic in the distinct sets, which a user can make
/// as many as the messages (59 keywords give 2^59 combinations).
struct FlagLists<'a> {
    /// The mailbox's flag table: bit `i` stands for entry `i`.
    table: &'a [Flag],
    /// Each (flag bits, \Recent) met and its item.
    lists: Vec<((u64, bool), EncodedItem)>,
    /// Where each key has its item in `lists`, once there are more than
    /// [`FLAG_SETS_SCANNED`].
    index: HashMap<(u64, bool), usize>,
    last: usize,
}

/// Distinct flag sets searched by a scan; past them, by a map.
const FLAG_SETS_SCANNED: usize = 16;

impl<'a> FlagLists<'a> {
    /// For a mailbox whose flag table is `table` (`defined_flags`).
    fn new(table: &'a [Flag]) -> Self {
        FlagLists {
            table,
            lists: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }

    /// `FLAGS (...)` of a message, with \Recent when this session holds it.
    fn of(&mut self, info: &MessageFacts) -> Option<&EncodedItem> {
        let key = (info.flag_bits, info.recent);
        if self.lists.get(self.last).is_some_and(|(k, _)| *k == key) {
            return self.lists.get(self.last).map(|(_, l)| l);
        }
        let found = if self.lists.len() <= FLAG_SETS_SCANNED {
            self.lists.iter().position(|(k, _)| *k == key)
        } else {
            self.index.get(&key).copied()
        };
        self.last = match found {
            Some(i) => i,
            None => {
                let mut flags: Vec<WireFlag> = self
                    .table
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| info.flag_bits & (1u64 << i) != 0)
                    .map(|(_, f)| wire_flag(f))
                    .collect();
                if info.recent {
                    flags.push(WireFlag::Recent);
                }
                self.lists.push((key, EncodedItem::flags(&flags)));
                let at = self.lists.len() - 1;
                if self.lists.len() > FLAG_SETS_SCANNED {
                    if self.index.is_empty() {
                        // Past the scan: every set met so far goes in.
                        self.index = self
                            .lists
                            .iter()
                            .enumerate()
                            .map(|(i, (k, _))| (*k, i))
                            .collect();
                    } else {
                        self.index.insert(key, at);
                    }
                }
                at
            }
        };
        self.lists.get(self.last).map(|(_, l)| l)
    }
}

/// What the request asks besides its items, worked out once per command
/// rather than once per message.
struct Asked {
    uid: bool,
    flags: bool,
    modseq: bool,
}

impl Asked {
    fn of(items: &[Item]) -> Asked {
        Asked {
            uid: items.iter().any(|i| matches!(i, Item::Uid)),
            flags: items.iter().any(|i| matches!(i, Item::Flags)),
            modseq: items.iter().any(|i| matches!(i, Item::ModSeq)),
        }
    }
}

fn missing_summary(uid: Uid) -> FetchError {
    FetchError::Mismatch {
        uid,
        offset: 0,
        expected: 0,
        got: 0,
    }
}

/// Writes `* seq FETCH (...)` (or `* uid UIDFETCH (...)`) for one
/// message, item by item, so at most one section's bytes are held at a
/// time.
fn write_message(
    out: &mut Vec<u8>,
    (items, asked): (&[Item], &Asked),
    m: &mut Message,
    flag_lists: &mut FlagLists,
    summaries: &mut SummaryCache,
) -> Result<(), FetchError> {
    let uid = m.info.uid;
    let mut f = if m.by_uid {
        FetchEncoder::begin_uid(out, uid)
    } else {
        FetchEncoder::begin(out, m.info.seq)
    };
    if m.want_uid && !asked.uid {
        f.uid(uid);
    }
    for item in items {
        match item {
            Item::Flags => write_flags(&mut f, flag_lists, &m.info),
            Item::Uid => f.uid(uid),
            Item::InternalDate => {
                // A date the store cannot represent is reported as the epoch.
                let date = m
                    .info
                    .internal
                    .to_chrono()
                    .unwrap_or_else(|| chrono::DateTime::UNIX_EPOCH.fixed_offset());
                f.item(&FetchItem::InternalDate(date));
            }
            Item::Size => f.item(&FetchItem::Rfc822Size(m.info.size)),
            Item::BodyStructure => f.encoded(
                summaries
                    .bodystructure(m.content.mb, uid)
                    .map_err(|source| Unreadable::Store { uid, source })?,
            ),
            Item::Envelope | Item::Body => {
                let s = m.summary.as_deref().ok_or_else(|| missing_summary(uid))?;
                f.item(&match item {
                    Item::Envelope => FetchItem::Envelope(Structure::Envelope(&s.envelope)),
                    _ => FetchItem::Body(Structure::Body(&s.root)),
                });
            }
            Item::Section {
                name,
                spec,
                partial,
            } => write_section(&mut f, m, name, spec, partial)?,
            Item::Binary {
                part,
                path,
                partial,
            } => {
                let data = binary(m, path)?;
                f.item(&FetchItem::Binary {
                    part: Cow::Borrowed(part),
                    origin: partial.map(|p| p.offset),
                    data: data.as_deref().map(|d| Cow::Borrowed(window(d, partial))),
                });
            }
            Item::BinarySize { part, path } => {
                let size = binary(m, path)?.map(|d| d.len() as u64);
                f.item(&FetchItem::BinarySize {
                    part: Cow::Borrowed(part),
                    size,
                });
            }
            Item::ModSeq => f.item(&FetchItem::ModSeq(m.info.modseq)),
            Item::EmailId => f.item(&FetchItem::EmailId(Cow::Owned(format!("M{}", m.info.name)))),
            Item::ThreadId => f.item(&FetchItem::ThreadId(None)),
            Item::Preview => {
                // Computed when the message was stored, so LAZY never
                // needs NIL.
                let s = m.summary.as_deref().ok_or_else(|| missing_summary(uid))?;
                f.item(&FetchItem::Preview(Some(Cow::Borrowed(&s.preview))));
            }
            Item::SaveDate => f.item(&FetchItem::SaveDate(
                chrono::DateTime::from_timestamp(m.info.saved, 0).map(|d| d.fixed_offset()),
            )),
        }
    }
    if m.flags_changed && !asked.flags {
        write_flags(&mut f, flag_lists, &m.info);
    }
    if m.want_modseq && !asked.modseq {
        f.item(&FetchItem::ModSeq(m.info.modseq));
    }
    f.end();
    Ok(())
}

fn write_flags(f: &mut FetchEncoder<'_>, flag_lists: &mut FlagLists, info: &MessageFacts) {
    match flag_lists.of(info) {
        Some(item) => f.encoded(item),
        // Not reached: `of` has just stored the item it returns.
        None => f.flags(&[]),
    }
}

fn window<'a>(data: &'a [u8], partial: &Option<Partial>) -> &'a [u8] {
    match partial {
        Some(p) => section::partial(data, p.offset, Some(p.length)),
        None => data,
    }
}

/// BODY[...] data: the whole message byte for byte (read only the window
/// for a partial), any other section through the mime module; `NIL` for a
/// part the message does not have (Dovecot).
fn write_section(
    f: &mut FetchEncoder<'_>,
    m: &mut Message,
    name: &SectionName,
    spec: &SectionSpec,
    partial: &Option<Partial>,
) -> Result<(), FetchError> {
    let uid = m.info.uid;
    if is_whole(spec) {
        let data = match partial {
            Some(p) => {
                let size = u64::from(m.info.size);
                let start = p.offset.min(size);
                let end = start.saturating_add(p.length).min(size);
                m.content.read(start, end)?
            }
            None => m.content.read_all()?,
        };
        f.item(&name.item(partial, Some(&data)));
        return Ok(());
    }
    let s = m.summary.clone().ok_or_else(|| missing_summary(uid))?;
    let range = match section::locate(&s, spec) {
        Ok(r) => r,
        Err(SectionError::NoSuchPart { .. } | SectionError::NotMessage { .. })
        | Err(SectionError::MimeWithoutPart) => {
            f.item(&name.item(partial, None));
            return Ok(());
        }
        Err(_) => return Err(missing_summary(uid)),
    };
    let raw = m.content.read(range.start, range.end)?;
    let data = section::extract_from_range(spec, &raw);
    f.item(&name.item(partial, Some(window(&data, partial))));
    Ok(())
}

/// The decoded content of BINARY[path]; `None` for a missing part.
fn binary(m: &mut Message, path: &[u32]) -> Result<Option<Vec<u8>>, FetchError> {
    let uid = m.info.uid;
    if path.is_empty() {
        // RFC 3516: BINARY content is what a client gets after decoding;
        // a message stored with bare LFs comes back with CRLF, as
        // BODY[] does not promise (Dovecot).
        let all = m.content.read_all()?;
        return Ok(Some(section::normalize_crlf(&all).into_owned()));
    }
    let s = m.summary.clone().ok_or_else(|| missing_summary(uid))?;
    let (range, enc) = match section::locate_binary(&s, path) {
        Ok(r) => r,
        Err(_) => return Ok(None),
    };
    let raw = m.content.read(range.start, range.end)?;
    match section::decode_binary(&raw, &enc) {
        Ok(d) => Ok(Some(d.into_owned())),
        Err(SectionError::UnknownCte(cte)) => Err(FetchError::UnknownCte { uid, cte }),
        Err(_) => Err(missing_summary(uid)),
    }
}

/// `[UID] FETCH`. Finished responses go to `spill` a chunk at a time
/// (after whatever `out` already held, so the order on the wire is the
/// order they were written in); the rest stays in `out`.
pub(crate) fn fetch(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    cmd: &FetchCommand,
    spill: &mut dyn Spill,
) -> Reply {
    let (items, sets_seen) = plan(&cmd.attrs);
    let asks_modseq = items.iter().any(|i| matches!(i, Item::ModSeq));
    if (asks_modseq || cmd.changed_since.is_some()) && !ctx.enabled.condstore {
        // RFC 7162 §3.1: these turn CONDSTORE on for the session.
        ctx.enabled.condstore = true;
        if let Some(sel) = &ctx.selected {
            crate::imap::commands::selected::write_highest_modseq(out, &sel.mailbox);
        }
    }
    if cmd.vanished && !ctx.enabled.qresync {
        return Reply::bad("VANISHED needs QRESYNC to be enabled");
    }
    let condstore = ctx.enabled.condstore;
    let uidonly = ctx.enabled.uidonly;
    let Ctx {
        selected,
        summaries,
        ..
    } = ctx;
    let Some(sel) = selected.as_mut() else {
        return Reply::bad("No mailbox selected");
    };
    let mut uids = match context::resolve(sel, &cmd.set, cmd.uid) {
        Ok(u) => u,
        Err(r) => return r,
    };
    // `Some(None)`: CHANGEDSINCE 0, below every modseq.
    let changed_since: Option<Option<Modseq>> = cmd.changed_since.map(context::modseq);
    if let Some(Some(since)) = changed_since {
        uids.retain(|u| sel.mailbox.facts(*u).is_some_and(|i| i.modseq > since));
    }
    if let Some(page) = cmd.partial {
        // RFC 9394 §3.3: a page of what the set (and CHANGEDSINCE) names.
        uids = uids
            .get(page.indices(uids.len()))
            .unwrap_or_default()
            .to_vec();
    }
    if cmd.vanished {
        if let Some(Some(since)) = changed_since {
            let gone = View::of(sel).named_among(&cmd.set, &sel.mailbox.vanished_since(since));
            write_vanished(out, &gone, true);
        }
    }
    let mut newly_seen: Vec<Uid> = Vec::new();
    if sets_seen && !sel.read_only {
        let unseen: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|u| {
                sel.mailbox
                    .info(*u)
                    .is_some_and(|i| !i.flags.contains(&Flag::Seen))
            })
            .collect();
        if !unseen.is_empty() {
            match sel
                .mailbox
                .store_flags(&unseen, FlagOp::Add, &[Flag::Seen], None)
            {
                Ok(o) => newly_seen = o.changed,
                Err(e) => return Reply::server_bug("setting \\Seen", &e),
            }
        }
    }
    // RFC 7162 §3.1: a FETCH that sets \Seen while CONDSTORE is on
    // reports UID and MODSEQ (Dovecot: on every message it answers).
    let seen_reports_modseq = condstore && !newly_seen.is_empty();
    let needs_summary = items.iter().any(Item::needs_summary);
    let mb = &sel.mailbox;
    let mut failed: Vec<Uid> = Vec::new();
    let mut unknown_cte: Vec<Uid> = Vec::new();
    let mut flag_lists = FlagLists::new(mb.defined_flags());
    let asked = Asked::of(&items);
    let mut next_index = 0;
    for uid in uids {
        let Some(info) = mb.facts_near(uid, next_index) else {
            continue;
        };
        next_index = info.seq.index() + 1;
        let mark = out.len();
        let result = (|| {
            let summary = if needs_summary {
                Some(
                    summaries
                        .get(mb, uid)
                        .map_err(|source| Unreadable::Store { uid, source })?,
                )
            } else {
                None
            };
            let mut m = Message {
                flags_changed: newly_seen.binary_search(&uid).is_ok(),
                info,
                summary,
                content: Content {
                    mb,
                    uid,
                    reader: None,
                },
                want_modseq: changed_since.is_some() || seen_reports_modseq,
                // Under UIDONLY the UID leads the response; as an item
                // only when asked (RFC 9586 §3.3).
                want_uid: (cmd.uid || seen_reports_modseq) && !uidonly,
                by_uid: uidonly,
            };
            write_message(out, (&items, &asked), &mut m, &mut flag_lists, summaries)
        })();
        if let Err(e) = result {
            out.truncate(mark);
            match e {
                FetchError::UnknownCte { .. } => unknown_cte.push(uid),
                other => {
                    log::error!("FETCH: {other}");
                    failed.push(uid);
                }
            }
        }
        // Between two messages' responses: the only place output may go.
        if let Err(e) = output::spill_full(out, spill) {
            // Nobody is left to answer; the session ends on its next write.
            log::info!("FETCH: connection lost while answering: {e}");
            return Reply::no(None, "Connection lost");
        }
    }
    let list = |v: &[Uid]| {
        v.iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !failed.is_empty() {
        return Reply::no(
            Some(ResponseCode::ServerBug),
            format!(
                "Some messages could not be read (UID {}); see the server log",
                list(&failed)
            ),
        );
    }
    if !unknown_cte.is_empty() {
        return Reply::no(
            Some(ResponseCode::UnknownCte),
            format!(
                "Unknown Content-Transfer-Encoding (UID {})",
                list(&unknown_cte)
            ),
        );
    }
    Reply::ok("FETCH completed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::command::CommandBody;
    use crate::imap::wire::parser::{parse_command, ParseOptions};
    use crate::store::types::SeqNum;

    /// Every message's `FLAGS` item is its own flags (and \Recent when
    /// held), whether its set was met just before, long before or never:
    /// 20,000 distinct sets met twice each, interleaved with repeats.
    /// Past 16 sets a lookup that misses the last set is one map lookup,
    /// where it scanned every set met so far (quadratic in distinct sets:
    /// 36.4 G instructions in `of` for this test, 2.4 G now, callgrind,
    /// debug build; doc/benchmarks.md).
    #[test]
    fn flag_lists_answer_each_set_by_its_bits() {
        let mut table = Flag::SYSTEM.to_vec();
        table.extend((0..59).map(|i| Flag::keyword(&format!("k{i}")).unwrap()));
        let facts = |bits: u64, recent: bool| MessageFacts {
            seq: SeqNum::new(1).unwrap(),
            uid: Uid::new(1).unwrap(),
            flag_bits: bits,
            recent,
            modseq: crate::store::types::Modseq::MIN,
            internal: crate::store::types::InternalDate::now(),
            saved: 0,
            size: 0,
            name: crate::store::types::MessageName::random(),
        };
        let expected = |bits: u64, recent: bool| {
            let mut flags: Vec<WireFlag> = table
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1u64 << i) != 0)
                .map(|(_, f)| wire_flag(f))
                .collect();
            if recent {
                flags.push(WireFlag::Recent);
            }
            EncodedItem::flags(&flags).as_bytes().to_vec()
        };
        let mut lists = FlagLists::new(&table);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let sets: Vec<u64> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect();
        for round in 0..2 {
            for (i, &bits) in sets.iter().enumerate() {
                let recent = (i + round) % 3 == 0;
                for _ in 0..1 + i % 2 {
                    let got = lists.of(&facts(bits, recent)).unwrap().as_bytes().to_vec();
                    assert_eq!(got, expected(bits, recent), "set {i}, round {round}");
                }
            }
        }
        assert!(lists.lists.len() <= 2 * sets.len());
    }

    fn attrs(text: &str) -> FetchAttrs {
        let line = format!("a FETCH 1 {text}\r\n");
        match parse_command(line.as_bytes(), &ParseOptions::default()).map(|c| c.body) {
            Ok(CommandBody::Fetch(f)) => f.attrs,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn labels(text: &str) -> (Vec<String>, bool) {
        let (items, seen) = plan(&attrs(text));
        let l = items
            .iter()
            .map(|i| {
                let item = match i {
                    Item::Section { name, partial, .. } => name.item(partial, None),
                    Item::Binary { part, partial, .. } => FetchItem::Binary {
                        part: Cow::Borrowed(part),
                        origin: partial.map(|p| p.offset),
                        data: None,
                    },
                    Item::BinarySize { part, .. } => FetchItem::BinarySize {
                        part: Cow::Borrowed(part),
                        size: None,
                    },
                    _ => return "-".to_owned(),
                };
                // The item name as encoded: `* 1 FETCH (name NIL)`.
                let seq = SeqNum::new(1).unwrap_or_else(|| unreachable!());
                let bytes = crate::imap::wire::response::Response::Fetch {
                    seq,
                    items: vec![item],
                }
                .to_bytes();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                text.trim_start_matches("* 1 FETCH (")
                    .trim_end_matches(" NIL)\r\n")
                    .to_owned()
            })
            .collect();
        (l, seen)
    }

    #[test]
    fn response_names_and_seen() {
        assert_eq!(
            labels("(BODY.PEEK[1.2.HEADER.FIELDS (subject x-a)]<5.10> BINARY.SIZE[3])"),
            (
                vec![
                    "BODY[1.2.HEADER.FIELDS (SUBJECT X-A)]<5>".to_owned(),
                    "BINARY.SIZE[3]".to_owned()
                ],
                false
            )
        );
        assert_eq!(labels("BODY[]"), (vec!["BODY[]".to_owned()], true));
        assert_eq!(
            labels("BODY[2.MIME]"),
            (vec!["BODY[2.MIME]".to_owned()], true)
        );
        assert_eq!(
            labels("BINARY.PEEK[1]<0.4>"),
            (vec!["BINARY[1]<0>".to_owned()], false)
        );
        assert_eq!(
            labels("RFC822.HEADER"),
            (vec!["RFC822.HEADER".to_owned()], false)
        );
        assert_eq!(
            labels("RFC822.TEXT"),
            (vec!["RFC822.TEXT".to_owned()], true)
        );
        assert_eq!(labels("RFC822"), (vec!["RFC822".to_owned()], true));
        assert_eq!(labels("FAST").0.len(), 3);
        assert_eq!(labels("ALL").0.len(), 4);
        assert_eq!(labels("FULL").0.len(), 5);
    }

    #[test]
    fn which_items_need_the_summary() {
        let (items, _) = plan(&attrs("(FLAGS UID BODY.PEEK[] BINARY.PEEK[] RFC822.SIZE)"));
        assert!(!items.iter().any(Item::needs_summary));
        for a in [
            "ENVELOPE",
            "BODY",
            "BODYSTRUCTURE",
            "BODY[1]",
            "BINARY[1]",
            "BINARY.SIZE[]",
        ] {
            let (items, _) = plan(&attrs(a));
            assert!(items.iter().any(Item::needs_summary), "{a}");
        }
    }
}
