//! Fuzzes the SMTP reply parser: arbitrary bytes from a server must never panic, and a
//! complete reply stays within the documented bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portowner::banner::{MAX_LINES, Reply, parse_reply};

fuzz_target!(|bytes: &[u8]| {
    if let Reply::Complete { lines, .. } = parse_reply(bytes) {
        assert!(!lines.is_empty() && lines.len() <= MAX_LINES);
    }
});
