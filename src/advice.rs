//! Advice: what the administrator should do next, following the usual investigation of
//! "Expected service banner was not received": first the owner of the port, then whether the
//! service greets, then what sits in front of the server.
#![forbid(unsafe_code)]

use crate::banner::{BannerReport, Finding};
use crate::expectation::{Expectation, NameRules, Origin, satisfies};
use crate::judge::{Judgement, PortJudgement, Verdict};
use crate::model::{Observation, Pid};
use crate::profile::{self, Platform, Profile};
use crate::sanitize::for_terminal;

/// Advice for every port that needs it, most severe first, then warnings; a single line
/// about what lies in front of the server when all is well.
pub fn advise(judgement: &Judgement, observation: &Observation) -> Vec<String> {
    let mut ports: Vec<&PortJudgement> = judgement.ports.iter().collect();
    ports.sort_by_key(|p| std::cmp::Reverse(p.verdict.severity()));
    let mut advice: Vec<String> = ports
        .iter()
        .filter_map(|port| advise_port(port, judgement, observation))
        .collect();
    if advice.is_empty() {
        advice.push(all_well(judgement));
    }
    advice.extend(judgement.ports.iter().filter_map(slow_greeting));
    advice.extend(loopback_only(judgement));
    advice
}

fn all_well(judgement: &Judgement) -> String {
    let greeted = judgement.ports.iter().any(|p| !p.banners.is_empty());
    if !greeted {
        return "The expected process owns every inspected port. The greeting was not read \
                (--no-banner): run without it to check that the service answers."
            .to_string();
    }
    "This server is fine from inside: the expected process owns every inspected port and \
     greets. If a remote test still reports no banner, the fault is in front of it: a \
     firewall doing SMTP inspection, a NAT or port-forward to another host, or a mail relay. \
     Compare with --also-probe <the address the remote test used>."
        .to_string()
}

fn advise_port(port: &PortJudgement, judgement: &Judgement, obs: &Observation) -> Option<String> {
    match port.verdict {
        Verdict::Ok => None,
        Verdict::WrongOwner => Some(wrong_owner(port, obs)),
        Verdict::NotListening => Some(not_listening(port, judgement, obs)),
        Verdict::OwnerUnknown => Some(owner_unknown(port)),
        Verdict::NoBanner | Verdict::BadBanner => {
            let failed = port.banners.iter().find(|b| b.finding.is_failure())?;
            Some(bad_greeting(port, failed))
        }
    }
}

fn wrong_owner(port: &PortJudgement, observation: &Observation) -> String {
    // The principal holders first: `--expect` should name the process that opened the
    // socket, not a child that inherited it.
    let mut strangers: Vec<Pid> = Vec::new();
    let principal = port
        .listeners
        .iter()
        .flat_map(|l| l.principal_holders(observation));
    let holders = principal.chain(port.listeners.iter().flat_map(|l| l.holders.iter()));
    for holder in holders.filter(|h| h.satisfied.is_none() && !h.activation_only) {
        if !strangers.contains(&holder.pid) {
            strangers.push(holder.pid);
        }
    }
    let kernel = |pid: &u32| {
        let process = observation.processes.get(pid);
        process.is_some_and(|p| p.is_windows_kernel())
    };
    if strangers.iter().any(kernel) {
        return kernel_driver(port);
    }
    let described: Vec<String> = strangers
        .iter()
        .map(|&pid| describe_process(observation, pid))
        .collect();
    let first_name = strangers
        .first()
        .and_then(|pid| observation.processes.get(pid))
        .and_then(|p| p.name.known().map(|n| for_terminal(n)))
        .unwrap_or_else(|| "NAME".to_string());
    let why = strangers
        .first()
        .and_then(|&pid| role_mistake(port, observation, pid))
        .unwrap_or_else(|| {
            format!(
                "A mail relay, SMTP filter, antivirus mail proxy or a second mail server has \
                 taken the port, so connections to it go to that process instead of the mail \
                 server: stop it or move it to another port, then restart the mail service. {}",
                way_out(port, &first_name)
            )
        });
    format!(
        "Port {}: held by {}, not by {}. {why}",
        port.port,
        described.join(", "),
        port.expectation.describe()
    )
}

