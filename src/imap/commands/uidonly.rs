//! UIDONLY (RFC 9586): which commands name messages by sequence number and
//! are therefore refused, with `BAD [UIDREQUIRED]`, once the client has
//! enabled it. The other half of the extension, responses without
//! sequence numbers (UIDFETCH, VANISHED), is written where those responses
//! are built (`selected::write_fetch`, `selected::report`, `fetch`).
//! Owns no state and never runs a command: it only looks at one.

use crate::imap::context::{Enabled, Reply};
use crate::imap::wire::command::{CommandBody, SearchKey, SeqSet};
use crate::imap::wire::response::{ResponseCode, Status};

/// The `BAD [UIDREQUIRED]` for `body` when UIDONLY is on and the command
/// uses message sequence numbers; `None` when it may run.
///
/// RFC 9586 §3.2 and §3.8: FETCH, STORE, SEARCH, COPY, MOVE, SORT,
/// THREAD and REPLACE (RFC 8508) without `UID` are refused whatever their
/// arguments; §3.5: a bare
/// sequence-set search key in UID SEARCH (and UID SORT/THREAD, whose
/// criteria are SEARCH's); §3.7: SELECT/EXAMINE with QRESYNC's
/// sequence-match data. `$` (RFC 5182) names the saved messages, not
/// numbers, so a bare `$` key is allowed (doc/imap-selected.md).
pub(crate) fn refuse(enabled: Enabled, body: &CommandBody) -> Option<Reply> {
    if !enabled.uidonly {
        return None;
    }
    let numbers = match body {
        CommandBody::Fetch(f) => !f.uid,
        CommandBody::Store(s) => !s.uid,
        CommandBody::Copy { uid, .. }
        | CommandBody::Move { uid, .. }
        | CommandBody::Replace { uid, .. } => !uid,
        CommandBody::Search(s) => !s.uid || s.criteria.iter().any(names_sequence_numbers),
        CommandBody::Sort(s) => !s.uid || s.search.iter().any(names_sequence_numbers),
        CommandBody::Thread(t) => !t.uid || t.search.iter().any(names_sequence_numbers),
        CommandBody::Select { params, .. } | CommandBody::Examine { params, .. } => params
            .qresync
            .as_ref()
            .is_some_and(|q| q.seq_match.is_some()),
        _ => false,
    };
    numbers.then(|| Reply {
        status: Status::Bad,
        code: Some(ResponseCode::UidRequired),
        text: "Message sequence numbers are not allowed once UIDONLY is enabled".into(),
    })
}

/// Whether a search key, or one nested in it, is a sequence set of
/// message numbers. Only NOT, OR and parentheses nest (the parser bounds
/// the depth); every other key is a leaf.
fn names_sequence_numbers(key: &SearchKey) -> bool {
    match key {
        SearchKey::SeqSet(SeqSet::Saved) => false,
        SearchKey::SeqSet(_) => true,
        SearchKey::Not(k) => names_sequence_numbers(k),
        SearchKey::Or(a, b) => names_sequence_numbers(a) || names_sequence_numbers(b),
        SearchKey::And(keys) => keys.iter().any(names_sequence_numbers),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::parser::{parse_command, ParseOptions};

    fn verdict(uidonly: bool, line: &str) -> Option<ResponseCode> {
        let enabled = Enabled {
            uidonly,
            ..Enabled::default()
        };
        let cmd = parse_command(format!("a {line}\r\n").as_bytes(), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{line}: {e:?}"));
        refuse(enabled, &cmd.body).map(|r| {
            assert_eq!(r.status, Status::Bad, "{line}");
            r.code.unwrap_or(ResponseCode::Parse)
        })
    }

    #[test]
    fn rfc9586_3_2_commands_by_sequence_number_are_refused() {
        for line in [
            "FETCH 1 FLAGS",
            "FETCH 1:* (UID)",
            "STORE 1 +FLAGS (\\Seen)",
            "SEARCH ALL",
            "SEARCH UID 1:*",
            "COPY 1 Archive",
            "MOVE 2:3 Archive",
            "REPLACE 1 Drafts {1+}\r\nx",
            "SORT (DATE) UTF-8 ALL",
            "THREAD REFERENCES UTF-8 ALL",
        ] {
            assert_eq!(
                verdict(true, line),
                Some(ResponseCode::UidRequired),
                "{line}"
            );
            assert_eq!(verdict(false, line), None, "{line} without UIDONLY");
        }
    }

    #[test]
    fn rfc9586_3_5_sequence_set_search_keys_are_refused_at_any_depth() {
        for line in [
            "UID SEARCH 1:*",
            "UID SEARCH NOT 3",
            "UID SEARCH OR SEEN (DELETED 1)",
            "UID SEARCH RETURN (COUNT) *",
            "UID SORT (ARRIVAL) UTF-8 1",
            "UID THREAD ORDEREDSUBJECT UTF-8 OR 2 SEEN",
        ] {
            assert_eq!(
                verdict(true, line),
                Some(ResponseCode::UidRequired),
                "{line}"
            );
        }
        for line in [
            "UID SEARCH ALL",
            "UID SEARCH UID 1:*",
            "UID SEARCH OR SEEN NOT UID 4",
            "UID SEARCH $",
            "UID SORT (ARRIVAL) UTF-8 UID 1:*",
            "UID FETCH 1:* (FLAGS)",
            "UID STORE 1:* +FLAGS (\\Seen)",
            "UID COPY 1 Archive",
            "UID MOVE 1 Archive",
            "UID REPLACE 1 Drafts {1+}\r\nx",
            "UID EXPUNGE 1:*",
            "EXPUNGE",
            "NOOP",
        ] {
            assert_eq!(verdict(true, line), None, "{line}");
        }
    }

    #[test]
    fn rfc9586_3_7_qresync_sequence_match_data_is_refused() {
        assert_eq!(
            verdict(true, "SELECT INBOX (QRESYNC (1 2 1:10 (1:3 4:6)))"),
            Some(ResponseCode::UidRequired)
        );
        assert_eq!(verdict(true, "SELECT INBOX (QRESYNC (1 2 1:10))"), None);
        assert_eq!(
            verdict(true, "EXAMINE INBOX (QRESYNC (1 2 1:10 (1:3 4:6)))"),
            Some(ResponseCode::UidRequired)
        );
    }
}
