//! End-to-end tests of the banner probe against the fake SMTP fixture.
//! Every server is on loopback and set up by the test itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/fake_smtp.rs"]
mod fake_smtp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fake_smtp::{Behaviour, FakeSmtp, MULTI_LINE_GREETING, NORMAL_GREETING, Record};
use portowner::banner::{BannerReport, Finding, ProbeSettings, probe, probe_all};

const LOCAL4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Added to every upper time bound: the machines are shared, and these bounds prove that a
/// probe ends near its deadline instead of hanging, not how fast it is.
const SLACK: Duration = Duration::from_secs(2);

/// Short limits so failures show in about a second.
fn fast() -> ProbeSettings {
    ProbeSettings {
        connect_timeout: Duration::from_secs(1),
        greeting_timeout: Duration::from_secs(1),
        slow_after: Duration::from_secs(5),
    }
}

/// Runs `probe` on a helper thread so that a hanging probe fails the test
/// after `limit` instead of hanging the suite.
fn run(addr: SocketAddr, settings: ProbeSettings, limit: Duration) -> (BannerReport, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    thread::spawn(move || {
        let _ = tx.send(probe(addr, &settings));
    });
    let report = rx
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("probe of {addr} did not finish within {limit:?}"));
    let took = started.elapsed();
    assert_eq!(report.target, addr);
    (report, took)
}

/// Starts a fake server, probes it once with `settings`, and stops it.
fn probe_fake(
    ip: IpAddr,
    script: Behaviour,
    settings: ProbeSettings,
) -> (BannerReport, Duration, Record) {
    let server = FakeSmtp::start(ip, script);
    let (report, took) = run(server.addr(), settings, Duration::from_secs(5));
    let record = server.finish();
    assert_eq!(record.connections, 1, "{record:?}");
    assert!(
        !record.spoke_early,
        "client spoke before the greeting: {record:?}"
    );
    (report, took, record)
}

fn error_of(report: &BannerReport) -> &str {
    report
        .error
        .as_deref()
        .unwrap_or_else(|| panic!("no error text in {report:?}"))
}

fn assert_ok_with_quit(report: &BannerReport, record: &Record) {
    assert_eq!(report.finding, Finding::Ok, "{report:?}");
    assert_eq!(report.code, Some(220));
    assert_eq!(report.error, None);
    assert!(
        report.connect_ms.is_some() && report.greeting_ms.is_some(),
        "{report:?}"
    );
    assert!(record.quit_received, "{record:?}");
    assert_eq!(record.received, b"QUIT\r\n");
}

#[test]
fn normal_greeting_is_ok_and_quit_follows() {
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::Normal, fast());
    assert_ok_with_quit(&report, &record);
    assert_eq!(report.lines, [NORMAL_GREETING]);
    assert!(!report.slow);
    assert!(took < Duration::from_secs(1) + SLACK, "{took:?}");
}

#[test]
fn multi_line_greeting_waits_for_the_final_line() {
    let pause = Duration::from_millis(400);
    let settings = ProbeSettings {
        greeting_timeout: Duration::from_secs(2),
        ..fast()
    };
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::MultiLine { pause }, settings);
    assert_ok_with_quit(&report, &record);
    assert_eq!(report.lines, MULTI_LINE_GREETING);
    assert!(report.greeting_ms.unwrap() >= 400, "{report:?}");
    assert!(took < Duration::from_secs(2) + SLACK, "{took:?}");
}

#[test]
fn slow_greeting_is_ok_but_flagged_slow() {
    let delay = Duration::from_millis(400);
    let settings = ProbeSettings {
        slow_after: Duration::from_millis(200),
        ..fast()
    };
    let (report, _, record) = probe_fake(LOCAL4, Behaviour::SlowGreeting { delay }, settings);
    assert_ok_with_quit(&report, &record);
    assert!(report.slow, "{report:?}");
    assert!(report.greeting_ms.unwrap() >= 400, "{report:?}");
}

