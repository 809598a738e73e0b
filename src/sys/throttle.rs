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
//! window (a locked-out name must not be freed by a flood of junk names);
//! if every slot holds such a key, the new key is not stored and its count
//! is reported as `u32::MAX`. So the file never grows past `SLOTS * SLOT`
//! bytes (128 KiB) whatever a client sends.

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

    /// For each key: forgets its count if its last bump is more than
    /// `window` seconds before `now`, returns the count, then adds one and
    /// stamps `now` — all under one lock, so parallel processes each see
    /// the others' bumps. A key not in the table takes a free slot or
    /// evicts one (see the module comment), never one whose count reached
    /// `keep` within the window; when none can be taken its count is
    /// `u32::MAX` (over any limit) and nothing is stored.
    pub(crate) fn count_and_bump(
        &mut self,
        keys: &[&str],
        now: u64,
        window: u64,
        keep: u32,
    ) -> io::Result<Vec<u32>> {
        self.with_table(|table, dirty| {
            keys.iter()
                .map(|k| {
                    let k = key_bytes(k);
                    let live = |s: &Slot| now.saturating_sub(s.last) <= window;
                    let found = table
                        .iter()
                        .position(|s| !s.key.is_empty() && s.key == k)
                        .or_else(|| table.iter().position(|s| s.key.is_empty()))
                        .or_else(|| {
                            // Full: a slot whose window passed, else the
                            // lowest count that is not kept (an attacker
                            // must outbid a name to evict it), oldest first.
                            table
                                .iter()
                                .enumerate()
                                .filter(|(_, s)| !live(s) || s.count < keep)
                                .min_by_key(|(_, s)| (live(s), s.count, s.last))
                                .map(|(i, _)| i)
                        });
                    let Some((i, s)) = found.and_then(|i| table.get_mut(i).map(|s| (i, s))) else {
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
    fn a_taken_back_attempt_no_longer_counts() {
        let dir = temp_dir("throttle-unbump");
        let mut t = CounterFile::open(&dir.join("t")).expect("open");
        assert_eq!(t.count_and_bump(&["a:1"], 100, 60, 9).expect("bump"), [0]);
        assert_eq!(t.count_and_bump(&["a:1"], 100, 60, 9).expect("bump"), [1]);
        t.update(&[("a:1", Change::TakeBack)]).expect("take back");
        assert_eq!(t.count_and_bump(&["a:1"], 100, 60, 9).expect("bump"), [1]);
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
            t.count_and_bump(&["u:victim"], 100, 60, 3).expect("bump");
        }
        for i in 0..(SLOTS * 2) {
            let k = format!("u:junk{i}");
            assert_eq!(t.count_and_bump(&[&k], 101, 60, 3).expect("bump"), [0]);
        }
        assert_eq!(
            t.count_and_bump(&["u:victim"], 102, 60, 3).expect("bump"),
            [3]
        );
        // A name with two failures outlives a flood of names with one.
        t.count_and_bump(&["u:two"], 102, 60, 3).expect("bump");
        t.count_and_bump(&["u:two"], 102, 60, 3).expect("bump");
        for i in 0..(SLOTS * 2) {
            let k = format!("u:more{i}");
            t.count_and_bump(&[&k], 103, 60, 3).expect("bump");
        }
        assert_eq!(t.count_and_bump(&["u:two"], 104, 60, 3).expect("bump"), [2]);
        // Every slot kept: a new key is over every limit, and not stored.
        for i in 0..SLOTS {
            let k = format!("u:locked{i}");
            for _ in 0..3 {
                t.count_and_bump(&[&k], 105, 60, 3).expect("bump");
            }
        }
        assert_eq!(
            t.count_and_bump(&["u:new"], 106, 60, 3).expect("bump"),
            [u32::MAX]
        );
        assert_eq!(
            t.count_and_bump(&["u:new"], 106, 60, 3).expect("bump"),
            [u32::MAX]
        );
        // Their window passed: room again.
        assert_eq!(t.count_and_bump(&["u:new"], 200, 60, 3).expect("bump"), [0]);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn counts_decay_reset_and_stay_bounded() {
        let dir = temp_dir("throttle");
        let path = dir.join("t");
        let mut a = CounterFile::open(&path).expect("open");
        let mut b = CounterFile::open(&path).expect("open twice");
        assert_eq!(
            a.count_and_bump(&["u:x", "a:1"], 100, 60, u32::MAX)
                .expect("bump"),
            [0, 0]
        );
        // The same handle again and again (its offset must not matter).
        for n in 1..5 {
            assert_eq!(
                a.count_and_bump(&["u:y"], 100, 60, u32::MAX).expect("bump"),
                [n - 1]
            );
        }
        assert_eq!(
            b.count_and_bump(&["u:x"], 110, 60, u32::MAX).expect("bump"),
            [1]
        );
        assert_eq!(
            a.count_and_bump(&["u:x", "a:1"], 120, 60, u32::MAX)
                .expect("bump"),
            [2, 1]
        );
        // Past the window since the last bump: forgotten.
        assert_eq!(
            a.count_and_bump(&["u:x"], 200, 60, u32::MAX).expect("bump"),
            [0]
        );
        b.update(&[("u:x", Change::Clear), ("u:unknown", Change::TakeBack)])
            .expect("clear");
        assert_eq!(
            a.count_and_bump(&["u:x"], 201, 60, u32::MAX).expect("bump"),
            [0]
        );
        // Many distinct keys: the file never grows past its bound.
        for i in 0..(SLOTS * 2) {
            a.count_and_bump(&[&format!("u:{i}")], 300 + i as u64, 600, u32::MAX)
                .expect("bump");
        }
        let len = std::fs::metadata(&path).expect("stat").len();
        assert!(len <= (SLOTS * SLOT) as u64, "{len}");
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
