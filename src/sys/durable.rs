//! The one way to write files durably: staging files (one name scheme,
//! `<32 hex digits>.tmp`), exclusive creation, atomic replacement, exclusive
//! hard links, directory fsync and the batch `syncfs(2)`, all with one mode
//! policy (files exactly 0600, directories exactly 0700, whatever the
//! umask) and one error type naming the step and the path.
//!
//! Owns the durability order: data, then name, then directory (or, for a
//! file nothing refers to until the caller commits it, name first and
//! both syncs after: [`NewFile::place_unsynced`]). Never
//! interprets file contents, never decides *what* is written or *when* a
//! crash point fires: a caller that needs a crash-injection point between
//! two steps (after staging, before the rename) calls the steps itself
//! through [`NewFile`].

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Mode of every file this module creates (exactly; umask does not apply).
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of every directory this module creates (exactly).
pub(crate) const DIR_MODE: u32 = 0o700;
/// Suffix of every staging file; anything ending in it is disposable once
/// old (garbage collection removes stale ones).
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Failure of a file-system step, naming the step and the path: the one
/// file-system error type, which every layer's error enum wraps (its `Io`
/// variant), for durable writes and plain reads alike.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct FsError {
    /// The step that failed ("create", "fsync", "rename onto", ...).
    pub op: &'static str,
    /// The path it was applied to.
    pub path: PathBuf,
    /// The underlying error.
    pub source: io::Error,
}

impl FsError {
    /// The error-mapping closure for step `op` on `path`:
    /// `fs::read(p).map_err(FsError::at("reading", p))`.
    pub fn at(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FsError {
        let path = path.to_owned();
        move |source| FsError { op, path, source }
    }
}

/// Shorthand for results of this module.
pub(crate) type Result<T, E = FsError> = std::result::Result<T, E>;

/// When a placed file becomes durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// fsync the file before placing it and its directory after: durable
    /// on return.
    Now,
    /// fsync the file before placing it, but not its directory: the
    /// caller makes the name durable when it matters (the LMTP server's
    /// staged spool entries: [`rename_into`] commits them).
    ContentNow,
    /// Place only; the caller makes a whole batch durable later with one
    /// [`syncfs`] before anything refers to the file.
    Deferred,
}

/// A fresh staging name: 128 random bits in hex plus [`TEMP_SUFFIX`].
fn temp_name() -> String {
    format!("{:032x}{TEMP_SUFFIX}", rand::random::<u128>())
}

/// A new private file being written under a staging name. Dropped before
/// it is placed, it is removed (a crash leaves it behind, harmlessly: its
/// name ends in [`TEMP_SUFFIX`]).
pub(crate) struct NewFile {
    file: File,
    path: PathBuf,
    placed: bool,
}

impl NewFile {
    /// Creates a staging file in `dir` (exclusively, mode [`FILE_MODE`]).
    /// `dir` must be on the file system of the file's final place.
    pub(crate) fn create(dir: &Path) -> Result<NewFile> {
        let path = dir.join(temp_name());
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(FsError::at("create", &path))?;
        let staged = NewFile {
            file,
            path,
            placed: false,
        };
        // The umask may have narrowed the mode; the policy is exact.
        staged
            .file
            .set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(FsError::at("chmod", &staged.path))?;
        Ok(staged)
    }

