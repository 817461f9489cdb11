//! Profiles: which ports a kind of mail server listens on and which of its programs should
//! own each one, so that `--profile exchange2016` sets the ports and a per-port expectation in
//! one go. A profile makes role mistakes visible: on an Exchange 2016 Mailbox server the
//! Transport service holding port 25 is a wrong owner, although it is a perfectly good SMTP
//! server.
//!
//! The table is plain data. Where its facts come from (checked when it was written):
//!
//! - Exchange 2013 to Subscription Edition, Mailbox server: Microsoft's article "Receive
//!   connectors" for Exchange Server 2016, section "Default Receive connectors created during
//!   setup": the Front End Transport service listens on 25 (Default Frontend), 587 (Client
//!   Frontend) and 717 (Outbound Proxy Frontend); the Transport service on 2525 (Default) and
//!   465 (Client Proxy); the Mailbox Transport Delivery service's implicit Receive connector
//!   on 475. The Edge Transport server has one Receive connector, on 25.
//! - Process and service names: the process list of Microsoft's "Anti-virus software in the
//!   operating system on Exchange servers" (Exchange 2013): EdgeTransport.exe is the worker
//!   process of the Microsoft Exchange Transport service (MSExchangeTransport.exe, service
//!   MSExchangeTransport); MSExchangeFrontendTransport.exe is MSExchangeFrontEndTransport;
//!   MSExchangeDelivery.exe is MSExchangeDelivery. For Exchange 2010, Microsoft's
//!   "Understanding the EdgeTransport.exe.Config File" names EdgeTransport.exe and
//!   MSExchangeTransport.exe as the Transport service's executables.
//! - Exchange 2007 and 2010 Hub Transport: setup creates the Receive connectors
//!   "Default `<server>`" on 25 and "Client `<server>`" on 587, both in the Transport service.
//! - Exchange 2003 (and IIS SMTP): the SMTP service, SMTPSVC, runs in Inetinfo.exe
//!   (Microsoft's Windows Server 2003 system services reference).
//! - Postfix: the stock master.cf enables only `smtp` (25); `submission` (587) and
//!   `submissions` (465) are commented out. Exim: `daemon_smtp_ports` defaults to smtp (25);
//!   the stock configuration has `daemon_smtp_ports = 25 : 465 : 587` commented out.
//!   Sendmail: since 8.10 the daemon listens on 25 and, as MSA, on 587 unless
//!   `FEATURE(no_default_msa)`. OpenSMTPD: the stock smtpd.conf listens on localhost, port 25.
//!
//! A profile inspects only the ports a default installation listens on, so that a default
//! Postfix is `ok` rather than `not-listening` on a 465 nobody enabled. Every profile still
//! names an owner for any other port: `--profile postfix --port 25,465,587` expects Postfix's
//! master on all three.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::expectation::{Expectation, Expectations, Origin};

/// The operating system a profile's server runs on: it decides how advice says "start it".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Windows: services are started with `Start-Service`.
    Windows,
    /// Linux: units are started with `systemctl start`.
    Linux,
}

/// A program that should own ports: its processes and the service that runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// What the product's documentation calls it: `Front End Transport`, `Postfix master`.
    pub role: &'static str,
    /// The executable names of its processes.
    pub executables: &'static [&'static str],
    /// Its Windows services or systemd units, the one to start first.
    pub services: &'static [&'static str],
}

impl Owner {
    /// Every name that satisfies this owner: executables, then services. `--expect` accepts
    /// the same names, so a profile is a shorthand for what a user could type.
    pub fn names(&self) -> Vec<String> {
        self.executables
            .iter()
            .chain(self.services)
            .map(|name| name.to_string())
            .collect()
    }

    /// The command that starts it: `Start-Service MSExchangeFrontEndTransport`.
    pub fn start_command(&self, platform: Platform) -> String {
        match (platform, self.services) {
            (_, []) => format!("start {}", self.role),
            (Platform::Windows, services) => format!("Start-Service {}", services.join(",")),
            (Platform::Linux, [only]) => format!("systemctl start {only}"),
            (Platform::Linux, [first, others @ ..]) => {
                format!("systemctl start {first} (or {})", others.join(" / "))
            }
        }
    }
}

/// One port a profile inspects and the program that should hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortOwner {
    /// The port.
    pub port: u16,
    /// Who should hold it.
    pub owner: Owner,
}