/// How to say that the holder is intended: with a profile in effect, the profile itself may
/// be the mistake, and `--expect` would replace its owners on every port.
fn way_out(port: &PortJudgement, name: &str) -> String {
    match profile_of(&port.expectation) {
        Some(profile) => format!(
            "If it is the intended owner, this may not be a {} server: choose the profile that \
             fits (portowner --profile list), or pass --expect {name}, which replaces the \
             profile's owners on every port.",
            profile.name
        ),
        None => format!("If it is the intended owner, pass --expect {name}."),
    }
}

/// When the holder is the profile's owner of other ports: the server's own component in the
/// wrong place, which on Exchange means a Receive connector created in the wrong service.
fn role_mistake(port: &PortJudgement, observation: &Observation, holder: Pid) -> Option<String> {
    let profile = profile_of(&port.expectation)?;
    let expected = profile.owner_for(port.port);
    let rules = NameRules::native();
    let actual = profile
        .ports
        .iter()
        .map(|p| &p.owner)
        .filter(|owner| *owner != expected)
        .find(|owner| {
            let wanted = profile.expectation_of(owner);
            satisfies(observation, holder, &wanted, rules).is_some()
        })?;
    let home: Vec<String> = profile
        .ports
        .iter()
        .filter(|p| &p.owner == actual)
        .map(|p| p.port.to_string())
        .collect();
    let noun = if home.len() > 1 { "ports" } else { "port" };
    let mut text = format!(
        "That is {}, which the {} profile expects on {noun} {}, not on {}: a role mistake.",
        actual.role,
        profile.name,
        home.join(" and "),
        port.port
    );
    if profile.platform == Platform::Windows {
        text.push_str(&format!(
            " A Receive connector created in the wrong transport service binds port {}: list \
             them with `Get-ReceiveConnector | Format-Table Name,TransportRole,Bindings`, then \
             move that connector to another port, or recreate it in {} \
             (New-ReceiveConnector -TransportRole), and restart both services.",
            port.port, expected.role
        ));
    }
    Some(text)
}

/// The profile that set a port's expectation, if one did.
fn profile_of(expectation: &Expectation) -> Option<&'static Profile> {
    match expectation {
        Expectation::Named {
            origin: Origin::Profile { profile, .. },
            ..
        } => profile::find(profile),
        _ => None,
    }
}

/// The Windows kernel (System, PID 4) holds the port: a kernel-mode driver listens, which
/// for a mail port is practically always HTTP.sys with a URL reservation or binding on it.
fn kernel_driver(port: &PortJudgement) -> String {
    let number = port.port;
    format!(
        "Port {number}: held by the Windows kernel (System, PID 4), not by {}: a kernel-mode \
         driver listens there, almost always HTTP.sys on behalf of IIS, WinRM, Reporting \
         Services or another program that registered an HTTP URL on port {number}. `netsh \
         http show servicestate view=requestq` names the process that registered it; remove \
         that site binding or URL reservation (`netsh http show urlacl`, `netsh http delete \
         urlacl url=...`) or move it to another port, then restart the mail service.",
        port.expectation.describe()
    )
}

fn not_listening(port: &PortJudgement, judgement: &Judgement, obs: &Observation) -> String {
    let wanted = match &port.expectation {
        Expectation::Catalog => "no SMTP server listens".to_string(),
        named => format!("nothing listens; expected {}", named.describe()),
    };
    let mut text = format!(
        "Port {}: {wanted}. {}; then check that it is configured to listen on port {}.",
        port.port,
        start_hint(port),
        port.port
    );
    if let Some(elsewhere) = listening_elsewhere(port, judgement, obs) {
        text.push_str(&format!(
            " The expected process listens on port {elsewhere} instead."
        ));
    }
    if port.port == 25 && expects_exchange_transport(&port.expectation) {
        text.push_str(
            " On an Exchange 2013+ Mailbox server the Transport service (EdgeTransport.exe) \
             listens on 2525 and Front End Transport owns 25: check such a server with its \
             profile (--profile exchange2016, or exchange2013, exchange2019, exchange-se).",
        );
    }
    text
}

