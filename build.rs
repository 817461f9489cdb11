//! Records what this build is, for `portowner --version --verbose` and the JSON report: the
//! target triple, the cargo profile and the compiler. Cargo tells a build script these; the
//! program itself could only guess them from `cfg!`, which cannot tell `x86_64-pc-windows-gnu`
//! from `-msvc` builds apart by name or a release build with debug assertions from a debug one.

use std::env;
use std::process::Command;

fn main() {
    let target = env::var("TARGET").unwrap_or_else(|_| String::from("unknown"));
    let profile = env::var("PROFILE").unwrap_or_else(|_| String::from("unknown"));
    println!("cargo::rustc-env=PORTOWNER_BUILD_TARGET={target}");
    println!("cargo::rustc-env=PORTOWNER_BUILD_PROFILE={profile}");
    println!(
        "cargo::rustc-env=PORTOWNER_BUILD_RUSTC={}",
        compiler_version()
    );
    // Only this file decides the values; cargo reruns the script anyway when the target,
    // profile or compiler changes, because each of those gets its own build directory.
    println!("cargo::rerun-if-changed=build.rs");
}

/// `rustc -V` of the compiler cargo uses, without the leading "rustc ".
fn compiler_version() -> String {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| String::from("rustc"));
    let output = Command::new(rustc).arg("-V").output();
    let line = match output {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        _ => String::from("unknown"),
    };
    let line = line.trim();
    line.strip_prefix("rustc ").unwrap_or(line).to_string()
}
