//! Helpers shared by the `sys` unit tests: temporary directories and running
//! one test body in a re-executed, single-threaded copy of the test binary
//! (for chroot, setuid, inherited descriptors and reaping, which must not
//! touch the harness process).

use std::path::PathBuf;
use std::process::Command;

/// Set in the environment of a re-executed test binary.
pub(super) const CHILD_VAR: &str = "CRYMAP_LIKE_SYS_TEST_CHILD";

/// Whether this process is such a re-executed child.
pub(super) fn in_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// A fresh directory under the system temp dir.
pub(super) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "crymap-like-{tag}-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("mkdir temp dir");
    dir
}

/// The command that re-runs exactly `test` (its full path) in a child.
pub(super) fn child_command(test: &str) -> Command {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_VAR, "1");
    cmd
}

/// Runs `cmd` (from [`child_command`]) and reports whether the one test passed,
/// echoing the child's output for diagnosis.
pub(super) fn child_passed(cmd: &mut Command) -> bool {
    let out = cmd.output().expect("spawn child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "child stdout:\n{stdout}\nchild stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success() && stdout.contains("1 passed")
}
