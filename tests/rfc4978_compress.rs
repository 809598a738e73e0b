//! COMPRESS=DEFLATE (RFC 4978) over the real binary: advertised after
//! login until active, the whole session then compressed both ways, and
//! hostile compressed input (truncated, garbage, a decompression bomb)
//! bounded by the ordinary line limit and ending only that session.

mod common;

use std::io::{self, Read, Write};

use common::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

const USER: &str = "alice";
const PW: &str = "pw for alice";

/// A client-side raw-DEFLATE transport, as RFC 4978 §4 describes it: every
/// write is sync-flushed so the server can act on it.
struct Deflating {
    inner: Box<dyn Transport>,
    comp: Compress,
    decomp: Decompress,
    raw: Vec<u8>,
    pos: usize,
    /// The inflater may hold output without needing more input.
    more_out: bool,
}

impl Deflating {
    fn new(inner: Box<dyn Transport>) -> Deflating {
        Deflating {
            inner,
            comp: Compress::new(Compression::default(), false),
            decomp: Decompress::new(false),
            raw: Vec::new(),
            pos: 0,
            more_out: false,
        }
    }

    /// Compresses `data` with a sync flush, without sending it.
    fn deflate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 1024);
        let mut input = data;
        loop {
            out.reserve(64 * 1024);
            let before = self.comp.total_in();
            self.comp
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("deflate");
            let used = (self.comp.total_in() - before) as usize;
            input = &input[used..];
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}

impl Write for Deflating {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let z = self.deflate(buf);
        self.inner.write_all(&z)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Read for Deflating {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos >= self.raw.len() && !self.more_out {
                self.raw.resize(16 * 1024, 0);
                let n = self.inner.read(&mut self.raw)?;
                self.raw.truncate(n);
                self.pos = 0;
                if n == 0 {
                    return Ok(0);
                }
            }
            let (i0, o0) = (self.decomp.total_in(), self.decomp.total_out());
            self.decomp
                .decompress(&self.raw[self.pos..], buf, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.pos += (self.decomp.total_in() - i0) as usize;
            let made = (self.decomp.total_out() - o0) as usize;
            self.more_out = made == buf.len();
            if made > 0 {
                return Ok(made);
            }
        }
    }
}

fn root(label: &str) -> Root {
    root_with_numbered(label, USER, PW, 3)
}

/// Logs in, checks the capability and turns COMPRESS on; returns the
/// (TLS) transport, over which the server now expects DEFLATE.
fn compressed_raw(root: &Root) -> (Box<dyn Transport>, Guard) {
    let Session { mut c, server } = Session::login(root, USER, PW);
    let caps = c.ok("CAPABILITY");
    assert!(has(&caps, "COMPRESS=DEFLATE"), "{caps:#?}");
    let st = c.status("COMPRESS DEFLATE");
    assert!(st.contains(" OK "), "{st}");
    (c.into_inner(), server)
}

/// As [`compressed_raw`], with a client that speaks DEFLATE.
fn compressed(root: &Root) -> (Client, Guard) {
    let (t, server) = compressed_raw(root);
    (Client::new(Box::new(Deflating::new(t))), server)
}

