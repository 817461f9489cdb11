//! Resolving what the user asked for into the settings a run uses. Each setting comes from
//! the first source that sets it: the command line, then the `PORTOWNER_*` environment
//! variables, then the config file, then the defaults. A profile sets both the ports and the
//! expected owners, as part of its source: within one source, `--port` and `--expect` (or
//! their variable or key) beat the profile for what they set. Nothing here touches the OS
//! except reading the config file.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use crate::banner::ProbeSettings;
use crate::cli::{Cli, Format};
use crate::config::{self, ConfigFile};
use crate::error::Error;
use crate::expectation::{self, Expectation, Expectations, Origin};
use crate::os::{HolderSearch, Method, SocketSource};
use crate::ports::{DEFAULT_PORT, normalise, parse_port_list};
use crate::profile::{self, Profile};

/// The environment variables portowner reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// `PORTOWNER_EXPECT`: expected owners, comma-separated.
    pub expect: Option<String>,
    /// `PORTOWNER_PORTS`: ports, comma-separated.
    pub ports: Option<String>,
    /// `PORTOWNER_PROFILE`: a profile name.
    pub profile: Option<String>,
    /// `PORTOWNER_HOLDER_SEARCH`: `targeted` (default) or `full`; a diagnostic.
    pub holder_search: Option<String>,
    /// `PORTOWNER_SOCKET_SOURCE`: `netlink` (default) or `procfs`; a diagnostic.
    pub socket_source: Option<String>,
}

impl Environment {
    /// Reads the variables from this process's environment; empty counts as unset.
    pub fn from_process() -> Self {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Environment {
            expect: read("PORTOWNER_EXPECT"),
            ports: read("PORTOWNER_PORTS"),
            profile: read("PORTOWNER_PROFILE"),
            holder_search: read("PORTOWNER_HOLDER_SEARCH"),
            socket_source: read("PORTOWNER_SOCKET_SOURCE"),
        }
    }
}

/// Where a setting was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A flag on the command line.
    CommandLine,
    /// A `PORTOWNER_*` variable.
    Environment,
    /// The config file given with `--config`.
    ConfigFile,
}

impl Source {
    /// The name used in JSON, the same words as an expectation's `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CommandLine => "flag",
            Source::Environment => "environment",
            Source::ConfigFile => "config-file",
        }
    }
}

/// The profile that decided the ports, the owners or both, and where it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChosenProfile {
    /// The profile.
    pub profile: &'static Profile,
    /// Where it was named.
    pub source: Source,
    /// It chose the ports (no `--port` or the like in the same or a higher source).
    pub sets_ports: bool,
    /// It chose the expected owners (no `--expect` or the like in the same or a higher
    /// source).
    pub sets_owners: bool,
}

/// Everything a run needs to know, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The ports to inspect, ascending, each once.
    pub ports: Vec<u16>,
    /// What should own them.
    pub expectations: Expectations,
    /// The profile in effect, when one decided anything.
    pub profile: Option<ChosenProfile>,
    /// How to print the report.
    pub format: Format,
    /// Whether to explain attribution problems on stderr.
    pub verbose: bool,
    /// How to read greetings; `None` with `--no-banner`.
    pub banner: Option<ProbeSettings>,
    /// Extra addresses whose greeting is compared with the local one (`--also-probe`).
    pub also_probe: Vec<SocketAddr>,
    /// How the OS layer looks for sockets and holders (diagnostic variables only).
    pub method: Method,
}

/// Resolves the command line, environment and config file into [`Settings`].
pub fn resolve(cli: &Cli, env: &Environment) -> Result<Settings, Error> {
    if cli.no_banner && !cli.also_probe.is_empty() {
        return Err(Error::Usage(
            "--also-probe reads greetings, which --no-banner turns off: drop one of the two"
                .to_string(),
        ));
    }
    let file = match &cli.config {
        Some(path) => config::load(path)?,
        None => ConfigFile::default(),
    };
    let sources = [
        from_command_line(cli),
        from_environment(env),
        from_file(&file),
    ];
    let (ports, ports_profile) = resolve_ports(&sources)?;
    let (expectations, owners_profile) = resolve_expectations(&sources)?;
    let also_probe = extra_targets(cli, &ports);
    Ok(Settings {
        ports,
        expectations,
        profile: chosen(ports_profile, owners_profile),
        format: cli.format,
        verbose: cli.verbose,
        banner: (!cli.no_banner).then(|| ProbeSettings {
            greeting_timeout: cli.banner_timeout,
            ..ProbeSettings::default()
        }),
        also_probe,
        method: resolve_method(env)?,
    })
}

