//! Linux: listening sockets from netlink socket diagnostics (netstat2, without its
//! whole-system PID attachment), holders from `/proc/PID/fd`, units from `/proc/PID/cgroup`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::net::SocketAddr;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};

use super::OsError;
use super::processes::{self, UserNames};
use crate::model::{Detail, Holders, Listener, Observation, Pid, UnknownReason};

/// A listening socket as the kernel describes it.
#[derive(Debug, Clone)]
struct KernelSocket {
    address: SocketAddr,
    inode: u64,
    uid: u32,
}

/// What a search of `/proc/*/fd` found.
#[derive(Debug, Default)]
struct HolderSearch {
    /// PIDs holding each wanted inode.
    by_inode: HashMap<u64, BTreeSet<Pid>>,
    /// Processes whose descriptor table could not be read (permission denied).
    unreadable: usize,
}

/// See [`super::observe`].
pub fn observe(ports: &[u16]) -> Result<Observation, OsError> {
    let sockets = listening_sockets(ports)?;
    let wanted: HashSet<u64> = sockets.iter().map(|s| s.inode).collect();
    let search = if wanted.is_empty() {
        HolderSearch::default()
    } else {
        find_holders(&wanted)
    };
    let identity = Identity::current();

    let mut notes = Vec::new();
    if search.unreadable > 0 {
        notes.push(format!(
            "{} processes' descriptor tables were not readable (permission denied)",
            search.unreadable
        ));
    }
    let listeners: Vec<Listener> = sockets
        .iter()
        .map(|socket| attribute(socket, &search, &identity, &mut notes))
        .collect();
    let holder_pids: BTreeSet<Pid> = search.by_inode.values().flatten().copied().collect();
    let users = UserList(sysinfo::Users::new_with_refreshed_list().ok());
    let mut processes = processes::describe(&holder_pids, &users);
    for process in processes.values_mut() {
        process.services.extend(systemd_unit(process.pid));
    }

    Ok(Observation {
        listeners,
        processes,
        elevated: identity.root(),
        notes,
    })
}

/// Lists TCP sockets in LISTEN state on `ports`, IPv4 and IPv6.
fn listening_sockets(ports: &[u16]) -> Result<Vec<KernelSocket>, OsError> {
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let sockets = netstat2::iterate_sockets_info_without_pids(families, ProtocolFlags::TCP)
        .map_err(|e| OsError::SocketList(e.to_string()))?;
    let mut found = Vec::new();
    for socket in sockets {
        let socket = socket.map_err(|e| OsError::SocketList(e.to_string()))?;
        let ProtocolSocketInfo::Tcp(tcp) = &socket.protocol_socket_info else {
            continue;
        };
        if tcp.state == TcpState::Listen && ports.contains(&tcp.local_port) {
            found.push(KernelSocket {
                address: SocketAddr::new(tcp.local_addr, tcp.local_port),
                inode: u64::from(socket.inode),
                uid: socket.uid,
            });
        }
    }
    found.sort_by_key(|s| (s.address.port(), s.address.is_ipv6(), s.address.ip()));
    Ok(found)
}

/// Scans every process's descriptors for the wanted socket inodes.
fn find_holders(wanted: &HashSet<u64>) -> HolderSearch {
    let mut search = HolderSearch::default();
    let Ok(entries) = fs::read_dir("/proc") else {
        return search;
    };
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<Pid>().ok()) {
        match socket_inodes(pid) {
            Ok(inodes) => {
                for inode in inodes.into_iter().filter(|i| wanted.contains(i)) {
                    search.by_inode.entry(inode).or_default().insert(pid);
                }
            }
            Err(ErrorKind::PermissionDenied) => search.unreadable += 1,
            Err(_) => {}
        }
    }
    search
}

/// The socket inodes in a process's descriptor table.
fn socket_inodes(pid: Pid) -> Result<Vec<u64>, ErrorKind> {
    let dir = fs::read_dir(format!("/proc/{pid}/fd")).map_err(|e| e.kind())?;
    let inodes = dir
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| parse_socket_link(target.to_str()?))
        .collect();
    Ok(inodes)
}

