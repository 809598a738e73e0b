//! The one response encoder: [`Response::encode`] (and [`FetchEncoder`],
//! which streams a FETCH item by item so message bodies are never held
//! twice), plus the token writers it is built from (atoms, strings,
//! literals, mailbox names, flags, sequence sets, response codes), which
//! the client-side command encoder and `structure.rs` share.
//!
//! Every function here produces syntactically valid output whatever the
//! input: strings that cannot be quoted become literals, free text is
//! sanitised, atoms are filtered. It never decides *what* to answer (the
//! handlers do) and never performs I/O: it appends to a `Vec<u8>`.

use std::io::Write as _;

use chrono::{DateTime, FixedOffset};

use super::{
    ESearchItem, EncodedMailbox, FetchItem, ListExtended, NamespaceDescr, Response, ResponseCode,
    Rfc822Part, StatusValue, Structure, ThreadList,
};
use crate::imap::wire::command::{
    FlagPerm, Section, SectionText, SeqBound, SeqRange, SeqSet, WireFlag,
};
use crate::store::types::SeqNum as MsgSeq;
use crate::store::types::Uid;

/// Strings at least this long are always sent as literals.
const MAX_QUOTED: usize = 1024;

/// Appends `atom`, dropping characters not allowed in an atom; if nothing
/// is left, writes the placeholder `X` so the output stays valid.
pub fn write_atom(out: &mut Vec<u8>, atom: &str) {
    let before = out.len();
    out.extend(atom.bytes().filter(|&b| is_atom_char(b)));
    if out.len() == before {
        out.push(b'X');
    }
}

/// True for ATOM-CHAR of RFC 3501.
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

fn quotable(s: &[u8]) -> bool {
    s.len() < MAX_QUOTED
        && s.iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
}

/// Appends `s` as a quoted string when it is short 7-bit text, else as a
/// `{n}` literal. NUL bytes force a literal8 when `allow_literal8`.
pub fn write_string_opts(out: &mut Vec<u8>, s: &[u8], allow_literal8: bool, non_sync: bool) {
    if quotable(s) {
        // Copied in runs between the bytes to escape: a push per byte was
        // most of BODYSTRUCTURE's encoding (callgrind, issue 12).
        out.push(b'"');
        let mut rest = s;
        while let Some(i) = rest.iter().position(|&b| b == b'"' || b == b'\\') {
            let (run, tail) = rest.split_at(i);
            out.extend_from_slice(run);
            out.push(b'\\');
            out.extend_from_slice(tail.get(..1).unwrap_or_default());
            rest = tail.get(1..).unwrap_or_default();
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    } else {
        if allow_literal8 && s.contains(&0) {
            out.push(b'~');
        }
        write_literal_header(out, s.len(), non_sync);
        out.extend_from_slice(s);
    }
}

fn write_literal_header(out: &mut Vec<u8>, len: usize, non_sync: bool) {
    out.push(b'{');
    write_decimal(out, len as u64);
    if non_sync {
        out.push(b'+');
    }
    out.extend_from_slice(b"}\r\n");
}

/// Appends a string (quoted or `{n}` literal), for server responses.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    write_string_opts(out, s, false, false);
}

/// Appends an nstring: `NIL` for `None`, else a string.
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => write_string(out, s),
    }
}

/// Appends `NIL` for an empty list, else the items in parentheses with
/// `sep` between them: the "nil or list" shape RFC 3501 uses for
/// namespaces, address lists and body languages.
pub fn write_list_or_nil<T>(
    out: &mut Vec<u8>,
    items: &[T],
    sep: &[u8],
    mut write_item: impl FnMut(&mut Vec<u8>, &T),
) {
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        write_item(out, item);
    }
    out.push(b')');
}

/// Appends an astring: a bare atom when possible (not `NIL`), else a string.
pub(super) fn write_astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_atom_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        write_string(out, s);
    }
}

/// Appends a `~{n}` literal8 followed by the raw bytes (RFC 3516).
pub(super) fn write_binary_literal(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'~');
    write_literal_header(out, data.len(), false);
    out.extend_from_slice(data);
}

