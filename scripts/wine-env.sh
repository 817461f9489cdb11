#!/usr/bin/env bash
# scripts/wine-env.sh - run portowner's Windows build (x86_64-pc-windows-gnu) and its
# tests under Wine on Debian 12, headless and reproducibly.
#
# What this script owns (and nothing else):
#   * the Rust target x86_64-pc-windows-gnu and the Debian packages gcc-mingw-w64-x86-64,
#     wine, wine64 - installed only if missing (apt-get update only when installing);
#   * one dedicated 64-bit Wine prefix: ${WINEPREFIX:-$HOME/.wine-portowner}
#     (set PORTOWNER_WINEPREFIX to choose another one without touching WINEPREFIX);
#   * inside that prefix:
#       drive_c/windows/system32/bcryptprimitives.dll  ProcessPrng shim (see below)
#       portowner-runner.sh                            the cargo runner (wrapper around wine64)
#       portowner-setup.log                            output of the Wine commands run here
#       .portowner-wine-version                        stamp: wine version the prefix was last booted with
#
# Contract - pick either form, both do the same work and end with the same environment:
#   eval "$(scripts/wine-env.sh)"          # executed: stdout carries ONLY `export VAR='value'`
#   eval "$(scripts/wine-env.sh --print-env)"  #   lines (POSIX-sh quoting); all progress goes to stderr
#   source scripts/wine-env.sh             # sourced: runs the executed form in a child bash and
#                                          #   exports its variables; does not leak `set -euo pipefail`
#                                          #   into your shell; returns non-zero if setup failed
# then:  cargo test --target x86_64-pc-windows-gnu
#        cargo run  --target x86_64-pc-windows-gnu -- ARGS
# Variables set: WINEPREFIX, WINEDEBUG=-all, WINEDLLOVERRIDES, CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER.
# The runner is self-contained (it pins WINEPREFIX to this prefix itself), so exporting just
# CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER also works. WINEDEBUG given to the runner is honoured
# (e.g. WINEDEBUG=err+all,+loaddll cargo test ... to debug), default -all.
#
# Idempotent: a second run installs nothing, rebuilds the shim only in a temp dir and copies it
# only if it differs, and only re-runs `wineboot -u` when the installed wine version changed.
# Works without an X display and without stdin. Runs apt-get as root (or via sudo if present).
#
# Why the pieces exist:
#   * Rust std (1.78+) imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks; without it
#     every .exe dies at load time with exit status 53 (c0000135, STATUS_DLL_NOT_FOUND) and - with
#     WINEDEBUG=-all - no message at all. The shim exports ProcessPrng and forwards to
#     advapi32!SystemFunction036 (RtlGenRandom).
#   * The runner wrapper (instead of pointing cargo at /usr/lib/wine/wine64 directly) starts the
#     wineserver and the prefix's background processes (services.exe, explorer.exe, winedevice...)
#     with stdio on /dev/null. Otherwise the first .exe of a session spawns them with ITS stdout/
#     stderr, so (a) `out=$(cargo run ...)`, `| tee` and CI log pipes stay open ~2.5 s after the exe
#     exits and (b) with WINEDEBUG enabled their err:/fixme: lines interleave with the exe's stderr.
#     The wineserver then lingers PORTOWNER_WINESERVER_PERSIST seconds (default 30) after the last
#     Windows process exits; stop it earlier with: WINEPREFIX=<prefix> wineserver -k
#   * Exit status: the runner execs wine64, so the exe's exit code reaches cargo, but only its low
#     8 bits, and Wine maps a nonzero code whose low byte is 0 to 1: exit(3) -> 3, exit(-1) -> 255,
#     exit(256) -> 1, panic -> 101, abort() (0xC0000409) -> 9, access violation (0xC0000005) -> 5,
#     stack overflow (0xC00000FD) -> 253.
#   * Crashes: Wine 8 by default starts `winedbg --auto` on an unhandled exception; it dumps a
#     register/backtrace report onto the exe's STDOUT and, in ~15% of runs here, the crashed process
#     then exited with status 0 - a crashing test binary could pass. The runner therefore always sets
#     WINEDLLOVERRIDES with winedbg.exe=d (it ignores WINEDLLOVERRIDES from the environment); a crash
#     then reliably gives the status above plus one stderr line printed even with WINEDEBUG=-all:
#       wine: Unhandled page fault on write access to ... (thread 0138), starting debugger...
#     For a winedbg crash report run the exe yourself with the /usr/lib/wine/wine64 loader.
#   * Other Wine 8 behaviour tests may meet: GetExtendedTcpTable works but reports owner PID 0;
#     `cmd /c echo hi` writes "hi\r\n"; env!("CARGO_BIN_EXE_<name>") is a Unix path and still
#     spawns fine because the working directory is on drive Z: (= /); current_exe() is Z:\...
#   * Not Wine but the cross toolchain: binutils 2.40's x86_64-w64-mingw32-dlltool (run by rustc for
#     raw-dylib imports, e.g. windows-link) leaves 2 empty $TMPDIR/ccXXXXXX files per call, ~200 per
#     clean build of portowner; point TMPDIR at a scratch dir for the cross build to contain them.
#
# Options: --print-env (default when executed), -h/--help.

