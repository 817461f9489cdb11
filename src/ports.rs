//! Port arguments: numbers and the SMTP service names, one or many per value.
#![forbid(unsafe_code)]

use thiserror::Error;

/// The SMTP service names portowner accepts in place of a number.
const SERVICE_NAMES: [(&str, u16); 3] = [("smtp", 25), ("submission", 587), ("smtps", 465)];

/// The port every run inspects unless told otherwise.
pub const DEFAULT_PORT: u16 = 25;

/// Why a port value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PortError {
    /// The value was empty (`--port ""` or `--port 25,,587`).
    #[error("an empty port was given; {ACCEPTED}")]
    Empty,
    /// A number outside 1..=65535.
    #[error("port {0} is out of range; {ACCEPTED}")]
    OutOfRange(String),
    /// Neither a number nor a known service name.
    #[error("'{0}' is not a port; {ACCEPTED}")]
    Unknown(String),
}

/// What the messages tell the user is accepted.
const ACCEPTED: &str = "use a number from 1 to 65535 or one of smtp (25), submission (587), \
                        smtps (465), comma-separated if several (e.g. --port 25,587)";

/// Parses one port: a number from 1 to 65535 or an SMTP service name.
pub fn parse_port(text: &str) -> Result<u16, PortError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PortError::Empty);
    }
    if let Some((_, port)) = SERVICE_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
    {
        return Ok(*port);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::Unknown(text.to_string()));
    }
    match text.parse::<u32>() {
        Ok(port @ 1..=65535) => Ok(port as u16),
        _ => Err(PortError::OutOfRange(text.to_string())),
    }
}

/// Parses a comma-separated list of ports (`25,587,smtps`).
pub fn parse_port_list(text: &str) -> Result<Vec<u16>, PortError> {
    text.split(',').map(parse_port).collect()
}

/// Sorts ports and drops repeats, so each port is inspected and reported once.
pub fn normalise(mut ports: Vec<u16>) -> Vec<u16> {
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_and_service_names() {
        assert_eq!(parse_port("25"), Ok(25));
        assert_eq!(parse_port(" 65535 "), Ok(65535));
        assert_eq!(parse_port("SMTP"), Ok(25));
        assert_eq!(parse_port("submission"), Ok(587));
        assert_eq!(parse_port("smtps"), Ok(465));
        assert_eq!(parse_port_list("25,587,smtps"), Ok(vec![25, 587, 465]));
    }

    #[test]
    fn refuses_zero_overflow_and_garbage_saying_what_is_accepted() {
        assert_eq!(parse_port("0"), Err(PortError::OutOfRange("0".into())));
        assert_eq!(
            parse_port("70000"),
            Err(PortError::OutOfRange("70000".into()))
        );
        assert_eq!(
            parse_port("99999999999999999999"),
            Err(PortError::OutOfRange("99999999999999999999".into()))
        );
        assert_eq!(parse_port("-1"), Err(PortError::Unknown("-1".into())));
        assert_eq!(parse_port("http"), Err(PortError::Unknown("http".into())));
        assert_eq!(parse_port_list("25,,587"), Err(PortError::Empty));
        let message = parse_port("0")
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert!(
            message.contains("1 to 65535") && message.contains("submission"),
            "{message}"
        );
    }

    #[test]
    fn normalise_sorts_and_dedups() {
        assert_eq!(normalise(vec![587, 25, 587, 2525, 25]), vec![25, 587, 2525]);
    }
}
