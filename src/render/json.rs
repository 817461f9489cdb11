//! The JSON report (schema in docs/json.md). Built from dedicated structs so that the
//! schema changes only on purpose; `schema_version` goes up when it does. The document is
//! UTF-8 without a BOM and, beyond that, pure ASCII: remote PowerShell decodes a native
//! program's output with the console code page, which garbles anything else.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::banner::BannerReport;
use crate::build_info;
use crate::expectation::{Expectation, Origin};
use crate::judge::{HolderJudgement, ListenerJudgement, PortJudgement};
use crate::model::{Detail, Observation, Process};
use crate::profile::{Owner, PROFILES, Platform, Profile};
use crate::report::Report;
use crate::settings::ChosenProfile;

/// Raised whenever a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    tool: Tool,
    host: Option<&'a str>,
    time: &'a str,
    os: &'a str,
    os_version: Option<&'a str>,
    elevated: Option<bool>,
    profile: Option<JsonChosenProfile>,
    expectation: JsonExpectation,
    ports: Vec<JsonPort>,
    also_probe: Vec<JsonBanner>,
    verdict: &'static str,
    exit_code: u8,
    advice: &'a [String],
}

#[derive(Serialize)]
struct JsonBanner {
    address: String,
    finding: &'static str,
    code: Option<u16>,
    lines: Vec<String>,
    text: String,
    connect_ms: Option<u64>,
    greeting_ms: Option<u64>,
    slow: bool,
    error: Option<String>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
    target: &'static str,
    build_profile: &'static str,
    rustc: &'static str,
}

#[derive(Serialize)]
struct JsonChosenProfile {
    name: &'static str,
    server: &'static str,
    source: &'static str,
    sets_ports: bool,
    sets_owners: bool,
}

#[derive(Serialize)]
struct JsonExpectation {
    kind: &'static str,
    names: Vec<String>,
    source: &'static str,
    profile: Option<&'static str>,
    role: Option<&'static str>,
    description: String,
}

#[derive(Serialize)]
struct JsonProfileList {
    schema_version: u32,
    profiles: Vec<JsonProfile>,
}

#[derive(Serialize)]
struct JsonProfile {
    name: &'static str,
    server: &'static str,
    platform: &'static str,
    ports: Vec<JsonPortOwner>,
    other_ports: JsonOwner,
    note: &'static str,
}

#[derive(Serialize)]
struct JsonPortOwner {
    port: u16,
    #[serde(flatten)]
    owner: JsonOwner,
}

#[derive(Serialize)]
struct JsonOwner {
    role: &'static str,
    executables: &'static [&'static str],
    services: &'static [&'static str],
}

#[derive(Serialize)]
struct JsonPort {
    port: u16,
    verdict: &'static str,
    expectation: JsonExpectation,
    listeners: Vec<JsonListener>,
    banner: Vec<JsonBanner>,
}

#[derive(Serialize)]
struct JsonListener {
    address: String,
    ip: String,
    family: &'static str,
    holders: Vec<JsonHolder>,
    owner_unknown: Option<JsonUnknown>,
}

#[derive(Serialize)]
struct JsonUnknown {
    reason: &'static str,
    explanation: String,
}

#[derive(Serialize)]
struct JsonHolder {
    pid: u32,
    name: Option<String>,
    exe: Option<String>,
    cmdline: Option<Vec<String>>,
    user: Option<String>,
    parent_pid: Option<u32>,
    services: Vec<String>,
    alive: bool,
    expected: bool,
    matched: Option<String>,
    via_ancestor_pid: Option<u32>,
    activation_only: bool,
    unavailable: BTreeMap<&'static str, String>,
}

/// The report as one pretty-printed JSON document, ASCII only.
pub fn to_json(report: &Report) -> String {
    let document = JsonReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: report.context.version,
            target: build_info::TARGET,
            build_profile: build_info::BUILD_PROFILE,
            rustc: build_info::RUSTC,
        },
        host: report.context.host.as_deref(),
        time: &report.context.time,
        os: report.context.os,
        os_version: report.context.os_version.as_deref(),
        elevated: report.observation.elevated,
        profile: report.settings.profile.as_ref().map(chosen_profile),
        expectation: expectation(&report.settings.expectations.default),
        ports: report
            .judgement
            .ports
            .iter()
            .map(|p| port(p, &report.observation))
            .collect(),
        also_probe: report.also_probed.iter().map(banner).collect(),
        verdict: report.judgement.verdict.as_str(),
        exit_code: report.exit().code(),
        advice: &report.advice,
    };
    let json = serde_json::to_string_pretty(&document).unwrap_or_else(|e| {
        format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"{e}\",\"exit_code\":1}}")
    });
    ascii_only(&json)
}

