//! Test-only helpers shared by the crypto and store tests: a self-removing
//! temporary directory (the crate avoids a `tempfile` dependency), the
//! hostile files a user can plant, and a guard that turns a hang into a
//! failure.

use std::path::{Path, PathBuf};

use rand::RngCore;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let mut rnd = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut rnd);
        let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!(
            "crymap-like-test-{tag}-{}-{hex}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create test temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What someone with the user's uid can leave where the store reads one of
/// the user's files (rule 5 of the guide: each such read is tested against
/// all of these).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Hostile {
    /// A FIFO nobody writes: a plain open or read waits for good.
    Fifo,
    /// A symlink to `/dev/zero`: a plain read never ends (memory).
    LinkToZero,
    /// A symlink to a file the user may not read (another user's): only
    /// root could follow it, and root must not.
    LinkToForeign,
    /// A sparse regular file this many bytes long (costs no disk).
    Sized(u64),
}

impl Hostile {
    /// Every kind, with `Sized` one byte past `max`.
    pub(crate) fn all(max: u64) -> [Hostile; 4] {
        [
            Hostile::Fifo,
            Hostile::LinkToZero,
            Hostile::LinkToForeign,
            Hostile::Sized(max.saturating_add(1)),
        ]
    }

    /// Replaces whatever is at `path` with this.
    pub(crate) fn plant(self, path: &Path) {
        let _ = std::fs::remove_file(path);
        match self {
            Hostile::Fifo => {
                nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo")
            }
            Hostile::LinkToZero => std::os::unix::fs::symlink("/dev/zero", path).expect("symlink"),
            Hostile::LinkToForeign => {
                let foreign = path.with_extension("foreign-secret");
                std::fs::write(&foreign, b"another user's secret").expect("write");
                std::os::unix::fs::symlink(&foreign, path).expect("symlink")
            }
            Hostile::Sized(len) => std::fs::File::create(path)
                .and_then(|f| f.set_len(len))
                .expect("sparse file"),
        }
    }
}

/// Runs `f` on its own thread and returns its result, failing the test
/// (instead of hanging the run) if it has not returned within a minute: a
/// read waiting on a FIFO never would. Not a timing assertion: a correct
/// `f` returns in milliseconds; the minute only turns "forever" into a
/// failure.
pub(crate) fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not return (waiting on a FIFO?)")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Every file under `dir`, recursively, appended to `out`.
pub(crate) fn all_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}
