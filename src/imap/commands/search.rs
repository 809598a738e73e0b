//! `SEARCH` and `UID SEARCH` with every key of RFC 3501/9051, ESEARCH
//! (RFC 4731), SEARCHRES (RFC 5182), CONDSTORE MODSEQ, OBJECTID and
//! SAVEDATE keys. Keys are compiled once (needles case-folded, sets
//! resolved) and evaluated per message cheapest first: flags, sizes, dates
//! and numbers, then the stored summary's header values, then the decrypted
//! header block, and only then decrypted content. TEXT and BODY keys are
//! first answered or narrowed by the mailbox's encrypted full-text index
//! (`store::fts`, `doc/fts.md`) for the messages it covers; the rest are
//! scanned. Never changes the mailbox; the only state it writes is the
//! saved result (`$`) and the index (a cache of the messages' text).

use std::num::NonZeroU32;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::imap::commands::fetch::SummaryCache;
use crate::imap::commands::{returned, updates};
use crate::imap::context::{self, Ctx, Reply, Unreadable};
use crate::imap::seqset::{Numbers, View};
use crate::imap::wire::command::{SearchCommand, SearchKey, SearchReturnOpt, SeqSet};
use crate::imap::wire::response::{Response, ResponseCode};
use crate::mime::search_text::{self, SearchText};
use crate::mime::Summary;
use crate::store::fts::{self, Answer, FtsIndex, Scope};
use crate::store::mailbox::{Mailbox, MessageInfo};
use crate::store::message_file::MessageReader;
use crate::store::types::{Flag, Modseq, SeqNum, Uid, UidSet};

/// Why a message could not be searched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SearchError {
    /// The message could not be read at all.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// A search thread panicked (a bug; the search is refused, the session
    /// goes on).
    #[error("a search thread panicked")]
    Panicked,
}

#[derive(Clone, Copy)]
enum DateCmp {
    Before,
    On,
    Since,
}

impl DateCmp {
    fn test(self, date: NaiveDate, key: NaiveDate) -> bool {
        match self {
            DateCmp::Before => date < key,
            DateCmp::On => date == key,
            DateCmp::Since => date >= key,
        }
    }
}

#[derive(Clone, Copy)]
enum Field {
    From,
    To,
    Cc,
    Bcc,
    Subject,
}

/// A compiled key. String needles are already case-folded.
enum Key {
    All,
    Never,
    Flag(Flag, bool),
    Keyword(Option<Flag>, bool),
    Recent(bool),
    New,
    /// The messages a sequence set, UID set or `$` names, resolved once by
    /// `imap::seqset` (so both numberings end as the same typed set).
    In(UidSet),
    Internal(DateCmp, NaiveDate),
    /// WITHIN (RFC 5032): INTERNALDATE at or before this instant (OLDER).
    ArrivedBy(i64),
    /// WITHIN: INTERNALDATE after this instant (YOUNGER).
    ArrivedAfter(i64),
    Saved(DateCmp, NaiveDate),
    Larger(u64),
    Smaller(u64),
    /// `MODSEQ n`: messages changed at or after `n`; `None` is 0, which
    /// every message passes.
    ModSeq(Option<Modseq>),
    EmailId(String),
    Sent(DateCmp, NaiveDate),
    Field(Field, String),
    Header(Vec<u8>, String),
    Body(String),
    Text(String),
    /// A TEXT or BODY key with the full-text index's answer: for the
    /// messages the answer covers, a miss is final and (when the answer is
    /// exact) so is a hit; other messages evaluate the key itself.
    Indexed(Arc<Answer>, Box<Key>),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

impl Key {
    /// 0: store facts only; 1: the summary; 2: the decrypted header;
    /// 3: decrypted content.
    fn cost(&self) -> u8 {
        match self {
            Key::Sent(..) | Key::Field(..) => 1,
            Key::Header(..) => 2,
            Key::Body(_) | Key::Text(_) => 3,
            Key::Indexed(a, _) if a.exact => 0,
            Key::Indexed(_, k) | Key::Not(k) => k.cost(),
            Key::Or(a, b) => a.cost().max(b.cost()),
            Key::And(v) => v.iter().map(Key::cost).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Whether the answer depends on the clock (WITHIN), not only on the
    /// messages: such a result cannot be kept live from changes alone.
    fn time_dependent(&self) -> bool {
        match self {
            Key::ArrivedBy(_) | Key::ArrivedAfter(_) => true,
            Key::Not(k) => k.time_dependent(),
            Key::Or(a, b) => a.time_dependent() || b.time_dependent(),
            Key::And(v) => v.iter().any(Key::time_dependent),
            _ => false,
        }
    }

    fn uses_modseq(&self) -> bool {
        match self {
            Key::ModSeq(_) => true,
            Key::Not(k) | Key::Indexed(_, k) => k.uses_modseq(),
            Key::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            Key::And(v) => v.iter().any(Key::uses_modseq),
            _ => false,
        }
    }
}

fn needle(bytes: &[u8]) -> String {
    search_text::fold(&String::from_utf8_lossy(bytes))
}

struct Compiler<'a> {
    view: View<'a>,
    /// Seconds since the epoch when the command started (WITHIN).
    now: i64,
}

impl Compiler<'_> {
    /// The messages `set` names; numbers beyond the mailbox match nothing.
    fn set(&self, set: &SeqSet, numbers: Numbers) -> Key {
        Key::In(UidSet::from_uids(self.view.matching(set, numbers)))
    }

