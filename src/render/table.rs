//! The human-readable report: an ASCII table of listeners and holders, a verdict line per
//! port, and the advice. Everything the system supplied is sanitised before it is shown.
#![forbid(unsafe_code)]

use anstyle::{AnsiColor, Style};
use tabled::builder::Builder;
use tabled::settings::Style as TableStyle;

use crate::advice::quote;
use crate::banner::BannerReport;
use crate::judge::{HolderJudgement, ListenerJudgement, PortJudgement, Verdict};
use crate::model::{Detail, Observation, Process};
use crate::report::Report;
use crate::sanitize::for_terminal;

const HEADER: [&str; COLUMNS] = [
    "PORT",
    "ADDRESS",
    "PID",
    "PROCESS",
    "SERVICE",
    "USER",
    "EXECUTABLE",
    "EXPECTED",
];

/// Cells per row.
const COLUMNS: usize = 8;

/// The SERVICE cell of the Windows kernel (PID 4), which hosts drivers, not services.
const KERNEL_DRIVER: &str = "(kernel driver, e.g. HTTP.sys)";

/// The report as text; `colour` adds ANSI colour to the verdict words.
pub fn to_text(report: &Report, colour: bool) -> String {
    let mut builder = Builder::default();
    builder.push_record(HEADER);
    for port in &report.judgement.ports {
        for row in port_rows(port, &report.observation) {
            builder.push_record(row);
        }
    }
    let mut table = builder.build();
    table.with(TableStyle::psql());

    // Cells are padded to the column width; trailing blanks only get in the way of copying.
    let rendered = table.to_string();
    let mut text: String = rendered
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    text.push('\n');
    let greetings = report.judgement.ports.iter().flat_map(|p| p.banners.iter());
    for greeting in greetings {
        text.push_str(&greeting_line("greeting", greeting));
    }
    for greeting in &report.also_probed {
        text.push_str(&greeting_line("also-probe", greeting));
    }
    if report.judgement.ports.iter().any(|p| !p.banners.is_empty()) {
        text.push('\n');
    }
    for port in &report.judgement.ports {
        text.push_str(&verdict_line(port, &report.observation, colour));
        text.push('\n');
    }
    for advice in &report.advice {
        text.push_str(&format!("next: {advice}\n"));
    }
    text
}

fn port_rows(port: &PortJudgement, observation: &Observation) -> Vec<[String; COLUMNS]> {
    if port.listeners.is_empty() {
        return vec![placeholder_row(port.port, "-", "(nothing listening)", "-")];
    }
    port.listeners
        .iter()
        .flat_map(|l| listener_rows(port.port, l, observation))
        .collect()
}

fn listener_rows(
    port: u16,
    listener: &ListenerJudgement,
    obs: &Observation,
) -> Vec<[String; COLUMNS]> {
    let address = listener.address.to_string();
    if let Some(reason) = &listener.unknown {
        let label = format!("(unknown: {})", reason.code());
        return vec![placeholder_row(port, &address, &label, "?")];
    }
    listener
        .holders
        .iter()
        .map(|holder| holder_row(port, &address, holder, obs))
        .collect()
}

/// A row with no holder in it: `label` in the PROCESS column, `fill` in the others.
fn placeholder_row(port: u16, address: &str, label: &str, fill: &str) -> [String; COLUMNS] {
    let mut row: [String; COLUMNS] = std::array::from_fn(|_| fill.to_string());
    let [port_cell, address_cell, _, process_cell, ..] = &mut row;
    *port_cell = port.to_string();
    *address_cell = address.to_string();
    *process_cell = label.to_string();
    row
}

fn holder_row(
    port: u16,
    address: &str,
    holder: &HolderJudgement,
    obs: &Observation,
) -> [String; COLUMNS] {
    let process = obs.processes.get(&holder.pid);
    let shown = |detail: Option<&Detail<String>>| {
        detail
            .and_then(|d| d.known().map(|v| for_terminal(v)))
            .unwrap_or_else(|| "?".into())
    };
    let exe = process
        .and_then(|p| p.exe.known())
        .map(|e| for_terminal(&e.to_string_lossy()))
        .unwrap_or_else(|| "?".into());
    let mut name = shown(process.map(|p| &p.name));
    if process.is_some_and(|p| !p.alive) {
        name = "(exited)".to_string();
    }
    [
        port.to_string(),
        address.to_string(),
        holder.pid.to_string(),
        name,
        service_cell(process),
        shown(process.map(|p| &p.user)),
        exe,
        expected_cell(holder, obs),
    ]
}

