//! `FETCH` and `UID FETCH`: every fetch attribute of RFC 3501/9051 and the
//! extensions (BINARY, CONDSTORE MODSEQ and CHANGEDSINCE, QRESYNC VANISHED,
//! OBJECTID, SAVEDATE), answered from the stored summary where possible and
//! decrypting only the byte ranges a section needs. Also owns the
//! per-session summary cache SEARCH shares. Never changes anything but
//! \Seen, and never parses message content itself (the `mime` module does).

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use crate::imap::context::{self, wire_flag, Ctx, Reply};
use crate::imap::wire::command::{
    FetchAttr, FetchAttrs, FetchCommand, Flag as WireFlag, Partial, Section, SectionText,
    SeqNum as WireSeq, SeqRange, SeqSet,
};
use crate::imap::wire::response::{
    write_astring, write_binary_literal, write_date_time, write_seq_set, ResponseCode,
};
use crate::imap::wire::structure::{write_body, write_bodystructure, write_envelope};
use crate::mime::section::{self, SectionError, SectionSpec, SectionText as MimeText};
use crate::mime::Summary;
use crate::store::mailbox::{Mailbox, MailboxError, MessageInfo};
use crate::store::message_file::{MessageFileError, MessageReader};
use crate::store::types::{Flag as StoreFlag, FlagOp, Modseq, Uid};

/// Capabilities this module implements end to end.
pub const CAPABILITIES: &[&str] = &["BINARY", "OBJECTID", "SAVEDATE"];

/// More summaries than this are not kept: a session must stay small even
/// on a 100,000-message mailbox, and a full cache is simply dropped.
const CACHE_LIMIT: usize = 4096;

/// Parsed summaries of the selected mailbox's messages, so repeated
/// ENVELOPE/BODYSTRUCTURE/SEARCH do not re-read and re-open summary files.
/// Keyed by mailbox id and UID, which together never name two messages.
#[derive(Default)]
pub struct SummaryCache {
    mailbox: String,
    map: HashMap<Uid, Arc<Summary>>,
}

impl SummaryCache {
    /// The summary of `uid` in `mb`, from the cache or the store.
    pub fn get(&mut self, mb: &Mailbox, uid: Uid) -> Result<Arc<Summary>, MailboxError> {
        if self.mailbox != mb.id() {
            self.map.clear();
            self.mailbox = mb.id().to_owned();
        }
        if let Some(s) = self.map.get(&uid) {
            return Ok(s.clone());
        }
        let s = Arc::new(mb.summary(uid)?);
        if self.map.len() >= CACHE_LIMIT {
            self.map.clear();
        }
        self.map.insert(uid, s.clone());
        Ok(s)
    }
}

/// Why one message's FETCH response could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
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
        /// The response item name, e.g. `BODY[1.MIME]<0>` or `RFC822`.
        label: Vec<u8>,
        spec: SectionSpec,
        partial: Option<Partial>,
    },
    Binary {
        label: Vec<u8>,
        path: Vec<u32>,
        partial: Option<Partial>,
    },
    BinarySize {
        label: Vec<u8>,
        path: Vec<u32>,
    },
    ModSeq,
    EmailId,
    ThreadId,
    SaveDate,
}

impl Item {
    fn needs_summary(&self) -> bool {
        match self {
            Item::Envelope | Item::Body | Item::BodyStructure | Item::BinarySize { .. } => true,
            Item::Section { spec, .. } => !is_whole(spec),
            Item::Binary { path, .. } => !path.is_empty(),
            _ => false,
        }
    }
}

fn is_whole(spec: &SectionSpec) -> bool {
    spec.path.is_empty() && spec.text == MimeText::Whole
}

fn part_path(part: &[std::num::NonZeroU32]) -> Vec<u32> {
    part.iter().map(|n| n.get()).collect()
}

fn push_path(label: &mut Vec<u8>, path: &[u32]) {
    for (i, n) in path.iter().enumerate() {
        if i > 0 {
            label.push(b'.');
        }
        let _ = write!(label, "{n}");
    }
}

