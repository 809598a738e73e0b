//! Unit tests of one mailbox across its operation files: visibility at
//! refresh, concurrent flag changes, CONDSTORE, \Recent, copy and move and
//! their crash recovery, compaction, garbage collection and tampering.
//! Never touches another user's directory or the real clock's grace
//! periods (graces are passed explicitly).

use super::*;
use crate::store::account::AccountLog;
use crate::store::state::Batch;
use crate::store::summary;
use crate::store::types::{FlagOp, InternalDate, Modseq, SeqNum, UidSet};
use std::fs;

/// The shared store fixture, labelled for this file.
struct Fixture(crate::store::test_fixture::Fixture);

impl Fixture {
    fn new() -> Fixture {
        Fixture(crate::store::test_fixture::Fixture::new("mailbox"))
    }
}

impl std::ops::Deref for Fixture {
    type Target = crate::store::test_fixture::Fixture;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

fn msg(i: usize) -> Vec<u8> {
    format!("Subject: test {i}\r\n\r\nbody {i}\r\n").into_bytes()
}

fn kw(s: &str) -> Flag {
    Flag::keyword(s).unwrap()
}

#[test]
fn append_becomes_visible_at_refresh_and_reads_back() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let mut b = f.open("INBOX");
    let u1 = a
        .append(&msg(1), &[Flag::Seen], InternalDate::now())
        .unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    assert!(u2 > u1);
    assert_eq!(b.exists(), 0);
    let ch = b.refresh().unwrap();
    assert_eq!(ch.new_uids, vec![u1, u2]);
    assert_eq!(ch.exists, 2);
    assert_eq!(b.info(u1).unwrap().flags, vec![Flag::Seen]);
    assert_eq!(b.seq_of(u2).map(SeqNum::get), Some(2));
    let mut r = b.open_message(u2).unwrap();
    assert_eq!(r.read_all().unwrap(), msg(2));
    assert_eq!(r.read_range(0, 8).unwrap(), b"Subject:");
    assert_eq!(b.info(u1).unwrap().size as usize, msg(1).len());
    let again = f.open("INBOX");
    assert_eq!(again.exists(), 2);
    assert_eq!(again.uidnext(), u2.next().unwrap());
}

#[test]
fn concurrent_flag_changes_merge_and_report_others_only() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let mut b = f.open("INBOX");
    a.store_flags(&[u], FlagOp::Add, &[Flag::Seen], None)
        .unwrap();
    // b decides on stale state but catches up under the lock.
    b.store_flags(&[u], FlagOp::Add, &[kw("$Work")], None)
        .unwrap();
    let info = b.info(u).unwrap();
    assert_eq!(info.flags, vec![Flag::Seen, kw("$Work")]);
    let ch = b.refresh().unwrap();
    assert_eq!(ch.flags_changed, vec![(SeqNum::new(1).unwrap(), u)]);
    let ch = a.refresh().unwrap();
    assert_eq!(ch.flags_changed.len(), 1);
    assert_eq!(a.info(u).unwrap().flags, vec![Flag::Seen, kw("$Work")]);
    let out = a
        .store_flags(&[u], FlagOp::Remove, &[Flag::Seen], None)
        .unwrap();
    assert_eq!(out.changed, vec![u]);
    assert_eq!(a.refresh().unwrap().flags_changed, vec![]);
}

#[test]
fn unchanged_since_reports_modified_messages() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let before = a.highest_modseq();
    a.store_flags(&[u2], FlagOp::Add, &[Flag::Flagged], None)
        .unwrap();
    let out = a
        .store_flags(&[u1, u2], FlagOp::Add, &[Flag::Seen], Some(before))
        .unwrap();
    assert_eq!(out.changed, vec![u1]);
    assert_eq!(out.failed_modified, vec![u2]);
    assert_eq!(out.modseq, Some(a.highest_modseq()));
}

#[test]
fn store_of_many_messages_is_one_record() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let uids: Vec<Uid> = (0..50)
        .map(|i| a.append(&msg(i), &[], InternalDate::now()).unwrap())
        .collect();
    let seg = ChangeLog::segment_path(a.log.dir(), 1);
    let before = fs::metadata(&seg).unwrap().len();
    let m = a.highest_modseq();
    a.store_flags(&uids, FlagOp::Add, &[Flag::Seen], None)
        .unwrap();
    assert_eq!(a.highest_modseq(), m.next());
    let grown = fs::metadata(&seg).unwrap().len() - before;
    assert!(grown < 200, "one small record expected, grew {grown}");
}

