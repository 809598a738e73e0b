//! Helpers shared by the selected-state, multi-session and IDLE tests:
//! logged-in sessions over the real binary, deliveries, and response checks.
#![allow(dead_code)]

use std::process::Command;

use crate::common::{login_cmd, run_with_stdin, Client, Guard, Root};

pub const USER: &str = "alice";
pub const PASS: &str = "correct horse";

pub fn msg(n: u32) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

/// A root with one user whose INBOX holds `n` messages.
pub fn root_with(label: &str, n: u32) -> Root {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    if n > 0 {
        let msgs: Vec<Vec<u8>> = (1..=n).map(msg).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        crate::common::seed(&root, USER, PASS, "INBOX", &refs);
    }
    root
}

/// A logged-in IMAPS session; the server is killed when it is dropped.
pub struct Sess {
    pub c: Client,
    _guard: Guard,
}

impl Sess {
    pub fn new(root: &Root) -> Sess {
        let (child, sock) = root.spawn_serve("imaps");
        let guard = Guard(child);
        let (mut c, greeting) = Client::imaps(sock);
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let st = c.status(&login_cmd(USER, PASS));
        assert!(st.starts_with("t1 OK"), "{st}");
        Sess { c, _guard: guard }
    }

    pub fn cmd(&mut self, text: &str) -> Vec<String> {
        self.c.cmd(text)
    }

    /// Runs a command and asserts its tagged status is OK.
    pub fn ok(&mut self, text: &str) -> Vec<String> {
        let lines = self.c.cmd(text);
        let last = lines.last().cloned().unwrap_or_default();
        assert!(
            last.split(' ').nth(1) == Some("OK"),
            "{text} failed: {lines:#?}"
        );
        lines
    }
}

pub fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

pub fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

/// `crymap-like deliver --user alice` with `content` on stdin.
pub fn deliver(root: &Root, content: &[u8]) {
    let mut cmd = Command::new(crate::common::bin());
    cmd.arg("--root")
        .arg(root.path())
        .args(["deliver", "--user", USER]);
    let out = run_with_stdin(cmd, content);
    assert!(
        out.status.success(),
        "deliver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Flags each message reports in `* n FETCH (... FLAGS (...) ...)` lines,
/// by sequence number, without \Recent (which is per session).
pub fn flags_by_seq(lines: &[String]) -> Vec<(u32, Vec<String>)> {
    let mut out = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("* ") else {
            continue;
        };
        let Some((seq, rest)) = rest.split_once(" FETCH (") else {
            continue;
        };
        let Ok(seq) = seq.parse::<u32>() else {
            continue;
        };
        let Some(start) = rest.find("FLAGS (") else {
            continue;
        };
        let inner = &rest[start + 7..];
        let end = inner.find(')').unwrap_or(inner.len());
        let mut flags: Vec<String> = inner[..end]
            .split_whitespace()
            .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
            .map(str::to_owned)
            .collect();
        flags.sort();
        out.push((seq, flags));
    }
    out.sort();
    out
}
