//! Linux: which processes hold the wanted socket inodes, read from `/proc/PID/fd`.
//!
//! Reading a descriptor table costs one `readlink` per descriptor, and a busy server has
//! hundreds of thousands of them; the question is about one or two sockets. So there are two
//! searches:
//!
//! - [`full`] reads every process's descriptors, as `ss -p` and `lsof` do. Its answer is
//!   complete for every process this user may read.
//! - [`targeted`] reads every process's `stat` (name and parent; one small read each), then
//!   the descriptors of the likely holders only: processes whose name answers to an expected
//!   name, until every wanted socket has a holder; then the whole process tree of each holder
//!   (its ancestors and all its descendants, since children inherit sockets) and PID 1 (the
//!   service manager holds sockets it activates services for; its own tree is not followed,
//!   as every process is in it). It gives up (`None`) unless every wanted socket has a
//!   holder.
//!
//! What the targeted search cannot see: a process outside those trees that holds the socket
//! too, because it was passed the descriptor over a unix socket. The caller keeps a targeted
//! answer only when its verdict is `ok` (see `super::observe`), so such a process is missed
//! only when the expected server also holds the socket. `docs/performance.md` says more.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{ErrorKind, Read};

use crate::model::Pid;

/// The service manager's PID.
const INIT: Pid = 1;

/// What a search of descriptor tables found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Found {
    /// PIDs holding each wanted inode.
    pub by_inode: HashMap<u64, BTreeSet<Pid>>,
    /// Processes whose descriptor table could not be read (permission denied).
    pub unreadable: Vec<Pid>,
    /// Processes whose descriptor table was read or tried.
    pub scanned: usize,
}

impl Found {
    /// Reads one process's descriptors and records the wanted inodes it holds.
    fn scan(&mut self, pid: Pid, wanted: &HashSet<u64>) {
        self.scanned += 1;
        match socket_inodes(pid) {
            Ok(inodes) => {
                for inode in inodes.into_iter().filter(|i| wanted.contains(i)) {
                    self.by_inode.entry(inode).or_default().insert(pid);
                }
            }
            Err(ErrorKind::PermissionDenied) => self.unreadable.push(pid),
            Err(_) => {}
        }
    }

    fn holds_all(&self, wanted: &HashSet<u64>) -> bool {
        wanted.iter().all(|inode| self.by_inode.contains_key(inode))
    }

    /// Every PID that holds a wanted socket.
    pub fn holders(&self) -> BTreeSet<Pid> {
        self.by_inode.values().flatten().copied().collect()
    }
}

/// Reads every process's descriptor table. (Spreading this over threads was measured and
/// gained nothing on 2 cores: the time is spent in procfs, not in this process.)
pub fn full(wanted: &HashSet<u64>) -> Found {
    let mut found = Found::default();
    for pid in all_pids() {
        found.scan(pid, wanted);
    }
    found
}

/// Looks for the holders of `wanted` where they most likely are; `None` when some wanted
/// socket has no holder there (the caller then runs [`full`]).
pub fn targeted(wanted: &HashSet<u64>, expected_names: &[String]) -> Option<Found> {
    let table = ProcessTable::read();
    let mut found = Found::default();
    let mut searched: BTreeSet<Pid> = BTreeSet::new();

    for pid in table.answering_to(expected_names) {
        if found.holds_all(wanted) {
            break;
        }
        searched.insert(pid);
        found.scan(pid, wanted);
    }
    if !found.holds_all(wanted) {
        return None;
    }

    let mut pending: Vec<Pid> = found.holders().into_iter().collect();
    pending.push(INIT);
    while let Some(pid) = pending.pop() {
        if searched.insert(pid) {
            found.scan(pid, wanted);
        }
        if pid != INIT && found.holders().contains(&pid) {
            pending.extend(table.tree_of(pid).filter(|p| !searched.contains(p)));
        }
    }
    Some(found)
}

