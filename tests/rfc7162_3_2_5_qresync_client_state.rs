//! A scripted QRESYNC client (RFC 7162 §3.2.5) whose cache must always be
//! true: it keeps UIDVALIDITY, a HIGHESTMODSEQ and every message's flags,
//! works on the mailbox (STORE by sequence number and by UID, FETCH that
//! sets \Seen, its own expunges), loses its connection at random points,
//! also in the middle of a command, while another session expunges,
//! moves, flags and appends; and after every reconnection with
//! `SELECT INBOX (QRESYNC (...))` its cache equals the mailbox exactly.
//!
//! The client follows the rules a real one does: HIGHESTMODSEQ from any
//! `[HIGHESTMODSEQ]` response code (the tagged one last, so it wins), else
//! the largest MODSEQ a command's FETCH responses carried; new messages
//! (EXISTS, or UIDs above the cache after a reconnection) are fetched by
//! UID. 1,000 rounds with a fixed seed; the generator is written here so
//! a failure replays exactly.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{numbered_msg, FetchItem, Flag, Parsed, Response, ResponseCode, Root, Session};
use crymap_like::imap::wire::command::{SeqBound, SeqRange, SeqSet};
use crymap_like::imap::wire::response::write_flag;

const USER: &str = "alice";
const PASS: &str = "correct horse";
const ROUNDS: u32 = 1000;
const SEED: u64 = 0x5eed_7162;

/// xorshift64*: small, deterministic, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const FLAGS: [&str; 4] = ["\\Seen", "\\Flagged", "\\Answered", "$Label1"];

type Flags = BTreeSet<String>;

/// What the client believes about INBOX.
#[derive(Default)]
struct Cache {
    validity: u32,
    modseq: u64,
    /// UID → flags; the order of the keys is the sequence order.
    msgs: BTreeMap<u32, Flags>,
}

fn flag_names(flags: &[Flag]) -> Flags {
    flags
        .iter()
        .filter(|f| **f != Flag::Recent)
        .map(|f| {
            let mut w = Vec::new();
            write_flag(&mut w, f);
            String::from_utf8_lossy(&w).into_owned()
        })
        .collect()
}

fn uids_of(set: &SeqSet) -> Vec<u32> {
    let SeqSet::Ranges(ranges) = set else {
        panic!("$ in a response: {set:?}")
    };
    let value = |b: &SeqBound| match b {
        SeqBound::Value(v) => v.get(),
        SeqBound::Star => panic!("* in a response"),
    };
    ranges
        .iter()
        .flat_map(|r| match r {
            SeqRange::Single(b) => value(b)..=value(b),
            SeqRange::Range(a, b) => value(a).min(value(b))..=value(a).max(value(b)),
        })
        .collect()
}

impl Cache {
    fn uid_at(&self, seq: u32) -> Option<u32> {
        self.msgs.keys().nth(seq as usize - 1).copied()
    }

    fn max_uid(&self) -> u32 {
        self.msgs.keys().next_back().copied().unwrap_or(0)
    }

    /// Takes in a command's responses; returns the EXISTS count if any.
    fn absorb(&mut self, responses: &[Response], context: &str) -> Option<u32> {
        let (mut code, mut fetched, mut exists) = (None, 0u64, None);
        for r in responses {
            match &r.parsed {
                Parsed::Vanished { uids, .. } => {
                    for u in uids_of(uids) {
                        self.msgs.remove(&u);
                    }
                }
                Parsed::Expunge(_) => panic!("{context}: EXPUNGE under QRESYNC: {}", r.text),
                Parsed::Exists(n) => exists = Some(*n),
                Parsed::Fetch { seq, items } => {
                    let mut uid = None;
                    let mut flags = None;
                    for i in items {
                        match i {
                            FetchItem::Uid(u) => uid = Some(u.get()),
                            FetchItem::Flags(f) => flags = Some(flag_names(f)),
                            FetchItem::ModSeq(m) => fetched = fetched.max(m.get()),
                            _ => {}
                        }
                    }
                    let uid = uid.or_else(|| self.uid_at(seq.get()));
                    let uid = uid.unwrap_or_else(|| {
                        panic!("{context}: FETCH for an unknown message: {}", r.text)
                    });
                    if let Some(flags) = flags {
                        self.msgs.insert(uid, flags);
                    } else {
                        assert!(self.msgs.contains_key(&uid), "{context}: {}", r.text);
                    }
                }
                Parsed::Status {
                    code: Some(ResponseCode::HighestModSeq(m)),
                    ..
                } => code = Some(m.0),
                Parsed::Status {
                    code: Some(ResponseCode::UidValidity(v)),
                    ..
                } => self.validity = v.get(),
                _ => {}
            }
        }
        match code {
            Some(m) => self.modseq = m,
            None => self.modseq = self.modseq.max(fetched),
        }
        exists
    }
}

