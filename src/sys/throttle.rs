//! A small table of counters shared by every process through one file
//! under `flock`: the failed-login throttle's state (issue 7). Owns the
//! file format, its bound and the locking; never decides what a count
//! means (delay, lock-out: that policy is the caller's).
//!
//! The file is a fixed array of [`SLOTS`] records of [`SLOT`] bytes:
//! key length (1 byte), key (up to [`MAX_KEY`] bytes), count (u32 LE), time
//! of the last bump (u64 LE, UNIX seconds). When every slot is taken, a
//! new key takes the slot of one whose window has passed, else of the one
//! with the lowest count (the least recently bumped among equals), but
//! never of a key whose count reached the caller's `keep` within the
//! window (a locked-out name must not be freed by a flood of junk names),
//! nor of one another key of the same call holds or has just taken (the
//! keys of one attempt evicting each other all read 0). If a key finds no
//! slot, the call stores nothing and reports every count as `u32::MAX`.
//! So the file never grows past `SLOTS * SLOT` bytes (128 KiB) whatever a
//! client sends.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

/// Records in the file.
pub(crate) const SLOTS: usize = 1024;
/// Bytes per record.
pub(crate) const SLOT: usize = 128;
/// Longest key (longer ones are cut; a user name is at most 64 bytes).
pub(crate) const MAX_KEY: usize = SLOT - 1 - 4 - 8;

/// A counter table shared between processes.
#[derive(Debug)]
pub(crate) struct CounterFile {
    file: File,
}

struct Slot {
    key: Vec<u8>,
    count: u32,
    last: u64,
}

fn decode(raw: &[u8]) -> Slot {
    let len = usize::from(raw.first().copied().unwrap_or(0)).min(MAX_KEY);
    let key = raw.get(1..1 + len).unwrap_or_default().to_vec();
    let num = |at: usize, n: usize| -> u64 {
        raw.get(at..at + n)
            .map(|b| {
                b.iter()
                    .rev()
                    .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
            })
            .unwrap_or(0)
    };
    Slot {
        key,
        count: u32::try_from(num(1 + MAX_KEY, 4)).unwrap_or(u32::MAX),
        last: num(1 + MAX_KEY + 4, 8),
    }
}

fn encode(s: &Slot) -> [u8; SLOT] {
    let mut out = [0u8; SLOT];
    let len = s.key.len().min(MAX_KEY);
    out[0] = len as u8;
    out[1..1 + len].copy_from_slice(&s.key[..len]);
    out[1 + MAX_KEY..1 + MAX_KEY + 4].copy_from_slice(&s.count.to_le_bytes());
    out[1 + MAX_KEY + 4..1 + MAX_KEY + 12].copy_from_slice(&s.last.to_le_bytes());
    out
}

fn key_bytes(key: &str) -> Vec<u8> {
    let b = key.as_bytes();
    b.get(..MAX_KEY).unwrap_or(b).to_vec()
}

