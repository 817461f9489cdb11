//! What the OS layer observed, as plain data: listening sockets, who holds them, and the
//! facts about those processes. Judging and rendering read only these types, so tests can
//! build them by hand.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A process identifier as the OS reports it.
pub type Pid = u32;

/// The PID of the Windows kernel's `System` process. A socket it holds belongs to a
/// kernel-mode driver (for a mail port usually HTTP.sys), not to a program.
pub const WINDOWS_KERNEL_PID: Pid = 4;

/// Why the Windows kernel shows no executable or command line.
pub const KERNEL_HOLDER: &str = "the Windows kernel (System, PID 4) has none: a kernel-mode \
                                 driver such as HTTP.sys holds this socket, not a program";

/// One TCP socket in the LISTEN state on an inspected port.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    /// The local address and port it is bound to, exactly as the kernel reports it.
    pub address: SocketAddr,
    /// Who holds it, or why that is not known.
    pub holders: Holders,
}

/// The processes that hold a listening socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Holders {
    /// One or more processes hold the socket (a parent and the children that inherited it).
    Known(Vec<Pid>),
    /// No holder could be identified; the reason says why and how to fix it.
    Unknown(UnknownReason),
}

/// Why the holder of a listening socket is not known.
#[derive(Debug, Clone, PartialEq)]
pub enum UnknownReason {
    /// Other users' descriptor tables could not be read (Linux without root, or /proc
    /// mounted with hidepid). `socket_user` names the socket's owner when the kernel said.
    AccessDenied {
        /// The user that created the socket, as a name or a numeric id.
        socket_user: Option<String>,
    },
    /// The OS listed the socket without an owning process (Windows PID 0, as under Wine).
    NoOwnerReported,
    /// Every process was readable, yet none holds the socket: it was closed meanwhile, or
    /// it belongs to another PID namespace (a container).
    NotFound,
}

impl UnknownReason {
    /// A sentence for the operator: why, and what to do about it.
    pub fn explain(&self) -> String {
        match self {
            UnknownReason::AccessDenied { socket_user } => {
                let owner = socket_user
                    .as_deref()
                    .map(|u| format!(" (socket owned by {u})"));
                format!(
                    "permission denied reading other processes' sockets{}; run as root \
                     (sudo) or elevated to see the holder",
                    owner.unwrap_or_default()
                )
            }
            UnknownReason::NoOwnerReported => {
                "the OS socket table named no owning process for this socket (owner PID 0, \
                 which is no process; Windows gives owners even to unelevated callers, Wine \
                 never does); `netstat -abno` from an elevated prompt may name it"
                    .to_string()
            }
            UnknownReason::NotFound => {
                "no process holds this socket any more, or it belongs to another PID \
                 namespace (a container); run again, or inspect from the container's host"
                    .to_string()
            }
        }
    }

    /// A short machine-readable name, used in JSON.
    pub fn code(&self) -> &'static str {
        match self {
            UnknownReason::AccessDenied { .. } => "access-denied",
            UnknownReason::NoOwnerReported => "no-owner-reported",
            UnknownReason::NotFound => "not-found",
        }
    }
}

/// A field the OS would not give, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail<T> {
    /// The value as read.
    Known(T),
    /// Not available; the text says why (access denied, process exited, not applicable).
    Unavailable(String),
}

impl<T> Detail<T> {
    /// The value, if it was read.
    pub fn known(&self) -> Option<&T> {
        match self {
            Detail::Known(value) => Some(value),
            Detail::Unavailable(_) => None,
        }
    }
}

/// What is known about one process that holds a listener, or is an ancestor of one.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Its PID.
    pub pid: Pid,
    /// Its full name: the executable's file name where known (Linux cuts `comm` at 15
    /// characters), else the name the OS reports.
    pub name: Detail<String>,
    /// The executable's full path.
    pub exe: Detail<PathBuf>,
    /// The command line, one argument per element.
    pub cmdline: Detail<Vec<String>>,
    /// The user it runs as.
    pub user: Detail<String>,
    /// Its parent's PID, if it has one.
    pub parent: Option<Pid>,
    /// The systemd unit (Linux) or Windows services it belongs to; empty when none.
    pub services: Vec<String>,
    /// False when the process exited between the socket listing and the process lookup.
    pub alive: bool,
}

impl Process {
    /// Whether this is the Windows kernel (`System`, PID 4), which holds the sockets that
    /// kernel-mode drivers such as HTTP.sys listen on. (On Linux PID 4 is a kernel thread
    /// with another name, and kernel threads hold no sockets.)
    pub fn is_windows_kernel(&self) -> bool {
        self.pid == WINDOWS_KERNEL_PID && self.name.known().is_some_and(|n| n == "System")
    }

    /// A process known only by its PID: it exited before its details were read.
    pub fn exited(pid: Pid) -> Self {
        Process::known_only_by_pid(pid, "process exited before its details were read", false)
    }

    /// A process known only by its PID: it no longer holds the socket it held a moment ago,
    /// so it exited and the PID may now belong to another process, whose details would lie.
    pub fn replaced(pid: Pid) -> Self {
        let why = "the process exited after the socket listing; its PID may now belong to \
                   another process";
        Process::known_only_by_pid(pid, why, false)
    }

    /// A process of which only the PID is known, every other field unavailable for `why`.
    pub fn known_only_by_pid(pid: Pid, why: &str, alive: bool) -> Self {
        Process {
            pid,
            name: Detail::Unavailable(why.to_string()),
            exe: Detail::Unavailable(why.to_string()),
            cmdline: Detail::Unavailable(why.to_string()),
            user: Detail::Unavailable(why.to_string()),
            parent: None,
            services: Vec::new(),
            alive,
        }
    }
}

#[cfg(test)]
impl Process {
    /// A process whose every detail is known, for tests: `name`, run from `exe` by root.
    pub fn fake(pid: Pid, name: &str, exe: &str, parent: Option<Pid>) -> Process {
        Process {
            pid,
            name: Detail::Known(name.to_string()),
            exe: Detail::Known(PathBuf::from(exe)),
            cmdline: Detail::Known(vec![exe.to_string()]),
            user: Detail::Known("root".to_string()),
            parent,
            services: Vec::new(),
            alive: true,
        }
    }
}

/// Everything the OS layer gathered for one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Listening TCP sockets on the inspected ports, IPv4 and IPv6.
    pub listeners: Vec<Listener>,
    /// Every holder and every ancestor of a holder, by PID.
    pub processes: BTreeMap<Pid, Process>,
    /// Whether portowner ran as root / elevated, when that could be told.
    pub elevated: Option<bool>,
    /// Explanations for `-v`: why a socket or process could not be attributed.
    pub notes: Vec<String>,
}

impl Observation {
    /// The chain from `pid` up through its parents, `pid` first. Stops at a PID that is
    /// unknown or already seen, so a malformed parent table cannot loop.
    pub fn lineage(&self, pid: Pid) -> Vec<&Process> {
        let mut chain: Vec<&Process> = Vec::new();
        let mut next = Some(pid);
        while let Some(current) = next {
            if chain.iter().any(|p| p.pid == current) {
                break;
            }
            let Some(process) = self.processes.get(&current) else {
                break;
            };
            chain.push(process);
            next = process.parent;
        }
        chain
    }
}
