//! The SEARCH command and its keys (RFC 9051 §6.4.4, RFC 4731 ESEARCH
//! return options, RFC 7162 MODSEQ), nesting capped at [`MAX_DEPTH`].

use chrono::NaiveDate;
use nom::bytes::complete::take_while1;

use super::*;

pub(super) fn search_key<'a>(i: &'a [u8], depth: usize) -> R<'a, SearchKey> {
    if depth > MAX_DEPTH {
        return fail("search criteria nested too deeply");
    }
    match peek(i) {
        Some(b'(') => {
            let (rest, keys) = paren_list(i, false, |i| search_key(i, depth + 1))?;
            return Ok((rest, SearchKey::And(keys)));
        }
        Some(c) if c.is_ascii_digit() || c == b'*' || c == b'$' => {
            let (rest, set) = seq_set(i)?;
            return Ok((rest, SearchKey::SeqSet(set)));
        }
        _ => {}
    }
    let (i, name) = ctx("expected search key", atom)(i)?;
    let name = name.to_ascii_uppercase();
    let simple = match name.as_slice() {
        b"ALL" => Some(SearchKey::All),
        b"ANSWERED" => Some(SearchKey::Answered),
        b"DELETED" => Some(SearchKey::Deleted),
        b"DRAFT" => Some(SearchKey::Draft),
        b"FLAGGED" => Some(SearchKey::Flagged),
        b"NEW" => Some(SearchKey::New),
        b"OLD" => Some(SearchKey::Old),
        b"RECENT" => Some(SearchKey::Recent),
        b"SEEN" => Some(SearchKey::Seen),
        b"UNANSWERED" => Some(SearchKey::Unanswered),
        b"UNDELETED" => Some(SearchKey::Undeleted),
        b"UNDRAFT" => Some(SearchKey::Undraft),
        b"UNFLAGGED" => Some(SearchKey::Unflagged),
        b"UNSEEN" => Some(SearchKey::Unseen),
        b"SAVEDATESUPPORTED" => Some(SearchKey::SaveDateSupported),
        _ => None,
    };
    if let Some(k) = simple {
        return Ok((i, k));
    }
    const WITH_ARGS: &[&[u8]] = &[
        b"BCC",
        b"BODY",
        b"CC",
        b"FROM",
        b"SUBJECT",
        b"TEXT",
        b"TO",
        b"BEFORE",
        b"ON",
        b"SINCE",
        b"SENTBEFORE",
        b"SENTON",
        b"SENTSINCE",
        b"SAVEDBEFORE",
        b"SAVEDON",
        b"SAVEDSINCE",
        b"HEADER",
        b"KEYWORD",
        b"UNKEYWORD",
        b"LARGER",
        b"SMALLER",
        b"UID",
        b"NOT",
        b"OR",
        b"MODSEQ",
        b"EMAILID",
        b"THREADID",
        b"OLDER",
        b"YOUNGER",
    ];
    if !WITH_ARGS.contains(&name.as_slice()) {
        return fail(format!("unknown search key {}", shown(&name)));
    }
    let (i, ()) = sp(i).or_else(|_| fail("expected SP after search key"))?;
    let text = |i: &'a [u8], f: fn(Vec<u8>) -> SearchKey| {
        astring(i, "expected search string").map(|(r, s)| (r, f(s.into_owned())))
    };
    let on_date = |i: &'a [u8], f: fn(NaiveDate) -> SearchKey| date(i).map(|(r, d)| (r, f(d)));
    match name.as_slice() {
        b"BCC" => text(i, SearchKey::Bcc),
        b"BODY" => text(i, SearchKey::Body),
        b"CC" => text(i, SearchKey::Cc),
        b"FROM" => text(i, SearchKey::From),
        b"SUBJECT" => text(i, SearchKey::Subject),
        b"TEXT" => text(i, SearchKey::Text),
        b"TO" => text(i, SearchKey::To),
        b"BEFORE" => on_date(i, SearchKey::Before),
        b"ON" => on_date(i, SearchKey::On),
        b"SINCE" => on_date(i, SearchKey::Since),
        b"SENTBEFORE" => on_date(i, SearchKey::SentBefore),
        b"SENTON" => on_date(i, SearchKey::SentOn),
        b"SENTSINCE" => on_date(i, SearchKey::SentSince),
        b"SAVEDBEFORE" => on_date(i, SearchKey::SavedBefore),
        b"SAVEDON" => on_date(i, SearchKey::SavedOn),
        b"SAVEDSINCE" => on_date(i, SearchKey::SavedSince),
        b"HEADER" => {
            let (i, field) = astring(i, "expected header field name")?;
            let (i, ()) = sp(i)?;
            let (i, value) = astring(i, "expected search string")?;
            Ok((i, SearchKey::Header(field.into_owned(), value.into_owned())))
        }
        b"KEYWORD" => {
            ctx("expected keyword", atom_string)(i).map(|(r, k)| (r, SearchKey::Keyword(k)))
        }
        b"UNKEYWORD" => {
            ctx("expected keyword", atom_string)(i).map(|(r, k)| (r, SearchKey::Unkeyword(k)))
        }
        b"LARGER" => number64(i).map(|(r, n)| (r, SearchKey::Larger(n))),
        b"SMALLER" => number64(i).map(|(r, n)| (r, SearchKey::Smaller(n))),
        b"UID" => seq_set(i).map(|(r, s)| (r, SearchKey::Uid(s))),
        b"NOT" => {
            let (i, k) = search_key(i, depth + 1)?;
            Ok((i, SearchKey::Not(Box::new(k))))
        }
        b"OR" => {
            let (i, a) = search_key(i, depth + 1)?;
            let (i, ()) = sp(i)?;
            let (i, b) = search_key(i, depth + 1)?;
            Ok((i, SearchKey::Or(Box::new(a), Box::new(b))))
        }
        b"MODSEQ" => {
            let (i, entry) = if peek(i) == Some(b'"') || peek(i) == Some(b'{') {
                let (i, name) = string(i)?;
                let (i, ()) = sp(i)?;
                let (i, t) = ctx("expected entry type", atom)(i)?;
                let t = match t.to_ascii_lowercase().as_slice() {
                    b"priv" => EntryType::Private,
                    b"shared" => EntryType::Shared,
                    b"all" => EntryType::All,
                    _ => return fail("invalid MODSEQ entry type"),
                };
                let (i, ()) = sp(i)?;
                (i, Some((name.into_owned(), t)))
            } else {
                (i, None)
            };
            let (i, mod_seq) = mod_seq_valzer(i)?;
            Ok((i, SearchKey::ModSeq { entry, mod_seq }))
        }
        b"EMAILID" => object_id(i).map(|(r, s)| (r, SearchKey::EmailId(s))),
        b"THREADID" => object_id(i).map(|(r, s)| (r, SearchKey::ThreadId(s))),
        b"OLDER" => nz_number(i).map(|(r, n)| (r, SearchKey::Older(n))),
        b"YOUNGER" => nz_number(i).map(|(r, n)| (r, SearchKey::Younger(n))),
        _ => fail(format!(
            "unknown search key {}",
            String::from_utf8_lossy(&name)
        )),
    }
}

