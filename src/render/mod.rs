//! Turning a [`Report`] into what stdout shows: a table for people, JSON for programs.

mod json;
mod table;

use std::io::{self, Write};

use crate::cli::Format;
use crate::report::Report;

pub use json::to_json;
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