/// The syncing client: its cache and, while connected, its session.
struct SyncClient {
    cache: Cache,
    session: Option<Session>,
}

impl SyncClient {
    fn run(&mut self, cmd: &str) {
        let s = self.session.as_mut().expect("connected");
        let r = s.run(cmd);
        let last = r.last().expect("tagged");
        assert_eq!(last.status(), Some("OK"), "{cmd}: {:#?}", common::texts(&r));
        let exists = self.cache.absorb(&r, cmd);
        if let Some(n) = exists {
            if n as usize != self.cache.msgs.len() {
                self.fetch_new();
            }
        }
    }

    /// Learns the messages above the largest cached UID.
    fn fetch_new(&mut self) {
        let from = self.cache.max_uid() + 1;
        let s = self.session.as_mut().expect("connected");
        let r = s.run(&format!("UID FETCH {from}:* (FLAGS)"));
        assert_eq!(r.last().unwrap().status(), Some("OK"));
        self.cache.absorb(&r, "UID FETCH new");
    }

    fn connect(&mut self, root: &Root, rng: &mut Rng) {
        let mut s = Session::login(root, USER, PASS);
        s.ok("ENABLE QRESYNC");
        let select = if self.cache.validity == 0 {
            "SELECT INBOX".to_owned()
        } else if rng.below(3) == 0 && !self.cache.msgs.is_empty() {
            // Known UIDs: only changes to these are reported.
            format!(
                "SELECT INBOX (QRESYNC ({} {} 1:{}))",
                self.cache.validity,
                self.cache.modseq,
                self.cache.max_uid()
            )
        } else {
            format!(
                "SELECT INBOX (QRESYNC ({} {}))",
                self.cache.validity, self.cache.modseq
            )
        };
        let r = s.ok_run(&select);
        self.session = Some(s);
        if self.cache.validity == 0 {
            self.cache.absorb(&r, &select);
            let r = self
                .session
                .as_mut()
                .unwrap()
                .ok_run("UID FETCH 1:* (FLAGS)");
            self.cache.absorb(&r, "initial UID FETCH");
            return;
        }
        // The QRESYNC answer (VANISHED (EARLIER), FETCH) is absorbed, but
        // a tagged OK does not move the cached modseq until the FETCHes
        // of new messages are done: the SELECT's HIGHESTMODSEQ is kept.
        self.cache.absorb(&r, &select);
        self.fetch_new();
    }

    fn drop_connection(&mut self) {
        self.session = None;
    }

    /// Sends a command and drops the connection without reading the
    /// answer: the server may or may not have carried it out.
    fn drop_mid_command(&mut self, cmd: &str) {
        if let Some(s) = self.session.as_mut() {
            s.start(cmd);
        }
        self.session = None;
    }
}

/// The truth, read by the other session: UID → flags of every message.
fn truth(b: &mut Session) -> BTreeMap<u32, Flags> {
    b.ok("NOOP");
    let r = b.ok_run("UID FETCH 1:* (FLAGS)");
    let mut out = BTreeMap::new();
    for resp in &r {
        let (mut uid, mut flags) = (None, None);
        for i in resp.fetch_items() {
            match i {
                FetchItem::Uid(u) => uid = Some(u.get()),
                FetchItem::Flags(f) => flags = Some(flag_names(f)),
                _ => {}
            }
        }
        if let (Some(u), Some(f)) = (uid, flags) {
            out.insert(u, f);
        }
    }
    out
}

