//! Helpers of the FETCH and SEARCH end-to-end tests: a session logged in
//! over real TLS and a reader that keeps literals inside their response.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};

use super::common::{login_cmd, seed, Client, Guard, Root, Transport};

pub const USER: &str = "fs";
pub const PASS: &str = "pw-fs";

/// A raw IMAP client: responses as bytes, literals inlined.
pub struct Raw {
    io: BufReader<Box<dyn Transport>>,
    tag: u32,
    _guard: Guard,
}

impl Raw {
    /// Sends `TAG text` and returns every byte up to and including the
    /// tagged line.
    pub fn cmd(&mut self, text: &str) -> Vec<u8> {
        self.tag += 1;
        let tag = format!("r{}", self.tag);
        let w = self.io.get_mut();
        w.write_all(format!("{tag} {text}\r\n").as_bytes()).unwrap();
        w.flush().unwrap();
        let mut all = Vec::new();
        loop {
            let start = all.len();
            self.read_line_with_literals(&mut all);
            if all[start..].starts_with(format!("{tag} ").as_bytes()) {
                return all;
            }
        }
    }

    /// The tag of the last command sent.
    pub fn last_tag(&self) -> String {
        format!("r{}", self.tag)
    }

    /// Like [`Raw::cmd`], as lossy text.
    pub fn text(&mut self, text: &str) -> String {
        String::from_utf8_lossy(&self.cmd(text)).into_owned()
    }

    /// The tagged line of a command.
    pub fn status(&mut self, text: &str) -> String {
        let t = self.text(text);
        let t = t.trim_end_matches("\r\n");
        t.rsplit("\r\n").next().unwrap().to_owned()
    }

    fn read_line_with_literals(&mut self, all: &mut Vec<u8>) {
        loop {
            let before = all.len();
            let n = self.io.read_until(b'\n', all).unwrap();
            assert!(n > 0, "connection closed");
            let line = &all[before..];
            if let Some(len) = literal_len(line) {
                let mut buf = vec![0u8; len];
                self.io.read_exact(&mut buf).unwrap();
                all.extend_from_slice(&buf);
                continue;
            }
            return;
        }
    }
}

/// `n` when `line` ends with `{n}\r\n` (or `~{n}\r\n`).
fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"}\r\n")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&l[open + 1..]).ok()?.parse().ok()
}

/// A root with user [`USER`], `messages` seeded into INBOX, a session
/// logged in and INBOX selected (EXAMINE with `read_only`).
pub fn session(label: &str, messages: &[&[u8]], read_only: bool) -> (Root, Raw, Vec<u32>) {
    let root = Root::new(label);
    root.add_user(USER, PASS);
    let uids = if messages.is_empty() {
        Vec::new()
    } else {
        seed(&root, USER, PASS, "INBOX", messages)
    };
    let mut raw = login(&root);
    let verb = if read_only { "EXAMINE" } else { "SELECT" };
    let s = raw.status(&format!("{verb} INBOX"));
    assert!(s.contains(" OK"), "{s}");
    (root, raw, uids)
}

/// A logged-in session on `root` as [`USER`].
pub fn login(root: &Root) -> Raw {
    let (child, sock) = root.spawn_serve("imaps");
    let guard = Guard(child);
    let (mut c, greeting) = Client::imaps(sock);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let s = c.status(&login_cmd(USER, PASS));
    assert!(s.contains(" OK"), "{s}");
    Raw {
        io: BufReader::new(c.into_inner()),
        tag: 0,
        _guard: guard,
    }
}

/// The untagged lines (literals inlined) of a response.
pub fn untagged(resp: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i < resp.len() {
        // Find the end of this response, skipping literals.
        let mut j = i;
        loop {
            let nl = resp[j..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| j + p + 1);
            let Some(nl) = nl else {
                j = resp.len();
                break;
            };
            if let Some(len) = literal_len(&resp[j..nl]) {
                j = nl + len;
                continue;
            }
            j = nl;
            break;
        }
        let item = resp[i..j].to_vec();
        if item.starts_with(b"* ") {
            out.push(item);
        }
        i = j;
    }
    out
}

/// `s` as a non-synchronising literal (LITERAL+), for 8-bit arguments.
pub fn lit(s: &str) -> String {
    format!("{{{}+}}\r\n{s}", s.len())
}