    /// The staging path (for error messages).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, to write (or stream) content into.
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Writes all of `data`.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .map_err(FsError::at("write", &self.path))
    }

    /// Flushes the content to disk (fsync).
    pub(crate) fn sync(&self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(FsError::at("fsync", &self.path))
    }

    /// Renames the file to `dest` (creating `dest`'s directory if needed),
    /// replacing whatever is there. With [`Durability::Now`] the content is
    /// fsynced before and `dest`'s directory after: after a crash `dest`
    /// holds its old content or all of the new, never a mix. With
    /// [`Durability::ContentNow`] only the content is, and the directory is
    /// the caller's to fsync.
    pub(crate) fn place(mut self, dest: &Path, durability: Durability) -> Result<()> {
        if durability != Durability::Deferred {
            self.sync()?;
        }
        let dir = parent(dest);
        create_dir_all(dir)?;
        fs::rename(&self.path, dest).map_err(FsError::at("rename onto", dest))?;
        self.placed = true;
        if durability == Durability::Now {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Renames the file to `dest` *before* its content is durable
    /// (creating `dest`'s directory if needed, without syncing its parent)
    /// and notes in `dirs` every directory whose entries changed. The
    /// caller then [`Unsynced::sync`]s the file and [`DirSyncs::sync`]s the
    /// directories, in that order, before anything refers to `dest`.
    ///
    /// Why name first: on a journaling file system (ext4, XFS) the content
    /// fsync commits the rename and any new directory in the same journal
    /// transaction, so the directory fsyncs after it find nothing left to
    /// write: one sync round instead of the two of [`Durability::Now`]
    /// (`doc/store.md`, "Message files"). The price: until both syncs
    /// returned, a crash may leave `dest` present but empty or torn, so
    /// only a caller for whom a name nothing refers to yet is garbage may
    /// use this (message files, referenced only by a later log record).
    ///
    /// The parent of `dest`'s directory is noted even when this call did
    /// not create that directory: another process may have created it a
    /// moment ago and not yet fsynced its entry (its own batch syncs it
    /// beside its files), and a file whose directory's name is not durable
    /// is not durable either. Fsyncing an unchanged directory costs next
    /// to nothing, and it runs beside the file's.
    pub(crate) fn place_unsynced(mut self, dest: &Path, dirs: &mut DirSyncs) -> Result<Unsynced> {
        let dir = parent(dest);
        create_dir_all_noting(dir, dirs)?;
        dirs.note(parent(dir));
        // Never over an existing file: names are random (a collision is
        // 2^-72 per pair), and replacing a file a log record already names
        // would change a message after the fact.
        // A file system without the flag (EINVAL: NFS, say) gets a plain
        // rename, as before.
        match nix::fcntl::renameat2(
            None,
            &self.path,
            None,
            dest,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL) => {
                fs::rename(&self.path, dest).map_err(FsError::at("rename onto", dest))?
            }
            Err(e) => return Err(FsError::at("rename onto", dest)(io::Error::from(e))),
        }
        self.placed = true;
        self.path = dest.to_owned();
        dirs.note(dir);
        // The staging name may have been taken over by someone with the
        // user's uid since it was created (a spare staging file waits in
        // `tmp/` for the next APPEND): then what now has the name `dest`
        // is theirs, not what was written through `self.file`, and the
        // caller must not log it.
        if !self.is_at(dest) {
            return Err(FsError::at("rename onto", dest)(io::Error::new(
                io::ErrorKind::InvalidData,
                "another file took the staging file's name before the rename",
            )));
        }
        Ok(Unsynced(self))
    }

    /// Whether `path` (not followed if a link) is the file being written.
    fn is_at(&self, path: &Path) -> bool {
        match (self.file.metadata(), fs::symlink_metadata(path)) {
            (Ok(ours), Ok(there)) => same_inode(&ours, &there),
            _ => false,
        }
    }

    /// Gives the file the name `dest` unless `dest` exists (never replaces
    /// it), durably: the content is fsynced, hard-linked to `dest`, the
    /// staging name removed and `dest`'s directory fsynced. Returns whether
    /// this call created `dest`.
    pub(crate) fn place_exclusive(mut self, dest: &Path) -> Result<bool> {
        self.sync()?;
        let dir = parent(dest);
        create_dir_all(dir)?;
        let created = link_unless_exists(&self.path, dest)?;
        fs::remove_file(&self.path).map_err(FsError::at("remove", &self.path))?;
        self.placed = true;
        sync_dir(dir)?;
        Ok(created)
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.placed {
            // Best effort: a leftover staging file harms nothing but space
            // (it is collected when old); the caller's error is the one
            // worth reporting.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A file at its final name whose content is not durable yet
/// ([`NewFile::place_unsynced`]).
pub(crate) struct Unsynced(NewFile);

impl Unsynced {
    /// Flushes the content to disk (fsync).
    pub(crate) fn sync(&self) -> Result<()> {
        self.0.sync()
    }
}

/// Directories whose entries changed (a rename into them, a directory
/// created in them) and must be fsynced before anything refers to what was
/// placed there: noted while a batch is placed, each synced once at the
/// end.
#[derive(Debug, Default, Clone)]
pub(crate) struct DirSyncs(Vec<PathBuf>);

impl DirSyncs {
    fn note(&mut self, dir: &Path) {
        if !self.0.iter().any(|d| d == dir) {
            self.0.push(dir.to_owned());
        }
    }

    /// fsyncs every noted directory once.
    pub(crate) fn sync(&self) -> Result<()> {
        self.0.iter().try_for_each(|d| sync_dir(d))
    }
}

/// A second thread that fsyncs directories while the caller fsyncs files
/// ([`with_sync_helper`]).
pub(crate) struct SyncHelper {
    /// `None` when no thread could be started: everything runs in a row.
    jobs: Option<mpsc::Sender<Job>>,
}

/// Directories to fsync, and where to send the result.
type Job = (DirSyncs, mpsc::Sender<Result<()>>);

impl SyncHelper {
    /// fsyncs `files` and, at the same time on the helper thread, every
    /// directory noted in `dirs`; returns once all are durable (or with
    /// the first error). No order is needed between the two, only both
    /// before anything refers to the files; side by side, the disk serves
    /// them in about one round where in a row they took two (on ext4
    /// without a journal each is its own writes and cache flush:
    /// `doc/store.md`).
    pub(crate) fn sync_beside(&self, dirs: &DirSyncs, files: &[Unsynced]) -> Result<()> {
        let (reply, result) = mpsc::channel();
        let sent = match &self.jobs {
            Some(jobs) if !dirs.0.is_empty() => jobs.send((dirs.clone(), reply)).is_ok(),
            _ => false,
        };
        let files_synced = files.iter().try_for_each(Unsynced::sync);
        let dirs_synced = if sent {
            result.recv().unwrap_or_else(|_| {
                Err(FsError {
                    op: "fsync directories",
                    path: PathBuf::new(),
                    source: io::Error::other("the directory fsync thread ended"),
                })
            })
        } else {
            dirs.sync()
        };
        files_synced.and(dirs_synced)
    }
}

/// The process's directory-fsync thread: started on first use and kept
/// for the life of the process (a session appends one message after
/// another; starting and ending a thread for each APPEND cost about 15
/// system calls of its own, `doc/benchmarks.md`). Tagged with the process
/// id that started it: a child forked later has no such thread and starts
/// its own.
static HELPER: std::sync::Mutex<Option<(u32, mpsc::Sender<Job>)>> = std::sync::Mutex::new(None);

/// A sender to the process's helper thread, started now if needed; `None`
/// when no thread can be started.
fn helper_jobs() -> Option<mpsc::Sender<Job>> {
    let pid = std::process::id();
    let mut slot = HELPER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((owner, jobs)) = slot.as_ref() {
        if *owner == pid {
            return Some(jobs.clone());
        }
    }
    let (jobs, job_rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("dir-fsync".into())
        .spawn(move || {
            for (dirs, reply) in job_rx {
                // The caller may have given up (it never does before the
                // reply); the next job is served all the same.
                let _ = reply.send(dirs.sync());
            }
        })
        .ok()?;
    *slot = Some((pid, jobs.clone()));
    Some(jobs)
}

/// Runs `work` with a [`SyncHelper`] whose thread (when `wanted`) is the
/// process's directory-fsync thread, started now if it is not running yet.
/// When no thread can be started, the helper runs everything in a row.
pub(crate) fn with_sync_helper<R>(wanted: bool, work: impl FnOnce(&SyncHelper) -> R) -> R {
    let helper = SyncHelper {
        jobs: if wanted { helper_jobs() } else { None },
    };
    work(&helper)
}

/// Creates `dest` with `data` only if it does not exist (staged in
/// `tmp_dir`, fsynced, hard-linked: never replaces and never shows a
/// partial file). Returns whether this call created it; `false` means
/// another writer won and its content is left alone.
pub(crate) fn write_new(tmp_dir: &Path, dest: &Path, data: &[u8]) -> Result<bool> {
    let mut f = NewFile::create(tmp_dir)?;
    f.write_all(data)?;
    f.place_exclusive(dest)
}

/// Replaces `dest` with `data` atomically and durably (staged in `tmp_dir`,
/// fsync, rename, fsync of `dest`'s directory): after a crash `dest` holds
/// either its old content or all of `data`.
pub(crate) fn replace(tmp_dir: &Path, dest: &Path, data: &[u8]) -> Result<()> {
    let mut f = NewFile::create(tmp_dir)?;
    f.write_all(data)?;
    f.place(dest, Durability::Now)
}

/// Hard-links `src` to `dest` unless `dest` exists (creating `dest`'s
/// directory if needed), then fsyncs `dest`'s directory, so on return the
/// name is durable either way. Returns whether this call created it.
pub(crate) fn link_exclusive(src: &Path, dest: &Path) -> Result<bool> {
    let dir = parent(dest);
    create_dir_all(dir)?;
    let created = link_unless_exists(src, dest)?;
    sync_dir(dir)?;
    Ok(created)
}

/// Whether two files' metadata describe one inode (device and number).
pub(crate) fn same_inode(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Whether `a` and `b` (neither followed if a link) name one inode.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => same_inode(&a, &b),
        _ => false,
    }
}

fn link_unless_exists(src: &Path, dest: &Path) -> Result<bool> {
    match fs::hard_link(src, dest) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(FsError::at("link onto", dest)(e)),
    }
}

/// Opens for reading a file that someone with the user's uid may have
/// replaced, for a caller that streams it: a symlink is refused (`ELOOP`),
/// a FIFO, socket or device is never waited on (`O_NONBLOCK`) and refused
/// (`InvalidData`), and so is a file longer than `max` bytes. A missing
/// file is `NotFound`. The caller reads no further than the length it was
/// opened with, or bounds its reads itself.
pub(crate) fn open_bounded(path: &Path, max: u64) -> io::Result<File> {
    open_bounded_len(path, max).map(|(f, _)| f)
}

/// [`open_bounded`], also returning the length the file had when opened
/// (one `fstat` for both checks and the length).
fn open_bounded_len(path: &Path, max: u64) -> io::Result<(File, u64)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a regular file of at most {max} bytes"),
        ));
    }
    Ok((f, meta.len()))
}

