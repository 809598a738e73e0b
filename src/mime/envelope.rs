//! The IMAP ENVELOPE of a message (RFC 3501 section 7.4.2) built from its
//! header block, and the RFC 5322 date parser (with obsolete forms) that
//! SORT and SEARCH SENTBEFORE/SENTON/SENTSINCE need. Values are kept raw
//! (unfolded, encoded words untouched) as Dovecot reports them.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use super::address::{self, Address};
use super::header;

/// The ten ENVELOPE fields. `None` means the header was absent (NIL);
/// an empty list is rendered as NIL too.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Envelope {
    /// Date, raw.
    pub date: Option<Vec<u8>>,
    /// Subject, raw (encoded words are the client's business).
    pub subject: Option<Vec<u8>>,
    /// From.
    pub from: Vec<Address>,
    /// Sender; defaults to From when absent (RFC 3501 requires it).
    pub sender: Vec<Address>,
    /// Reply-To; defaults to From when absent.
    pub reply_to: Vec<Address>,
    /// To.
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc.
    pub bcc: Vec<Address>,
    /// In-Reply-To, raw.
    pub in_reply_to: Option<Vec<u8>>,
    /// Message-ID, raw.
    pub message_id: Option<Vec<u8>>,
}

/// Builds the envelope from a header block. A repeated field overrides
/// earlier ones, as in Dovecot.
pub(crate) fn build(block: &[u8]) -> Envelope {
    let mut env = Envelope::default();
    for f in header::fields(block) {
        let name = f.name;
        let eq = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if eq(b"Date") {
            env.date = Some(f.unfolded());
        } else if eq(b"Subject") {
            env.subject = Some(f.unfolded());
        } else if eq(b"From") {
            env.from = address::parse_list(&f.unfolded());
        } else if eq(b"Sender") {
            env.sender = address::parse_list(&f.unfolded());
        } else if eq(b"Reply-To") {
            env.reply_to = address::parse_list(&f.unfolded());
        } else if eq(b"To") {
            env.to = address::parse_list(&f.unfolded());
        } else if eq(b"Cc") {
            env.cc = address::parse_list(&f.unfolded());
        } else if eq(b"Bcc") {
            env.bcc = address::parse_list(&f.unfolded());
        } else if eq(b"In-Reply-To") {
            env.in_reply_to = Some(f.unfolded());
        } else if eq(b"Message-ID") {
            env.message_id = Some(f.unfolded());
        }
    }
    if env.sender.is_empty() {
        env.sender = env.from.clone();
    }
    if env.reply_to.is_empty() {
        env.reply_to = env.from.clone();
    }
    env
}

/// A parsed Date header: the instant and the writer's UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDate {
    /// Seconds since the Unix epoch (UTC).
    pub unix_seconds: i64,
    /// The offset east of UTC written in the header, in seconds.
    pub offset_seconds: i32,
}

impl MessageDate {
    /// As a chrono value in the writer's offset.
    pub fn to_datetime(self) -> Option<DateTime<FixedOffset>> {
        let off = FixedOffset::east_opt(self.offset_seconds)?;
        off.timestamp_opt(self.unix_seconds, 0).single()
    }
}

fn month_number(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = s.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

fn zone_offset(z: &str) -> Option<i32> {
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, z.get(1..)?),
        b'-' => (-1, z.get(1..)?),
        _ => {
            return Some(match z.to_ascii_uppercase().as_str() {
                "EDT" => -4 * 3600,
                "EST" | "CDT" => -5 * 3600,
                "CST" | "MDT" => -6 * 3600,
                "MST" | "PDT" => -7 * 3600,
                "PST" => -8 * 3600,
                // UT, GMT, military zones (RFC 5322 says treat as -0000).
                _ => 0,
            });
        }
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..)?.parse().ok()?;
    if m >= 60 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Parses an RFC 5322 date-time, accepting obsolete forms (no weekday,
/// two- and three-digit years, named zones, missing seconds, comments).
pub(crate) fn parse_date(value: &[u8]) -> Option<MessageDate> {
    let text = String::from_utf8_lossy(value);
    let mut cleaned = String::with_capacity(text.len());
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => cleaned.push(' '),
            _ if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    let mut toks: Vec<&str> = cleaned.split_whitespace().collect();
    if toks
        .first()
        .is_some_and(|t| t.chars().all(|c| c.is_ascii_alphabetic()))
    {
        toks.remove(0);
    }
    let mut it = toks.into_iter();
    let day: u32 = it.next()?.parse().ok()?;
    let month = month_number(it.next()?)?;
    let year_tok = it.next()?;
    let mut year: i32 = year_tok.parse().ok()?;
    if year_tok.len() <= 2 {
        year += if year < 50 { 2000 } else { 1900 };
    } else if year_tok.len() == 3 {
        year += 1900;
    }
    let time = it.next()?;
    let mut hms = time.split(':');
    let h: u32 = hms.next()?.parse().ok()?;
    let m: u32 = hms.next()?.parse().ok()?;
    let s: u32 = match hms.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    let offset = match it.next() {
        Some(z) => zone_offset(z)?,
        None => 0,
    };
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(h, m, s.min(59))?;
    let unix_seconds = naive.and_utc().timestamp() - i64::from(offset);
    Some(MessageDate {
        unix_seconds,
        offset_seconds: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_defaults_and_overrides() {
        let env = build(
            b"From: A <a@x>\r\nSubject: one\r\nSubject: two\r\nTo: b@y\r\nMessage-ID: <m@x>\r\n\r\n",
        );
        assert_eq!(env.subject.as_deref(), Some(&b"two"[..]));
        assert_eq!(env.sender, env.from);
        assert_eq!(env.reply_to, env.from);
        assert_eq!(env.date, None);
        assert_eq!(env.message_id.as_deref(), Some(&b"<m@x>"[..]));
        assert_eq!(env.to.len(), 1);
    }

    #[test]
    fn dates() {
        let d = parse_date(b"Tue, 1 Jul 2003 10:52:37 +0200").unwrap();
        assert_eq!(d.unix_seconds, 1_057_049_557);
        assert_eq!(d.offset_seconds, 7200);
        let d = parse_date(b" 1 Jul 03 10:52 (CEST) EDT").unwrap();
        assert_eq!(d.offset_seconds, -4 * 3600);
        assert_eq!(d.unix_seconds, 1_057_049_520 + 7200 + 4 * 3600);
        let d = parse_date(b"Thu, 13 Feb 1969 23:32:54 -0330 (Newfoundland Time)").unwrap();
        assert_eq!(d.offset_seconds, -(3 * 3600 + 30 * 60));
        assert!(parse_date(b"yesterday").is_none());
        assert!(parse_date(b"32 Jan 2020 00:00:00 +0000").is_none());
        assert!(parse_date(b"1 Jan 2020 00:00:00 +99").is_none());
    }
}