/// The services (Windows) or systemd unit (Linux) of a holder, `-` when it has none.
fn service_cell(process: Option<&Process>) -> String {
    match process {
        Some(p) if p.is_windows_kernel() => KERNEL_DRIVER.to_string(),
        Some(p) if !p.services.is_empty() => for_terminal(&p.services.join(", ")),
        _ => "-".to_string(),
    }
}

fn expected_cell(holder: &HolderJudgement, obs: &Observation) -> String {
    match &holder.satisfied {
        Some(hit) => match hit.via_ancestor {
            Some(pid) => {
                let name = obs
                    .processes
                    .get(&pid)
                    .and_then(|p| p.name.known().cloned());
                format!(
                    "yes: via {} ({pid})",
                    for_terminal(&name.unwrap_or_default())
                )
            }
            None => format!("yes: {}", for_terminal(&hit.matched)),
        },
        None if holder.activation_only => "n/a: socket activation".to_string(),
        None => "NO".to_string(),
    }
}

fn verdict_line(port: &PortJudgement, obs: &Observation, colour: bool) -> String {
    let word = paint(port.verdict, colour);
    let expected = for_terminal(&port.expectation.describe());
    let detail = match port.verdict {
        Verdict::Ok | Verdict::WrongOwner => {
            format!("held by {}; expected {expected}", holders_of(port, obs))
        }
        Verdict::NotListening => format!("nothing listens; expected {expected}"),
        Verdict::OwnerUnknown => "something listens, but its holder is unknown".to_string(),
        Verdict::NoBanner | Verdict::BadBanner => {
            let failed = port.banners.iter().filter(|b| b.finding.is_failure());
            let at: Vec<String> = failed
                .map(|b| format!("{} at {}", b.finding, b.target))
                .collect();
            format!("the SMTP greeting failed: {}", at.join(", "))
        }
    };
    format!("port {}: {word} - {detail}", port.port)
}

/// `greeting 127.0.0.1:25: ok in 3 ms: 220 mx ESMTP`, sanitised.
fn greeting_line(label: &str, greeting: &BannerReport) -> String {
    let timing = match (greeting.greeting_ms, greeting.connect_ms) {
        (Some(ms), _) => format!(" in {ms} ms"),
        (None, Some(_)) => String::new(),
        (None, None) => " (no connection)".to_string(),
    };
    let slow = if greeting.slow { " (slow)" } else { "" };
    let said = if greeting.lines.is_empty() {
        greeting
            .error
            .as_deref()
            .map(for_terminal)
            .unwrap_or_default()
    } else {
        quote(greeting)
    };
    format!(
        "{label} {}: {}{timing}{slow}: {said}\n",
        greeting.target, greeting.finding
    )
}

