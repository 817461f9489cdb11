//! The optional TOML config file given with `--config`:
//!
//! ```toml
//! ports = [25, "submission"]   # numbers or smtp / submission / smtps
//! expect = ["master"]          # names, executable paths or services
//! profile = "postfix"          # a profile (portowner --profile list); ports and expect
//!                              # in the same file override its ports and owners
//! ```
//!
//! Every problem is reported with the file and line, and is a usage error (exit 2).
#![forbid(unsafe_code)]

use std::fs;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;
use crate::expectation;
use crate::ports::parse_port;
use crate::profile::{self, Profile};

/// The settings a config file may hold; each is optional.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Ports to inspect.
    pub ports: Option<Vec<u16>>,
    /// Expected owner names.
    pub expect: Option<Vec<String>>,
    /// A profile, already looked up.
    pub profile: Option<&'static Profile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    ports: Option<Spanned<Vec<Spanned<RawPort>>>>,
    expect: Option<Spanned<Vec<Spanned<String>>>>,
    profile: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(i64),
    Name(String),
}

/// Why config text was refused: the 1-based line, when there is one, and the message.
pub type Failure = (Option<usize>, String);

/// Reads and checks the config file at `path`.
pub fn load(path: &Path) -> Result<ConfigFile, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        line: None,
        message: if e.kind() == std::io::ErrorKind::InvalidData {
            "is not UTF-8 text; save it as UTF-8 TOML".to_string()
        } else {
            format!("cannot be read ({e}); check the path and its permissions")
        },
    })?;
    parse(&text).map_err(|(line, message)| Error::Config {
        path: path.to_path_buf(),
        line,
        message,
    })
}

/// Parses config text; an error carries its 1-based line, when it has one.
pub fn parse(text: &str) -> Result<ConfigFile, Failure> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text, span.start));
        (
            line,
            format!(
                "{}; a config file holds `ports = [25, \"submission\"]`, `expect = [\"master\"]` \
                 and/or `profile = \"postfix\"`",
                e.message().trim_end()
            ),
        )
    })?;
    let ports = raw
        .ports
        .map(|ports| check_list(text, &ports, "ports = [25]", "inspect port 25", check_port))
        .transpose()?;
    let expect = raw
        .expect
        .map(|names| {
            let default = "use the built-in catalog of SMTP servers";
            check_list(text, &names, "expect = [\"master\"]", default, check_name)
        })
        .transpose()?;
    let profile = raw
        .profile
        .map(|name| check_profile(text, &name))
        .transpose()?;
    Ok(ConfigFile {
        ports,
        expect,
        profile,
    })
}

fn check_profile(text: &str, name: &Spanned<String>) -> Result<&'static Profile, Failure> {
    profile::lookup(name.get_ref()).map_err(|e| (Some(line_of(text, name.span().start)), e))
}

fn check_port(text: &str, port: &Spanned<RawPort>) -> Result<u16, Failure> {
    let typed = match port.get_ref() {
        RawPort::Number(n) => n.to_string(),
        RawPort::Name(name) => name.clone(),
    };
    parse_port(&typed).map_err(|e| (Some(line_of(text, port.span().start)), e.to_string()))
}

fn check_name(text: &str, name: &Spanned<String>) -> Result<String, Failure> {
    expectation::check_name(name.get_ref())
        .map_err(|message| (Some(line_of(text, name.span().start)), message))
}

/// Checks every item of a list setting. An empty list is refused: it says nothing, and
/// silently using the default (`without` the line) instead would hide the mistake.
fn check_list<T, U>(
    text: &str,
    list: &Spanned<Vec<Spanned<T>>>,
    example: &str,
    without: &str,
    check: fn(&str, &Spanned<T>) -> Result<U, Failure>,
) -> Result<Vec<U>, Failure> {
    if list.get_ref().is_empty() {
        let key = example.split(' ').next().unwrap_or(example);
        return Err((
            Some(line_of(text, list.span().start)),
            format!("`{key}` is an empty list; write `{example}`, or remove the line to {without}"),
        ));
    }
    list.get_ref()
        .iter()
        .map(|item| check(text, item))
        .collect()
}

/// The 1-based line that byte `offset` of `text` is on.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ports_and_expectations() {
        let text = "# mail host\nports = [25, \"submission\"]\nexpect = [\"master\"]\n";
        let config = parse(text);
        assert_eq!(
            config,
            Ok(ConfigFile {
                ports: Some(vec![25, 587]),
                expect: Some(vec!["master".into()]),
                profile: None,
            })
        );
        assert_eq!(parse(""), Ok(ConfigFile::default()));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("ports = [25]\nexpect = [\"master\"\n", 2),
            ("ports = [25]\n\nports = [587]\n", 3),
            ("expect = [\"x\"]\nport = [25]\n", 2),
            ("ports = [\n  25,\n  70000,\n]\n", 3),
            ("ports = [25]\nexpect = [\"  \"]\n", 2),
            ("ports = [\"imap\"]\n", 1),
            ("ports = [25]\nprofile = \"exchange2000\"\n", 2),
            ("profile = \"list\"\n", 1),
            ("# no ports\nports = []\n", 2),
            ("ports = [25]\nexpect = [\n]\n", 2),
            ("ports = [25]\nexpect = [\"mast*\"]\n", 2),
        ];
        for (text, line) in cases {
            let error = parse(text).err();
            assert_eq!(
                error.as_ref().and_then(|(l, _)| *l),
                Some(line),
                "{text:?}: {error:?}"
            );
        }
    }

    #[test]
    fn an_empty_list_says_what_to_write_instead() {
        let message = |text: &str| parse(text).err().map(|(_, m)| m).unwrap_or_default();
        let ports = message("ports = []\n");
        assert!(ports.contains("`ports` is an empty list"), "{ports}");
        assert!(
            ports.contains("ports = [25]") && ports.contains("port 25"),
            "{ports}"
        );
        let expect = message("expect = []\n");
        assert!(expect.contains("expect = [\"master\"]"), "{expect}");
        assert!(expect.contains("built-in catalog"), "{expect}");
        let list = message("profile = \"list\"\n");
        assert!(list.contains("'list' is not a profile"), "{list}");
    }

    #[test]
    fn reads_a_profile_ignoring_case() {
        let config = parse("profile = \"Exchange2016\"\n");
        let name = config.ok().and_then(|c| c.profile).map(|p| p.name);
        assert_eq!(name, Some("exchange2016"));
        let message = parse("profile = \"nope\"\n").err().map(|(_, m)| m);
        let message = message.unwrap_or_default();
        assert!(message.contains("exchange-edge, postfix"), "{message}");
    }

    #[test]
    fn unknown_keys_are_refused_with_a_hint() {
        let message = parse("prot = [25]\n")
            .err()
            .map(|(_, m)| m)
            .unwrap_or_default();
        assert!(
            message.contains("prot") && message.contains("expect = ["),
            "{message}"
        );
    }
}
