//! The built binary's extras: completion scripts for every shell, the man page, `--version`,
//! and the build details in the JSON report. Where the shells, `man` or groff are installed
//! the output is also fed to them; where not, the test says so on stderr and checks the text.

// clippy.toml's allow-*-in-tests covers #[test] functions only, not the helpers of an
// integration test crate; here too a panic is a failed test, not a crash in the field.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use portowner::build_info;
use portowner::cli::Cli;
use support::{code, run, run_json, stderr, stdout};

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "powershell", "elvish"];

/// Every visible long flag and subcommand of the definition, so flags added later are checked
/// too.
fn words() -> Vec<String> {
    let command = Cli::command();
    let visible = command.get_arguments().filter(|a| !a.is_hide_set());
    let flags = visible.filter_map(|a| a.get_long());
    let subcommands = command.get_subcommands().map(|s| s.get_name());
    flags.chain(subcommands).map(String::from).collect()
}

/// How a shell's script spells a long flag: fish writes `-l port`, the others `--port`.
fn spelled(shell: &str, word: &str, is_flag: bool) -> String {
    match (shell, is_flag) {
        ("fish", true) => format!("-l {word}"),
        (_, true) => format!("--{word}"),
        (_, false) => word.to_string(),
    }
}

fn script(shell: &str) -> String {
    let output = run(&["completions", shell]);
    assert_eq!(code(&output), 0, "{shell}: {}", stderr(&output));
    assert_eq!(stderr(&output), "", "{shell}");
    stdout(&output)
}

