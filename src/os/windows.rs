//! Windows: listening sockets and their owning PIDs from `GetExtendedTcpTable` (netstat2),
//! process details from a snapshot of only those PIDs.
//!
//! Cost: one socket-table call per address family (the table already names each socket's
//! owner, so no search for holders is needed and the expectations are not used), then one
//! process refresh for the holders and one per generation of their ancestors, each over
//! those PIDs only. Nothing is done per process of the machine.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};

use super::processes;
use super::{Method, OsError};
use crate::expectation::Expectations;
use crate::model::{Holders, Listener, Observation, Pid, UnknownReason};

/// See [`super::observe`]. The socket table names the owners, so `_expectations` and
/// `_method` (which choose where Linux looks for holders) change nothing here.
pub fn observe(
    ports: &[u16],
    _expectations: &Expectations,
    _method: Method,
) -> Result<Observation, OsError> {
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let sockets = netstat2::get_sockets_info(families, ProtocolFlags::TCP)
        .map_err(|e| OsError::SocketList(e.to_string()))?;

    let mut listeners = Vec::new();
    let mut notes = Vec::new();
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

    let pids: BTreeSet<Pid> = listeners
        .iter()
        .filter_map(|l| match &l.holders {
            Holders::Known(pids) => Some(pids.iter().copied()),
            Holders::Unknown(_) => None,
        })
        .flatten()
        .collect();
    let processes = processes::describe(&pids);
    Ok(Observation {
        listeners,
        processes,
        elevated: None,
        notes,
    })
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
