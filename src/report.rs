//! A finished run: where and when it ran, what was observed, how it was judged, and the
//! advice. Renderers read only this.
#![forbid(unsafe_code)]

use std::time::SystemTime;

use crate::advice::{advise, compare_greetings};
use crate::banner::BannerReport;
use crate::exit::Exit;
use crate::judge::Judgement;
use crate::model::Observation;
use crate::settings::Settings;

/// Where and when a run happened, for reports collected from many servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// This host's name, when the OS gives it.
    pub host: Option<String>,
    /// When the run happened, RFC 3339 in UTC.
    pub time: String,
    /// portowner's version.
    pub version: &'static str,
    /// The OS family (`linux`, `windows`).
    pub os: &'static str,
    /// The OS's own long version string, when it gives one.
    pub os_version: Option<String>,
}

impl Context {
    /// Reads the context of this machine, now.
    pub fn current() -> Self {
        Context {
            host: sysinfo::System::host_name().ok(),
            time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            version: env!("CARGO_PKG_VERSION"),
            os: std::env::consts::OS,
            os_version: sysinfo::System::long_os_version().ok(),
        }
    }
}

/// Everything a renderer needs.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where and when.
    pub context: Context,
    /// What was asked.
    pub settings: Settings,
    /// What the OS said.
    pub observation: Observation,
    /// The verdicts.
    pub judgement: Judgement,
    /// Greetings read at the `--also-probe` addresses.
    pub also_probed: Vec<BannerReport>,
    /// What to do next.
    pub advice: Vec<String>,
}

impl Report {
    /// Puts a report together, deriving the advice.
    pub fn new(
        context: Context,
        settings: Settings,
        observation: Observation,
        judgement: Judgement,
    ) -> Self {
        let advice = advise(&judgement, &observation);
        Report {
            context,
            settings,
            observation,
            judgement,
            also_probed: Vec::new(),
            advice,
        }
    }

    /// Adds the greetings read at `--also-probe` addresses and the advice comparing them
    /// with the local ones.
    pub fn compare_with(&mut self, also_probed: Vec<BannerReport>) {
        self.advice
            .extend(compare_greetings(&self.judgement, &also_probed));
        self.also_probed = also_probed;
    }

    /// The exit code this report ends the run with.
    pub fn exit(&self) -> Exit {
        self.judgement.verdict.exit()
    }
}

#[cfg(test)]
impl Report {
    /// A report for renderer tests: fixed context on host `host` (`os`), default settings
    /// for `ports` and `expectations` (greeting read with default limits off), the verdicts
    /// judged from `observation` with `rules`.
    pub fn sample(
        host: &str,
        os: &'static str,
        observation: Observation,
        ports: Vec<u16>,
        expectations: crate::expectation::Expectations,
        rules: crate::expectation::NameRules,
    ) -> Report {
        let judgement = crate::judge::judge(&observation, &ports, &expectations, rules, &[]);
        let settings = Settings {
            ports,
            expectations,
            profile: None,
            format: crate::cli::Format::Table,
            verbose: false,
            banner: None,
            also_probe: Vec::new(),
            method: crate::os::Method::default(),
        };
        let context = Context {
            host: Some(host.to_string()),
            time: "2026-01-01T00:00:00Z".to_string(),
            version: "0",
            os,
            os_version: None,
        };
        Report::new(context, settings, observation, judgement)
    }
}