/// A kind of mail server: the ports it listens on by default and their owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The name given to `--profile`.
    pub name: &'static str,
    /// The server it describes, in words: `Exchange 2016 Mailbox server`.
    pub server: &'static str,
    /// Where that server runs.
    pub platform: Platform,
    /// The ports inspected by default, each with its owner.
    pub ports: &'static [PortOwner],
    /// The owner expected on a port the profile does not list (`--port` given as well).
    pub other_ports: Owner,
    /// What to know before relying on it; empty when nothing.
    pub note: &'static str,
}

impl Profile {
    /// The ports this profile inspects unless `--port` (or the like) says otherwise.
    pub fn default_ports(&self) -> Vec<u16> {
        self.ports.iter().map(|p| p.port).collect()
    }

    /// The owner expected on `port`.
    pub fn owner_for(&self, port: u16) -> &Owner {
        self.ports
            .iter()
            .find(|p| p.port == port)
            .map(|p| &p.owner)
            .unwrap_or(&self.other_ports)
    }

    /// The expectations this profile sets: one per listed port, and `other_ports` for the
    /// rest.
    pub fn expectations(&self) -> Expectations {
        let per_port: BTreeMap<u16, Expectation> = self
            .ports
            .iter()
            .map(|p| (p.port, self.expectation_of(&p.owner)))
            .collect();
        Expectations {
            default: self.expectation_of(&self.other_ports),
            per_port,
        }
    }

    /// The expectation that `owner`, one of this profile's, holds a port.
    pub fn expectation_of(&self, owner: &Owner) -> Expectation {
        Expectation::Named {
            names: owner.names(),
            origin: Origin::Profile {
                profile: self.name,
                role: owner.role,
            },
        }
    }
}

const SMTPSVC: Owner = Owner {
    role: "IIS SMTP service",
    executables: &["inetinfo.exe"],
    services: &["SMTPSVC"],
};

const TRANSPORT: Owner = Owner {
    role: "Transport",
    executables: &["EdgeTransport.exe"],
    services: &["MSExchangeTransport"],
};

const FRONT_END_TRANSPORT: Owner = Owner {
    role: "Front End Transport",
    executables: &["MSExchangeFrontEndTransport.exe"],
    services: &["MSExchangeFrontEndTransport"],
};

const MAILBOX_DELIVERY: Owner = Owner {
    role: "Mailbox Transport Delivery",
    executables: &["MSExchangeDelivery.exe"],
    services: &["MSExchangeDelivery"],
};

/// A port the profile does not list may belong to any of the three (a custom Receive
/// connector can live in either transport service).
const ANY_EXCHANGE_TRANSPORT: Owner = Owner {
    role: "an Exchange transport service",
    executables: &[
        "MSExchangeFrontEndTransport.exe",
        "EdgeTransport.exe",
        "MSExchangeDelivery.exe",
    ],
    services: &[
        "MSExchangeFrontEndTransport",
        "MSExchangeTransport",
        "MSExchangeDelivery",
    ],
};

const POSTFIX: Owner = Owner {
    role: "Postfix master",
    executables: &["master"],
    services: &["postfix"],
};

const EXIM: Owner = Owner {
    role: "Exim",
    executables: &["exim4", "exim"],
    services: &["exim4", "exim"],
};

const SENDMAIL: Owner = Owner {
    role: "Sendmail",
    executables: &["sendmail", "sendmail-mta"],
    services: &["sendmail"],
};

const OPENSMTPD: Owner = Owner {
    role: "OpenSMTPD",
    executables: &["smtpd"],
    services: &["opensmtpd", "smtpd"],
};

/// The ports of an Exchange 2013 or later Mailbox server (roles merged from 2016 on).
const MAILBOX_SERVER_PORTS: &[PortOwner] = &[
    PortOwner {
        port: 25,
        owner: FRONT_END_TRANSPORT,
    },
    PortOwner {
        port: 465,
        owner: TRANSPORT,
    },
    PortOwner {
        port: 475,
        owner: MAILBOX_DELIVERY,
    },
    PortOwner {
        port: 587,
        owner: FRONT_END_TRANSPORT,
    },
    PortOwner {
        port: 717,
        owner: FRONT_END_TRANSPORT,
    },
    PortOwner {
        port: 2525,
        owner: TRANSPORT,
    },
];

