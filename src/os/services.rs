//! Which Windows services run in which process. The Service Control Manager lists running
//! services with the PID of their process; this module turns that list into each process's
//! `services`, and gives a worker process that hosts no service its parent's: EdgeTransport.exe
//! hosts no service itself but runs under MSExchangeTransport.exe, which hosts
//! `MSExchangeTransport`. Plain data in and out, so it is tested on every platform.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use crate::model::{Pid, Process};

/// A running service and the process it runs in, as the Service Control Manager lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedService {
    /// The service's short name (`MSExchangeTransport`), the one `sc query` and
    /// `Start-Service` take.
    pub name: String,
    /// The process the service runs in.
    pub pid: Pid,
}

/// Sets `services` of every process: the services it hosts, else those its parent hosts
/// (only the direct parent: further up sit service hosts whose services say nothing about
/// this worker), else none. Names are sorted.
pub fn assign(processes: &mut BTreeMap<Pid, Process>, hosted: &[HostedService]) {
    let by_pid = by_process(hosted);
    for process in processes.values_mut() {
        let own = by_pid.get(&process.pid);
        let parents = || process.parent.and_then(|parent| by_pid.get(&parent));
        if let Some(names) = own.or_else(parents) {
            process.services = names.clone();
        }
    }
}

/// The sorted service names per hosting process.
fn by_process(hosted: &[HostedService]) -> BTreeMap<Pid, Vec<String>> {
    let mut by_pid: BTreeMap<Pid, Vec<String>> = BTreeMap::new();
    for service in hosted.iter().filter(|s| s.pid != 0) {
        by_pid
            .entry(service.pid)
            .or_default()
            .push(service.name.clone());
    }
    for names in by_pid.values_mut() {
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names.dedup();
    }
    by_pid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expectation::{NameRules, matches_name};
    use crate::model::Detail;

    fn process(pid: Pid, name: &str, parent: Option<Pid>) -> Process {
        let mut process = Process::fake(pid, name, &format!(r"C:\Exchange\Bin\{name}"), parent);
        process.user = Detail::Known(r"NT AUTHORITY\NETWORK SERVICE".to_string());
        process
    }

    fn service(name: &str, pid: Pid) -> HostedService {
        HostedService {
            name: name.to_string(),
            pid,
        }
    }

    /// A Mailbox server: services.exe starts the transport services; Transport starts its
    /// worker EdgeTransport.exe; one svchost hosts two services.
    fn mailbox_server() -> BTreeMap<Pid, Process> {
        [
            process(700, "services.exe", Some(600)),
            process(1200, "MSExchangeTransport.exe", Some(700)),
            process(1300, "EdgeTransport.exe", Some(1200)),
            process(1400, "MSExchangeFrontendTransport.exe", Some(700)),
            process(1500, "svchost.exe", Some(700)),
            process(1600, "nc.exe", Some(1550)),
        ]
        .into_iter()
        .map(|p| (p.pid, p))
        .collect()
    }

    fn hosted() -> Vec<HostedService> {
        vec![
            service("MSExchangeTransport", 1200),
            service("MSExchangeFrontEndTransport", 1400),
            service("Winmgmt", 1500),
            service("BITS", 1500),
            service("Stopped", 0),
        ]
    }

    fn services_of(processes: &BTreeMap<Pid, Process>, pid: Pid) -> Vec<&str> {
        processes[&pid]
            .services
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn each_process_gets_the_services_it_hosts_sorted() {
        let mut processes = mailbox_server();
        assign(&mut processes, &hosted());
        assert_eq!(services_of(&processes, 1200), ["MSExchangeTransport"]);
        assert_eq!(
            services_of(&processes, 1400),
            ["MSExchangeFrontEndTransport"]
        );
        assert_eq!(services_of(&processes, 1500), ["BITS", "Winmgmt"]);
    }

    #[test]
    fn a_worker_hosting_no_service_gets_its_parents() {
        let mut processes = mailbox_server();
        assign(&mut processes, &hosted());
        assert_eq!(services_of(&processes, 1300), ["MSExchangeTransport"]);
        let edge = &processes[&1300];
        assert!(matches_name(
            edge,
            "msexchangetransport",
            NameRules::WINDOWS
        ));
    }

    #[test]
    fn no_service_and_no_serving_parent_means_none() {
        let mut processes = mailbox_server();
        assign(&mut processes, &hosted());
        assert!(services_of(&processes, 1600).is_empty(), "parent unknown");
        assert!(
            services_of(&processes, 700).is_empty(),
            "services.exe hosts none and its parent neither"
        );
    }

    #[test]
    fn a_stopped_service_without_a_process_names_nobody() {
        let mut processes: BTreeMap<Pid, Process> =
            [(0, process(0, "Idle", None))].into_iter().collect();
        assign(&mut processes, &[service("Stopped", 0)]);
        assert!(services_of(&processes, 0).is_empty());
    }
}