pub(super) fn object_id(i: &[u8]) -> R<'_, String> {
    let (rest, id) = ctx(
        "invalid object id",
        take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
    )(i)?;
    if id.len() > 255 {
        return fail("object id too long");
    }
    Ok((rest, String::from_utf8_lossy(id).into_owned()))
}

/// `RETURN (opt...) SP`, if present.
fn return_opts(i: &[u8]) -> R<'_, Option<Vec<SearchReturnOpt>>> {
    let Some(rest) = keyword(i, "RETURN ") else {
        return Ok((i, None));
    };
    let (rest, list) = paren_list(rest, true, |i| {
        let (r, a) = ctx("expected SEARCH RETURN option", atom)(i)?;
        let o = match a.to_ascii_uppercase().as_slice() {
            b"MIN" => SearchReturnOpt::Min,
            b"MAX" => SearchReturnOpt::Max,
            b"ALL" => SearchReturnOpt::All,
            b"COUNT" => SearchReturnOpt::Count,
            b"SAVE" => SearchReturnOpt::Save,
            b"UPDATE" => SearchReturnOpt::Update,
            b"CONTEXT" => SearchReturnOpt::Context,
            b"PARTIAL" => {
                let (r, ()) = sp(r)?;
                let (r, range) = partial_range(r)?;
                return Ok((r, SearchReturnOpt::Partial(range)));
            }
            _ => return fail("unknown SEARCH RETURN option"),
        };
        Ok((r, o))
    })?;
    let (rest, ()) = sp(rest)?;
    Ok((rest, Some(list)))
}

