//! The built binary against real sockets on loopback: each verdict, each exit code, both
//! output formats, and bad input. Every socket here is the test's own.
//!
//! Under Wine the OS names no socket owner, so where a test expects its own process as the
//! holder it asserts the honest `owner-unknown` there instead (see `support::own`).

// Test code may unwrap, expect, panic and index: a panic here is a failed test, not a crash in
// the field. clippy.toml allows that inside #[test] functions only; this covers the helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Socket, Type};
use support::{code, free_port, own, stderr, stdout, under_wine};

/// These tests are about ownership: their listeners never greet, so the greeting check is
/// off (tests/greeting.rs covers it).
fn run(args: &[&str]) -> std::process::Output {
    support::run(&[args, &["--no-banner"]].concat())
}

fn run_json(args: &[&str]) -> (serde_json::Value, std::process::Output) {
    support::run_json(&[args, &["--no-banner"]].concat())
}

/// This test binary's full path: the expectation that makes its own listeners `ok`.
fn me() -> String {
    std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn listen(address: &str) -> TcpListener {
    TcpListener::bind(address).unwrap()
}

#[test]
fn own_listener_is_ok_with_this_pid() {
    let listener = listen("127.0.0.1:0");
    let port = listener.local_addr().unwrap().port().to_string();
    let output = run(&["--port", &port, "--expect", &me()]);
    let text = stdout(&output);
    let (verdict, exit) = own("ok", 0);
    assert_eq!(code(&output), exit, "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains(&format!("port {port}: {verdict}")), "{text}");
    if under_wine() {
        assert!(text.contains("(unknown: no-owner-reported)"), "{text}");
        assert!(!text.contains("| 0 "), "PID 0 is no owner: {text}");
    } else {
        assert!(text.contains(&std::process::id().to_string()), "{text}");
    }
    assert_eq!(stderr(&output), "");
}

#[test]
fn wrong_expectation_is_exit_4_naming_the_holder() {
    let listener = listen("127.0.0.1:0");
    let port = listener.local_addr().unwrap().port().to_string();
    let output = run(&["--port", &port, "--expect", "master"]);
    let text = stdout(&output);
    let (verdict, exit) = own("wrong-owner", 4);
    assert_eq!(code(&output), exit, "{text}");
    assert!(text.contains(&format!("port {port}: {verdict}")), "{text}");
    if !under_wine() {
        assert!(
            text.contains(&format!("PID {}", std::process::id())),
            "{text}"
        );
        assert!(
            text.contains("--expect"),
            "advice names the way out: {text}"
        );
    }
    assert_eq!(
        stderr(&output),
        "",
        "a wrong owner is a result, not an error"
    );
}

#[test]
fn nothing_listening_is_exit_3() {
    let port = free_port().to_string();
    let output = run(&["--port", &port]);
    assert_eq!(code(&output), 3, "{}", stdout(&output));
    assert!(stdout(&output).contains("not-listening"));
    assert_eq!(stderr(&output), "");
}

#[test]
fn an_established_connection_is_not_a_listener() {
    let listener = listen("127.0.0.1:0");
    let address = listener.local_addr().unwrap();
    let client = TcpStream::connect(address).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    drop(listener);
    let output = run(&["--port", &address.port().to_string(), "--expect", &me()]);
    assert_eq!(code(&output), 3, "{}", stdout(&output));
    drop((client, accepted));
}

#[test]
fn ipv6_listener_is_found_with_brackets() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine; skipping");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let (json, output) = run_json(&["--port", &port.to_string(), "--expect", &me()]);
    assert_eq!(code(&output), own("ok", 0).1, "{json}");
    let address = &json["ports"][0]["listeners"][0]["address"];
    assert_eq!(address, &format!("[::1]:{port}"));
    assert_eq!(json["ports"][0]["listeners"][0]["family"], "ipv6");
}

#[test]
fn ipv4_mapped_address_is_shown_as_such() {
    let Ok(listener) = TcpListener::bind("[::ffff:127.0.0.1]:0") else {
        eprintln!("IPv4-mapped binding unsupported here; skipping");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let output = run(&["--port", &port.to_string(), "--expect", &me()]);
    let text = stdout(&output);
    assert!(
        text.contains(&format!("[::ffff:127.0.0.1]:{port}")),
        "{text}"
    );
}

#[test]
fn wildcard_v4_and_v6_are_two_sockets() {
    let v4 = listen("0.0.0.0:0");
    let port = v4.local_addr().unwrap().port();
    let v6 = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
    v6.set_only_v6(true).unwrap();
    let wildcard: SocketAddr = format!("[::]:{port}").parse().unwrap();
    if v6.bind(&wildcard.into()).is_err() {
        eprintln!("no IPv6 here; skipping");
        return;
    }
    v6.listen(8).unwrap();
    let (json, output) = run_json(&["--port", &port.to_string(), "--expect", &me()]);
    assert_eq!(code(&output), own("ok", 0).1, "{json}");
    let addresses: Vec<&str> = json["ports"][0]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        vec![format!("0.0.0.0:{port}"), format!("[::]:{port}")]
    );
}

/// Needs python3 with fork(): Linux only (Wine has no python3 and Windows no fork).
#[cfg(unix)]
#[test]
fn a_socket_shared_with_a_child_reports_both_holders() {
    let shared = support::SharedListener::start();
    let port = shared.port.to_string();
    let (json, output) = run_json(&["--port", &port, "--expect", &shared.exe]);
    let holders: Vec<u64> = json["ports"][0]["listeners"][0]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_u64().unwrap())
        .collect();
    let mut expected = vec![u64::from(shared.parent), u64::from(shared.child)];
    expected.sort();
    assert_eq!(holders, expected, "{json}");
    assert_eq!(code(&output), 0, "{json}");
}

