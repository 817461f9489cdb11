//! Windows: listening sockets and their owning PIDs from `GetExtendedTcpTable` (netstat2),
//! process details from a snapshot of only those PIDs, users and elevation from process
//! tokens, and services from the Service Control Manager (the last two in [`windows_api`]).
//!
//! Cost: one socket-table call per address family (the table already names each socket's
//! owner, so no search for holders is needed and the expectations are not used), then one
//! process refresh for the holders and one per generation of their ancestors, each over
//! those PIDs only, and one service enumeration. Nothing is done per process of the machine.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};

use super::processes::{self, UserNames};
use super::{Method, OsError, services, windows_api};
use crate::expectation::Expectations;
use crate::model::{
    Detail, Holders, KERNEL_HOLDER, Listener, Observation, Pid, Process, UnknownReason,
    WINDOWS_KERNEL_PID,
};

/// See [`super::observe`]. The socket table names the owners, so `_expectations` and
/// `_method` (which choose where Linux looks for holders) change nothing here.
pub fn observe(
    ports: &[u16],
    _expectations: &Expectations,
    _method: Method,
) -> Result<Observation, OsError> {
    let mut notes = Vec::new();
    let listeners = listeners(ports, &mut notes)?;
    let mut processes = processes::describe(&holder_pids(&listeners), &TokenUsers);
    describe_kernel(&mut processes);
    if !processes.is_empty() {
        name_services(&mut processes, &mut notes);
    }
    let elevated = windows_api::is_elevated()
        .inspect_err(|e| notes.push(format!("could not tell whether portowner is elevated: {e}")))
        .ok();
    Ok(Observation {
        listeners,
        processes,
        elevated,
        notes,
    })
}

/// The TCP listeners on `ports`, IPv4 and IPv6, in a stable order.
fn listeners(ports: &[u16], notes: &mut Vec<String>) -> Result<Vec<Listener>, OsError> {
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let sockets = netstat2::get_sockets_info(families, ProtocolFlags::TCP)
        .map_err(|e| OsError::SocketList(e.to_string()))?;

    let mut listeners = Vec::new();
    for socket in sockets {
        let ProtocolSocketInfo::Tcp(tcp) = &socket.protocol_socket_info else {
            continue;
        };
        if tcp.state != TcpState::Listen || !ports.contains(&tcp.local_port) {
            continue;
        }
        let address = SocketAddr::new(tcp.local_addr, tcp.local_port);
        listeners.push(Listener {
            address,
            holders: owners(&socket.associated_pids),
        });
        if socket.associated_pids.iter().all(|&pid| pid == 0) {
            notes.push(format!("{address}: the TCP table reports owner PID 0"));
        }
    }
    listeners.sort_by_key(|l| (l.address.port(), l.address.is_ipv6(), l.address.ip()));
    Ok(listeners)
}

/// PID 0 is the System Idle Process: a row with it names no real owner.
fn owners(pids: &[u32]) -> Holders {
    let real: Vec<Pid> = pids.iter().copied().filter(|&pid| pid != 0).collect();
    if real.is_empty() {
        Holders::Unknown(UnknownReason::NoOwnerReported)
    } else {
        Holders::Known(real)
    }
}

/// Every PID that holds one of `listeners`.
fn holder_pids(listeners: &[Listener]) -> BTreeSet<Pid> {
    listeners
        .iter()
        .filter_map(|l| match &l.holders {
            Holders::Known(pids) => Some(pids.iter().copied()),
            Holders::Unknown(_) => None,
        })
        .flatten()
        .collect()
}

/// Users named from each process's token. (sysinfo's user list enumerates logon sessions,
/// which is not needed here, and its sysinfo 0.40 code makes a slice from a null pointer when
/// there are none, as under Wine: undefined behaviour.)
struct TokenUsers;

impl UserNames for TokenUsers {
    fn wants_uid(&self) -> bool {
        false
    }

    fn name(&self, pid: Pid, _: Option<&sysinfo::Uid>) -> Detail<String> {
        windows_api::process_user(pid)
            .map(Detail::Known)
            .unwrap_or_else(|e| Detail::Unavailable(format!("user not readable: {}", e.message())))
    }
}

/// PID 4 is the kernel: no executable or command line to show, but what holds its sockets.
fn describe_kernel(processes: &mut BTreeMap<Pid, Process>) {
    if let Some(kernel) = processes.get_mut(&WINDOWS_KERNEL_PID) {
        kernel.name = Detail::Known("System".to_string());
        kernel.exe = Detail::Unavailable(KERNEL_HOLDER.to_string());
        kernel.cmdline = Detail::Unavailable(KERNEL_HOLDER.to_string());
    }
}

/// Fills each process's services from the Service Control Manager.
fn name_services(processes: &mut BTreeMap<Pid, Process>, notes: &mut Vec<String>) {
    match windows_api::hosted_services() {
        Ok(hosted) => services::assign(processes, &hosted),
        Err(e) => notes.push(format!(
            "the Service Control Manager did not list services ({}); services are not shown",
            e.message()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether these tests run under Wine, whose TCP table names no owners. Asked of the
    /// registry, as a test would on any machine: only Wine has `HKCU\Software\Wine`.
    fn under_wine() -> bool {
        std::process::Command::new("reg")
            .args(["query", r"HKCU\Software\Wine"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    #[test]
    fn the_tcp_table_lists_this_process_as_the_holder_of_its_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let expectations = Expectations::uniform(crate::expectation::Expectation::Catalog);
        let observation = observe(&[address.port()], &expectations, Method::default()).unwrap();
        assert_eq!(observation.listeners.len(), 1, "{observation:?}");
        assert_eq!(observation.listeners[0].address, address);
        let holders = &observation.listeners[0].holders;
        if under_wine() {
            // Wine's GetExtendedTcpTable reports owner PID 0: honestly unknown, never PID 0.
            assert_eq!(holders, &Holders::Unknown(UnknownReason::NoOwnerReported));
            assert!(observation.processes.is_empty(), "{observation:?}");
        } else {
            assert_eq!(holders, &Holders::Known(vec![std::process::id()]));
        }
        assert!(observation.elevated.is_some(), "{observation:?}");
    }

    #[test]
    fn a_service_host_is_described_with_its_services_and_user() {
        let hosted = windows_api::hosted_services().unwrap();
        let plug_and_play = hosted.iter().find(|s| s.name == "PlugPlay").unwrap();
        let pids = BTreeSet::from([plug_and_play.pid]);
        let mut processes = processes::describe(&pids, &TokenUsers);
        services::assign(&mut processes, &hosted);
        let host = &processes[&plug_and_play.pid];
        assert!(host.alive && host.name.known().is_some(), "{host:?}");
        assert!(host.services.contains(&"PlugPlay".to_string()), "{host:?}");
        assert!(
            !matches!(&host.user, Detail::Known(u) if u.is_empty()),
            "{host:?}"
        );
    }

    #[test]
    fn the_kernel_shows_what_holds_its_sockets() {
        let mut processes: BTreeMap<Pid, Process> = [(4, Process::exited(4))].into();
        describe_kernel(&mut processes);
        let kernel = &processes[&4];
        assert!(kernel.is_windows_kernel());
        assert_eq!(kernel.exe, Detail::Unavailable(KERNEL_HOLDER.to_string()));
    }
}
