//! The folded search text of one stored message, decrypting only the byte
//! ranges the text needs (headers and the bounded start of text parts,
//! never attachments). The one place both the index builder and SEARCH's
//! exact matcher get message text from, so the two can never disagree.

use std::ops::Range;

use crate::mime::search_text::{self, SearchText};
use crate::mime::Summary;
use crate::store::mailbox::{Mailbox, MailboxError};
use crate::store::types::Uid;

/// The search text of message `uid` of `mb`, whose summary is `summary`.
pub(crate) fn search_text(
    mb: &Mailbox,
    uid: Uid,
    summary: &Summary,
) -> Result<SearchText, MailboxError> {
    let mut reader = mb.open_message(uid)?;
    let size = usize::try_from(reader.size()).unwrap_or(0);
    // The rest stays zeroed: `extract` reads only the ranges it asked for.
    let mut raw = vec![0u8; size];
    for r in coalesce(search_text::needed_ranges(summary)) {
        let bytes = reader.read_range(r.start, r.end - r.start)?;
        let start = usize::try_from(r.start).unwrap_or(usize::MAX);
        if let Some(dst) = raw.get_mut(start..start.saturating_add(bytes.len())) {
            dst.copy_from_slice(&bytes);
        }
    }
    Ok(search_text::extract(summary, &raw))
}

/// Merges ranges closer than the store's read granularity (one encryption
/// chunk), so no chunk is decrypted twice.
fn coalesce(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    let gap = crate::store::READ_GRANULARITY;
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}
