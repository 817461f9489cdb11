//! The built binary against real sockets on loopback: each verdict, each exit code, both
//! output formats, and bad input. Every socket here is the test's own.

// clippy.toml's allow-*-in-tests covers #[test] functions only, not the helpers of an
// integration test crate; here too a panic is a failed test, not a crash in the field.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Socket, Type};
use support::{SharedListener, code, free_port, run, run_json, stderr, stdout};

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
    assert_eq!(code(&output), 0, "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains(&std::process::id().to_string()), "{text}");
    assert!(text.contains(&format!("port {port}: ok")), "{text}");
    assert_eq!(stderr(&output), "");
}

#[test]
fn wrong_expectation_is_exit_4_naming_the_holder() {
    let listener = listen("127.0.0.1:0");
    let port = listener.local_addr().unwrap().port().to_string();
    let output = run(&["--port", &port, "--expect", "master"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 4, "{text}");
    assert!(
        text.contains(&format!("port {port}: wrong-owner")),
        "{text}"
    );
    assert!(
        text.contains(&format!("PID {}", std::process::id())),
        "{text}"
    );
    assert!(
        text.contains("--expect"),
        "advice names the way out: {text}"
    );
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
    assert_eq!(code(&output), 0);
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
    assert_eq!(code(&output), 0);
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

#[test]
fn a_socket_shared_with_a_child_reports_both_holders() {
    let shared = SharedListener::start();
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
    assert_eq!(json["verdict"], "wrong-owner");
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
    let holder = &held.unwrap()["listeners"][0]["holders"][0];
    for key in ["pid", "name", "exe", "cmdline", "user", "expected"] {
        assert!(holder.get(key).is_some(), "holder lacks {key}: {holder}");
    }
    assert_eq!(holder["expected"], false);
}

#[test]
fn bad_input_is_exit_2_with_a_message_naming_the_fix() {
    let cases: [(&[&str], &str); 6] = [
        (&["--port", "0"], "1 to 65535"),
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
    let from_env = support::portowner(&["--port", &port])
        .env("PORTOWNER_EXPECT", format!("nothing-like-this,{}", me()))
        .output()
        .unwrap();
    assert_eq!(code(&from_env), 0, "{}", stdout(&from_env));
    let flag_wins = support::portowner(&["--port", &port, "--expect", "master"])
        .env("PORTOWNER_EXPECT", me())
        .output()
        .unwrap();
    assert_eq!(code(&flag_wins), 4);
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