#[test]
fn expunged_message_stays_readable_and_storable_until_reported() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let mut b = f.open("INBOX");
    let mut c = f.open("INBOX");
    assert_eq!(a.expunge(&[u1]).unwrap(), vec![u1]);
    assert_eq!(a.expunge(&[u1]).unwrap(), vec![]);
    // b has not refreshed: still sees and reads u1, and may store to it.
    assert_eq!(b.exists(), 2);
    assert_eq!(b.open_message(u1).unwrap().read_all().unwrap(), msg(1));
    let out = b
        .store_flags(&[u1], FlagOp::Add, &[Flag::Seen], None)
        .unwrap();
    assert_eq!(out.changed, vec![u1]);
    assert!(b.info(u1).unwrap().expunged);
    // c still has it and sees the change before the expunge.
    let ch = c.refresh().unwrap();
    assert_eq!(ch.flags_changed, vec![(SeqNum::new(1).unwrap(), u1)]);
    assert_eq!(ch.expunged, vec![(SeqNum::new(1).unwrap(), u1)]);
    assert_eq!(ch.exists, 1);
    assert_eq!(c.uid_of(SeqNum::new(1).unwrap()), Some(u2));
    let ch = a.refresh().unwrap();
    assert_eq!(ch.expunged.len(), 1);
    assert_eq!(a.vanished_since(Modseq::MIN), vec![u1]);
    assert_eq!(f.open("INBOX").exists(), 1);
}

#[test]
fn recent_is_claimed_by_exactly_one_session() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let mut b = f.open("INBOX");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    b.refresh().unwrap();
    assert_eq!(b.claim_recent().unwrap(), vec![u1]);
    assert_eq!(a.claim_recent().unwrap(), vec![]);
    let u2 = b.append(&msg(2), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    assert_eq!(a.claim_recent().unwrap(), vec![u2]);
    assert!(a.is_recent(u2) && !a.is_recent(u1));
    assert!(b.is_recent(u1) && !b.is_recent(u2));
    assert_eq!(a.recent_count(), 1);
}

#[test]
fn copy_and_move_keep_content_and_flags() {
    let f = Fixture::new();
    let mut inbox = f.open("INBOX");
    let mut archive = f.open("Archive");
    let u1 = inbox
        .append(&msg(1), &[kw("$Label")], InternalDate::now())
        .unwrap();
    let u2 = inbox
        .append(&msg(2), &[Flag::Seen], InternalDate::now())
        .unwrap();
    inbox.refresh().unwrap();
    let map = inbox.copy_to(&[u1], &mut archive).unwrap();
    let (_, d1) = map[0];
    archive.refresh().unwrap();
    assert_eq!(archive.info(d1).unwrap().flags, vec![kw("$Label")]);
    assert_eq!(
        archive.open_message(d1).unwrap().read_all().unwrap(),
        msg(1)
    );
    let map = inbox.move_to(&[u2], &mut archive).unwrap();
    let (_, d2) = map[0];
    let ch = inbox.refresh().unwrap();
    assert_eq!(ch.expunged, vec![(SeqNum::new(2).unwrap(), u2)]);
    archive.refresh().unwrap();
    assert_eq!(archive.info(d2).unwrap().flags, vec![Flag::Seen]);
    assert_eq!(
        archive.open_message(d2).unwrap().read_all().unwrap(),
        msg(2)
    );
    assert_eq!(f.open("INBOX").exists(), 1);
    assert_eq!(f.open("Archive").exists(), 2);
    assert!(matches!(
        inbox.move_to(&[u1], &mut f.open("INBOX")),
        Err(MailboxError::SameMailbox)
    ));
}

fn write_intent(m: &mut Mailbox, dest: &Mailbox, uid: Uid) -> u64 {
    let dest_id = dest.id().to_string();
    let id = 42;
    m.log
        .write(
            &mut m.state,
            None,
            |_st: &State| -> Result<_, MailboxError> {
                Ok((
                    vec![Batch {
                        modseq: None,
                        changes: vec![Change::MoveIntent {
                            id,
                            dest: dest_id,
                            uids: UidSet::from_uids([uid]),
                        }],
                    }],
                    (),
                ))
            },
        )
        .unwrap();
    id
}