/// Whether a program can be started here at all.
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portowner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn completions_for_every_shell_mention_every_flag_and_subcommand() {
    let command = Cli::command();
    for shell in SHELLS {
        let text = script(shell);
        assert!(text.len() > 500, "{shell}: suspiciously short: {text}");
        for word in words() {
            let is_flag = command.get_subcommands().all(|s| s.get_name() != word);
            let needle = spelled(shell, &word, is_flag);
            assert!(text.contains(&needle), "{shell}: {needle} missing");
        }
    }
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    let checks: [(&str, &[&str]); 3] = [
        ("bash", &["-n"]),
        ("zsh", &["-n"]),
        ("fish", &["--no-execute"]),
    ];
    for (shell, flags) in checks {
        if !installed(shell) {
            eprintln!("{shell} is not installed; its script was checked as text only");
            continue;
        }
        let dir = temp_dir(&format!("syntax-{shell}"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("script");
        std::fs::write(&file, script(shell)).unwrap();
        let output = Command::new(shell).args(flags).arg(&file).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
    }
}

/// Sources the bash script and asks it what completes `line`, as bash does on TAB: the
/// function gets the command, the word being completed and the one before it.
fn bash_completes(line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "source /dev/stdin; COMP_WORDS=({words}); COMP_CWORD={index}; COMP_LINE='{line}'; \
         COMP_POINT={point}; _portowner portowner '{current}' '{previous}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        index = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
        point = line.len(),
    );
    let mut child = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script("bash").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(String::from).collect()
}

#[test]
fn bash_completes_flags_values_and_shells() {
    if !installed("bash") {
        eprintln!("bash is not installed; skipping");
        return;
    }
    assert!(bash_completes("portowner --po").contains(&"--port".to_string()));
    assert_eq!(bash_completes("portowner --format "), ["table", "json"]);
    let shells = bash_completes("portowner completions ");
    for shell in SHELLS {
        assert!(shells.contains(&shell.to_string()), "{shell}: {shells:?}");
    }
}

#[test]
fn completions_into_a_directory_use_each_shells_file_name() {
    let dir = temp_dir("completions");
    let names = [
        ("bash", "portowner.bash"),
        ("zsh", "_portowner"),
        ("fish", "portowner.fish"),
        ("powershell", "_portowner.ps1"),
    ];
    for (shell, name) in names {
        let output = run(&["completions", shell, "--dir", dir.to_str().unwrap()]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert_eq!(stdout(&output), "", "the script goes to the file only");
        let written = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(written, script(shell), "{shell}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn man_page() -> String {
    let output = run(&["man"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    stdout(&output)
}

#[test]
fn man_page_is_roff_with_the_usual_sections() {
    let page = man_page();
    assert!(page.contains(".TH portowner 1"), "{page}");
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT"] {
        assert!(page.contains(&format!(".SH {section}\n")), "{section}");
    }
    assert!(page.contains(".SH \"EXIT STATUS\"\n"), "{page}");
    for word in words() {
        assert!(page.contains(&word.replace('-', "\\-")), "{word} missing");
    }
}

/// The page as `man` shows it, or None where man-db is not installed.
fn rendered_by_man(file: &Path) -> Option<String> {
    let output = Command::new("man")
        .args(["--warnings", "-l", "-P", "cat"])
        .arg(file)
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .ok()?;
    assert!(output.status.success(), "man: {}", stderr(&output));
    assert_eq!(stderr(&output), "", "man/groff warnings");
    Some(stdout(&output))
}

#[test]
fn man_page_renders_without_warnings_and_shows_every_flag() {
    let dir = temp_dir("man");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("portowner.1");
    std::fs::write(&file, man_page()).unwrap();
    let Some(text) = rendered_by_man(&file) else {
        eprintln!("man is not installed; the page was checked as roff source only");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    let _ = std::fs::remove_dir_all(&dir);
    for heading in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "ENVIRONMENT",
        "EXAMPLES",
        "EXIT STATUS",
    ] {
        assert!(
            text.contains(&format!("\n{heading}\n")),
            "{heading}: {text}"
        );
    }
    for word in words() {
        assert!(text.contains(&word), "{word} missing: {text}");
    }
    for exit in portowner::exit::Exit::ALL {
        let line = format!("{}  {}", exit.code(), exit.meaning());
        assert!(text.contains(&line), "{line} missing: {text}");
    }
}

#[test]
fn man_pages_into_a_directory_cover_every_subcommand() {
    let dir = temp_dir("man-dir");
    let output = run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(dir.join("portowner.1")).unwrap(),
        man_page()
    );
    for sub in Cli::command().get_subcommands().map(|s| s.get_name()) {
        if sub == "help" {
            continue;
        }
        let file = dir.join(format!("portowner-{sub}.1"));
        let page = std::fs::read_to_string(&file).unwrap();
        assert!(page.contains(&format!(".TH portowner-{sub} 1")), "{page}");
        let _ = rendered_by_man(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_directory_is_exit_1_with_the_path() {
    let file = temp_dir("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let output = run(&["man", "--dir", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).starts_with("portowner: could not write"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn misused_subcommands_are_usage_errors() {
    let cases: [&[&str]; 5] = [
        &["completions"],
        &["completions", "tcsh"],
        &["--port", "25", "completions", "bash"],
        &["man", "--bogus"],
        &["--version", "man"],
    ];
    for args in cases {
        let output = run(args);
        assert_eq!(code(&output), 2, "{args:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
        assert!(stderr(&output).contains("error:"), "{args:?}");
    }
}

#[test]
fn version_is_one_line_and_verbose_adds_the_build() {
    let plain = run(&["--version"]);
    assert_eq!(code(&plain), 0);
    assert_eq!(
        stdout(&plain),
        format!("portowner {}\n", build_info::VERSION)
    );
    assert_eq!(stdout(&run(&["-V"])), stdout(&plain));

    let verbose = run(&["--version", "--verbose"]);
    assert_eq!(code(&verbose), 0);
    assert_eq!(stderr(&verbose), "");
    let text = stdout(&verbose);
    assert!(text.starts_with(&stdout(&plain)), "{text}");
    for line in [
        format!("target: {}", build_info::TARGET),
        format!("build profile: {}", build_info::BUILD_PROFILE),
        format!("rustc: {}", build_info::RUSTC),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing: {text}");
    }
    assert!(build_info::TARGET.starts_with(std::env::consts::ARCH));
}

#[test]
fn json_report_names_the_build() {
    let port = support::free_port().to_string();
    let (json, _) = run_json(&["--port", &port]);
    assert_eq!(json["tool"]["version"], build_info::VERSION);
    assert_eq!(json["tool"]["target"], build_info::TARGET);
    assert_eq!(json["tool"]["build_profile"], build_info::BUILD_PROFILE);
    assert_eq!(json["tool"]["rustc"], build_info::RUSTC);
}
