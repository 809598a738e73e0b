//! Fuzz target for the response parser and encoder: no input may make
//! them panic; every response that parses must encode to bytes that parse
//! back to the same value, taking exactly those bytes; and the framer must
//! agree with the parser on where a response ends.
#![no_main]

use crymap_like::imap::wire::response::{frame_response, parse_response, ResponseParseError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let framed = frame_response(data);
    match parse_response(data) {
        Ok((response, used)) => {
            assert_eq!(framed, Ok(used));
            let encoded = response.to_bytes();
            match parse_response(&encoded) {
                Ok((again, again_used)) => {
                    assert_eq!(again, response, "{:?}", String::from_utf8_lossy(&encoded));
                    assert_eq!(again_used, encoded.len());
                }
                Err(e) => panic!(
                    "re-parse of {:?} failed: {e}",
                    String::from_utf8_lossy(&encoded)
                ),
            }
            assert_eq!(response.clone().into_owned(), response);
        }
        Err(ResponseParseError::Incomplete { .. }) => {
            assert!(matches!(framed, Err(ResponseParseError::Incomplete { .. })));
        }
        Err(_) => {}
    }
});