#[test]
fn interrupted_move_is_finished_or_cancelled_by_next_opener() {
    let f = Fixture::new();
    let mut inbox = f.open("INBOX");
    let mut trash = f.open("Trash");
    let u1 = inbox.append(&msg(1), &[], InternalDate::now()).unwrap();
    let u2 = inbox.append(&msg(2), &[], InternalDate::now()).unwrap();
    // Crash after the intent only: the move is cancelled.
    write_intent(&mut inbox, &trash, u1);
    let reopened = f.open("INBOX");
    assert_eq!(reopened.exists(), 2);
    assert!(reopened.state.pending_moves.is_empty());
    assert_eq!(f.open("Trash").exists(), 0);
    // Crash after the destination add: the move is finished.
    inbox.refresh().unwrap();
    let id = write_intent(&mut inbox, &trash, u2);
    let items = inbox.link_into(&[u2], &trash).unwrap();
    let lock = trash.log.lock().unwrap();
    trash.add_linked(&lock, &items, Some(id)).unwrap();
    drop(lock);
    let reopened = f.open("INBOX");
    assert_eq!(reopened.exists(), 1);
    assert!(reopened.info(u1).is_some() && reopened.info(u2).is_none());
    assert_eq!(f.open("Trash").exists(), 1);
}

#[test]
fn move_within_renumbers_in_one_step_and_keeps_the_file() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u1 = a.append(&msg(1), &[kw("x")], InternalDate::now()).unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let map = a.move_within(&[u1]).unwrap();
    let new = map.first().map(|&(_, n)| n).unwrap();
    assert_eq!(map, vec![(u1, new)]);
    assert!(new > u2);
    let b = f.open("INBOX");
    assert_eq!(b.uids().collect::<Vec<_>>(), vec![u2, new]);
    let info = b.info(new).unwrap();
    assert!(info.flags.iter().any(|fl| fl.same_as(&kw("x"))));
    // The old UID's file is shared, so collecting garbage keeps it.
    drop(b);
    a.refresh().unwrap();
    a.collect_garbage(Duration::ZERO).unwrap();
    assert_eq!(
        f.open("INBOX")
            .open_message(new)
            .unwrap()
            .read_all()
            .unwrap(),
        msg(1)
    );
    // Nothing left to move: no record, no error.
    assert!(a.move_within(&[u1]).unwrap().is_empty());
}

#[test]
fn compaction_and_gc_preserve_state() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u1 = a.append(&msg(1), &[kw("x")], InternalDate::now()).unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    a.expunge(&[u1]).unwrap();
    a.refresh().unwrap();
    let mut b = f.open("INBOX");
    // The expunged message file (its summary is inside it).
    assert_eq!(a.collect_garbage(Duration::ZERO).unwrap(), 1);
    assert!(a.log.dir().join("snapshot").exists());
    let c = f.open("INBOX");
    assert_eq!(c.exists(), 1);
    assert_eq!(c.highest_modseq(), a.highest_modseq());
    assert_eq!(c.defined_flags().len(), 6);
    assert_eq!(c.open_message(u2).unwrap().read_all().unwrap(), msg(2));
    // A reader of the old segment follows into the new one.
    a.store_flags(&[u2], FlagOp::Add, &[Flag::Seen], None)
        .unwrap();
    let ch = b.refresh().unwrap();
    assert_eq!(ch.flags_changed.len(), 1);
    assert_eq!(b.info(u2).unwrap().flags, vec![Flag::Seen]);
}

#[test]
fn tampering_is_a_typed_error_for_that_message_or_record_only() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    let u3 = a.append(&msg(3), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let name = a.info(u1).unwrap().name;
    let path = a.message_path(&name);
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0x40;
    fs::write(&path, bytes).unwrap();
    assert!(matches!(
        a.open_message(u1),
        Err(MailboxError::MessageFile(MessageFileError::Crypto { .. }))
    ));
    assert_eq!(a.open_message(u2).unwrap().read_all().unwrap(), msg(2));
    // Flip a byte inside the second record (u2's add) of the segment.
    let seg = ChangeLog::segment_path(a.log.dir(), 1);
    let mut log = fs::read(&seg).unwrap();
    let first_len = u32::from_le_bytes(log[0..4].try_into().unwrap()) as usize;
    let second = 4 + first_len;
    log[second + 30] ^= 1;
    fs::write(&seg, log).unwrap();
    let b = f.open("INBOX");
    assert_eq!(b.log.damaged_records(), 1);
    assert!(b.info(u1).is_some() && b.info(u3).is_some());
    assert!(b.info(u2).is_none());
}