/// How to start what should listen: the profile's service for this port when a profile set
/// the expectation, else the usual suspects of this platform.
fn start_hint(port: &PortJudgement) -> String {
    if let Some(profile) = profile_of(&port.expectation) {
        let owner = profile.owner_for(port.port);
        let log = match profile.platform {
            Platform::Windows => "its event log",
            Platform::Linux => "its log for why it did not bind",
        };
        return format!(
            "Start {} ({}) and read {log}",
            owner.role,
            owner.start_command(profile.platform)
        );
    }
    if cfg!(windows) {
        "Start the mail service (Start-Service MSExchangeFrontEndTransport or \
         MSExchangeTransport for Exchange, SMTPSVC for IIS SMTP) and read its event log"
            .to_string()
    } else {
        "Start the MTA (systemctl start postfix / exim4 / sendmail / opensmtpd, or \
         postfix start) and read its log for why it did not bind"
            .to_string()
    }
}

/// Another inspected port whose holder satisfies this port's expectation.
fn listening_elsewhere(
    port: &PortJudgement,
    judgement: &Judgement,
    obs: &Observation,
) -> Option<u16> {
    let rules = NameRules::native();
    judgement
        .ports
        .iter()
        .filter(|other| other.port != port.port)
        .find(|other| {
            let mut holders = other.listeners.iter().flat_map(|l| l.holders.iter());
            holders.any(|h| satisfies(obs, h.pid, &port.expectation, rules).is_some())
        })
        .map(|other| other.port)
}

fn expects_exchange_transport(expectation: &Expectation) -> bool {
    expectation
        .names()
        .iter()
        .any(|n| n.to_ascii_lowercase().starts_with("edgetransport"))
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

/// Advice for a greeting that failed although the owner is right (or unknown).
fn bad_greeting(port: &PortJudgement, greeting: &BannerReport) -> String {
    let at = format!("Port {} ({})", port.port, greeting.target);
    let error = for_terminal(greeting.error.as_deref().unwrap_or_default());
    match greeting.finding {
        Finding::Timeout => format!(
            "{at}: {error}. The service accepts connections but does not greet: it may be hung \
             (restart it), or it delays the greeting on purpose or by accident: slow \
             reverse-DNS lookups of clients (check the resolvers), tarpitting, Postfix \
             postscreen greet wait, Sendmail greet_pause, an Exim connect ACL delay, an \
             Exchange Receive connector tarpit. Check the service's log."
        ),
        Finding::Closed => format!(
            "{at}: {error} before any greeting. The service drops this client: access rules \
             (Postfix postscreen or smtpd restrictions, Exim host_reject_connection, Exchange \
             Receive connector remote IP ranges), a connection limit, or a crash; check its log."
        ),
        Finding::Refused => format!(
            "{at}: {error}, although a listener was seen: a local firewall (nftables/iptables, \
             Windows Firewall) rejects the connection, or the listener closed meanwhile."
        ),
        Finding::Rejected => format!(
            "{at}: the server refuses service with \"{}\". 421 means busy, shutting down or \
             too many connections; 554 means no SMTP service for this client (access rules, \
             block lists). Fix the condition it names, then test again.",
            quote(greeting)
        ),
        Finding::Masked => format!(
            "{at}: the greeting is masked (\"{}\"): SMTP inspection sits between portowner and \
             the server even on this host (a local antivirus or firewall mail scanner). \
             Disable its SMTP inspection; with it, EHLO fails and STARTTLS is stripped.",
            quote(greeting)
        ),
        Finding::NotSmtp | Finding::Ok => format!(
            "{at}: {error}. Something other than a plain SMTP server answers: check what the \
             port is for (implicit TLS answers only after a TLS handshake: openssl s_client \
             -connect {}).",
            greeting.target
        ),
    }
}

fn slow_greeting(port: &PortJudgement) -> Option<String> {
    let slow = port
        .banners
        .iter()
        .find(|b| b.slow && b.finding == Finding::Ok)?;
    Some(format!(
        "Warning: port {} ({}) greeted after {} ms. Remote testers give up after a few \
         seconds: check for slow reverse-DNS lookups or deliberate greeting delays.",
        port.port,
        slow.target,
        slow.greeting_ms.unwrap_or_default()
    ))
}

/// One warning for all the ports that listen on loopback addresses only.
fn loopback_only(judgement: &Judgement) -> Option<String> {
    let loopback = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        ip => ip.is_loopback(),
    };
    let ports: Vec<String> = judgement
        .ports
        .iter()
        .filter(|p| !p.listeners.is_empty())
        .filter(|p| p.listeners.iter().all(|l| loopback(l.address.ip())))
        .map(|p| p.port.to_string())
        .collect();
    let (word, list) = match ports.as_slice() {
        [] => return None,
        [one] => ("port", one.clone()),
        many => ("ports", many.join(", ")),
    };
    Some(format!(
        "Warning: {word} {list} listen{} on loopback only, so remote clients cannot reach \
         {}. Make the server listen on the public interface (Postfix inet_interfaces, Exim \
         local_interfaces, the Exchange Receive connector's bindings).",
        if ports.len() == 1 { "s" } else { "" },
        if ports.len() == 1 { "it" } else { "them" }
    ))
}

