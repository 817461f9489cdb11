//! The OS layer: the one place that asks the operating system which sockets listen on the
//! inspected ports and which processes hold them. It returns plain [`Observation`] data;
//! everything after it is platform-independent.
//!
//! Platform differences (also in the README):
//! - Linux: sockets come from the kernel's socket-diagnostics interface (netlink) through
//!   netstat2; holders are found by matching socket inodes against `/proc/PID/fd`, which needs
//!   root for other users' processes.
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

/// Lists the TCP listeners on `ports` (IPv4 and IPv6), their holders, and the details of
/// every holder and its ancestors.
pub fn observe(ports: &[u16]) -> Result<Observation, OsError> {
    #[cfg(target_os = "linux")]
    return linux::observe(ports);
    #[cfg(windows)]
    return windows::observe(ports);
    #[cfg(not(any(target_os = "linux", windows)))]
    return Err(OsError::SocketList(format!(
        "this operating system is not supported (ports {ports:?}); portowner runs on Linux \
         and Windows"
    )));
}