/// The diagnostic variables; a misspelt value is an error rather than silently ignored.
fn resolve_method(env: &Environment) -> Result<Method, Error> {
    let holder_search = match env.holder_search.as_deref().map(str::trim) {
        None | Some("targeted") => HolderSearch::Targeted,
        Some("full") => HolderSearch::Full,
        Some(other) => {
            return Err(diagnostic_error(
                "PORTOWNER_HOLDER_SEARCH",
                other,
                "targeted or full",
            ));
        }
    };
    let socket_source = match env.socket_source.as_deref().map(str::trim) {
        None | Some("netlink") => SocketSource::Netlink,
        Some("procfs") => SocketSource::Procfs,
        Some(other) => {
            return Err(diagnostic_error(
                "PORTOWNER_SOCKET_SOURCE",
                other,
                "netlink or procfs",
            ));
        }
    };
    Ok(Method {
        holder_search,
        socket_source,
    })
}

fn diagnostic_error(variable: &str, value: &str, allowed: &str) -> Error {
    Error::Usage(format!(
        "{variable}={value:?} is not understood; use {allowed}, or unset it"
    ))
}

/// A profile and the source that named it.
type NamedProfile = (&'static Profile, Source);

/// What one source says. A value that does not parse is kept as its message and is an
/// error only if the value is used, so a variable overridden by a flag cannot stop a run.
struct Given {
    source: Source,
    ports: Option<Result<Vec<u16>, String>>,
    expect: Option<Result<Expectation, String>>,
    profile: Option<Result<&'static Profile, String>>,
}

fn from_command_line(cli: &Cli) -> Given {
    Given {
        source: Source::CommandLine,
        ports: (!cli.ports.is_empty()).then(|| Ok(cli.ports.concat())),
        expect: (!cli.expect.is_empty()).then(|| named(&cli.expect, Origin::Flag, "--expect")),
        profile: cli.profile.as_deref().map(|name| lookup(name, "--profile")),
    }
}

fn from_environment(env: &Environment) -> Given {
    let ports = env
        .ports
        .as_deref()
        .map(|text| parse_port_list(text).map_err(|e| format!("PORTOWNER_PORTS: {e}")));
    let expect = env.expect.as_deref().map(|text| {
        // Empty items are refused, as in --expect and --port: `master,` is a typo.
        let names: Vec<String> = text.split(',').map(String::from).collect();
        named(&names, Origin::Environment, "PORTOWNER_EXPECT")
    });
    Given {
        source: Source::Environment,
        ports,
        expect,
        profile: env
            .profile
            .as_deref()
            .map(|name| lookup(name, "PORTOWNER_PROFILE")),
    }
}

fn from_file(file: &ConfigFile) -> Given {
    Given {
        source: Source::ConfigFile,
        ports: file.ports.clone().filter(|p| !p.is_empty()).map(Ok),
        expect: file
            .expect
            .as_ref()
            .filter(|names| !names.is_empty())
            .map(|names| named(names, Origin::ConfigFile, "config")),
        profile: file.profile.map(Ok),
    }
}

/// The ports, and the profile they came from when one chose them.
fn resolve_ports(sources: &[Given]) -> Result<(Vec<u16>, Option<NamedProfile>), Error> {
    for given in sources {
        if let Some(ports) = &given.ports {
            let ports = ports.clone().map_err(Error::Usage)?;
            return Ok((normalise(ports), None));
        }
        if let Some(profile) = &given.profile {
            let profile = profile.clone().map_err(Error::Usage)?;
            return Ok((profile.default_ports(), Some((profile, given.source))));
        }
    }
    Ok((vec![DEFAULT_PORT], None))
}

/// The expectations, and the profile they came from when one chose them.
fn resolve_expectations(sources: &[Given]) -> Result<(Expectations, Option<NamedProfile>), Error> {
    for given in sources {
        if let Some(expect) = &given.expect {
            let expect = expect.clone().map_err(Error::Usage)?;
            return Ok((Expectations::uniform(expect), None));
        }
        if let Some(profile) = &given.profile {
            let profile = profile.clone().map_err(Error::Usage)?;
            return Ok((profile.expectations(), Some((profile, given.source))));
        }
    }
    Ok((Expectations::uniform(Expectation::Catalog), None))
}

/// The profile that decided something. Both settings are searched from the same first
/// source that names a profile, so two different profiles can never both decide.
fn chosen(ports: Option<NamedProfile>, owners: Option<NamedProfile>) -> Option<ChosenProfile> {
    let (profile, source) = ports.or(owners)?;
    Some(ChosenProfile {
        profile,
        source,
        sets_ports: ports.is_some(),
        sets_owners: owners.is_some(),
    })
}

fn lookup(name: &str, source: &str) -> Result<&'static Profile, String> {
    profile::lookup(name).map_err(|e| format!("{source}: {e}"))
}

