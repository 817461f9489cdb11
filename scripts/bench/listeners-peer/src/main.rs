//! `listeners-peer PORT`: prints the process that listens on TCP port PORT, as the
//! `listeners` crate finds it; exit code 1 when it finds none. Used by scripts/bench.sh only.

use std::process::ExitCode;

fn main() -> ExitCode {
    let port = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok());
    let Some(port) = port else {
        eprintln!("usage: listeners-peer PORT");
        return ExitCode::from(2);
    };
    match listeners::get_process_by_port(port, listeners::Protocol::TCP) {
        Ok(process) => {
            println!("{process}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("listeners-peer: {error}");
            ExitCode::FAILURE
        }
    }
}