const HUB_TRANSPORT_PORTS: &[PortOwner] = &[
    PortOwner {
        port: 25,
        owner: TRANSPORT,
    },
    PortOwner {
        port: 587,
        owner: TRANSPORT,
    },
];

const MAILBOX_NOTE: &str = "For a server with the Mailbox role (every Exchange 2016 and later \
                            server except Edge). An Exchange 2013 Mailbox server without the \
                            Client Access role runs no Front End Transport: pass --expect.";

const HUB_NOTE: &str = "For a Hub Transport server; an Edge Transport server listens on 25 \
                        only: use exchange-edge.";

/// Every profile, in the order `--profile list` shows them.
pub const PROFILES: [Profile; 12] = [
    Profile {
        name: "exchange2003",
        server: "Exchange 2003 (IIS SMTP virtual server)",
        platform: Platform::Windows,
        ports: &[PortOwner {
            port: 25,
            owner: SMTPSVC,
        }],
        other_ports: SMTPSVC,
        note: "",
    },
    Profile {
        name: "exchange2007",
        server: "Exchange 2007 Hub Transport server",
        platform: Platform::Windows,
        ports: HUB_TRANSPORT_PORTS,
        other_ports: TRANSPORT,
        note: HUB_NOTE,
    },
    Profile {
        name: "exchange2010",
        server: "Exchange 2010 Hub Transport server",
        platform: Platform::Windows,
        ports: HUB_TRANSPORT_PORTS,
        other_ports: TRANSPORT,
        note: HUB_NOTE,
    },
    Profile {
        name: "exchange2013",
        server: "Exchange 2013 Mailbox and Client Access server",
        platform: Platform::Windows,
        ports: MAILBOX_SERVER_PORTS,
        other_ports: ANY_EXCHANGE_TRANSPORT,
        note: MAILBOX_NOTE,
    },
    Profile {
        name: "exchange2016",
        server: "Exchange 2016 Mailbox server",
        platform: Platform::Windows,
        ports: MAILBOX_SERVER_PORTS,
        other_ports: ANY_EXCHANGE_TRANSPORT,
        note: MAILBOX_NOTE,
    },
    Profile {
        name: "exchange2019",
        server: "Exchange 2019 Mailbox server",
        platform: Platform::Windows,
        ports: MAILBOX_SERVER_PORTS,
        other_ports: ANY_EXCHANGE_TRANSPORT,
        note: MAILBOX_NOTE,
    },
    Profile {
        name: "exchange-se",
        server: "Exchange Server Subscription Edition Mailbox server",
        platform: Platform::Windows,
        ports: MAILBOX_SERVER_PORTS,
        other_ports: ANY_EXCHANGE_TRANSPORT,
        note: MAILBOX_NOTE,
    },
    Profile {
        name: "exchange-edge",
        server: "Exchange Edge Transport server (2007 and later)",
        platform: Platform::Windows,
        ports: &[PortOwner {
            port: 25,
            owner: TRANSPORT,
        }],
        other_ports: TRANSPORT,
        note: "",
    },
    Profile {
        name: "postfix",
        server: "Postfix",
        platform: Platform::Linux,
        ports: &[PortOwner {
            port: 25,
            owner: POSTFIX,
        }],
        other_ports: POSTFIX,
        note: "Submission (587) and smtps (465) are off in a stock master.cf; where you \
               enabled them, add --port 25,465,587.",
    },
    Profile {
        name: "exim",
        server: "Exim",
        platform: Platform::Linux,
        ports: &[PortOwner {
            port: 25,
            owner: EXIM,
        }],
        other_ports: EXIM,
        note: "465 and 587 are off unless daemon_smtp_ports lists them; then add \
               --port 25,465,587.",
    },
    Profile {
        name: "sendmail",
        server: "Sendmail",
        platform: Platform::Linux,
        ports: &[
            PortOwner {
                port: 25,
                owner: SENDMAIL,
            },
            PortOwner {
                port: 587,
                owner: SENDMAIL,
            },
        ],
        other_ports: SENDMAIL,
        note: "Without the MSA on 587 (FEATURE(no_default_msa)), pass --port 25.",
    },
    Profile {
        name: "opensmtpd",
        server: "OpenSMTPD",
        platform: Platform::Linux,
        ports: &[PortOwner {
            port: 25,
            owner: OPENSMTPD,
        }],
        other_ports: OPENSMTPD,
        note: "Add --port 25,465,587 where smtpd.conf listens for submission too.",
    },
];

