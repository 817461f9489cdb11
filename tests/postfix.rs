//! Against a real Postfix listening on loopback port 25, which `.ci/run` installs and
//! starts. Ignored by a plain `cargo test`; run with `cargo test --test postfix --
//! --ignored` where Postfix runs. The stop test restarts Postfix before it returns.

// Test code may unwrap, expect, panic and index: a panic here is a failed test, not a crash in
// the field. clippy.toml allows that inside #[test] functions only; this covers the helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use support::{code, run, run_json, stdout};

/// The tests share one Postfix; the one that stops it must run alone.
static POSTFIX: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    POSTFIX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until portowner's exit code for port 25 is `wanted`, for up to 20 s.
fn wait_for_exit_code(wanted: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = code(&run(&["--port", "25"]));
        if got == wanted || Instant::now() > deadline {
            return got;
        }
        sleep(Duration::from_millis(200));
    }
}

fn postfix(action: &str) {
    let status = Command::new("postfix")
        .arg(action)
        .status()
        .expect("postfix command runs");
    assert!(status.success(), "postfix {action} failed");
}

/// Starts Postfix again when dropped, even if the test failed.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("postfix").arg("start").status();
        wait_for_exit_code(0);
    }
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn the_postfix_profile_accepts_postfix_master() {
    let _guard = lock();
    let (json, output) = run_json(&["--profile", "postfix"]);
    assert_eq!(code(&output), 0, "{json}");
    assert_eq!(json["profile"]["name"], "postfix");
    assert_eq!(json["ports"].as_array().map(Vec::len), Some(1), "25 only");
    let holders = json["ports"][0]["listeners"][0]["holders"]
        .as_array()
        .unwrap();
    assert!(holders.iter().any(|h| h["matched"] == "master"), "{json}");
    let (json, output) = run_json(&["--profile", "exim"]);
    assert_eq!(code(&output), 4, "Postfix is not Exim: {json}");
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn catalog_recognises_postfix_master() {
    let _guard = lock();
    let (json, output) = run_json(&[]);
    assert_eq!(code(&output), 0, "{json}");
    assert_eq!(json["verdict"], "ok");
    let holders = json["ports"][0]["listeners"][0]["holders"]
        .as_array()
        .unwrap();
    let master = holders
        .iter()
        .find(|h| h["name"] == "master")
        .expect("master holds it");
    assert_eq!(master["matched"], "Postfix");
    assert_eq!(master["user"], "root");
    assert!(
        master["exe"].as_str().unwrap().contains("postfix"),
        "{master}"
    );
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn expecting_exim_is_a_wrong_owner() {
    let _guard = lock();
    // Reading the greeting makes Postfix start smtpd children that inherit the socket.
    let _ = run(&[]);
    let output = run(&["--expect", "exim4"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 4, "{text}");
    assert!(
        text.contains("wrong-owner") && text.contains("master"),
        "{text}"
    );
    // The advice names master, which opened the socket, not a child that inherited it.
    assert!(text.contains("pass --expect master."), "{text}");
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn postfix_smtpd_children_are_postfix_not_opensmtpd() {
    let _guard = lock();
    let _ = run(&[]);
    let (json, _) = run_json(&[]);
    for listener in json["ports"][0]["listeners"].as_array().unwrap() {
        for holder in listener["holders"].as_array().unwrap() {
            assert_eq!(holder["matched"], "Postfix", "{holder}");
        }
    }
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn unprivileged_run_is_owner_unknown_with_the_hint() {
    let _guard = lock();
    let output = Command::new("runuser")
        .args([
            "-u",
            "nobody",
            "--",
            env!("CARGO_BIN_EXE_portowner"),
            "--port",
            "25",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("runuser runs");
    let text = stdout(&output);
    assert_eq!(code(&output), 5, "{text}");
    assert!(text.contains("owner-unknown"), "{text}");
    assert!(text.contains("run as root"), "{text}");
    assert!(!text.contains("not-listening"), "{text}");
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn stopped_postfix_is_not_listening() {
    let _guard = lock();
    let _restart = Restart;
    postfix("stop");
    assert_eq!(
        wait_for_exit_code(3),
        3,
        "port 25 still held after postfix stop"
    );
    let text = stdout(&run(&["--port", "25"]));
    assert!(
        text.contains("not-listening") && text.contains("postfix start"),
        "{text}"
    );
}

#[test]
#[ignore = "needs a running Postfix on port 25; .ci/run starts one"]
fn postfix_greets_on_every_listener() {
    let _guard = lock();
    let (json, output) = run_json(&[]);
    assert_eq!(code(&output), 0, "{json}");
    let greetings = json["ports"][0]["banner"].as_array().unwrap();
    assert!(!greetings.is_empty(), "{json}");
    for greeting in greetings {
        assert_eq!(greeting["finding"], "ok", "{greeting}");
        assert!(
            greeting["text"].as_str().unwrap().contains("ESMTP"),
            "{greeting}"
        );
    }
}

/// Postfix's `smtp-sink` test server on a free loopback port, killed by PID on drop.
struct SmtpSink {
    port: u16,
    process: std::process::Child,
}

impl SmtpSink {
    /// Starts smtp-sink and returns once it has greeted on its port. A port that another
    /// process took in the meantime makes smtp-sink exit; it is then tried on another one.
    fn start() -> SmtpSink {
        for _ in 0..3 {
            let port = support::free_port();
            let process = Command::new("smtp-sink")
                .args(["-u", "nobody", &format!("127.0.0.1:{port}"), "10"])
                .spawn()
                .expect("smtp-sink starts (Debian's postfix package ships it)");
            let mut sink = SmtpSink { port, process };
            if sink.greets_within(Duration::from_secs(10)) {
                return sink;
            }
        }
        panic!("smtp-sink did not come up on three free ports");
    }

    /// Whether smtp-sink greets on its port before `limit` passes; false once it has exited.
    /// Only its `220` greeting counts: a connection alone could be accepted by someone else.
    fn greets_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.process.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut line = String::new();
                let _ = BufReader::new(stream).read_line(&mut line);
                if line.starts_with("220 ") && line.contains("smtp-sink") {
                    return true;
                }
            }
            sleep(Duration::from_millis(50));
        }
        panic!(
            "smtp-sink did not greet on port {} within {limit:?}",
            self.port
        );
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
#[ignore = "needs Postfix's smtp-sink; .ci/run installs it"]
fn smtp_sink_is_a_second_real_server() {
    let sink = SmtpSink::start();
    let port = sink.port.to_string();
    let (json, output) = run_json(&["--port", &port, "--expect", "smtp-sink"]);
    assert_eq!(code(&output), 0, "{json}");
    let holder = &json["ports"][0]["listeners"][0]["holders"][0];
    assert_eq!(holder["pid"], sink.process.id());
    assert_eq!(json["ports"][0]["banner"][0]["finding"], "ok");
    assert_eq!(json["ports"][0]["banner"][0]["code"], 220);
    let wrong = run(&["--port", &port, "--expect", "master"]);
    assert_eq!(code(&wrong), 4);
}