#[test]
fn rfc4978_3_a_whole_session_runs_compressed() {
    let root = root("rfc4978-session");
    let (mut c, _server) = compressed(&root);
    // No longer offered once active; a second COMPRESS is refused.
    let caps = c.ok("CAPABILITY");
    assert!(!has(&caps, "COMPRESS=DEFLATE"), "{caps:#?}");
    let st = c.status("COMPRESS DEFLATE");
    assert!(st.contains("NO [COMPRESSIONACTIVE]"), "{st}");
    let r = c.ok("SELECT INBOX");
    assert!(has(&r, "* 3 EXISTS"), "{r:#?}");
    let body = format!("Subject: z\r\n\r\n{}\r\n", "compressible ".repeat(20_000));
    let mut cmd = format!("APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    cmd.extend_from_slice(body.as_bytes());
    let r = texts(&c.try_run_bytes(&cmd).expect("server alive"));
    assert!(r.iter().any(|l| l.contains("OK [APPENDUID")), "{r:#?}");
    c.ok("NOOP");
    let got = c.bytes("FETCH 4 BODY[]");
    assert!(
        got.windows(body.len()).any(|w| w == body.as_bytes()),
        "the message comes back whole"
    );
    let r = c.ok("LOGOUT");
    assert!(has(&r, "* BYE"), "{r:#?}");
}

#[test]
fn rfc4978_3_unknown_algorithm_is_bad_and_login_comes_first() {
    let root = root("rfc4978-bad");
    let (child, sock) = root.spawn_serve("imaps");
    let _server = Guard(child);
    let (mut c, _) = Client::imaps(sock);
    let st = c.status("COMPRESS DEFLATE");
    assert!(st.contains(" BAD "), "before login: {st}");
    c.login(USER, PW);
    let st = c.status("COMPRESS X-UNKNOWN");
    assert!(st.contains(" BAD "), "{st}");
    let r = c.ok("NOOP");
    assert!(
        r.iter().any(|l| l.contains("OK")),
        "still uncompressed: {r:#?}"
    );
}

/// A fresh session after hostile input still works: only that session's
/// process ended.
fn still_serving(root: &Root) {
    let mut s = Session::login(root, USER, PW);
    let r = s.ok("SELECT INBOX");
    assert!(has(&r, "* 3 EXISTS"), "{r:#?}");
}

/// Reads the server's inflated answer until `until` appears or it closes.
fn answer_until(t: &mut Deflating, until: &[u8]) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = t.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(until.len()).any(|w| w == until) || answer.len() > 1 << 20 {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn rfc4978_4_a_decompression_bomb_hits_the_line_limit() {
    let root = root("rfc4978-bomb");
    let (t, _server) = compressed_raw(&root);
    let mut t = Deflating::new(t);
    // 600 KB of one byte inflate from well under 64 KB: ten times the
    // 64 KB line limit. As with uncompressed input the server refuses the
    // line without buffering it (it pulls inflated bytes one buffer at a
    // time), answers BAD at its end, and the session goes on.
    let mut line = b"a1 NOOP ".to_vec();
    line.resize(600 * 1024, b'a');
    line.extend_from_slice(b"\r\na2 NOOP\r\n");
    let z = t.deflate(&line);
    assert!(z.len() < 64 * 1024, "{}", z.len());
    t.inner.write_all(&z).expect("server reads on");
    let text = answer_until(&mut t, b"a2 OK");
    assert!(
        text.contains("a1 BAD"),
        "the overlong line is refused: {text}"
    );
    assert!(text.contains("a2 OK"), "and the session goes on: {text}");
    // 16 MB inflating from ~16 KB: past the limit on skipping too, so the
    // session ends (BYE, or a reset while the rest is unread); the server
    // never holds the inflated bytes, and other sessions are unaffected.
    let mut bomb = b"a3 NOOP ".to_vec();
    bomb.resize(16 * 1024 * 1024, b'a');
    let z = t.deflate(&bomb);
    assert!(z.len() < 64 * 1024, "{}", z.len());
    let _ = t.inner.write_all(&z);
    let text = answer_until(&mut t, b"* BYE");
    assert!(!text.contains("a3 OK"), "{text}");
    // The session ended: a BYE, or the connection closed (end of file or a
    // reset), never a read that merely timed out.
    if !text.contains("* BYE") {
        let mut one = [0u8; 1];
        match t.inner.read(&mut one) {
            Ok(0) => {}
            Err(e)
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            other => panic!("the bomb did not end the session: {other:?} {text}"),
        }
    }
    drop(t);
    still_serving(&root);
}

#[test]
fn rfc4978_4_garbage_and_truncated_streams_end_only_that_session() {
    let root = root("rfc4978-garbage");
    // Garbage: not a DEFLATE stream at all.
    let (mut t, _server) = compressed_raw(&root);
    let _ = t.write_all(&[0xff; 64]);
    let _ = t.flush();
    let mut buf = [0u8; 256];
    // Closed (end of file or a reset), never left hanging: a read that
    // times out is a failure, not a close.
    match t.read(&mut buf) {
        Ok(0) => {}
        Err(e)
            if !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the server did not close the connection: {other:?}"),
    }
    drop(t);
    // Truncated: half a compressed command, then the client goes away.
    let (t, mut server2) = compressed_raw(&root);
    let mut t = Deflating::new(t);
    let z = t.deflate(b"a1 SELECT INBOX\r\n");
    let _ = t.inner.write_all(&z[..z.len() / 2]);
    drop(t);
    assert!(
        common::wait_exit(&mut server2.0, std::time::Duration::from_secs(20)).is_some(),
        "the session with a truncated stream did not end"
    );
    still_serving(&root);
}

/// NOTIFY's responses between commands (RFC 5465) go through the
/// compressor and are flushed at once, like every other response batch:
/// the client reads them without sending anything.
#[test]
fn rfc4978_4_notifications_between_commands_arrive_compressed() {
    let root = root("rfc4978-notify");
    let (mut c, _server) = compressed(&root);
    c.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))");
    let mut other = Session::login(&root, USER, PW);
    other.ok("APPEND Archive {12+}\r\nSubject: x\r\n");
    assert_eq!(
        c.line(),
        "* STATUS \"Archive\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"
    );
    c.ok("NOTIFY NONE");
}

#[test]
fn rfc4978_4_a_fetch_streamed_in_chunks_inflates_whole_and_in_order() {
    // Five messages of 100 KB: the answer leaves in several chunks, each
    // sync-flushed, and the client must be able to inflate every one.
    let root = Root::new("rfc4978-stream");
    root.add_user(USER, PW);
    let bodies: Vec<Vec<u8>> = (1..=5u32)
        .map(|n| {
            let mut m = format!("Subject: part {n}\r\n\r\n").into_bytes();
            let mut i = 0u32;
            while m.len() < 100_000 {
                m.extend_from_slice(format!("{n}:{i} streamed line\r\n").as_bytes());
                i += 1;
            }
            m
        })
        .collect();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    seed(&root, USER, PW, "INBOX", &refs);
    let (mut c, _server) = compressed(&root);
    c.ok("EXAMINE INBOX");
    let r = c.ok_run("FETCH 1:* (UID BODY.PEEK[])");
    let fetches: Vec<&Response> = r.iter().filter(|r| r.is_untagged()).collect();
    assert_eq!(fetches.len(), bodies.len());
    for (i, (f, body)) in fetches.iter().zip(&bodies).enumerate() {
        assert!(
            f.text.starts_with(&format!("* {} FETCH (UID", i + 1)),
            "{:.60}",
            f.text
        );
        assert_eq!(f.literals, vec![body.clone()], "message {}", i + 1);
    }
    // The stream is still in step afterwards.
    c.ok("NOOP");
}
