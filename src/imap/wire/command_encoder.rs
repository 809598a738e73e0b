//! The client side of the command grammar: turns a [`Command`] value back
//! into the bytes a client sends. Used by `remote`, the test client and the
//! parser's round-trip tests and fuzz target; the server never encodes a
//! command. Never performs I/O.

use std::num::NonZeroU32;

use chrono::NaiveDate;

use crate::imap::wire::command::*;
use crate::imap::wire::response::{
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
            self.astring(crate::imap::wire::mutf7::encode(name).as_bytes());
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

    /// RFC 4466 `append-message`: flags, date, then the data.
    fn append_message(&mut self, m: &AppendMessage) {
        if !m.flags.is_empty() {
            write_flag_list(&mut self.out, &m.flags);
            self.sp();
        }
        if let Some(d) = &m.internal_date {
            write_date_time(&mut self.out, d);
            self.sp();
        }
        match &m.kind {
            AppendKind::Literal => self.literal(&m.data, false),
            AppendKind::Literal8 => self.literal(&m.data, true),
            AppendKind::Utf8 => {
                self.raw("UTF8 (");
                self.literal(&m.data, true);
                self.raw(")");
            }
            AppendKind::Catenate(parts) => {
                self.raw("CATENATE ");
                self.list(parts, |e, p| match p {
                    CatPart::Text(data) => {
                        e.raw("TEXT ");
                        e.literal(data, false);
                    }
                    CatPart::Text8(data) => {
                        e.raw("TEXT ");
                        e.literal(data, true);
                    }
                    CatPart::Url(url) => {
                        e.raw("URL ");
                        e.astring(url.as_bytes());
                    }
                });
            }
        }
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

    fn select(&mut self, verb: &str, mailbox: &MailboxArg, p: &SelectParams) {
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

    fn return_opts(&mut self, opts: Option<&[SearchReturnOpt]>) {
        if let Some(r) = opts {
            self.raw(" RETURN ");
            self.list(r, |e, o| {
                e.raw(match o {
                    SearchReturnOpt::Min => "MIN",
                    SearchReturnOpt::Max => "MAX",
                    SearchReturnOpt::All => "ALL",
                    SearchReturnOpt::Count => "COUNT",
                    SearchReturnOpt::Save => "SAVE",
                    SearchReturnOpt::Update => "UPDATE",
                    SearchReturnOpt::Context => "CONTEXT",
                    SearchReturnOpt::Partial(r) => {
                        e.raw("PARTIAL ");
                        e.raw(&r.to_string());
                        return;
                    }
                })
            });
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
            K::Older(n) | K::Younger(n) => {
                self.raw(if matches!(k, K::Older(_)) {
                    "OLDER "
                } else {
                    "YOUNGER "
                });
                self.num(n);
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
            FetchAttr::Preview { lazy } => {
                self.raw(if *lazy { "PREVIEW (LAZY)" } else { "PREVIEW" })
            }
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
            B::CancelUpdate { tags } => {
                self.raw("CANCELUPDATE");
                for t in tags {
                    self.raw(" ");
                    self.string(t.as_bytes());
                }
            }
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
                        UseAttr::Known(k) => e.raw(k.as_imap()),
                        UseAttr::Other(o) => {
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
                    self.append_message(m);
                }
            }
            B::Replace {
                uid,
                target,
                mailbox,
                message,
            } => {
                self.uid(*uid);
                self.raw("REPLACE ");
                write_seq_set(
                    &mut self.out,
                    &SeqSet::Ranges(vec![SeqRange::Single(*target)]),
                );
                self.sp();
                self.name(&mailbox.0);
                self.sp();
                self.append_message(message);
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
                self.return_opts(s.return_opts.as_deref());
                if let Some(c) = &s.charset {
                    self.raw(" CHARSET ");
                    self.astring(c.as_bytes());
                }
                for k in &s.criteria {
                    self.sp();
                    self.search_key(k);
                }
            }
            B::Sort(s) => {
                self.uid(s.uid);
                self.raw("SORT");
                self.return_opts(s.return_opts.as_deref());
                self.sp();
                self.list(&s.criteria, |e, c| {
                    if c.reverse {
                        e.raw("REVERSE ");
                    }
                    e.raw(c.key.name());
                });
                self.sp();
                self.astring(s.charset.as_bytes());
                for k in &s.search {
                    self.sp();
                    self.search_key(k);
                }
            }
            B::Thread(t) => {
                self.uid(t.uid);
                self.raw("THREAD ");
                self.raw(t.algorithm.name());
                self.sp();
                self.astring(t.charset.as_bytes());
                for k in &t.search {
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
                if let Some(p) = f.partial {
                    mods.push(format!("PARTIAL {p}"));
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
                    for setting in pairs {
                        let (key, value) = match setting {
                            Ok(s) => (s.name(), s.value()),
                            Err(u) => (u.key.as_str(), u.value.as_slice()),
                        };
                        self.sp();
                        self.atom(key);
                        self.sp();
                        self.astring(value);
                    }
                }
            },
            B::XVanquish { uids } => {
                self.raw("XVANQUISH ");
                self.set(uids);
            }
            B::Notify(n) => self.notify(n),
        }
    }

    fn notify(&mut self, n: &NotifyCommand) {
        let NotifyCommand::Set { status, groups } = n else {
            self.raw("NOTIFY NONE");
            return;
        };
        self.raw("NOTIFY SET");
        if *status {
            self.raw(" STATUS");
        }
        for g in groups {
            self.raw(" (");
            match &g.filter {
                NotifyFilter::Selected => self.raw("SELECTED"),
                NotifyFilter::SelectedDelayed => self.raw("SELECTED-DELAYED"),
                NotifyFilter::Inboxes => self.raw("INBOXES"),
                NotifyFilter::Personal => self.raw("PERSONAL"),
                NotifyFilter::Subscribed => self.raw("SUBSCRIBED"),
                NotifyFilter::Subtree(m) | NotifyFilter::Mailboxes(m) => {
                    self.raw(if matches!(g.filter, NotifyFilter::Subtree(_)) {
                        "SUBTREE "
                    } else {
                        "MAILBOXES "
                    });
                    self.list(m, |e, m| e.name(&m.0));
                }
            }
            self.sp();
            match &g.events {
                None => self.raw("NONE"),
                Some(events) => self.list(events, |e, ev| {
                    e.raw(ev.name());
                    if let NotifyEvent::MessageNew(attrs) = ev {
                        if !attrs.is_empty() {
                            e.sp();
                            e.list(attrs, |e, a| e.fetch_attr(a));
                        }
                    }
                }),
            }
            self.raw(")");
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
