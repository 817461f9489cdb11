//! Judging: from what was observed and what was expected, a verdict per port and overall.
//! Pure functions over plain data; the OS is not touched here.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use crate::banner::{BannerReport, Finding};
use crate::exit::Exit;
use crate::expectation::{Expectation, Expectations, NameRules, Satisfaction, satisfies};
use crate::model::{Holders, Observation, Pid, UnknownReason};

/// The verdict on one port, or on the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every listener is held by a process that satisfies the expectation.
    Ok,
    /// Something listens, but who holds it could not be told.
    OwnerUnknown,
    /// Nothing listens on the port.
    NotListening,
    /// A listener is held by a process that does not satisfy the expectation.
    WrongOwner,
    /// The owner is fine (or unknown) but no greeting came: timeout, closed, refused.
    NoBanner,
    /// The owner is fine (or unknown) but the greeting is bad: rejected, masked, not SMTP.
    BadBanner,
}

impl Verdict {
    /// Rank for "most severe wins": wrong-owner > not-listening > bad-banner = no-banner >
    /// owner-unknown > ok.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::OwnerUnknown => 1,
            Verdict::NoBanner | Verdict::BadBanner => 2,
            Verdict::NotListening => 3,
            Verdict::WrongOwner => 4,
        }
    }

    /// The exit code this verdict ends the run with.
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Ok => Exit::Ok,
            Verdict::OwnerUnknown => Exit::OwnerUnknown,
            Verdict::NotListening => Exit::NotListening,
            Verdict::WrongOwner => Exit::WrongOwner,
            Verdict::NoBanner | Verdict::BadBanner => Exit::BannerProblem,
        }
    }

    /// The name used in the table and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::OwnerUnknown => "owner-unknown",
            Verdict::NotListening => "not-listening",
            Verdict::WrongOwner => "wrong-owner",
            Verdict::NoBanner => "no-banner",
            Verdict::BadBanner => "bad-banner",
        }
    }
}

/// One holder of a listener and whether it is the expected process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderJudgement {
    /// The holder's PID (its details are in the observation).
    pub pid: Pid,
    /// Why it satisfies the expectation, or `None` if it does not.
    pub satisfied: Option<Satisfaction>,
    /// True for the service manager (systemd) holding the socket for socket activation
    /// beside the real server; it does not decide the verdict then.
    pub activation_only: bool,
}

/// One listening socket, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerJudgement {
    /// The address it is bound to.
    pub address: SocketAddr,
    /// Its holders; empty when they are unknown.
    pub holders: Vec<HolderJudgement>,
    /// Why the holders are unknown, when they are.
    pub unknown: Option<UnknownReason>,
}

impl ListenerJudgement {
    /// The holders whose parent does not hold the same socket: the process that opened it
    /// (Postfix `master`), not the children that inherited it (`smtpd`).
    pub fn principal_holders(&self, observation: &Observation) -> Vec<&HolderJudgement> {
        let holds = |pid: Pid| self.holders.iter().any(|h| h.pid == pid);
        self.holders
            .iter()
            .filter(|h| {
                let parent = observation.processes.get(&h.pid).and_then(|p| p.parent);
                !parent.is_some_and(holds)
            })
            .collect()
    }

    /// Whether a holder that is not the expected process holds this socket.
    pub fn has_wrong_holder(&self) -> bool {
        self.holders
            .iter()
            .any(|h| h.satisfied.is_none() && !h.activation_only)
    }
}

/// One port, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct PortJudgement {
    /// The port number.
    pub port: u16,
    /// What was expected to own it.
    pub expectation: Expectation,
    /// Its listening sockets.
    pub listeners: Vec<ListenerJudgement>,
    /// The greetings read from its listening addresses; empty with `--no-banner`.
    pub banners: Vec<BannerReport>,
    /// The verdict for this port.
    pub verdict: Verdict,
}

/// The whole run, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// One entry per inspected port, in ascending order.
    pub ports: Vec<PortJudgement>,
    /// The most severe port verdict.
    pub verdict: Verdict,
}

/// Judges every port in `ports` against what was observed and the greetings read.
pub fn judge(
    observation: &Observation,
    ports: &[u16],
    expectations: &Expectations,
    rules: NameRules,
    banners: &[BannerReport],
) -> Judgement {
    let ports: Vec<PortJudgement> = ports
        .iter()
        .map(|&port| {
            let mut judged = judge_port(observation, port, expectations.for_port(port), rules);
            judged.banners = banners
                .iter()
                .filter(|b| b.target.port() == port)
                .cloned()
                .collect();
            judged.verdict = with_greeting(judged.verdict, &judged.banners);
            judged
        })
        .collect();
    let verdict = most_severe(ports.iter().map(|p| p.verdict));
    Judgement { ports, verdict }
}

