//! What this binary is: its version, the target it was built for, the build profile and the
//! compiler. build.rs records them at build time, so that a report collected from a server
//! says exactly which build ran there.
#![forbid(unsafe_code)]

/// portowner's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target triple the binary was built for, e.g. `x86_64-pc-windows-gnu`.
pub const TARGET: &str = env!("PORTOWNER_BUILD_TARGET");

/// The cargo profile family it was built with: `release` or `debug` (cargo names every custom
/// profile after the one it inherits from).
pub const BUILD_PROFILE: &str = env!("PORTOWNER_BUILD_PROFILE");

/// The compiler's version, as `rustc -V` prints it without the leading "rustc".
pub const RUSTC: &str = env!("PORTOWNER_BUILD_RUSTC");

/// What `--version` prints: the name and version, and with `verbose` one line per build detail.
pub fn version_text(verbose: bool) -> String {
    let mut text = format!("{} {VERSION}\n", env!("CARGO_PKG_NAME"));
    if verbose {
        text.push_str(&format!(
            "target: {TARGET}\nbuild profile: {BUILD_PROFILE}\nrustc: {RUSTC}\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_version_is_one_line_like_clap_prints_it() {
        assert_eq!(version_text(false), format!("portowner {VERSION}\n"));
    }

    #[test]
    fn verbose_version_names_the_build() {
        let text = version_text(true);
        assert!(text.starts_with(&version_text(false)), "{text}");
        assert!(text.contains(&format!("target: {TARGET}\n")), "{text}");
        assert!(TARGET.contains(std::env::consts::ARCH), "{TARGET}");
        assert!(
            ["debug", "release"].contains(&BUILD_PROFILE),
            "{BUILD_PROFILE}"
        );
        assert!(RUSTC.starts_with(|c: char| c.is_ascii_digit()), "{RUSTC}");
    }
}