# ---- sourced: delegate to a child bash so nothing but the exports reaches the caller's shell ----
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    __portowner_wine_env="$(bash "${BASH_SOURCE[0]}" --print-env)" || {
        echo "wine-env.sh: setup failed (see messages above)" >&2
        unset __portowner_wine_env
        return 1
    }
    eval "$__portowner_wine_env"
    unset __portowner_wine_env
    return 0
fi

set -euo pipefail

case "${1:---print-env}" in
    --print-env) ;;
    -h|--help) sed -n '2,/^# Options:/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "wine-env.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

readonly TARGET=x86_64-pc-windows-gnu
readonly WINE64=/usr/lib/wine/wine64
readonly WINESERVER64=/usr/lib/wine/wineserver64
readonly MINGW_GCC=x86_64-w64-mingw32-gcc
# mscoree,mshtml: no Mono/Gecko install prompts; winemenubuilder: no .desktop/menu files in $HOME;
# winedbg: see "Crashes" in the header.
readonly DLL_OVERRIDES='mscoree,mshtml=;winemenubuilder.exe=d;winedbg.exe=d'

PREFIX="${PORTOWNER_WINEPREFIX:-${WINEPREFIX:-$HOME/.wine-portowner}}"
PREFIX="${PREFIX%/}"

log() { printf 'wine-env: %s\n' "$*" >&2; }
die() { printf 'wine-env: error: %s\n' "$*" >&2; exit 1; }
# single-quote for POSIX sh: a'b -> 'a'\''b'
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# ---- 1. toolchain and packages -----------------------------------------------------------------
command -v rustup >/dev/null || die "rustup not found in PATH"
# rustup runs from the repository root so that a rust-toolchain(.toml) there selects the toolchain.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! (cd "$REPO_ROOT" && rustup target list --installed) | grep -qx "$TARGET"; then
    log "installing Rust target $TARGET"
    (cd "$REPO_ROOT" && rustup target add "$TARGET") >&2
fi

missing=()
for pkg in gcc-mingw-w64-x86-64 wine wine64; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    if ((EUID == 0)); then
        as_root=()
    elif command -v sudo >/dev/null; then
        as_root=(sudo -n)
    else
        die "need root (or sudo) to install: ${missing[*]}"
    fi
    log "installing ${missing[*]} (apt-get update + install)"
    # Lock timeout: wait for a concurrently running apt/dpkg instead of failing.
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=900 -qq update >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=900 -y -qq install "${missing[@]}" </dev/null >&2
fi
[[ -x "$WINE64" ]] || die "$WINE64 missing although wine64 is installed"
[[ -x "$WINESERVER64" ]] || die "$WINESERVER64 missing although wine64 is installed"
command -v "$MINGW_GCC" >/dev/null || die "$MINGW_GCC missing although gcc-mingw-w64-x86-64 is installed"

# ---- 2. the Wine prefix ----------------------------------------------------------------------
export WINEPREFIX="$PREFIX" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="$DLL_OVERRIDES"
unset DISPLAY WAYLAND_DISPLAY   # never try to open windows / dialogs
SETUP_LOG="$PREFIX/portowner-setup.log"

wine_quiet() {  # run a wine command detached from our stdio; output to the setup log
    local rc=0
    printf '\n### %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$SETUP_LOG"
    "$@" </dev/null >>"$SETUP_LOG" 2>&1 9>&- || rc=$?
    # Wait for wineboot's background processes so the registry is flushed and nothing we
    # started keeps the caller's pipes open. Only this prefix's server is affected.
    "$WINESERVER64" -w </dev/null >>"$SETUP_LOG" 2>&1 9>&- || true
    return "$rc"
}

mkdir -p "$PREFIX"
[[ -O "$PREFIX" ]] || die "$PREFIX is not owned by $(id -un); wine refuses such prefixes"
exec 9>"$PREFIX/.portowner-wine-env.lock"
flock 9  # serialise concurrent runs on the same prefix (fd 9 is closed for every wine command)

