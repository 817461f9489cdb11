//! What should own a port, and whether a process (or one of its ancestors) is that.
//!
//! An expectation is either a list of names the user gave (`--expect`, `PORTOWNER_EXPECT`,
//! the config file) or the built-in catalog of known SMTP servers. A name may be a process
//! name, an executable file name, a full executable path, or a service/unit name.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{Observation, Pid, Process};

/// A known SMTP server the catalog recognises without being told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownServer {
    /// The product, as administrators call it.
    pub product: &'static str,
    /// Process or executable names it runs as.
    pub names: &'static [&'static str],
    /// A word its executable path contains, where the bare name is too common (`master`).
    pub path_hint: Option<&'static str>,
    /// A word its executable path never contains: Postfix's `smtpd` is not OpenSMTPD.
    pub path_excludes: Option<&'static str>,
}

/// The built-in catalog, used when no expectation is given.
pub const CATALOG: [KnownServer; 7] = [
    KnownServer {
        product: "IIS SMTP / Exchange 2003",
        names: &["inetinfo.exe"],
        path_hint: None,
        path_excludes: None,
    },
    KnownServer {
        product: "Exchange 2007+ Transport",
        names: &["edgetransport.exe"],
        path_hint: None,
        path_excludes: None,
    },
    KnownServer {
        product: "Exchange 2013+ Front End Transport",
        names: &["msexchangefrontendtransport.exe"],
        path_hint: None,
        path_excludes: None,
    },
    KnownServer {
        product: "Postfix",
        names: &["master"],
        path_hint: Some("postfix"),
        path_excludes: None,
    },
    KnownServer {
        product: "Exim",
        names: &["exim4", "exim"],
        path_hint: None,
        path_excludes: None,
    },
    KnownServer {
        product: "Sendmail",
        names: &["sendmail", "sendmail-mta"],
        path_hint: None,
        path_excludes: None,
    },
    KnownServer {
        product: "OpenSMTPD",
        names: &["smtpd"],
        path_hint: None,
        path_excludes: Some("postfix"),
    },
];

/// Where a user-given expectation came from, so the output can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--expect` on the command line.
    Flag,
    /// The `PORTOWNER_EXPECT` environment variable.
    Environment,
    /// The config file given with `--config`.
    ConfigFile,
    /// A `--profile`: which one, and the role it expects on the port.
    Profile {
        /// The profile's name (`exchange2016`).
        profile: &'static str,
        /// The program it expects (`Front End Transport`).
        role: &'static str,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("--expect"),
            Origin::Environment => f.write_str("PORTOWNER_EXPECT"),
            Origin::ConfigFile => f.write_str("config file"),
            Origin::Profile { profile, role } => write!(f, "{role}, profile {profile}"),
        }
    }
}

/// What should own a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Any of these names, given by the user.
    Named {
        /// The names as typed.
        names: Vec<String>,
        /// Where they came from.
        origin: Origin,
    },
    /// Any server in the built-in catalog.
    Catalog,
}

impl Expectation {
    /// A short description for the report: `master (--expect)`, `known SMTP servers`.
    pub fn describe(&self) -> String {
        match self {
            Expectation::Named { names, origin } => {
                // Profiles list a name both as process and as service (exim4): say it once.
                let mut distinct: Vec<&str> = Vec::new();
                for name in names {
                    if !distinct.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                        distinct.push(name);
                    }
                }
                format!("{} ({origin})", distinct.join(" or "))
            }
            Expectation::Catalog => "a known SMTP server (built-in catalog)".to_string(),
        }
    }

    /// The names a user could recognise, for advice (`master`, `edgetransport.exe`, ...).
    pub fn names(&self) -> Vec<String> {
        match self {
            Expectation::Named { names, .. } => names.clone(),
            Expectation::Catalog => CATALOG
                .iter()
                .flat_map(|server| server.names.iter().map(|n| n.to_string()))
                .collect(),
        }
    }
}

/// Checks one expected name as typed (flag, variable or config file) and returns it trimmed.
/// Names are matched exactly, so an empty name or one with a wildcard could only ever give a
/// wrong verdict; both are refused with what to type instead.
pub fn check_name(typed: &str) -> Result<String, String> {
    const KINDS: &str = "a process name (master), an executable (edgetransport.exe), a full \
                         path or a service name";
    let name = typed.trim();
    if name.is_empty() {
        return Err(format!("an expected name is empty; give {KINDS}"));
    }
    if name.contains(['*', '?']) {
        return Err(format!(
            "'{name}' has a wildcard, but names are matched exactly; give {KINDS}"
        ));
    }
    Ok(name.to_string())
}

/// The expectation for each port: one for all, with per-port exceptions (profiles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// Used for every port without its own entry.
    pub default: Expectation,
    /// Ports with an expectation of their own.
    pub per_port: BTreeMap<u16, Expectation>,
}

impl Expectations {
    /// The same expectation for every port.
    pub fn uniform(default: Expectation) -> Self {
        Expectations {
            default,
            per_port: BTreeMap::new(),
        }
    }

