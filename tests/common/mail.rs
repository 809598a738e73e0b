//! Message fixtures and small readers of response text shared by the
//! end-to-end tests.

use std::process::Command;

use super::{bin, run_with_stdin, Root};

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

/// A short message numbered `n`.
pub fn numbered_msg(n: u32) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

/// The flags of the first `FLAGS (...)` in `text`, sorted, without
/// \Recent (which is per session).
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

/// Flags each message reports in `* n FETCH (... FLAGS (...) ...)`
/// responses, by sequence number, without \Recent.
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
        if rest.contains("FLAGS (") {
            out.push((seq, flags_of(rest)));
        }
    }
    out.sort();
    out
}

/// Whether any response text contains `needle`.
pub fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

/// How many response texts contain `needle`.
pub fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

/// `crymap-like deliver --user USER` with `content` on stdin; must succeed.
pub fn deliver(root: &Root, user: &str, content: &[u8]) {
    let mut cmd = Command::new(bin());
    cmd.arg("--root")
        .arg(root.path())
        .args(["deliver", "--user", user]);
    let out = run_with_stdin(cmd, content);
    assert!(
        out.status.success(),
        "deliver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root with one user whose INBOX holds [`numbered_msg`] 1 to `n`.
pub fn root_with_numbered(label: &str, user: &str, password: &str, n: u32) -> Root {
    let root = Root::new(label);
    root.add_user(user, password);
    if n > 0 {
        let msgs: Vec<Vec<u8>> = (1..=n).map(numbered_msg).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        super::seed(&root, user, password, "INBOX", &refs);
    }
    root
}
