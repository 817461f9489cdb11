//! Linux: listening sockets from the kernel's socket diagnostics (netlink, or `/proc/net/tcp*`
//! when netlink fails), holders from `/proc/PID/fd`, units from `/proc/PID/cgroup`.
//!
//! Holders are first looked for where they most likely are ([`holders::targeted`]); that
//! answer is kept only when every socket got a holder and the verdict on it is `ok`.
//! Anything else (no holder found, a wrong owner, an unknown one) is answered from the full
//! scan of every process, as `ss -p` would, so a problem is always reported completely.
#![forbid(unsafe_code)]

mod holders;
mod sockets;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;

use super::processes::{self, UserNames};
use super::{HolderSearch, Method, OsError};
use crate::expectation::{Expectations, NameRules};
use crate::judge::{Verdict, judge};
use crate::model::{Detail, Holders, Listener, Observation, Pid, Process, UnknownReason};
use holders::Found;
use sockets::{KernelSocket, Listing};

/// See [`super::observe`].
pub fn observe(
    ports: &[u16],
    expectations: &Expectations,
    method: Method,
) -> Result<Observation, OsError> {
    let listing = sockets::listening(ports, method.socket_source)
        .map_err(|e| OsError::SocketList(e.to_string()))?;
    let wanted: HashSet<u64> = listing.sockets.iter().map(|s| s.inode).collect();
    // Read once: both the targeted and, when it does not settle the verdict, the full
    // search's observation name users through it.
    let users = UserList(sysinfo::Users::new_with_refreshed_list().ok());
    if wanted.is_empty() {
        return Ok(assemble(&listing, &Found::default(), &users));
    }

    if method.holder_search == HolderSearch::Targeted {
        let names = expected_names(ports, expectations);
        if let Some(found) = holders::targeted(&wanted, &names) {
            let mut observation = assemble(&listing, &found, &users);
            // Ownership only: the greeting is read later, and only the owners matter here.
            let rules = NameRules::native();
            let verdict = judge(&observation, ports, expectations, rules, &[]).verdict;
            if verdict == Verdict::Ok {
                observation.notes.push(format!(
                    "holders found by a targeted search: {} processes' descriptors read \
                     (the expected process trees and PID 1); PORTOWNER_HOLDER_SEARCH=full \
                     reads every process",
                    found.scanned
                ));
                return Ok(observation);
            }
        }
    }

    let found = holders::full(&wanted);
    let mut observation = assemble(&listing, &found, &users);
    observation.notes.push(format!(
        "holders found by a full search: {} processes' descriptors read",
        found.scanned
    ));
    Ok(observation)
}

/// Every name the expectations of `ports` answer to, each once.
fn expected_names(ports: &[u16], expectations: &Expectations) -> Vec<String> {
    let names: BTreeSet<String> = ports
        .iter()
        .flat_map(|&port| expectations.for_port(port).names())
        .collect();
    names.into_iter().collect()
}

/// The observation for these sockets and these holders, with details of every holder.
fn assemble(listing: &Listing, found: &Found, users: &UserList) -> Observation {
    let identity = Identity::current();
    let mut notes: Vec<String> = listing.note.iter().cloned().collect();
    notes.extend(unreadable_note(&found.unreadable));
    let listeners: Vec<Listener> = listing
        .sockets
        .iter()
        .map(|socket| attribute(socket, found, &identity, users, &mut notes))
        .collect();
    let mut processes = processes::describe(&found.holders(), users);
    for process in processes.values_mut() {
        process.services.extend(systemd_unit(process.pid));
    }
    for (pid, inodes) in held_by_pid(found) {
        // Read after the details: a holder that let go of its socket meanwhile exited, and
        // the details just read may be those of a new process with the same PID.
        if !holders::still_holds(pid, &inodes) {
            notes.push(format!("PID {pid} exited after the socket listing"));
            processes.insert(pid, Process::replaced(pid));
        }
    }
    Observation {
        listeners,
        processes,
        elevated: identity.root(),
        notes,
    }
}

