//! Resolving what the user asked for into the settings a run uses: the command line, then
//! the `PORTOWNER_*` environment variables, then the config file, then the defaults.
//! Nothing here touches the OS except reading the config file.

use crate::cli::{Cli, Format};
use crate::config::{self, ConfigFile};
use crate::error::Error;
use crate::expectation::{Expectation, Expectations, Origin};
use crate::os::{HolderSearch, Method, SocketSource};
use crate::ports::{DEFAULT_PORT, normalise, parse_port_list};

/// The environment variables portowner reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// `PORTOWNER_EXPECT`: expected owners, comma-separated.
    pub expect: Option<String>,
    /// `PORTOWNER_PORTS`: ports, comma-separated.
    pub ports: Option<String>,
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
            holder_search: read("PORTOWNER_HOLDER_SEARCH"),
            socket_source: read("PORTOWNER_SOCKET_SOURCE"),
        }
    }
}

/// Everything a run needs to know, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The ports to inspect, ascending, each once.
    pub ports: Vec<u16>,
    /// What should own them.
    pub expectations: Expectations,
    /// How to print the report.
    pub format: Format,
    /// Whether to explain attribution problems on stderr.
    pub verbose: bool,
    /// How the OS layer looks for sockets and holders (diagnostic variables only).
    pub method: Method,
}

/// Resolves the command line, environment and config file into [`Settings`].
pub fn resolve(cli: &Cli, env: &Environment) -> Result<Settings, Error> {
    let file = match &cli.config {
        Some(path) => config::load(path)?,
        None => ConfigFile::default(),
    };
    Ok(Settings {
        ports: resolve_ports(cli, env, &file)?,
        expectations: Expectations::uniform(resolve_expectation(cli, env, &file)?),
        format: cli.format,
        verbose: cli.verbose,
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

fn resolve_ports(cli: &Cli, env: &Environment, file: &ConfigFile) -> Result<Vec<u16>, Error> {
    let ports = if !cli.ports.is_empty() {
        cli.ports.concat()
    } else if let Some(text) = &env.ports {
        parse_port_list(text).map_err(|e| Error::Usage(format!("PORTOWNER_PORTS: {e}")))?
    } else if let Some(ports) = file.ports.as_ref().filter(|p| !p.is_empty()) {
        ports.clone()
    } else {
        vec![DEFAULT_PORT]
    };
    Ok(normalise(ports))
}

fn resolve_expectation(
    cli: &Cli,
    env: &Environment,
    file: &ConfigFile,
) -> Result<Expectation, Error> {
    if !cli.expect.is_empty() {
        return named(cli.expect.clone(), Origin::Flag, "--expect");
    }
    if let Some(text) = &env.expect {
        let names = text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from);
        return named(names.collect(), Origin::Environment, "PORTOWNER_EXPECT");
    }
    match &file.expect {
        Some(names) if !names.is_empty() => named(names.clone(), Origin::ConfigFile, "config"),
        _ => Ok(Expectation::Catalog),
    }
}

fn named(names: Vec<String>, origin: Origin, source: &str) -> Result<Expectation, Error> {
    let names: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err(Error::Usage(format!(
            "{source}: an expected name is empty; give a process name (master), an executable \
             (edgetransport.exe), a full path or a service name"
        )));
    }
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
        let bad_env = resolve(&cli(&[]), &env(None, Some("25,0")));
        assert_eq!(bad_env.err().map(|e| e.exit().code()), Some(2));
        let empty_flag = resolve(&cli(&["--expect", " "]), &Environment::default());
        assert_eq!(empty_flag.err().map(|e| e.exit().code()), Some(2));
        let missing = resolve(
            &cli(&["--config", "/nonexistent/portowner.toml"]),
            &env(None, None),
        );
        let message = missing
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("cannot be read"), "{message}");
        assert_eq!(missing.err().map(|e| e.exit().code()), Some(2));
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