/// The distinct first holders of a port's listeners: `master (PID 1234)`.
fn holders_of(port: &PortJudgement, obs: &Observation) -> String {
    let mut seen: Vec<String> = Vec::new();
    for listener in &port.listeners {
        let principal = listener.principal_holders(obs);
        let Some(holder) = principal.first().copied().or(listener.holders.first()) else {
            continue;
        };
        let name = obs
            .processes
            .get(&holder.pid)
            .and_then(|p| p.name.known().cloned());
        let text = format!(
            "{} (PID {})",
            for_terminal(&name.unwrap_or_default()),
            holder.pid
        );
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    seen.join(", ")
}

fn paint(verdict: Verdict, colour: bool) -> String {
    let word = verdict.as_str();
    if !colour {
        return word.to_string();
    }
    let tint = match verdict {
        Verdict::Ok => AnsiColor::Green,
        Verdict::OwnerUnknown => AnsiColor::Yellow,
        Verdict::NotListening | Verdict::WrongOwner => AnsiColor::Red,
        Verdict::NoBanner | Verdict::BadBanner => AnsiColor::Magenta,
    };
    let style = Style::new().fg_color(Some(tint.into())).bold();
    format!("{style}{word}{style:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expectation::{Expectation, Expectations, NameRules};
    use crate::model::{Holders, Listener, UnknownReason};
    use crate::report::Report;
    use std::path::PathBuf;

    fn sample() -> Report {
        let evil = Process {
            pid: 66,
            name: Detail::Known("ev\x1b[2Jil".to_string()),
            exe: Detail::Known(PathBuf::from("/tmp/ev\nil")),
            cmdline: Detail::Known(vec!["x".into()]),
            user: Detail::Unavailable("denied".into()),
            parent: None,
            services: vec![],
            alive: true,
        };
        let observation = Observation {
            listeners: vec![
                Listener {
                    address: "[::ffff:127.0.0.1]:25".parse().unwrap(),
                    holders: Holders::Known(vec![66]),
                },
                Listener {
                    address: "[::]:2525".parse().unwrap(),
                    holders: Holders::Unknown(UnknownReason::NotFound),
                },
            ],
            processes: [(66, evil)].into_iter().collect(),
            elevated: Some(true),
            notes: vec![],
        };
        report_of(observation, vec![25, 587, 2525], NameRules::UNIX)
    }

    /// The report on `observation`, judged against the built-in catalog.
    fn report_of(observation: Observation, ports: Vec<u16>, rules: NameRules) -> Report {
        let expectations = Expectations::uniform(Expectation::Catalog);
        Report::sample("mx", "linux", observation, ports, expectations, rules)
    }

    /// The trimmed cells of the table row whose PID cell is `pid`.
    fn cells<'a>(text: &'a str, pid: &str) -> Vec<&'a str> {
        text.lines()
            .map(|line| line.split('|').map(str::trim).collect::<Vec<_>>())
            .find(|cells| cells.get(2) == Some(&pid))
            .unwrap_or_else(|| panic!("no row for PID {pid}: {text}"))
    }

    /// A Windows holder of port 25 with the given PID, name and services.
    fn windows_holder(pid: u32, name: &str, services: &[&str]) -> Observation {
        let process = Process {
            pid,
            name: Detail::Known(name.to_string()),
            exe: Detail::Unavailable("access denied".into()),
            cmdline: Detail::Unavailable("access denied".into()),
            user: Detail::Unavailable("access denied".into()),
            parent: None,
            services: services.iter().map(|s| s.to_string()).collect(),
            alive: true,
        };
        Observation {
            listeners: vec![Listener {
                address: "0.0.0.0:25".parse().unwrap(),
                holders: Holders::Known(vec![pid]),
            }],
            processes: [(pid, process)].into_iter().collect(),
            elevated: Some(false),
            notes: vec![],
        }
    }

    #[test]
    fn text_is_ascii_without_control_characters() {
        let text = to_text(&sample(), false);
        assert!(
            text.chars().all(|c| c == '\n' || (' '..='~').contains(&c)),
            "{text}"
        );
        assert!(text.contains("ev\\x1b[2Jil"), "{text}");
        assert!(text.contains("[::ffff:127.0.0.1]:25"), "{text}");
        assert!(text.contains("[::]:2525"), "{text}");
        assert!(text.contains("port 25: wrong-owner"), "{text}");
        assert!(text.contains("port 587: not-listening"), "{text}");
        assert!(text.contains("port 2525: owner-unknown"), "{text}");
        assert!(text.contains("(unknown: not-found)"), "{text}");
        assert!(text.contains("next: Port 25: held by"), "{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!to_text(&sample(), false).contains('\x1b'));
        assert!(to_text(&sample(), true).contains("\x1b["));
    }

    #[test]
    fn services_have_their_own_column() {
        let edge = windows_holder(1300, "EdgeTransport.exe", &["MSExchangeTransport"]);
        let text = to_text(&report_of(edge, vec![25], NameRules::WINDOWS), false);
        assert_eq!(
            cells(&text, "PID")[3..6],
            ["PROCESS", "SERVICE", "USER"],
            "{text}"
        );
        assert_eq!(
            cells(&text, "1300")[3..7],
            ["EdgeTransport.exe", "MSExchangeTransport", "?", "?"],
            "unavailable details are `?`, the verdict comes from the name: {text}"
        );
        assert!(text.contains("port 25: ok"), "{text}");
        assert_eq!(
            cells(&to_text(&sample(), false), "66")[4],
            "-",
            "no services"
        );
    }

    #[test]
    fn the_kernel_is_shown_as_a_driver() {
        let kernel = windows_holder(4, "System", &[]);
        let text = to_text(&report_of(kernel, vec![25], NameRules::WINDOWS), false);
        assert_eq!(
            cells(&text, "4")[3..5],
            ["System", "(kernel driver, e.g. HTTP.sys)"],
            "{text}"
        );
        assert!(text.contains("port 25: wrong-owner"), "{text}");
        assert!(
            text.contains("next: Port 25: held by the Windows kernel"),
            "{text}"
        );
    }
}