/// Reads a whole file that someone with the user's uid may have replaced:
/// opened as [`open_bounded`] does, and no more than `max + 1` bytes are
/// ever read (a file that grew past `max` meanwhile is `InvalidData`).
pub(crate) fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (f, len) = open_bounded_len(path, max)?;
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.take(max.saturating_add(1)).read_to_end(&mut out)?;
    if u64::try_from(out.len()).unwrap_or(u64::MAX) > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "grew past its bound",
        ));
    }
    Ok(out)
}

/// Opens a file that lives at one name for good (a log, a lock), read and
/// write, creating it (mode 0600) if absent and never truncating it. A
/// symlink in its place is refused, not followed, and so is anything but a
/// regular file (a FIFO would make every later read wait for good):
/// whoever can write the user's directory may have planted either.
pub(crate) fn open_in_place(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(FsError::at("opening", path))?;
    // Opening a FIFO read-write does not wait; reading it would.
    let meta = f.metadata().map_err(FsError::at("stat", path))?;
    if !meta.is_file() {
        return Err(FsError::at("opening", path)(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        )));
    }
    Ok(f)
}

/// Renames a file whose content is already durable (a [`NewFile`] placed
/// with [`Durability::Now`] or [`Durability::ContentNow`]) to `dest`, replacing
/// whatever is there, and fsyncs `dest`'s directory: a commit point that
/// costs one rename and one directory fsync (the LMTP server stages its
/// spool entries ahead and commits them one by one this way).
pub(crate) fn rename_into(from: &Path, dest: &Path) -> Result<()> {
    fs::rename(from, dest).map_err(FsError::at("rename onto", dest))?;
    sync_dir(parent(dest))
}