/// `--also-probe` addresses; one without a port stands for every inspected port.
fn extra_targets(cli: &Cli, ports: &[u16]) -> Vec<SocketAddr> {
    cli.also_probe
        .iter()
        .flat_map(|extra| match extra.port {
            Some(port) => vec![SocketAddr::new(extra.ip, port)],
            None => ports
                .iter()
                .map(|&port| SocketAddr::new(extra.ip, port))
                .collect(),
        })
        .collect()
}

fn named(names: &[String], origin: Origin, source: &str) -> Result<Expectation, String> {
    let checked = match names {
        [] => expectation::check_name("").map(|name| vec![name]),
        _ => names.iter().map(|n| expectation::check_name(n)).collect(),
    };
    let names = checked.map_err(|e| format!("{source}: {e}"))?;
    Ok(Expectation::Named { names, origin })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::io::Write;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["portowner"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn env(expect: Option<&str>, ports: Option<&str>) -> Environment {
        Environment {
            expect: expect.map(String::from),
            ports: ports.map(String::from),
            ..Environment::default()
        }
    }

    fn named_as(names: &[&str], origin: Origin) -> Expectation {
        Expectation::Named {
            names: names.iter().map(|n| n.to_string()).collect(),
            origin,
        }
    }

    #[test]
    fn also_probe_and_no_banner_together_are_a_usage_error_saying_what_to_do() {
        let both = cli(&["--no-banner", "--also-probe", "192.0.2.1"]);
        let (message, exit) = refused(&both, &env(None, None));
        assert!(message.contains("drop one of the two"), "{message}");
        assert_eq!(exit, Some(2));
    }

    #[test]
    fn defaults_are_port_25_and_the_catalog() {
        let settings = resolve(&cli(&[]), &Environment::default()).ok();
        assert_eq!(settings.as_ref().map(|s| s.ports.clone()), Some(vec![25]));
        assert_eq!(
            settings.map(|s| s.expectations.default),
            Some(Expectation::Catalog)
        );
    }

    #[test]
    fn flags_override_environment_which_overrides_the_file() {
        let mut file = tempfile();
        let _ = writeln!(file.1, "ports = [2525]\nexpect = [\"from-file\"]");
        let path = file.0.to_string_lossy().into_owned();

        let only_file = resolve(&cli(&["--config", &path]), &env(None, None)).ok();
        assert_eq!(
            only_file.as_ref().map(|s| s.ports.clone()),
            Some(vec![2525])
        );
        assert_eq!(
            only_file.map(|s| s.expectations.default),
            Some(named_as(&["from-file"], Origin::ConfigFile))
        );

        let with_env = resolve(
            &cli(&["-c", &path]),
            &env(Some("exim4, master"), Some("587")),
        );
        let with_env = with_env.ok();
        assert_eq!(with_env.as_ref().map(|s| s.ports.clone()), Some(vec![587]));
        assert_eq!(
            with_env.map(|s| s.expectations.default),
            Some(named_as(&["exim4", "master"], Origin::Environment))
        );

        let flags = cli(&["-c", &path, "-p", "25", "-e", "sendmail"]);
        let with_flags = resolve(&flags, &env(Some("exim4"), Some("587"))).ok();
        assert_eq!(with_flags.as_ref().map(|s| s.ports.clone()), Some(vec![25]));
        assert_eq!(
            with_flags.map(|s| s.expectations.default),
            Some(named_as(&["sendmail"], Origin::Flag))
        );
        let _ = std::fs::remove_file(&file.0);
    }

    #[test]
    fn bad_environment_and_files_are_usage_errors() {
        let (_, exit) = refused(&cli(&[]), &env(None, Some("25,0")));
        assert_eq!(exit, Some(2));
        let (_, exit) = refused(&cli(&["--expect", " "]), &Environment::default());
        assert_eq!(exit, Some(2));
        let missing = cli(&["--config", "/nonexistent/portowner.toml"]);
        let (message, exit) = refused(&missing, &env(None, None));
        assert!(message.contains("cannot be read"), "{message}");
        assert_eq!(exit, Some(2));
    }

    /// The message and exit code of settings that must be refused.
    fn refused(cli: &Cli, env: &Environment) -> (String, Option<u8>) {
        let error = resolve(cli, env).err();
        let message = error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        (message, error.map(|e| e.exit().code()))
    }

    fn with_profile(profile: &str) -> Environment {
        Environment {
            profile: Some(profile.to_string()),
            ..Environment::default()
        }
    }

    /// (profile, source, sets ports, sets owners), for compact assertions.
    fn summary(settings: &Settings) -> Option<(&'static str, Source, bool, bool)> {
        let chosen = settings.profile?;
        Some((
            chosen.profile.name,
            chosen.source,
            chosen.sets_ports,
            chosen.sets_owners,
        ))
    }

    fn first_name(settings: &Settings, port: u16) -> String {
        settings.expectations.for_port(port).names().remove(0)
    }

    #[test]
    fn a_profile_sets_ports_and_the_owner_of_each() {
        let settings = resolve(&cli(&["--profile", "exchange2016"]), &env(None, None)).unwrap();
        assert_eq!(settings.ports, vec![25, 465, 475, 587, 717, 2525]);
        assert_eq!(first_name(&settings, 25), "MSExchangeFrontEndTransport.exe");
        assert_eq!(first_name(&settings, 2525), "EdgeTransport.exe");
        assert_eq!(first_name(&settings, 475), "MSExchangeDelivery.exe");
        assert_eq!(
            summary(&settings),
            Some(("exchange2016", Source::CommandLine, true, true))
        );
    }

    #[test]
    fn port_restricts_a_profile_and_expect_replaces_its_owners() {
        let restricted = cli(&["--profile", "exchange2016", "--port", "25,2526"]);
        let restricted = resolve(&restricted, &env(None, None)).unwrap();
        assert_eq!(restricted.ports, vec![25, 2526]);
        assert_eq!(
            first_name(&restricted, 25),
            "MSExchangeFrontEndTransport.exe"
        );
        assert_eq!(restricted.expectations.for_port(2526).names().len(), 6);
        assert_eq!(
            summary(&restricted),
            Some(("exchange2016", Source::CommandLine, false, true))
        );

        let replaced = cli(&["--profile", "exchange2016", "--expect", "smtprelay"]);
        let replaced = resolve(&replaced, &env(None, None)).unwrap();
        assert_eq!(replaced.ports.len(), 6);
        for port in [25, 2525] {
            assert_eq!(
                replaced.expectations.for_port(port),
                &named_as(&["smtprelay"], Origin::Flag)
            );
        }
        assert_eq!(
            summary(&replaced),
            Some(("exchange2016", Source::CommandLine, true, false))
        );

        let overridden = cli(&["--profile", "postfix", "-p", "25", "-e", "master"]);
        let overridden = resolve(&overridden, &env(None, None)).unwrap();
        assert_eq!(overridden.profile, None, "a profile that decided nothing");
    }

    #[test]
    fn sources_rank_command_line_then_environment_then_file() {
        // A profile on the command line beats the environment's ports and names.
        let flag = resolve(
            &cli(&["--profile", "postfix"]),
            &env(Some("exim4"), Some("587")),
        )
        .unwrap();
        assert_eq!(flag.ports, vec![25]);
        assert_eq!(first_name(&flag, 25), "master");

        // PORTOWNER_PROFILE fills in what the command line leaves open.
        let from_env = resolve(&cli(&["--port", "2525"]), &with_profile("Exim")).unwrap();
        assert_eq!(from_env.ports, vec![2525]);
        assert_eq!(first_name(&from_env, 2525), "exim4");
        assert_eq!(
            summary(&from_env),
            Some(("exim", Source::Environment, false, true))
        );

        // The file's profile gives the ports; the environment's names win over its owners.
        let mut file = tempfile();
        let _ = writeln!(file.1, "profile = \"sendmail\"");
        let path = file.0.to_string_lossy().into_owned();
        let mixed = resolve(&cli(&["-c", &path]), &env(Some("smtprelay"), None)).unwrap();
        let _ = std::fs::remove_file(&file.0);
        assert_eq!(mixed.ports, vec![25, 587]);
        assert_eq!(
            mixed.expectations.for_port(587),
            &named_as(&["smtprelay"], Origin::Environment)
        );
        assert_eq!(
            summary(&mixed),
            Some(("sendmail", Source::ConfigFile, true, false))
        );
    }

    #[test]
    fn an_unknown_profile_is_a_usage_error_only_where_it_is_used() {
        let (message, exit) = refused(&cli(&[]), &with_profile("exchange2000"));
        assert!(
            message.starts_with("PORTOWNER_PROFILE: unknown profile"),
            "{message}"
        );
        assert!(message.contains("exchange2016, exchange2019"), "{message}");
        assert_eq!(exit, Some(2));

        let overridden = cli(&["--port", "25", "--expect", "master"]);
        assert!(resolve(&overridden, &with_profile("exchange2000")).is_ok());
    }

    #[test]
    fn list_is_a_request_of_the_flag_not_a_profile_to_use() {
        let (message, exit) = refused(&cli(&[]), &with_profile("list"));
        assert!(
            message.starts_with("PORTOWNER_PROFILE: 'list' is not a profile"),
            "{message}"
        );
        assert!(message.contains("portowner --profile list"), "{message}");
        assert_eq!(exit, Some(2));
    }

    #[test]
    fn expected_names_with_wildcards_are_refused_wherever_they_are_given() {
        let (message, exit) = refused(&cli(&["--expect", "mast*"]), &Environment::default());
        assert!(
            message.starts_with("--expect: 'mast*' has a wildcard"),
            "{message}"
        );
        assert_eq!(exit, Some(2));
        let (message, _) = refused(&cli(&[]), &env(Some("master,exim?"), None));
        assert!(
            message.starts_with("PORTOWNER_EXPECT: 'exim?'"),
            "{message}"
        );
    }

    #[test]
    fn diagnostic_variables_choose_the_method_and_reject_typos() {
        let default = resolve(&cli(&[]), &Environment::default()).ok();
        assert_eq!(default.map(|s| s.method), Some(Method::default()));
        let chosen = Environment {
            holder_search: Some("full".to_string()),
            socket_source: Some("procfs".to_string()),
            ..Environment::default()
        };
        let method = resolve(&cli(&[]), &chosen).ok().map(|s| s.method);
        assert_eq!(
            method,
            Some(Method {
                holder_search: HolderSearch::Full,
                socket_source: SocketSource::Procfs
            })
        );
        let typo = Environment {
            holder_search: Some("ful".to_string()),
            ..Environment::default()
        };
        let error = resolve(&cli(&[]), &typo).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("PORTOWNER_HOLDER_SEARCH")));
    }

    fn tempfile() -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!(
            "portowner-settings-{}-{:?}.toml",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = std::fs::File::create(&path).unwrap_or_else(|e| unreachable!("{e}"));
        (path, file)
    }
}
