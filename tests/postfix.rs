//! Against a real Postfix listening on loopback port 25, which `.ci/run` installs and
//! starts. Ignored by a plain `cargo test`; run with `cargo test --test postfix --
//! --ignored` where Postfix runs. The stop test restarts Postfix before it returns.

// clippy.toml's allow-*-in-tests covers #[test] functions only, not the helpers of an
// integration test crate; here too a panic is a failed test, not a crash in the field.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

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
    let output = run(&["--expect", "exim4"]);
    let text = stdout(&output);
    assert_eq!(code(&output), 4, "{text}");
    assert!(
        text.contains("wrong-owner") && text.contains("master"),
        "{text}"
    );
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