/// Compares greetings read at `--also-probe` addresses with this server's own: the one on
/// the same port, else any good one (a port-forward may map 25 to another port).
pub fn compare_greetings(judgement: &Judgement, extra: &[BannerReport]) -> Vec<String> {
    let good = || {
        judgement
            .ports
            .iter()
            .flat_map(|p| p.banners.iter())
            .filter(|b| b.finding == Finding::Ok)
    };
    extra
        .iter()
        .map(|remote| {
            let same_port = good().find(|b| b.target.port() == remote.target.port());
            compare(same_port.or_else(|| good().next()), remote)
        })
        .collect()
}

fn compare(local: Option<&BannerReport>, remote: &BannerReport) -> String {
    let at = remote.target;
    let Some(local) = local else {
        return format!(
            "At {at}: {} (\"{}\"). This server gives no good greeting itself, so fix that \
             first.",
            remote.finding,
            quote(remote)
        );
    };
    match remote.finding {
        Finding::Ok if host_of(remote) == host_of(local) => format!(
            "At {at}: the same greeting as this server (\"{}\"): the path from here to that \
             address is fine; if the remote test still fails, test from outside the network.",
            quote(remote)
        ),
        Finding::Ok => format!(
            "At {at}: a different server answers (\"{}\", this server says \"{}\"): that \
             address leads elsewhere, through a NAT or port-forward to another host, or a relay.",
            quote(remote),
            quote(local)
        ),
        Finding::Masked => format!(
            "At {at}: the greeting is masked (\"{}\") while this server's own is \"{}\": a \
             firewall doing SMTP inspection sits in between (Cisco PIX/ASA: no inspect esmtp / \
             no fixup protocol smtp).",
            quote(remote),
            quote(local)
        ),
        other => format!(
            "At {at}: {other} ({}) while this server greets locally: what is in between (a \
             firewall, NAT or port-forward, a relay) does not pass the connection to it.",
            for_terminal(remote.error.as_deref().unwrap_or_default())
        ),
    }
}

/// The greeting's host name: the first word after the code.
fn host_of(greeting: &BannerReport) -> Option<String> {
    let first = greeting.lines.first()?;
    first
        .get(4..)?
        .split_whitespace()
        .next()
        .map(str::to_ascii_lowercase)
}

