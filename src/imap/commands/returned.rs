//! The ESEARCH answer SEARCH and SORT share (RFC 4731, RFC 5267 ESORT,
//! RFC 5182 SAVE, RFC 9394 PARTIAL, RFC 7162 §3.1.5 MODSEQ): RETURN
//! options applied to a result already in its order (ascending for SEARCH,
//! sort order for SORT). `returned` is pure (the items and the UIDs to save); `answer` stores
//! the saved result and sends the response for both handlers.

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::imap::commands::search::Hit;
use crate::imap::context::{self, Reply};
use crate::imap::wire::command::SearchReturnOpt;
use crate::imap::wire::response::{ESearchItem, Response};
use crate::store::types::{Modseq, Uid};

/// What the RETURN options give for one result.
pub(crate) struct Returned {
    /// The ESEARCH items, in the order RFC 4731 lists them.
    pub items: Vec<ESearchItem>,
    /// The UIDs `SAVE` stores for `$`, when SAVE was asked.
    pub saved: Option<Vec<Uid>>,
    /// Only SAVE was asked: no ESEARCH response is sent.
    pub save_only: bool,
}

/// Applies `opts` (empty = ALL) to `hits`; `uid` says which numbers the
/// answer carries. `Err` is the BAD for options that cannot go together.
pub(crate) fn returned(
    opts: &[SearchReturnOpt],
    hits: &[Hit],
    uid: bool,
    uses_modseq: bool,
) -> Result<Returned, Reply> {
    // CONTEXT is a hint (RFC 5267 §4.2) and UPDATE is answered by the
    // updates that follow (§4.3); neither asks for data now. Like
    // Dovecot, `RETURN (CONTEXT)` alone means ALL and `RETURN (UPDATE)`
    // alone answers an ESEARCH with no data.
    let hint = |o: &SearchReturnOpt| matches!(o, SearchReturnOpt::Context);
    let all_opt = [SearchReturnOpt::All];
    let opts = if opts.iter().all(hint) {
        &all_opt[..]
    } else {
        opts
    };
    let has = |o: SearchReturnOpt| opts.contains(&o);
    let partial = opts.iter().find_map(|o| match o {
        SearchReturnOpt::Partial(r) => Some(*r),
        _ => None,
    });
    // RFC 9394 §3.1: PARTIAL and ALL are mutually exclusive.
    if partial.is_some() && has(SearchReturnOpt::All) {
        return Err(Reply::bad("PARTIAL and ALL cannot be combined"));
    }
    let number = |h: &Hit| NonZeroU32::new(if uid { h.1.get() } else { h.0.get() });
    let set_of = |hs: &[Hit]| {
        if uid {
            context::wire_uid_set(hs.iter().map(|h| h.1))
        } else {
            context::wire_seq_set(hs.iter().map(|h| h.0))
        }
    };
    let page: Option<&[Hit]> = partial.map(|r| hits.get(r.indices(hits.len())).unwrap_or(&[]));
    let saved = has(SearchReturnOpt::Save).then(|| {
        let only_min_max = !has(SearchReturnOpt::All)
            && !has(SearchReturnOpt::Count)
            && page.is_none()
            && (has(SearchReturnOpt::Min) || has(SearchReturnOpt::Max));
        let mut v: Vec<Uid> = if only_min_max {
            let mut v = Vec::new();
            if has(SearchReturnOpt::Min) {
                v.extend(hits.first().map(|h| h.1));
            }
            if has(SearchReturnOpt::Max) {
                v.extend(hits.last().map(|h| h.1));
            }
            v
        } else {
            page.unwrap_or(hits).iter().map(|h| h.1).collect()
        };
        v.sort_unstable();
        v.dedup();
        v
    });
    let save_only = opts.iter().all(|o| *o == SearchReturnOpt::Save);
    let mut items = Vec::new();
    if has(SearchReturnOpt::Min) {
        items.extend(hits.first().and_then(number).map(ESearchItem::Min));
    }
    if has(SearchReturnOpt::Max) {
        items.extend(hits.last().and_then(number).map(ESearchItem::Max));
    }
    if has(SearchReturnOpt::All) {
        items.extend(set_of(hits).map(ESearchItem::All));
    }
    if has(SearchReturnOpt::Count) {
        let count = u32::try_from(hits.len()).unwrap_or(u32::MAX);
        items.push(ESearchItem::Count(count));
    }
    if let (Some(range), Some(page)) = (partial, page) {
        items.push(ESearchItem::Partial {
            range,
            set: set_of(page),
        });
    }
    // RFC 7162 §3.1.5: the highest modseq of the messages returned, so
    // with only MIN and/or MAX just those one or two.
    let returned: Vec<Modseq> = if has(SearchReturnOpt::All) || has(SearchReturnOpt::Count) {
        hits.iter().map(|h| h.2).collect()
    } else {
        let mut v = Vec::new();
        if has(SearchReturnOpt::Min) {
            v.extend(hits.first().map(|h| h.2));
        }
        if has(SearchReturnOpt::Max) {
            v.extend(hits.last().map(|h| h.2));
        }
        v.extend(page.unwrap_or(&[]).iter().map(|h| h.2));
        v
    };
    if let Some(&top) = returned.iter().max().filter(|_| uses_modseq) {
        items.push(ESearchItem::ModSeq(top));
    }
    Ok(Returned {
        items,
        saved,
        save_only,
    })
}

/// The whole RETURN answer of a SEARCH or SORT (`verb`): applies `opts`,
/// stores a SAVE result in `saved` (the selected mailbox's `$`), and sends
/// the ESEARCH response unless only SAVE was asked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn answer(
    opts: &[SearchReturnOpt],
    hits: &[Hit],
    uid: bool,
    uses_modseq: bool,
    saved: Option<&mut Vec<Uid>>,
    tag: &str,
    out: &mut Vec<u8>,
    verb: &str,
) -> Reply {
    let r = match returned(opts, hits, uid, uses_modseq) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if let (Some(result), Some(slot)) = (r.saved, saved) {
        *slot = result;
    }
    if r.save_only {
        return Reply::ok(format!("{verb} completed, result saved"));
    }
    Response::ESearch {
        tag: Some(Cow::Borrowed(tag)),
        uid,
        items: r.items,
    }
    .encode(out);
    Reply::ok(format!("{verb} completed"))
}
