//! The remote PowerShell contract (issue 4), on every platform the tests run on: Linux,
//! Windows, and the Windows build under Wine. Windows PowerShell 5.1 turns each stderr line
//! of a native program into an error record, remote jobs lose `$LASTEXITCODE`, and WinRM
//! garbles non-ASCII. So for every verdict: stdout is ASCII text or ASCII JSON (UTF-8 without
//! a BOM), free of ANSI escapes when it is not a console; stderr is empty; stdin is never
//! read; the JSON carries the exit code. Every listener here is the test's own, on loopback.

// Tests may panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::fake_smtp::{Behaviour, FakeSmtp};
use support::{free_port, own};

const LOCAL4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Longer than any run here takes (the slowest waits 1 s for a greeting), far shorter than
/// a portowner blocked on its stdin would.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One verdict to provoke: the listener it needs (kept alive while the case runs), the
/// arguments, and the verdict and exit code it must give.
struct Case {
    name: &'static str,
    _server: Option<FakeSmtp>,
    args: Vec<String>,
    verdict: &'static str,
    exit: i32,
}

/// This test binary's full path: the expectation that makes its own listeners `ok`.
fn me() -> String {
    std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A case with a fake SMTP server of this test's own on loopback.
fn served(name: &'static str, script: Behaviour, expect: &str, want: (&'static str, i32)) -> Case {
    let server = FakeSmtp::start(LOCAL4, script);
    let port = server.addr().port().to_string();
    Case {
        name,
        _server: Some(server),
        args: args(&["--port", &port, "--expect", expect, "--banner-timeout", "1"]),
        verdict: want.0,
        exit: want.1,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// Every verdict portowner can give here. Under Wine no owner is named, so the ownership
/// verdicts are `owner-unknown` there (support::own), which this covers too.
fn every_verdict() -> Vec<Case> {
    let nowhere = free_port().to_string();
    vec![
        served("ok", Behaviour::Normal, &me(), own("ok", 0)),
        served(
            "wrong-owner",
            Behaviour::Normal,
            "no-such-mail-server",
            own("wrong-owner", 4),
        ),
        Case {
            name: "not-listening",
            _server: None,
            args: args(&["--port", &nowhere]),
            verdict: "not-listening",
            exit: 3,
        },
        served("no-banner", Behaviour::Silence, &me(), ("no-banner", 6)),
        served("bad-banner", Behaviour::Reply554, &me(), ("bad-banner", 6)),
    ]
}

/// Runs portowner as a remote session would: stdout and stderr are pipes (not a console),
/// and stdin is a pipe that is never written to nor closed while it runs. No NO_COLOR, and
/// a TERM that would invite colour, so only "stdout is not a console" keeps ANSI out.
fn run_piped(args: &[String]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portowner"))
        .args(args)
        .env_remove("PORTOWNER_EXPECT")
        .env_remove("PORTOWNER_PORTS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portowner starts");
    let stdin = child.stdin.take();
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = wait_without_stdin(&mut child, stdin, args);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads a pipe to its end on a thread, so a full pipe never stalls the child.
fn drain(pipe: Option<Box<dyn Read + Send>>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for the child while still holding its stdin open; a child that has not exited
/// within [`RUN_LIMIT`] is waiting for input: it is killed (by its handle) and the test fails.
fn wait_without_stdin(
    child: &mut Child,
    stdin: Option<ChildStdin>,
    args: &[String],
) -> std::process::ExitStatus {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("portowner can be waited for") {
            drop(stdin);
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("portowner {args:?} still ran after {RUN_LIMIT:?} with stdin open");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Printable ASCII and line ends only: no escape sequences, no code-page surprises.
fn assert_plain_ascii(bytes: &[u8], what: &str) {
    let bad = bytes
        .iter()
        .position(|&b| !(b == b'\n' || b == b'\r' || (b' '..=b'~').contains(&b)));
    assert!(
        bad.is_none(),
        "{what}: byte {:?} at {bad:?} is not plain ASCII: {}",
        bad.map(|i| bytes[i]),
        String::from_utf8_lossy(bytes)
    );
}

#[test]
fn the_table_is_plain_ascii_on_stdout_and_nothing_reaches_stderr() {
    for case in every_verdict() {
        let output = run_piped(&case.args);
        let text = String::from_utf8_lossy(&output.stdout);
        assert_plain_ascii(&output.stdout, case.name);
        assert!(
            text.contains(&format!(": {} - ", case.verdict)),
            "{}: {text}",
            case.name
        );
        assert_eq!(
            output.status.code(),
            Some(case.exit),
            "{}: {text}",
            case.name
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "",
            "{}: stderr must stay empty for a verdict",
            case.name
        );
    }
}

#[test]
fn json_is_ascii_without_bom_and_carries_the_exit_code() {
    for case in every_verdict() {
        let mut json_args = args(&["--format", "json"]);
        json_args.extend(case.args.iter().cloned());
        let output = run_piped(&json_args);
        assert!(
            output.stdout.first() == Some(&b'{'),
            "{}: no BOM or anything else before the document: {:?}",
            case.name,
            output.stdout.get(..3)
        );
        assert_plain_ascii(&output.stdout, case.name);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON: {e}", case.name));
        assert_eq!(json["verdict"], case.verdict, "{}: {json}", case.name);
        let exit = output.status.code();
        assert_eq!(exit, Some(case.exit), "{}: {json}", case.name);
        assert_eq!(
            json["exit_code"].as_i64(),
            exit.map(i64::from),
            "{}",
            case.name
        );
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{}", case.name);
    }
}

#[test]
fn help_is_plain_ascii_without_colour_when_piped() {
    let output = run_piped(&args(&["--help"]));
    assert_plain_ascii(&output.stdout, "--help");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn only_a_failure_of_the_tool_itself_writes_to_stderr() {
    let output = run_piped(&args(&["--port", "0"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(!output.stderr.is_empty(), "a usage error is explained");
    assert_plain_ascii(&output.stderr, "usage error");
}