/// The greeting text for quoting in advice: sanitised, one line, bounded.
pub fn quote(greeting: &BannerReport) -> String {
    let text = for_terminal(&greeting.lines.join(" / "));
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::banner::BannerReport;
    use crate::expectation::{Expectations, Origin};
    use crate::judge::judge;
    use crate::model::{Detail, Holders, Listener, Process};
    use std::net::SocketAddr;

    fn process(pid: u32, name: &str) -> Process {
        Process::fake(pid, name, &format!("/usr/sbin/{name}"), None)
    }

    fn greeting(target: &str, finding: Finding, line: &str) -> BannerReport {
        BannerReport {
            target: target.parse().unwrap(),
            finding,
            code: Some(220),
            lines: vec![line.to_string()],
            connect_ms: Some(1),
            greeting_ms: Some(2),
            error: Some("no complete greeting within 10 s".into()),
            slow: false,
        }
    }

    fn scene(holder: &str, wanted: &str, ports: &[u16], banners: &[BannerReport]) -> Vec<String> {
        let observation = Observation {
            listeners: vec![Listener {
                address: SocketAddr::from(([0, 0, 0, 0], 2525)),
                holders: Holders::Known(vec![7]),
            }],
            processes: [(7, process(7, holder))].into_iter().collect(),
            ..Observation::default()
        };
        let names = vec![wanted.to_string()];
        let plan = Expectations::uniform(Expectation::Named {
            names,
            origin: Origin::Flag,
        });
        let judgement = judge(&observation, ports, &plan, NameRules::UNIX, banners);
        advise(&judgement, &observation)
    }

    #[test]
    fn wrong_owner_names_the_holder_the_expectation_and_the_way_out() {
        let advice = scene("nc", "master", &[2525], &[]).join("\n");
        assert!(
            advice.contains("held by nc (PID 7, /usr/sbin/nc)"),
            "{advice}"
        );
        assert!(advice.contains("not by master (--expect)"), "{advice}");
        assert!(advice.contains("--expect nc"), "{advice}");
    }

    #[test]
    fn not_listening_points_at_the_port_the_expected_process_uses() {
        let advice = scene("edgetransport", "edgetransport", &[25, 2525], &[]).join("\n");
        assert!(
            advice.contains("Port 25: nothing listens; expected edgetransport (--expect)"),
            "{advice}"
        );
        assert!(advice.contains("listens on port 2525 instead"), "{advice}");
        assert!(advice.contains("Front End Transport owns 25"), "{advice}");
    }

    /// Advice for `ports` under `profile`, with `holder` (a process named so) on port 25.
    fn profiled(profile: &str, holder: Option<&str>, ports: &[u16]) -> String {
        let listeners = holder
            .map(|_| {
                ["0.0.0.0:25", "[::]:25"].map(|address| Listener {
                    address: address.parse().unwrap(),
                    holders: Holders::Known(vec![7]),
                })
            })
            .into_iter()
            .flatten()
            .collect();
        let processes = holder
            .map(|name| (7, process(7, name)))
            .into_iter()
            .collect();
        let observation = Observation {
            listeners,
            processes,
            ..Observation::default()
        };
        let plan = crate::profile::find(profile).unwrap().expectations();
        let judgement = judge(&observation, ports, &plan, NameRules::native(), &[]);
        advise(&judgement, &observation).join("\n")
    }

    #[test]
    fn a_profile_names_the_service_to_start() {
        let exchange = profiled("exchange2016", None, &[25]);
        assert!(
            exchange
                .contains("Start Front End Transport (Start-Service MSExchangeFrontEndTransport)"),
            "{exchange}"
        );
        assert!(exchange.contains("read its event log"), "{exchange}");
        let postfix = profiled("postfix", None, &[25]);
        assert!(
            postfix.contains("Start Postfix master (systemctl start postfix)"),
            "{postfix}"
        );
        let exim = profiled("exim", None, &[25]);
        assert!(exim.contains("systemctl start exim4 (or exim)"), "{exim}");
        let hub = profiled("exchange2010", None, &[25]);
        assert!(hub.contains("--profile exchange2016"), "{hub}");
    }

    #[test]
    fn a_role_mistake_is_named_with_the_way_to_find_the_connector() {
        let advice = profiled("exchange2019", Some("EdgeTransport.exe"), &[25]);
        assert!(
            advice.contains("That is Transport, which the exchange2019 profile expects on")
                && advice.contains("on ports 465 and 2525, not on 25: a role mistake"),
            "{advice}"
        );
        assert!(advice.contains("Get-ReceiveConnector"), "{advice}");
        assert!(!advice.contains("antivirus"), "not a stranger: {advice}");
        assert_eq!(
            advice.matches("held by EdgeTransport.exe (PID 7").count(),
            1,
            "two listeners of one process are one holder: {advice}"
        );

        let stranger = profiled("exchange2019", Some("smtprelay.exe"), &[25]);
        assert!(stranger.contains("antivirus"), "{stranger}");
        assert!(stranger.contains("--expect smtprelay.exe"), "{stranger}");
    }

    #[test]
    fn a_silent_right_owner_gets_greeting_delay_advice() {
        let silent = greeting("127.0.0.1:2525", Finding::Timeout, "");
        let advice = scene("master", "master", &[2525], &[silent]).join("\n");
        assert!(advice.contains("does not greet"), "{advice}");
        assert!(advice.contains("reverse-DNS"), "{advice}");
    }

    #[test]
    fn a_good_local_greeting_points_in_front_of_the_server() {
        let ok = greeting("127.0.0.1:2525", Finding::Ok, "220 mx.example ESMTP");
        let advice = scene("master", "master", &[2525], &[ok]).join("\n");
        assert!(advice.contains("fine from inside"), "{advice}");
        assert!(
            !advice.contains("loopback only"),
            "a wildcard listener is reachable: {advice}"
        );
    }

    #[test]
    fn comparisons_tell_masking_other_hosts_and_missing_greetings_apart() {
        let local = greeting("127.0.0.1:25", Finding::Ok, "220 mx.example ESMTP");
        let cases = [
            (
                greeting("192.0.2.1:25", Finding::Ok, "220 MX.example ready"),
                "the same greeting",
            ),
            (
                greeting("192.0.2.1:25", Finding::Ok, "220 other.example ESMTP"),
                "leads elsewhere",
            ),
            (
                greeting("192.0.2.1:25", Finding::Masked, "220 *******"),
                "SMTP inspection",
            ),
            (
                greeting("192.0.2.1:25", Finding::Timeout, ""),
                "does not pass the connection",
            ),
        ];
        for (remote, says) in cases {
            let text = compare(Some(&local), &remote);
            assert!(text.contains(says), "{text}");
        }
        assert!(compare(None, &local).contains("fix that first"));
    }

    #[test]
    fn quotes_are_sanitised_and_bounded() {
        let long = greeting(
            "127.0.0.1:25",
            Finding::Ok,
            &format!("220 \x1b[2J{}", "x".repeat(500)),
        );
        let quoted = quote(&long);
        assert!(!quoted.contains('\x1b') && quoted.ends_with("...") && quoted.len() < 130);
    }

    #[test]
    fn the_kernel_holding_the_port_points_at_http_sys() {
        let mut system = process(4, "System");
        system.exe = Detail::Unavailable("kernel".into());
        let observation = Observation {
            listeners: vec![Listener {
                address: SocketAddr::from(([0, 0, 0, 0], 25)),
                holders: Holders::Known(vec![4]),
            }],
            processes: [(4, system)].into_iter().collect(),
            ..Observation::default()
        };
        let plan = Expectations::uniform(Expectation::Catalog);
        let judgement = judge(&observation, &[25], &plan, NameRules::WINDOWS, &[]);
        let advice = advise(&judgement, &observation).join("\n");
        assert!(
            advice.contains("Windows kernel (System, PID 4)"),
            "{advice}"
        );
        assert!(advice.contains("HTTP.sys"), "{advice}");
        assert!(advice.contains("netsh http show servicestate"), "{advice}");
        assert!(!advice.contains("--expect System"), "{advice}");
    }
}