/// The most severe of some verdicts; `Ok` when there are none.
pub fn most_severe(verdicts: impl Iterator<Item = Verdict>) -> Verdict {
    verdicts.max_by_key(|v| v.severity()).unwrap_or(Verdict::Ok)
}

fn judge_port(
    observation: &Observation,
    port: u16,
    expectation: &Expectation,
    rules: NameRules,
) -> PortJudgement {
    let listeners: Vec<ListenerJudgement> = observation
        .listeners
        .iter()
        .filter(|l| l.address.port() == port)
        .map(|l| match &l.holders {
            Holders::Known(pids) => ListenerJudgement {
                address: l.address,
                holders: judge_holders(observation, pids, expectation, rules),
                unknown: None,
            },
            Holders::Unknown(reason) => ListenerJudgement {
                address: l.address,
                holders: Vec::new(),
                unknown: Some(reason.clone()),
            },
        })
        .collect();
    let verdict = port_verdict(&listeners);
    PortJudgement {
        port,
        expectation: expectation.clone(),
        listeners,
        banners: Vec::new(),
        verdict,
    }
}

fn judge_holders(
    observation: &Observation,
    pids: &[Pid],
    expectation: &Expectation,
    rules: NameRules,
) -> Vec<HolderJudgement> {
    let mut holders: Vec<HolderJudgement> = pids
        .iter()
        .map(|&pid| HolderJudgement {
            pid,
            satisfied: satisfies(observation, pid, expectation, rules),
            activation_only: false,
        })
        .collect();
    let real_server_present = holders.iter().any(|h| h.satisfied.is_some());
    for holder in holders.iter_mut().filter(|h| h.satisfied.is_none()) {
        holder.activation_only = real_server_present && is_service_manager(observation, holder.pid);
    }
    holders
}

/// PID 1 named systemd or init: it holds sockets it activates services for.
fn is_service_manager(observation: &Observation, pid: Pid) -> bool {
    let name = observation
        .processes
        .get(&pid)
        .and_then(|p| p.name.known().cloned());
    pid == 1 && matches!(name.as_deref(), Some("systemd" | "init"))
}

/// A failed greeting outranks `ok` and `owner-unknown` (it is a known problem), never a
/// wrong owner or an empty port.
fn with_greeting(owner_verdict: Verdict, banners: &[BannerReport]) -> Verdict {
    if !matches!(owner_verdict, Verdict::Ok | Verdict::OwnerUnknown) {
        return owner_verdict;
    }
    let findings = || banners.iter().map(|b| b.finding);
    if findings().any(|f| f.is_bad_banner()) {
        Verdict::BadBanner
    } else if findings().any(|f: Finding| f.is_no_banner()) {
        Verdict::NoBanner
    } else {
        owner_verdict
    }
}

