//! The greeting check end to end: the built binary against fake SMTP servers that this test
//! starts on loopback, one per misbehaviour. Each gets its finding, verdict and exit code,
//! within a bounded time. Under Wine, where the OS names no socket owner, an `ok` owner
//! verdict is the honest `owner-unknown` instead (see `support::own`).

// Tests may panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use support::fake_smtp::{Behaviour, FakeSmtp};
use support::{code, own, run, run_json, stdout};

const LOCAL4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn me() -> String {
    std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Runs portowner in JSON against `server` with a 1 s greeting timeout; returns the port's
/// first greeting, the verdict, the exit code and how long it took.
fn check(server: &FakeSmtp, extra: &[&str]) -> (serde_json::Value, String, i32, Duration) {
    let port = server.addr().port().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--expect",
        &me_static(),
        "--banner-timeout",
        "1",
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let (json, output) = run_json(&args);
    let took = started.elapsed();
    let greeting = json["ports"][0]["banner"][0].clone();
    (
        greeting,
        json["verdict"].as_str().unwrap().to_string(),
        code(&output),
        took,
    )
}

/// How long a run takes that probes nothing: starting the process and observing the
/// sockets. Time budgets below add it, because under Wine starting a Windows process alone
/// takes most of a second (more when the tests run in parallel on a small machine).
fn startup() -> Duration {
    let port = support::free_port().to_string();
    let started = Instant::now();
    let _ = run(&["--port", &port, "--no-banner"]);
    started.elapsed()
}

fn me_static() -> &'static str {
    Box::leak(me().into_boxed_str())
}

#[test]
fn every_misbehaviour_gets_its_finding_verdict_and_exit_code() {
    let cases = [
        (Behaviour::Normal, "ok", "ok", 0),
        (
            Behaviour::MultiLine {
                pause: Duration::from_millis(300),
            },
            "ok",
            "ok",
            0,
        ),
        (
            Behaviour::SlowGreeting {
                delay: Duration::from_millis(400),
            },
            "ok",
            "ok",
            0,
        ),
        (
            Behaviour::SlowGreeting {
                delay: Duration::from_secs(3),
            },
            "timeout",
            "no-banner",
            6,
        ),
        (Behaviour::Silence, "timeout", "no-banner", 6),
        (Behaviour::CloseBeforeGreeting, "closed", "no-banner", 6),
        (Behaviour::Reset, "closed", "no-banner", 6),
        (Behaviour::Reply421, "rejected", "bad-banner", 6),
        (Behaviour::Reply554, "rejected", "bad-banner", 6),
        (Behaviour::Masked, "masked", "bad-banner", 6),
        (Behaviour::BinaryGarbage, "not-smtp", "bad-banner", 6),
        (Behaviour::TlsHandshakeBytes, "not-smtp", "bad-banner", 6),
        (
            Behaviour::Trickle {
                interval: Duration::from_millis(300),
            },
            "timeout",
            "no-banner",
            6,
        ),
        (Behaviour::HugeNoNewline, "not-smtp", "bad-banner", 6),
        (Behaviour::EscapeSequences, "ok", "ok", 0),
    ];
    let budget = Duration::from_secs(5) + startup();
    for (behaviour, finding, verdict, exit) in cases {
        let (verdict, exit) = own(verdict, exit);
        let shown = format!("{behaviour:?}");
        let server = FakeSmtp::start(LOCAL4, behaviour);
        let (greeting, got_verdict, got_exit, took) = check(&server, &[]);
        let record = server.finish();
        assert_eq!(greeting["finding"], finding, "{shown}: {greeting}");
        assert_eq!(got_verdict, verdict, "{shown}");
        assert_eq!(got_exit, exit, "{shown}");
        assert!(took < budget, "{shown} took {took:?}");
        assert!(
            !record.spoke_early,
            "{shown}: portowner spoke before the greeting"
        );
    }
}

#[test]
fn a_good_greeting_is_followed_by_quit_and_reported_with_timings() {
    let server = FakeSmtp::start(LOCAL4, Behaviour::Normal);
    let (greeting, _, exit, _) = check(&server, &[]);
    let record = server.finish();
    assert_eq!(exit, own("ok", 0).1);
    assert_eq!(greeting["code"], 220);
    assert!(
        greeting["connect_ms"].is_u64() && greeting["greeting_ms"].is_u64(),
        "{greeting}"
    );
    assert!(record.quit_received, "portowner did not say QUIT");
}