/// The PIDs in `/proc`, ascending.
fn all_pids() -> Vec<Pid> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<Pid> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<Pid>().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether `pid` still holds every one of `inodes`. A PID read a moment ago that no longer
/// holds its socket exited, and may have been reused by another process meanwhile. A table
/// that cannot be read now is given the benefit of the doubt.
pub fn still_holds(pid: Pid, inodes: &BTreeSet<u64>) -> bool {
    match socket_inodes(pid) {
        Ok(held) => inodes.iter().all(|inode| held.contains(inode)),
        Err(ErrorKind::PermissionDenied) => true,
        Err(_) => false,
    }
}

/// The socket inodes in a process's descriptor table. A table whose directory can be listed
/// but whose links cannot be read (a protected process) counts as unreadable, not as empty.
fn socket_inodes(pid: Pid) -> Result<Vec<u64>, ErrorKind> {
    let dir = fs::read_dir(format!("/proc/{pid}/fd")).map_err(|e| e.kind())?;
    let mut inodes = Vec::new();
    for entry in dir.flatten() {
        match fs::read_link(entry.path()) {
            Ok(target) => inodes.extend(target.to_str().and_then(parse_socket_link)),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => return Err(e.kind()),
            Err(_) => {} // closed meanwhile
        }
    }
    Ok(inodes)
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Every process's name and parent, from `/proc/PID/stat`.
#[derive(Debug, Default)]
struct ProcessTable {
    /// PID → (name as the kernel keeps it, at most 15 bytes; parent PID).
    entries: BTreeMap<Pid, (String, Pid)>,
    /// Parent PID → its children.
    children: HashMap<Pid, Vec<Pid>>,
}

impl ProcessTable {
    fn read() -> Self {
        let mut table = ProcessTable::default();
        let mut head = [0u8; STAT_HEAD];
        for pid in all_pids() {
            let Some(stat) = read_stat_head(pid, &mut head) else {
                continue;
            };
            if let Some((name, parent)) = parse_stat(&String::from_utf8_lossy(stat)) {
                table.children.entry(parent).or_default().push(pid);
                table.entries.insert(pid, (name.to_string(), parent));
            }
        }
        table
    }

    /// The processes whose kernel name answers to one of `expected`, ascending.
    fn answering_to<'a>(&'a self, expected: &'a [String]) -> impl Iterator<Item = Pid> + 'a {
        self.entries
            .iter()
            .filter(|(_, (name, _))| expected.iter().any(|e| answers_to(name, e)))
            .map(|(&pid, _)| pid)
    }

    /// `pid`'s ancestors (below PID 1) and all its descendants.
    fn tree_of(&self, pid: Pid) -> impl Iterator<Item = Pid> + '_ {
        self.ancestors(pid).chain(self.descendants(pid))
    }

    fn ancestors(&self, pid: Pid) -> impl Iterator<Item = Pid> + '_ {
        let mut next = self.entries.get(&pid).map(|(_, parent)| *parent);
        let mut seen = BTreeSet::from([pid]);
        std::iter::from_fn(move || {
            let current = next.filter(|p| *p > INIT && seen.insert(*p))?;
            next = self.entries.get(&current).map(|(_, parent)| *parent);
            Some(current)
        })
    }

    fn descendants(&self, pid: Pid) -> impl Iterator<Item = Pid> + '_ {
        let mut pending: Vec<Pid> = self.children.get(&pid).cloned().unwrap_or_default();
        let mut seen = BTreeSet::from([pid]);
        std::iter::from_fn(move || {
            let current = pending.pop()?;
            if seen.insert(current) {
                pending.extend(self.children.get(&current).into_iter().flatten());
            }
            Some(current)
        })
    }
}

/// Enough of `/proc/PID/stat` for the PID, the name (at most 64 bytes even when escaped) and
/// the parent.
const STAT_HEAD: usize = 256;

/// The start of `/proc/PID/stat` in one `read`: three system calls per process in all
/// (`fs::read_to_string` makes about nine, growing its buffer from 32 bytes), which is most
/// of what a targeted search costs on a busy host.
fn read_stat_head(pid: Pid, head: &mut [u8; STAT_HEAD]) -> Option<&[u8]> {
    let mut file = File::open(format!("/proc/{pid}/stat")).ok()?;
    let length = file.read(head).ok()?;
    head.get(..length)
}

