//! The command line as typed, checked by clap for syntax only. [`crate::settings`] turns it,
//! the environment and the config file into the settings a run uses.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::exit::Exit;
use crate::extras::Command;
use crate::ports::parse_port_list;

/// What the user typed.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "portowner",
    version,
    // Our own -V/--version below, so that `--version --verbose` can add the build details;
    // clap's would print and exit before it saw --verbose.
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    about = "Which process owns the SMTP port, is it the one that should, and what to do next.",
    long_about = "Which process owns the SMTP port, is it the one that should, and what to do \
                  next.\n\nRun it on the mail server itself. It lists the TCP listeners on the \
                  inspected ports (25 unless told otherwise), finds the processes holding them, \
                  judges them against the expected owner (by default a catalog of known SMTP \
                  servers: Exchange, IIS SMTP, Postfix, Exim, Sendmail, OpenSMTPD) and prints a \
                  verdict, advice and an exit code.",
    after_help = after_help(),
    after_long_help = after_help(),
)]
pub struct Cli {
    /// An extra instead of the main job: completions or the man page (see [`crate::extras`]).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Print the version; with --verbose also the target, build profile and compiler
    #[arg(short = 'V', long, display_order = 1000)]
    pub version: bool,

    /// Ports to inspect: numbers or smtp, submission, smtps; repeatable, comma-separated
    /// [default: 25]
    #[arg(short, long = "port", value_name = "PORTS", value_parser = parse_ports)]
    pub ports: Vec<Vec<u16>>,

    /// The process that should own the ports: a process name, executable file name, full
    /// executable path or service name; repeatable [default: the built-in catalog]
    #[arg(short, long, value_name = "NAME")]
    pub expect: Vec<String>,

    /// A TOML file with `ports` and `expect`; flags override PORTOWNER_* variables, which
    /// override the file
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Explain on stderr why a socket or process could not be attributed
    #[arg(short, long)]
    pub verbose: bool,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table, the verdicts and advice, in plain ASCII.
    Table,
    /// One JSON document (see docs/json.md).
    Json,
}

fn parse_ports(text: &str) -> Result<Vec<u16>, String> {
    parse_port_list(text).map_err(|e| e.to_string())
}

fn after_help() -> String {
    format!(
        "Environment:\n  PORTOWNER_EXPECT  expected owners, comma-separated (overridden by \
         --expect)\n  PORTOWNER_PORTS   ports, comma-separated (overridden by --port)\n  \
         NO_COLOR          disable colour\n\nExamples:\n  portowner\n  portowner --port \
         25,587 --expect master\n  portowner --format json\n\n{}",
        Exit::help_table()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ports_repeat_and_split_on_commas() {
        let cli = Cli::try_parse_from(["portowner", "--port", "25,587", "-p", "smtps"]);
        assert_eq!(
            cli.map(|c| c.ports).ok(),
            Some(vec![vec![25, 587], vec![465]])
        );
    }

    #[test]
    fn bad_ports_are_usage_errors() {
        for bad in ["0", "70000", "abc", "25,"] {
            let error = Cli::try_parse_from(["portowner", "--port", bad]).err();
            assert_eq!(error.map(|e| e.exit_code()), Some(2), "{bad}");
        }
    }
}
