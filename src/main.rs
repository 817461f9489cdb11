//! The portowner command: parse, resolve, observe, judge, render, exit; or one of the extras.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use portowner::cli::Cli;
use portowner::error::Error;
use portowner::exit::Exit;
use portowner::expectation::NameRules;
use portowner::report::{Context, Report};
use portowner::sanitize::for_terminal;
use portowner::settings::{Environment, resolve};
use portowner::{extras, judge, os, render};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Some(command) => extras::run(command),
        None if cli.version => extras::print_version(cli.verbose),
        None => run(&cli),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Ok.into(),
        Err(error) => {
            let _ = writeln!(
                io::stderr(),
                "portowner: {}",
                for_terminal(&error.to_string())
            );
            error.exit().into()
        }
    }
}

fn run(cli: &Cli) -> Result<Exit, Error> {
    let settings = resolve(cli, &Environment::from_process())?;

    let observation = os::observe(&settings.ports)?;
    if settings.verbose {
        explain(&observation.notes);
    }

    let judgement = judge::judge(
        &observation,
        &settings.ports,
        &settings.expectations,
        NameRules::native(),
    );
    let format = settings.format;
    let report = Report::new(Context::current(), settings, observation, judgement);

    let mut stdout = anstream::stdout().lock();
    render::write(&report, format, &mut stdout).map_err(Error::Output)?;
    Ok(report.exit())
}

/// `-v`: why sockets or processes could not be attributed, on stderr.
fn explain(notes: &[String]) {
    let mut stderr = io::stderr().lock();
    for note in notes {
        let _ = writeln!(stderr, "portowner: {}", for_terminal(note));
    }
}