/// `1234 (name) S 1 ...` → ("name", 1). The name may itself contain spaces and `)`, so it
/// ends at the last `)`.
fn parse_stat(stat: &str) -> Option<(&str, Pid)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let parent = rest.next()?.parse().ok()?;
    Some((name, parent))
}

/// Linux keeps at most this many bytes of a process name (`comm`).
const KERNEL_NAME_LIMIT: usize = 15;

/// Whether a kernel process name could belong to what the user expects: a name, an
/// executable file name, a path or a unit name. Only the search order depends on this; the
/// verdict is judged on the full details afterwards, so a loose match costs little.
fn answers_to(kernel_name: &str, expected: &str) -> bool {
    let expected = expected.trim();
    let file = expected.rsplit(['/', '\\']).next().unwrap_or(expected);
    let bare = file
        .strip_suffix(".service")
        .or_else(|| file.strip_suffix(".exe"))
        .unwrap_or(file);
    let bare = bare.split('@').next().unwrap_or(bare);
    [file, bare].iter().any(|candidate| {
        candidate.eq_ignore_ascii_case(kernel_name)
            || (kernel_name.len() == KERNEL_NAME_LIMIT
                && candidate.len() > KERNEL_NAME_LIMIT
                && candidate
                    .get(..KERNEL_NAME_LIMIT)
                    .is_some_and(|head| head.eq_ignore_ascii_case(kernel_name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_that_let_go_of_its_socket_no_longer_holds_it() {
        let me = std::process::id();
        let before: BTreeSet<u64> = socket_inodes(me).unwrap().into_iter().collect();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let after: BTreeSet<u64> = socket_inodes(me).unwrap().into_iter().collect();
        let mine: BTreeSet<u64> = after.difference(&before).copied().collect();
        assert_eq!(mine.len(), 1, "{before:?} {after:?}");
        assert!(still_holds(me, &mine));
        drop(listener);
        assert!(!still_holds(me, &mine));
        assert!(
            !still_holds(u32::MAX, &mine),
            "a PID that does not exist holds nothing"
        );
    }

    #[test]
    fn socket_links_parse_and_others_are_ignored() {
        assert_eq!(parse_socket_link("socket:[123456]"), Some(123456));
        assert_eq!(parse_socket_link("pipe:[42]"), None);
        assert_eq!(parse_socket_link("/dev/null"), None);
        assert_eq!(parse_socket_link("socket:[x]"), None);
    }

    #[test]
    fn stat_lines_give_name_and_parent_even_with_odd_names() {
        assert_eq!(
            parse_stat("4242 (master) S 1 4242 4242 0 -1"),
            Some(("master", 1))
        );
        assert_eq!(
            parse_stat("77 (a) b (c)) R 12 77 77 0 -1"),
            Some(("a) b (c)", 12))
        );
        assert_eq!(parse_stat("77 (cut"), None);
    }

    #[test]
    fn kernel_names_answer_to_names_paths_units_and_long_names() {
        let yes = [
            ("master", "master"),
            ("master", "/usr/lib/postfix/sbin/master"),
            ("exim4", "exim4.service"),
            ("EdgeTransport.e", "edgetransport.exe"),
            ("msexchangefront", "msexchangefrontendtransport"),
        ];
        for (kernel, expected) in yes {
            assert!(answers_to(kernel, expected), "{kernel} ~ {expected}");
        }
        assert!(!answers_to("smtpd", "master"));
        assert!(!answers_to("msexchangefront", "msexchange"));
        assert!(!answers_to("msexchangefr", "msexchangefrontendtransport"));
    }

    #[test]
    fn the_tree_of_a_process_is_its_ancestors_and_descendants() {
        let mut table = ProcessTable::default();
        for (pid, parent) in [(1, 0), (10, 1), (11, 10), (12, 11), (13, 10), (20, 1)] {
            table.entries.insert(pid, (format!("p{pid}"), parent));
            table.children.entry(parent).or_default().push(pid);
        }
        let mut tree: Vec<Pid> = table.tree_of(11).collect();
        tree.sort_unstable();
        assert_eq!(tree, vec![10, 12]);
        let mut tree: Vec<Pid> = table.tree_of(10).collect();
        tree.sort_unstable();
        assert_eq!(tree, vec![11, 12, 13]);
    }
}
