//! The errors portowner stops on, each with the exit code it ends the run with. Results
//! such as a wrong owner are not errors: they are verdicts.
#![forbid(unsafe_code)]

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::exit::Exit;
use crate::os::OsError;

/// Why a run could not produce a report.
#[derive(Debug, Error)]
pub enum Error {
    /// A bad value in the environment or on the command line that clap could not check.
    #[error("{0}")]
    Usage(String),
    /// The config file could not be read or is not valid.
    #[error("config file {}{}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Config {
        /// The file given with `--config`.
        path: PathBuf,
        /// The 1-based line of the problem, when it is about one line.
        line: Option<usize>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The OS would not list sockets or processes.
    #[error(transparent)]
    Os(#[from] OsError),
    /// The report could not be written to stdout.
    #[error("could not write the report: {0}")]
    Output(io::Error),
    /// A completion script or man page could not be written into the directory given.
    #[error("could not write {}: {source}; check that the directory is writable", path.display())]
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
}

impl Error {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Config { .. } => Exit::Usage,
            Error::Os(_) | Error::Output(_) | Error::Write { .. } => Exit::Failure,
        }
    }
}