    /// The expectation that applies to `port`.
    pub fn for_port(&self, port: u16) -> &Expectation {
        self.per_port.get(&port).unwrap_or(&self.default)
    }
}

/// How names compare on this platform: Windows file names ignore case and `.exe` is
/// optional; elsewhere names are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRules {
    /// Compare ignoring ASCII case.
    pub ignore_case: bool,
    /// Treat `x` and `x.exe` as the same name.
    pub optional_exe: bool,
}

impl NameRules {
    /// The rules of the platform portowner was built for.
    pub fn native() -> Self {
        if cfg!(windows) {
            NameRules::WINDOWS
        } else {
            NameRules::UNIX
        }
    }

    /// Windows: case-insensitive, `.exe` optional.
    pub const WINDOWS: NameRules = NameRules {
        ignore_case: true,
        optional_exe: true,
    };
    /// Unix: exact.
    pub const UNIX: NameRules = NameRules {
        ignore_case: false,
        optional_exe: false,
    };

    /// Brings a name to the form in which two equal names are equal strings.
    fn canonical(&self, name: &str) -> String {
        let mut name = if self.ignore_case {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        if self.optional_exe && name.len() > 4 && name.to_ascii_lowercase().ends_with(".exe") {
            name.truncate(name.len() - 4);
        }
        if self.ignore_case {
            name = name.replace('\\', "/");
        }
        name
    }

    fn same(&self, a: &str, b: &str) -> bool {
        self.canonical(a) == self.canonical(b)
    }
}

/// Why a holder satisfies the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Satisfaction {
    /// The expectation entry that matched: the typed name, or the catalog product.
    pub matched: String,
    /// The ancestor that matched, when it was not the holder itself.
    pub via_ancestor: Option<Pid>,
}

/// Whether the holder `pid` satisfies `expectation`, itself or through an ancestor.
pub fn satisfies(
    observation: &Observation,
    pid: Pid,
    expectation: &Expectation,
    rules: NameRules,
) -> Option<Satisfaction> {
    observation.lineage(pid).into_iter().find_map(|process| {
        let matched = match expectation {
            Expectation::Named { names, .. } => names
                .iter()
                .find(|name| matches_name(process, name, rules))
                .map(|name| name.to_string()),
            Expectation::Catalog => CATALOG
                .iter()
                .find(|server| matches_known(process, server, rules))
                .map(|server| server.product.to_string()),
        }?;
        let via_ancestor = (process.pid != pid).then_some(process.pid);
        Some(Satisfaction {
            matched,
            via_ancestor,
        })
    })
}

/// Whether `process` is what the user named: by path, name, executable name or service.
pub fn matches_name(process: &Process, wanted: &str, rules: NameRules) -> bool {
    let wanted = wanted.trim();
    if wanted.contains('/') || wanted.contains('\\') {
        return process
            .exe
            .known()
            .is_some_and(|exe| rules.same(&exe.to_string_lossy(), wanted));
    }
    process_names(process)
        .iter()
        .any(|name| rules.same(name, wanted))
        || process
            .services
            .iter()
            .any(|service| same_service(service, wanted))
}

/// Whether `process` is the catalog's `server`.
fn matches_known(process: &Process, server: &KnownServer, rules: NameRules) -> bool {
    let named = process_names(process)
        .iter()
        .any(|name| server.names.iter().any(|known| rules.same(name, known)));
    let path = process
        .exe
        .known()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let contains = |word: &str| path.as_deref().is_some_and(|p| p.contains(word));
    // An unreadable path cannot contradict the name; a readable one must agree with it.
    let hinted = server
        .path_hint
        .is_none_or(|hint| path.is_none() || contains(hint));
    let excluded = server.path_excludes.is_some_and(contains);
    named && hinted && !excluded
}

/// The names a process answers to: its reported name and its executable's file name.
fn process_names(process: &Process) -> Vec<String> {
    let mut names: Vec<String> = process.name.known().cloned().into_iter().collect();
    if let Some(file) = process.exe.known().and_then(|exe| exe.file_name()) {
        names.push(file.to_string_lossy().into_owned());
    }
    names
}

