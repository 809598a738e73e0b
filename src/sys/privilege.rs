//! Leaving root: chroot, dropping to an unprivileged uid/gid and checking
//! that the drop really happened, user look-ups and ownership, and reading
//! a user-owned directory by descriptor ([`UserDir`]) without following links.
//!
//! Owns the exact system-call sequence and its verification; it never decides
//! *which* user to become (that policy belongs to the caller, see
//! `doc/deployment.md`) and never continues silently after a failed step.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{self, Gid, Uid};

/// Failure of a privilege operation; each variant names the step and path.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// `chdir` into the directory to chroot into failed.
    #[error("cannot enter {path}: {source}")]
    Chdir {
        /// The directory.
        path: PathBuf,
        /// The underlying errno.
        source: Errno,
    },
    /// `chroot(".")` failed (typically: not root).
    #[error("cannot chroot into {path}: {source}")]
    Chroot {
        /// The directory.
        path: PathBuf,
        /// The underlying errno.
        source: Errno,
    },
    /// Dropping to uid 0 was requested, which would not drop anything.
    #[error("refusing to drop privileges to uid 0")]
    TargetIsRoot,
    /// One of `setgroups`, `setresgid`, `setresuid` failed.
    #[error("{call}({id}) failed: {source}")]
    SetId {
        /// The system call.
        call: &'static str,
        /// The requested id.
        id: u32,
        /// The underlying errno.
        source: Errno,
    },
    /// After the calls, the process identity is not what was requested.
    #[error("privilege drop did not take effect: {detail}")]
    NotDropped {
        /// What was observed.
        detail: String,
    },
    /// The user database could not be read.
    #[error("cannot look up user {name:?}: {source}")]
    Lookup {
        /// The user name.
        name: String,
        /// The underlying errno.
        source: Errno,
    },
    /// Making the process undumpable failed.
    #[error("{call} failed: {source}")]
    Harden {
        /// The system call.
        call: &'static str,
        /// The underlying errno.
        source: Errno,
    },
    /// `stat`, `lstat` or `lchown` on a path failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// A local UNIX account as found in the user database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The account's uid.
    pub uid: Uid,
    /// The account's primary gid.
    pub gid: Gid,
    /// The account's home directory.
    pub home: PathBuf,
}

/// Whether the process runs with effective uid 0.
pub fn is_root() -> bool {
    unistd::geteuid().is_root()
}

/// Makes `dir` the root directory of the process and its working directory.
///
/// Uses `chdir(dir)`, `chroot(".")`, `chdir("/")` so that no working directory
/// outside the new root survives. Requires root (`CAP_SYS_CHROOT`).
pub fn chroot_into(dir: &Path) -> Result<(), PrivilegeError> {
    unistd::chdir(dir).map_err(|source| PrivilegeError::Chdir {
        path: dir.to_owned(),
        source,
    })?;
    unistd::chroot(".").map_err(|source| PrivilegeError::Chroot {
        path: dir.to_owned(),
        source,
    })?;
    unistd::chdir("/").map_err(|source| PrivilegeError::Chdir {
        path: PathBuf::from("/"),
        source,
    })
}

