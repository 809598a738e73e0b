//! The chunked AEAD stream that holds message content.
//!
//! Construction (the STREAM scheme of Hoang, Reyhanitabar, Rogaway and
//! Vizár): the plaintext is cut into chunks of [`CHUNK_SIZE`] bytes; chunk
//! `i` is sealed with ChaCha20-Poly1305 under the per-message content key
//! with the 12-byte nonce `counter(11 bytes, big-endian) || last_flag(1)`,
//! where `last_flag` is 1 only for the final chunk. Every chunk but the
//! last holds exactly `CHUNK_SIZE` bytes; the last holds 0..=`CHUNK_SIZE`
//! (so empty content is one empty final chunk). Sealed layout: the sealed
//! chunks back to back, each `plaintext || tag(16)`, no header (the caller
//! writes its own before the stream).
//!
//! Counter nonces are safe because every content key is random and used
//! for exactly one stream. The counter binds order, the flag binds the end:
//! reordering, truncation at any point, appended chunks or a flipped byte
//! all fail authentication.
//!
//! Owns only this framing; never chooses or stores keys.

use std::io::{self, Read, Seek, SeekFrom, Write};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use zeroize::Zeroizing;

use super::secret::SecretKey;
use super::CryptoError;

/// Plaintext bytes per chunk.
pub(crate) const CHUNK_SIZE: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const SEALED_CHUNK: u64 = (CHUNK_SIZE + TAG_LEN) as u64;
const PLAIN_CHUNK: u64 = CHUNK_SIZE as u64;

fn chunk_nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    // The counter field is 11 bytes; a u64 fills its low 8, the top 3 stay 0.
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// Size of the sealed stream for `plain_len` bytes of content.
pub(crate) const fn sealed_len(plain_len: u64) -> u64 {
    let chunks = plain_len.div_ceil(PLAIN_CHUNK);
    let chunks = if chunks == 0 { 1 } else { chunks };
    plain_len + chunks * TAG_LEN as u64
}

/// Encrypts content written to it into the chunked stream on `W`.
/// Call [`StreamWriter::finish`]: dropping it without finishing leaves a
/// stream that readers reject as truncated.
pub(crate) struct StreamWriter<W: Write> {
    cipher: ChaCha20Poly1305,
    inner: W,
    buf: Zeroizing<Vec<u8>>,
    counter: u64,
    failed: bool,
}