#[test]
fn flag_plan_reuses_defined_and_planned_bits_and_defines_in_order() {
    let st = State {
        flag_table: vec![Flag::Seen, kw("$Old")],
        ..State::default()
    };
    let mut plan = FlagPlan::new(&st);
    assert_eq!(plan.bits(&[kw("$old"), Flag::Seen]).unwrap(), 0b11);
    assert_eq!(plan.bits(&[kw("$New"), kw("$Other")]).unwrap(), 0b1100);
    assert_eq!(plan.bits(&[kw("$other"), kw("$Old")]).unwrap(), 0b1010);
    let defs = plan.into_defs();
    assert_eq!(
        defs,
        vec![
            Change::FlagDefined {
                bit: 2,
                flag: kw("$New")
            },
            Change::FlagDefined {
                bit: 3,
                flag: kw("$Other")
            },
        ]
    );
    let full = State {
        flag_table: (0..MAX_FLAGS).map(|i| kw(&format!("k{i}"))).collect(),
        ..State::default()
    };
    let mut plan = FlagPlan::new(&full);
    assert_eq!(plan.bits(&[kw("k63")]).unwrap(), 1 << 63);
    assert!(matches!(
        plan.bits(&[kw("one-too-many")]),
        Err(MailboxError::TooManyKeywords)
    ));
}

/// A summary of the format before SORT/THREAD (no magic, no sort fields)
/// is recomputed on first use and stored again in the current format, so
/// the next use reads it without touching the message.
#[test]
fn older_summary_format_is_recomputed_once_and_stored_again() {
    let f = Fixture::new();
    let mut mb = f.open("INBOX");
    let raw = b"Subject: Re: upgrade\r\nMessage-ID: <u@x>\r\nReferences: <p@x>\r\n\r\nhello\r\n";
    let uid = mb.append(raw, &[], InternalDate::now()).unwrap();
    let name = mb.state.get(uid).unwrap().name;
    // As an older build wrote it: a version-2 file, its summary beside it.
    crate::store::message_file::rewrite_summary(&mb.message_path(&name), None);
    let sum_path = summary::path_for(&mb.message_path(&name));
    // Format 1: plain postcard of the fields that existed then (the root
    // part first, so it starts with a zero byte).
    let current = summary::summarize(raw);
    let old_blob = postcard::to_stdvec(&(
        &current.root,
        &current.envelope,
        current.size,
        &current.search,
    ))
    .unwrap();
    assert_eq!(old_blob.first(), Some(&0));
    assert!(summary::decode(&old_blob).is_none());
    let tmp = f.user.join("tmp");
    let size = raw.len() as u64;
    summary::write(&tmp, &sum_path, &f.keys.summary_key, &name, size, &old_blob).unwrap();
    let s = mb.summary(uid).unwrap();
    assert_eq!(s.sort.base_subject, "UPGRADE");
    assert_eq!(s.sort.references, vec!["p@x".to_owned()]);
    assert_eq!(s.preview, "hello");
    let stored = summary::read(&sum_path, &f.keys.summary_key, &name, size)
        .unwrap()
        .unwrap();
    assert_eq!(summary::decode(&stored), Some(s));
}

#[test]
fn refresh_keeping_expunged_shows_new_messages_and_holds_expunges_back() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let mut b = f.open("INBOX");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    let u2 = a.append(&msg(2), &[], InternalDate::now()).unwrap();
    b.refresh().unwrap();
    a.refresh().unwrap();
    a.expunge(&[u1]).unwrap();
    a.store_flags(&[u2], FlagOp::Add, &[Flag::Seen], None)
        .unwrap();
    let u3 = a.append(&msg(3), &[], InternalDate::now()).unwrap();
    let ch = b.refresh_keeping_expunged().unwrap();
    assert_eq!(ch.expunged, vec![]);
    assert_eq!(ch.flags_changed, vec![(SeqNum::new(2).unwrap(), u2)]);
    assert_eq!(ch.new_uids, vec![u3]);
    assert_eq!(ch.exists, 3, "the expunged message keeps its number");
    assert!(b.info(u1).unwrap().expunged);
    assert!(b.reported_modseq() < b.highest_modseq(), "an expunge waits");
    let ch = b.refresh().unwrap();
    assert_eq!(ch.expunged, vec![(SeqNum::new(1).unwrap(), u1)]);
    assert_eq!(ch.new_uids, vec![], "already reported");
    assert_eq!(ch.exists, 2);
    assert_eq!(b.reported_modseq(), b.highest_modseq());
}

