//! The extras around the main job: shell completion scripts and the man page, both generated
//! from the clap definition in [`crate::cli`] so that they cannot drift from `--help`, and the
//! `--version` text. Each is written to stdout, or into a directory given with `--dir`.
#![forbid(unsafe_code)]

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Subcommand};
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};

use crate::build_info;
use crate::cli::Cli;
use crate::error::Error;
use crate::exit::Exit;

/// The name completions are registered for: the one users type, also on Windows.
const BIN_NAME: &str = "portowner";

/// Where each script goes, for `portowner completions --help` (docs/install.md says more).
const COMPLETIONS_HELP: &str = concat!(
    "Installing the script:\n",
    "  For the current user; docs/install.md has the system-wide places.\n",
    "  bash        portowner completions bash \\\n",
    "                > ~/.local/share/bash-completion/completions/portowner\n",
    "  zsh         portowner completions zsh > ~/.zfunc/_portowner  (~/.zfunc in $fpath)\n",
    "  fish        portowner completions fish > ~/.config/fish/completions/portowner.fish\n",
    "  powershell  portowner completions powershell | Out-File -Encoding utf8 ~\\portowner.ps1\n",
    "              and add the line  . ~\\portowner.ps1  to $PROFILE",
);

/// The subcommands: things a packager or an admin setting up a shell asks for once.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a completion script for a shell
    #[command(after_long_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: Shell,

        /// Write the script into DIR under the shell's usual file name instead of stdout
        #[arg(short, long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the man page (roff; view it with `man -l -`)
    Man {
        /// Write portowner.1 and a page per subcommand into DIR instead of stdout
        #[arg(short, long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Runs a subcommand.
pub fn run(command: &Command) -> Result<Exit, Error> {
    match command {
        Command::Completions { shell, dir: None } => to_stdout(&completions(*shell)),
        Command::Completions {
            shell,
            dir: Some(dir),
        } => to_file(dir, &shell.file_name(BIN_NAME), &completions(*shell)),
        Command::Man { dir: None } => to_stdout(&man_page().map_err(Error::Output)?),
        Command::Man { dir: Some(dir) } => man_pages_into(dir),
    }
    .map(|()| Exit::Ok)
}

/// `--version`, with `--verbose` the build details too.
pub fn print_version(verbose: bool) -> Result<Exit, Error> {
    to_stdout(build_info::version_text(verbose).as_bytes()).map(|()| Exit::Ok)
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    // Into memory first: clap_complete panics when its writer fails, and a closed stdout
    // (`portowner completions bash | head`) must end quietly instead.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut script);
    script
}

/// The man page portowner(1), in roff.
pub fn man_page() -> Result<Vec<u8>, io::Error> {
    page(man_command())
}

/// clap's definition as the man pages show it: without the `help` subcommand, which has no
/// page of its own.
fn man_command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// Writes portowner.1 and portowner-SUBCOMMAND.1 into `dir`, which the SUBCOMMANDS section of
/// portowner.1 refers to.
fn man_pages_into(dir: &Path) -> Result<(), Error> {
    let main = man_command();
    let subcommands = main.get_subcommands().filter(|s| !s.is_hide_set()).cloned();
    for command in subcommands.chain([main.clone()]) {
        let name = Man::new(command.clone()).get_filename();
        to_file(dir, &name, &page(command).map_err(Error::Output)?)?;
    }
    Ok(())
}

/// One man page. The after-help text becomes proper man sections instead of clap_mangen's
/// one "EXTRA" section, whose filled paragraphs would run the lines of its tables together.
fn page(command: clap::Command) -> Result<Vec<u8>, io::Error> {
    let extra = command.get_after_long_help().map(ToString::to_string);
    let command = command
        .after_long_help(None::<&str>)
        .after_help(None::<&str>);

    let mut page = Vec::new();
    let source = format!("portowner {}", build_info::VERSION);
    Man::new(command).source(source).render(&mut page)?;
    if let Some(extra) = extra {
        page.extend(without_preamble(&after_help_sections(&extra))?);
    }
    Ok(page)
}

/// The `after_help` text ("Heading:" lines, each followed by indented lines, blocks separated by
/// blank lines) as man sections whose lines are kept as they are, so the tables stay aligned.
fn after_help_sections(text: &str) -> Roff {
    let mut roff = Roff::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(heading) = lines.next() else {
            continue;
        };
        roff.control("SH", [man_heading(heading).as_str()]);
        roff.control("nf", []);
        for line in lines {
            roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
        }
        roff.control("fi", []);
    }
    roff
}

/// A help heading as the usual man section name.
fn man_heading(heading: &str) -> String {
    match heading.trim().trim_end_matches(':') {
        "Exit codes" => String::from("EXIT STATUS"),
        other => other.to_uppercase(),
    }
}

/// Roff output without the preamble that every rendering starts with: the page it is
/// appended to has defined it already.
fn without_preamble(roff: &Roff) -> Result<Vec<u8>, io::Error> {
    let mut preamble = Vec::new();
    Roff::new().to_writer(&mut preamble)?;
    let mut text = Vec::new();
    roff.to_writer(&mut text)?;
    Ok(text
        .strip_prefix(preamble.as_slice())
        .map(<[u8]>::to_vec)
        .unwrap_or(text))
}

/// Writes to stdout; a closed pipe comes back as [`Error::Output`], which main ends quietly.
fn to_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)
}

/// Writes `dir/name`, creating `dir` first, as a packaging script expects of an output directory.
fn to_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(name);
    fs::create_dir_all(dir)
        .and_then(|()| fs::write(&path, bytes))
        .map_err(|source| Error::Write { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_that_knows_the_flags() {
        for shell in Shell::value_variants() {
            let script = String::from_utf8(completions(*shell)).unwrap();
            for word in [
                "port",
                "expect",
                "config",
                "format",
                "verbose",
                "completions",
            ] {
                assert!(script.contains(word), "{shell}: {word} missing");
            }
        }
    }

    #[test]
    fn man_page_has_the_usual_sections_once() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.contains(".TH portowner 1"), "{page}");
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "ENVIRONMENT",
            "EXAMPLES",
            "EXIT STATUS",
        ] {
            let heading = format!(".SH {section}\n");
            let quoted = format!(".SH \"{section}\"\n");
            let count = page.matches(&heading).count() + page.matches(&quoted).count();
            assert_eq!(count, 1, "{section}: {page}");
        }
        assert!(!page.contains("EXTRA"), "{page}");
        assert!(!page.contains("portowner-help"), "{page}");
    }

    #[test]
    fn after_help_blocks_become_sections_with_lines_kept() {
        let roff = after_help_sections("Exit codes:\n  0  ok\n  1  failure\n\nExamples:\n  a\n");
        let text = String::from_utf8(without_preamble(&roff).unwrap()).unwrap();
        assert_eq!(
            text,
            ".SH \"EXIT STATUS\"\n.nf\n0  ok\n1  failure\n.fi\n.SH EXAMPLES\n.nf\na\n.fi\n"
        );
    }
}
