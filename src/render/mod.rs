//! Turning a [`Report`] into what stdout shows: a table for people, JSON for programs; and
//! the same two forms of `--profile list`.
#![forbid(unsafe_code)]

mod json;
mod table;

use std::io::{self, Write};

use crate::cli::Format;
use crate::report::Report;

pub use json::{profiles_to_json, to_json};
pub use table::to_text;

/// Writes `report` to `out` in `format`. Colour is added for the table only; the caller's
/// stream decides whether it survives (see `main`).
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => out.write_all(to_text(report, true).as_bytes()),
        Format::Json => {
            out.write_all(to_json(report).as_bytes())?;
            out.write_all(b"\n")
        }
    }?;
    out.flush()
}

/// Writes the answer to `--profile list` in `format`.
pub fn write_profiles(format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => out.write_all(crate::profile::list_text().as_bytes()),
        Format::Json => {
            out.write_all(profiles_to_json().as_bytes())?;
            out.write_all(b"\n")
        }
    }?;
    out.flush()
}