#[test]
fn silence_times_out_at_the_greeting_deadline() {
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::Silence, fast());
    assert_eq!(report.finding, Finding::Timeout, "{report:?}");
    assert!(report.lines.is_empty() && report.code.is_none() && report.greeting_ms.is_none());
    assert!(report.connect_ms.is_some());
    assert!(
        error_of(&report).contains("no complete greeting within 1 s"),
        "{report:?}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3) + SLACK,
        "{took:?}"
    );
    assert!(
        !record.quit_received && record.received.is_empty(),
        "{record:?}"
    );
}

#[test]
fn close_before_greeting_is_closed() {
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::CloseBeforeGreeting, fast());
    assert_eq!(report.finding, Finding::Closed, "{report:?}");
    assert!(error_of(&report).contains("closed"));
    assert!(took < Duration::from_secs(1) + SLACK, "{took:?}");
    assert!(record.received.is_empty());
}

#[test]
fn reset_before_greeting_is_closed_with_reset_text() {
    let (report, took, _) = probe_fake(LOCAL4, Behaviour::Reset, fast());
    assert_eq!(report.finding, Finding::Closed, "{report:?}");
    assert!(error_of(&report).contains("reset"), "{report:?}");
    assert!(took < Duration::from_secs(1) + SLACK, "{took:?}");
}

#[test]
fn greeting_421_is_rejected() {
    let (report, took, _) = probe_fake(LOCAL4, Behaviour::Reply421, fast());
    assert_eq!(report.finding, Finding::Rejected, "{report:?}");
    assert_eq!(report.code, Some(421));
    assert_eq!(report.lines, ["421 4.3.2 fake.test busy, try later"]);
    assert!(error_of(&report).contains("421"));
    assert!(took < Duration::from_secs(2) + SLACK, "{took:?}");
}

#[test]
fn greeting_554_is_rejected_and_quit_follows() {
    let (report, _, record) = probe_fake(LOCAL4, Behaviour::Reply554, fast());
    assert_eq!(report.finding, Finding::Rejected, "{report:?}");
    assert_eq!(report.code, Some(554));
    assert!(report.finding.is_bad_banner());
    assert!(record.quit_received, "{record:?}");
}

#[test]
fn asterisk_greeting_is_masked() {
    let (report, _, record) = probe_fake(LOCAL4, Behaviour::Masked, fast());
    assert_eq!(report.finding, Finding::Masked, "{report:?}");
    assert_eq!(report.code, Some(220));
    assert!(error_of(&report).contains("PIX/ASA"));
    assert!(record.quit_received);
}

#[test]
fn binary_garbage_is_not_smtp_at_once() {
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::BinaryGarbage, fast());
    assert_eq!(report.finding, Finding::NotSmtp, "{report:?}");
    assert!(error_of(&report).contains("3-digit"), "{report:?}");
    assert!(!error_of(&report).contains("TLS"));
    assert!(took < Duration::from_millis(800) + SLACK, "{took:?}");
    assert!(
        record.received.is_empty(),
        "no QUIT to a non-SMTP peer: {record:?}"
    );
}

#[test]
fn tls_bytes_suggest_implicit_tls() {
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::TlsHandshakeBytes, fast());
    assert_eq!(report.finding, Finding::NotSmtp, "{report:?}");
    assert!(error_of(&report).contains("implicit TLS"), "{report:?}");
    assert!(error_of(&report).contains("TLS handshake"), "{report:?}");
    assert!(took < Duration::from_millis(800) + SLACK, "{took:?}");
    assert!(record.received.is_empty());
}

#[test]
fn trickle_cannot_stretch_the_deadline() {
    // A byte every 100 ms would keep a per-read timeout of 1 s alive forever.
    let interval = Duration::from_millis(100);
    let (report, took, record) = probe_fake(LOCAL4, Behaviour::Trickle { interval }, fast());
    assert_eq!(report.finding, Finding::Timeout, "{report:?}");
    assert!(took < Duration::from_secs(3) + SLACK, "{took:?}");
    let partial = report.lines.first().expect("partial line kept");
    assert!(partial.starts_with("220-tr"), "{report:?}");
    assert!(error_of(&report).contains("incomplete reply"), "{report:?}");
    assert!(record.received.is_empty());
}

