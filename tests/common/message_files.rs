//! The header of a stored message file as the tests that move, strip or
//! damage its summary need it (`doc/store.md`, "Message files"):
//! `"CRYLMSG\0" | u32 LE H | postcard(FileHeader) ‖ NAME ‖ [sealed summary]`,
//! the version the first byte of the postcard header (2: no summary, 3: a
//! summary after the name). The name is the file's own (its 32 hex digits
//! decoded), found in the header by value.

#![allow(dead_code)]

use std::path::Path;

/// The parts of a message file: (bytes, where the header starts, where
/// the name ends, where the header ends).
fn parts(path: &Path) -> (Vec<u8>, usize, usize, usize) {
    let bytes = std::fs::read(path).expect("message file");
    assert_eq!(&bytes[..8], b"CRYLMSG\0", "{}", path.display());
    let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let hex = path.file_name().unwrap().to_str().unwrap();
    let name: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    let at = bytes[12..12 + len]
        .windows(16)
        .position(|w| w == name)
        .expect("the name in the header");
    (bytes, 12, 12 + at + 16, 12 + len)
}

/// The format version of the message file at `path`.
pub fn version(path: &Path) -> u8 {
    std::fs::read(path).expect("message file")[12]
}

/// The sealed summary carried in the header of the file at `path`, if any.
pub fn header_summary(path: &Path) -> Option<Vec<u8>> {
    let (bytes, _, name_end, end) = parts(path);
    (name_end < end).then(|| bytes[name_end..end].to_vec())
}

/// Rewrites the header of the file at `path` to carry `summary` (version
/// 3), or none (`None`: version 2, as older builds wrote), content as it
/// was.
pub fn set_header_summary(path: &Path, summary: Option<&[u8]>) {
    let (bytes, start, name_end, end) = parts(path);
    let mut header = bytes[start..name_end].to_vec();
    header[0] = if summary.is_some() { 3 } else { 2 };
    header.extend_from_slice(summary.unwrap_or_default());
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(path, out).expect("rewrite");
}