/// Appends an RFC 3501 `date-time` such as `" 7-Feb-1994 21:52:25 -0800"`
/// (INTERNALDATE, SAVEDATE).
pub fn write_date_time(out: &mut Vec<u8>, dt: &DateTime<FixedOffset>) {
    out.extend_from_slice(dt.format("\"%e-%b-%Y %H:%M:%S %z\"").to_string().as_bytes());
}

/// Appends one flag.
pub fn write_flag(out: &mut Vec<u8>, flag: &WireFlag) {
    match flag {
        WireFlag::Answered => out.extend_from_slice(b"\\Answered"),
        WireFlag::Flagged => out.extend_from_slice(b"\\Flagged"),
        WireFlag::Deleted => out.extend_from_slice(b"\\Deleted"),
        WireFlag::Seen => out.extend_from_slice(b"\\Seen"),
        WireFlag::Draft => out.extend_from_slice(b"\\Draft"),
        WireFlag::Recent => out.extend_from_slice(b"\\Recent"),
        WireFlag::Keyword(k) => write_atom(out, k),
        WireFlag::Extension(e) => {
            out.push(b'\\');
            write_atom(out, e);
        }
    }
}

/// Appends `(flag flag ...)`.
pub fn write_flag_list(out: &mut Vec<u8>, flags: &[WireFlag]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_flag(out, f);
    }
    out.push(b')');
}

/// Appends `(flag ... \*)` for PERMANENTFLAGS.
pub(super) fn write_flag_perm_list(out: &mut Vec<u8>, flags: &[FlagPerm]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match f {
            FlagPerm::Flag(f) => write_flag(out, f),
            FlagPerm::Any => out.extend_from_slice(b"\\*"),
        }
    }
    out.push(b')');
}

fn write_seq_num(out: &mut Vec<u8>, n: SeqBound) {
    match n {
        SeqBound::Value(v) => out.extend_from_slice(v.to_string().as_bytes()),
        SeqBound::Star => out.push(b'*'),
    }
}

/// Appends a sequence set (`$`, or ranges joined by commas).
pub fn write_seq_set(out: &mut Vec<u8>, set: &SeqSet) {
    match set {
        SeqSet::Saved => out.push(b'$'),
        SeqSet::Ranges(ranges) => {
            for (i, r) in ranges.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match *r {
                    SeqRange::Single(n) => write_seq_num(out, n),
                    SeqRange::Range(a, b) => {
                        write_seq_num(out, a);
                        out.push(b':');
                        write_seq_num(out, b);
                    }
                }
            }
        }
    }
}

/// Appends free text with CR, LF and NUL replaced by spaces.
fn write_text(out: &mut Vec<u8>, text: &str, forbid_bracket: bool) {
    out.extend(text.bytes().map(|b| match b {
        b'\r' | b'\n' | 0 => b' ',
        b']' if forbid_bracket => b')',
        b => b,
    }));
}

fn write_atom_list(out: &mut Vec<u8>, items: &[String]) {
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_atom(out, s);
    }
}

fn write_uint<T: ToString>(out: &mut Vec<u8>, name: &str, n: T) {
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(n.to_string().as_bytes());
}

