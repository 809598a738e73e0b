//! A private Postfix (Debian's package) for the tests that hand mail to
//! crymap-like's LMTP: its configuration directory, queue and log live in
//! a test's temporary directory, with no network listener (only its own
//! UNIX sockets under that queue directory). Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A Postfix instance in `dir`, stopped when dropped.
pub struct Postfix {
    conf: PathBuf,
}

impl Postfix {
    /// `routing` is appended to main.cf: where mail for example.test goes
    /// (`virtual_transport = ...`, `transport_maps = ...`).
    pub fn start(dir: &Path, routing: &str) -> Postfix {
        let conf = dir.join("conf");
        let queue = dir.join("queue");
        let data = dir.join("data");
        for d in [&conf, &queue, &data] {
            std::fs::create_dir_all(d).unwrap();
        }
        let status = Command::new("chown")
            .args(["postfix"])
            .arg(&data)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {queue}\n\
                 data_directory = {data}\n\
                 command_directory = /usr/sbin\n\
                 daemon_directory = /usr/lib/postfix/sbin\n\
                 mail_owner = postfix\n\
                 setgid_group = postdrop\n\
                 myhostname = mta.example.test\n\
                 mydomain = example.test\n\
                 mydestination =\n\
                 inet_interfaces = loopback-only\n\
                 inet_protocols = ipv4\n\
                 virtual_mailbox_domains = example.test\n\
                 maillog_file_prefixes = /tmp, /var\n\
                 maillog_file = {log}\n\
                 smtputf8_enable = yes\n\
                 {routing}\n",
                queue = queue.display(),
                data = data.display(),
                log = dir.join("maillog").display(),
            ),
        )
        .unwrap();
        // Only internal services: no smtp listener, nothing chrooted.
        let services = [
            "pickup    unix  n       -       n       60      1       pickup",
            "cleanup   unix  n       -       n       -       0       cleanup",
            "qmgr      unix  n       -       n       300     1       qmgr",
            "rewrite   unix  -       -       n       -       -       trivial-rewrite",
            "bounce    unix  -       -       n       -       0       bounce",
            "defer     unix  -       -       n       -       0       bounce",
            "trace     unix  -       -       n       -       0       bounce",
            "verify    unix  -       -       n       -       1       verify",
            "flush     unix  n       -       n       1000?   0       flush",
            "proxymap  unix  -       -       n       -       -       proxymap",
            "showq     unix  n       -       n       -       -       showq",
            "error     unix  -       -       n       -       -       error",
            "retry     unix  -       -       n       -       -       error",
            "discard   unix  -       -       n       -       -       discard",
            "lmtp      unix  -       -       n       -       -       lmtp",
            "anvil     unix  -       -       n       -       1       anvil",
            "scache    unix  -       -       n       -       1       scache",
            "postlog   unix-dgram n  -       n       -       1       postlogd",
        ];
        std::fs::write(conf.join("master.cf"), services.join("\n") + "\n").unwrap();
        let pf = Postfix { conf };
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&pf.conf)
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postfix start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pf
    }

    pub fn sendmail(&self, from: &str, to: &[&str], message: &[u8]) {
        let mut cmd = Command::new("sendmail");
        cmd.arg("-C").arg(&self.conf).args(["-f", from]).args(to);
        let out = super::run_with_stdin(cmd, message);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