/// `socket:[12345]` → 12345.
fn parse_socket_link(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn attribute(
    socket: &KernelSocket,
    search: &HolderSearch,
    identity: &Identity,
    notes: &mut Vec<String>,
) -> Listener {
    let holders = match search.by_inode.get(&socket.inode) {
        Some(pids) => Holders::Known(pids.iter().copied().collect()),
        None => {
            let hidden = search.unreadable > 0 || !identity.can_see_uid(socket.uid);
            let reason = if hidden {
                UnknownReason::AccessDenied {
                    socket_user: Some(user_of(socket.uid)),
                }
            } else {
                UnknownReason::NotFound
            };
            notes.push(format!(
                "{}: no holder found for socket inode {} (uid {}): {}",
                socket.address,
                socket.inode,
                socket.uid,
                reason.explain()
            ));
            Holders::Unknown(reason)
        }
    };
    Listener {
        address: socket.address,
        holders,
    }
}

/// The user name for a uid, from /etc/passwd, or the number.
fn user_of(uid: u32) -> String {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?;
            (id.parse::<u32>().ok()? == uid).then(|| format!("{name} (uid {uid})"))
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// Users named from the uid of each process, through the system's user list.
struct UserList(Option<sysinfo::Users>);

impl UserNames for UserList {
    fn wants_uid(&self) -> bool {
        true
    }

    fn name(&self, _: Pid, uid: Option<&sysinfo::Uid>) -> Detail<String> {
        let Some(uid) = uid else {
            return Detail::Unavailable(processes::denied("user"));
        };
        let named = self.0.as_ref().and_then(|u| u.get_user_by_id(uid));
        let name = named.map(|u| u.name().to_string());
        Detail::Known(name.unwrap_or_else(|| format!("{}", &**uid)))
    }
}

/// Who portowner runs as.
struct Identity {
    euid: Option<u32>,
}

impl Identity {
    fn current() -> Self {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1)?.parse().ok());
        Identity { euid }
    }

    fn root(&self) -> Option<bool> {
        self.euid.map(|uid| uid == 0)
    }

    fn can_see_uid(&self, uid: u32) -> bool {
        self.euid.is_some_and(|me| me == 0 || me == uid)
    }
}

/// The systemd unit a process belongs to, from its cgroup path.
fn systemd_unit(pid: Pid) -> Option<String> {
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    unit_from_cgroup(&cgroup)
}

/// `0::/system.slice/postfix@-.service` → `postfix@-.service`. The deepest path component
/// that names a service unit wins; scopes and slices are not services.
fn unit_from_cgroup(cgroup: &str) -> Option<String> {
    let mut units: BTreeMap<usize, String> = BTreeMap::new();
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        for (depth, part) in path.split('/').enumerate() {
            if part.ends_with(".service") {
                units.insert(depth, part.to_string());
            }
        }
    }
    units.pop_last().map(|(_, unit)| unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_parse_and_others_are_ignored() {
        assert_eq!(parse_socket_link("socket:[123456]"), Some(123456));
        assert_eq!(parse_socket_link("pipe:[42]"), None);
        assert_eq!(parse_socket_link("/dev/null"), None);
        assert_eq!(parse_socket_link("socket:[x]"), None);
    }

    #[test]
    fn units_come_from_the_cgroup_path() {
        let v2 = "0::/system.slice/postfix@-.service\n";
        assert_eq!(unit_from_cgroup(v2).as_deref(), Some("postfix@-.service"));
        let v1 = "12:pids:/system.slice/exim4.service\n1:name=systemd:/system.slice/exim4.service";
        assert_eq!(unit_from_cgroup(v1).as_deref(), Some("exim4.service"));
        let user = "0::/user.slice/user-1000.slice/session-2.scope\n";
        assert_eq!(unit_from_cgroup(user), None);
        assert_eq!(unit_from_cgroup("0::/\n"), None);
    }

    #[test]
    fn finds_this_process_as_the_holder_of_its_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let observation = observe(&[port]).unwrap();
        assert_eq!(observation.listeners.len(), 1, "{observation:?}");
        let me = std::process::id();
        let Holders::Known(holders) = &observation.listeners[0].holders else {
            panic!("{observation:?}");
        };
        assert!(holders.contains(&me), "{observation:?}");
        assert!(observation.processes.contains_key(&me));
        // Another test spawning a child at this moment: until it execs, the forked child holds
        // every descriptor of this process, the listener included. Anything else is wrong.
        for other in holders.iter().filter(|&&pid| pid != me) {
            let process = &observation.processes[other];
            let child_of_mine = process.parent == Some(me) || !process.alive;
            assert!(child_of_mine, "{observation:?}");
        }
    }
}