/// One change by the other session, or a new message.
fn mutate(root: &Root, b: &mut Session, rng: &mut Rng, appended: &mut u32) {
    let now = truth(b);
    let uids: Vec<u32> = now.keys().copied().collect();
    if uids.len() < 6 || rng.below(12) == 0 {
        // New mail arrives (through the store, as a delivery does).
        *appended += 1;
        common::seed(root, USER, PASS, "INBOX", &[&numbered_msg(100 + *appended)]);
        return;
    }
    let uid = *rng.pick(&uids);
    match rng.below(8) {
        0 => {
            b.ok(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"));
            b.ok(&format!("UID EXPUNGE {uid}"));
        }
        1 => {
            b.ok(&format!("UID MOVE {uid} Archive"));
        }
        _ => {
            let sign = if rng.below(2) == 0 { '+' } else { '-' };
            let flag = rng.pick(&FLAGS);
            b.ok(&format!("UID STORE {uid} {sign}FLAGS ({flag})"));
        }
    }
}

/// One step of the syncing client while connected.
fn act(a: &mut SyncClient, rng: &mut Rng) {
    let n = a.cache.msgs.len();
    let seq = rng.below(n) + 1;
    let uid = a.cache.uid_at(seq as u32).unwrap_or(1);
    let flag = *rng.pick(&FLAGS);
    let sign = if rng.below(2) == 0 { '+' } else { '-' };
    match rng.below(100) {
        0..=14 => a.drop_connection(),
        15..=21 => {
            let cmd = match rng.below(3) {
                0 => format!("STORE {seq} {sign}FLAGS ({flag})"),
                1 => format!("FETCH {seq} BODY[TEXT]"),
                _ => format!("UID EXPUNGE {uid}"),
            };
            a.drop_mid_command(&cmd);
        }
        22..=39 => a.run("NOOP"),
        40..=54 if n > 0 => {
            if rng.below(2) == 0 {
                a.run(&format!("STORE {seq} {sign}FLAGS ({flag})"));
            } else {
                // .SILENT: the client applies the change itself.
                a.run(&format!("STORE {seq} {sign}FLAGS.SILENT ({flag})"));
                if let Some(f) = a.cache.msgs.get_mut(&uid) {
                    if sign == '+' {
                        f.insert(flag.to_owned());
                    } else {
                        f.remove(flag);
                    }
                }
            }
        }
        55..=64 if n > 0 => a.run(&format!("UID STORE {uid} {sign}FLAGS ({flag})")),
        65..=74 if n > 0 => a.run(&format!("FETCH {seq} BODY[TEXT]")),
        75..=81 if n > 0 => a.run(&format!("UID FETCH {uid} BODY[TEXT]")),
        82..=85 if n > 0 => {
            a.run(&format!("UID STORE {uid} +FLAGS ({})", "\\Deleted"));
            a.run(&format!("UID EXPUNGE {uid}"));
        }
        _ => {}
    }
}

#[test]
fn rfc7162_3_2_5_qresync_cache_survives_dropped_connections() {
    let root = common::root_with_numbered("qresync-client", USER, PASS, 20);
    let mut rng = Rng(SEED);
    let mut b = Session::login(&root, USER, PASS);
    b.ok("SELECT INBOX");
    let mut a = SyncClient {
        cache: Cache::default(),
        session: None,
    };
    let mut appended = 0;
    let mut reconnections = 0;
    for round in 0..ROUNDS {
        if a.session.is_none() {
            a.connect(&root, &mut rng);
            reconnections += 1;
            let want = truth(&mut b);
            assert_eq!(
                a.cache.msgs, want,
                "round {round}: the cache differs from the mailbox after reconnecting"
            );
        } else {
            act(&mut a, &mut rng);
        }
        if rng.below(10) < 6 {
            mutate(&root, &mut b, &mut rng, &mut appended);
        }
    }
    assert!(reconnections > 100, "{reconnections} reconnections");
    eprintln!("{ROUNDS} rounds, {reconnections} reconnections");
}
