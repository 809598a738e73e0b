//! mbox (mutt, Thunderbird, /var/mail): splitting a file into messages
//! without reading it whole, and writing one. A message starts at a
//! `From ` line that opens the file or follows an empty line and ends in an
//! asctime date (so an unquoted `From ` inside a body, the commonest
//! damage, does not split a message). `>From ` quoting is undone the
//! mboxrd way (one `>` removed). Flags come from `Status:`/`X-Status:`/
//! `X-Keywords:` (mutt, Dovecot), which are removed from the message as
//! Dovecot does, and from `X-Mozilla-Status:`/`X-Mozilla-Keys:`
//! (Thunderbird), which are kept. The arrival date is the `From ` line's.

use std::io::{BufRead, Write};

use crate::store::types::{Flag, InternalDate};

/// One raw message as the file holds it.
#[derive(Debug)]
pub(crate) struct RawMessage {
    /// 1-based line of its `From ` line.
    pub line: u64,
    /// The date of the `From ` line, if it parsed.
    pub internal: Option<InternalDate>,
    /// Its bytes after the `From ` line (still quoted, LF or CRLF); cut
    /// after the reader's limit (then `size` is larger).
    pub bytes: Vec<u8>,
    /// How many bytes it has in the file, all kept or not.
    pub size: u64,
}

/// Splits an mbox into messages, one at a time.
pub(crate) struct Reader<R> {
    input: R,
    line_no: u64,
    /// The `From ` line that opens the next message, already read.
    pending: Option<(u64, Option<InternalDate>)>,
    started: bool,
    done: bool,
    /// Bytes of one message kept in memory; past them only counted.
    limit: usize,
}

/// Bytes read at once when a line is longer (a file without newlines
/// is read in pieces, never whole).
const LINE_PIECE: u64 = 64 * 1024;

impl<R: BufRead> Reader<R> {
    /// Reads from `input`, keeping all of every message.
    #[cfg(test)]
    pub(crate) fn new(input: R) -> Reader<R> {
        Reader::with_limit(input, usize::MAX)
    }

    /// Reads from `input`, keeping at most `limit + 1` bytes of each
    /// message (the file may be anyone's: one huge message must not cost
    /// its size in memory); a longer one is returned cut, with its size.
    pub(crate) fn with_limit(input: R, limit: usize) -> Reader<R> {
        Reader {
            input,
            line_no: 0,
            pending: None,
            started: false,
            done: false,
            limit,
        }
    }
}

/// The date of a `From ` separator line, if `line` is one.
pub(crate) fn separator_date(line: &[u8]) -> Option<Option<InternalDate>> {
    let rest = line.strip_prefix(b"From ")?;
    let text = String::from_utf8_lossy(rest);
    let words: Vec<&str> = text.split_whitespace().collect();
    // "From SENDER Www Mmm dd hh:mm:ss yyyy [...]": look for the weekday.
    for start in 1..words.len() {
        if let Some(chunk) = words.get(start..start + 5) {
            let joined = chunk.join(" ");
            if let Ok(d) = chrono::NaiveDateTime::parse_from_str(&joined, "%a %b %d %H:%M:%S %Y") {
                return Some(Some(InternalDate {
                    unix_secs: d.and_utc().timestamp(),
                    offset_minutes: 0,
                }));
            }
        }
    }
    None
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = std::io::Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut body: Vec<u8> = Vec::new();
        let mut size = 0u64;
        let mut line = Vec::new();
        let mut prev_empty = true;
        let mut mid_line = false;
        loop {
            line.clear();
            let n = match std::io::Read::take(&mut self.input, LINE_PIECE)
                .read_until(b'\n', &mut line)
            {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if n == 0 {
                self.done = true;
                let (line_no, internal) = self.pending.take()?;
                trim_separator_blank(&mut body);
                return Some(Ok(RawMessage {
                    line: line_no,
                    internal,
                    bytes: body,
                    size,
                }));
            }
            let continued = mid_line;
            mid_line = !line.ends_with(b"\n");
            if !continued {
                self.line_no += 1;
            }
            if !continued && (prev_empty || !self.started) {
                if let Some(date) = separator_date(&line) {
                    self.started = true;
                    if let Some((line_no, internal)) = self.pending.replace((self.line_no, date)) {
                        trim_separator_blank(&mut body);
                        return Some(Ok(RawMessage {
                            line: line_no,
                            internal,
                            bytes: body,
                            size,
                        }));
                    }
                    continue;
                }
            }
            // The line end of a line longer than a piece arrives as a piece
            // of its own: that is no empty line.
            prev_empty = !continued && (line == b"\n" || line == b"\r\n");
            if self.pending.is_some() {
                size += n as u64;
                let room = self.limit.saturating_add(1).saturating_sub(body.len());
                body.extend_from_slice(line.get(..room.min(line.len())).unwrap_or(&line));
            }
        }
    }
}