    fn and(&self, keys: &[SearchKey]) -> Key {
        let mut v: Vec<Key> = keys.iter().map(|k| self.key(k)).collect();
        v.sort_by_key(Key::cost);
        if v.len() == 1 {
            v.pop().unwrap_or(Key::All)
        } else {
            Key::And(v)
        }
    }

    fn key(&self, k: &SearchKey) -> Key {
        use SearchKey as S;
        let flag = |f: Flag, set: bool| Key::Flag(f, set);
        match k {
            S::All | S::SaveDateSupported => Key::All,
            S::Answered => flag(Flag::Answered, true),
            S::Unanswered => flag(Flag::Answered, false),
            S::Deleted => flag(Flag::Deleted, true),
            S::Undeleted => flag(Flag::Deleted, false),
            S::Draft => flag(Flag::Draft, true),
            S::Undraft => flag(Flag::Draft, false),
            S::Flagged => flag(Flag::Flagged, true),
            S::Unflagged => flag(Flag::Flagged, false),
            S::Seen => flag(Flag::Seen, true),
            S::Unseen => flag(Flag::Seen, false),
            S::Keyword(w) => Key::Keyword(Flag::keyword(w), true),
            S::Unkeyword(w) => Key::Keyword(Flag::keyword(w), false),
            S::Recent => Key::Recent(true),
            S::Old => Key::Recent(false),
            S::New => Key::New,
            S::Before(d) => Key::Internal(DateCmp::Before, *d),
            S::On(d) => Key::Internal(DateCmp::On, *d),
            S::Since(d) => Key::Internal(DateCmp::Since, *d),
            S::SentBefore(d) => Key::Sent(DateCmp::Before, *d),
            S::SentOn(d) => Key::Sent(DateCmp::On, *d),
            S::SentSince(d) => Key::Sent(DateCmp::Since, *d),
            S::SavedBefore(d) => Key::Saved(DateCmp::Before, *d),
            S::SavedOn(d) => Key::Saved(DateCmp::On, *d),
            S::SavedSince(d) => Key::Saved(DateCmp::Since, *d),
            S::Larger(n) => Key::Larger(*n),
            S::Smaller(n) => Key::Smaller(*n),
            S::From(s) => Key::Field(Field::From, needle(s)),
            S::To(s) => Key::Field(Field::To, needle(s)),
            S::Cc(s) => Key::Field(Field::Cc, needle(s)),
            S::Bcc(s) => Key::Field(Field::Bcc, needle(s)),
            S::Subject(s) => Key::Field(Field::Subject, needle(s)),
            S::Header(name, value) => Key::Header(name.clone(), needle(value)),
            S::Body(s) => Key::Body(needle(s)),
            S::Text(s) => Key::Text(needle(s)),
            S::Not(k) => Key::Not(Box::new(self.key(k))),
            S::Or(a, b) => {
                let (a, b) = (self.key(a), self.key(b));
                if a.cost() <= b.cost() {
                    Key::Or(Box::new(a), Box::new(b))
                } else {
                    Key::Or(Box::new(b), Box::new(a))
                }
            }
            S::And(keys) => self.and(keys),
            S::SeqSet(set) => self.set(set, Numbers::Seq),
            S::Uid(set) => self.set(set, Numbers::Uid),
            S::ModSeq { mod_seq, .. } => Key::ModSeq(context::modseq(*mod_seq)),
            S::EmailId(id) => Key::EmailId(id.clone()),
            S::ThreadId(_) => Key::Never,
            S::Older(n) => Key::ArrivedBy(self.now - i64::from(n.get())),
            S::Younger(n) => Key::ArrivedAfter(self.now - i64::from(n.get())),
        }
    }
}

/// One message under evaluation; what is costly is loaded on first use.
struct Msg<'a> {
    mb: &'a Mailbox,
    cache: &'a mut SummaryCache,
    seq: SeqNum,
    info: MessageInfo,
    summary: Option<Arc<Summary>>,
    header: Option<Vec<u8>>,
    text: Option<SearchText>,
}