#[test]
fn json_agrees_with_the_table() {
    let listener = listen("127.0.0.1:0");
    let port = listener.local_addr().unwrap().port().to_string();
    let empty = free_port().to_string();
    let ports = format!("{port},{empty}");
    let table = run(&["--port", &ports, "--expect", "master"]);
    let (json, output) = run_json(&["--port", &ports, "--expect", "master"]);
    assert_eq!(code(&table), code(&output));
    assert_eq!(json["exit_code"], code(&output));
    // Under Wine the held port is owner-unknown, so the empty port's not-listening wins.
    let overall = if under_wine() {
        "not-listening"
    } else {
        "wrong-owner"
    };
    assert_eq!(json["verdict"], overall);
    let text = stdout(&table);
    for entry in json["ports"].as_array().unwrap() {
        let line = format!(
            "port {}: {}",
            entry["port"],
            entry["verdict"].as_str().unwrap()
        );
        assert!(text.contains(&line), "{line} missing from {text}");
        for listener in entry["listeners"].as_array().unwrap() {
            for holder in listener["holders"].as_array().unwrap() {
                assert!(text.contains(&holder["pid"].to_string()), "{text}");
            }
        }
    }
    for key in [
        "schema_version",
        "host",
        "time",
        "os",
        "elevated",
        "expectation",
        "advice",
    ] {
        assert!(json.get(key).is_some(), "JSON lacks {key}");
    }
    let held = json["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == port.parse::<u64>().unwrap());
    let listener = &held.unwrap()["listeners"][0];
    if under_wine() {
        assert_eq!(listener["holders"], serde_json::json!([]), "{listener}");
        assert_eq!(listener["owner_unknown"]["reason"], "no-owner-reported");
        return;
    }
    let holder = &listener["holders"][0];
    for key in [
        "pid", "name", "exe", "cmdline", "user", "services", "expected",
    ] {
        assert!(holder.get(key).is_some(), "holder lacks {key}: {holder}");
    }
    assert_eq!(holder["expected"], false);
}

#[test]
fn bad_input_is_exit_2_with_a_message_naming_the_fix() {
    let cases: [(&[&str], &str); 8] = [
        (&["--port", "0"], "1 to 65535"),
        (&["--format", "json", "--port", "0"], "1 to 65535"),
        (&["--expect", "mast*"], "wildcard"),
        (&["--port", "70000"], "1 to 65535"),
        (&["--port", "http"], "smtp"),
        (&["--format", "xml"], "json"),
        (
            &["--config", "/nonexistent/portowner.toml"],
            "cannot be read",
        ),
        (&["--bogus"], "--bogus"),
    ];
    for (args, hint) in cases {
        let output = run(args);
        assert_eq!(code(&output), 2, "{args:?}");
        assert!(
            stderr(&output).contains(hint),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

#[test]
fn a_broken_config_file_names_its_line() {
    let path = std::env::temp_dir().join(format!("portowner-cli-{}.toml", std::process::id()));
    std::fs::write(&path, "ports = [25]\nexpect = master\n").unwrap();
    let output = run(&["--config", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("line 2"), "{}", stderr(&output));
}

#[test]
fn environment_expectation_applies_and_flags_override_it() {
    let listener = listen("127.0.0.1:0");
    let port = listener.local_addr().unwrap().port().to_string();
    let json_args = ["--port", &port, "--no-banner", "--format", "json"];
    let from_env = support::portowner(&json_args)
        .env("PORTOWNER_EXPECT", format!("nothing-like-this,{}", me()))
        .output()
        .unwrap();
    assert_eq!(code(&from_env), own("ok", 0).1, "{}", stdout(&from_env));
    assert!(stdout(&from_env).contains(r#""source": "environment""#));
    let flag_wins = support::portowner(&[&json_args[..], &["--expect", "master"]].concat())
        .env("PORTOWNER_EXPECT", me())
        .output()
        .unwrap();
    assert_eq!(code(&flag_wins), own("wrong-owner", 4).1);
    assert!(stdout(&flag_wins).contains(r#""source": "flag""#));
    let bad_env = support::portowner(&[])
        .env("PORTOWNER_PORTS", "99999")
        .output();
    let bad_env = bad_env.unwrap();
    assert_eq!(code(&bad_env), 2);
    assert!(stderr(&bad_env).contains("PORTOWNER_PORTS"));
}

#[test]
fn help_lists_the_exit_codes() {
    let output = run(&["--help"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 0);
    for code in 0..=6 {
        assert!(
            text.contains(&format!("  {code}  ")),
            "exit code {code} missing: {text}"
        );
    }
}

#[test]
fn profile_list_prints_every_profile_and_exits_0() {
    let output = run(&["--profile", "list"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 0, "{text}");
    assert_eq!(stderr(&output), "");
    for name in [
        "exchange2003",
        "exchange2016",
        "exchange-se",
        "exchange-edge",
        "postfix",
    ] {
        assert!(
            text.contains(&format!("{name}  ")),
            "{name} missing: {text}"
        );
    }
    assert!(text.contains("MSExchangeFrontEndTransport"), "{text}");
    assert!(text.is_ascii());

    let (json, output) = run_json(&["--profile", "list"]);
    assert_eq!(code(&output), 0);
    let profiles = json["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 12);
    let mailbox = profiles
        .iter()
        .find(|p| p["name"] == "exchange2019")
        .unwrap();
    let ports: Vec<u64> = mailbox["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, vec![25, 465, 475, 587, 717, 2525]);
    assert_eq!(mailbox["ports"][0]["role"], "Front End Transport");
}

#[test]
fn an_unknown_profile_is_exit_2_listing_the_known_ones() {
    let output = run(&["--profile", "nope"]);
    assert_eq!(code(&output), 2);
    assert_eq!(stdout(&output), "");
    let message = stderr(&output);
    for name in [
        "list",
        "exchange2003",
        "exchange2016",
        "exchange-edge",
        "opensmtpd",
    ] {
        assert!(message.contains(name), "{name} missing: {message}");
    }

    let from_env = support::portowner(&["--no-banner"])
        .env("PORTOWNER_PROFILE", "exchange2000")
        .output()
        .unwrap();
    assert_eq!(code(&from_env), 2);
    assert!(
        stderr(&from_env).contains("PORTOWNER_PROFILE: unknown profile 'exchange2000'"),
        "{}",
        stderr(&from_env)
    );
}

#[test]
fn a_profile_judges_a_port_against_its_owner_and_says_so() {
    let listener = listen("127.0.0.1:0");
    let port = listener.local_addr().unwrap().port().to_string();
    let (json, output) = run_json(&["--profile", "postfix", "--port", &port]);
    let (verdict, exit) = own("wrong-owner", 4);
    assert_eq!(
        code(&output),
        exit,
        "this test binary is not Postfix: {json}"
    );
    assert_eq!(json["verdict"], verdict);
    assert_eq!(stderr(&output), "");
    assert_eq!(json["profile"]["name"], "postfix");
    assert_eq!(json["profile"]["source"], "flag");
    assert_eq!(json["profile"]["sets_ports"], false);
    assert_eq!(json["profile"]["sets_owners"], true);
    let expectation = &json["ports"][0]["expectation"];
    assert_eq!(expectation["source"], "profile");
    assert_eq!(expectation["profile"], "postfix");
    assert_eq!(expectation["role"], "Postfix master");

    let text = stdout(&run(&["--profile", "postfix", "--port", &port]));
    let names_the_owner = text.contains("expected master or postfix (Postfix master, profile");
    assert!(names_the_owner || under_wine(), "{text}");

    let mine = run(&["--profile", "postfix", "--port", &port, "--expect", &me()]);
    assert_eq!(
        code(&mine),
        own("ok", 0).1,
        "--expect replaces the profile's owner"
    );
}
