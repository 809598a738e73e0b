//! A bound on password derivations running at once across every session
//! process of a host: one root-owned file under the system root whose
//! bytes are the slots, each held by an open-file-description lock
//! (`F_OFD_SETLKW`) for the length of one Argon2 run. Owns only taking and
//! giving back a slot; never derives anything itself.
//!
//! Why: each session is its own process, and ten logins arriving together
//! would otherwise run ten 19 MiB derivations time-sliced on two cores,
//! each evicting the others' memory from the caches (13.5 ms of CPU for one
//! derivation alone, 17.2 ms each for ten at once on the benchmark
//! machine), and a burst of connections could hold N × 19 MiB at once. A
//! lock belongs to the process's own open of the file, so a session that
//! dies or is killed while deriving gives its slot back with its
//! descriptors; nothing can leak a slot for good.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{fcntl, FcntlArg};
use nix::libc;

/// Most slots one file offers, whatever the configuration says.
pub(crate) const MAX_SLOTS: u32 = 1024;

/// The slot file, opened by this process (its own open file description).
#[derive(Debug)]
pub(crate) struct KdfSlots {
    file: File,
    slots: u32,
}

/// A slot held until dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    slots: &'a KdfSlots,
    index: u32,
}

fn range(kind: libc::c_int, index: u32) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: libc::off_t::from(index),
        l_len: 1,
        // Must be 0 for open-file-description locks.
        l_pid: 0,
    }
}

impl KdfSlots {
    /// Opens (creating, mode 0600) the slot file at `path`, refusing a
    /// link or anything but a regular file; `slots` is clamped to
    /// 1..=[`MAX_SLOTS`].
    pub(crate) fn open(path: &Path, slots: u32) -> io::Result<KdfSlots> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        Ok(KdfSlots {
            file,
            slots: slots.clamp(1, MAX_SLOTS),
        })
    }

    /// Takes a free slot, or waits for the one this process is assigned
    /// (by process id) when all are taken.
    pub(crate) fn acquire(&self) -> io::Result<Slot<'_>> {
        let fd = self.file.as_raw_fd();
        for index in 0..self.slots {
            match fcntl(fd, FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, index))) {
                Ok(_) => return Ok(Slot { slots: self, index }),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let index = std::process::id() % self.slots;
        loop {
            match fcntl(fd, FcntlArg::F_OFD_SETLKW(&range(libc::F_WRLCK, index))) {
                Ok(_) => return Ok(Slot { slots: self, index }),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // Closing the file would release it too; a failed unlock here
        // leaves the slot held only until this process closes the file
        // (at login, or at exit).
        let _ = fcntl(
            self.slots.file.as_raw_fd(),
            FcntlArg::F_OFD_SETLK(&range(libc::F_UNLCK, self.index)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two opens of the file are two holders: with one slot the second
    /// cannot take it while the first holds it, and can once it is given
    /// back. (Waiting is shown on the binary, `tests/hostile_guessing.rs`.)
    #[test]
    fn a_slot_is_held_against_other_opens_until_dropped() {
        let dir = std::env::temp_dir().join(format!("kdf-slots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kdf-slots");
        let a = KdfSlots::open(&path, 1).unwrap();
        let b = KdfSlots::open(&path, 1).unwrap();
        let held = a.acquire().unwrap();
        let fd = b.file.as_raw_fd();
        assert!(fcntl(fd, FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, 0))).is_err());
        drop(held);
        assert!(fcntl(fd, FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, 0))).is_ok());
        let two = KdfSlots::open(&path, 2).unwrap();
        // b holds slot 0 now: another open with two slots takes slot 1.
        assert_eq!(two.acquire().unwrap().index, 1);
        std::os::unix::fs::symlink(&path, dir.join("link")).unwrap();
        assert!(KdfSlots::open(&dir.join("link"), 1).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
