//! Durable file-system primitives: atomic replacement of a file (temp file,
//! fsync, rename, fsync of the directory) and directory creation with an
//! exact mode. Never interprets file contents.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Failure of a file-system operation, naming the step and the path.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct FsError {
    /// The step that failed.
    pub op: &'static str,
    /// The path it was applied to.
    pub path: PathBuf,
    /// The underlying error.
    pub source: io::Error,
}

fn ctx(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FsError {
    let path = path.to_owned();
    move |source| FsError { op, path, source }
}

/// Flushes a directory's entries (creations, renames, removals) to disk.
pub fn fsync_dir(path: &Path) -> Result<(), FsError> {
    let dir = File::open(path).map_err(ctx("open directory", path))?;
    dir.sync_all().map_err(ctx("fsync directory", path))
}

/// Replaces `target` with `bytes` atomically and durably: after a crash the
/// target holds either its old content or all of `bytes`, never a mix.
///
/// The temporary file is created in `dir_for_temp` (which must be on the same
/// file system as `target`) with `mode`, fsynced, renamed over `target`, and
/// the target's directory is fsynced. The temporary file is removed if any
/// step before the rename fails.
pub fn write_atomic(
    dir_for_temp: &Path,
    target: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), FsError> {
    let temp = dir_for_temp.join(format!(".tmp-{:016x}", rand::random::<u64>()));
    let result = write_then_rename(&temp, target, bytes, mode);
    if result.is_err() {
        // Best effort: the temp name is random, so a leftover harms nothing
        // but space; the original error is the one worth reporting.
        let _ = fs::remove_file(&temp);
    }
    result?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fsync_dir(parent)
}

fn write_then_rename(temp: &Path, target: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(temp)
        .map_err(ctx("create", temp))?;
    // The umask may have narrowed the mode; the caller asked for exactly this.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(ctx("chmod", temp))?;
    file.write_all(bytes).map_err(ctx("write", temp))?;
    file.sync_all().map_err(ctx("fsync", temp))?;
    drop(file);
    fs::rename(temp, target).map_err(ctx("rename onto", target))
}

/// Creates the directory `path` with exactly `mode` (umask does not apply).
///
/// Returns `Ok(true)` if it was created, `Ok(false)` if a directory already
/// existed there (its mode is left alone); anything else at `path` is an
/// error. The parent is not fsynced; call [`fsync_dir`] when it matters.
pub fn create_dir_mode(path: &Path, mode: u32) -> Result<bool, FsError> {
    match DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            fs::set_permissions(path, Permissions::from_mode(mode)).map_err(ctx("chmod", path))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let md = fs::symlink_metadata(path).map_err(ctx("lstat", path))?;
            if md.is_dir() {
                Ok(false)
            } else {
                Err(FsError {
                    op: "create directory",
                    path: path.to_owned(),
                    source: e,
                })
            }
        }
        Err(e) => Err(FsError {
            op: "create directory",
            path: path.to_owned(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_support::temp_dir;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn write_atomic_creates_and_replaces_with_mode() {
        let dir = temp_dir("fs");
        let tmp = dir.join("tmp");
        fs::create_dir(&tmp).expect("tmp");
        let target = dir.join("user.toml");
        write_atomic(&tmp, &target, b"first", 0o600).expect("write");
        assert_eq!(fs::read(&target).expect("read"), b"first");
        write_atomic(&tmp, &target, b"second", 0o640).expect("rewrite");
        assert_eq!(fs::read(&target).expect("read"), b"second");
        assert_eq!(fs::metadata(&target).expect("stat").mode() & 0o777, 0o640);
        assert_eq!(
            fs::read_dir(&tmp).expect("ls").count(),
            0,
            "temp file left behind"
        );
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn write_atomic_failure_keeps_old_content_and_cleans_up() {
        let dir = temp_dir("fs");
        let target = dir.join("occupied");
        // A non-empty directory cannot be replaced by a file: rename fails.
        fs::create_dir(&target).expect("dir");
        fs::write(target.join("x"), b"x").expect("x");
        let err = write_atomic(&dir, &target, b"new", 0o600).expect_err("must fail");
        assert_eq!(err.op, "rename onto");
        let leftovers: Vec<_> = fs::read_dir(&dir).expect("ls").collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
        let missing =
            write_atomic(&dir.join("nope"), &dir.join("t"), b"", 0o600).expect_err("no temp dir");
        assert_eq!(missing.op, "create");
        fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn create_dir_mode_is_exact_and_idempotent() {
        let dir = temp_dir("fs");
        let sub = dir.join("keys");
        assert!(create_dir_mode(&sub, 0o700).expect("create"));
        assert_eq!(fs::metadata(&sub).expect("stat").mode() & 0o7777, 0o700);
        assert!(!create_dir_mode(&sub, 0o700).expect("again"));
        fs::write(dir.join("file"), b"").expect("file");
        assert!(create_dir_mode(&dir.join("file"), 0o700).is_err());
        fsync_dir(&sub).expect("fsync");
        assert!(fsync_dir(&dir.join("missing")).is_err());
        fs::remove_dir_all(dir).expect("cleanup");
    }
}
