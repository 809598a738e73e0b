//! The mail formats other servers and clients leave on disk — Maildir
//! (with Maildir++ folders, `:2,` flags and Dovecot's `dovecot-keywords`)
//! and mbox (mboxrd quoting, mutt's `Status:`/`X-Status:` and
//! Thunderbird's `X-Mozilla-Status:` headers) — read into and written from
//! plain [`SourceMessage`] values. Owns only the formats: it never touches
//! the store, never speaks IMAP, and never decides what is skipped (it
//! reports each unreadable message as a [`Skipped`] with its path and
//! reason and goes on).

pub(super) mod maildir;
pub(super) mod mbox;

use std::path::PathBuf;

use crate::store::types::{Flag, InternalDate};

/// A folder path as its components, outermost first, in UTF-8 (e.g.
/// `["Lists", "rust"]`); empty for the top folder (INBOX in a Maildir).
pub(super) type FolderPath = Vec<String>;

/// Where a message's bytes are.
#[derive(Debug, Clone)]
pub(super) enum Content {
    /// A whole file (a Maildir message).
    File(PathBuf),
    /// Already read (an mbox message).
    Bytes(Vec<u8>),
}

/// One message found in a source.
#[derive(Debug, Clone)]
pub(super) struct SourceMessage {
    /// Where it was found, for reports: a path, or `path:line` for mbox.
    pub origin: String,
    /// Its folder.
    pub folder: FolderPath,
    /// Its content.
    pub content: Content,
    /// Approximate size in bytes (for progress).
    pub size: u64,
    /// Flags and keywords.
    pub flags: Vec<Flag>,
    /// When it arrived, if the format says.
    pub internal: Option<InternalDate>,
}

/// A message, or a folder, that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Skipped {
    /// The path (or `path:line`).
    pub origin: String,
    /// Why, in plain words.
    pub reason: String,
}

/// Converts bare LF to CRLF and leaves CRLF alone, as IMAP wants lines.
pub(super) fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Converts CRLF to LF (for mbox, whose tools expect UNIX lines).
pub(super) fn to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// Decodes one folder name component: modified UTF-7 (RFC 3501 §5.1.3,
/// what Dovecot writes by default) when it decodes, else the name as
/// UTF-8 (Dovecot's UTF-8 folder names), else lossily.
pub(super) fn decode_component(raw: &[u8]) -> String {
    if raw.contains(&b'&') {
        if let Ok(s) = crate::imap::wire::mutf7::decode(raw) {
            return s;
        }
    }
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_convert_both_ways() {
        assert_eq!(to_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc");
        assert_eq!(to_lf(b"a\r\nb\nc\r"), b"a\nb\nc\r");
        assert_eq!(decode_component(b"Entw&APw-rfe"), "Entwürfe");
        assert_eq!(decode_component("Entwürfe".as_bytes()), "Entwürfe");
    }
}
