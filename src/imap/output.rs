//! Sending a long answer while it is still being made. A command that
//! answers with one untagged response per message (FETCH, and the FETCH
//! a NOTIFY MessageNew pushes between commands, during IDLE or at a
//! command's end) hands the responses it has finished to the connection whenever they pass
//! [`CHUNK`] bytes, so the client parses while the server works and the
//! session never holds more than a chunk plus one message's response,
//! however large the mailbox and however slowly the client reads. Owns
//! only when to hand over; never encodes (`wire::response` does) and never
//! touches the connection itself (the session's [`Spill`] does).

use std::io;

/// Finished responses are handed over once they reach this many bytes: a
/// few TLS records per write, and one DEFLATE sync flush (a handful of
/// bytes) per 64 KiB of output.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Where a command's finished responses go before the command ends.
pub(crate) trait Spill {
    /// Sends everything in `out`, which holds only whole responses, and
    /// leaves it empty. Blocks while the client does not read (the
    /// connection's write timeout bounds the wait). An error means the
    /// connection is gone: the command should stop producing output.
    fn spill(&mut self, out: &mut Vec<u8>) -> io::Result<()>;
}

/// Hands `out` to `spill` once it holds at least [`CHUNK`] bytes; call it
/// only between whole responses.
pub(crate) fn spill_full(out: &mut Vec<u8>, spill: &mut dyn Spill) -> io::Result<()> {
    if out.len() < CHUNK {
        return Ok(());
    }
    spill.spill(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each hand-over's size, as a connection would see writes.
    struct Record(Vec<usize>);

    impl Spill for Record {
        fn spill(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
            self.0.push(out.len());
            out.clear();
            Ok(())
        }
    }

    #[test]
    fn hands_over_only_full_chunks() {
        let mut rec = Record(Vec::new());
        let mut out = Vec::new();
        let line = [b'x'; 1000];
        for _ in 0..200 {
            out.extend_from_slice(&line);
            spill_full(&mut out, &mut rec).unwrap();
            assert!(out.len() < CHUNK, "never holds a full chunk after a call");
        }
        // 200,000 bytes in 1,000-byte responses: three hand-overs of 66
        // responses each (the first length at or past 64 KiB), the rest
        // kept for the end of the command.
        assert_eq!(rec.0, vec![66_000, 66_000, 66_000]);
        assert_eq!(out.len(), 2_000);
    }
}