fn port_verdict(listeners: &[ListenerJudgement]) -> Verdict {
    if listeners.is_empty() {
        Verdict::NotListening
    } else if listeners.iter().any(ListenerJudgement::has_wrong_holder) {
        Verdict::WrongOwner
    } else if listeners.iter().any(|l| l.unknown.is_some()) {
        Verdict::OwnerUnknown
    } else {
        Verdict::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expectation::Origin;
    use crate::model::{Detail, Listener, Process};
    use std::path::PathBuf;

    fn process(pid: Pid, name: &str, parent: Option<Pid>) -> Process {
        Process::fake(pid, name, &format!("/usr/sbin/{name}"), parent)
    }

    fn listener(address: &str, holders: Holders) -> Listener {
        Listener {
            address: address.parse().unwrap_or_else(|_| unreachable!()),
            holders,
        }
    }

    fn expect(name: &str) -> Expectations {
        Expectations::uniform(Expectation::Named {
            names: vec![name.to_string()],
            origin: Origin::Flag,
        })
    }

    fn scene(listeners: Vec<Listener>) -> Observation {
        let processes = [
            process(1, "systemd", None),
            process(10, "exim4", Some(1)),
            process(11, "exim4", Some(10)),
            process(20, "nc", Some(1)),
        ];
        Observation {
            listeners,
            processes: processes.into_iter().map(|p| (p.pid, p)).collect(),
            ..Observation::default()
        }
    }

    fn verdict_of(listeners: Vec<Listener>, wanted: &str) -> Verdict {
        judge(
            &scene(listeners),
            &[25],
            &expect(wanted),
            NameRules::UNIX,
            &[],
        )
        .verdict
    }

    #[test]
    fn verdict_table() {
        let known = |pids: &[Pid]| Holders::Known(pids.to_vec());
        let denied = || Holders::Unknown(UnknownReason::AccessDenied { socket_user: None });
        let cases: Vec<(Vec<Listener>, &str, Verdict)> = vec![
            (vec![], "exim4", Verdict::NotListening),
            (
                vec![listener("0.0.0.0:25", known(&[10]))],
                "exim4",
                Verdict::Ok,
            ),
            (
                vec![listener("0.0.0.0:25", known(&[10, 11]))],
                "exim4",
                Verdict::Ok,
            ),
            (
                vec![listener("0.0.0.0:25", known(&[20]))],
                "exim4",
                Verdict::WrongOwner,
            ),
            (
                vec![
                    listener("[::]:25", known(&[10])),
                    listener("0.0.0.0:25", known(&[20])),
                ],
                "exim4",
                Verdict::WrongOwner,
            ),
            (
                vec![listener("0.0.0.0:25", denied())],
                "exim4",
                Verdict::OwnerUnknown,
            ),
            (
                vec![
                    listener("0.0.0.0:25", denied()),
                    listener("[::]:25", known(&[20])),
                ],
                "exim4",
                Verdict::WrongOwner,
            ),
            (
                vec![listener("0.0.0.0:25", known(&[1, 10]))],
                "exim4",
                Verdict::Ok,
            ),
            (
                vec![listener("0.0.0.0:25", known(&[1]))],
                "exim4",
                Verdict::WrongOwner,
            ),
            (
                vec![listener("0.0.0.0:587", known(&[20]))],
                "exim4",
                Verdict::NotListening,
            ),
        ];
        for (listeners, wanted, verdict) in cases {
            let shown = format!("{listeners:?}");
            assert_eq!(verdict_of(listeners, wanted), verdict, "{shown}");
        }
    }

    fn greeting(port: u16, finding: Finding) -> BannerReport {
        BannerReport {
            target: SocketAddr::from(([127, 0, 0, 1], port)),
            finding,
            code: None,
            lines: vec![],
            connect_ms: Some(0),
            greeting_ms: None,
            error: None,
            slow: false,
        }
    }

    #[test]
    fn greeting_findings_turn_into_banner_verdicts() {
        let cases = [
            (Holders::Known(vec![10]), Finding::Ok, Verdict::Ok),
            (
                Holders::Known(vec![10]),
                Finding::Timeout,
                Verdict::NoBanner,
            ),
            (Holders::Known(vec![10]), Finding::Closed, Verdict::NoBanner),
            (
                Holders::Known(vec![10]),
                Finding::Refused,
                Verdict::NoBanner,
            ),
            (
                Holders::Known(vec![10]),
                Finding::Rejected,
                Verdict::BadBanner,
            ),
            (
                Holders::Known(vec![10]),
                Finding::Masked,
                Verdict::BadBanner,
            ),
            (
                Holders::Known(vec![10]),
                Finding::NotSmtp,
                Verdict::BadBanner,
            ),
            (
                Holders::Known(vec![20]),
                Finding::Timeout,
                Verdict::WrongOwner,
            ),
            (
                Holders::Unknown(UnknownReason::NotFound),
                Finding::Ok,
                Verdict::OwnerUnknown,
            ),
            (
                Holders::Unknown(UnknownReason::NotFound),
                Finding::Closed,
                Verdict::NoBanner,
            ),
        ];
        for (holders, finding, verdict) in cases {
            let obs = scene(vec![listener("127.0.0.1:25", holders.clone())]);
            let banners = [greeting(25, finding), greeting(587, Finding::Timeout)];
            let judged = judge(&obs, &[25], &expect("exim4"), NameRules::UNIX, &banners);
            assert_eq!(judged.verdict, verdict, "{holders:?} {finding:?}");
            assert_eq!(judged.ports[0].banners.len(), 1, "only port 25's greeting");
        }
    }

    #[test]
    fn severity_order_is_wrong_owner_then_not_listening_then_unknown_then_ok() {
        use Verdict::*;
        assert_eq!(most_severe([Ok, OwnerUnknown].into_iter()), OwnerUnknown);
        assert_eq!(most_severe([OwnerUnknown, NoBanner].into_iter()), NoBanner);
        assert_eq!(
            most_severe([BadBanner, NotListening].into_iter()),
            NotListening
        );
        assert_eq!(
            most_severe([OwnerUnknown, NotListening].into_iter()),
            NotListening
        );
        assert_eq!(
            most_severe([NotListening, WrongOwner, Ok].into_iter()),
            WrongOwner
        );
        assert_eq!(most_severe(std::iter::empty()), Ok);
    }

    #[test]
    fn verdicts_map_to_their_exit_codes() {
        assert_eq!(Verdict::Ok.exit().code(), 0);
        assert_eq!(Verdict::NotListening.exit().code(), 3);
        assert_eq!(Verdict::WrongOwner.exit().code(), 4);
        assert_eq!(Verdict::OwnerUnknown.exit().code(), 5);
        assert_eq!(Verdict::NoBanner.exit().code(), 6);
        assert_eq!(Verdict::BadBanner.exit().code(), 6);
    }

    /// A process as Exchange runs it, with the services the OS layer would name.
    fn exchange_process(pid: Pid, exe: &str, parent: Option<Pid>, services: &[&str]) -> Process {
        let path = format!(r"C:\Program Files\Microsoft\Exchange Server\V15\Bin\{exe}");
        Process {
            exe: Detail::Known(PathBuf::from(path)),
            services: services.iter().map(|s| s.to_string()).collect(),
            user: Detail::Known("NT AUTHORITY\\NETWORK SERVICE".to_string()),
            ..process(pid, exe, parent)
        }
    }

    /// An Exchange 2016 Mailbox server whose port 25 is held by `holder_of_25`.
    fn mailbox_server(holder_of_25: Pid) -> Observation {
        let processes = [
            exchange_process(
                500,
                "MSExchangeTransport.exe",
                None,
                &["MSExchangeTransport"],
            ),
            exchange_process(510, "EdgeTransport.exe", Some(500), &[]),
            exchange_process(
                600,
                "MSExchangeFrontEndTransport.exe",
                None,
                &["MSExchangeFrontEndTransport"],
            ),
        ];
        let held = |port: u16, pid: Pid| Listener {
            address: SocketAddr::from(([0, 0, 0, 0], port)),
            holders: Holders::Known(vec![pid]),
        };
        Observation {
            listeners: vec![held(25, holder_of_25), held(587, 600), held(2525, 510)],
            processes: processes.into_iter().map(|p| (p.pid, p)).collect(),
            ..Observation::default()
        }
    }

    #[test]
    fn a_profile_makes_a_role_mistake_a_wrong_owner() {
        let profile = crate::profile::find("exchange2016").unwrap();
        let plan = profile.expectations();
        let ports = [25, 587, 2525];
        let verdicts = |obs: &Observation, plan: &Expectations| -> Vec<(u16, Verdict)> {
            judge(obs, &ports, plan, NameRules::WINDOWS, &[])
                .ports
                .iter()
                .map(|p| (p.port, p.verdict))
                .collect()
        };

        // Transport (a Receive connector created with the wrong role) holds 25.
        let mistaken = mailbox_server(510);
        assert_eq!(
            verdicts(&mistaken, &plan),
            vec![
                (25, Verdict::WrongOwner),
                (587, Verdict::Ok),
                (2525, Verdict::Ok)
            ]
        );
        // The catalog knows both as Exchange and cannot tell the roles apart.
        let catalog = Expectations::uniform(Expectation::Catalog);
        assert_eq!(verdicts(&mistaken, &catalog)[0], (25, Verdict::Ok));
        // Front End Transport on 25 is what the profile wants.
        assert_eq!(verdicts(&mailbox_server(600), &plan)[0], (25, Verdict::Ok));
    }

    #[test]
    fn each_port_gets_its_own_verdict() {
        let obs = scene(vec![listener("0.0.0.0:25", Holders::Known(vec![10]))]);
        let judgement = judge(&obs, &[25, 587], &expect("exim4"), NameRules::UNIX, &[]);
        let verdicts: Vec<_> = judgement
            .ports
            .iter()
            .map(|p| (p.port, p.verdict))
            .collect();
        assert_eq!(
            verdicts,
            vec![(25, Verdict::Ok), (587, Verdict::NotListening)]
        );
        assert_eq!(judgement.verdict, Verdict::NotListening);
    }
}
