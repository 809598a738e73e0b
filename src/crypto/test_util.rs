//! Test-only helpers shared by the crypto and store tests: a self-removing
//! temporary directory (the crate avoids a `tempfile` dependency).

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
