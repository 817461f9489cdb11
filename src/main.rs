//! The portowner command: parse, resolve, observe, judge, render, exit; or, for
//! `--profile list` and the extras (completions, man page), print those.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

use portowner::banner::{self, BannerReport};
use portowner::cli::Cli;
use portowner::error::Error;
use portowner::exit::Exit;
use portowner::expectation::NameRules;
use portowner::model::Observation;
use portowner::report::{Context, Report};
use portowner::sanitize::for_terminal;
use portowner::settings::{Environment, Settings, resolve};
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
        // The reader stopped early (`portowner man | head`): nothing went wrong here.
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
    if cli.wants_profile_list() {
        let mut stdout = anstream::stdout().lock();
        render::write_profiles(cli.format, &mut stdout).map_err(Error::Output)?;
        return Ok(Exit::Ok);
    }
    let settings = resolve(cli, &Environment::from_process())?;

    let observation = os::observe(&settings.ports, &settings.expectations, settings.method)?;
    if settings.verbose {
        explain(&observation.notes);
    }

    let (greetings, also_probed) = read_greetings(&settings, &observation);

    let rules = NameRules::native();
    let judgement = judge::judge(
        &observation,
        &settings.ports,
        &settings.expectations,
        rules,
        &greetings,
    );
    let format = settings.format;
    let mut report = Report::new(Context::current(), settings, observation, judgement);
    report.compare_with(also_probed);

    let mut stdout = anstream::stdout().lock();
    match render::write(&report, format, &mut stdout) {
        // The reader stopped early (`portowner | head -1`): not a failure of the run.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(Error::Output(e)),
        Ok(()) => {}
    }
    Ok(report.exit())
}

/// Reads the greetings of the listeners and of the `--also-probe` addresses, all at once so
/// that the whole wait is one timeout. Returns (local greetings, extra greetings).
fn read_greetings(
    settings: &Settings,
    observation: &Observation,
) -> (Vec<BannerReport>, Vec<BannerReport>) {
    let Some(probe) = &settings.banner else {
        return (Vec::new(), Vec::new());
    };
    let local = banner::local_targets(observation.listeners.iter().map(|l| l.address));
    let targets: Vec<SocketAddr> = local.iter().chain(&settings.also_probe).copied().collect();
    let mut reports = banner::probe_all(&targets, probe);
    let extra = reports.split_off(local.len().min(reports.len()));
    (reports, extra)
}

/// `-v`: why sockets or processes could not be attributed, on stderr.
fn explain(notes: &[String]) {
    let mut stderr = io::stderr().lock();
    for note in notes {
        let _ = writeln!(stderr, "portowner: {}", for_terminal(note));
    }
}
