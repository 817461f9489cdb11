//! Property tests of the parsers and the sanitiser: whatever the input, no panic, bounded
//! output, and the documented answer.

// Tests may panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;

use portowner::banner::{MAX_BYTES, MAX_LINES, Reply, parse_reply};
use portowner::config;
use portowner::ports::{parse_port, parse_port_list};
use portowner::sanitize::for_terminal;

proptest! {
    #[test]
    fn reply_parser_never_panics_and_stays_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..10_000)) {
        match parse_reply(&bytes) {
            Reply::Complete { code, lines } => {
                prop_assert!((100..600).contains(&code));
                prop_assert!(!lines.is_empty() && lines.len() <= MAX_LINES);
                prop_assert!(lines.iter().map(String::len).sum::<usize>() <= MAX_BYTES * 4);
            }
            Reply::Incomplete => prop_assert!(bytes.len() <= MAX_BYTES),
            Reply::NotSmtp { reason, .. } => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn well_formed_greetings_parse_to_their_code(
        code in 200u16..600,
        texts in proptest::collection::vec("[ -~]{0,60}", 1..10),
    ) {
        let mut reply = String::new();
        for (i, text) in texts.iter().enumerate() {
            let separator = if i + 1 == texts.len() { ' ' } else { '-' };
            reply.push_str(&format!("{code}{separator}{text}\r\n"));
        }
        let parsed = parse_reply(reply.as_bytes());
        prop_assert_eq!(parsed, Reply::Complete {
            code,
            lines: texts.iter().enumerate().map(|(i, t)| {
                let separator = if i + 1 == texts.len() { ' ' } else { '-' };
                format!("{code}{separator}{t}")
            }).collect(),
        });
    }

    #[test]
    fn sanitised_text_is_printable_ascii(text in any::<String>()) {
        let shown = for_terminal(&text);
        prop_assert!(shown.chars().all(|c| (' '..='~').contains(&c)));
        if text.chars().all(|c| (' '..='~').contains(&c)) {
            prop_assert_eq!(shown, text);
        }
    }

    #[test]
    fn numeric_ports_are_accepted_exactly_from_1_to_65535(n in any::<u32>()) {
        let parsed = parse_port(&n.to_string());
        prop_assert_eq!(parsed.is_ok(), (1..=65535).contains(&n));
    }

    #[test]
    fn port_lists_never_panic(text in any::<String>()) {
        let _ = parse_port_list(&text);
    }

    #[test]
    fn config_parser_never_panics_and_errors_name_a_real_line(text in any::<String>()) {
        if let Err((Some(line), message)) = config::parse(&text) {
            prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
            prop_assert!(!message.is_empty());
        }
    }
}
