//! The root-owned login path against a hostile `user.toml` (issue 7,
//! finding 1): the UNIX layout gives each user their own directory, and
//! `serve` reads the account file while still root. A link, a FIFO, a
//! device, an oversized file, a file of someone else's, or Argon2 costs
//! above the system's policy are refused (`NO [UNAVAILABLE]`), without
//! hanging, without reading more than the cap, and without the file's
//! content reaching the log.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

const MARKER: &str = "ROOT-ONLY-SECRET-4b1d";

/// Logs in as alice with her right password over a fresh `serve imaps`;
/// returns the tagged reply and the server's log.
fn login_and_log(root: &Root) -> (String, String) {
    let (child, sock) = root.spawn_serve("imaps");
    let mut server = Guard(child);
    let (mut c, greeting) = Client::imaps(sock);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let reply = c.login("alice", "pw");
    let _ = c.try_run("LOGOUT");
    drop(c);
    wait_exit(&mut server.0, Duration::from_secs(20)).expect("server hung");
    let mut log = String::new();
    if let Some(mut e) = server.0.stderr.take() {
        let _ = e.read_to_string(&mut log);
    }
    assert!(!log.contains("panicked"), "{log}");
    (reply, log)
}

fn alice(label: &str) -> (Root, PathBuf) {
    let root = Root::new(label);
    let dir = root.add_user("alice", "pw");
    (root, dir)
}

fn assert_refused(reply: &str, log: &str) {
    assert!(reply.contains("NO [UNAVAILABLE]"), "{reply}\n{log}");
    assert!(
        !log.contains(MARKER),
        "file content reached the log:\n{log}"
    );
}

/// A file only root may read, with a marker line that must never be shown.
fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("secret");
    std::fs::write(&p, format!("{MARKER}:$6$hash:19000:0:99999:7:::\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn hostile_user_toml_symlinked_to_a_root_only_file_is_refused_unread() {
    if !require_root("hostile_user_toml_symlinked_to_a_root_only_file_is_refused_unread") {
        return;
    }
    let (root, dir) = alice("uf-symlink");
    let outside = TempDir::new("uf-secret");
    let secret = secret_file(outside.path());
    std::fs::remove_file(dir.join("user.toml")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("user.toml")).unwrap();
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    // The refusal was logged (naming the file), just not its content.
    assert!(log.contains("user.toml"), "{log}");
}

#[test]
fn hostile_user_toml_content_never_reaches_the_log() {
    // A user-owned, well-placed file that is not TOML: the parse error
    // says where, never what.
    let (root, dir) = alice("uf-garbage");
    let p = dir.join("user.toml");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str(&format!("{MARKER} = [\n"));
    std::fs::write(&p, text).unwrap();
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
}

#[test]
fn hostile_user_toml_fifo_is_refused_without_blocking() {
    if !require_root("hostile_user_toml_fifo_is_refused_without_blocking") {
        return;
    }
    let (root, dir) = alice("uf-fifo");
    let p = dir.join("user.toml");
    let owner = std::fs::metadata(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    use std::os::unix::fs::MetadataExt;
    std::os::unix::fs::lchown(&p, Some(owner.uid()), Some(owner.gid())).unwrap();
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    assert!(log.contains("not a regular file"), "{log}");
}

#[test]
fn hostile_user_toml_dev_zero_is_refused_without_reading() {
    if !require_root("hostile_user_toml_dev_zero_is_refused_without_reading") {
        return;
    }
    let (root, dir) = alice("uf-zero");
    let p = dir.join("user.toml");
    std::fs::remove_file(&p).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    // A device node of the user's own (where mknod is allowed): the type
    // check refuses it, not only the link check.
    std::fs::remove_file(&p).unwrap();
    let made = nix::sys::stat::mknod(
        &p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 5),
    );
    if made.is_ok() {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(&dir).unwrap();
        std::os::unix::fs::lchown(&p, Some(owner.uid()), Some(owner.gid())).unwrap();
        let (reply, log) = login_and_log(&root);
        assert_refused(&reply, &log);
        assert!(log.contains("not a regular file"), "{log}");
    }
}

#[test]
fn hostile_user_toml_oversized_is_refused() {
    // Valid TOML padded with comments past the cap: today's code read and
    // accepted it whatever its size.
    let (root, dir) = alice("uf-big");
    let p = dir.join("user.toml");
    let mut text = std::fs::read_to_string(&p).unwrap();
    let pad = format!("# {}\n", "x".repeat(1000));
    for _ in 0..1024 {
        text.push_str(&pad);
    }
    std::fs::write(&p, text).unwrap();
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    assert!(log.contains("larger than"), "{log}");
}

#[test]
fn hostile_user_toml_owned_by_someone_else_is_refused() {
    if !require_root("hostile_user_toml_owned_by_someone_else_is_refused") {
        return;
    }
    let (root, dir) = alice("uf-owner");
    std::os::unix::fs::lchown(dir.join("user.toml"), Some(0), Some(0)).unwrap();
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    assert!(log.contains("owned by uid 0"), "{log}");
}

#[test]
fn hostile_user_toml_argon2_cost_above_policy_is_refused_before_hashing() {
    // 128 MiB is twice the default policy (64 MiB); the file's owner could
    // ask for gigabytes, from a root process, on every unauthenticated
    // LOGIN.
    let (root, dir) = alice("uf-cost");
    let p = dir.join("user.toml");
    edit_file(&p, "memory_kib = 64\n", "memory_kib = 131072\n");
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    assert!(log.contains("above the system's policy"), "{log}");
    edit_file(&p, "memory_kib = 131072\n", "memory_kib = 64\n");
    edit_file(&p, "passes = 1\n", "passes = 50\n");
    let (reply, log) = login_and_log(&root);
    assert_refused(&reply, &log);
    assert!(log.contains("above the system's policy"), "{log}");
}