fn push_origin(label: &mut Vec<u8>, partial: &Option<Partial>) {
    if let Some(p) = partial {
        let _ = write!(label, "<{}>", p.offset);
    }
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
        FetchAttrs::List(l) => l.clone(),
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
            A::SaveDate => Item::SaveDate,
            A::Rfc822 => {
                seen = true;
                Item::Section {
                    label: b"RFC822".to_vec(),
                    spec: whole(MimeText::Whole),
                    partial: None,
                }
            }
            A::Rfc822Header => Item::Section {
                label: b"RFC822.HEADER".to_vec(),
                spec: whole(MimeText::Header),
                partial: None,
            },
            A::Rfc822Text => {
                seen = true;
                Item::Section {
                    label: b"RFC822.TEXT".to_vec(),
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
                let (label, spec) = section_label(&section, &partial);
                Item::Section {
                    label,
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
                let mut label = b"BINARY[".to_vec();
                push_path(&mut label, &path);
                label.push(b']');
                push_origin(&mut label, &partial);
                Item::Binary {
                    label,
                    path,
                    partial,
                }
            }
            A::BinarySize { part } => {
                let path = part_path(&part);
                let mut label = b"BINARY.SIZE[".to_vec();
                push_path(&mut label, &path);
                label.push(b']');
                Item::BinarySize { label, path }
            }
        })
        .collect();
    (items, seen)
}

/// The response name of a BODY section (field names upper-cased, as
/// Dovecot echoes them) and the section as the mime module wants it.
fn section_label(section: &Section, partial: &Option<Partial>) -> (Vec<u8>, SectionSpec) {
    let path = part_path(&section.part);
    let mut label = b"BODY[".to_vec();
    push_path(&mut label, &path);
    let (name, text): (&[u8], MimeText) = match &section.text {
        None => (b"", MimeText::Whole),
        Some(SectionText::Header) => (b"HEADER", MimeText::Header),
        Some(SectionText::Text) => (b"TEXT", MimeText::Text),
        Some(SectionText::Mime) => (b"MIME", MimeText::Mime),
        Some(SectionText::HeaderFields(f)) => (
            b"HEADER.FIELDS",
            MimeText::HeaderFields(f.iter().map(|s| s.as_bytes().to_vec()).collect()),
        ),
        Some(SectionText::HeaderFieldsNot(f)) => (
            b"HEADER.FIELDS.NOT",
            MimeText::HeaderFieldsNot(f.iter().map(|s| s.as_bytes().to_vec()).collect()),
        ),
    };
    if !name.is_empty() {
        if !path.is_empty() {
            label.push(b'.');
        }
        label.extend_from_slice(name);
    }
    if let Some(SectionText::HeaderFields(f) | SectionText::HeaderFieldsNot(f)) = &section.text {
        label.extend_from_slice(b" (");
        for (i, n) in f.iter().enumerate() {
            if i > 0 {
                label.push(b' ');
            }
            write_astring(&mut label, n.to_ascii_uppercase().as_bytes());
        }
        label.push(b')');
    }
    label.push(b']');
    push_origin(&mut label, partial);
    (label, SectionSpec { path, text })
}

/// True when `uid` is in the UID set as written (`*` = any large UID), for
/// VANISHED, whose UIDs are no longer in the mailbox.
fn in_uid_set(set: &SeqSet, uid: u32, max: u32) -> bool {
    let SeqSet::Ranges(ranges) = set else {
        return false;
    };
    let v = |n: &WireSeq| match n {
        WireSeq::Value(v) => v.get(),
        WireSeq::Star => max,
    };
    ranges.iter().any(|r| {
        let (a, b) = match r {
            SeqRange::Single(n) => (v(n), v(n)),
            SeqRange::Range(a, b) => (v(a), v(b)),
        };
        (a.min(b)..=a.max(b)).contains(&uid)
    })
}

/// Appends a `{n}` literal. RFC 3501's CHAR8 excludes NUL and only a
/// BINARY response may use `~{n}`, so a NUL in the data (a binary part
/// stored as the client sent it) goes out as 0x80, keeping every size
/// and offset: Dovecot's "nonuls" substitution.
fn write_literal(out: &mut Vec<u8>, data: &[u8]) {
    let _ = write!(out, "{{{}}}\r\n", data.len());
    let start = out.len();
    out.extend_from_slice(data);
    if let Some(written) = out.get_mut(start..) {
        written
            .iter_mut()
            .filter(|b| **b == 0)
            .for_each(|b| *b = 0x80);
    }
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
                .map_err(|source| FetchError::Store { uid, source })?,
        };
        Ok(self.reader.insert(r))
    }

    fn read(&mut self, start: u64, end: u64) -> Result<Vec<u8>, FetchError> {
        let uid = self.uid;
        let reader = self.reader()?;
        let len = end.saturating_sub(start);
        let bytes = reader
            .read_range(start, len)
            .map_err(|source| FetchError::Content { uid, source })?;
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
            .map_err(|source| FetchError::Content { uid, source })
    }
}

