//! FETCH (RFC 9051 §6.4.5: attributes, sections, partials, BINARY) and
//! STORE (§6.4.6, with CONDSTORE's UNCHANGEDSINCE).

use std::num::NonZeroU32;

use nom::bytes::complete::take_while1;

use super::*;

pub(super) fn section_part(i: &[u8]) -> R<'_, Vec<NonZeroU32>> {
    let mut part = Vec::new();
    let mut i = i;
    while matches!(peek(i), Some(c) if c.is_ascii_digit()) {
        let (rest, n) = ctx("invalid section part number", nz_number)(i)?;
        part.push(n);
        i = rest;
        match rest.strip_prefix(b".") {
            Some(more) if matches!(peek(more), Some(c) if c.is_ascii_digit()) => i = more,
            _ => break,
        }
    }
    Ok((i, part))
}

pub(super) fn header_list(i: &[u8]) -> R<'_, Vec<String>> {
    paren_list(i, false, |i| {
        let (r, s) = astring(i, "expected header field name")?;
        Ok((r, utf8_string(s, "invalid header field name")?))
    })
}

pub(super) fn section(i: &[u8]) -> R<'_, Section> {
    let (i, ()) = expect(i, b"[", "expected '['")?;
    let (i, part) = section_part(i)?;
    let (i, text) = if peek(i) == Some(b']') {
        (i, None)
    } else {
        let i = if part.is_empty() {
            i
        } else {
            expect(i, b".", "invalid section")?.0
        };
        let (i, name) = ctx(
            "invalid section",
            take_while1(|b: u8| b.is_ascii_alphabetic() || b == b'.'),
        )(i)?;
        let (i, t) = match name.to_ascii_uppercase().as_slice() {
            b"HEADER" => (i, SectionText::Header),
            b"TEXT" => (i, SectionText::Text),
            b"MIME" if !part.is_empty() => (i, SectionText::Mime),
            b"HEADER.FIELDS" => {
                let (i, ()) = sp(i)?;
                let (i, l) = header_list(i)?;
                (i, SectionText::HeaderFields(l))
            }
            b"HEADER.FIELDS.NOT" => {
                let (i, ()) = sp(i)?;
                let (i, l) = header_list(i)?;
                (i, SectionText::HeaderFieldsNot(l))
            }
            _ => return fail("invalid section"),
        };
        (i, Some(t))
    };
    let (i, ()) = expect(i, b"]", "expected ']' after section")?;
    Ok((i, Section { part, text }))
}

pub(super) fn binary_section(i: &[u8]) -> R<'_, Vec<NonZeroU32>> {
    let (i, ()) = expect(i, b"[", "expected '['")?;
    let (i, part) = section_part(i)?;
    let (i, ()) = expect(i, b"]", "expected ']' after binary section")?;
    Ok((i, part))
}

pub(super) fn partial(i: &[u8]) -> R<'_, Option<Partial>> {
    let Some(i) = i.strip_prefix(b"<") else {
        return Ok((i, None));
    };
    let (i, offset) = number64(i)?;
    let (i, ()) = expect(i, b".", "invalid partial range")?;
    let (i, length) = number64(i)?;
    if length == 0 {
        return fail("partial length must not be zero");
    }
    let (i, ()) = expect(i, b">", "invalid partial range")?;
    Ok((i, Some(Partial { offset, length })))
}

pub(super) fn fetch_att(i: &[u8]) -> R<'_, FetchAttr> {
    let (i, name) = ctx(
        "expected fetch attribute",
        take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'.'),
    )(i)?;
    let name = name.to_ascii_uppercase();
    let a = match name.as_slice() {
        b"ENVELOPE" => FetchAttr::Envelope,
        b"FLAGS" => FetchAttr::Flags,
        b"INTERNALDATE" => FetchAttr::InternalDate,
        b"RFC822" => FetchAttr::Rfc822,
        b"RFC822.HEADER" => FetchAttr::Rfc822Header,
        b"RFC822.SIZE" => FetchAttr::Rfc822Size,
        b"RFC822.TEXT" => FetchAttr::Rfc822Text,
        b"BODYSTRUCTURE" => FetchAttr::BodyStructure,
        b"UID" => FetchAttr::Uid,
        b"MODSEQ" => FetchAttr::ModSeq,
        b"EMAILID" => FetchAttr::EmailId,
        b"THREADID" => FetchAttr::ThreadId,
        b"PREVIEW" => {
            // RFC 8970 §5: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"].
            // A list that is not LAZY is the command's modifier list
            // (`FETCH 1 PREVIEW (CHANGEDSINCE 5)`), left for the caller.
            let lazy = i
                .strip_prefix(b" ")
                .filter(|r| r.starts_with(b"("))
                .and_then(|r| {
                    paren_list(r, false, |i| match keyword(i, "LAZY") {
                        Some(r) => Ok((r, ())),
                        None => fail("unknown PREVIEW modifier"),
                    })
                    .ok()
                });
            return Ok(match lazy {
                Some((rest, _)) => (rest, FetchAttr::Preview { lazy: true }),
                None => (i, FetchAttr::Preview { lazy: false }),
            });
        }
        b"SAVEDATE" => FetchAttr::SaveDate,
        b"BODY" if peek(i) != Some(b'[') => FetchAttr::Body,
        b"BODY" | b"BODY.PEEK" => {
            let (i, section) = section(i)?;
            let (i, partial) = partial(i)?;
            let peek = name.len() > 4;
            return Ok((
                i,
                FetchAttr::BodySection {
                    peek,
                    section,
                    partial,
                },
            ));
        }
        b"BINARY" | b"BINARY.PEEK" => {
            let (i, part) = binary_section(i)?;
            let (i, partial) = partial(i)?;
            let peek = name.len() > 6;
            return Ok((
                i,
                FetchAttr::Binary {
                    peek,
                    part,
                    partial,
                },
            ));
        }
        b"BINARY.SIZE" => {
            let (i, part) = binary_section(i)?;
            return Ok((i, FetchAttr::BinarySize { part }));
        }
        _ => return fail(format!("unknown fetch attribute {}", shown(&name))),
    };
    Ok((i, a))
}