impl<'a> Msg<'a> {
    /// A message to evaluate keys against; its summary, header and text
    /// are read only when a key needs them.
    fn new(mb: &'a Mailbox, cache: &'a mut SummaryCache, seq: SeqNum, info: MessageInfo) -> Self {
        Msg {
            mb,
            cache,
            seq,
            info,
            summary: None,
            header: None,
            text: None,
        }
    }

    fn summary(&mut self) -> Result<Arc<Summary>, SearchError> {
        if let Some(s) = &self.summary {
            return Ok(s.clone());
        }
        let uid = self.info.uid;
        let s = self
            .cache
            .get(self.mb, uid)
            .map_err(|source| Unreadable::Store { uid, source })?;
        self.summary = Some(s.clone());
        Ok(s)
    }

    /// The decrypting reader of this message's file.
    fn open(&self) -> Result<MessageReader, Unreadable> {
        let uid = self.info.uid;
        self.mb
            .open_message(uid)
            .map_err(|source| Unreadable::Store { uid, source })
    }

    fn header(&mut self) -> Result<&[u8], SearchError> {
        if self.header.is_none() {
            let s = self.summary()?;
            let uid = self.info.uid;
            let mut r = self.open()?;
            let len = s.root.body_start.saturating_sub(s.root.header_start);
            let h = r
                .read_range(s.root.header_start, len)
                .map_err(|source| Unreadable::Content { uid, source })?;
            self.header = Some(h);
        }
        Ok(self.header.as_deref().unwrap_or_default())
    }

    fn text(&mut self) -> Result<&SearchText, SearchError> {
        if self.text.is_none() {
            let s = self.summary()?;
            let uid = self.info.uid;
            // The same function the index is built with: the two agree.
            let t = fts::search_text(self.mb, uid, &s)
                .map_err(|source| Unreadable::Store { uid, source })?;
            self.text = Some(t);
        }
        Ok(self.text.get_or_insert_with(SearchText::default))
    }