/// Flushes a directory's entries (creations, renames, links, removals).
/// Opened with `O_DIRECTORY`: a FIFO planted where a directory was is
/// refused (`ENOTDIR`), never waited on.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let d = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC)
        .open(dir)
        .map_err(FsError::at("open directory", dir))?;
    d.sync_all().map_err(FsError::at("fsync directory", dir))
}

/// Makes every write, rename and link on the file system holding `path`
/// (a directory) durable with one `syncfs(2)`: what makes a batch of new
/// files cheap to commit (one call instead of an fsync per file and per
/// directory). Opened with `O_DIRECTORY | O_NOFOLLOW`: a FIFO or a link
/// planted in its place is refused, never waited on or followed.
pub(crate) fn syncfs(path: &Path) -> Result<()> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(FsError::at("open", path))?;
    nix::unistd::syncfs(f.as_raw_fd())
        .map_err(io::Error::from)
        .map_err(FsError::at("syncfs", path))
}

/// Creates the directory `path` with exactly [`DIR_MODE`] (its parent must
/// exist). Returns `true` if created, `false` if a directory was already
/// there (left alone); anything else at `path` is an error. The parent is
/// not fsynced; call [`sync_dir`] when it matters.
pub(crate) fn create_dir(path: &Path) -> Result<bool> {
    match DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => {
            fs::set_permissions(path, Permissions::from_mode(DIR_MODE))
                .map_err(FsError::at("chmod", path))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let md = fs::symlink_metadata(path).map_err(FsError::at("lstat", path))?;
            if md.is_dir() {
                Ok(false)
            } else {
                Err(FsError::at("create directory", path)(e))
            }
        }
        Err(e) => Err(FsError::at("create directory", path)(e)),
    }
}