/// `json` with every non-ASCII character written as a `\uXXXX` escape (a surrogate pair
/// beyond the Basic Multilingual Plane). serde_json writes such characters only inside
/// strings, where the escape means the same character.
fn ascii_only(json: &str) -> String {
    let mut ascii = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            ascii.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let _ = write!(ascii, "\\u{unit:04x}");
        }
    }
    ascii
}

/// The profiles `--profile list` prints, as one JSON document.
pub fn profiles_to_json() -> String {
    let document = JsonProfileList {
        schema_version: SCHEMA_VERSION,
        profiles: PROFILES.iter().map(profile).collect(),
    };
    serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"{e}\"}}"))
}

fn profile(profile: &Profile) -> JsonProfile {
    JsonProfile {
        name: profile.name,
        server: profile.server,
        platform: match profile.platform {
            Platform::Windows => "windows",
            Platform::Linux => "linux",
        },
        ports: profile
            .ports
            .iter()
            .map(|p| JsonPortOwner {
                port: p.port,
                owner: owner(&p.owner),
            })
            .collect(),
        other_ports: owner(&profile.other_ports),
        note: profile.note,
    }
}

fn owner(owner: &Owner) -> JsonOwner {
    JsonOwner {
        role: owner.role,
        executables: owner.executables,
        services: owner.services,
    }
}

fn chosen_profile(chosen: &ChosenProfile) -> JsonChosenProfile {
    JsonChosenProfile {
        name: chosen.profile.name,
        server: chosen.profile.server,
        source: chosen.source.as_str(),
        sets_ports: chosen.sets_ports,
        sets_owners: chosen.sets_owners,
    }
}

fn expectation(expectation: &Expectation) -> JsonExpectation {
    let (kind, source, profile, role) = match expectation {
        Expectation::Catalog => ("catalog", "built-in", None, None),
        Expectation::Named { origin, .. } => match origin {
            Origin::Flag => ("named", "flag", None, None),
            Origin::Environment => ("named", "environment", None, None),
            Origin::ConfigFile => ("named", "config-file", None, None),
            Origin::Profile { profile, role } => ("named", "profile", Some(*profile), Some(*role)),
        },
    };
    JsonExpectation {
        kind,
        names: expectation.names(),
        source,
        profile,
        role,
        description: expectation.describe(),
    }
}

fn port(port: &PortJudgement, observation: &Observation) -> JsonPort {
    JsonPort {
        port: port.port,
        verdict: port.verdict.as_str(),
        expectation: expectation(&port.expectation),
        listeners: port
            .listeners
            .iter()
            .map(|l| listener(l, observation))
            .collect(),
        banner: port.banners.iter().map(banner).collect(),
    }
}

fn banner(greeting: &BannerReport) -> JsonBanner {
    JsonBanner {
        address: greeting.target.to_string(),
        finding: greeting.finding.as_str(),
        code: greeting.code,
        lines: greeting.lines.clone(),
        text: greeting.lines.join("\n"),
        connect_ms: greeting.connect_ms,
        greeting_ms: greeting.greeting_ms,
        slow: greeting.slow,
        error: greeting.error.clone(),
    }
}

fn listener(listener: &ListenerJudgement, observation: &Observation) -> JsonListener {
    JsonListener {
        address: listener.address.to_string(),
        ip: listener.address.ip().to_string(),
        family: if listener.address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        },
        holders: listener
            .holders
            .iter()
            .map(|h| holder(h, observation))
            .collect(),
        owner_unknown: listener.unknown.as_ref().map(|r| JsonUnknown {
            reason: r.code(),
            explanation: r.explain(),
        }),
    }
}