    fn eval(&mut self, k: &Key) -> Result<bool, SearchError> {
        let i = &self.info;
        Ok(match k {
            Key::All => true,
            Key::Never => false,
            Key::Flag(f, set) => i.flags.contains(f) == *set,
            Key::Keyword(Some(f), set) => i.flags.iter().any(|x| x.same_as(f)) == *set,
            Key::Keyword(None, set) => !*set,
            Key::Recent(set) => i.recent == *set,
            Key::New => i.recent && !i.flags.contains(&Flag::Seen),
            Key::In(set) => set.contains(i.uid),
            Key::Internal(c, d) => i
                .internal
                .to_chrono()
                .is_some_and(|t| c.test(t.date_naive(), *d)),
            Key::ArrivedBy(t) => i.internal.unix_secs <= *t,
            Key::ArrivedAfter(t) => i.internal.unix_secs > *t,
            Key::Saved(c, d) => chrono::DateTime::from_timestamp(i.saved, 0)
                .is_some_and(|t| c.test(t.date_naive(), *d)),
            Key::Larger(n) => u64::from(i.size) > *n,
            Key::Smaller(n) => u64::from(i.size) < *n,
            Key::ModSeq(min) => min.map_or(true, |m| i.modseq >= m),
            Key::EmailId(id) => id
                .strip_prefix('M')
                .is_some_and(|h| h.eq_ignore_ascii_case(&i.name.to_string())),
            Key::Sent(c, d) => self
                .summary()?
                .search
                .date
                .and_then(|m| m.to_datetime())
                .is_some_and(|t| c.test(t.date_naive(), *d)),
            Key::Field(f, n) => {
                let s = self.summary()?;
                let v = match f {
                    Field::From => &s.search.from,
                    Field::To => &s.search.to,
                    Field::Cc => &s.search.cc,
                    Field::Bcc => &s.search.bcc,
                    Field::Subject => &s.search.subject,
                };
                n.is_empty() || search_text::fold(v).contains(n.as_str())
            }
            Key::Header(name, n) => {
                let values = search_text::header_values(self.header()?, name);
                values
                    .iter()
                    .any(|v| n.is_empty() || search_text::fold(v).contains(n.as_str()))
            }
            Key::Body(n) => self.text()?.body.contains(n.as_str()),
            Key::Text(n) => {
                let t = self.text()?;
                t.headers.contains(n.as_str()) || t.body.contains(n.as_str())
            }
            Key::Indexed(a, k) => {
                let uid = self.info.uid;
                if a.coverage.covers(uid) {
                    a.hits.contains(uid.get()) && (a.exact || self.eval(k)?)
                } else {
                    self.eval(k)?
                }
            }
            Key::Not(k) => !self.eval(k)?,
            Key::Or(a, b) => self.eval(a)? || self.eval(b)?,
            Key::And(v) => {
                for k in v {
                    if !self.eval(k)? {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }
}

/// One matching message: (sequence number, UID, modseq).
pub(crate) type Hit = (SeqNum, Uid, Modseq);

/// Hits in sequence order.
pub(crate) type Hits = Vec<Hit>;

/// Messages below which a content search is not worth a second thread.
const PARALLEL_MIN: usize = 32;

/// Evaluates `key` over `msgs` (in sequence order); returns the hits.
/// Searches that must decrypt content run on every core, each thread with
/// its own summary cache; cheaper ones run here with the session's cache.
fn evaluate(
    mb: &Mailbox,
    cache: &mut SummaryCache,
    key: &Key,
    msgs: &[(SeqNum, Uid)],
) -> Result<Hits, SearchError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if key.cost() < 3 || threads < 2 || msgs.len() < PARALLEL_MIN {
        return evaluate_range(mb, cache, key, msgs);
    }
    let chunk = msgs.len().div_ceil(threads);
    let parts: Vec<Result<Hits, SearchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = msgs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut local = SummaryCache::default();
                    evaluate_range(mb, &mut local, key, part)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(SearchError::Panicked)))
            .collect()
    });
    let mut hits = Vec::new();
    for p in parts {
        hits.extend(p?);
    }
    Ok(hits)
}

/// Evaluates `key` over `msgs`.
fn evaluate_range(
    mb: &Mailbox,
    cache: &mut SummaryCache,
    key: &Key,
    msgs: &[(SeqNum, Uid)],
) -> Result<Hits, SearchError> {
    let mut hits = Vec::new();
    if key.always() {
        // `ALL` (what SORT and THREAD are mostly given): no per-message
        // facts beyond the modseq, so no flag list is built for each.
        hits.extend(msgs.iter().filter_map(|&(seq, uid)| {
            let f = mb.facts_near(uid, seq.index())?;
            Some((seq, uid, f.modseq))
        }));
        return Ok(hits);
    }
    for &(seq, uid) in msgs {
        let Some(info) = mb.info(uid) else {
            continue;
        };
        let modseq = info.modseq;
        let mut m = Msg::new(mb, cache, seq, info);
        if m.eval(key)? {
            hits.push((m.seq, uid, modseq));
        }
    }
    Ok(hits)
}

/// A compiled search: sequence sets, `$` and UID sets already resolved to
/// the messages they named when the command ran. What an RFC 5267 UPDATE
/// context evaluates again for each changed message.
pub(crate) struct Program {
    key: Key,
}

impl Program {
    /// WITHIN keys: the result changes with the clock, not with messages.
    pub(crate) fn time_dependent(&self) -> bool {
        self.key.time_dependent()
    }

    /// Those of `uids` (each in the session's view) that match, in the
    /// order given.
    pub(crate) fn filter(
        &self,
        mb: &Mailbox,
        cache: &mut SummaryCache,
        uids: &[Uid],
    ) -> Result<Vec<Uid>, SearchError> {
        let mut hits = Vec::new();
        for &uid in uids {
            let (Some(info), Some(seq)) = (mb.info(uid), mb.seq_of(uid)) else {
                continue;
            };
            let mut m = Msg::new(mb, cache, seq, info);
            if m.eval(&self.key)? {
                hits.push(uid);
            }
        }
        Ok(hits)
    }
}