/// The sealed sort-key cache: what is stored comes back for the messages
/// still here and still named as stored; a tampered file, another
/// mailbox's file, an expunged message or a symlink in its place are
/// ignored (the caller then reads the summaries), never an error.
#[test]
fn sort_key_cache_round_trip_and_rejections() {
    use crate::mime::sort::SortFields;
    use crate::store::sort_keys::SortEntry;
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let uids: Vec<Uid> = (0..3)
        .map(|i| a.append(&msg(i), &[], InternalDate::now()).unwrap())
        .collect();
    a.refresh().unwrap();
    assert!(a.cached_sort_keys().is_empty(), "no file yet");
    let fields: Vec<SortFields> = (0..3)
        .map(|i| SortFields {
            base_subject: format!("TEST {i}"),
            ..SortFields::default()
        })
        .collect();
    let entries: Vec<SortEntry> = uids
        .iter()
        .zip(&fields)
        .map(|(&u, f)| SortEntry::new(Some(i64::from(u.get()) * 10), f))
        .collect();
    let keys: Vec<(Uid, &SortEntry)> = uids.iter().copied().zip(&entries).collect();
    a.store_sort_keys(&keys);
    let back = a.cached_sort_keys();
    assert_eq!(back.len(), 3);
    assert_eq!(back[1].0, uids[1]);
    assert_eq!(back[1].1.date(), Some(i64::from(uids[1].get()) * 10));
    assert_eq!(back[1].1.base_subject(), "TEST 1");

    // An expunged message's entry is not given out.
    a.expunge(&[uids[0]]).unwrap();
    a.refresh().unwrap();
    assert_eq!(a.cached_sort_keys().len(), 2);

    // Another mailbox's (validly sealed) file does not open here.
    let dir = |m: &Mailbox| f.user.join("mailboxes").join(m.id().to_string());
    let mut other = {
        let mut acct = AccountLog::open(&f.user, f.keys.master()).unwrap();
        acct.create("Other", &[]).unwrap();
        f.open("Other")
    };
    other.append(&msg(9), &[], InternalDate::now()).unwrap();
    other.refresh().unwrap();
    fs::copy(dir(&a).join("sortkeys"), dir(&other).join("sortkeys")).unwrap();
    assert!(other.cached_sort_keys().is_empty());

    // A flipped byte fails authentication.
    let file = dir(&a).join("sortkeys");
    let mut bytes = fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::write(&file, &bytes).unwrap();
    assert!(a.cached_sort_keys().is_empty());

    // A symlink in its place is not followed.
    a.store_sort_keys(&keys);
    let good = dir(&a).join("sortkeys.good");
    fs::rename(&file, &good).unwrap();
    std::os::unix::fs::symlink(&good, &file).unwrap();
    assert!(a.cached_sort_keys().is_empty());
}

