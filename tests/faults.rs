//! Faults and hostile input on Linux, with real processes set up by the test: stdout closed
//! or full, a process that names itself with escape sequences and invalid UTF-8, thousands of
//! listening sockets, and /proc mounted with hidepid.

#![cfg(target_os = "linux")]
// Tests may panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::ffi::OsStr;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use support::{Helper, code, portowner, run, run_json, stderr, stdout};

fn me() -> String {
    std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn stdout_closed_early_exits_quietly_with_the_verdict() {
    // The listener never greets, so the report is written after the 0.5 s greeting wait,
    // by which time the reading end is long closed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut child = portowner(&[
        "--port",
        &port,
        "--expect",
        &me(),
        "--banner-timeout",
        "0.5",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(stderr(&output), "", "no panic message, no error");
    assert_eq!(
        code(&output),
        6,
        "the run's own verdict (no-banner), not a crash"
    );
}

#[test]
fn every_command_exits_quietly_when_its_reader_is_gone() {
    let cases: [&[&str]; 5] = [
        &["--port", "1", "--no-banner"],
        &["--profile", "list"],
        &["--version", "--verbose"],
        &["man"],
        &["completions", "bash"],
    ];
    for args in cases {
        // A pipe whose reading end is closed before portowner starts: every write fails
        // with a broken pipe, deterministically.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = portowner(args).stdout(writer).output().unwrap();
        assert_eq!(
            stderr(&output),
            "",
            "{args:?}: no message for a closed stdout"
        );
        assert_ne!(code(&output), 1, "{args:?}");
        assert_ne!(code(&output), 101, "{args:?}");
    }
}

#[test]
fn a_full_stdout_is_exit_1_with_a_message() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        eprintln!("no /dev/full here; skipping");
        return;
    };
    let output = portowner(&["--port", "1", "--no-banner"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("could not write the report"),
        "{}",
        stderr(&output)
    );
}

/// Sets its own name (comm) to `argv[1]` and listens; argv carries the rest.
const HOSTILE: &str = r#"
import ctypes, os, socket, sys
libc = ctypes.CDLL(None)
libc.prctl(15, ctypes.c_char_p(os.fsencode(sys.argv[1])), 0, 0, 0)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;

#[test]
fn hostile_process_names_and_command_lines_cannot_reach_the_terminal() {
    let name = OsStr::from_bytes(b"ev\x1b[2J\nil\x07");
    let argument = OsStr::from_bytes(b"\x1b]0;owned\x07\xff\xfe\r\n");
    let helper = Helper::start(&["python3"], HOSTILE, &[name, argument]);
    let port = helper.fields[0].clone();

    let output = run(&["--port", &port, "--no-banner"]);
    let text = stdout(&output);
    assert!(
        text.bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b)),
        "{text:?}"
    );
    assert!(
        text.contains("ev\\x1b[2J\\nil\\x07"),
        "the name is shown, escaped: {text}"
    );
    let rows = text
        .lines()
        .filter(|l| l.starts_with(&format!(" {port} |")))
        .count();
    assert_eq!(
        rows, 1,
        "a newline in the name cannot split the row: {text}"
    );

    let (json, _) = run_json(&["--port", &port, "--no-banner"]);
    let holder = &json["ports"][0]["listeners"][0]["holders"][0];
    assert_eq!(holder["pid"], helper.pid());
    assert_eq!(
        holder["name"], "ev\x1b[2J\nil\x07",
        "JSON round-trips the name"
    );
    let args = holder["cmdline"].as_array().unwrap();
    assert!(
        args.iter()
            .any(|a| a.as_str().unwrap().starts_with("\x1b]0;owned")),
        "{holder}"
    );
}

/// Opens `argv[1]` listening sockets on loopback and prints one port.
const MANY: &str = r#"
import resource, socket, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
held = []
for _ in range(n):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); held.append(s)
print(held[n // 2].getsockname()[1], flush=True)
sys.stdin.read()
"#;

#[test]
fn one_port_among_five_thousand_listeners_is_found_with_bounded_memory() {
    let helper = Helper::start(&["python3"], MANY, &["5000"]);
    let port = helper.fields[0].clone();
    let (json, output) = run_json(&["--port", &port, "--no-banner"]);
    let listeners = json["ports"][0]["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 1, "{json}");
    assert_eq!(listeners[0]["holders"][0]["pid"], helper.pid());
    assert_eq!(code(&output), 4, "python is not an SMTP server");

    let Ok(timed) = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            env!("CARGO_BIN_EXE_portowner"),
            "--port",
            &port,
            "--no-banner",
        ])
        .stdout(Stdio::null())
        .output()
    else {
        eprintln!("no /usr/bin/time here; memory not measured");
        return;
    };
    let peak_kib: u64 = stderr(&timed)
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!(peak_kib < 32 * 1024, "peak RSS {peak_kib} KiB for one port");
}

#[test]
fn hidepid_proc_makes_the_owner_unknown_not_absent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let script = format!(
        "mount -t proc -o hidepid=2 proc /proc && exec runuser -u nobody -- {} --port {port} \
         --no-banner",
        env!("CARGO_BIN_EXE_portowner")
    );
    let output = Command::new("unshare")
        .args(["--mount", "--", "sh", "-c", &script])
        .output();
    let Ok(output) = output else {
        eprintln!("unshare is not available; skipping");
        return;
    };
    if String::from_utf8_lossy(&output.stderr).contains("mount") || output.status.code() == Some(1)
    {
        eprintln!(
            "cannot mount /proc with hidepid here ({}); skipping",
            stderr(&output)
        );
        return;
    }
    let text = stdout(&output);
    assert_eq!(code(&output), 5, "{text}");
    assert!(
        text.contains("owner-unknown") && text.contains("run as root"),
        "{text}"
    );
}