/// Service names ignore case, and a systemd unit matches with or without `.service`.
fn same_service(service: &str, wanted: &str) -> bool {
    let strip = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower
            .strip_suffix(".service")
            .map(str::to_string)
            .unwrap_or(lower)
    };
    strip(service) == strip(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Detail;

    fn process(pid: Pid, name: &str, exe: &str, parent: Option<Pid>) -> Process {
        Process::fake(pid, name, exe, parent)
    }

    fn observed(processes: Vec<Process>) -> Observation {
        Observation {
            processes: processes.into_iter().map(|p| (p.pid, p)).collect(),
            ..Observation::default()
        }
    }

    fn named(names: &[&str]) -> Expectation {
        Expectation::Named {
            names: names.iter().map(|n| n.to_string()).collect(),
            origin: Origin::Flag,
        }
    }

    #[test]
    fn windows_names_ignore_case_and_exe_suffix() {
        let edge = process(
            10,
            "EdgeTransport.exe",
            r"C:\Exchange\Bin\EdgeTransport.exe",
            None,
        );
        for wanted in [
            "edgetransport",
            "EDGETRANSPORT.EXE",
            r"c:\exchange\bin\edgetransport.exe",
        ] {
            assert!(matches_name(&edge, wanted, NameRules::WINDOWS), "{wanted}");
        }
        assert!(!matches_name(&edge, "edgetransport", NameRules::UNIX));
        assert!(!matches_name(&edge, "edge", NameRules::WINDOWS));
    }

    #[test]
    fn unix_names_are_exact_and_paths_are_full() {
        let master = process(1, "master", "/usr/lib/postfix/sbin/master", None);
        assert!(matches_name(&master, "master", NameRules::UNIX));
        assert!(matches_name(
            &master,
            "/usr/lib/postfix/sbin/master",
            NameRules::UNIX
        ));
        assert!(!matches_name(&master, "Master", NameRules::UNIX));
        assert!(!matches_name(&master, "/usr/sbin/master", NameRules::UNIX));
    }

    #[test]
    fn truncated_comm_is_matched_through_the_executable_name() {
        let mut long = process(
            7,
            "msexchangefron",
            "/opt/msexchangefrontendtransport",
            None,
        );
        long.name = Detail::Known("msexchangefron".to_string());
        assert!(matches_name(
            &long,
            "msexchangefrontendtransport",
            NameRules::UNIX
        ));
    }

    #[test]
    fn service_and_unit_names_match_case_insensitively() {
        let mut edge = process(5, "EdgeTransport.exe", r"C:\x\EdgeTransport.exe", None);
        edge.services = vec!["MSExchangeTransport".to_string()];
        assert!(matches_name(
            &edge,
            "msexchangetransport",
            NameRules::WINDOWS
        ));
        let mut master = process(5, "master", "/usr/lib/postfix/sbin/master", None);
        master.services = vec!["postfix@-.service".to_string()];
        assert!(matches_name(&master, "postfix@-", NameRules::UNIX));
    }

    #[test]
    fn a_child_satisfies_through_its_ancestor() {
        let obs = observed(vec![
            process(100, "master", "/usr/lib/postfix/sbin/master", Some(1)),
            process(200, "smtpd", "/usr/lib/postfix/sbin/smtpd", Some(100)),
        ]);
        let hit = satisfies(&obs, 200, &named(&["master"]), NameRules::UNIX);
        assert_eq!(
            hit,
            Some(Satisfaction {
                matched: "master".to_string(),
                via_ancestor: Some(100)
            })
        );
        assert_eq!(
            satisfies(&obs, 100, &named(&["exim4"]), NameRules::UNIX),
            None
        );
    }

    #[test]
    fn catalog_knows_the_usual_servers_and_not_a_stray_master() {
        let obs = observed(vec![
            process(1, "master", "/usr/lib/postfix/sbin/master", None),
            process(2, "master", "/opt/ci/bin/master", None),
            process(3, "exim4", "/usr/sbin/exim4", None),
            process(4, "nc", "/usr/bin/nc", None),
        ]);
        let product =
            |pid| satisfies(&obs, pid, &Expectation::Catalog, NameRules::UNIX).map(|s| s.matched);
        assert_eq!(product(1).as_deref(), Some("Postfix"));
        assert_eq!(product(2), None);
        assert_eq!(product(3).as_deref(), Some("Exim"));
        assert_eq!(product(4), None);
        let postfix_smtpd = observed(vec![process(
            5,
            "smtpd",
            "/usr/lib/postfix/sbin/smtpd",
            None,
        )]);
        let hit = satisfies(&postfix_smtpd, 5, &Expectation::Catalog, NameRules::UNIX);
        assert_eq!(hit, None, "Postfix's smtpd is not OpenSMTPD");
        let edge = observed(vec![process(
            9,
            "EdgeTransport.exe",
            r"C:\b\EdgeTransport.exe",
            None,
        )]);
        let hit = satisfies(&edge, 9, &Expectation::Catalog, NameRules::WINDOWS);
        assert_eq!(
            hit.map(|s| s.matched).as_deref(),
            Some("Exchange 2007+ Transport")
        );
    }

    #[test]
    fn lineage_stops_on_a_parent_loop() {
        let obs = observed(vec![
            process(1, "a", "/a", Some(2)),
            process(2, "b", "/b", Some(1)),
        ]);
        assert_eq!(obs.lineage(1).len(), 2);
        assert_eq!(satisfies(&obs, 1, &named(&["c"]), NameRules::UNIX), None);
    }

    #[test]
    fn per_port_expectations_fall_back_to_the_default() {
        let mut plan = Expectations::uniform(Expectation::Catalog);
        plan.per_port.insert(2525, named(&["edgetransport"]));
        assert_eq!(plan.for_port(25), &Expectation::Catalog);
        assert_eq!(plan.for_port(2525), &named(&["edgetransport"]));
    }
}