/// The word that asks for the list instead of a profile.
pub const LIST: &str = "list";

/// The profile called `name`, ignoring ASCII case (Windows admins type `Exchange2016`).
pub fn find(name: &str) -> Option<&'static Profile> {
    PROFILES
        .iter()
        .find(|profile| profile.name.eq_ignore_ascii_case(name.trim()))
}

/// The profile a setting (variable or config file) names, or what to write instead. `list`
/// is only a request of the `--profile` flag, never a profile to use.
pub fn lookup(name: &str) -> Result<&'static Profile, String> {
    if name.trim().eq_ignore_ascii_case(LIST) {
        return Err(format!(
            "'list' is not a profile (portowner --profile list shows them); name one of: {}",
            known_names()
        ));
    }
    find(name).ok_or_else(|| {
        format!(
            "unknown profile '{}'; known profiles: {} (portowner --profile list shows their \
             ports and owners)",
            name.trim(),
            known_names()
        )
    })
}

/// Every profile name, comma-separated, for messages.
pub fn known_names() -> String {
    PROFILES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answer to `--profile list`: each profile, its ports and their owners, plain ASCII.
pub fn list_text() -> String {
    let mut text = String::new();
    for profile in &PROFILES {
        text.push_str(&format!("{}  {}\n", profile.name, profile.server));
        for port in profile.ports {
            text.push_str(&format!("  {:>5}  {}\n", port.port, describe(&port.owner)));
        }
        text.push_str(&format!("  other  {}\n", describe(&profile.other_ports)));
        if !profile.note.is_empty() {
            text.push_str(&format!("  note: {}\n", profile.note));
        }
    }
    text.push_str(
        "\n--port restricts or extends the ports; the profile's owners still apply to them. \
         --expect replaces the owners on every port.\n",
    );
    text
}

/// `Front End Transport: MSExchangeFrontEndTransport.exe / service MSExchangeFrontEndTransport`.
fn describe(owner: &Owner) -> String {
    let noun = if owner.services.len() > 1 {
        "services"
    } else {
        "service"
    };
    format!(
        "{}: {} / {noun} {}",
        owner.role,
        owner.executables.join(", "),
        owner.services.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table as (profile, port, executable, service): the facts the module doc
    /// cites, one row each.
    const EXPECTED: &[(&str, u16, &str, &str)] = &[
        ("exchange2003", 25, "inetinfo.exe", "SMTPSVC"),
        (
            "exchange2007",
            25,
            "EdgeTransport.exe",
            "MSExchangeTransport",
        ),
        (
            "exchange2007",
            587,
            "EdgeTransport.exe",
            "MSExchangeTransport",
        ),
        (
            "exchange2010",
            25,
            "EdgeTransport.exe",
            "MSExchangeTransport",
        ),
        (
            "exchange2010",
            587,
            "EdgeTransport.exe",
            "MSExchangeTransport",
        ),
        (
            "exchange-edge",
            25,
            "EdgeTransport.exe",
            "MSExchangeTransport",
        ),
        ("postfix", 25, "master", "postfix"),
        ("exim", 25, "exim4", "exim4"),
        ("sendmail", 25, "sendmail", "sendmail"),
        ("sendmail", 587, "sendmail", "sendmail"),
        ("opensmtpd", 25, "smtpd", "opensmtpd"),
    ];

    const MAILBOX: &[(u16, &str, &str)] = &[
        (
            25,
            "MSExchangeFrontEndTransport.exe",
            "MSExchangeFrontEndTransport",
        ),
        (465, "EdgeTransport.exe", "MSExchangeTransport"),
        (475, "MSExchangeDelivery.exe", "MSExchangeDelivery"),
        (
            587,
            "MSExchangeFrontEndTransport.exe",
            "MSExchangeFrontEndTransport",
        ),
        (
            717,
            "MSExchangeFrontEndTransport.exe",
            "MSExchangeFrontEndTransport",
        ),
        (2525, "EdgeTransport.exe", "MSExchangeTransport"),
    ];

    fn rows() -> Vec<(String, u16, String, String)> {
        let mut rows: Vec<(String, u16, String, String)> = EXPECTED
            .iter()
            .map(|&(p, port, exe, svc)| (p.into(), port, exe.into(), svc.into()))
            .collect();
        for name in [
            "exchange2013",
            "exchange2016",
            "exchange2019",
            "exchange-se",
        ] {
            for &(port, exe, svc) in MAILBOX {
                rows.push((name.into(), port, exe.into(), svc.into()));
            }
        }
        rows
    }

    #[test]
    fn every_profile_port_has_the_documented_owner() {
        let mut seen = 0;
        for (name, port, exe, service) in rows() {
            let profile = find(&name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(profile.default_ports().contains(&port), "{name}: {port}");
            let owner = profile.owner_for(port);
            assert_eq!(owner.executables.first().copied(), Some(exe.as_str()));
            assert_eq!(owner.services.first().copied(), Some(service.as_str()));
            seen += 1;
        }
        let listed: usize = PROFILES.iter().map(|p| p.ports.len()).sum();
        assert_eq!(seen, listed, "every listed port is in the expected table");
    }

    #[test]
    fn names_are_unique_lowercase_and_found_ignoring_case() {
        for (i, profile) in PROFILES.iter().enumerate() {
            assert_eq!(profile.name, profile.name.to_ascii_lowercase());
            assert!(PROFILES.iter().skip(i + 1).all(|p| p.name != profile.name));
        }
        assert_eq!(find("Exchange2016").map(|p| p.name), Some("exchange2016"));
        assert_eq!(find(" postfix ").map(|p| p.name), Some("postfix"));
        assert!(find("nope").is_none());
        assert!(find(LIST).is_none(), "list is not a profile");
    }

    #[test]
    fn default_ports_are_ascending_and_unique() {
        for profile in &PROFILES {
            let ports = profile.default_ports();
            let mut sorted = ports.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(ports, sorted, "{}", profile.name);
        }
        let postfix = find("postfix").map(Profile::default_ports);
        assert_eq!(postfix, Some(vec![25]), "465/587 only when enabled");
    }

    #[test]
    fn expectations_are_per_port_and_name_the_profile_and_role() {
        let profile = find("exchange2016").unwrap();
        let plan = profile.expectations();
        let front_end = Expectation::Named {
            names: vec![
                "MSExchangeFrontEndTransport.exe".into(),
                "MSExchangeFrontEndTransport".into(),
            ],
            origin: Origin::Profile {
                profile: "exchange2016",
                role: "Front End Transport",
            },
        };
        assert_eq!(plan.for_port(25), &front_end);
        assert_eq!(plan.for_port(717), &front_end);
        assert!(
            plan.for_port(2525)
                .names()
                .contains(&"EdgeTransport.exe".into())
        );
        let other = plan.for_port(2526).names();
        assert_eq!(other.len(), 6, "{other:?}");
        assert!(plan.for_port(2526).describe().contains("exchange2016"));
    }

    #[test]
    fn start_commands_follow_the_platform() {
        let windows = FRONT_END_TRANSPORT.start_command(Platform::Windows);
        assert_eq!(windows, "Start-Service MSExchangeFrontEndTransport");
        assert_eq!(
            ANY_EXCHANGE_TRANSPORT.start_command(Platform::Windows),
            "Start-Service MSExchangeFrontEndTransport,MSExchangeTransport,MSExchangeDelivery"
        );
        assert_eq!(
            POSTFIX.start_command(Platform::Linux),
            "systemctl start postfix"
        );
        assert_eq!(
            EXIM.start_command(Platform::Linux),
            "systemctl start exim4 (or exim)"
        );
    }

    #[test]
    fn the_list_shows_every_profile_port_and_owner_in_ascii() {
        let text = list_text();
        assert!(text.is_ascii());
        for profile in &PROFILES {
            assert!(text.contains(&format!("{}  ", profile.name)), "{text}");
        }
        assert!(
            text.contains("   2525  Transport: EdgeTransport.exe / service MSExchangeTransport")
        );
        assert!(text.contains(
            "     25  Front End Transport: MSExchangeFrontEndTransport.exe / service \
             MSExchangeFrontEndTransport"
        ));
        assert!(text.contains("    475  Mailbox Transport Delivery"));
        assert!(text.contains("--port 25,465,587"));
    }
}