/// The empty line before a separator belongs to the separator.
fn trim_separator_blank(body: &mut Vec<u8>) {
    if body.ends_with(b"\r\n\r\n") {
        body.truncate(body.len() - 2);
    } else if body.ends_with(b"\n\n") {
        body.truncate(body.len() - 1);
    }
}

/// Header fields that carry mbox metadata and are removed on import.
const META_FIELDS: &[&str] = &[
    "status",
    "x-status",
    "x-keywords",
    "x-uid",
    "x-imap",
    "x-imapbase",
    "content-length",
];

/// Undoes mboxrd quoting, takes the flags from the metadata fields and
/// removes `META_FIELDS`. Returns the message (line ends as given) and
/// its flags.
pub(crate) fn unpack(raw: &[u8]) -> (Vec<u8>, Vec<Flag>) {
    let mut out = Vec::with_capacity(raw.len());
    let mut flags: Vec<Flag> = Vec::new();
    let add = |f: Option<Flag>, flags: &mut Vec<Flag>| {
        if let Some(f) = f {
            if !flags.iter().any(|g| g.same_as(&f)) {
                flags.push(f);
            }
        }
    };
    let mut in_header = true;
    let mut dropping = false;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if in_header {
            if line == b"\n" || line == b"\r\n" {
                in_header = false;
                out.extend_from_slice(line);
                continue;
            }
            let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
            if continuation {
                if !dropping {
                    out.extend_from_slice(line);
                }
                continue;
            }
            let text = String::from_utf8_lossy(line);
            let (name, value) = text.split_once(':').unwrap_or((&text, ""));
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            match name.as_str() {
                "status" if value.contains('R') => add(Some(Flag::Seen), &mut flags),
                "x-status" => {
                    for c in value.chars() {
                        add(
                            match c {
                                'A' => Some(Flag::Answered),
                                'F' => Some(Flag::Flagged),
                                'T' => Some(Flag::Draft),
                                'D' => Some(Flag::Deleted),
                                _ => None,
                            },
                            &mut flags,
                        );
                    }
                }
                "x-keywords" | "x-mozilla-keys" => {
                    for k in value.split([' ', ',']).filter(|k| !k.is_empty()) {
                        add(Flag::keyword(k), &mut flags);
                    }
                }
                "x-mozilla-status" => {
                    let bits = u32::from_str_radix(value, 16).unwrap_or(0);
                    for (bit, f) in [
                        (0x1, Flag::Seen),
                        (0x2, Flag::Answered),
                        (0x4, Flag::Flagged),
                        (0x8, Flag::Deleted),
                    ] {
                        if bits & bit != 0 {
                            add(Some(f), &mut flags);
                        }
                    }
                    if bits & 0x1000 != 0 {
                        add(Flag::keyword("$Forwarded"), &mut flags);
                    }
                }
                _ => {}
            }
            dropping = META_FIELDS.contains(&name.as_str());
            if !dropping {
                out.extend_from_slice(line);
            }
        } else {
            let unquoted = line.starts_with(b">")
                && line
                    .iter()
                    .skip_while(|&&b| b == b'>')
                    .take(5)
                    .eq(b"From ".iter());
            out.extend_from_slice(if unquoted { &line[1..] } else { line });
        }
    }
    (out, flags)
}

