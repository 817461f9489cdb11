//! Process details for the PIDs that matter: holders of listening sockets and their
//! ancestors. Only those PIDs are refreshed, never the whole process table's details: one
//! refresh for the holders, then one per generation of ancestors (a parent is known only
//! once its child is read), each PID once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sysinfo::{Pid as SysPid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use crate::model::{Detail, Pid, Process};

/// How far up the parent chain to look; real process trees are far shallower.
const MAX_DEPTH: usize = 32;

/// Reads the details of `holders` and of all their ancestors.
pub fn describe(holders: &BTreeSet<Pid>) -> BTreeMap<Pid, Process> {
    let Ok(mut system) = System::new() else {
        return holders.iter().map(|&pid| (pid, unreadable(pid))).collect();
    };
    let users = Users::new_with_refreshed_list().ok();
    let mut found: BTreeMap<Pid, Process> = BTreeMap::new();
    let mut pending: Vec<Pid> = holders.iter().copied().collect();

    for _ in 0..MAX_DEPTH {
        if pending.is_empty() {
            break;
        }
        refresh(&mut system, &pending);
        let mut parents = Vec::new();
        for pid in pending.drain(..) {
            let process = read(&system, users.as_ref(), pid);
            if let Some(parent) = process.parent.filter(|p| *p != 0 && !found.contains_key(p)) {
                parents.push(parent);
            }
            found.insert(pid, process);
        }
        parents.retain(|p| !found.contains_key(p));
        pending = parents;
    }
    found
}

/// One refresh of exactly these PIDs. (Windows: one process snapshot, filtered to them;
/// Linux: their `/proc/PID` files only.) Threads are not listed: nothing here needs them.
fn refresh(system: &mut System, pids: &[Pid]) {
    let pids: Vec<SysPid> = pids.iter().map(|&p| SysPid::from_u32(p)).collect();
    let kind = ProcessRefreshKind::nothing()
        .without_tasks()
        .with_exe(UpdateKind::Always)
        .with_cmd(UpdateKind::Always)
        .with_user(UpdateKind::Always);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
}

fn read(system: &System, users: Option<&Users>, pid: Pid) -> Process {
    let Some(process) = system.process(SysPid::from_u32(pid)) else {
        return Process::exited(pid);
    };
    let exe = process
        .exe()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from);
    let reported = process.name().to_string_lossy().into_owned();
    let name = full_name(&reported, exe.as_ref());
    let cmdline: Vec<String> = process
        .cmd()
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    Process {
        pid,
        name: Detail::Known(name),
        exe: exe
            .map(Detail::Known)
            .unwrap_or_else(|| Detail::Unavailable(denied("path"))),
        cmdline: if cmdline.is_empty() {
            Detail::Unavailable(denied("command line"))
        } else {
            Detail::Known(cmdline)
        },
        user: user_name(process.user_id(), users),
        parent: process.parent().map(|p| p.as_u32()),
        services: Vec::new(),
        alive: true,
    }
}

/// Linux cuts `comm` at this many characters.
const COMM_LIMIT: usize = 15;

/// The reported name, unless it was cut short: then the executable's file name it begins.
/// (A process may set its own name, so a name that is not cut is kept as it is.)
fn full_name(reported: &str, exe: Option<&PathBuf>) -> String {
    let file = exe
        .and_then(|e| e.file_name())
        .map(|f| f.to_string_lossy().into_owned());
    match file {
        Some(file) if reported.is_empty() => file,
        Some(file) if reported.len() == COMM_LIMIT && file.starts_with(reported) => file,
        _ => reported.to_string(),
    }
}

fn user_name(uid: Option<&sysinfo::Uid>, users: Option<&Users>) -> Detail<String> {
    let Some(uid) = uid else {
        return Detail::Unavailable(denied("user"));
    };
    let named = users
        .and_then(|u| u.get_user_by_id(uid))
        .map(|u| u.name().to_string());
    Detail::Known(named.unwrap_or_else(|| format!("{}", &**uid)))
}

fn denied(what: &str) -> String {
    format!("{what} not readable (permission denied, or a kernel/system process)")
}

fn unreadable(pid: Pid) -> Process {
    Process::known_only_by_pid(pid, "the process table could not be read", true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_name_prefers_the_executable_when_comm_is_cut() {
        let exe = PathBuf::from("/opt/bin/msexchangefrontendtransport");
        assert_eq!(
            full_name("msexchangefront", Some(&exe)),
            "msexchangefrontendtransport"
        );
        let python = PathBuf::from("/usr/bin/python3.11");
        assert_eq!(full_name("fake-mta", Some(&python)), "fake-mta");
        assert_eq!(full_name("python3", Some(&python)), "python3");
        assert_eq!(full_name("", Some(&python)), "python3.11");
        assert_eq!(full_name("master", None), "master");
    }

    #[test]
    fn describes_this_process_and_its_ancestors() {
        let me = std::process::id();
        let found = describe(&BTreeSet::from([me]));
        let this = found.get(&me).filter(|p| p.alive);
        assert!(this.is_some(), "{found:?}");
        let parent = this.and_then(|p| p.parent);
        assert!(parent.is_some_and(|p| found.contains_key(&p)), "{found:?}");
    }
}