/// Files under a mailbox's `msg/` tree (messages and summaries).
fn stored_files(m: &Mailbox) -> usize {
    fn walk(p: &Path) -> usize {
        fs::read_dir(p).map_or(0, |d| {
            d.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    walk(&m.log.dir().join("msg"))
}

fn new_msg(raw: &[u8]) -> NewMessage<'_> {
    NewMessage {
        raw,
        flags: &[],
        internal: InternalDate::now(),
    }
}

#[test]
fn replace_within_one_mailbox_is_one_record_with_one_modseq() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let mut b = f.open("INBOX");
    let m = a.highest_modseq();
    let new = a.replace(u1, new_msg(&msg(2))).unwrap();
    // One batch: one modseq for the add and the expunge together.
    assert_eq!(a.highest_modseq(), m.next());
    let ch = b.refresh().unwrap();
    assert_eq!(ch.new_uids, vec![new]);
    assert_eq!(ch.expunged, vec![(SeqNum::new(1).unwrap(), u1)]);
    assert_eq!(b.uids().collect::<Vec<_>>(), vec![new]);
    assert_eq!(b.open_message(new).unwrap().read_all().unwrap(), msg(2));
    assert_eq!(b.vanished_since(Modseq::MIN), vec![u1]);
}

#[test]
fn replacing_an_expunged_message_adds_nothing_and_leaves_no_file() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let mut other = f.open("Drafts");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let mut b = f.open("INBOX");
    let files = stored_files(&a);
    let other_files = stored_files(&other);
    assert_eq!(b.expunge(&[u1]).unwrap(), vec![u1]);
    let next = a.uidnext();
    // `a` still shows u1 (not refreshed), yet the store refuses.
    assert!(matches!(
        a.replace(u1, new_msg(&msg(2))),
        Err(MailboxError::AlreadyExpunged(u)) if u == u1
    ));
    assert!(matches!(
        a.replace_into(u1, &mut other, new_msg(&msg(2))),
        Err(MailboxError::AlreadyExpunged(u)) if u == u1
    ));
    assert_eq!(stored_files(&a), files);
    assert_eq!(stored_files(&other), other_files);
    assert_eq!(f.open("INBOX").uidnext(), next);
    assert_eq!(f.open("Drafts").exists(), 0);
}

#[test]
fn replace_into_another_mailbox_adds_there_and_expunges_here() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let mut d = f.open("Drafts");
    let u1 = a.append(&msg(1), &[], InternalDate::now()).unwrap();
    a.refresh().unwrap();
    let new = a
        .replace_into(
            u1,
            &mut d,
            NewMessage {
                raw: &msg(3),
                flags: &[Flag::Draft],
                internal: InternalDate::now(),
            },
        )
        .unwrap();
    assert_eq!(f.open("INBOX").exists(), 0);
    let d2 = f.open("Drafts");
    assert_eq!(d2.uids().collect::<Vec<_>>(), vec![new]);
    assert_eq!(d2.info(new).unwrap().flags, vec![Flag::Draft]);
    assert!(matches!(
        a.replace_into(u1, &mut a_clone(&f), new_msg(&msg(4))),
        Err(MailboxError::SameMailbox)
    ));
}

fn a_clone(f: &Fixture) -> Mailbox {
    f.open("INBOX")
}

/// A refresh that found no tombstone remembers it (so later commands do
/// not look at every message), yet every later expunge, own or another
/// session's, is still reported, and the client is current only after.
#[test]
fn expunges_after_a_clean_refresh_are_still_reported() {
    let f = Fixture::new();
    let mut a = f.open("INBOX");
    let uids: Vec<Uid> = (0..4)
        .map(|i| a.append(&msg(i), &[], InternalDate::now()).unwrap())
        .collect();
    let mut b = f.open("INBOX");
    for m in [&mut a, &mut b] {
        m.refresh().unwrap();
        assert!(m.refresh().unwrap().expunged.is_empty());
        assert!(m.refresh_flags().unwrap().is_empty());
    }
    // Another session's expunge.
    b.expunge(&[uids[1]]).unwrap();
    a.refresh_flags().unwrap();
    assert!(a.reported_modseq() < a.highest_modseq(), "expunge pending");
    let ch = a.refresh().unwrap();
    assert_eq!(ch.expunged, vec![(SeqNum::new(2).unwrap(), uids[1])]);
    assert_eq!(a.reported_modseq(), a.highest_modseq());
    // Its own expunge, after a clean refresh.
    assert!(a.refresh().unwrap().expunged.is_empty());
    a.expunge(&[uids[3]]).unwrap();
    let ch = a.refresh().unwrap();
    assert_eq!(ch.expunged, vec![(SeqNum::new(3).unwrap(), uids[3])]);
    assert_eq!(ch.exists, 2);
    // b has not refreshed since its own expunge: both, descending.
    let ch = b.refresh().unwrap();
    assert_eq!(
        ch.expunged,
        vec![
            (SeqNum::new(4).unwrap(), uids[3]),
            (SeqNum::new(2).unwrap(), uids[1])
        ]
    );
    assert_eq!(ch.exists, 2);
}

/// The sealed summary in the header of `name`'s file, if any.
fn summary_in_file(mb: &Mailbox, name: MessageName) -> Option<Vec<u8>> {
    crate::store::message_file::SealedMessage::open(&mb.message_path(&name), name)
        .unwrap()
        .sealed_summary()
        .map(<[u8]>::to_vec)
}

