//! Fuzz target for the IMAP wire syntax: every input that parses must
//! encode to bytes that parse back to the same command, in both mailbox
//! name modes, and the command framer must never panic or over-buffer.
#![no_main]

use std::io::BufReader;

use crymap_like::imap::wire::framing::{CommandReader, Duplex, FrameError, Limits};
use crymap_like::imap::wire::parser::{
    is_idle_done, parse_authenticate_response, parse_command, ParseOptions,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for utf8_accept in [false, true] {
        let opts = ParseOptions { utf8_accept };
        if let Ok(cmd) = parse_command(data, &opts) {
            let encoded = cmd.encode_with(utf8_accept);
            match parse_command(&encoded, &opts) {
                Ok(again) => assert_eq!(again, cmd, "{:?}", String::from_utf8_lossy(&encoded)),
                Err(e) => panic!(
                    "re-parse of {:?} failed: {}",
                    String::from_utf8_lossy(&encoded),
                    e.reason
                ),
            }
        }
    }
    let _ = parse_authenticate_response(data);
    let _ = is_idle_done(data);

    // Small limits so the fuzzer reaches every rejection path.
    let limits = Limits {
        max_line: 256,
        max_literal: 128,
        max_append_literal: 1024,
        max_command: 2048,
        max_append_command: 4096,
        max_discard: 8192,
    };
    let mut reader = CommandReader::new(limits);
    let mut io = Duplex {
        r: BufReader::with_capacity(7, data),
        w: Vec::new(),
    };
    loop {
        match reader.read_command(&mut io) {
            Ok(cmd) => {
                assert!(cmd.len() <= limits.max_append_command + limits.max_line);
                let _ = parse_command(&cmd, &ParseOptions::default());
            }
            Err(FrameError::Rejected { .. }) => {}
            Err(_) => break,
        }
    }
});
