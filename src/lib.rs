//! portowner: which process owns the SMTP port on this server, is it the one that should,
//! and what to do next.
//!
//! The run is a pipeline, each step in its own module: [`cli`] parses, [`settings`] resolves,
//! [`os`] observes, [`judge`] judges, [`advice`] advises, [`render`] prints, and [`exit`]
//! turns the verdict into the process exit code.

pub mod advice;
pub mod banner;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit;
pub mod expectation;
pub mod judge;
pub mod model;
pub mod os;
pub mod ports;
pub mod profile;
pub mod render;
pub mod report;
pub mod sanitize;
pub mod settings;
