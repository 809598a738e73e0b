//! The structural promises the parser makes about any input, checked on one
//! message: every part's offsets are ordered and inside the message, an
//! encapsulated message fills its part exactly, and every section either
//! extracts or fails with a typed error. Owns nothing the server runs; the
//! unit tests and the `mime_parser` fuzz target share it so both check the
//! same thing.

use super::search_text;
use super::section::{self, SectionSpec, SectionText};
use super::summary::{summarize, Part, PartBody, Summary};

/// Parses `raw` and checks every invariant; returns the summary, or what
/// was violated.
pub fn check(raw: &[u8]) -> Result<Summary, String> {
    let s = summarize(raw);
    let len = raw.len() as u64;
    let mut paths: Vec<Vec<u32>> = vec![Vec::new()];
    walk(&s.root, len, &mut Vec::new(), &mut paths)?;
    for path in paths.iter().take(50) {
        for text in [
            SectionText::Whole,
            SectionText::Header,
            SectionText::Text,
            SectionText::Mime,
            SectionText::HeaderFields(vec![b"subject".to_vec(), b"from".to_vec()]),
            SectionText::HeaderFieldsNot(vec![b"subject".to_vec()]),
        ] {
            let spec = SectionSpec {
                path: path.clone(),
                text,
            };
            if let Ok(r) = section::locate(&s, &spec) {
                if r.start > r.end || r.end > len {
                    return Err(format!("section {spec:?} at {r:?} outside 0..{len}"));
                }
                section::extract(&s, &spec, raw)
                    .map_err(|e| format!("section {spec:?} located but not extracted: {e}"))?;
            }
        }
        // Undecodable content is a typed error, which is allowed here.
        let _ = section::extract_binary(&s, path, raw);
    }
    search_text::extract(&s, raw);
    Ok(s)
}

fn walk(
    p: &Part,
    len: u64,
    prefix: &mut Vec<u32>,
    paths: &mut Vec<Vec<u32>>,
) -> Result<(), String> {
    if !(p.header_start <= p.body_start && p.body_start <= p.end && p.end <= len) {
        return Err(format!(
            "part {prefix:?}: offsets {}..{}..{} out of order or beyond {len}",
            p.header_start, p.body_start, p.end
        ));
    }
    match &p.body {
        PartBody::Multipart(children) => {
            for (i, c) in children.iter().enumerate() {
                if c.header_start < p.body_start || c.end > p.end {
                    return Err(format!(
                        "part {prefix:?}: child {} outside its parent",
                        i + 1
                    ));
                }
                prefix.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                paths.push(prefix.clone());
                walk(c, len, prefix, paths)?;
                prefix.pop();
            }
        }
        PartBody::Message { message, .. } => {
            if message.header_start != p.body_start || message.end != p.end {
                return Err(format!(
                    "part {prefix:?}: encapsulated message does not fill its part"
                ));
            }
            walk(message, len, prefix, paths)?;
        }
        PartBody::Single => {}
    }
    Ok(())
}
