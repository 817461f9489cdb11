//! Process details for the PIDs that matter: holders of listening sockets and their
//! ancestors. Only those PIDs are refreshed, never the whole process table's details: one
//! refresh for the holders, then one per generation of ancestors (a parent is known only
//! once its child is read), each PID once. A detail the OS refuses (a protected process,
//! another user's, portowner not elevated) is [`Detail::Unavailable`] with the reason; the
//! name from the snapshot is still known.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sysinfo::{Pid as SysPid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::model::{Detail, Pid, Process};

/// How far up the parent chain to look; real process trees are far shallower.
const MAX_DEPTH: usize = 32;

/// How the user a process runs as is named; each platform has its own way (linux.rs,
/// windows.rs).
pub trait UserNames {
    /// Whether sysinfo should read each process's user id for [`UserNames::name`].
    fn wants_uid(&self) -> bool;

    /// The user `pid` runs as; `uid` is what sysinfo read, if asked to.
    fn name(&self, pid: Pid, uid: Option<&sysinfo::Uid>) -> Detail<String>;
}

/// Reads the details of `holders` and of all their ancestors.
pub fn describe(holders: &BTreeSet<Pid>, users: &dyn UserNames) -> BTreeMap<Pid, Process> {
    let Ok(mut system) = System::new() else {
        return holders.iter().map(|&pid| (pid, unreadable(pid))).collect();
    };
    let mut found: BTreeMap<Pid, Process> = BTreeMap::new();
    let mut started: BTreeMap<Pid, u64> = BTreeMap::new();
    let mut pending: Vec<Pid> = holders.iter().copied().collect();

    for _ in 0..MAX_DEPTH {
        if pending.is_empty() {
            break;
        }
        refresh(&mut system, &pending, users);
        let mut parents = Vec::new();
        for pid in pending.drain(..) {
            let process = read(&system, users, pid);
            started.extend(start_time(&system, pid).map(|time| (pid, time)));
            if let Some(parent) = process.parent.filter(|p| *p != 0 && !found.contains_key(p)) {
                parents.push(parent);
            }
            found.insert(pid, process);
        }
        parents.retain(|p| !found.contains_key(p));
        pending = parents;
    }
    forget_reused_parents(&mut found, &started);
    keep_lineages(&mut found, holders);
    found
}

/// When the process started (seconds since the epoch), if the OS said: sysinfo reports 0 for
/// a Windows process it may not open.
fn start_time(system: &System, pid: Pid) -> Option<u64> {
    let process = system.process(SysPid::from_u32(pid))?;
    Some(process.start_time()).filter(|&time| time > 0)
}

/// Drops parent links to a process that started after its "child". Windows keeps a process's
/// parent PID after the parent exits, and the PID may since name an unrelated process, whose
/// services or name must not be credited to the child. (Linux re-parents orphans, so there
/// the check never fires.) Unknown start times keep the link.
fn forget_reused_parents(found: &mut BTreeMap<Pid, Process>, started: &BTreeMap<Pid, u64>) {
    for child in found.values_mut() {
        let parent_start = child.parent.and_then(|parent| started.get(&parent));
        if let (Some(parent), Some(own)) = (parent_start, started.get(&child.pid))
            && parent > own
        {
            child.parent = None;
        }
    }
}

/// Keeps only the holders and the processes their parent links lead to.
fn keep_lineages(found: &mut BTreeMap<Pid, Process>, holders: &BTreeSet<Pid>) {
    let mut wanted: BTreeSet<Pid> = BTreeSet::new();
    for &holder in holders {
        let mut next = Some(holder);
        while let Some(pid) = next.filter(|&pid| wanted.insert(pid)) {
            next = found.get(&pid).and_then(|process| process.parent);
        }
    }
    found.retain(|pid, _| wanted.contains(pid));
}