fn holder(holder: &HolderJudgement, observation: &Observation) -> JsonHolder {
    let process = observation
        .processes
        .get(&holder.pid)
        .cloned()
        .unwrap_or_else(|| Process::exited(holder.pid));
    let mut unavailable = BTreeMap::new();
    let mut take = |field: &'static str, detail: Detail<String>| match detail {
        Detail::Known(value) => Some(value),
        Detail::Unavailable(why) => {
            unavailable.insert(field, why);
            None
        }
    };
    let name = take("name", process.name);
    let user = take("user", process.user);
    let exe = take(
        "exe",
        map(process.exe, |p| p.to_string_lossy().into_owned()),
    );
    let cmdline = match process.cmdline {
        Detail::Known(args) => Some(args),
        Detail::Unavailable(why) => {
            unavailable.insert("cmdline", why);
            None
        }
    };
    JsonHolder {
        pid: holder.pid,
        name,
        exe,
        cmdline,
        user,
        parent_pid: process.parent,
        services: process.services,
        alive: process.alive,
        expected: holder.satisfied.is_some(),
        matched: holder.satisfied.as_ref().map(|s| s.matched.clone()),
        via_ancestor_pid: holder.satisfied.as_ref().and_then(|s| s.via_ancestor),
        activation_only: holder.activation_only,
        unavailable,
    }
}

fn map<T, U>(detail: Detail<T>, f: impl FnOnce(T) -> U) -> Detail<U> {
    match detail {
        Detail::Known(value) => Detail::Known(f(value)),
        Detail::Unavailable(why) => Detail::Unavailable(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expectation::{Expectations, NameRules};
    use crate::model::{Holders, Listener};

    /// EdgeTransport.exe as a non-elevated portowner sees it: name and PID from the socket
    /// table and snapshot, everything else refused.
    fn refused_edge_transport() -> Report {
        let why = "not readable: Access is denied.";
        let edge = Process {
            pid: 1300,
            name: Detail::Known("EdgeTransport.exe".to_string()),
            exe: Detail::Unavailable(why.to_string()),
            cmdline: Detail::Unavailable(why.to_string()),
            user: Detail::Unavailable(why.to_string()),
            parent: Some(1200),
            services: vec!["MSExchangeTransport".to_string()],
            alive: true,
        };
        let observation = Observation {
            listeners: vec![Listener {
                address: "[::]:25".parse().unwrap(),
                holders: Holders::Known(vec![1300]),
            }],
            processes: [(1300, edge)].into_iter().collect(),
            elevated: Some(false),
            notes: vec![],
        };
        let expectations = Expectations::uniform(Expectation::Named {
            names: vec!["msexchangetransport".to_string()],
            origin: Origin::Flag,
        });
        Report::sample(
            "ex01",
            "windows",
            observation,
            vec![25],
            expectations,
            NameRules::WINDOWS,
        )
    }

    #[test]
    fn non_ascii_is_escaped_and_means_the_same() {
        let original = serde_json::json!({"user": "J\u{fc}rgen", "banner": "220 \u{1f4e7} ok\x1b"});
        let ascii = ascii_only(&original.to_string());
        assert!(ascii.is_ascii() && !ascii.contains('\x1b'), "{ascii}");
        assert!(
            ascii.contains(r"J\u00fcrgen") && ascii.contains(r"\ud83d\udce7"),
            "{ascii}"
        );
        let back: serde_json::Value = serde_json::from_str(&ascii).expect("still JSON");
        assert_eq!(back, original);
    }

    #[test]
    fn refused_details_are_null_with_the_reason_and_the_verdict_uses_what_is_known() {
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&refused_edge_transport())).expect("the report is JSON");
        let holder = &json["ports"][0]["listeners"][0]["holders"][0];
        for field in ["exe", "cmdline", "user"] {
            assert!(holder[field].is_null(), "{field}: {holder}");
            assert!(
                holder["unavailable"][field]
                    .as_str()
                    .is_some_and(|why| why.contains("Access is denied")),
                "{field}: {holder}"
            );
        }
        assert_eq!(holder["name"], "EdgeTransport.exe");
        assert_eq!(holder["services"][0], "MSExchangeTransport");
        assert_eq!(holder["matched"], "msexchangetransport", "by service name");
        assert_eq!(
            (json["verdict"].as_str(), json["exit_code"].as_u64()),
            (Some("ok"), Some(0))
        );
        assert_eq!(json["elevated"], false);
    }
}
