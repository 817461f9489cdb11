//! Fuzzes the config file parser: any text must give a config or an error with a line
//! inside the text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portowner::config;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Err((Some(line), _)) = config::parse(text) {
        assert!(line >= 1 && line <= text.lines().count() + 1);
    }
});