/// Writes one message (LF line ends, mboxrd quoting) with its flags in
/// `Status:`, `X-Status:` and `X-Keywords:` and its date on the `From `
/// line.
pub(crate) fn write_message(
    out: &mut impl Write,
    content_lf: &[u8],
    flags: &[Flag],
    internal: InternalDate,
) -> std::io::Result<()> {
    let date = chrono::DateTime::from_timestamp(internal.unix_secs, 0)
        .unwrap_or_default()
        .format("%a %b %e %H:%M:%S %Y");
    writeln!(out, "From crymap-like@localhost {date}")?;
    let seen = flags.contains(&Flag::Seen);
    let mut xs = String::new();
    for (f, c) in [
        (Flag::Answered, 'A'),
        (Flag::Flagged, 'F'),
        (Flag::Draft, 'T'),
        (Flag::Deleted, 'D'),
    ] {
        if flags.contains(&f) {
            xs.push(c);
        }
    }
    let kws: Vec<&str> = flags
        .iter()
        .filter_map(|f| match f {
            Flag::Keyword(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let mut in_header = true;
    let mut wrote_meta = false;
    let meta = |out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(out, "Status: {}", if seen { "RO" } else { "O" })?;
        if !xs.is_empty() {
            writeln!(out, "X-Status: {xs}")?;
        }
        if !kws.is_empty() {
            writeln!(out, "X-Keywords: {}", kws.join(" "))?;
        }
        Ok(())
    };
    for line in content_lf.split_inclusive(|&b| b == b'\n') {
        if in_header && line == b"\n" {
            meta(out)?;
            wrote_meta = true;
            in_header = false;
        }
        if !in_header
            && line
                .iter()
                .skip_while(|&&b| b == b'>')
                .take(5)
                .eq(b"From ".iter())
        {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    if !content_lf.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    if !wrote_meta {
        // A message without a body separator: the fields go after it.
        meta(out)?;
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8]) -> Vec<RawMessage> {
        Reader::new(data).collect::<Result<_, _>>().unwrap()
    }

    /// A message past the limit is returned cut with its true size, the
    /// next one whole; a file without newlines is read in pieces.
    #[test]
    fn messages_past_the_limit_are_cut_and_sized() {
        let mut data = b"From a@b Fri Nov 27 12:00:00 2026\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 200_000));
        data.extend_from_slice(b"\n\nFrom b@c Sat Nov 28 13:00:00 2026\nSubject: 2\n\nok\n");
        let m: Vec<RawMessage> = Reader::with_limit(&data[..], 1000)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].bytes.len(), 1001);
        assert_eq!(m[0].size, 200_002);
        assert_eq!(m[1].line, 4);
        assert_eq!(m[1].bytes, b"Subject: 2\n\nok\n");
        assert_eq!(m[1].size, m[1].bytes.len() as u64);
    }

    /// A line exactly one piece long ends with its line end read as a
    /// piece of its own: that is not an empty line, so an unquoted
    /// `From ` line after it stays in the message (it once split it).
    #[test]
    fn a_line_end_read_alone_is_no_empty_line() {
        for end in [&b"\n"[..], b"\r\n"] {
            let mut data = b"From a@b Fri Nov 27 12:00:00 2026\n".to_vec();
            data.extend(std::iter::repeat_n(b'x', LINE_PIECE as usize));
            data.extend_from_slice(end);
            data.extend_from_slice(b"From b@c Sat Nov 28 13:00:00 2026\nSubject: 2\n\nok\n");
            let m = split(&data);
            assert_eq!(m.len(), 1, "split after a {LINE_PIECE}-byte line");
        }
    }

    #[test]
    fn splits_on_dated_separators_only() {
        let data = b"From a@b Fri Nov 27 12:00:00 2026\nSubject: 1\n\nbody\nFrom here on\n\n\
From b@c Sat Nov 28 13:00:00 2026\nSubject: 2\n\n>From quoted\n>>From twice\nlast";
        let m = split(data);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].bytes, b"Subject: 1\n\nbody\nFrom here on\n");
        assert_eq!(m[0].line, 1);
        assert_eq!(m[1].line, 7);
        assert_eq!(m[1].internal.unwrap().unix_secs, 1_795_870_800);
        let (content, _) = unpack(&m[1].bytes);
        assert_eq!(content, b"Subject: 2\n\nFrom quoted\n>From twice\nlast");
    }

    #[test]
    fn flags_from_mutt_and_thunderbird_headers() {
        let (c, f) = unpack(b"Status: RO\nX-Status: AF\nX-Keywords: work\nSubject: x\n\nb\n");
        assert_eq!(c, b"Subject: x\n\nb\n");
        assert_eq!(
            f,
            vec![
                Flag::Seen,
                Flag::Answered,
                Flag::Flagged,
                Flag::keyword("work").unwrap()
            ]
        );
        let (c, f) = unpack(b"X-Mozilla-Status: 0005\nSubject: y\n\nb\n");
        assert_eq!(c, b"X-Mozilla-Status: 0005\nSubject: y\n\nb\n");
        assert_eq!(f, vec![Flag::Seen, Flag::Flagged]);
    }

    #[test]
    fn write_then_read_is_identity() {
        let flags = vec![Flag::Seen, Flag::Draft, Flag::keyword("$Junk").unwrap()];
        let date = InternalDate {
            unix_secs: 1_795_870_800,
            offset_minutes: 0,
        };
        let msg = b"Subject: z\n\nFrom start\n>From quoted\nend\n";
        let mut out = Vec::new();
        write_message(&mut out, msg, &flags, date).unwrap();
        write_message(&mut out, b"Subject: 2\n\nx", &[], date).unwrap();
        let m = split(&out);
        assert_eq!(m.len(), 2);
        let (c, f) = unpack(&m[0].bytes);
        assert_eq!(c, msg);
        assert_eq!(m[0].internal, Some(date));
        assert_eq!(f.len(), 3);
        assert_eq!(unpack(&m[1].bytes).0, b"Subject: 2\n\nx\n");
    }
}
