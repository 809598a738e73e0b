//! After login the serving process is shut into the user directory and
//! runs as its owner; no secret sits on disk in the clear.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn isolation_session_is_chrooted_into_user_dir_as_its_owner() {
    if !require_root("isolation_session_is_chrooted_into_user_dir_as_its_owner") {
        return;
    }
    let root = Root::new("chroot");
    let dir = root.add_user("ivan", "pw-ivan");
    let dir = std::fs::canonicalize(dir).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();

    // A launcher may leak descriptors (here: one without close-on-exec
    // pointing outside the user directory); the session must not keep it.
    let leak = std::fs::File::open(root.path().join("crymap-like.toml")).unwrap();
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&leak),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    // Before login the process is still root and not chrooted: the
    // isolation happens because of the login, not by accident.
    let (child, sock) = root.spawn_serve("imaps");
    drop(leak);
    let pid = child.id();
    let _guard = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        PathBuf::from("/")
    );

    assert!(c.login("ivan", "pw-ivan").starts_with("t1 OK"));
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        dir
    );
    let uid = nobody.uid.as_raw().to_string();
    let gid = nobody.gid.as_raw().to_string();
    assert_eq!(status_field(pid, "Uid"), format!("{uid} {uid} {uid} {uid}"));
    assert_eq!(status_field(pid, "Gid"), format!("{gid} {gid} {gid} {gid}"));
    assert_eq!(status_field(pid, "Groups"), gid);
    // No capability is left that could undo any of it.
    assert_eq!(status_field(pid, "CapEff"), "0000000000000000");
    assert_eq!(status_field(pid, "CapPrm"), "0000000000000000");
    // Nothing it could execute would give a privilege back (issue 7).
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    // The seccomp allow-list is installed (2 = filter mode), and the
    // session still answers under it.
    assert_eq!(status_field(pid, "Seccomp"), "2");
    c.ok("NOOP");

    // No open descriptor refers to a path outside the user directory (a
    // directory descriptor outside it would allow an escape via fchdir).
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let target = std::fs::read_link(fd.unwrap().path()).unwrap();
        let t = target.to_string_lossy();
        let harmless = t.starts_with("socket:")
            || t.starts_with("pipe:")
            || t.starts_with("anon_inode:")
            || t == "/dev/null";
        assert!(
            harmless || target.starts_with(&dir),
            "descriptor open outside the user directory: {t}"
        );
    }
}

/// A path outside the user directory cannot be opened by the session: the
/// account file is replaced by an absolute symlink to a forged copy outside
/// the directory. Without the chroot the session would read the forgery
/// (and report its marker); chrooted, the link resolves inside the user
/// directory, where nothing is found.
#[test]
fn isolation_session_cannot_open_a_path_outside_the_user_dir() {
    if !require_root("isolation_session_cannot_open_a_path_outside_the_user_dir") {
        return;
    }
    let root = Root::new("escape");
    let dir = root.add_user("judy", "pw-judy");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let real = std::fs::read_to_string(dir.join("user.toml")).unwrap();
    assert!(real.contains("%Y-%m"), "{real}");
    std::fs::write(outside.join("user.toml"), real.replace("%Y-%m", "ESCAPED")).unwrap();
    // Make the forgery readable by the session's uid, so only the chroot can
    // stop it.
    for p in [root.path(), outside.as_path(), &outside.join("user.toml")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    let (child, sock) = root.spawn_serve("imaps");
    let _guard = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    assert!(c.login("judy", "pw-judy").starts_with("t1 OK"));
    let before = c.cmd("XCRY GET-USER-CONFIG");
    assert!(before[0].contains("%Y-%m"), "{before:?}");
    let target: &Path = &outside.join("user.toml");
    std::fs::remove_file(dir.join("user.toml")).unwrap();
    std::os::unix::fs::symlink(target, dir.join("user.toml")).unwrap();
    let after = c.cmd("XCRY GET-USER-CONFIG");
    assert!(
        !after.iter().any(|l| l.contains("ESCAPED")),
        "the session read a file outside its directory: {after:?}"
    );
    assert!(after.last().unwrap().starts_with("t3 NO"), "{after:?}");
}

/// Neither the password nor anything derived from it lies on disk in the
/// clear, in any file of the account.
#[test]
fn confidentiality_no_plaintext_password_on_disk() {
    let root = Root::new("no-plaintext");
    let password = "Plaintext-Marker-7f3a9c";
    let dir = root.add_user("kim", password);
    let mut files = 0;
    let mut stack = vec![dir];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                files += 1;
                let bytes = std::fs::read(e.path()).unwrap();
                assert!(
                    !bytes
                        .windows(password.len())
                        .any(|w| w == password.as_bytes()),
                    "password found in {}",
                    e.path().display()
                );
            }
        }
    }
    assert!(
        files >= 3,
        "expected user.toml, keys and the account log, saw {files} files"
    );
}

