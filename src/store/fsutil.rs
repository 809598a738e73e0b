//! Small filesystem helpers for crash-safe writes: staging in `tmp/`,
//! fsync of files and directories, rename and hard-link into place. Owns
//! the durability order (data, then name, then directory); never decides
//! what is written.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::types::MessageName;

/// Flushes a directory entry change (create, rename, unlink) to disk.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a fresh, private staging file in `tmp_dir`.
pub fn create_tmp(tmp_dir: &Path) -> io::Result<(File, PathBuf)> {
    let path = tmp_dir.join(format!("{}.tmp", MessageName::random()));
    let f = OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    Ok((f, path))
}

/// Makes `file` (already written) durable and renames it from `tmp` to
/// `dest`, creating `dest`'s directory if needed, then syncs that directory.
/// On failure the staging file is removed.
pub fn commit_tmp(file: File, tmp: &Path, dest: &Path) -> io::Result<()> {
    let r = (|| {
        file.sync_all()?;
        drop(file);
        let dir = parent(dest)?;
        ensure_dir(dir)?;
        fs::rename(tmp, dest)?;
        fsync_dir(dir)
    })();
    if r.is_err() {
        let _ = fs::remove_file(tmp);
    }
    r
}

/// Renames an already written staging file into place (creating `dest`'s
/// directory) WITHOUT syncing anything: the caller makes it durable later,
/// together with other files, with [`sync_filesystem`]. On failure the
/// staging file is removed.
pub fn commit_tmp_unsynced(tmp: &Path, dest: &Path) -> io::Result<()> {
    let r = (|| {
        let dir = parent(dest)?;
        ensure_dir(dir)?;
        fs::rename(tmp, dest)
    })();
    if r.is_err() {
        let _ = fs::remove_file(tmp);
    }
    r
}

/// Makes every write and rename on the filesystem holding `dir` durable
/// (`syncfs(2)`): one call instead of an fsync per file and per directory,
/// which is what makes a batch of new messages cheap to commit.
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = File::open(dir)?;
    nix::unistd::syncfs(d.as_raw_fd()).map_err(io::Error::from)
}

/// Hard-links `src` to `dest` (creating `dest`'s directory), syncing the
/// directory. An existing `dest` is accepted: names are random 128-bit
/// values, so the same name is the same immutable file.
pub fn link_into(src: &Path, dest: &Path) -> io::Result<()> {
    let dir = parent(dest)?;
    ensure_dir(dir)?;
    match fs::hard_link(src, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    fsync_dir(dir)
}

/// Creates a private directory (and parents) if missing.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
    }
}

fn parent(p: &Path) -> io::Result<&Path> {
    p.parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path without parent"))
}