/// Permanently becomes `uid`/`gid` (real, effective and saved ids) with `gid`
/// as the only supplementary group, then verifies that every id matches and
/// that regaining root is impossible.
///
/// Refuses `uid` 0. Without root, succeeds only if the process already has
/// exactly these ids (a black-box deployment running as the mail account);
/// its supplementary groups are then left as they are, since only root can
/// change them.
pub fn drop_to(uid: Uid, gid: Gid) -> Result<(), PrivilegeError> {
    if uid.is_root() {
        return Err(PrivilegeError::TargetIsRoot);
    }
    let was_root = is_root();
    if was_root {
        unistd::setgroups(&[gid]).map_err(|source| PrivilegeError::SetId {
            call: "setgroups",
            id: gid.as_raw(),
            source,
        })?;
    }
    unistd::setresgid(gid, gid, gid).map_err(|source| PrivilegeError::SetId {
        call: "setresgid",
        id: gid.as_raw(),
        source,
    })?;
    unistd::setresuid(uid, uid, uid).map_err(|source| PrivilegeError::SetId {
        call: "setresuid",
        id: uid.as_raw(),
        source,
    })?;
    verify_dropped(uid, gid, was_root)?;
    // setresuid reset the dumpable flag: the process now runs as a uid
    // that could otherwise attach to it.
    nix::sys::prctl::set_dumpable(false).map_err(|source| PrivilegeError::Harden {
        call: "prctl(PR_SET_DUMPABLE)",
        source,
    })?;
    // Nothing this process (or a child) executes can gain a privilege
    // again (setuid binaries, file capabilities); inherited across fork.
    nix::sys::prctl::set_no_new_privs().map_err(|source| PrivilegeError::Harden {
        call: "prctl(PR_SET_NO_NEW_PRIVS)",
        source,
    })
}

/// Checks the identity after a drop; separate so the checks read as a list.
/// Supplementary groups are only checked when we had the power to set them.
fn verify_dropped(uid: Uid, gid: Gid, was_root: bool) -> Result<(), PrivilegeError> {
    let not = |detail: String| PrivilegeError::NotDropped { detail };
    let r = unistd::getresuid().map_err(|e| not(format!("getresuid: {e}")))?;
    if (r.real, r.effective, r.saved) != (uid, uid, uid) {
        return Err(not(format!(
            "uids are {}/{}/{}, wanted {uid}",
            r.real, r.effective, r.saved
        )));
    }
    let g = unistd::getresgid().map_err(|e| not(format!("getresgid: {e}")))?;
    if (g.real, g.effective, g.saved) != (gid, gid, gid) {
        return Err(not(format!(
            "gids are {}/{}/{}, wanted {gid}",
            g.real, g.effective, g.saved
        )));
    }
    if was_root {
        let groups = unistd::getgroups().map_err(|e| not(format!("getgroups: {e}")))?;
        if groups.iter().any(|g| *g != gid) {
            return Err(not(format!(
                "supplementary groups still include {groups:?}"
            )));
        }
    }
    if unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(not("setuid(0) still succeeds".to_owned()));
    }
    Ok(())
}

/// As root: chroots into `dir` and becomes its owner for good (refusing a
/// root-owned directory), returning the directory as now seen (`/`).
/// Without root, returns `dir` unchanged: the process can only write where
/// it already may. Used by the delivery agents before they touch a user's
/// directory, so no symlink inside it can lead out of it.
pub fn become_owner_of(dir: &Path) -> Result<PathBuf, PrivilegeError> {
    if !is_root() {
        return Ok(dir.to_owned());
    }
    let (uid, gid) = owner_of(dir)?;
    if uid.is_root() {
        return Err(PrivilegeError::TargetIsRoot);
    }
    chroot_into(dir)?;
    drop_to(uid, gid)?;
    Ok(PathBuf::from("/"))
}

/// Makes the process undumpable: no core file (`RLIMIT_CORE` 0, soft and
/// hard, so it cannot be raised again) and `PR_SET_DUMPABLE` 0, which also
/// keeps a process of the same uid from attaching to it (ptrace) or
/// reading its memory through /proc. Run before any secret (TLS key,
/// password, master key) is read; run again after a uid drop, which resets
/// the dumpable flag to the system's `fs.suid_dumpable`.
pub fn forbid_core_dumps() -> Result<(), PrivilegeError> {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|source| PrivilegeError::Harden {
        call: "setrlimit(RLIMIT_CORE)",
        source,
    })?;
    nix::sys::prctl::set_dumpable(false).map_err(|source| PrivilegeError::Harden {
        call: "prctl(PR_SET_DUMPABLE)",
        source,
    })
}