impl<W: Write> StreamWriter<W> {
    /// Starts a stream under `key`, which must never be used for another.
    pub(crate) fn new(key: &SecretKey, inner: W) -> Self {
        StreamWriter {
            cipher: ChaCha20Poly1305::new(key.as_bytes().into()),
            inner,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE + TAG_LEN)),
            counter: 0,
            failed: false,
        }
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("stream writer failed earlier"));
        }
        self.failed = true;
        let nonce = chunk_nonce(self.counter, last);
        self.cipher
            .encrypt_in_place(&nonce, b"", &mut *self.buf)
            .map_err(|_| io::Error::other("chunk encryption failed"))?;
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("stream chunk counter exhausted"))?;
        self.failed = false;
        Ok(())
    }

    /// Seals the final chunk and returns the inner writer (not flushed).
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for StreamWriter<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            // A full buffer is only sealed once more data proves it is not
            // the last chunk.
            if self.buf.len() == CHUNK_SIZE {
                self.emit(false)?;
            }
            let take = (CHUNK_SIZE - self.buf.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.buf.extend_from_slice(head);
            data = rest;
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts a chunked stream with random access. The stream starts at the
/// reader's position when [`StreamReader::new`] is called and runs to the
/// end of the underlying data.
pub(crate) struct StreamReader<R: Read + Seek> {
    cipher: ChaCha20Poly1305,
    inner: R,
    start: u64,
    sealed_len: u64,
    chunks: u64,
    plain_len: u64,
    pos: u64,
    cache: Option<(u64, Zeroizing<Vec<u8>>)>,
}

impl<R: Read + Seek> StreamReader<R> {
    /// Opens the stream and authenticates its final chunk, so the length
    /// reported by [`StreamReader::len`] is trustworthy from the start.
    pub(crate) fn new(key: &SecretKey, mut inner: R) -> Result<Self, CryptoError> {
        let io_err = |e| CryptoError::io("reading encrypted stream", e);
        let start = inner.stream_position().map_err(io_err)?;
        let end = inner.seek(SeekFrom::End(0)).map_err(io_err)?;
        let sealed_len = end.checked_sub(start).ok_or(CryptoError::Truncated {
            what: "content stream",
        })?;
        let chunks = sealed_len.div_ceil(SEALED_CHUNK).max(1);
        let last_sealed = sealed_len - (chunks - 1) * SEALED_CHUNK;
        if last_sealed < TAG_LEN as u64 {
            return Err(CryptoError::Truncated {
                what: "content stream",
            });
        }
        let plain_len = sealed_len - chunks * TAG_LEN as u64;
        let mut reader = StreamReader {
            cipher: ChaCha20Poly1305::new(key.as_bytes().into()),
            inner,
            start,
            sealed_len,
            chunks,
            plain_len,
            pos: 0,
            cache: None,
        };
        reader.load_chunk(chunks - 1)?;
        Ok(reader)
    }

    /// Length of the decrypted content.
    pub(crate) fn len(&self) -> u64 {
        self.plain_len
    }

    fn load_chunk(&mut self, idx: u64) -> Result<&[u8], CryptoError> {
        let cached = matches!(&self.cache, Some((i, _)) if *i == idx);
        if !cached {
            let off = idx * SEALED_CHUNK;
            let len = SEALED_CHUNK.min(self.sealed_len.saturating_sub(off));
            let len = usize::try_from(len).map_err(|_| CryptoError::Malformed {
                what: "content stream",
                reason: "chunk too large".into(),
            })?;
            let mut buf = Zeroizing::new(vec![0u8; len]);
            self.inner
                .seek(SeekFrom::Start(self.start + off))
                .and_then(|_| self.inner.read_exact(&mut buf))
                .map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof => CryptoError::Truncated {
                        what: "content stream",
                    },
                    _ => CryptoError::io("reading encrypted stream", e),
                })?;
            let nonce = chunk_nonce(idx, idx + 1 == self.chunks);
            self.cipher
                .decrypt_in_place(&nonce, b"", &mut *buf)
                .map_err(|_| CryptoError::Authentication {
                    what: "content stream chunk",
                })?;
            self.cache = Some((idx, buf));
        }
        match &self.cache {
            Some((_, data)) => Ok(data),
            None => Err(CryptoError::Malformed {
                what: "content stream",
                reason: "chunk cache empty after load".into(),
            }),
        }
    }

    /// Decrypts bytes `offset..offset+len` of the content, clamped to its
    /// end, touching only the chunks that overlap that range.
    pub(crate) fn read_range(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, CryptoError> {
        let end = offset.saturating_add(len).min(self.plain_len);
        let mut out = Vec::with_capacity(usize::try_from(end.saturating_sub(offset)).unwrap_or(0));
        let mut at = offset;
        while at < end {
            let idx = at / PLAIN_CHUNK;
            let chunk_start = idx * PLAIN_CHUNK;
            let chunk = self.load_chunk(idx)?;
            let from = usize::try_from(at - chunk_start).unwrap_or(usize::MAX);
            let to = usize::try_from(end.min(chunk_start + PLAIN_CHUNK) - chunk_start)
                .unwrap_or(usize::MAX);
            let piece = chunk.get(from..to).ok_or_else(|| CryptoError::Malformed {
                what: "content stream",
                reason: format!("chunk {idx} shorter than its position implies"),
            })?;
            out.extend_from_slice(piece);
            at = chunk_start + to as u64;
        }
        Ok(out)
    }
}