wine_version="$("$WINE64" --version 2>/dev/null)" || die "$WINE64 --version failed"
stamp="$PREFIX/.portowner-wine-version"
if [[ ! -f "$PREFIX/system.reg" || ! -f "$PREFIX/drive_c/windows/system32/kernel32.dll" ]]; then
    log "creating 64-bit Wine prefix $PREFIX ($wine_version; takes ~10-20 s)"
    wine_quiet "$WINE64" wineboot.exe --init \
        || die "wineboot --init failed; see $SETUP_LOG"
    [[ -f "$PREFIX/system.reg" ]] || die "wineboot did not create $PREFIX/system.reg; see $SETUP_LOG"
    printf '%s\n' "$wine_version" >"$stamp"
elif ! grep -q '^#arch=win64' "$PREFIX/system.reg"; then
    die "$PREFIX is not a 64-bit prefix; remove it or choose another PORTOWNER_WINEPREFIX"
elif [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wine_version" ]]; then
    log "updating Wine prefix $PREFIX for $wine_version"
    wine_quiet "$WINE64" wineboot.exe --update || die "wineboot --update failed; see $SETUP_LOG"
    printf '%s\n' "$wine_version" >"$stamp"
fi

# ---- 3. ProcessPrng shim: bcryptprimitives.dll ---------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/portowner-wine-env.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/bcryptprimitives.c" <<'EOF'
/* Minimal bcryptprimitives.dll for Wine 8 (generated by portowner scripts/wine-env.sh).
 * Rust std imports ProcessPrng from here; forward to advapi32!SystemFunction036 (RtlGenRandom). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000u ? 0x40000000u : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMainCRTStartup(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance; (void)reason; (void)reserved;
    return TRUE;
}
EOF
cat >"$tmp/bcryptprimitives.def" <<'EOF'
LIBRARY bcryptprimitives.dll
EXPORTS
    ProcessPrng
EOF
# -nostdlib + own entry point: no CRT, imports only advapi32. No timestamp and a fixed image base
# (ld otherwise derives it from the output path): byte-identical rebuilds, so reruns copy nothing.
"$MINGW_GCC" -O2 -shared -nostdlib -s \
    -Wl,--entry,DllMainCRTStartup -Wl,--no-insert-timestamp -Wl,--disable-auto-image-base \
    -o "$tmp/bcryptprimitives.dll" "$tmp/bcryptprimitives.c" "$tmp/bcryptprimitives.def" -ladvapi32 >&2 \
    || die "building the ProcessPrng shim with $MINGW_GCC failed"
dll="$PREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if ! cmp -s "$tmp/bcryptprimitives.dll" "$dll"; then
    log "installing ProcessPrng shim -> $dll"
    install -m 0644 "$tmp/bcryptprimitives.dll" "$dll"
fi

# ---- 4. cargo runner -----------------------------------------------------------------------------
runner="$PREFIX/portowner-runner.sh"
cat >"$tmp/runner.sh" <<EOF
#!/bin/sh
# cargo runner for $TARGET - generated by portowner scripts/wine-env.sh; do not edit, re-run it.
export WINEPREFIX=$(sq "$PREFIX")
export WINEDEBUG="\${WINEDEBUG:--all}"
export WINEDLLOVERRIDES=$(sq "$DLL_OVERRIDES")
export WINELOADER=$WINE64
unset DISPLAY WAYLAND_DISPLAY
# If no wineserver runs for this prefix yet, start one (exit 0; 2 = already running) and boot the
# prefix's background processes with stdio on /dev/null, so they neither hold the caller's
# stdout/stderr pipes open nor write into them.
if $WINESERVER64 -p"\${PORTOWNER_WINESERVER_PERSIST:-30}" </dev/null >/dev/null 2>&1; then
    $WINE64 cmd.exe /c exit 0 </dev/null >/dev/null 2>&1 || :
fi
exec $WINE64 "\$@"
EOF
if ! cmp -s "$tmp/runner.sh" "$runner"; then
    install -m 0755 "$tmp/runner.sh" "$runner"
fi

log "ready: prefix $PREFIX ($wine_version), runner $runner"

# ---- 5. the environment, on stdout only ----------------------------------------------------------
printf 'export WINEPREFIX=%s\n' "$(sq "$PREFIX")"
printf 'export WINEDEBUG=%s\n' "$(sq -all)"
printf 'export WINEDLLOVERRIDES=%s\n' "$(sq "$DLL_OVERRIDES")"
printf 'export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=%s\n' "$(sq "$runner")"