/// Looks a user up by name; `Ok(None)` if no such user exists.
pub fn lookup_user(name: &str) -> Result<Option<UserInfo>, PrivilegeError> {
    let user = unistd::User::from_name(name).map_err(|source| PrivilegeError::Lookup {
        name: name.to_owned(),
        source,
    })?;
    Ok(user.map(|u| UserInfo {
        uid: u.uid,
        gid: u.gid,
        home: u.dir,
    }))
}

/// The owner and group of `path`, following symlinks (a user entry under
/// `users/` may be a symlink to the real data directory).
pub fn owner_of(path: &Path) -> Result<(Uid, Gid), PrivilegeError> {
    let md = std::fs::metadata(path).map_err(|source| PrivilegeError::Io {
        op: "stat",
        path: path.to_owned(),
        source,
    })?;
    Ok((Uid::from_raw(md.uid()), Gid::from_raw(md.gid())))
}

/// Gives `dir` and everything beneath it to `uid`/`gid`.
///
/// Symlinks are re-owned themselves (`lchown`) and never followed, so a link
/// planted inside the tree cannot redirect the chown to a file outside it.
pub fn chown_tree(dir: &Path, uid: Uid, gid: Gid) -> Result<(), PrivilegeError> {
    let io_err = |op: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| PrivilegeError::Io { op, path, source }
    };
    std::os::unix::fs::lchown(dir, Some(uid.as_raw()), Some(gid.as_raw()))
        .map_err(io_err("lchown", dir))?;
    let md = std::fs::symlink_metadata(dir).map_err(io_err("lstat", dir))?;
    if !md.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io_err("read directory", dir))? {
        let entry = entry.map_err(io_err("read directory", dir))?;
        chown_tree(&entry.path(), uid, gid)?;
    }
    Ok(())
}

/// Why a file could not be read out of a user directory. No variant ever
/// carries the file's content, so a refusal can be logged as it is.
#[derive(Debug, thiserror::Error)]
pub enum UserDirError {
    /// The directory or the file does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    /// `open`, `fstat`, `fchdir` or `read` failed (`ELOOP`: a symlink).
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Not a regular file (a FIFO, a device, a directory, a socket).
    #[error("{0} is not a regular file")]
    NotRegular(PathBuf),
    /// Owned by someone other than the directory's owner.
    #[error("{path} is owned by uid {file_uid}, not by the directory's owner {dir_uid}")]
    WrongOwner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        file_uid: u32,
        /// The directory's owner.
        dir_uid: u32,
    },
    /// Larger than the caller's cap.
    #[error("{path} is larger than {cap} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap.
        cap: u64,
    },
}

/// A user directory opened once, by descriptor: everything read from it and
/// the final chroot go through this descriptor, so swapping the path (or a
/// component of it) for a symlink after the open changes nothing.
#[derive(Debug)]
pub struct UserDir {
    fd: std::fs::File,
    path: PathBuf,
    uid: Uid,
    gid: Gid,
}

