//! The exit codes: portowner's stable contract with scripts and monitoring.
//!
//! Every code is listed here once, with the words `--help`, the README and
//! docs/exit-codes.md use for it; a unit test keeps the numbers from drifting.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// How a run of portowner ended, as a script sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every inspected port is held by the expected process.
    Ok,
    /// portowner itself failed (the OS refused a listing, stdout could not be written).
    Failure,
    /// The command line, environment or config file was wrong.
    Usage,
    /// Nothing listens on an inspected port.
    NotListening,
    /// A port is held by a process that does not satisfy the expectation.
    WrongOwner,
    /// Something listens, but its holder could not be identified (usually: not elevated).
    OwnerUnknown,
    /// The owner is right but the SMTP greeting is missing or bad.
    BannerProblem,
}

impl Exit {
    /// Every exit, in numeric order.
    pub const ALL: [Exit; 7] = [
        Exit::Ok,
        Exit::Failure,
        Exit::Usage,
        Exit::NotListening,
        Exit::WrongOwner,
        Exit::OwnerUnknown,
        Exit::BannerProblem,
    ];

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::NotListening => 3,
            Exit::WrongOwner => 4,
            Exit::OwnerUnknown => 5,
            Exit::BannerProblem => 6,
        }
    }

    /// One line saying what the code means, for `--help` and the docs.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "ok: every port is held by the expected process (and greets)",
            Exit::Failure => "portowner itself failed (message on stderr)",
            Exit::Usage => "usage error: bad flag, port, profile, environment or config file",
            Exit::NotListening => "not-listening: nothing listens on a port",
            Exit::WrongOwner => "wrong-owner: a port is held by an unexpected process",
            Exit::OwnerUnknown => "owner-unknown: a listener's holder could not be identified",
            Exit::BannerProblem => "no-banner / bad-banner: the SMTP greeting is missing or bad",
        }
    }

    /// The table printed at the end of `--help`.
    pub fn help_table() -> String {
        let mut text = String::from("Exit codes:\n");
        for exit in Exit::ALL {
            text.push_str(&format!("  {}  {}\n", exit.code(), exit.meaning()));
        }
        text
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_contract() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn help_table_lists_every_code() {
        let table = Exit::help_table();
        for exit in Exit::ALL {
            assert!(table.contains(&format!("  {}  ", exit.code())), "{table}");
        }
    }
}