/// Appends a response code without the surrounding brackets.
pub(super) fn write_response_code(out: &mut Vec<u8>, code: &ResponseCode) {
    let simple = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
    match code {
        ResponseCode::Alert => simple(out, "ALERT"),
        ResponseCode::BadCharset(list) => {
            simple(out, "BADCHARSET");
            if !list.is_empty() {
                // Charset names are astrings; atoms cover every registered one.
                out.extend_from_slice(b" (");
                write_atom_list(out, list);
                out.push(b')');
            }
        }
        ResponseCode::Capability(caps) => {
            simple(out, "CAPABILITY");
            for c in caps {
                out.push(b' ');
                write_atom(out, c);
            }
        }
        ResponseCode::Parse => simple(out, "PARSE"),
        ResponseCode::PermanentFlags(flags) => {
            simple(out, "PERMANENTFLAGS ");
            write_flag_perm_list(out, flags);
        }
        ResponseCode::ReadOnly => simple(out, "READ-ONLY"),
        ResponseCode::ReadWrite => simple(out, "READ-WRITE"),
        ResponseCode::TryCreate => simple(out, "TRYCREATE"),
        ResponseCode::UidNext(n) => write_uint(out, "UIDNEXT", n),
        ResponseCode::UidValidity(n) => write_uint(out, "UIDVALIDITY", n.get()),
        ResponseCode::Unseen(n) => write_uint(out, "UNSEEN", n.get()),
        ResponseCode::AppendUid { uid_validity, uids } => {
            write_uint(out, "APPENDUID", uid_validity.get());
            out.push(b' ');
            write_seq_set(out, uids);
        }
        ResponseCode::CopyUid {
            uid_validity,
            source,
            dest,
        } => {
            write_uint(out, "COPYUID", uid_validity.get());
            out.push(b' ');
            write_seq_set(out, source);
            out.push(b' ');
            write_seq_set(out, dest);
        }
        ResponseCode::UidNotSticky => simple(out, "UIDNOTSTICKY"),
        ResponseCode::HighestModSeq(m) => write_uint(out, "HIGHESTMODSEQ", m.0),
        ResponseCode::NoModSeq => simple(out, "NOMODSEQ"),
        ResponseCode::Modified(set) => {
            simple(out, "MODIFIED ");
            write_seq_set(out, set);
        }
        ResponseCode::Closed => simple(out, "CLOSED"),
        ResponseCode::TooBig => simple(out, "TOOBIG"),
        ResponseCode::NoUpdate(tag) => {
            simple(out, "NOUPDATE ");
            write_quoted_tag(out, tag);
        }
        ResponseCode::BadUrl(url) => {
            simple(out, "BADURL ");
            write_text(out, url, true);
        }
        ResponseCode::UnknownCte => simple(out, "UNKNOWN-CTE"),
        ResponseCode::Nonexistent => simple(out, "NONEXISTENT"),
        ResponseCode::AlreadyExists => simple(out, "ALREADYEXISTS"),
        ResponseCode::AuthenticationFailed => simple(out, "AUTHENTICATIONFAILED"),
        ResponseCode::AuthorizationFailed => simple(out, "AUTHORIZATIONFAILED"),
        ResponseCode::Cannot => simple(out, "CANNOT"),
        ResponseCode::ClientBug => simple(out, "CLIENTBUG"),
        ResponseCode::ContactAdmin => simple(out, "CONTACTADMIN"),
        ResponseCode::ExpungeIssued => simple(out, "EXPUNGEISSUED"),
        ResponseCode::InUse => simple(out, "INUSE"),
        ResponseCode::Limit => simple(out, "LIMIT"),
        ResponseCode::NoPerm => simple(out, "NOPERM"),
        ResponseCode::OverQuota => simple(out, "OVERQUOTA"),
        ResponseCode::PrivacyRequired => simple(out, "PRIVACYREQUIRED"),
        ResponseCode::PrivacyNotRequired => simple(out, "PRIVACYNOTREQUIRED"),
        ResponseCode::ServerBug => simple(out, "SERVERBUG"),
        ResponseCode::Unavailable => simple(out, "UNAVAILABLE"),
        ResponseCode::Expired => simple(out, "EXPIRED"),
        ResponseCode::Corruption => simple(out, "CORRUPTION"),
        ResponseCode::HasChildren => simple(out, "HASCHILDREN"),
        ResponseCode::MailboxId(id) => {
            simple(out, "MAILBOXID (");
            write_atom(out, id);
            out.push(b')');
        }
        ResponseCode::NotSaved => simple(out, "NOTSAVED"),
        ResponseCode::UseAttr => simple(out, "USEATTR"),
        ResponseCode::CompressionActive => simple(out, "COMPRESSIONACTIVE"),
        ResponseCode::NotificationOverflow => simple(out, "NOTIFICATIONOVERFLOW"),
        ResponseCode::BadEvent(events) => {
            simple(out, "BADEVENT (");
            write_atom_list(out, events);
            out.push(b')');
        }
        ResponseCode::UidRequired => simple(out, "UIDREQUIRED"),
        ResponseCode::Other(atom, text) => {
            write_atom(out, atom);
            if let Some(t) = text {
                out.push(b' ');
                write_text(out, t, true);
            }
        }
    }
}

