//! The command line as typed, checked by clap for syntax only. [`crate::settings`] turns it,
//! the environment and the config file into the settings a run uses.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Parser, ValueEnum};

use crate::exit::Exit;
use crate::extras::Command;
use crate::ports::parse_port_list;
use crate::profile::{LIST, PROFILES};

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
    #[arg(
        short,
        long = "port",
        value_name = "PORTS",
        value_parser = parse_ports,
        allow_hyphen_values = true
    )]
    pub ports: Vec<Vec<u16>>,

    /// The process that should own the ports: a process name, executable file name, full
    /// executable path or service name; repeatable, comma-separated; replaces a profile's
    /// owners on every port [default: the built-in catalog]
    #[arg(short, long, value_name = "NAME", value_delimiter = ',')]
    pub expect: Vec<String>,

    /// The kind of mail server: sets the ports and the expected owner of each port;
    /// `--profile list` shows them. --port replaces its ports (its owners still apply),
    /// --expect its owners
    #[arg(long, value_name = "NAME", ignore_case = true, value_parser = profile_names())]
    pub profile: Option<String>,

    /// A TOML file with `ports`, `expect` and/or `profile`; flags override PORTOWNER_*
    /// variables, which override the file
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Explain on stderr why a socket or process could not be attributed
    #[arg(short, long)]
    pub verbose: bool,

    /// Do not read the SMTP greeting of the listeners
    #[arg(long)]
    pub no_banner: bool,

    /// Seconds to wait for the whole SMTP greeting (0.1 to 300)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        value_parser = parse_timeout,
        allow_negative_numbers = true
    )]
    pub banner_timeout: Duration,

    /// Also read the greeting at this address (e.g. the public address a remote test used)
    /// and compare; without a port, every inspected port; IPv6 in brackets; repeatable
    #[arg(
        long,
        value_name = "ADDR[:PORT]",
        value_parser = parse_extra_target
    )]
    pub also_probe: Vec<ExtraTarget>,
}

/// An address given with `--also-probe`: an IP address, with or without a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraTarget {
    /// The address to connect to.
    pub ip: IpAddr,
    /// The port, when given; otherwise every inspected port.
    pub port: Option<u16>,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table, the verdicts and advice, in plain ASCII.
    Table,
    /// One JSON document (see docs/json.md).
    Json,
}

impl Cli {
    /// Whether `--profile list` asks for the profiles instead of a run.
    pub fn wants_profile_list(&self) -> bool {
        self.profile
            .as_deref()
            .is_some_and(|name| name.eq_ignore_ascii_case(LIST))
    }
}

/// `list` and every profile, so that clap checks the name, lists the known ones when it is
/// wrong, and shell completion offers them.
fn profile_names() -> PossibleValuesParser {
    let list = PossibleValue::new(LIST).help("Print the profiles, their ports and owners");
    let profiles = PROFILES
        .iter()
        .map(|profile| PossibleValue::new(profile.name).help(profile.server));
    PossibleValuesParser::new(std::iter::once(list).chain(profiles))
}

fn parse_ports(text: &str) -> Result<Vec<u16>, String> {
    parse_port_list(text).map_err(|e| e.to_string())
}