#[test]
fn huge_line_without_newline_is_not_smtp_quickly() {
    let (report, took, _) = probe_fake(LOCAL4, Behaviour::HugeNoNewline, fast());
    assert_eq!(report.finding, Finding::NotSmtp, "{report:?}");
    assert!(error_of(&report).contains("too long"), "{report:?}");
    assert!(took < Duration::from_millis(800) + SLACK, "{took:?}");
    let kept: usize = report.lines.iter().map(String::len).sum();
    assert!(
        kept <= portowner::banner::MAX_BYTES + 1,
        "kept {kept} bytes"
    );
}

#[test]
fn escape_sequences_are_kept_unsanitised() {
    let (report, _, record) = probe_fake(LOCAL4, Behaviour::EscapeSequences, fast());
    assert_ok_with_quit(&report, &record);
    let line = &report.lines[0];
    assert!(
        line.contains("\x1b[31mRED") && line.contains('\x07'),
        "{line:?}"
    );
}

#[test]
fn mixed_codes_in_one_reply_are_not_smtp() {
    let (report, _, record) = probe_fake(LOCAL4, Behaviour::MixedCodes, fast());
    assert_eq!(report.finding, Finding::NotSmtp, "{report:?}");
    assert!(error_of(&report).contains("220 then 554"), "{report:?}");
    assert_eq!(report.lines.len(), 2, "{report:?}");
    assert!(!record.quit_received);
}

#[test]
fn ipv6_loopback_greeting_is_ok() {
    let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let (report, _, record) = probe_fake(ip, Behaviour::Normal, fast());
    assert!(report.target.is_ipv6());
    assert_ok_with_quit(&report, &record);
}

#[test]
fn other_loopback_address_127_0_0_2() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let (report, _, record) = probe_fake(ip, Behaviour::Normal, fast());
    assert_eq!(report.target.ip(), ip);
    assert_ok_with_quit(&report, &record);
}

#[test]
fn closed_port_is_refused() {
    // A port our own server just released: nothing listens there now.
    let addr = FakeSmtp::start(LOCAL4, Behaviour::Silence).addr();
    let (report, took) = run(addr, fast(), Duration::from_secs(5));
    assert_eq!(report.finding, Finding::Refused, "{report:?}");
    assert!(report.connect_ms.is_none());
    assert!(error_of(&report).contains("refused"));
    assert!(took < Duration::from_millis(500) + SLACK, "{took:?}");
}

#[test]
fn probe_all_waits_one_timeout_not_six() {
    let servers: Vec<_> = (0..6)
        .map(|_| FakeSmtp::start(LOCAL4, Behaviour::Silence))
        .collect();
    let targets: Vec<_> = servers.iter().map(FakeSmtp::addr).collect();
    let started = Instant::now();
    let reports = probe_all(&targets, &fast());
    let took = started.elapsed();
    // One after another would take at least 6 s.
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(reports.len(), 6);
    for (report, target) in reports.iter().zip(&targets) {
        assert_eq!(report.target, *target);
        assert_eq!(report.finding, Finding::Timeout, "{report:?}");
    }
    for server in servers {
        assert!(!server.finish().spoke_early);
    }
}

#[test]
fn probe_all_keeps_input_order() {
    let scripts = [Behaviour::Silence, Behaviour::Reply554, Behaviour::Normal];
    let servers: Vec<_> = scripts
        .into_iter()
        .map(|s| FakeSmtp::start(LOCAL4, s))
        .collect();
    let targets: Vec<_> = servers.iter().map(FakeSmtp::addr).collect();
    let findings: Vec<_> = probe_all(&targets, &fast())
        .iter()
        .map(|r| r.finding)
        .collect();
    assert_eq!(findings, [Finding::Timeout, Finding::Rejected, Finding::Ok]);
    assert!(probe_all(&[], &fast()).is_empty());
    for server in servers {
        assert!(!server.finish().spoke_early);
    }
}