/// `n:m` or `-n:-m` (RFC 9394 §3: partial-range-first / -last).
pub(super) fn partial_range(i: &[u8]) -> R<'_, PartialRange> {
    let (i, neg_a) = match i.strip_prefix(b"-") {
        Some(r) => (r, true),
        None => (i, false),
    };
    let (i, a) = ctx("expected partial range", nz_number)(i)?;
    let (i, ()) = expect(i, b":", "expected ':' in partial range")?;
    let (i, neg_b) = match i.strip_prefix(b"-") {
        Some(r) => (r, true),
        None => (i, false),
    };
    let (i, b) = ctx("expected partial range", nz_number)(i)?;
    if neg_a != neg_b {
        return fail("partial range ends must have the same sign");
    }
    Ok((i, PartialRange::new(neg_a, a, b)))
}

/// One or more search keys separated by SP, up to the end of the command.
fn criteria(mut i: &[u8]) -> R<'_, Vec<SearchKey>> {
    let mut out = Vec::new();
    loop {
        let (rest, k) = search_key(i, 1)?;
        out.push(k);
        match rest.strip_prefix(b" ") {
            Some(more) => i = more,
            None => return Ok((rest, out)),
        }
    }
}

pub(super) fn search(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (mut i, return_opts) = return_opts(i)?;
    let mut charset = None;
    if let Some(rest) = keyword(i, "CHARSET ") {
        let (rest, cs) = astring(rest, "expected charset")?;
        charset = Some(utf8_string(cs, "invalid charset name")?);
        (i, ()) = sp(rest)?;
    }
    let (i, criteria) = criteria(i)?;
    Ok((
        i,
        CommandBody::Search(SearchCommand {
            uid,
            return_opts,
            charset,
            criteria,
        }),
    ))
}

/// `SORT [RETURN (..)] (criteria) charset keys` (RFC 5256 §3, RFC 5267).
pub(super) fn sort(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, return_opts) = return_opts(i)?;
    let (i, crit) = paren_list(i, false, |i| {
        let (i, reverse) = match keyword(i, "REVERSE ") {
            Some(rest) => (rest, true),
            None => (i, false),
        };
        let (i, name) = ctx("expected sort key", atom)(i)?;
        let key = SortKey::NAMES
            .iter()
            .find(|(_, n)| name.eq_ignore_ascii_case(n.as_bytes()))
            .map(|(k, _)| *k);
        match key {
            Some(key) => Ok((i, SortCriterion { reverse, key })),
            None => fail(format!("unknown sort key {}", shown(name))),
        }
    })?;
    let (i, (charset, search)) = charset_and_criteria(i)?;
    Ok((
        i,
        CommandBody::Sort(SortCommand {
            uid,
            return_opts,
            criteria: crit,
            charset,
            search,
        }),
    ))
}

/// The ` charset criteria` tail SORT and THREAD share (RFC 5256 §3): the
/// charset is mandatory there, unlike SEARCH's optional `CHARSET x`.
fn charset_and_criteria(i: &[u8]) -> R<'_, (String, Vec<SearchKey>)> {
    let (i, ()) = sp(i)?;
    let (i, cs) = astring(i, "expected charset")?;
    let charset = utf8_string(cs, "invalid charset name")?;
    let (i, ()) = sp(i)?;
    let (i, search) = criteria(i)?;
    Ok((i, (charset, search)))
}

/// `THREAD algorithm charset keys` (RFC 5256 §3).
pub(super) fn thread(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, name) = ctx("expected threading algorithm", atom)(i)?;
    let algorithm = match name.to_ascii_uppercase().as_slice() {
        b"ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        b"REFERENCES" => ThreadAlgorithm::References,
        b"REFS" => ThreadAlgorithm::Refs,
        _ => return fail(format!("unknown threading algorithm {}", shown(name))),
    };
    let (i, (charset, search)) = charset_and_criteria(i)?;
    Ok((
        i,
        CommandBody::Thread(ThreadCommand {
            uid,
            algorithm,
            charset,
            search,
        }),
    ))
}
