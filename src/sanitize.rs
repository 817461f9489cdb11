//! Making system-supplied text safe to print. Process names, command lines, paths and
//! banners come from other programs; a process can name itself with terminal escape
//! sequences. Text output is plain ASCII (remote PowerShell garbles the rest), so every
//! control or non-ASCII character is shown as a visible escape instead.
#![forbid(unsafe_code)]

use std::fmt::Write;

/// `text` with control and non-ASCII characters replaced by `\xNN` / `\u{NNNN}` escapes.
pub fn for_terminal(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => safe.push(c),
            '\t' => safe.push_str("\\t"),
            '\n' => safe.push_str("\\n"),
            '\r' => safe.push_str("\\r"),
            c if (c as u32) < 0x80 => {
                let _ = write!(safe, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(safe, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_non_ascii_but_keeps_plain_text() {
        let cases = [
            ("master", "master"),
            ("C:\\Program Files\\x.exe", "C:\\Program Files\\x.exe"),
            ("evil\x1b[31mred", "evil\\x1b[31mred"),
            ("two\nlines\r", "two\\nlines\\r"),
            ("bell\x07del\x7f", "bell\\x07del\\x7f"),
            ("caf\u{e9}", "caf\\u{e9}"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("bad\u{fffd}utf8", "bad\\u{fffd}utf8"),
        ];
        for (raw, shown) in cases {
            assert_eq!(for_terminal(raw), shown);
            assert!(for_terminal(raw).chars().all(|c| (' '..='~').contains(&c)));
        }
    }
}
