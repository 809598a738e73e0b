//! RFC 5322 header block splitting and field iteration: folding, obsolete
//! syntax (white space before the colon), bare-LF line ends and 8-bit bytes
//! (kept raw; decoding is the caller's choice). Never allocates while
//! iterating and never fails: lines that are not fields are skipped.

/// Fields longer than this (folded, in bytes) are not parsed: they stay in
/// the header bytes returned by FETCH but contribute nothing to the summary.
pub(crate) const MAX_FIELD_LEN: usize = 64 * 1024;

/// One header field as it appears in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field name, without trailing white space (obs-syntax allows it).
    pub name: &'a [u8],
    /// Everything after the colon, still folded, without the final line end.
    pub value: &'a [u8],
    /// The whole field including its final line end, as in the message.
    pub raw: &'a [u8],
}

impl Field<'_> {
    /// The value unfolded and trimmed; see [`unfold`].
    pub(crate) fn unfolded(&self) -> Vec<u8> {
        unfold(self.value)
    }

    /// Case-insensitive name comparison.
    pub(crate) fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// Length of the header block at the start of `data`, including the empty
/// line that ends it; equivalently the offset where the body starts. A
/// message without an empty line is all header and has an empty body.
pub(crate) fn header_len(data: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        let rest = data.get(pos..).unwrap_or_default();
        if rest.starts_with(b"\r\n") {
            return pos + 2;
        }
        if rest.starts_with(b"\n") {
            return pos + 1;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => pos += nl + 1,
            None => return data.len(),
        }
    }
}

/// Iterator over the fields of a header block (as returned by
/// [`header_len`], or any prefix of a message: iteration stops at the
/// empty line).
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Iterates over the fields of `block`.
pub(crate) fn fields(block: &[u8]) -> Fields<'_> {
    Fields {
        data: block,
        pos: 0,
    }
}

impl<'a> Fields<'a> {
    /// Returns the next logical line (a line plus its continuation lines),
    /// or None at the end of the block or at the empty line.
    fn next_logical_line(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let rest = self.data.get(start..)?;
        if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        let mut end = start;
        loop {
            let line = self.data.get(end..).unwrap_or_default();
            match line.iter().position(|&b| b == b'\n') {
                Some(nl) => end += nl + 1,
                None => {
                    end = self.data.len();
                    break;
                }
            }
            match self.data.get(end) {
                Some(b' ' | b'\t') => continue,
                _ => break,
            }
        }
        self.pos = end;
        self.data.get(start..end)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        loop {
            let raw = self.next_logical_line()?;
            if raw.len() > MAX_FIELD_LEN {
                continue;
            }
            if let Some(field) = parse_field(raw) {
                return Some(field);
            }
        }
    }
}

/// The logical lines (a line plus its continuation lines) of `block` up
/// to the empty line, fields or not: what a full-text search reads.
pub(crate) fn logical_lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut f = fields(block);
    std::iter::from_fn(move || f.next_logical_line())
}

/// A logical line as a field, or `None` when it is not a valid one (no
/// colon, a bad name, too long).
pub(crate) fn parse_line(raw: &[u8]) -> Option<Field<'_>> {
    if raw.len() > MAX_FIELD_LEN {
        return None;
    }
    parse_field(raw)
}

fn parse_field(raw: &[u8]) -> Option<Field<'_>> {
    let colon = raw.iter().position(|&b| b == b':')?;
    let name = raw.get(..colon)?.trim_ascii_end();
    // ftext is printable US-ASCII except colon; a line starting with white
    // space is a continuation without a field to continue.
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    let mut value = raw.get(colon + 1..)?;
    if let Some(v) = value.strip_suffix(b"\n") {
        value = v;
        if let Some(v) = value.strip_suffix(b"\r") {
            value = v;
        }
    }
    Some(Field { name, value, raw })
}

/// Unfolds a field value: line ends are removed (the white space that
/// follows them is kept, as RFC 5322 unfolding says), then leading and
/// trailing white space is trimmed.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let end = out
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(0, |p| p + 1);
    out.truncate(end);
    let start = out
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(out.len());
    out.drain(..start);
    out
}

/// The last field named `name` (case-insensitive), unfolded. Envelope
/// fields follow Dovecot, where a repeated field overrides earlier ones.
pub(crate) fn last_value(block: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    fields(block)
        .filter(|f| f.is(name))
        .last()
        .map(|f| f.unfolded())
}

#[cfg(test)]
/// The first field named `name`, unfolded. Content-* fields follow Dovecot,
/// where the first occurrence wins.
pub(crate) fn first_value(block: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    fields(block).find(|f| f.is(name)).map(|f| f.unfolded())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_crlf_lf_and_headerless() {
        assert_eq!(header_len(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(header_len(b"A: b\n\nbody"), 6);
        assert_eq!(header_len(b"A: b\r\n"), 6);
        assert_eq!(header_len(b"\r\nbody"), 2);
        assert_eq!(header_len(b""), 0);
    }

    #[test]
    fn folding_obs_and_8bit() {
        let block =
            b"Subject : hello\r\n  world\r\nX-8: caf\xe9\r\n\tcont\r\nnot a field\r\nTo: a@b\n\r\n";
        let f: Vec<_> = fields(block).collect();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].name, b"Subject");
        assert_eq!(f[0].value, b" hello\r\n  world");
        assert_eq!(f[0].unfolded(), b"hello  world");
        assert_eq!(f[0].raw, b"Subject : hello\r\n  world\r\n");
        assert_eq!(f[1].unfolded(), b"caf\xe9\tcont");
        assert_eq!(f[2].name, b"To");
        assert_eq!(f[2].raw, b"To: a@b\n");
    }

    #[test]
    fn overlong_field_skipped() {
        let mut block = b"X-Long: ".to_vec();
        block.extend(std::iter::repeat(b'a').take(MAX_FIELD_LEN + 1));
        block.extend_from_slice(b"\r\nSubject: s\r\n\r\n");
        let names: Vec<_> = fields(&block).map(|f| f.name.to_vec()).collect();
        assert_eq!(names, vec![b"Subject".to_vec()]);
    }

    #[test]
    fn first_and_last() {
        let block = b"A: 1\r\nB: x\r\na: 2\r\n\r\n";
        assert_eq!(first_value(block, b"a").as_deref(), Some(&b"1"[..]));
        assert_eq!(last_value(block, b"A").as_deref(), Some(&b"2"[..]));
        assert_eq!(last_value(block, b"C"), None);
    }
}
