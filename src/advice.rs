//! Advice: what the administrator should do next, following the usual investigation of
//! "Expected service banner was not received": first the owner of the port, then the
//! service itself, then what sits in front of the server.

use crate::expectation::Expectation;
use crate::judge::{Judgement, PortJudgement, Verdict};
use crate::model::Observation;
use crate::sanitize::for_terminal;

/// One piece of advice per port that needs it, most severe first; one line when all is well.
pub fn advise(judgement: &Judgement, observation: &Observation) -> Vec<String> {
    let mut ports: Vec<&PortJudgement> = judgement.ports.iter().collect();
    ports.sort_by_key(|p| std::cmp::Reverse(p.verdict.severity()));
    let mut advice: Vec<String> = ports
        .iter()
        .filter(|p| p.verdict != Verdict::Ok)
        .map(|port| advise_port(port, observation))
        .collect();
    if advice.is_empty() {
        advice.push(
            "The expected process owns every inspected port. If a remote test still reports no \
             banner, look in front of this server: a firewall doing SMTP inspection, a NAT or \
             port-forward to another host, or a mail relay."
                .to_string(),
        );
    }
    advice
}

fn advise_port(port: &PortJudgement, observation: &Observation) -> String {
    match port.verdict {
        Verdict::WrongOwner => wrong_owner(port, observation),
        Verdict::NotListening => not_listening(port),
        Verdict::OwnerUnknown => owner_unknown(port),
        Verdict::Ok => String::new(),
    }
}

fn wrong_owner(port: &PortJudgement, observation: &Observation) -> String {
    let strangers: Vec<String> = port
        .listeners
        .iter()
        .flat_map(|l| l.holders.iter())
        .filter(|h| h.satisfied.is_none() && !h.activation_only)
        .map(|h| describe_process(observation, h.pid))
        .collect();
    let first_name = port
        .listeners
        .iter()
        .flat_map(|l| l.holders.iter())
        .find(|h| h.satisfied.is_none() && !h.activation_only)
        .and_then(|h| observation.processes.get(&h.pid))
        .and_then(|p| p.name.known().map(|n| for_terminal(n)))
        .unwrap_or_else(|| "NAME".to_string());
    format!(
        "Port {}: held by {}, not by {}. A mail relay, SMTP filter, antivirus proxy or second \
         mail server has taken the port: stop or reconfigure it so the mail server can bind \
         the port. If it is the intended owner, pass --expect {first_name}.",
        port.port,
        strangers.join(", "),
        port.expectation.describe()
    )
}

fn not_listening(port: &PortJudgement) -> String {
    let start = if cfg!(windows) {
        "start the mail service (Start-Service MSExchangeTransport, or SMTPSVC for IIS SMTP)"
    } else {
        "start the MTA (e.g. systemctl start postfix, or postfix start) and check its log"
    };
    let wanted = match &port.expectation {
        Expectation::Catalog => "no SMTP server".to_string(),
        named => format!("nothing ({} expected)", named.describe()),
    };
    format!(
        "Port {}: {wanted} listens. {}; then check that it is configured to listen on port {}.",
        port.port,
        capitalise(start),
        port.port
    )
}

fn owner_unknown(port: &PortJudgement) -> String {
    let reason = port
        .listeners
        .iter()
        .find_map(|l| l.unknown.as_ref())
        .map(|r| r.explain())
        .unwrap_or_default();
    format!(
        "Port {}: something listens but its holder is unknown: {reason}.",
        port.port
    )
}

/// `nc (PID 20, /usr/bin/nc)`, sanitised for a terminal.
pub fn describe_process(observation: &Observation, pid: u32) -> String {
    let Some(process) = observation.processes.get(&pid) else {
        return format!("PID {pid}");
    };
    let name = process
        .name
        .known()
        .map(|n| for_terminal(n))
        .unwrap_or_else(|| "?".into());
    match process.exe.known() {
        Some(exe) => format!(
            "{name} (PID {pid}, {})",
            for_terminal(&exe.to_string_lossy())
        ),
        None => format!("{name} (PID {pid})"),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
