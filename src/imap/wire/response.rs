//! The IMAP response writer: low-level token writers (atoms, strings,
//! literals, mailbox names, flags, sequence sets) and typed status lines.
//!
//! Every function here produces syntactically valid output whatever the
//! input: strings that cannot be quoted become literals, free text is
//! sanitised, atoms are filtered. It never decides *what* to answer (the
//! session does) and never performs I/O: it appends to a `Vec<u8>`.

use chrono::{DateTime, FixedOffset};

use crate::imap::wire::command::{Flag, FlagPerm, ModSeq, SeqNum, SeqRange, SeqSet};
use crate::imap::wire::mutf7;

/// Strings at least this long are always sent as literals.
const MAX_QUOTED: usize = 1024;

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
    UidNext(u32),
    /// `UIDVALIDITY n`
    UidValidity(u32),
    /// `UNSEEN n`
    Unseen(u32),
    /// `APPENDUID uidvalidity uids` (RFC 4315)
    AppendUid {
        /// Destination UIDVALIDITY.
        uid_validity: u32,
        /// Assigned UIDs.
        uids: SeqSet,
    },
    /// `COPYUID uidvalidity source dest` (RFC 4315)
    CopyUid {
        /// Destination UIDVALIDITY.
        uid_validity: u32,
        /// Source UIDs.
        source: SeqSet,
        /// Destination UIDs, element-wise matching `source`.
        dest: SeqSet,
    },
    /// `UIDNOTSTICKY`
    UidNotSticky,
    /// `HIGHESTMODSEQ n` (RFC 7162)
    HighestModSeq(ModSeq),
    /// `NOMODSEQ`
    NoModSeq,
    /// `MODIFIED set`
    Modified(SeqSet),
    /// `CLOSED` (RFC 7162)
    Closed,
    /// `TOOBIG` (RFC 7889)
    TooBig,
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
    /// Any other code: an atom and optional text (sanitised when written).
    Other(String, Option<String>),
}

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
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
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
    out.extend_from_slice(len.to_string().as_bytes());
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

/// Appends an astring: a bare atom when possible (not `NIL`), else a string.
pub fn write_astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_atom_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        write_string(out, s);
    }
}

/// Appends a `~{n}` literal8 followed by the raw bytes (RFC 3516).
pub fn write_binary_literal(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'~');
    write_literal_header(out, data.len(), false);
    out.extend_from_slice(data);
}

/// Appends a mailbox name: modified UTF-7 unless `utf8` (UTF8=ACCEPT).
pub fn write_mailbox(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        write_string(out, name.as_bytes());
    } else {
        write_string(out, mutf7::encode(name).as_bytes());
    }
}

/// Appends an RFC 3501 `date-time` such as `" 7-Feb-1994 21:52:25 -0800"`
/// (INTERNALDATE, SAVEDATE).
pub fn write_date_time(out: &mut Vec<u8>, dt: &DateTime<FixedOffset>) {
    out.extend_from_slice(dt.format("\"%e-%b-%Y %H:%M:%S %z\"").to_string().as_bytes());
}

/// Appends one flag.
pub fn write_flag(out: &mut Vec<u8>, flag: &Flag) {
    match flag {
        Flag::Answered => out.extend_from_slice(b"\\Answered"),
        Flag::Flagged => out.extend_from_slice(b"\\Flagged"),
        Flag::Deleted => out.extend_from_slice(b"\\Deleted"),
        Flag::Seen => out.extend_from_slice(b"\\Seen"),
        Flag::Draft => out.extend_from_slice(b"\\Draft"),
        Flag::Recent => out.extend_from_slice(b"\\Recent"),
        Flag::Keyword(k) => write_atom(out, k),
        Flag::Extension(e) => {
            out.push(b'\\');
            write_atom(out, e);
        }
    }
}

