//! The JSON report (schema in docs/json.md). Built from dedicated structs so that the
//! schema changes only on purpose; `schema_version` goes up when it does.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::build_info;
use crate::expectation::{Expectation, Origin};
use crate::judge::{HolderJudgement, ListenerJudgement, PortJudgement};
use crate::model::{Detail, Observation, Process};
use crate::report::Report;

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
    expectation: JsonExpectation,
    ports: Vec<JsonPort>,
    verdict: &'static str,
    exit_code: u8,
    advice: &'a [String],
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
struct JsonExpectation {
    kind: &'static str,
    names: Vec<String>,
    source: &'static str,
    description: String,
}

#[derive(Serialize)]
struct JsonPort {
    port: u16,
    verdict: &'static str,
    expectation: JsonExpectation,
    listeners: Vec<JsonListener>,
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

/// The report as one pretty-printed JSON document.
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
        expectation: expectation(&report.settings.expectations.default),
        ports: report
            .judgement
            .ports
            .iter()
            .map(|p| port(p, &report.observation))
            .collect(),
        verdict: report.judgement.verdict.as_str(),
        exit_code: report.exit().code(),
        advice: &report.advice,
    };
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| {
        format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"{e}\",\"exit_code\":1}}")
    })
}

fn expectation(expectation: &Expectation) -> JsonExpectation {
    let (kind, source) = match expectation {
        Expectation::Catalog => ("catalog", "built-in"),
        Expectation::Named { origin, .. } => (
            "named",
            match origin {
                Origin::Flag => "flag",
                Origin::Environment => "environment",
                Origin::ConfigFile => "config-file",
                Origin::Profile => "profile",
            },
        ),
    };
    JsonExpectation {
        kind,
        names: expectation.names(),
        source,
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
