//! portowner: which process owns the SMTP port on this server, is it the one that should,
//! and what to do next.
//!
//! The run is a pipeline, each step in its own module: [`cli`] parses, [`settings`] resolves,
//! [`os`] observes, [`judge`] judges, [`advice`] advises, [`render`] prints, and [`exit`]
//! turns the verdict into the process exit code. [`extras`] holds what is not the main job:
//! shell completions, the man page and the version text ([`build_info`]).
//!
//! Unsafe code: `Cargo.toml` denies it for the crate, every module but `os::windows_api`
//! forbids it, and that one module (the Windows API calls) allows it with a SAFETY comment
//! on each block. (A crate-wide `forbid` would not let that module allow it.)

pub mod advice;
pub mod banner;
pub mod build_info;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod expectation;
pub mod extras;
pub mod judge;
pub mod model;
pub mod os;
pub mod ports;
pub mod profile;
pub mod render;
pub mod report;
pub mod sanitize;
pub mod settings;