/// Makes `path` a directory, creating it and any missing parents with
/// exactly [`DIR_MODE`]; each directory created is made durable in its
/// parent (fsync), so a file placed inside cannot lose its directory.
pub(crate) fn create_dir_all(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    let up = parent(path);
    create_dir_all(up)?;
    if create_dir(path)? {
        sync_dir(up)?;
    }
    Ok(())
}

/// [`create_dir_all`] that leaves the parents' fsyncs to the caller: each
/// directory created is noted in `dirs` by its parent.
fn create_dir_all_noting(path: &Path, dirs: &mut DirSyncs) -> Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    let up = parent(path);
    create_dir_all_noting(up, dirs)?;
    if create_dir(path)? {
        dirs.note(up);
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::temp_dir;
    use std::os::unix::fs::MetadataExt;

    /// What someone with the user's uid can put where a root tool reads a
    /// user file: a FIFO (before, `user show` and delivery's
    /// `UserFile::load` blocked on it for good), a symlink to a secret or
    /// to /dev/zero, an oversized file. Each is refused at once.
    #[test]
    fn read_bounded_refuses_fifos_links_and_oversized_files() {
        let dir = temp_dir("durable");
        let fifo = dir.join("user.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let e = read_bounded(&fifo, 1024).expect_err("a FIFO");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let link = dir.join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
        let e = read_bounded(&link, 1024).expect_err("a link");
        assert_eq!(e.raw_os_error(), Some(nix::libc::ELOOP));
        let big = dir.join("big");
        fs::write(&big, vec![b'x'; 1025]).expect("write");
        assert!(read_bounded(&big, 1024).is_err());
        assert_eq!(read_bounded(&big, 1025).expect("fits").len(), 1025);
        assert_eq!(
            read_bounded(&dir.join("absent"), 1)
                .expect_err("absent")
                .kind(),
            io::ErrorKind::NotFound
        );
    }

    /// A log or lock name that someone with the user's uid replaced by a
    /// symlink to another file: refused, and the target neither created
    /// nor changed (before, the change log's lock and every record log
    /// followed it).
    #[test]
    fn open_in_place_refuses_a_planted_symlink() {
        let dir = temp_dir("durable");
        let target = dir.join("elsewhere");
        fs::write(&target, b"not ours").expect("write");
        let name = dir.join("lock");
        std::os::unix::fs::symlink(&target, &name).expect("symlink");
        assert!(open_in_place(&name).is_err());
        let dangling = dir.join("log");
        std::os::unix::fs::symlink(dir.join("absent"), &dangling).expect("symlink");
        assert!(open_in_place(&dangling).is_err());
        assert!(!dir.join("absent").exists());
        assert_eq!(fs::read(&target).expect("read"), b"not ours");
        // A FIFO opens read-write without waiting, but every read of it
        // would wait for good (before, the change log's segments and the
        // account log were opened so).
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let e = open_in_place(&fifo).expect_err("a FIFO");
        assert_eq!(e.source.kind(), io::ErrorKind::InvalidData);

        let real = dir.join("real");
        open_in_place(&real)
            .expect("create")
            .write_all(b"x")
            .expect("write");
        open_in_place(&real).expect("reopen");
        assert_eq!(fs::read(&real).expect("read"), b"x", "never truncated");
        let mode = fs::metadata(&real).expect("stat").mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replace_creates_and_replaces_with_exact_mode() {
        let dir = temp_dir("durable");
        let tmp = dir.join("tmp");
        fs::create_dir(&tmp).expect("tmp");
        let target = dir.join("user.toml");
        replace(&tmp, &target, b"first").expect("write");
        assert_eq!(fs::read(&target).expect("read"), b"first");
        fs::set_permissions(&target, Permissions::from_mode(0o644)).expect("chmod");
        replace(&tmp, &target, b"second").expect("rewrite");
        assert_eq!(fs::read(&target).expect("read"), b"second");
        assert_eq!(fs::metadata(&target).expect("stat").mode() & 0o777, 0o600);
        assert!(names(&tmp).is_empty(), "temp file left behind");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn failed_replace_keeps_old_content_and_cleans_up() {
        let dir = temp_dir("durable");
        let target = dir.join("occupied");
        // A non-empty directory cannot be replaced by a file: rename fails.
        fs::create_dir(&target).expect("dir");
        fs::write(target.join("x"), b"x").expect("x");
        let err = replace(&dir, &target, b"new").expect_err("must fail");
        assert_eq!(err.op, "rename onto");
        assert_eq!(err.path, target);
        assert_eq!(names(&dir), ["occupied"], "temp file left behind");
        let missing = replace(&dir.join("nope"), &dir.join("t"), b"").expect_err("no temp dir");
        assert_eq!(missing.op, "create");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn dropped_new_file_is_removed_and_names_follow_one_scheme() {
        let dir = temp_dir("durable");
        let mut f = NewFile::create(&dir).expect("create");
        f.write_all(b"half").expect("write");
        let name = f
            .path()
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(name.ends_with(TEMP_SUFFIX), "{name}");
        assert_eq!(name.len(), 32 + TEMP_SUFFIX.len(), "{name}");
        assert!(name
            .trim_end_matches(TEMP_SUFFIX)
            .bytes()
            .all(|b| b.is_ascii_hexdigit()));
        drop(f);
        assert!(names(&dir).is_empty());
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn deferred_place_creates_the_directory_and_syncfs_succeeds() {
        let dir = temp_dir("durable");
        let dest = dir.join("msg/ab/name");
        let mut f = NewFile::create(&dir).expect("create");
        f.write_all(b"content").expect("write");
        f.place(&dest, Durability::Deferred).expect("place");
        assert_eq!(fs::read(&dest).expect("read"), b"content");
        assert_eq!(names(&dir), ["msg"]);
        for d in [dir.join("msg"), dir.join("msg/ab")] {
            assert_eq!(fs::metadata(&d).expect("stat").mode() & 0o7777, DIR_MODE);
        }
        syncfs(&dir).expect("syncfs");
        assert_eq!(
            syncfs(&dir.join("missing")).expect_err("missing").op,
            "open"
        );
        fs::remove_dir_all(dir).expect("cleanup");
    }

    /// Name first: the file is at `dest` before any sync, every directory
    /// whose entries changed (the new `msg/ab` in `msg`, the file in
    /// `msg/ab`) is noted once, and nothing is left under the staging name.
    #[test]
    fn place_unsynced_names_first_and_notes_each_changed_directory() {
        let dir = temp_dir("durable");
        let tmp = dir.join("tmp");
        create_dir(&tmp).expect("tmp");
        create_dir(&dir.join("msg")).expect("msg");
        let mut dirs = DirSyncs::default();
        let mut placed = Vec::new();
        for (name, data) in [("ab/one", &b"first"[..]), ("ab/two", b"second")] {
            let mut f = NewFile::create(&tmp).expect("create");
            f.write_all(data).expect("write");
            placed.push(
                f.place_unsynced(&dir.join("msg").join(name), &mut dirs)
                    .expect("place"),
            );
            assert_eq!(fs::read(dir.join("msg").join(name)).expect("read"), data);
        }
        assert_eq!(dirs.0, [dir.join("msg"), dir.join("msg/ab")]);
        assert_eq!(
            fs::metadata(dir.join("msg/ab")).expect("stat").mode() & 0o7777,
            DIR_MODE
        );
        assert!(names(&tmp).is_empty(), "staging name left behind");
        for wanted in [true, false] {
            with_sync_helper(wanted, |helper| {
                assert_eq!(helper.jobs.is_some(), wanted);
                helper
                    .sync_beside(&dirs, &placed)
                    .expect("fsync files and directories");
                helper
                    .sync_beside(&DirSyncs::default(), &placed)
                    .expect("files alone");
            });
        }
        dirs.sync().expect("fsync directories again");
        fs::remove_dir_all(dir.join("msg")).expect("remove");
        with_sync_helper(true, |helper| {
            let gone = helper.sync_beside(&dirs, &[]).expect_err("directory gone");
            assert_eq!(gone.op, "open directory");
            // The helper is still there for the next batch.
            assert!(helper.sync_beside(&dirs, &[]).is_err());
        });
        fs::remove_dir_all(dir).expect("cleanup");
    }

    /// A file placed into a fanout directory another batch created (and
    /// noted) still notes that directory's parent: the other batch may not
    /// have fsynced it yet, and until it has, `msg/ab`'s own entry, and
    /// with it this file, may be lost. (Before, only the creator noted it.)
    #[test]
    fn place_unsynced_notes_the_parent_of_an_existing_directory() {
        let dir = temp_dir("durable");
        let tmp = dir.join("tmp");
        create_dir(&tmp).expect("tmp");
        create_dir(&dir.join("msg")).expect("msg");
        let mut d1 = DirSyncs::default();
        let mut d2 = DirSyncs::default();
        for (name, dirs) in [("one", &mut d1), ("two", &mut d2)] {
            let mut f = NewFile::create(&tmp).expect("create");
            f.write_all(name.as_bytes()).expect("write");
            f.place_unsynced(&dir.join("msg/ab").join(name), dirs)
                .expect("place");
        }
        assert_eq!(d1.0, [dir.join("msg"), dir.join("msg/ab")]);
        assert_eq!(d2.0, [dir.join("msg"), dir.join("msg/ab")]);
        fs::remove_dir_all(dir).expect("cleanup");
    }

    /// What someone with the user's uid can put where a batch's `syncfs`
    /// opens its directory: a FIFO (opening it would wait for a writer for
    /// good) or a symlink. Both refused at once.
    #[test]
    fn syncfs_refuses_a_fifo_or_a_link() {
        let dir = temp_dir("durable");
        let fifo = dir.join("log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let e = syncfs(&fifo).expect_err("a FIFO");
        assert_eq!(e.source.raw_os_error(), Some(nix::libc::ENOTDIR));
        let link = dir.join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        assert!(syncfs(&link).is_err());
        syncfs(&dir).expect("a directory");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_staging_file_swapped_before_its_rename_is_not_placed() {
        let dir = std::env::temp_dir().join(format!("durable-swap-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut f = NewFile::create(&dir).unwrap();
        f.file.write_all(b"ours").unwrap();
        // Someone with the user's uid replaces the staging name.
        fs::remove_file(&f.path).unwrap();
        fs::write(&f.path, b"theirs").unwrap();
        let dest = dir.join("msg/ab/x");
        let mut dirs = DirSyncs::default();
        let Err(err) = f.place_unsynced(&dest, &mut dirs) else {
            panic!("a swapped staging file was placed");
        };
        assert!(err.to_string().contains("another file"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn placing_unsynced_never_replaces_a_file() {
        let dir = std::env::temp_dir().join(format!("durable-noreplace-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("msg/ab")).unwrap();
        let dest = dir.join("msg/ab/x");
        fs::write(&dest, b"logged").unwrap();
        let mut f = NewFile::create(&dir).unwrap();
        f.file.write_all(b"new").unwrap();
        let mut dirs = DirSyncs::default();
        assert!(f.place_unsynced(&dest, &mut dirs).is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"logged");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn write_new_and_link_exclusive_never_replace() {
        let dir = temp_dir("durable");
        let dest = dir.join("key");
        assert!(write_new(&dir, &dest, b"first").expect("create"));
        assert!(!write_new(&dir, &dest, b"second").expect("lost race"));
        assert_eq!(fs::read(&dest).expect("read"), b"first");
        assert_eq!(fs::metadata(&dest).expect("stat").mode() & 0o777, 0o600);
        assert_eq!(names(&dir), ["key"], "temp file left behind");
        let copy = dir.join("sub/copy");
        assert!(link_exclusive(&dest, &copy).expect("link"));
        assert!(!link_exclusive(&dest, &copy).expect("again"));
        assert_eq!(fs::read(&copy).expect("read"), b"first");
        let err = link_exclusive(&dir.join("missing"), &dir.join("x")).expect_err("no src");
        assert_eq!(err.op, "link onto");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn create_dir_is_exact_and_idempotent() {
        let dir = temp_dir("durable");
        let sub = dir.join("keys");
        assert!(create_dir(&sub).expect("create"));
        assert_eq!(fs::metadata(&sub).expect("stat").mode() & 0o7777, 0o700);
        assert!(!create_dir(&sub).expect("again"));
        fs::write(dir.join("file"), b"").expect("file");
        assert!(create_dir(&dir.join("file")).is_err());
        assert!(create_dir_all(&dir.join("file/below")).is_err());
        sync_dir(&sub).expect("fsync");
        assert!(sync_dir(&dir.join("missing")).is_err());
        // A FIFO where a directory was (say `spool/`): refused, not waited on.
        let fifo = dir.join("spool");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let e = sync_dir(&fifo).expect_err("a FIFO");
        assert_eq!(e.source.raw_os_error(), Some(nix::libc::ENOTDIR));
        fs::remove_dir_all(dir).expect("cleanup");
    }
}