impl<R: Read + Seek> Read for StreamReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.plain_len || out.is_empty() {
            return Ok(0);
        }
        let idx = self.pos / PLAIN_CHUNK;
        let within = usize::try_from(self.pos - idx * PLAIN_CHUNK).unwrap_or(usize::MAX);
        let chunk = self
            .load_chunk(idx)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let avail = chunk.get(within..).unwrap_or(&[]);
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for StreamReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.plain_len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before start of stream")
        })?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn encrypt(key: &SecretKey, data: &[u8]) -> Vec<u8> {
        let mut w = StreamWriter::new(key, Vec::new());
        // Odd write sizes exercise buffering across chunk boundaries.
        for piece in data.chunks(7919) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trip_at_boundaries() {
        let key = SecretKey::generate();
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE,
            3 * CHUNK_SIZE + 100,
        ] {
            let data = content(len);
            let sealed = encrypt(&key, &data);
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "len {len}");
            let mut r = StreamReader::new(&key, Cursor::new(&sealed)).unwrap();
            assert_eq!(r.len(), len as u64);
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "len {len}");
        }
    }

    #[test]
    fn read_range_and_seek() {
        let key = SecretKey::generate();
        let data = content(3 * CHUNK_SIZE + 500);
        let sealed = encrypt(&key, &data);
        let mut r = StreamReader::new(&key, Cursor::new(&sealed)).unwrap();
        for (off, len) in [
            (0u64, 10u64),
            (CHUNK_SIZE as u64 - 5, 10),
            (100, 2 * CHUNK_SIZE as u64 + 7),
            (3 * CHUNK_SIZE as u64 + 490, 1000),
            (10 * CHUNK_SIZE as u64, 5),
            (7, 0),
        ] {
            let got = r.read_range(off, len).unwrap();
            let s = (off as usize).min(data.len());
            let e = ((off + len) as usize).min(data.len());
            assert_eq!(got, &data[s..e], "range {off}+{len}");
        }
        r.seek(SeekFrom::Start(CHUNK_SIZE as u64 * 2 + 3)).unwrap();
        let mut buf = [0u8; 20];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, &data[CHUNK_SIZE * 2 + 3..CHUNK_SIZE * 2 + 23]);
        assert!(r.seek(SeekFrom::Current(-1_000_000_000)).is_err());
    }

    #[test]
    fn stream_after_header_offset() {
        let key = SecretKey::generate();
        let mut file = b"HEADER".to_vec();
        file.extend(encrypt(&key, b"body"));
        let mut cur = Cursor::new(file);
        cur.seek(SeekFrom::Start(6)).unwrap();
        let mut r = StreamReader::new(&key, cur).unwrap();
        assert_eq!(r.read_range(0, 100).unwrap(), b"body");
    }

    #[test]
    fn read_range_decrypts_only_needed_chunks() {
        // Corrupting chunk 0 must not affect a range inside chunk 1.
        let key = SecretKey::generate();
        let data = content(2 * CHUNK_SIZE + 10);
        let mut sealed = encrypt(&key, &data);
        sealed[5] ^= 1;
        let mut r = StreamReader::new(&key, Cursor::new(&sealed)).unwrap();
        let off = CHUNK_SIZE as u64 + 10;
        assert_eq!(
            r.read_range(off, 50).unwrap(),
            &data[off as usize..off as usize + 50]
        );
        assert!(matches!(
            r.read_range(0, 1),
            Err(CryptoError::Authentication { .. })
        ));
    }

    #[test]
    fn truncation_is_detected() {
        let key = SecretKey::generate();
        let data = content(2 * CHUNK_SIZE + 10);
        let sealed = encrypt(&key, &data);
        // Dropping the whole last chunk leaves a valid-looking chunk
        // boundary; the last-chunk flag still exposes it.
        for cut in [
            0,
            10,
            sealed.len() - 1,
            sealed.len() - 26,
            2 * SEALED_CHUNK as usize,
            SEALED_CHUNK as usize,
        ] {
            assert!(
                StreamReader::new(&key, Cursor::new(&sealed[..cut])).is_err(),
                "cut at {cut} undetected"
            );
        }
        let empty = encrypt(&key, b"");
        assert_eq!(empty.len(), TAG_LEN);
        assert!(StreamReader::new(&key, Cursor::new(&empty[..0])).is_err());
    }

    #[test]
    fn extension_reordering_and_flips_are_detected() {
        let key = SecretKey::generate();
        let data = content(2 * CHUNK_SIZE);
        let sealed = encrypt(&key, &data);
        assert_eq!(sealed.len() as u64, 2 * SEALED_CHUNK);
        let mut swapped = sealed[SEALED_CHUNK as usize..].to_vec();
        swapped.extend_from_slice(&sealed[..SEALED_CHUNK as usize]);
        let read_all = |bytes: &[u8]| -> Result<Vec<u8>, String> {
            let mut r = StreamReader::new(&key, Cursor::new(bytes)).map_err(|e| e.to_string())?;
            let mut v = Vec::new();
            r.read_to_end(&mut v).map_err(|e| e.to_string())?;
            Ok(v)
        };
        assert!(read_all(&swapped).is_err());
        let mut longer = sealed.clone();
        longer.extend_from_slice(&encrypt(&key, b"more"));
        assert!(read_all(&longer).is_err());
        for pos in [0, 1000, SEALED_CHUNK as usize - 1, sealed.len() - 1] {
            let mut t = sealed.clone();
            t[pos] ^= 0x80;
            assert!(read_all(&t).is_err(), "flip at {pos}");
        }
        assert!(StreamReader::new(&SecretKey::generate(), Cursor::new(&sealed)).is_err());
        assert_eq!(read_all(&sealed).unwrap(), data);
    }
}
