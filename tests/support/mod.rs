//! Shared test fixtures: running the built binary with a controlled environment, and
//! helper processes that hold sockets. Everything started here is ended by PID on drop,
//! so tests clean up even when they fail.

// Fixtures may panic: a panic here fails the test that called it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod fake_smtp;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The built portowner binary, with no PORTOWNER_* variables and no colour.
pub fn portowner(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portowner"));
    command
        .args(args)
        .env_remove("PORTOWNER_EXPECT")
        .env_remove("PORTOWNER_PORTS")
        .env_remove("PORTOWNER_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs portowner and returns its output.
pub fn run(args: &[&str]) -> Output {
    portowner(args).output().expect("portowner runs")
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The exit code; a signal counts as a failure of the test.
pub fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .expect("portowner exited normally, not by a signal")
}

/// Runs portowner with `--format json` and parses the document.
pub fn run_json(args: &[&str]) -> (serde_json::Value, Output) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let output = run(&all);
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", stdout(&output)));
    (json, output)
}

/// Whether the tests run under Wine. Its TCP table gives every socket owner PID 0, so
/// portowner cannot name the holder of a test's own listener there and must say so
/// (`owner-unknown`, exit 5) instead. Asked of the registry once per test binary: only Wine
/// has `HKCU\Software\Wine`. Test code only; portowner itself never asks.
pub fn under_wine() -> bool {
    static WINE: OnceLock<bool> = OnceLock::new();
    *WINE.get_or_init(|| {
        cfg!(windows)
            && Command::new("reg")
                .args(["query", r"HKCU\Software\Wine"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
    })
}

/// The verdict and exit code for a port whose only listeners are this test's own, given
/// what they are where the OS names owners (Linux, Windows). Under Wine no owner is named:
/// an ownership verdict (`ok`, `wrong-owner`) becomes the honest `owner-unknown` (5); an
/// empty port and greeting failures (which outrank an unknown owner) stay as they are.
pub fn own(verdict: &'static str, exit: i32) -> (&'static str, i32) {
    if under_wine() && matches!(verdict, "ok" | "wrong-owner") {
        ("owner-unknown", 5)
    } else {
        (verdict, exit)
    }
}

/// A python3 process that listens on loopback and forks, so parent and child hold one
/// socket. Both are killed by PID on drop.
pub struct SharedListener {
    /// The port it listens on.
    pub port: u16,
    /// The parent's PID.
    pub parent: u32,
    /// The child's PID (it inherited the socket).
    pub child: u32,
    /// The interpreter's executable, as the kernel resolves it.
    pub exe: String,
    helper: Helper,
}

const SHARED_LISTENER: &str = r#"
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(5)
pid = os.fork()
if pid == 0:
    time.sleep(120)
    os._exit(0)
print(s.getsockname()[1], pid, os.readlink("/proc/self/exe"), flush=True)
sys.stdin.read()
os.kill(pid, 9)
"#;

impl SharedListener {
    /// Starts the pair and waits until it listens.
    pub fn start() -> SharedListener {
        let mut helper = Helper::start(&["python3"], SHARED_LISTENER, &[] as &[&str]);
        let child = helper.number(1);
        // The child outlives a killed parent: the helper ends it too, by its PID.
        helper.also_kill.push(child);
        SharedListener {
            port: helper.number(0) as u16,
            parent: helper.pid(),
            child,
            exe: helper.fields.get(2).cloned().unwrap_or_default(),
            helper,
        }
    }
}

/// A loopback port on which nothing listens right now: bound, never listening, then released.
///
/// It must not listen even briefly. A process that another test thread is starting at that
/// moment inherits the socket until its exec closes it, so a listening socket could still
/// accept connections after this returns, and a test waiting for its own server to come up
/// would take that for the server.
pub fn free_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    socket
        .bind(&loopback.into())
        .expect("bind an ephemeral port");
    let bound = socket.local_addr().expect("local address");
    bound.as_socket().expect("an IP address").port()
}

/// A python3 helper process started by a test: the first line it prints is kept, and it is
/// killed by PID on drop (with any PIDs it reported that it started).
pub struct Helper {
    /// The first line it printed, split on whitespace.
    pub fields: Vec<String>,
    /// Further PIDs to kill on drop (its children, or itself when started via runuser).
    pub also_kill: Vec<u32>,
    process: Child,
}

impl Helper {
    /// Runs `python3 -c script args...` through `launcher` (e.g. `["runuser", "-u",
    /// "nobody", "--", "/usr/bin/python3"]`, or just `["python3"]`) and waits for its first
    /// line.
    pub fn start<A: AsRef<std::ffi::OsStr>>(launcher: &[&str], script: &str, args: &[A]) -> Helper {
        let mut process = Command::new(launcher[0])
            .args(&launcher[1..])
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the helper starts");
        let mut line = String::new();
        let stdout = process.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the helper prints a line");
        Helper {
            fields: line.split_whitespace().map(String::from).collect(),
            also_kill: Vec::new(),
            process,
        }
    }

    /// The helper's PID (the launcher's, when it was started through one).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Field `index` of its first line as a number.
    pub fn number(&self, index: usize) -> u32 {
        self.fields[index]
            .parse()
            .unwrap_or_else(|_| panic!("a number at {index}: {:?}", self.fields))
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        for pid in &self.also_kill {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
