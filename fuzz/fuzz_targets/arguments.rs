//! Fuzzes the command-line parsers a user can feed anything: port lists, the whole clap
//! definition (ports, timeouts, --also-probe addresses) and the settings resolution.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use portowner::cli::Cli;
use portowner::ports::parse_port_list;
use portowner::settings::{Environment, resolve};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(ports) = parse_port_list(text) {
        assert!(ports.iter().all(|&p| p != 0));
    }
    let mut argv = vec!["portowner".to_string()];
    argv.extend(text.split('\u{1f}').map(String::from));
    if let Ok(cli) = Cli::try_parse_from(&argv) {
        if cli.config.is_none() {
            let env = Environment { expect: Some(text.to_string()), ..Environment::default() };
            let _ = resolve(&cli, &env);
        }
    }
});
