//! Fuzz target for the MIME parser: summarise arbitrary bytes, render
//! ENVELOPE/BODY/BODYSTRUCTURE, extract every section of every part and the
//! search text, checking that all offsets stay in bounds. Never panics on
//! valid behaviour; any panic is a bug.
#![no_main]

use crymap_like::imap::structure::{write_body, write_bodystructure, write_envelope};
use crymap_like::mime::search_text;
use crymap_like::mime::section::{self, SectionSpec, SectionText};
use crymap_like::mime::summarize;
use crymap_like::mime::summary::{Part, PartBody};
use libfuzzer_sys::fuzz_target;

fn paths(p: &Part, len: u64, prefix: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
    assert!(p.header_start <= p.body_start && p.body_start <= p.end && p.end <= len);
    match &p.body {
        PartBody::Multipart(children) => {
            for (i, c) in children.iter().enumerate() {
                assert!(c.header_start >= p.body_start && c.end <= p.end);
                prefix.push(i as u32 + 1);
                out.push(prefix.clone());
                paths(c, len, prefix, out);
                prefix.pop();
            }
        }
        PartBody::Message { message, .. } => paths(message, len, prefix, out),
        PartBody::Single => {}
    }
}

fuzz_target!(|raw: &[u8]| {
    let s = summarize(raw);
    let mut out = Vec::new();
    write_envelope(&mut out, &s.envelope);
    write_body(&mut out, &s.root);
    write_bodystructure(&mut out, &s.root);
    let mut all = vec![Vec::new()];
    paths(&s.root, raw.len() as u64, &mut Vec::new(), &mut all);
    for path in &all {
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
                assert!(r.start <= r.end && r.end <= raw.len() as u64);
                assert!(section::extract(&s, &spec, raw).is_ok());
            }
        }
        let _ = section::extract_binary(&s, path, raw);
    }
    let t = search_text::extract(&s, raw);
    let _ = t.text_matches("x");
});