/// An APPEND creates one file: the summary is sealed into the message
/// file's header, and read from there without the content: with the
/// content's last chunk damaged, the summary still answers while the
/// content is refused.
#[test]
fn appended_summary_lives_in_the_file_and_answers_without_the_content() {
    let f = Fixture::new();
    let mut mb = f.open("INBOX");
    let raw = b"Subject: in the header\r\nFrom: a@example.org\r\n\r\nbody\r\n";
    let uid = mb.append(raw, &[], InternalDate::now()).unwrap();
    let name = mb.state.get(uid).unwrap().name;
    let path = mb.message_path(&name);
    let dir = path.parent().unwrap();
    let entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "one file per message: {entries:?}");
    assert!(summary_in_file(&mb, name).is_some());
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert!(mb
        .open_message(uid)
        .and_then(|mut r| Ok(r.read_all()?))
        .is_err());
    let s = mb.summary(uid).unwrap();
    assert_eq!(s, summary::summarize(raw));
    assert!(!summary::path_for(&path).exists(), "nothing recomputed");
}

/// A summary moved from one file's header into another's fails
/// authentication (its sealing names the file): the other message's
/// summary is recomputed from its own content (and stored beside it),
/// never taken from the moved one; its content is untouched.
#[test]
fn summary_moved_into_another_files_header_is_refused() {
    let f = Fixture::new();
    let mut mb = f.open("INBOX");
    let a = mb
        .append(b"Subject: A\r\n\r\na\r\n", &[], InternalDate::now())
        .unwrap();
    let b = mb
        .append(b"Subject: B\r\n\r\nb\r\n", &[], InternalDate::now())
        .unwrap();
    let (na, nb) = (mb.state.get(a).unwrap().name, mb.state.get(b).unwrap().name);
    let from_a = summary_in_file(&mb, na).unwrap();
    crate::store::message_file::rewrite_summary(&mb.message_path(&nb), Some(&from_a));
    assert_eq!(summary_in_file(&mb, nb).as_deref(), Some(&from_a[..]));
    let s = mb.summary(b).unwrap();
    assert_eq!(s.search.subject, "B");
    assert!(summary::path_for(&mb.message_path(&nb)).exists());
    assert_eq!(
        mb.open_message(b).unwrap().read_all().unwrap(),
        b"Subject: B\r\n\r\nb\r\n"
    );
    assert_eq!(mb.summary(a).unwrap().search.subject, "A");
}

/// Files written before summaries moved into them (version 2, with or
/// without `NAME.sum`) still read, and COPY carries both kinds: the
/// summary in the header rides with the linked file, a `.sum` is linked
/// beside it.
#[test]
fn older_files_and_summary_files_still_read_and_copy() {
    let f = Fixture::new();
    let mut mb = f.open("INBOX");
    let raw = b"Subject: old\r\n\r\nold\r\n";
    let old = mb.append(raw, &[], InternalDate::now()).unwrap();
    let new = mb.append(&msg(2), &[], InternalDate::now()).unwrap();
    let name = mb.state.get(old).unwrap().name;
    let path = mb.message_path(&name);
    crate::store::message_file::rewrite_summary(&path, None);
    let blob = summary::compute(raw);
    summary::write(
        &f.user.join("tmp"),
        &summary::path_for(&path),
        &f.keys.summary_key,
        &name,
        raw.len() as u64,
        &blob,
    )
    .unwrap();
    assert!(summary_in_file(&mb, name).is_none());
    assert_eq!(mb.summary(old).unwrap().search.subject, "old");
    assert_eq!(mb.open_message(old).unwrap().read_all().unwrap(), raw);
    AccountLog::open(&f.user, f.keys.master())
        .unwrap()
        .create("Other", &[])
        .unwrap();
    let mut other = f.open("Other");
    let map = mb.copy_to(&[old, new], &mut other).unwrap();
    other.refresh().unwrap();
    assert!(summary::path_for(&other.message_path(&name)).exists());
    let new_name = mb.state.get(new).unwrap().name;
    assert!(!summary::path_for(&other.message_path(&new_name)).exists());
    for (src, dst) in map {
        assert_eq!(other.summary(dst).unwrap(), mb.summary(src).unwrap());
    }
}