#[test]
fn rejected_greeting_is_quoted_in_the_advice() {
    let server = FakeSmtp::start(LOCAL4, Behaviour::Reply554);
    let port = server.addr().port().to_string();
    let output = run(&["--port", &port, "--expect", &me(), "--banner-timeout", "1"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 6, "{text}");
    assert!(
        text.contains("port ") && text.contains("bad-banner"),
        "{text}"
    );
    assert!(text.contains("refuses service with \"554"), "{text}");
}

#[test]
fn escape_sequences_in_a_banner_never_reach_the_terminal() {
    let server = FakeSmtp::start(LOCAL4, Behaviour::EscapeSequences);
    let port = server.addr().port().to_string();
    let output = run(&["--port", &port, "--expect", &me(), "--banner-timeout", "1"]);
    let text = stdout(&output);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("\\x1b"), "escapes are shown visibly: {text}");
    let (json, _) = run_json(&["--port", &port, "--expect", &me(), "--banner-timeout", "1"]);
    let raw = json["ports"][0]["banner"][0]["text"].as_str().unwrap();
    assert!(
        raw.contains('\x1b'),
        "JSON keeps the text, escaped by the encoder"
    );
}

#[test]
fn no_banner_skips_the_probe() {
    let server = FakeSmtp::start(LOCAL4, Behaviour::Silence);
    let budget = Duration::from_secs(1) + 2 * startup();
    let (greeting, verdict, exit, took) = check(&server, &["--no-banner"]);
    let record = server.finish();
    assert!(greeting.is_null());
    assert_eq!((verdict.as_str(), exit), own("ok", 0));
    assert_eq!(record.connections, 0, "the silent server was not probed");
    assert!(
        took < budget,
        "no wait for the 1 s greeting timeout: {took:?}"
    );
}

#[test]
fn ipv4_and_ipv6_listeners_are_probed_concurrently() {
    let v4 = FakeSmtp::start(LOCAL4, Behaviour::Silence);
    let Ok(v6) = FakeSmtp::try_start(IpAddr::V6(Ipv6Addr::LOCALHOST), Behaviour::Silence) else {
        eprintln!("no IPv6 loopback; skipping");
        return;
    };
    let other = FakeSmtp::start(LOCAL4, Behaviour::Silence);
    let ports = format!(
        "{},{},{}",
        v4.addr().port(),
        v6.addr().port(),
        other.addr().port()
    );
    // All three time out after 3 s: about 3 s together, 9 s one after the other. The bound
    // sits between, above the start-up cost (which is large under Wine).
    let budget = Duration::from_secs(6) + startup();
    let started = Instant::now();
    let (json, output) = run_json(&["--port", &ports, "--expect", &me(), "--banner-timeout", "3"]);
    let took = started.elapsed();
    assert_eq!(code(&output), 6);
    assert_eq!(json["verdict"], "no-banner");
    assert!(took < budget, "probes ran one after another: {took:?}");
}

#[test]
fn also_probe_compares_a_masking_address_with_the_local_greeting() {
    let local = FakeSmtp::start(LOCAL4, Behaviour::Normal);
    let masked = FakeSmtp::start(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), Behaviour::Masked);
    let port = local.addr().port().to_string();
    let extra = masked.addr().to_string();
    let (json, output) = run_json(&["--port", &port, "--expect", &me(), "--also-probe", &extra]);
    assert_eq!(
        code(&output),
        own("ok", 0).1,
        "the server itself is fine: {json}"
    );
    assert_eq!(json["also_probe"][0]["finding"], "masked");
    assert_eq!(json["also_probe"][0]["address"], extra);
    let advice = json["advice"].to_string();
    assert!(
        advice.contains("SMTP inspection sits in between"),
        "{advice}"
    );
    let text = stdout(&run(&[
        "--port",
        &port,
        "--expect",
        &me(),
        "--also-probe",
        &extra,
    ]));
    assert!(
        text.contains(&format!("also-probe {extra}: masked")),
        "{text}"
    );
}

#[test]
fn also_probe_without_a_port_uses_the_inspected_ports() {
    let local = FakeSmtp::start(LOCAL4, Behaviour::Normal);
    let port = local.addr().port().to_string();
    let (json, _) = run_json(&[
        "--port",
        &port,
        "--expect",
        &me(),
        "--also-probe",
        "127.0.0.1",
    ]);
    assert_eq!(
        json["also_probe"][0]["address"],
        format!("127.0.0.1:{port}")
    );
    let advice = json["advice"].to_string();
    assert!(
        advice.contains("the same greeting as this server"),
        "{advice}"
    );
}

#[test]
fn loopback_only_listener_is_a_warning() {
    let local = FakeSmtp::start(LOCAL4, Behaviour::Normal);
    let port = local.addr().port().to_string();
    let (json, output) = run_json(&["--port", &port, "--expect", &me()]);
    assert_eq!(code(&output), own("ok", 0).1);
    assert!(
        json["advice"].to_string().contains("loopback only"),
        "{json}"
    );
}