fn attribute(
    socket: &KernelSocket,
    search: &Found,
    identity: &Identity,
    users: &UserList,
    notes: &mut Vec<String>,
) -> Listener {
    let holders = match search.by_inode.get(&socket.inode) {
        Some(pids) => Holders::Known(pids.iter().copied().collect()),
        None => {
            let hidden = !search.unreadable.is_empty() || !identity.can_see_uid(socket.uid);
            let reason = if hidden {
                UnknownReason::AccessDenied {
                    socket_user: Some(users.socket_owner(socket.uid)),
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

/// Users named from the uid of each process, through the system's user list.
struct UserList(Option<sysinfo::Users>);

impl UserList {
    /// The user that created a socket: `postfix (uid 102)`, or `uid 102` if unnamed.
    fn socket_owner(&self, uid: u32) -> String {
        let user = sysinfo::Uid::try_from(uid as usize).ok();
        let named = user.and_then(|id| self.0.as_ref()?.get_user_by_id(&id));
        match named {
            Some(user) => format!("{} (uid {uid})", user.name()),
            None => format!("uid {uid}"),
        }
    }
}

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

/// `-v`: which processes' descriptor tables were refused (the first few PIDs, then a count).
fn unreadable_note(pids: &[Pid]) -> Option<String> {
    const SHOWN: usize = 8;
    let listed: Vec<String> = pids.iter().take(SHOWN).map(Pid::to_string).collect();
    let more = pids.len().saturating_sub(SHOWN);
    let rest = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    match pids.len() {
        0 => None,
        1 => Some(format!(
            "the descriptor table of PID {} was not readable (permission denied)",
            listed.join("")
        )),
        n => Some(format!(
            "{n} processes' descriptor tables were not readable (permission denied): PIDs {}{rest}",
            listed.join(", ")
        )),
    }
}

/// The inodes each holder held when the descriptors were read.
fn held_by_pid(found: &Found) -> BTreeMap<Pid, BTreeSet<u64>> {
    let mut held: BTreeMap<Pid, BTreeSet<u64>> = BTreeMap::new();
    for (inode, pids) in &found.by_inode {
        for pid in pids {
            held.entry(*pid).or_default().insert(*inode);
        }
    }
    held
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
    fn units_come_from_the_cgroup_path() {
        let v2 = "0::/system.slice/postfix@-.service\n";
        assert_eq!(unit_from_cgroup(v2).as_deref(), Some("postfix@-.service"));
        let v1 = "12:pids:/system.slice/exim4.service\n1:name=systemd:/system.slice/exim4.service";
        assert_eq!(unit_from_cgroup(v1).as_deref(), Some("exim4.service"));
        let user = "0::/user.slice/user-1000.slice/session-2.scope\n";
        assert_eq!(unit_from_cgroup(user), None);
        assert_eq!(unit_from_cgroup("0::/\n"), None);
    }

    use crate::expectation::{Expectation, Origin};

    fn expecting(name: &str) -> Expectations {
        Expectations::uniform(Expectation::Named {
            names: vec![name.to_string()],
            origin: Origin::Flag,
        })
    }

    fn observe_by(port: u16, expected: &Expectations, search: HolderSearch) -> Observation {
        let method = Method {
            holder_search: search,
            ..Method::default()
        };
        observe(&[port], expected, method).unwrap()
    }

    /// The holders of the only listener, leaving out a child that another test forked at this
    /// moment: until it execs, it holds every descriptor of this process.
    fn holders_besides_forks(observation: &Observation) -> Vec<Pid> {
        let me = std::process::id();
        let Holders::Known(pids) = &observation.listeners[0].holders else {
            panic!("{observation:?}");
        };
        let forked = |pid: &Pid| {
            let process = observation.processes.get(pid);
            process.is_some_and(|p| p.parent == Some(me) || !p.alive)
        };
        pids.iter()
            .copied()
            .filter(|pid| *pid == me || !forked(pid))
            .collect()
    }

    #[test]
    fn unreadable_tables_are_named_by_pid_then_counted() {
        assert_eq!(unreadable_note(&[]), None);
        let one = unreadable_note(&[1]).unwrap_or_default();
        assert!(one.contains("PID 1 was not readable"), "{one}");
        let many: Vec<Pid> = (100..112).collect();
        let text = unreadable_note(&many).unwrap_or_default();
        assert!(
            text.starts_with("12 processes'") && text.ends_with("107 and 4 more"),
            "{text}"
        );
    }

    #[test]
    fn both_searches_find_this_process_as_the_holder_of_its_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id();
        let exe = std::env::current_exe().unwrap();
        let expected = expecting(&exe.to_string_lossy());

        let targeted = observe_by(port, &expected, HolderSearch::Targeted);
        let full = observe_by(port, &expected, HolderSearch::Full);
        assert_eq!(targeted.listeners.len(), 1, "{targeted:?}");
        assert_eq!(holders_besides_forks(&targeted), vec![me]);
        assert_eq!(holders_besides_forks(&full), vec![me]);
        assert_eq!(targeted.processes.get(&me), full.processes.get(&me));
        assert!(targeted.processes.contains_key(&me));
        assert!(
            targeted.notes.iter().any(|n| n.contains("targeted")),
            "{:?}",
            targeted.notes
        );
    }

    #[test]
    fn a_wrong_owner_is_answered_by_the_full_search() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let observation = observe_by(port, &expecting("master"), HolderSearch::Targeted);
        let me = std::process::id();
        assert_eq!(holders_besides_forks(&observation), vec![me]);
        assert!(
            observation.notes.iter().any(|n| n.contains("full search")),
            "{:?}",
            observation.notes
        );
    }
}