/// The messages `criteria` (implicitly ANDed) match in the selected
/// mailbox, in sequence order, and whether they used MODSEQ (which then
/// turns CONDSTORE on, RFC 7162 §3.1). SEARCH, SORT and THREAD share it.
pub(crate) fn matching(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    criteria: &[SearchKey],
) -> Result<(Hits, bool), Reply> {
    matching_program(ctx, out, criteria).map(|(h, m, _)| (h, m))
}

/// [`matching`], also giving the compiled search (for UPDATE contexts).
pub(crate) fn matching_program(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    criteria: &[SearchKey],
) -> Result<(Hits, bool, Program), Reply> {
    let Ctx {
        selected,
        summaries,
        enabled,
        fts: index,
        ..
    } = ctx;
    let Some(sel) = selected.as_mut() else {
        return Err(Reply::bad("No mailbox selected"));
    };
    let key = Compiler {
        view: View::of(sel),
        now: chrono::Utc::now().timestamp(),
    }
    .and(criteria);
    let uses_modseq = key.uses_modseq();
    if uses_modseq && !enabled.condstore {
        // RFC 7162 §3.1: SEARCH MODSEQ turns CONDSTORE on.
        enabled.condstore = true;
        crate::imap::commands::selected::write_highest_modseq(out, &sel.mailbox);
    }
    let mb = &sel.mailbox;
    let key = if key.reads_text() {
        // The index is a cache: if it cannot be brought up to date, what
        // it does not cover is scanned.
        if let Err(e) = index.sync(mb) {
            log::warn!("full-text index of mailbox {}: {e}", mb.id());
        }
        with_index(key, index)
    } else {
        key
    };
    let only = key.narrowed();
    let msgs: Vec<(SeqNum, Uid)> = mb
        .uids()
        .enumerate()
        .filter_map(|(i, uid)| Some((SeqNum::from_index(i)?, uid)))
        .filter(|&(_, uid)| {
            only.map_or(true, |a| {
                !a.coverage.covers(uid) || a.hits.contains(uid.get())
            })
        })
        .collect();
    match evaluate(mb, summaries, &key, &msgs) {
        // The program keeps the index's answers: they stay true for the
        // messages they cover, and others (new mail) evaluate the key.
        Ok(hits) => Ok((hits, uses_modseq, Program { key })),
        Err(e) => Err(Reply::server_bug("SEARCH", &e)),
    }
}

impl Key {
    /// Whether every message matches, whatever it holds.
    fn always(&self) -> bool {
        match self {
            Key::All => true,
            Key::And(v) => v.iter().all(Key::always),
            _ => false,
        }
    }

    /// Whether evaluating this key reads message text (TEXT, BODY).
    fn reads_text(&self) -> bool {
        match self {
            Key::Body(_) | Key::Text(_) => true,
            Key::Not(k) | Key::Indexed(_, k) => k.reads_text(),
            Key::Or(a, b) => a.reads_text() || b.reads_text(),
            Key::And(v) => v.iter().any(Key::reads_text),
            _ => false,
        }
    }

    /// An index answer every match must agree with (the key itself or a
    /// conjunct of it), to skip the messages it rules out.
    fn narrowed(&self) -> Option<&Answer> {
        match self {
            Key::Indexed(a, _) => Some(a),
            Key::And(v) => v.iter().find_map(Key::narrowed),
            _ => None,
        }
    }
}

/// `key` with each TEXT and BODY key carrying the index's answer.
fn with_index(key: Key, index: &FtsIndex) -> Key {
    let answer = |n: &str, scope| index.query(n, scope).map(Arc::new);
    match key {
        Key::Body(n) => match answer(&n, Scope::Body) {
            Some(a) => Key::Indexed(a, Box::new(Key::Body(n))),
            None => Key::Body(n),
        },
        Key::Text(n) => match answer(&n, Scope::Text) {
            Some(a) => Key::Indexed(a, Box::new(Key::Text(n))),
            None => Key::Text(n),
        },
        Key::Not(k) => Key::Not(Box::new(with_index(*k, index))),
        Key::Or(a, b) => Key::Or(
            Box::new(with_index(*a, index)),
            Box::new(with_index(*b, index)),
        ),
        Key::And(v) => {
            let mut v: Vec<Key> = v.into_iter().map(|k| with_index(k, index)).collect();
            v.sort_by_key(Key::cost);
            Key::And(v)
        }
        k => k,
    }
}