impl CounterFile {
    /// Opens (creating, mode 0600) the table at `path`; refuses a link or
    /// anything but a regular file.
    pub(crate) fn open(path: &Path) -> io::Result<CounterFile> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
            .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        Ok(CounterFile { file })
    }

    /// Runs `f` on the decoded table under an exclusive lock, then writes
    /// back the slots it changed.
    fn with_table<T>(
        &mut self,
        f: impl FnOnce(&mut Vec<Slot>, &mut Vec<usize>) -> T,
    ) -> io::Result<T> {
        let locked = Flock::lock(self.file.try_clone()?, FlockArg::LockExclusive)
            .map_err(|(_, e)| io::Error::from(e))?;
        // Positional reads from 0: the descriptor's offset is shared and
        // means nothing here.
        let mut raw = vec![0u8; SLOTS * SLOT];
        let mut got = 0;
        while let Some(rest) = raw.get_mut(got..).filter(|r| !r.is_empty()) {
            match locked.read_at(rest, got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut table: Vec<Slot> = raw.chunks(SLOT).map(decode).collect();
        let mut dirty = Vec::new();
        let out = f(&mut table, &mut dirty);
        for i in dirty {
            if let Some(s) = table.get(i) {
                locked.write_all_at(&encode(s), (i * SLOT) as u64)?;
            }
        }
        drop(locked);
        Ok(out)
    }

    /// The live counts of `keys` (0 for a key not held or whose last bump
    /// is more than `window` seconds before `now`), read under the lock,
    /// changing nothing.
    pub(crate) fn counts(&mut self, keys: &[&str], now: u64, window: u64) -> io::Result<Vec<u32>> {
        self.with_table(|table, _dirty| {
            keys.iter()
                .map(|k| {
                    let k = key_bytes(k);
                    table
                        .iter()
                        .find(|s| !s.key.is_empty() && s.key == k)
                        .filter(|s| now.saturating_sub(s.last) <= window)
                        .map_or(0, |s| s.count)
                })
                .collect()
        })
    }

    /// Counts one attempt under all of `keys` together, under one lock (so
    /// parallel processes each see the others' bumps): for each key,
    /// forgets its count if its last bump is more than `window` seconds
    /// before `now`, returns the count, then adds one and stamps `now`.
    /// Two exceptions, where nothing at all is stored:
    /// - if one of the first `gates` keys already reached `keep` within
    ///   the window, the counts are returned as they are (0 for a key not
    ///   held): a refused attempt must neither push other keys towards
    ///   `keep` nor stretch the window of the ones there;
    /// - if some key is not held and cannot take a slot (see the module
    ///   comment; a slot another key of this call holds is never taken),
    ///   every count is `u32::MAX`, over any limit.
    pub(crate) fn count_and_bump(
        &mut self,
        keys: &[&str],
        gates: usize,
        now: u64,
        window: u64,
        keep: u32,
    ) -> io::Result<Vec<u32>> {
        self.with_table(|table, dirty| {
            let live = |s: &Slot| now.saturating_sub(s.last) <= window;
            let keys: Vec<Vec<u8>> = keys.iter().map(|k| key_bytes(k)).collect();
            let held: Vec<Option<usize>> = keys
                .iter()
                .map(|k| table.iter().position(|s| !s.key.is_empty() && s.key == *k))
                .collect();
            let count = |at: Option<usize>| {
                at.and_then(|i| table.get(i))
                    .filter(|s| live(s))
                    .map_or(0, |s| s.count)
            };
            if held.iter().take(gates).any(|&at| count(at) >= keep) {
                return held.iter().map(|&at| count(at)).collect();
            }
            // Every key's slot is chosen before any is written, none twice.
            let mut slots: Vec<usize> = Vec::with_capacity(keys.len());
            for (n, (k, at)) in keys.iter().zip(&held).enumerate() {
                let same = keys.iter().take(n).position(|e| e == k);
                let taken = |i: usize| slots.contains(&i) || held.contains(&Some(i));
                let chosen = at
                    .or_else(|| same.and_then(|j| slots.get(j).copied()))
                    .or_else(|| {
                        (0..table.len())
                            .find(|&i| table.get(i).is_some_and(|s| s.key.is_empty()) && !taken(i))
                    })
                    .or_else(|| {
                        // Full: a slot whose window passed, else the
                        // lowest count that is not kept (an attacker
                        // must outbid a name to evict it), oldest first.
                        table
                            .iter()
                            .enumerate()
                            .filter(|&(i, s)| !taken(i) && (!live(s) || s.count < keep))
                            .min_by_key(|(_, s)| (live(s), s.count, s.last))
                            .map(|(i, _)| i)
                    });
                match chosen {
                    Some(i) => slots.push(i),
                    None => return vec![u32::MAX; keys.len()],
                }
            }
            keys.into_iter()
                .zip(slots)
                .map(|(k, i)| {
                    let Some(s) = table.get_mut(i) else {
                        return u32::MAX;
                    };
                    if s.key != k || now.saturating_sub(s.last) > window {
                        *s = Slot {
                            key: k,
                            count: 0,
                            last: now,
                        };
                    }
                    let before = s.count;
                    s.count = s.count.saturating_add(1);
                    s.last = now;
                    dirty.push(i);
                    before
                })
                .collect()
        })
    }

    /// Applies `changes` in order, all under one lock and with one read of
    /// the table: the end of a login attempt touches up to four counters,
    /// and each separate update cost a lock, a 128 KiB read and a decode.
    /// Keys not in the table are left alone.
    pub(crate) fn update(&mut self, changes: &[(&str, Change)]) -> io::Result<()> {
        self.with_table(|table, dirty| {
            for (key, change) in changes {
                let k = key_bytes(key);
                let Some(i) = table.iter().position(|s| !s.key.is_empty() && s.key == k) else {
                    continue;
                };
                let Some(s) = table.get_mut(i) else {
                    continue;
                };
                match change {
                    Change::TakeBack => s.count = s.count.saturating_sub(1),
                    Change::Clear => {
                        *s = Slot {
                            key: Vec::new(),
                            count: 0,
                            last: 0,
                        }
                    }
                }
                dirty.push(i);
            }
        })
    }
}

/// What [`CounterFile::update`] does to one key's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Takes back one attempt counted for the key (a login that turned
    /// out to be right, or one no longer in flight): what a correct
    /// password proves about one account does not clear the guesses made
    /// from the same place, but it must not count as one either.
    TakeBack,
    /// Forgets the key's count (after a successful login).
    Clear,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::temp_dir;

    #[test]
    fn counts_are_read_without_changing_them() {
        let dir = temp_dir("throttle-read");
        let mut t = CounterFile::open(&dir.join("t")).expect("open");
        t.count_and_bump(&["u:a", "a:1"], 1, 100, 60, 9)
            .expect("bump");
        t.count_and_bump(&["u:a"], 1, 100, 60, 9).expect("bump");
        assert_eq!(
            t.counts(&["u:a", "a:1", "u:b"], 100, 60).expect("read"),
            [2, 1, 0]
        );
        assert_eq!(
            t.counts(&["u:a", "a:1", "u:b"], 100, 60).expect("read"),
            [2, 1, 0]
        );
        // Past the window a count is gone.
        assert_eq!(t.counts(&["u:a"], 161, 60).expect("read"), [0]);
    }

    #[test]
    fn a_taken_back_attempt_no_longer_counts() {
        let dir = temp_dir("throttle-unbump");
        let mut t = CounterFile::open(&dir.join("t")).expect("open");
        assert_eq!(
            t.count_and_bump(&["a:1"], 1, 100, 60, 9).expect("bump"),
            [0]
        );
        assert_eq!(
            t.count_and_bump(&["a:1"], 1, 100, 60, 9).expect("bump"),
            [1]
        );
        t.update(&[("a:1", Change::TakeBack)]).expect("take back");
        assert_eq!(
            t.count_and_bump(&["a:1"], 1, 100, 60, 9).expect("bump"),
            [1]
        );
    }

    /// Kept keys (count at `keep` within the window) are never evicted:
    /// junk keys evict each other, lowest count first; with every slot
    /// kept, a new key reads as over every limit and is not stored; once
    /// their window passes, kept keys make room again.
    #[test]
    fn kept_keys_survive_a_flood_and_a_full_table_refuses_new_keys() {
        let dir = temp_dir("throttle-keep");
        let mut t = CounterFile::open(&dir.join("t")).expect("open");
        for _ in 0..3 {
            t.count_and_bump(&["u:victim"], 1, 100, 60, 3)
                .expect("bump");
        }
        for i in 0..(SLOTS * 2) {
            let k = format!("u:junk{i}");
            assert_eq!(t.count_and_bump(&[&k], 1, 101, 60, 3).expect("bump"), [0]);
        }
        assert_eq!(
            t.count_and_bump(&["u:victim"], 1, 102, 60, 3)
                .expect("bump"),
            [3]
        );
        // A name with two failures outlives a flood of names with one.
        t.count_and_bump(&["u:two"], 1, 102, 60, 3).expect("bump");
        t.count_and_bump(&["u:two"], 1, 102, 60, 3).expect("bump");
        for i in 0..(SLOTS * 2) {
            let k = format!("u:more{i}");
            t.count_and_bump(&[&k], 1, 103, 60, 3).expect("bump");
        }
        assert_eq!(
            t.count_and_bump(&["u:two"], 1, 104, 60, 3).expect("bump"),
            [2]
        );
        // Every slot kept: a new key is over every limit, and not stored.
        for i in 0..SLOTS {
            let k = format!("u:locked{i}");
            for _ in 0..3 {
                t.count_and_bump(&[&k], 1, 105, 60, 3).expect("bump");
            }
        }
        assert_eq!(
            t.count_and_bump(&["u:new"], 1, 106, 60, 3).expect("bump"),
            [u32::MAX]
        );
        assert_eq!(
            t.count_and_bump(&["u:new"], 1, 106, 60, 3).expect("bump"),
            [u32::MAX]
        );
        // Their window passed: room again.
        assert_eq!(
            t.count_and_bump(&["u:new"], 1, 200, 60, 3).expect("bump"),
            [0]
        );
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    /// Keys in use, as the file holds them.
    fn used(t: &mut CounterFile) -> usize {
        t.with_table(|table, _| table.iter().filter(|s| !s.key.is_empty()).count())
            .expect("read")
    }

    /// One login attempt as `cli::throttle` makes it: its four keys
    /// counted, then its two `p:` keys taken back (a failure).
    fn attempt(t: &mut CounterFile, user: &str, addr: &str, now: u64) -> Vec<u32> {
        let (u, a) = (format!("u:{user}"), format!("a:{addr}"));
        let (pu, pa) = (format!("p:{u}"), format!("p:{a}"));
        let counts = t
            .count_and_bump(&[&u, &a, &pu, &pa], 2, now, 60, 3)
            .expect("bump");
        t.update(&[(&pu, Change::TakeBack), (&pa, Change::TakeBack)])
            .expect("take back");
        counts
    }

    /// All slots but one kept: the four keys of one attempt evicted each
    /// other (each chose its slot alone, and the only one free was the
    /// one this same attempt had just taken), so every key read 0 and the
    /// name could be guessed without end. Now an attempt whose keys do not
    /// all fit is refused whole and stores nothing.
    #[test]
    fn the_keys_of_one_attempt_never_evict_each_other() {
        let dir = temp_dir("throttle-self-evict");
        let mut t = CounterFile::open(&dir.join("t")).expect("open");
        for i in 0..(SLOTS - 1) {
            let k = format!("u:locked{i}");
            for _ in 0..3 {
                t.count_and_bump(&[&k], 1, 100, 60, 3).expect("bump");
            }
        }
        for n in 0..10 {
            let counts = attempt(&mut t, "victim", "192.0.2.1", 101);
            let (u, a) = (counts[0], counts[1]);
            assert!(
                n < 3 || u >= 3 || a >= 3,
                "attempt {n}: counts {counts:?}, still below the lock-out"
            );
        }
        assert_eq!(used(&mut t), SLOTS - 1);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    /// Refused attempts used to count and re-stamp their keys: a
    /// locked-out address pushed every name it tried to the lock-out and
    /// kept its own lock-out alive for as long as it kept trying.
    #[test]
    fn a_refused_attempt_counts_nothing() {
        let dir = temp_dir("throttle-refused");
        let mut t = CounterFile::open(&dir.join("t")).expect("open");
        for n in 0..3 {
            assert_eq!(attempt(&mut t, "x", "192.0.2.1", 100)[1], n);
        }
        let before = used(&mut t);
        // From the locked-out address, under names old and new.
        for i in 0..50 {
            let counts = attempt(&mut t, &format!("name{i}"), "192.0.2.1", 110 + i);
            assert_eq!(counts[..2], [0, 3], "{i}");
            let counts = attempt(&mut t, "x", "192.0.2.1", 110 + i);
            assert_eq!(counts[..2], [3, 3], "{i}");
        }
        assert_eq!(used(&mut t), before);
        // Elsewhere, those names were never tried.
        assert_eq!(attempt(&mut t, "name7", "198.51.100.1", 159)[0], 0);
        // The window runs from the last attempt counted (at 100), not
        // from the refused ones: at 161 the address is checked again.
        assert_eq!(attempt(&mut t, "y", "192.0.2.1", 159)[1], 3);
        assert_eq!(attempt(&mut t, "y", "192.0.2.1", 161)[..2], [0, 0]);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn counts_decay_reset_and_stay_bounded() {
        let dir = temp_dir("throttle");
        let path = dir.join("t");
        let mut a = CounterFile::open(&path).expect("open");
        let mut b = CounterFile::open(&path).expect("open twice");
        assert_eq!(
            a.count_and_bump(&["u:x", "a:1"], 2, 100, 60, u32::MAX)
                .expect("bump"),
            [0, 0]
        );
        // The same handle again and again (its offset must not matter).
        for n in 1..5 {
            assert_eq!(
                a.count_and_bump(&["u:y"], 1, 100, 60, u32::MAX)
                    .expect("bump"),
                [n - 1]
            );
        }
        assert_eq!(
            b.count_and_bump(&["u:x"], 1, 110, 60, u32::MAX)
                .expect("bump"),
            [1]
        );
        assert_eq!(
            a.count_and_bump(&["u:x", "a:1"], 2, 120, 60, u32::MAX)
                .expect("bump"),
            [2, 1]
        );
        // Past the window since the last bump: forgotten.
        assert_eq!(
            a.count_and_bump(&["u:x"], 1, 200, 60, u32::MAX)
                .expect("bump"),
            [0]
        );
        b.update(&[("u:x", Change::Clear), ("u:unknown", Change::TakeBack)])
            .expect("clear");
        assert_eq!(
            a.count_and_bump(&["u:x"], 1, 201, 60, u32::MAX)
                .expect("bump"),
            [0]
        );
        // Many distinct keys: the file never grows past its bound.
        for i in 0..(SLOTS * 2) {
            a.count_and_bump(&[&format!("u:{i}")], 1, 300 + i as u64, 600, u32::MAX)
                .expect("bump");
        }
        let len = std::fs::metadata(&path).expect("stat").len();
        assert!(len <= (SLOTS * SLOT) as u64, "{len}");
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
