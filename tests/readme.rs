//! The README's usage block is `portowner --help`, verbatim but for trailing spaces, so the
//! two cannot drift. When they differ, scripts/sync-readme.sh reruns this test with
//! PORTOWNER_SYNC_README=1, and the test rewrites the block between the markers itself: the
//! block's layout is defined here once.

// clippy.toml's allow-*-in-tests covers #[test] functions only, not the helpers of an
// integration test crate; here too a panic is a failed test, not a crash in the field.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::PathBuf;

use support::{code, run, stdout};

const START: &str = "<!-- usage:start -->";
const END: &str = "<!-- usage:end -->";

/// `portowner --help` without trailing spaces (editors strip them from Markdown) or blank
/// lines at the end, and as on Linux: on Windows clap names the program `portowner.exe`.
fn help() -> String {
    let output = run(&["--help"]);
    assert_eq!(code(&output), 0);
    let text = stdout(&output).replace("portowner.exe", "portowner");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

/// The README's block, markers included.
fn block(help: &str) -> String {
    format!("{START}\n```text\n$ portowner --help\n{help}\n```\n{END}")
}

fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

#[test]
fn readme_usage_block_is_the_help_output() {
    let path = readme_path();
    let readme = std::fs::read_to_string(&path).unwrap();
    let (before, rest) = readme
        .split_once(START)
        .unwrap_or_else(|| panic!("README.md lacks the line {START}"));
    let (current, after) = rest
        .split_once(END)
        .unwrap_or_else(|| panic!("README.md lacks the line {END} after {START}"));
    let current = format!("{START}{current}{END}");
    let wanted = block(&help());
    if current == wanted {
        return;
    }

    if std::env::var_os("PORTOWNER_SYNC_README").is_some() {
        std::fs::write(&path, format!("{before}{wanted}{after}")).unwrap();
        eprintln!("rewrote the usage block of {}", path.display());
        return;
    }
    panic!(
        "README.md's usage block differs from `portowner --help`; run scripts/sync-readme.sh \
         to rewrite it.\n{}",
        first_difference(&current, &wanted)
    );
}

/// Where two texts first differ, line by line, for the failure message.
fn first_difference(readme: &str, help: &str) -> String {
    let readme: Vec<&str> = readme.lines().collect();
    let help: Vec<&str> = help.lines().collect();
    for index in 0..readme.len().max(help.len()) {
        let (a, b) = (readme.get(index), help.get(index));
        if a != b {
            let end = &"<end of block>";
            return format!(
                "First difference, line {} of the block:\n  README: {}\n  --help: {}",
                index + 1,
                a.unwrap_or(end),
                b.unwrap_or(end)
            );
        }
    }
    String::from("The lines agree; the line endings differ.")
}