/// Answers NO unless `charset` is one SEARCH, SORT and THREAD accept.
pub(crate) fn check_charset(charset: &str) -> Result<(), Reply> {
    if charset.eq_ignore_ascii_case("UTF-8") || charset.eq_ignore_ascii_case("US-ASCII") {
        return Ok(());
    }
    Err(Reply::no(
        Some(ResponseCode::BadCharset(vec![
            "UTF-8".to_owned(),
            "US-ASCII".to_owned(),
        ])),
        "Unsupported charset",
    ))
}

/// `[UID] SEARCH`; `tag` is the command's tag, which ESEARCH echoes.
pub(crate) fn search(ctx: &mut Ctx, out: &mut Vec<u8>, tag: &str, cmd: &SearchCommand) -> Reply {
    let opts = cmd.return_opts.clone();
    let save = opts
        .as_ref()
        .is_some_and(|o| o.contains(&SearchReturnOpt::Save));
    let reply = run(ctx, out, tag, cmd, opts);
    if save && reply.status != crate::imap::wire::response::Status::Ok {
        // RFC 5182 §2.1: a failed SEARCH RETURN (SAVE) empties `$`.
        if let Some(sel) = ctx.selected.as_mut() {
            sel.saved.clear();
        }
    }
    reply
}

fn run(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    tag: &str,
    cmd: &SearchCommand,
    opts: Option<Vec<SearchReturnOpt>>,
) -> Reply {
    if let Some(cs) = &cmd.charset {
        if let Err(reply) = check_charset(cs) {
            return reply;
        }
    }
    let rev2 = ctx.enabled.rev2;
    let update = opts
        .as_ref()
        .is_some_and(|o| o.contains(&SearchReturnOpt::Update));
    if update {
        if let Err(r) = updates::check_tag(ctx, tag) {
            return r;
        }
    }
    let (hits, uses_modseq, program) = match matching_program(ctx, out, &cmd.criteria) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let Some(sel) = ctx.selected.as_mut() else {
        return Reply::bad("No mailbox selected");
    };
    let modseqs: Vec<Modseq> = hits.iter().map(|h| h.2).collect();
    // The numbers the response carries: UIDs or sequence numbers.
    let numbers: Vec<NonZeroU32> = hits
        .iter()
        .filter_map(|&(s, u, _)| NonZeroU32::new(if cmd.uid { u.get() } else { s.get() }))
        .collect();
    let opts = match opts {
        None if rev2 => Some(vec![SearchReturnOpt::All]),
        Some(o) if o.is_empty() => Some(vec![SearchReturnOpt::All]),
        o => o,
    };
    let Some(opts) = opts else {
        let modseq = modseqs.iter().max().filter(|_| uses_modseq).copied();
        Response::Search { numbers, modseq }.encode(out);
        return Reply::ok("SEARCH completed");
    };
    let reply = returned::answer(
        &opts,
        &hits,
        cmd.uid,
        uses_modseq,
        Some(&mut sel.saved),
        tag,
        out,
        "SEARCH",
    );
    if update && reply.status == crate::imap::wire::response::Status::Ok {
        let new = updates::NewContext {
            tag,
            uid: cmd.uid,
            program,
            order: None,
            result: hits.iter().map(|h| h.1).collect(),
        };
        updates::register(ctx, out, new);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn cheap_keys_are_evaluated_first() {
        let k = Key::And(vec![
            Key::Text("x".into()),
            Key::Header(b"a".to_vec(), "b".into()),
        ]);
        assert_eq!(k.cost(), 3);
        let mut v = [
            Key::Text("x".into()),
            Key::Header(b"a".to_vec(), String::new()),
            Key::Field(Field::From, "a".into()),
            Key::Flag(Flag::Seen, true),
        ];
        v.sort_by_key(Key::cost);
        let costs: Vec<u8> = v.iter().map(Key::cost).collect();
        assert_eq!(costs, vec![0, 1, 2, 3]);
        assert!(Key::Not(Box::new(Key::ModSeq(Modseq::new(1)))).uses_modseq());
        assert!(!Key::Or(Box::new(Key::All), Box::new(Key::Never)).uses_modseq());
    }

    #[test]
    fn date_comparisons() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        assert!(DateCmp::Before.test(d("2024-01-01"), d("2024-01-02")));
        assert!(!DateCmp::Before.test(d("2024-01-02"), d("2024-01-02")));
        assert!(DateCmp::On.test(d("2024-01-02"), d("2024-01-02")));
        assert!(DateCmp::Since.test(d("2024-01-02"), d("2024-01-02")));
        assert!(!DateCmp::Since.test(d("2024-01-01"), d("2024-01-02")));
    }
}
