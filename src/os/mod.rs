//! The OS layer: the one place that asks the operating system which sockets listen on the
//! inspected ports and which processes hold them. It returns plain [`Observation`] data;
//! everything after it is platform-independent.
//!
//! Platform differences (also in the README):
//! - Linux: sockets come from the kernel's socket-diagnostics interface (netlink; procfs when
//!   netlink fails); holders are found by matching socket inodes against `/proc/PID/fd`,
//!   which needs root for other users' processes. The expected owner's process trees are
//!   searched first; see `linux/holders.rs` and docs/performance.md.
//! - Windows: the TCP tables from `GetExtendedTcpTable` (netstat2) name one owning PID per
//!   socket; process details come from a process snapshot, users and elevation from process
//!   tokens, services from the Service Control Manager.

mod processes;
pub mod services;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
mod windows_api;

use std::io;

use thiserror::Error;

use crate::expectation::Expectations;
use crate::model::Observation;

/// The OS would not answer a question portowner cannot do without.
#[derive(Debug, Error)]
pub enum OsError {
    /// The socket table could not be read at all.
    #[error(
        "could not list TCP sockets: {0}; check that /proc is mounted (Linux) or that the \
             IP Helper API is available (Windows)"
    )]
    SocketList(String),
    /// Another I/O failure while observing.
    #[error("could not read {what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// Where the holders of a socket are looked for (Linux; on Windows the socket table names
/// them). A diagnostic choice: the default is what every run should use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HolderSearch {
    /// The expected owner's process trees first; every process when that answer is not `ok`.
    #[default]
    Targeted,
    /// Every process's descriptors, always.
    Full,
}

/// Where the list of listening sockets comes from (Linux). A diagnostic choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SocketSource {
    /// Netlink socket diagnostics, falling back to `/proc/net/tcp*` if netlink fails.
    #[default]
    Netlink,
    /// Only `/proc/net/tcp` and `/proc/net/tcp6`.
    Procfs,
}

/// How the OS layer looks; `Method::default()` for an ordinary run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Method {
    /// Where holders are looked for.
    pub holder_search: HolderSearch,
    /// Where sockets are listed from.
    pub socket_source: SocketSource,
}

/// Lists the TCP listeners on `ports` (IPv4 and IPv6), their holders, and the details of
/// every holder and its ancestors. `expectations` tell where the holders most likely are;
/// the answer is the same as without them, only faster (Linux; see docs/performance.md for
/// the one case where a targeted search lists fewer holders).
pub fn observe(
    ports: &[u16],
    expectations: &Expectations,
    method: Method,
) -> Result<Observation, OsError> {
    #[cfg(target_os = "linux")]
    return linux::observe(ports, expectations, method);
    #[cfg(windows)]
    return windows::observe(ports, expectations, method);
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = (expectations, method);
        return Err(OsError::SocketList(format!(
            "this operating system is not supported (ports {ports:?}); portowner runs on \
             Linux and Windows"
        )));
    }
}