/// Everything one message's response needs besides the items.
struct Message<'a> {
    seq: u32,
    info: MessageInfo,
    summary: Option<Arc<Summary>>,
    content: Content<'a>,
    /// FLAGS must be sent even if not asked for (\Seen was just set).
    flags_changed: bool,
    /// MODSEQ must be sent even if not asked for (CHANGEDSINCE).
    want_modseq: bool,
    /// UID must be sent even if not asked for (UID FETCH).
    want_uid: bool,
}

fn write_flags(out: &mut Vec<u8>, info: &MessageInfo) {
    out.extend_from_slice(b"FLAGS (");
    let mut first = true;
    for f in &info.flags {
        if !first {
            out.push(b' ');
        }
        first = false;
        crate::imap::wire::response::write_flag(out, &wire_flag(f));
    }
    if info.recent {
        if !first {
            out.push(b' ');
        }
        crate::imap::wire::response::write_flag(out, &WireFlag::Recent);
    }
    out.push(b')');
}

fn missing_summary(uid: Uid) -> FetchError {
    FetchError::Mismatch {
        uid,
        offset: 0,
        expected: 0,
        got: 0,
    }
}

/// Writes `* seq FETCH (...)` for one message.
fn write_message(out: &mut Vec<u8>, items: &[Item], m: &mut Message) -> Result<(), FetchError> {
    let uid = m.info.uid;
    let _ = write!(out, "* {} FETCH (", m.seq);
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    let asked_uid = items.iter().any(|i| matches!(i, Item::Uid));
    if m.want_uid && !asked_uid {
        sep(out);
        let _ = write!(out, "UID {uid}");
    }
    for item in items {
        sep(out);
        match item {
            Item::Flags => write_flags(out, &m.info),
            Item::Uid => {
                let _ = write!(out, "UID {uid}");
            }
            Item::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE ");
                match m.info.internal.to_chrono() {
                    Some(d) => write_date_time(out, &d),
                    None => out.extend_from_slice(b"\" 1-Jan-1970 00:00:00 +0000\""),
                }
            }
            Item::Size => {
                let _ = write!(out, "RFC822.SIZE {}", m.info.size);
            }
            Item::Envelope | Item::Body | Item::BodyStructure => {
                let s = m.summary.as_deref().ok_or_else(|| missing_summary(uid))?;
                match item {
                    Item::Envelope => {
                        out.extend_from_slice(b"ENVELOPE ");
                        write_envelope(out, &s.envelope);
                    }
                    Item::Body => {
                        out.extend_from_slice(b"BODY ");
                        write_body(out, &s.root);
                    }
                    _ => {
                        out.extend_from_slice(b"BODYSTRUCTURE ");
                        write_bodystructure(out, &s.root);
                    }
                }
            }
            Item::Section {
                label,
                spec,
                partial,
            } => {
                out.extend_from_slice(label);
                out.push(b' ');
                write_section(out, m, spec, partial)?;
            }
            Item::Binary {
                label,
                path,
                partial,
            } => {
                out.extend_from_slice(label);
                out.push(b' ');
                match binary(m, path)? {
                    None => out.extend_from_slice(b"NIL"),
                    Some(data) => {
                        let data = window(&data, partial);
                        if data.contains(&0) {
                            write_binary_literal(out, data);
                        } else {
                            write_literal(out, data);
                        }
                    }
                }
            }
            Item::BinarySize { label, path } => {
                out.extend_from_slice(label);
                out.push(b' ');
                match binary(m, path)? {
                    None => out.extend_from_slice(b"NIL"),
                    Some(data) => {
                        let _ = write!(out, "{}", data.len());
                    }
                }
            }
            Item::ModSeq => {
                let _ = write!(out, "MODSEQ ({})", m.info.modseq);
            }
            Item::EmailId => {
                let _ = write!(out, "EMAILID (M{})", m.info.name);
            }
            Item::ThreadId => out.extend_from_slice(b"THREADID NIL"),
            Item::SaveDate => {
                out.extend_from_slice(b"SAVEDATE ");
                match chrono::DateTime::from_timestamp(m.info.saved, 0) {
                    Some(d) => write_date_time(out, &d.fixed_offset()),
                    None => out.extend_from_slice(b"NIL"),
                }
            }
        }
    }
    if m.flags_changed && !items.iter().any(|i| matches!(i, Item::Flags)) {
        sep(out);
        write_flags(out, &m.info);
    }
    if m.want_modseq && !items.iter().any(|i| matches!(i, Item::ModSeq)) {
        sep(out);
        let _ = write!(out, "MODSEQ ({})", m.info.modseq);
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
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
    out: &mut Vec<u8>,
    m: &mut Message,
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
        write_literal(out, &data);
        return Ok(());
    }
    let s = m.summary.clone().ok_or_else(|| missing_summary(uid))?;
    let range = match section::locate(&s, spec) {
        Ok(r) => r,
        Err(SectionError::NoSuchPart { .. } | SectionError::NotMessage { .. })
        | Err(SectionError::MimeWithoutPart) => {
            out.extend_from_slice(b"NIL");
            return Ok(());
        }
        Err(_) => return Err(missing_summary(uid)),
    };
    let raw = m.content.read(range.start, range.end)?;
    let data = section::extract_from_range(spec, &raw);
    write_literal(out, window(&data, partial));
    Ok(())
}