/// Longest greeting wait accepted: beyond this no remote client waits either.
const MAX_BANNER_SECS: f64 = 300.0;

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let accepted = "give the seconds as a number from 0.1 to 300 (e.g. --banner-timeout 10)";
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number; {accepted}"))?;
    if !(0.1..=MAX_BANNER_SECS).contains(&secs) {
        return Err(format!("{text} is out of range; {accepted}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_extra_target(text: &str) -> Result<ExtraTarget, String> {
    let text = text.trim();
    let accepted = "give an IP address, optionally with a port: 203.0.113.5, 203.0.113.5:25, \
                    [2001:db8::5] or [2001:db8::5]:25 (IPv6 in brackets; host names are not \
                    resolved)";
    if let Ok(ip) = text.parse::<std::net::Ipv4Addr>() {
        return Ok(ExtraTarget {
            ip: IpAddr::V4(ip),
            port: None,
        });
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        // `::1:25` is a valid address and could also mean ::1 port 25: never guess which.
        return Err(format!("'{text}' is ambiguous; {accepted}"));
    }
    let bracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    if let Some(Ok(ip)) = bracketed.map(str::parse::<std::net::Ipv6Addr>) {
        return Ok(ExtraTarget {
            ip: IpAddr::V6(ip),
            port: None,
        });
    }
    let address: SocketAddr = text
        .parse()
        .map_err(|_| format!("'{text}' is not an address; {accepted}"))?;
    if address.port() == 0 {
        return Err(format!("port 0 in '{text}' cannot be probed; {accepted}"));
    }
    Ok(ExtraTarget {
        ip: address.ip(),
        port: Some(address.port()),
    })
}

fn after_help() -> String {
    format!(
        "Environment:\n  PORTOWNER_EXPECT   expected owners, comma-separated (overridden by \
         --expect)\n  PORTOWNER_PORTS    ports, comma-separated (overridden by --port)\n  \
         PORTOWNER_PROFILE  a profile (overridden by --profile)\n  NO_COLOR           \
         disable colour\n\nPrecedence:\n  Each setting comes from the command line, else the \
         environment, else the config\n  file, else the defaults (port 25, the built-in \
         catalog). A profile sets ports and\n  owners; --port / --expect given in the same \
         place or a higher one override it.\n\nExamples:\n  portowner\n  portowner --port \
         25,587 --expect master\n  portowner --profile exchange2016\n  portowner --profile \
         postfix --port 25,465,587\n  portowner --format json\n  portowner --also-probe \
         203.0.113.5\n\n{}",
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
    fn banner_options_parse_and_refuse_nonsense() {
        let cli = Cli::try_parse_from([
            "portowner",
            "--banner-timeout",
            "2.5",
            "--also-probe",
            "192.0.2.7:2525",
            "--also-probe",
            "[2001:db8::1]",
            "--also-probe",
            "[2001:db8::1]:587",
        ]);
        let cli = cli.unwrap();
        assert_eq!(cli.banner_timeout, Duration::from_millis(2500));
        assert_eq!(cli.also_probe[0].port, Some(2525));
        assert_eq!(cli.also_probe[1].port, None);
        assert_eq!(cli.also_probe[2].port, Some(587));
        for bad in [
            ["--banner-timeout", "0"],
            ["--banner-timeout", "-1"],
            ["--banner-timeout", "x"],
            ["--also-probe", "mx.example"],
            ["--also-probe", "127.0.0.1:0"],
            ["--also-probe", "::1:25"],
            ["--also-probe", "2001:db8::1"],
            ["--banner-timeout", "301"],
            ["--port", "-1"],
        ] {
            let error = Cli::try_parse_from(["portowner", bad[0], bad[1]]).err();
            let message = error.as_ref().map(|e| e.to_string()).unwrap_or_default();
            assert_eq!(error.map(|e| e.exit_code()), Some(2), "{bad:?}");
            assert!(
                !message.contains("unexpected argument"),
                "{bad:?}: {message}"
            );
        }
    }

    #[test]
    fn expectations_split_on_commas_like_ports() {
        let cli = Cli::try_parse_from(["portowner", "--expect", "master,exim4", "-e", "sendmail"]);
        assert_eq!(cli.unwrap().expect, vec!["master", "exim4", "sendmail"]);
    }

    #[test]
    fn profiles_are_checked_by_clap_ignoring_case() {
        let cli = Cli::try_parse_from(["portowner", "--profile", "Exchange2016"]).unwrap();
        assert_eq!(cli.profile.as_deref(), Some("Exchange2016"));
        assert!(!cli.wants_profile_list());
        let list = Cli::try_parse_from(["portowner", "--profile", "LIST"]).unwrap();
        assert!(list.wants_profile_list());
        let error = Cli::try_parse_from(["portowner", "--profile", "nope"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        for profile in &PROFILES {
            assert!(message.contains(profile.name), "{message}");
        }
    }

    #[test]
    fn bad_ports_are_usage_errors() {
        for bad in ["0", "70000", "abc", "25,"] {
            let error = Cli::try_parse_from(["portowner", "--port", bad]).err();
            assert_eq!(error.map(|e| e.exit_code()), Some(2), "{bad}");
        }
    }
}