/// One refresh of exactly these PIDs. (Windows: one process snapshot, filtered to them;
/// Linux: their `/proc/PID` files only.) Threads are not listed: nothing here needs them.
fn refresh(system: &mut System, pids: &[Pid], users: &dyn UserNames) {
    let pids: Vec<SysPid> = pids.iter().map(|&p| SysPid::from_u32(p)).collect();
    let mut kind = ProcessRefreshKind::nothing()
        .without_tasks()
        .with_exe(UpdateKind::Always)
        .with_cmd(UpdateKind::Always);
    if users.wants_uid() {
        kind = kind.with_user(UpdateKind::Always);
    }
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
}

fn read(system: &System, users: &dyn UserNames, pid: Pid) -> Process {
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
        user: users.name(pid, process.user_id()),
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

/// Why a detail is missing when the OS gave no reason.
pub fn denied(what: &str) -> String {
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

    /// Users are not what these tests are about.
    struct NotAsked;

    impl UserNames for NotAsked {
        fn wants_uid(&self) -> bool {
            false
        }

        fn name(&self, _: Pid, _: Option<&sysinfo::Uid>) -> Detail<String> {
            Detail::Unavailable("not asked".to_string())
        }
    }

    fn linked(pid: Pid, parent: Option<Pid>) -> Process {
        Process {
            parent,
            ..unreadable(pid)
        }
    }

    #[test]
    fn a_parent_pid_reused_by_a_younger_process_is_no_parent() {
        // EdgeTransport.exe (1300) outlived its parent; PID 1200 now names a younger svchost.
        let mut found: BTreeMap<Pid, Process> = [
            (1300, linked(1300, Some(1200))),
            (1200, linked(1200, Some(700))),
            (700, linked(700, None)),
            (2000, linked(2000, Some(700))),
        ]
        .into();
        let started = BTreeMap::from([(1300, 100), (1200, 500), (700, 10), (2000, 100)]);
        forget_reused_parents(&mut found, &started);
        keep_lineages(&mut found, &BTreeSet::from([1300, 2000]));
        assert_eq!(found[&1300].parent, None);
        assert!(
            !found.contains_key(&1200),
            "the unrelated process is not kept"
        );
        assert_eq!(found[&2000].parent, Some(700), "an older parent stays");
        assert!(found.contains_key(&700));
    }

    #[test]
    fn an_unknown_start_time_keeps_the_parent() {
        let mut found: BTreeMap<Pid, Process> =
            [(5, linked(5, Some(4))), (4, linked(4, None))].into();
        forget_reused_parents(&mut found, &BTreeMap::from([(4, 900)]));
        assert_eq!(found[&5].parent, Some(4));
    }

    /// Set in the environment of the child that [`a_child_of_this_test`] starts.
    const CHILD: &str = "PORTOWNER_TEST_WAIT_FOR_STDIN";

    /// Not a test of its own: the child process the ancestry test describes. It waits until
    /// its parent closes its stdin; without the variable it returns at once.
    #[test]
    #[ignore = "helper process for describes_a_child_and_its_ancestors"]
    fn a_child_of_this_test() {
        if std::env::var_os(CHILD).is_some() {
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        }
    }

    #[test]
    fn describes_a_child_and_its_ancestors() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "os::processes::tests::a_child_of_this_test",
            ])
            .env(CHILD, "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let found = describe(&BTreeSet::from([child.id()]), &NotAsked);
        drop(child.stdin.take());
        let _ = child.wait();

        let me = std::process::id();
        let described = found.get(&child.id()).filter(|p| p.alive);
        assert_eq!(described.and_then(|p| p.parent), Some(me), "{found:?}");
        assert!(found.get(&me).is_some_and(|p| p.alive), "{found:?}");
        // This test's own parent is described too, where it has one: under Wine a process
        // started from Linux has no Windows parent.
        let parent = found.get(&me).and_then(|p| p.parent).filter(|&p| p != 0);
        assert!(parent.is_none_or(|p| found.contains_key(&p)), "{found:?}");
    }
}