#[test]
fn isolation_user_directory_is_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let root = Root::new("mode");
    let dir = root.add_user("lee", "pw");
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    if is_root() {
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert_eq!(meta.uid(), nobody.uid.as_raw());
        for sub in ["user.toml", "keys", "account"] {
            assert_eq!(
                std::fs::metadata(dir.join(sub)).unwrap().uid(),
                nobody.uid.as_raw(),
                "{sub}"
            );
        }
    }
}

/// Black-box deployment: `chroot_system` and `system_user` shut the
/// process into `users/` as the system user before it reads from the
/// network; the login then works without root.
#[test]
fn isolation_black_box_deployment_chroots_system_and_drops_before_reading() {
    if !require_root("isolation_black_box_deployment_chroots_system_and_drops_before_reading") {
        return;
    }
    let root = Root::with_config(
        "black-box",
        "\n[security]\nchroot_system = true\nsystem_user = \"nobody\"\n",
    );
    root.add_user("uma", "pw-uma");
    let users = std::fs::canonicalize(root.path().join("users")).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let (child, sock) = root.spawn_serve("imaps");
    let pid = child.id();
    let _guard = Guard(child);
    let (mut c, greeting) = Client::imaps(sock);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    // Already shut in and unprivileged before the first command.
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        users
    );
    let uid = nobody.uid.as_raw().to_string();
    assert_eq!(status_field(pid, "Uid"), format!("{uid} {uid} {uid} {uid}"));
    assert!(c.login("uma", "pw-uma").starts_with("t1 OK"));
    assert!(c.login("uma", "pw-uma").contains("BAD"));
    assert!(c.cmd("XCRY GET-USER-CONFIG")[0].starts_with("* XCRY USER-CONFIG"));
}

/// Before any secret is read (TLS key, password, master key) the process
/// can no longer dump core, even if it tries to raise the limit (hard
/// limit 0), and it stays so after the uid drop (issue 7).
#[test]
fn isolation_session_cannot_dump_core() {
    if !require_root("isolation_session_cannot_dump_core") {
        return;
    }
    let root = Root::new("nocore");
    root.add_user("ivan", "pw-ivan");
    let (child, sock) = root.spawn_serve("imaps");
    let pid = child.id();
    let _guard = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    let core_limit = || {
        std::fs::read_to_string(format!("/proc/{pid}/limits"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .map(|l| {
                l.split_whitespace()
                    .skip(4)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    assert_eq!(core_limit(), "0 0", "before login");
    assert!(c.login("ivan", "pw-ivan").starts_with("t1 OK"));
    assert_eq!(core_limit(), "0 0", "after login");
}

/// `deliver` closes the descriptors it inherits before anything else, as
/// `serve` does: a descriptor leaked into it on purpose (no close-on-exec,
/// pointing outside the user directory) is no longer open once it has
/// dropped to the owner, shut itself in and blocks reading the message.
#[test]
fn isolation_deliver_closes_inherited_descriptors() {
    if !require_root("isolation_deliver_closes_inherited_descriptors") {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        common::missing(
            "isolation_deliver_closes_inherited_descriptors",
            "x86_64 (the read-on-stdin probe knows its syscall numbers only)",
        );
        return;
    }
    use std::process::{Command, Stdio};
    let root = Root::new("deliver-fds");
    let dir = std::fs::canonicalize(root.add_user("vera", "pw-vera")).unwrap();
    let marker = root.path().join("leaked-descriptor-marker");
    std::fs::write(&marker, b"x").unwrap();
    let leak = std::fs::File::open(&marker).unwrap();
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&leak),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let child = Command::new(bin())
        .arg("deliver")
        .arg("--root")
        .arg(root.path())
        .args(["--user", "vera"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(leak);
    let pid = child.id();
    let mut guard = Guard(child);
    // Wait until it blocks in read(0, ...) on the message (the first
    // fields of /proc/PID/syscall are the number, 0 = read on x86_64, and
    // the descriptor): by then it has closed, dropped and chrooted.
    let mut blocked = false;
    for _ in 0..600 {
        let sc = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let mut f = sc.split_whitespace();
        if f.next() == Some("0") && f.next() == Some("0x0") {
            blocked = true;
            break;
        }
        if let Ok(Some(s)) = guard.0.try_wait() {
            panic!("deliver exited before reading its message: {s}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(blocked, "deliver never blocked reading stdin");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        dir
    );
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let target = std::fs::read_link(fd.unwrap().path()).unwrap();
        let t = target.to_string_lossy();
        assert!(
            !t.contains("leaked-descriptor-marker") && !t.ends_with("crymap-like.toml"),
            "inherited descriptor still open in deliver: {t}"
        );
        let harmless = t.starts_with("socket:")
            || t.starts_with("pipe:")
            || t.starts_with("anon_inode:")
            || t == "/dev/null";
        assert!(
            harmless || target.starts_with(&dir),
            "descriptor open outside the user directory: {t}"
        );
    }
    // Closing stdin now is an empty message: refused, nothing stored.
    drop(guard.0.stdin.take());
    let status = wait_exit(&mut guard.0, std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(status.code(), Some(65));
}