/// Appends a tag, replacing any byte a tag may not contain by `X` (the
/// parser never produces such tags; this guards hand-built ones).
fn write_tag(out: &mut Vec<u8>, tag: &str) {
    if tag.is_empty() {
        out.push(b'X');
    }
    out.extend(tag.bytes().map(|b| {
        if (is_atom_char(b) || b == b']') && b != b'+' {
            b
        } else {
            b'X'
        }
    }));
}

/// Appends `{n}` CRLF and `data`. RFC 3501's CHAR8 excludes NUL and only a
/// BINARY response may use `~{n}`, so a NUL in the data (a binary part
/// stored as the client sent it) goes out as 0x80, keeping every size
/// and offset: Dovecot's "nonuls" substitution.
fn write_nonul_literal(out: &mut Vec<u8>, data: &[u8]) {
    write_literal_header(out, data.len(), false);
    let start = out.len();
    out.extend_from_slice(data);
    if let Some(written) = out.get_mut(start..) {
        written
            .iter_mut()
            .filter(|b| **b == 0)
            .for_each(|b| *b = 0x80);
    }
}

/// Appends `n` in decimal. FETCH 1:* writes two or three numbers per
/// message, and `write!` through `fmt` cost about a third of a FLAGS
/// response's instructions (callgrind, issue 12).
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    while n >= 100 {
        // Below 100: the cast cannot truncate.
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// `"c"` for a delimiter, `NIL` for none.
fn write_delimiter(out: &mut Vec<u8>, d: Option<char>) {
    match d {
        Some(c) => {
            let mut buf = [0; 4];
            write_string(out, c.encode_utf8(&mut buf).as_bytes());
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A LIST attribute (`\Name` or a bare atom), filtered like an atom.
fn write_attribute(out: &mut Vec<u8>, attr: &str) {
    match attr.strip_prefix('\\') {
        Some(name) => {
            out.push(b'\\');
            write_atom(out, name);
        }
        None => write_atom(out, attr),
    }
}

fn write_encoded_mailbox(out: &mut Vec<u8>, m: &EncodedMailbox<'_>) {
    write_string(out, m.0.as_bytes());
}

fn write_namespaces(out: &mut Vec<u8>, list: &[NamespaceDescr<'_>]) {
    write_list_or_nil(out, list, b"", |out, d| {
        out.push(b'(');
        write_string(out, d.prefix.as_bytes());
        out.push(b' ');
        write_delimiter(out, d.delimiter);
        out.push(b')');
    });
}

fn write_part_path(out: &mut Vec<u8>, path: &[std::num::NonZeroU32]) {
    for (i, n) in path.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        write_decimal(out, u64::from(n.get()));
    }
}

/// `section-spec` as echoed in a response, without the brackets.
fn write_section(out: &mut Vec<u8>, section: &Section) {
    write_part_path(out, &section.part);
    let Some(text) = &section.text else {
        return;
    };
    if !section.part.is_empty() {
        out.push(b'.');
    }
    let (name, fields): (&[u8], Option<&[String]>) = match text {
        SectionText::Header => (b"HEADER", None),
        SectionText::Text => (b"TEXT", None),
        SectionText::Mime => (b"MIME", None),
        SectionText::HeaderFields(f) => (b"HEADER.FIELDS", Some(f)),
        SectionText::HeaderFieldsNot(f) => (b"HEADER.FIELDS.NOT", Some(f)),
    };
    out.extend_from_slice(name);
    if let Some(fields) = fields {
        out.extend_from_slice(b" (");
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            write_astring(out, f.as_bytes());
        }
        out.push(b')');
    }
}

fn write_origin(out: &mut Vec<u8>, origin: Option<u64>) {
    if let Some(o) = origin {
        out.push(b'<');
        write_decimal(out, o);
        out.push(b'>');
    }
}

fn write_structure(out: &mut Vec<u8>, s: &Structure<'_>) {
    use crate::imap::wire::structure::{write_body, write_bodystructure, write_envelope};
    match s {
        Structure::Envelope(e) => write_envelope(out, e),
        Structure::Body(p) => write_body(out, p),
        Structure::BodyStructure(p) => write_bodystructure(out, p),
        Structure::Raw(raw) => out.extend_from_slice(raw),
    }
}

/// Appends one FETCH data item (no separator).
fn write_flags_item(out: &mut Vec<u8>, flags: &[WireFlag]) {
    out.extend_from_slice(b"FLAGS ");
    write_flag_list(out, flags);
}

fn write_fetch_item(out: &mut Vec<u8>, item: &FetchItem<'_>) {
    match item {
        FetchItem::Flags(flags) => write_flags_item(out, flags),
        FetchItem::Uid(uid) => {
            out.extend_from_slice(b"UID ");
            write_decimal(out, u64::from(uid.get()));
        }
        FetchItem::ModSeq(m) => {
            out.extend_from_slice(b"MODSEQ (");
            write_decimal(out, m.get());
            out.push(b')');
        }
        FetchItem::InternalDate(d) => {
            out.extend_from_slice(b"INTERNALDATE ");
            write_date_time(out, d);
        }
        FetchItem::Rfc822Size(n) => {
            out.extend_from_slice(b"RFC822.SIZE ");
            write_decimal(out, u64::from(*n));
        }
        FetchItem::Envelope(s) => {
            out.extend_from_slice(b"ENVELOPE ");
            write_structure(out, s);
        }
        FetchItem::Body(s) => {
            out.extend_from_slice(b"BODY ");
            write_structure(out, s);
        }
        FetchItem::BodyStructure(s) => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            write_structure(out, s);
        }
        FetchItem::BodySection {
            section,
            origin,
            data,
        } => {
            out.extend_from_slice(b"BODY[");
            write_section(out, section);
            out.push(b']');
            write_origin(out, *origin);
            out.push(b' ');
            match data {
                Some(d) => write_nonul_literal(out, d),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        FetchItem::Rfc822 { part, data } => {
            out.extend_from_slice(match part {
                Rfc822Part::Whole => b"RFC822 ".as_slice(),
                Rfc822Part::Header => b"RFC822.HEADER ",
                Rfc822Part::Text => b"RFC822.TEXT ",
            });
            match data {
                Some(d) => write_nonul_literal(out, d),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        FetchItem::Binary { part, origin, data } => {
            out.extend_from_slice(b"BINARY[");
            write_part_path(out, part);
            out.push(b']');
            write_origin(out, *origin);
            out.push(b' ');
            match data {
                Some(d) if d.contains(&0) => write_binary_literal(out, d),
                Some(d) => write_nonul_literal(out, d),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        FetchItem::BinarySize { part, size } => {
            out.extend_from_slice(b"BINARY.SIZE[");
            write_part_path(out, part);
            out.extend_from_slice(b"] ");
            match size {
                Some(n) => write_decimal(out, *n),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        FetchItem::Preview(p) => {
            out.extend_from_slice(b"PREVIEW ");
            write_nstring(out, p.as_deref().map(str::as_bytes));
        }
        FetchItem::EmailId(id) => {
            out.extend_from_slice(b"EMAILID (");
            write_atom(out, id);
            out.push(b')');
        }
        FetchItem::ThreadId(id) => {
            out.extend_from_slice(b"THREADID ");
            match id {
                Some(id) => {
                    out.push(b'(');
                    write_atom(out, id);
                    out.push(b')');
                }
                None => out.extend_from_slice(b"NIL"),
            }
        }
        FetchItem::SaveDate(d) => {
            out.extend_from_slice(b"SAVEDATE ");
            match d {
                Some(d) => write_date_time(out, d),
                None => out.extend_from_slice(b"NIL"),
            }
        }
    }
}

/// One FETCH item encoded once and written into many responses: the FLAGS
/// list all messages with the same flags share, a message's BODYSTRUCTURE
/// kept by the session. Only this encoder makes one (its bytes are what
/// [`FetchEncoder::item`] would write), so the wire still has one encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedItem(Box<[u8]>);

impl EncodedItem {
    /// `item` as [`FetchEncoder::item`] writes it.
    pub fn of(item: &FetchItem<'_>) -> EncodedItem {
        let mut out = Vec::new();
        write_fetch_item(&mut out, item);
        EncodedItem(out.into_boxed_slice())
    }

    /// `FLAGS (...)` as [`FetchEncoder::flags`] writes it.
    pub fn flags(flags: &[WireFlag]) -> EncodedItem {
        let mut out = Vec::new();
        write_flags_item(&mut out, flags);
        EncodedItem(out.into_boxed_slice())
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Writes `* seq FETCH (item item ...)` one item at a time, so a handler
/// can read a message section, hand it over and drop it before reading
/// the next: a FETCH of many large bodies never holds more than one.
/// [`Response::Fetch`] is encoded through the same path.
pub struct FetchEncoder<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> FetchEncoder<'o> {
    /// Starts the response for message `seq`.
    pub fn begin(out: &'o mut Vec<u8>, seq: MsgSeq) -> FetchEncoder<'o> {
        out.extend_from_slice(b"* ");
        write_decimal(out, u64::from(seq.get()));
        out.extend_from_slice(b" FETCH (");
        FetchEncoder { out, first: true }
    }

    /// Starts `* uid UIDFETCH (` for message `uid` (RFC 9586, UIDONLY).
    pub fn begin_uid(out: &'o mut Vec<u8>, uid: Uid) -> FetchEncoder<'o> {
        let _ = write!(out, "* {} UIDFETCH (", uid.get());
        FetchEncoder { out, first: true }
    }

    /// Appends one item.
    pub fn item(&mut self, item: &FetchItem<'_>) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        write_fetch_item(self.out, item);
    }

    /// Appends `FLAGS (...)`: [`FetchItem::Flags`] written from a borrowed
    /// list, so a FETCH of many messages shares one list per distinct set.
    pub fn flags(&mut self, flags: &[WireFlag]) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        write_flags_item(self.out, flags);
    }

    /// Appends `UID n`: [`FetchItem::Uid`] without building the item, as
    /// FETCH writes it for each of many messages.
    pub fn uid(&mut self, uid: Uid) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        self.out.extend_from_slice(b"UID ");
        write_decimal(self.out, u64::from(uid.get()));
    }

    /// Appends an item encoded earlier.
    pub fn encoded(&mut self, item: &EncodedItem) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        self.out.extend_from_slice(&item.0);
    }

    /// Closes the response.
    pub fn end(self) {
        self.out.extend_from_slice(b")\r\n");
    }
}

fn write_status_value(out: &mut Vec<u8>, v: &StatusValue) {
    let (name, n): (&str, u64) = match v {
        StatusValue::Messages(n) => ("MESSAGES", u64::from(*n)),
        StatusValue::Recent(n) => ("RECENT", u64::from(*n)),
        StatusValue::UidNext(n) => ("UIDNEXT", u64::from(n.get())),
        StatusValue::UidValidity(n) => ("UIDVALIDITY", u64::from(*n)),
        StatusValue::Unseen(n) => ("UNSEEN", u64::from(*n)),
        StatusValue::Deleted(n) => ("DELETED", u64::from(*n)),
        StatusValue::Size(n) => ("SIZE", *n),
        StatusValue::HighestModSeq(n) => ("HIGHESTMODSEQ", *n),
        StatusValue::AppendLimit(n) => ("APPENDLIMIT", *n),
        StatusValue::MailboxId(id) => {
            out.extend_from_slice(b"MAILBOXID (");
            write_atom(out, id);
            out.push(b')');
            return;
        }
    };
    write_uint(out, name, n);
}

/// `"(" thread-members [SP thread-nested] ")"` (RFC 5256 §5); recursion
/// only at branches.
fn write_thread(out: &mut Vec<u8>, t: &ThreadList) {
    out.push(b'(');
    for (k, n) in t.members.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        let _ = write!(out, "{n}");
    }
    if !t.members.is_empty() && !t.children.is_empty() {
        out.push(b' ');
    }
    for c in &t.children {
        write_thread(out, c);
    }
    out.push(b')');
}

fn write_esearch_item(out: &mut Vec<u8>, item: &ESearchItem) {
    match item {
        ESearchItem::Min(n) => write_uint(out, "MIN", n),
        ESearchItem::Max(n) => write_uint(out, "MAX", n),
        ESearchItem::All(set) => {
            out.extend_from_slice(b"ALL ");
            write_seq_set(out, set);
        }
        ESearchItem::Count(n) => write_uint(out, "COUNT", n),
        ESearchItem::ModSeq(m) => write_uint(out, "MODSEQ", m),
        ESearchItem::Partial { range, set } => {
            let _ = write!(out, "PARTIAL ({range} ");
            match set {
                Some(s) => write_seq_set(out, s),
                None => out.extend_from_slice(b"NIL"),
            }
            out.push(b')');
        }
        ESearchItem::AddTo(pairs) => write_context_pairs(out, "ADDTO", pairs),
        ESearchItem::RemoveFrom(pairs) => write_context_pairs(out, "REMOVEFROM", pairs),
    }
}

/// `NAME (position set position set ...)`.
fn write_context_pairs(out: &mut Vec<u8>, name: &str, pairs: &[(u32, SeqSet)]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b" (");
    for (i, (pos, set)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let _ = write!(out, "{pos} ");
        write_seq_set(out, set);
    }
    out.push(b')');
}

/// A tag as a quoted string (NOUPDATE's argument); a tag never holds a
/// quote or backslash, but a hand-built one is made safe.
fn write_quoted_tag(out: &mut Vec<u8>, tag: &str) {
    out.push(b'"');
    out.extend(tag.bytes().map(|b| {
        if b == b'"' || b == b'\\' || b < 0x20 {
            b'X'
        } else {
            b
        }
    }));
    out.push(b'"');
}

fn write_words(out: &mut Vec<u8>, name: &[u8], words: &[std::borrow::Cow<'_, str>]) {
    out.extend_from_slice(name);
    for w in words {
        out.push(b' ');
        write_atom(out, w);
    }
}

impl Response<'_> {
    /// Appends this response, CRLF included. This is the only code that
    /// produces response lines; handlers build a [`Response`] and call it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Status {
                tag,
                status,
                code,
                text,
            } => {
                match tag {
                    Some(t) => write_tag(out, t),
                    None => out.push(b'*'),
                }
                out.push(b' ');
                out.extend_from_slice(status.as_str().as_bytes());
                out.push(b' ');
                if let Some(code) = code {
                    out.push(b'[');
                    write_response_code(out, code);
                    out.extend_from_slice(b"] ");
                }
                // Without a code, a leading '[' would be read as the start of one.
                let text = match (code, text.strip_prefix('[')) {
                    (None, Some(rest)) => {
                        out.push(b'(');
                        rest
                    }
                    _ => text,
                };
                write_text(out, text, false);
            }
            Response::Continue(text) => {
                out.extend_from_slice(b"+ ");
                write_text(out, text, false);
            }
            Response::Capability(caps) => write_words(out, b"* CAPABILITY", caps),
            Response::Enabled(caps) => write_words(out, b"* ENABLED", caps),
            Response::Id(fields) => {
                out.extend_from_slice(b"* ID ");
                match fields {
                    None => out.extend_from_slice(b"NIL"),
                    Some(fields) => {
                        out.push(b'(');
                        for (i, (k, v)) in fields.iter().enumerate() {
                            if i > 0 {
                                out.push(b' ');
                            }
                            write_string(out, k);
                            out.push(b' ');
                            write_nstring(out, v.as_deref());
                        }
                        out.push(b')');
                    }
                }
            }
            Response::Namespace {
                personal,
                other,
                shared,
            } => {
                out.extend_from_slice(b"* NAMESPACE ");
                write_namespaces(out, personal);
                out.push(b' ');
                write_namespaces(out, other);
                out.push(b' ');
                write_namespaces(out, shared);
            }
            Response::List(l) => {
                out.extend_from_slice(b"* ");
                out.extend_from_slice(l.kind.as_str().as_bytes());
                out.extend_from_slice(b" (");
                for (i, a) in l.attributes.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    write_attribute(out, a);
                }
                out.extend_from_slice(b") ");
                write_delimiter(out, l.delimiter);
                out.push(b' ');
                write_encoded_mailbox(out, &l.mailbox);
                if !l.extended.is_empty() {
                    out.extend_from_slice(b" (");
                    for (i, e) in l.extended.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        match e {
                            ListExtended::ChildInfo(opts) => {
                                out.extend_from_slice(b"\"CHILDINFO\" (");
                                for (j, o) in opts.iter().enumerate() {
                                    if j > 0 {
                                        out.push(b' ');
                                    }
                                    write_string(out, o.as_bytes());
                                }
                                out.push(b')');
                            }
                            ListExtended::OldName(m) => {
                                out.extend_from_slice(b"\"OLDNAME\" (");
                                write_encoded_mailbox(out, m);
                                out.push(b')');
                            }
                        }
                    }
                    out.push(b')');
                }
            }
            Response::MailboxStatus { mailbox, items } => {
                out.extend_from_slice(b"* STATUS ");
                write_encoded_mailbox(out, mailbox);
                out.extend_from_slice(b" (");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    write_status_value(out, item);
                }
                out.push(b')');
            }
            Response::Flags(flags) => {
                out.extend_from_slice(b"* FLAGS ");
                write_flag_list(out, flags);
            }
            Response::Exists(n) => {
                let _ = write!(out, "* {n} EXISTS");
            }
            Response::Recent(n) => {
                let _ = write!(out, "* {n} RECENT");
            }
            Response::Expunge(n) => {
                let _ = write!(out, "* {} EXPUNGE", n.get());
            }
            Response::Vanished { earlier, uids } => {
                out.extend_from_slice(b"* VANISHED ");
                if *earlier {
                    out.extend_from_slice(b"(EARLIER) ");
                }
                write_seq_set(out, uids);
            }
            Response::Search { numbers, modseq } => {
                out.extend_from_slice(b"* SEARCH");
                for n in numbers {
                    out.push(b' ');
                    write_decimal(out, u64::from(n.get()));
                }
                if let Some(m) = modseq {
                    let _ = write!(out, " (MODSEQ {m})");
                }
            }
            Response::Sort { numbers, modseq } => {
                out.extend_from_slice(b"* SORT");
                for n in numbers {
                    out.push(b' ');
                    write_decimal(out, u64::from(n.get()));
                }
                if let Some(m) = modseq {
                    let _ = write!(out, " (MODSEQ {m})");
                }
            }
            Response::Thread(threads) => {
                out.extend_from_slice(b"* THREAD");
                if !threads.is_empty() {
                    out.push(b' ');
                }
                for t in threads {
                    write_thread(out, t);
                }
            }
            Response::ESearch { tag, uid, items } => {
                out.extend_from_slice(b"* ESEARCH");
                if let Some(t) = tag {
                    out.extend_from_slice(b" (TAG ");
                    write_string(out, t.as_bytes());
                    out.push(b')');
                }
                if *uid {
                    out.extend_from_slice(b" UID");
                }
                for item in items {
                    out.push(b' ');
                    write_esearch_item(out, item);
                }
            }
            Response::Fetch { seq, items } => {
                let mut f = FetchEncoder::begin(out, *seq);
                for item in items {
                    f.item(item);
                }
                f.end();
                return;
            }
            Response::UidFetch { uid, items } => {
                let mut f = FetchEncoder::begin_uid(out, *uid);
                for item in items {
                    f.item(item);
                }
                f.end();
                return;
            }
            Response::XCryUserConfig(pairs) => {
                out.extend_from_slice(b"* XCRY USER-CONFIG (");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    write_string(out, k.as_bytes());
                    out.push(b' ');
                    write_string(out, v);
                }
                out.push(b')');
            }
            Response::XCryBackupFile(path) => {
                out.extend_from_slice(b"* XCRY BACKUP-FILE ");
                write_string(out, path.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}