impl UserDir {
    /// Opens `path` with `O_DIRECTORY | O_NOFOLLOW`: its last component must
    /// be a real directory, not a symlink. Callers resolve the links an
    /// administrator placed in the root-owned `users/` first.
    pub fn open(path: &Path) -> Result<UserDir, UserDirError> {
        use std::os::unix::fs::OpenOptionsExt;
        let fd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => UserDirError::NotFound(path.to_owned()),
                _ => UserDirError::Io {
                    op: "open",
                    path: path.to_owned(),
                    source,
                },
            })?;
        let md = fd.metadata().map_err(|source| UserDirError::Io {
            op: "fstat",
            path: path.to_owned(),
            source,
        })?;
        Ok(UserDir {
            fd,
            path: path.to_owned(),
            uid: Uid::from_raw(md.uid()),
            gid: Gid::from_raw(md.gid()),
        })
    }

    /// The directory's owner and group, as found at the open.
    pub fn owner(&self) -> (Uid, Gid) {
        (self.uid, self.gid)
    }

    /// The path the directory was opened by (for messages only).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the opened directory the working directory (`fchdir`).
    fn enter(&self) -> Result<(), UserDirError> {
        use std::os::fd::AsRawFd;
        unistd::fchdir(self.fd.as_raw_fd()).map_err(|e| UserDirError::Io {
            op: "fchdir",
            path: self.path.clone(),
            source: io::Error::from(e),
        })
    }

    /// Reads `name` inside the directory as `openat(dir, name, O_NOFOLLOW |
    /// O_NONBLOCK)` would (by `fchdir` on the descriptor, then a relative
    /// open): refuses a symlink, anything but a regular file (a FIFO never
    /// blocks the open, a device is never read), a file not owned by the
    /// directory's owner, and more than `cap` bytes (never reading more
    /// than `cap + 1`). Leaves the working directory in the user directory.
    pub fn read_owned_file(&self, name: &str, cap: u64) -> Result<Vec<u8>, UserDirError> {
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        self.enter()?;
        let path = self.path.join(name);
        let io_err = |op: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source: io::Error| UserDirError::Io { op, path, source }
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(
                nix::libc::O_NOFOLLOW
                    | nix::libc::O_NONBLOCK
                    | nix::libc::O_NOCTTY
                    | nix::libc::O_CLOEXEC,
            )
            .open(name)
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => UserDirError::NotFound(path.clone()),
                _ => UserDirError::Io {
                    op: "open",
                    path: path.clone(),
                    source,
                },
            })?;
        let md = file.metadata().map_err(io_err("fstat", &path))?;
        let ft = md.file_type();
        if !ft.is_file() || ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            return Err(UserDirError::NotRegular(path));
        }
        if md.uid() != self.uid.as_raw() {
            return Err(UserDirError::WrongOwner {
                path,
                file_uid: md.uid(),
                dir_uid: self.uid.as_raw(),
            });
        }
        if md.len() > cap {
            return Err(UserDirError::TooLarge { path, cap });
        }
        let mut bytes = Vec::new();
        // The size can grow between fstat and read: the read is bounded too.
        io::Read::read_to_end(&mut io::Read::take(&file, cap + 1), &mut bytes)
            .map_err(io_err("read", &path))?;
        if bytes.len() as u64 > cap {
            return Err(UserDirError::TooLarge { path, cap });
        }
        Ok(bytes)
    }

    /// As root: `fchdir` on the descriptor, `chroot(".")`, `chdir("/")` (the
    /// very directory the account file was read from, whatever its path
    /// points at now), then becomes its owner as found at the open
    /// (refusing root). Returns the directory as now seen (`/`).
    pub fn isolate(&self) -> Result<PathBuf, PrivilegeError> {
        if self.uid.is_root() {
            return Err(PrivilegeError::TargetIsRoot);
        }
        self.enter().map_err(|e| PrivilegeError::Chdir {
            path: self.path.clone(),
            source: match e {
                UserDirError::Io { source, .. } => {
                    Errno::from_raw(source.raw_os_error().unwrap_or(0))
                }
                _ => Errno::UnknownErrno,
            },
        })?;
        unistd::chroot(".").map_err(|source| PrivilegeError::Chroot {
            path: self.path.clone(),
            source,
        })?;
        unistd::chdir("/").map_err(|source| PrivilegeError::Chdir {
            path: PathBuf::from("/"),
            source,
        })?;
        drop_to(self.uid, self.gid)?;
        Ok(PathBuf::from("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::{child_command, child_passed, in_child, temp_dir};

    fn run_in_child(test: &str, extra_env: &[(&str, &str)]) -> bool {
        let mut cmd = child_command(test);
        cmd.envs(extra_env.iter().copied());
        child_passed(&mut cmd)
    }

    #[test]
    fn refuses_root_target() {
        assert!(matches!(
            drop_to(Uid::from_raw(0), Gid::from_raw(0)),
            Err(PrivilegeError::TargetIsRoot)
        ));
    }

    #[test]
    fn looks_up_root_and_misses_unknown_user() {
        let root = lookup_user("root").expect("lookup").expect("root exists");
        assert!(root.uid.is_root());
        assert!(lookup_user("no-such-user-crymap-like-xyz")
            .expect("lookup")
            .is_none());
    }

    #[test]
    fn owner_of_reports_stat_owner_and_errors_on_missing() {
        let dir = temp_dir("owner");
        let (uid, _gid) = owner_of(&dir).expect("owner");
        assert_eq!(uid, unistd::geteuid());
        assert!(matches!(
            owner_of(&dir.join("missing")),
            Err(PrivilegeError::Io { .. })
        ));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn drop_to_in_child() {
        if in_child() {
            drop_to(Uid::from_raw(65534), Gid::from_raw(65534)).expect("drop");
            assert_eq!(unistd::getuid().as_raw(), 65534);
            assert_eq!(unistd::getegid().as_raw(), 65534);
            assert!(!is_root());
            // Reading a root-only file must now fail.
            assert!(std::fs::read("/etc/shadow").is_err() || !Path::new("/etc/shadow").exists());
            // Unprivileged now: staying put succeeds, moving elsewhere fails.
            drop_to(Uid::from_raw(65534), Gid::from_raw(65534)).expect("idempotent");
            assert!(matches!(
                drop_to(Uid::from_raw(1), Gid::from_raw(1)),
                Err(PrivilegeError::SetId {
                    source: Errno::EPERM,
                    ..
                })
            ));
            return;
        }
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        assert!(run_in_child("sys::privilege::tests::drop_to_in_child", &[]));
    }

    #[test]
    fn chroot_then_drop_in_child() {
        if in_child() {
            let dir = PathBuf::from(std::env::var("CHROOT_DIR").expect("dir"));
            chroot_into(&dir).expect("chroot");
            // The marker placed at the top of the new root is now at "/".
            assert_eq!(std::fs::read("/marker").expect("read marker"), b"inside");
            assert_eq!(std::env::current_dir().expect("cwd"), PathBuf::from("/"));
            drop_to(Uid::from_raw(65534), Gid::from_raw(65534)).expect("drop");
            // chroot is a root-only call: after the drop it must fail.
            assert!(chroot_into(Path::new("/")).is_err());
            return;
        }
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = temp_dir("chroot");
        std::fs::write(dir.join("marker"), b"inside").expect("marker");
        let ok = run_in_child(
            "sys::privilege::tests::chroot_then_drop_in_child",
            &[("CHROOT_DIR", dir.to_str().expect("utf-8 temp path"))],
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert!(ok);
    }

    #[test]
    fn chown_tree_reowns_without_following_symlinks() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = temp_dir("chown");
        let outside = temp_dir("chown-outside");
        std::fs::write(outside.join("victim"), b"x").expect("victim");
        std::fs::create_dir(dir.join("sub")).expect("sub");
        std::fs::write(dir.join("sub/file"), b"x").expect("file");
        std::os::unix::fs::symlink(outside.join("victim"), dir.join("link")).expect("symlink");
        let (u, g) = (Uid::from_raw(65534), Gid::from_raw(65534));
        chown_tree(&dir, u, g).expect("chown");
        for p in [dir.clone(), dir.join("sub"), dir.join("sub/file")] {
            assert_eq!(owner_of(&p).expect("owner"), (u, g), "{}", p.display());
        }
        let link_md = std::fs::symlink_metadata(dir.join("link")).expect("lstat");
        assert_eq!(link_md.uid(), 65534);
        assert_eq!(
            owner_of(&outside.join("victim")).expect("owner").0,
            Uid::from_raw(0)
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
        std::fs::remove_dir_all(&outside).expect("cleanup");
    }

    #[test]
    fn chroot_without_root_or_missing_dir_fails() {
        assert!(matches!(
            chroot_into(Path::new("/nonexistent-crymap-like-dir")),
            Err(PrivilegeError::Chdir { .. })
        ));
    }
}