/// The decoded content of BINARY[path]; `None` for a missing part.
fn binary(m: &mut Message, path: &[u32]) -> Result<Option<Vec<u8>>, FetchError> {
    let uid = m.info.uid;
    if path.is_empty() {
        return m.content.read_all().map(Some);
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

/// `[UID] FETCH`.
pub fn fetch(ctx: &mut Ctx, out: &mut Vec<u8>, cmd: &FetchCommand) -> Reply {
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
    let changed_since = cmd.changed_since.map(|m| m.0);
    if let Some(since) = changed_since {
        uids.retain(|u| sel.mailbox.info(*u).is_some_and(|i| i.modseq.get() > since));
    }
    if cmd.vanished {
        if let Some(since) = changed_since.and_then(Modseq::new) {
            let max = sel.mailbox.uidnext().get().saturating_sub(1);
            let mut gone: Vec<u32> = sel
                .mailbox
                .vanished_since(since)
                .into_iter()
                .map(Uid::get)
                .filter(|u| in_uid_set(&cmd.set, *u, max))
                .collect();
            gone.sort_unstable();
            gone.dedup();
            if let Some(set) = SeqSet::from_numbers(gone) {
                out.extend_from_slice(b"* VANISHED (EARLIER) ");
                write_seq_set(out, &set);
                out.extend_from_slice(b"\r\n");
            }
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
                    .is_some_and(|i| !i.flags.contains(&StoreFlag::Seen))
            })
            .collect();
        if !unseen.is_empty() {
            match sel
                .mailbox
                .store_flags(&unseen, FlagOp::Add, &[StoreFlag::Seen], None)
            {
                Ok(o) => newly_seen = o.changed,
                Err(e) => return Reply::server_bug("setting \\Seen", &e),
            }
        }
    }
    let needs_summary = items.iter().any(Item::needs_summary);
    let mb = &sel.mailbox;
    let mut failed: Vec<Uid> = Vec::new();
    let mut unknown_cte: Vec<Uid> = Vec::new();
    for uid in uids {
        let (Some(info), Some(seq)) = (mb.info(uid), mb.seq_of(uid)) else {
            continue;
        };
        let mark = out.len();
        let result = (|| {
            let summary = if needs_summary {
                Some(
                    summaries
                        .get(mb, uid)
                        .map_err(|source| FetchError::Store { uid, source })?,
                )
            } else {
                None
            };
            let mut m = Message {
                seq: seq.get(),
                flags_changed: newly_seen.binary_search(&uid).is_ok(),
                info,
                summary,
                content: Content {
                    mb,
                    uid,
                    reader: None,
                },
                want_modseq: changed_since.is_some(),
                want_uid: cmd.uid,
            };
            write_message(out, &items, &mut m)
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
            .map(|i| match i {
                Item::Section { label, .. }
                | Item::Binary { label, .. }
                | Item::BinarySize { label, .. } => String::from_utf8_lossy(label).into_owned(),
                _ => "-".to_owned(),
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

    #[test]
    fn vanished_set_membership() {
        let set = SeqSet::from_numbers([1, 2, 3, 9]).unwrap_or(SeqSet::Saved);
        assert!(in_uid_set(&set, 2, 100));
        assert!(in_uid_set(&set, 9, 100));
        assert!(!in_uid_set(&set, 5, 100));
        assert!(!in_uid_set(&SeqSet::Saved, 1, 100));
        let star = SeqSet::Ranges(vec![SeqRange::Range(
            WireSeq::Value(std::num::NonZeroU32::MIN.saturating_add(4)),
            WireSeq::Star,
        )]);
        assert!(in_uid_set(&star, 50, 100));
        assert!(!in_uid_set(&star, 4, 100));
    }
}
