//! A raw IMAP client for end-to-end tests that must compare message bytes
//! exactly (literals kept as bytes) and survive a server that dies
//! (`Closed` instead of a panic); used by the crash and real-client tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};

use crate::common::Transport;

/// A distinct message per label, CRLF throughout, with a body long enough
/// to span lines so byte-identity is meaningful.
pub fn msg(label: &str) -> Vec<u8> {
    let mut m = format!(
        "From: sender@example.org\r\nTo: carol@example.org\r\nSubject: {label}\r\n\
         Message-ID: <{label}@example.org>\r\n\r\n"
    )
    .into_bytes();
    for i in 0..20 {
        m.extend_from_slice(format!("{label} line {i}: the quick brown fox\r\n").as_bytes());
    }
    m
}

/// One server response: its text, with each literal replaced by `{N}`, and
/// the literals' bytes in order.
#[derive(Debug)]
pub struct Resp {
    pub text: String,
    pub literals: Vec<Vec<u8>>,
}

/// The connection ended before the tagged response: the process died.
#[derive(Debug)]
pub struct Closed;

/// A raw IMAPS client that keeps literals as bytes, so message content is
/// compared exactly, and that reports a dead server as `Closed` rather than
/// panicking.
pub struct Raw {
    io: BufReader<Box<dyn Transport>>,
    tag: u32,
}

impl Raw {
    /// Wraps a connected transport and reads the greeting, which must be OK.
    pub fn new(t: Box<dyn Transport>) -> Raw {
        let mut raw = Raw {
            io: BufReader::new(t),
            tag: 0,
        };
        let greeting = raw.response().expect("greeting");
        assert!(greeting.text.starts_with("* OK"), "{}", greeting.text);
        raw
    }

    pub fn line(&mut self) -> Result<Vec<u8>, Closed> {
        let mut buf = Vec::new();
        match self.io.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => Err(Closed),
            Ok(_) if !buf.ends_with(b"\n") => Err(Closed),
            Ok(_) => Ok(buf),
        }
    }

    pub fn response(&mut self) -> Result<Resp, Closed> {
        let mut text = String::new();
        let mut literals = Vec::new();
        loop {
            let line = self.line()?;
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            let literal_len = line
                .strip_suffix('}')
                .and_then(|s| s.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok());
            text.push_str(&line);
            let Some(n) = literal_len else {
                return Ok(Resp { text, literals });
            };
            let mut lit = vec![0; n];
            self.io.read_exact(&mut lit).map_err(|_| Closed)?;
            literals.push(lit);
        }
    }

    pub fn send(&mut self, raw: &[u8]) -> Result<(), Closed> {
        let w = self.io.get_mut();
        w.write_all(raw).map_err(|_| Closed)?;
        w.flush().map_err(|_| Closed)
    }

    pub fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("c{}", self.tag)
    }

    pub fn until_tagged(&mut self, tag: &str) -> Result<Vec<Resp>, Closed> {
        let mut out = Vec::new();
        loop {
            let r = self.response()?;
            let done = r.text.starts_with(&format!("{tag} "));
            out.push(r);
            if done {
                return Ok(out);
            }
        }
    }

    pub fn cmd(&mut self, text: &str) -> Result<Vec<Resp>, Closed> {
        let tag = self.next_tag();
        self.send(format!("{tag} {text}\r\n").as_bytes())?;
        self.until_tagged(&tag)
    }

    /// Runs a command that must succeed on a healthy server.
    pub fn ok(&mut self, text: &str) -> Vec<Resp> {
        let r = self
            .cmd(text)
            .unwrap_or_else(|_| panic!("{text}: server died"));
        let last = &r.last().expect("a tagged line").text;
        assert!(
            last.split(' ').nth(1) == Some("OK"),
            "{text}: {:#?}",
            r.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        r
    }

    /// APPEND with a non-synchronizing literal (LITERAL+).
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: &str,
        content: &[u8],
    ) -> Result<Vec<Resp>, Closed> {
        let tag = self.next_tag();
        let mut raw = format!(
            "{tag} APPEND {mailbox} ({flags}) {{{}+}}\r\n",
            content.len()
        )
        .into_bytes();
        raw.extend_from_slice(content);
        raw.extend_from_slice(b"\r\n");
        self.send(&raw)?;
        self.until_tagged(&tag)
    }
}

pub fn word_after(text: &str, key: &str) -> Option<u32> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub fn flags_of(text: &str) -> Vec<String> {
    let Some(at) = text.find("FLAGS (") else {
        return Vec::new();
    };
    let inner = &text[at + 7..];
    let end = inner.find(')').unwrap_or(inner.len());
    let mut f: Vec<String> = inner[..end]
        .split_whitespace()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .map(str::to_owned)
        .collect();
    f.sort();
    f
}