/// Appends `(flag flag ...)`.
pub fn write_flag_list(out: &mut Vec<u8>, flags: &[Flag]) {
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
pub fn write_flag_perm_list(out: &mut Vec<u8>, flags: &[FlagPerm]) {
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

fn write_seq_num(out: &mut Vec<u8>, n: SeqNum) {
    match n {
        SeqNum::Value(v) => out.extend_from_slice(v.to_string().as_bytes()),
        SeqNum::Star => out.push(b'*'),
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
pub fn write_response_code(out: &mut Vec<u8>, code: &ResponseCode) {
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
        ResponseCode::UidValidity(n) => write_uint(out, "UIDVALIDITY", n),
        ResponseCode::Unseen(n) => write_uint(out, "UNSEEN", n),
        ResponseCode::AppendUid { uid_validity, uids } => {
            write_uint(out, "APPENDUID", uid_validity);
            out.push(b' ');
            write_seq_set(out, uids);
        }
        ResponseCode::CopyUid {
            uid_validity,
            source,
            dest,
        } => {
            write_uint(out, "COPYUID", uid_validity);
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
        ResponseCode::Other(atom, text) => {
            write_atom(out, atom);
            if let Some(t) = text {
                out.push(b' ');
                write_text(out, t, true);
            }
        }
    }
}

/// Builds a complete status response line ending in CRLF:
/// `tag|* STATUS [CODE] text`. The text is sanitised (no CR, LF, NUL); an
/// empty text becomes `done` because IMAP4rev1 requires at least one char.
pub fn status_line(
    tag: Option<&str>,
    status: Status,
    code: Option<&ResponseCode>,
    text: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + text.len());
    match tag {
        Some(t) => write_tag(&mut out, t),
        None => out.push(b'*'),
    }
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    if let Some(code) = code {
        out.push(b'[');
        write_response_code(&mut out, code);
        out.extend_from_slice(b"] ");
    }
    let text = if text.is_empty() { "done" } else { text };
    // Without a code, a leading '[' would be read as the start of one.
    let text = match (code, text.strip_prefix('[')) {
        (None, Some(rest)) => {
            out.push(b'(');
            rest
        }
        _ => text,
    };
    write_text(&mut out, text, false);
    out.extend_from_slice(b"\r\n");
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }

    #[test]
    fn strings_quote_or_literal() {
        assert_eq!(s(|o| write_string(o, b"hello")), "\"hello\"");
        assert_eq!(s(|o| write_string(o, b"a\"b\\c")), "\"a\\\"b\\\\c\"");
        assert_eq!(s(|o| write_string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(s(|o| write_string(o, "é".as_bytes())), "{2}\r\né");
        assert_eq!(s(|o| write_string(o, b"")), "\"\"");
        let long = vec![b'x'; 2000];
        assert!(s(|o| write_string(o, &long)).starts_with("{2000}\r\n"));
        assert_eq!(
            s(|o| write_string_opts(o, b"a\0", true, false)),
            "~{2}\r\na\0"
        );
        assert_eq!(
            s(|o| write_string_opts(o, b"a\0", false, true)),
            "{2+}\r\na\0"
        );
        assert_eq!(s(|o| write_nstring(o, None)), "NIL");
        assert_eq!(s(|o| write_astring(o, b"user")), "user");
        assert_eq!(s(|o| write_astring(o, b"nil")), "\"nil\"");
        assert_eq!(s(|o| write_astring(o, b"a b")), "\"a b\"");
        assert_eq!(s(|o| write_binary_literal(o, b"\0\x01")), "~{2}\r\n\0\x01");
    }

    #[test]
    fn mailboxes_and_flags() {
        assert_eq!(
            s(|o| write_mailbox(o, "Entwürfe", false)),
            "\"Entw&APw-rfe\""
        );
        assert_eq!(s(|o| write_mailbox(o, "Entwürfe", true)), "{9}\r\nEntwürfe");
        assert_eq!(
            s(|o| write_flag_list(o, &[Flag::Seen, Flag::Keyword("$Junk".into())])),
            "(\\Seen $Junk)"
        );
        assert_eq!(
            s(|o| write_flag_perm_list(o, &[FlagPerm::Flag(Flag::Deleted), FlagPerm::Any])),
            "(\\Deleted \\*)"
        );
        assert_eq!(s(|o| write_atom(o, "a b(c")), "abc");
        assert_eq!(s(|o| write_atom(o, "")), "X");
    }

    #[test]
    fn date_times() {
        let dt = FixedOffset::west_opt(8 * 3600)
            .and_then(|o| chrono::TimeZone::with_ymd_and_hms(&o, 1994, 2, 7, 21, 52, 25).single());
        let Some(dt) = dt else {
            panic!("valid date");
        };
        assert_eq!(
            s(|o| write_date_time(o, &dt)),
            "\" 7-Feb-1994 21:52:25 -0800\""
        );
    }

    #[test]
    fn seq_sets() {
        let set = SeqSet::from_numbers([1, 2, 3, 7, 9, 10, 4]).expect("non-empty");
        assert_eq!(s(|o| write_seq_set(o, &set)), "1:3,7,9:10,4");
        assert_eq!(SeqSet::from_numbers([0]), None);
        let star = SeqSet::Ranges(vec![SeqRange::Range(
            SeqNum::Value(NonZeroU32::MIN),
            SeqNum::Star,
        )]);
        assert_eq!(s(|o| write_seq_set(o, &star)), "1:*");
        assert_eq!(s(|o| write_seq_set(o, &SeqSet::Saved)), "$");
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            status_line(Some("a1"), Status::Ok, None, "done\r\nbad"),
            b"a1 OK done  bad\r\n"
        );
        assert_eq!(
            status_line(None, Status::No, Some(&ResponseCode::TooBig), "too big"),
            b"* NO [TOOBIG] too big\r\n"
        );
        let code = ResponseCode::CopyUid {
            uid_validity: 7,
            source: SeqSet::from_numbers([1, 2]).expect("non-empty"),
            dest: SeqSet::from_numbers([5, 6]).expect("non-empty"),
        };
        assert_eq!(
            status_line(Some("t"), Status::Ok, Some(&code), "copied"),
            b"t OK [COPYUID 7 1:2 5:6] copied\r\n"
        );
        assert_eq!(
            status_line(Some("t"), Status::Bad, None, ""),
            b"t BAD done\r\n"
        );
        assert_eq!(
            status_line(Some("t"), Status::Bad, None, "[x"),
            b"t BAD (x\r\n"
        );
        let other = ResponseCode::Other("X-FOO".into(), Some("a]b\n".into()));
        assert_eq!(
            status_line(None, Status::Ok, Some(&other), "hi"),
            b"* OK [X-FOO a)b ] hi\r\n"
        );
        let caps = ResponseCode::Capability(vec!["IMAP4rev1".into(), "AUTH=PLAIN".into()]);
        assert_eq!(
            status_line(None, Status::PreAuth, Some(&caps), "hi"),
            b"* PREAUTH [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"
        );
        let pf = ResponseCode::PermanentFlags(vec![FlagPerm::Flag(Flag::Seen), FlagPerm::Any]);
        assert_eq!(
            status_line(None, Status::Ok, Some(&pf), "x"),
            b"* OK [PERMANENTFLAGS (\\Seen \\*)] x\r\n"
        );
        assert_eq!(
            status_line(Some("a b"), Status::Bye, None, "x"),
            b"aXb BYE x\r\n"
        );
    }
}