pub(super) fn fetch(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, set) = seq_set(i)?;
    let (i, ()) = sp(i)?;
    let (i, attrs) = if peek(i) == Some(b'(') {
        let (i, l) = paren_list(i, false, fetch_att)?;
        (i, FetchAttrs::List(l))
    } else if let Some(r) = keyword(i, "ALL").filter(|r| !starts_word(r)) {
        (r, FetchAttrs::All)
    } else if let Some(r) = keyword(i, "FAST").filter(|r| !starts_word(r)) {
        (r, FetchAttrs::Fast)
    } else if let Some(r) = keyword(i, "FULL").filter(|r| !starts_word(r)) {
        (r, FetchAttrs::Full)
    } else {
        let (i, a) = fetch_att(i)?;
        (i, FetchAttrs::List(vec![a]))
    };
    let mut changed_since = None;
    let mut vanished = false;
    let mut partial = None;
    let i = match i.strip_prefix(b" ") {
        Some(r) => {
            let (r, mods) = paren_list(r, false, |i| {
                if let Some(r) = keyword(i, "CHANGEDSINCE ") {
                    let (r, m) = mod_seq_value(r)?;
                    Ok((r, (Some(m), false, None)))
                } else if let Some(r) = keyword(i, "VANISHED") {
                    Ok((r, (None, true, None)))
                } else if let Some(r) = keyword(i, "PARTIAL ") {
                    let (r, p) = super::search::partial_range(r)?;
                    Ok((r, (None, false, Some(p))))
                } else {
                    fail("unknown FETCH modifier")
                }
            })?;
            for (m, v, p) in mods {
                if (m.is_some() && changed_since.is_some())
                    || (v && vanished)
                    || (p.is_some() && partial.is_some())
                {
                    return fail("duplicate FETCH modifier");
                }
                changed_since = changed_since.or(m);
                vanished |= v;
                partial = partial.or(p);
            }
            if vanished && !uid {
                return fail("VANISHED requires UID FETCH");
            }
            if vanished && changed_since.is_none() {
                return fail("VANISHED requires CHANGEDSINCE");
            }
            r
        }
        None => i,
    };
    Ok((
        i,
        CommandBody::Fetch(FetchCommand {
            uid,
            set,
            attrs,
            changed_since,
            vanished,
            partial,
        }),
    ))
}

pub(super) fn starts_word(i: &[u8]) -> bool {
    matches!(peek(i), Some(c) if c.is_ascii_alphanumeric() || c == b'.' || c == b'[')
}

// ------------------------------------------------------------------- STORE

pub(super) fn store(i: &[u8], uid: bool) -> R<'_, CommandBody> {
    let (i, ()) = sp(i)?;
    let (i, set) = seq_set(i)?;
    let (mut i, ()) = sp(i)?;
    let mut unchanged_since = None;
    if peek(i) == Some(b'(') {
        let (r, mods) = paren_list(i, false, |i| match keyword(i, "UNCHANGEDSINCE ") {
            Some(r) => mod_seq_valzer(r),
            None => fail("unknown STORE modifier"),
        })?;
        if mods.len() > 1 {
            return fail("duplicate STORE modifier");
        }
        unchanged_since = mods.first().copied();
        (i, ()) = sp(r)?;
    }
    let (i, mode) = match peek(i) {
        Some(b'+') => (i.get(1..).unwrap_or_default(), StoreMode::Add),
        Some(b'-') => (i.get(1..).unwrap_or_default(), StoreMode::Remove),
        _ => (i, StoreMode::Replace),
    };
    let Some(i) = keyword(i, "FLAGS") else {
        return fail("expected FLAGS, +FLAGS or -FLAGS");
    };
    let (i, silent) = match keyword(i, ".SILENT") {
        Some(r) => (r, true),
        None => (i, false),
    };
    let (i, ()) = sp(i)?;
    let (i, flags) = if peek(i) == Some(b'(') {
        flag_list(i)?
    } else {
        let (mut i, f) = flag(i)?;
        let mut flags = vec![f];
        while let Some(r) = i.strip_prefix(b" ") {
            let (r, f) = flag(r)?;
            flags.push(f);
            i = r;
        }
        (i, flags)
    };
    Ok((
        i,
        CommandBody::Store(StoreCommand {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        }),
    ))
}
