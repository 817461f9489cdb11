#!/usr/bin/env bash
# Builds portowner's release binaries for Linux and Windows on a Linux machine, strips them,
# checks them, and writes them into dist/ with the man pages, the completion scripts and a
# SHA256SUMS file covering all of it. dist/ is emptied first: it holds one release only.
#
#   scripts/release.sh
#
# Needs: rustup with the target x86_64-pc-windows-gnu (`rustup target add
# x86_64-pc-windows-gnu`) and Debian's gcc-mingw-w64-x86-64 (linker, strip and objdump for the
# .exe). Adds a fully static Linux binary when the target x86_64-unknown-linux-musl is
# installed (`rustup target add x86_64-unknown-linux-musl`; Debian's musl-tools for any C code),
# and says so when it is not. The release profile (Cargo.toml) already does LTO and strips;
# the strip step here makes sure of it and shows what it still removed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LINUX=x86_64-unknown-linux-gnu
MUSL=x86_64-unknown-linux-musl
WINDOWS=x86_64-pc-windows-gnu
DIST=dist

# DLLs that every supported Windows (10 / Server 2016 and later) ships in System32; anything
# else, such as MinGW's libgcc_s_seh-1.dll or libwinpthread-1.dll, would have to be copied
# next to the .exe, so the release stops instead.
WINDOWS_DLLS='^(kernel32|ntdll|advapi32|ws2_32|bcrypt|bcryptprimitives|userenv|msvcrt|iphlpapi|'
WINDOWS_DLLS+='ole32|oleaut32|combase|rpcrt4|psapi|powrprof|pdh|netapi32|secur32|shell32|user32|'
WINDOWS_DLLS+='version|dbghelp|api-ms-win-[a-z0-9-]+)\.dll$'

log() { printf 'release: %s\n' "$*" >&2; }
die() { printf 'release: error: %s\n' "$*" >&2; exit 1; }

# ---- what is needed ----------------------------------------------------------------------
for tool in cargo rustup sha256sum strip readelf x86_64-w64-mingw32-gcc \
    x86_64-w64-mingw32-strip x86_64-w64-mingw32-objdump; do
    command -v "$tool" >/dev/null || die "$tool not found; see the comment at the top of $0"
done
installed_targets="$(rustup target list --installed)"
grep -qx "$WINDOWS" <<<"$installed_targets" \
    || die "Rust target $WINDOWS missing: rustup target add $WINDOWS"
targets=("$LINUX" "$WINDOWS")
if grep -qx "$MUSL" <<<"$installed_targets"; then
    targets+=("$MUSL")
else
    log "Rust target $MUSL not installed: no static Linux binary this time"
fi

pkgid="$(cargo pkgid)"
version="${pkgid##*[#@]}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "cannot read the version from '$pkgid'"

# ---- build, strip, check -------------------------------------------------------------------
rm -rf "$DIST"
mkdir -p "$DIST"

# The file name a target's binary gets in dist/.
artifact() {
    local suffix=""
    [[ "$1" == *windows* ]] && suffix=".exe"
    printf '%s/portowner-%s-%s%s' "$DIST" "$version" "$1" "$suffix"
}

build() {
    local target="$1" built
    log "building $target"
    if [[ "$target" == "$MUSL" ]] && command -v musl-gcc >/dev/null; then
        # For any crate that compiles C: the musl wrapper, not glibc's gcc.
        export CC_x86_64_unknown_linux_musl=musl-gcc
    fi
    cargo build --release --locked --target "$target"
    built="target/$target/release/portowner"
    [[ "$target" == *windows* ]] && built="$built.exe"
    install -m 0755 "$built" "$(artifact "$target")"
}

strip_binary() {
    local target="$1" file before after
    file="$(artifact "$target")"
    before="$(stat -c %s "$file")"
    if [[ "$target" == *windows* ]]; then
        x86_64-w64-mingw32-strip --strip-all "$file"
    else
        strip --strip-all "$file"
    fi
    after="$(stat -c %s "$file")"
    log "stripped $(basename "$file"): $before -> $after bytes"
}

check_windows() {
    local file dll bad=0
    file="$(artifact "$WINDOWS")"
    log "DLLs $(basename "$file") imports:"
    while read -r dll; do
        if grep -qiE "$WINDOWS_DLLS" <<<"$dll"; then
            log "  $dll"
        else
            log "  $dll  <- not shipped with Windows"
            bad=1
        fi
    done < <(x86_64-w64-mingw32-objdump -p "$file" | sed -n 's/^[[:space:]]*DLL Name: //p' \
        | sort -uf)
    ((bad == 0)) || die "the .exe needs DLLs Windows lacks; is +crt-static in .cargo/config.toml?"
}

check_linux() {
    local target="$1" file glibc
    file="$(artifact "$target")"
    "$file" --version --verbose | grep -qx "target: $target" \
        || die "$(basename "$file") does not report target $target"
    if [[ "$target" == "$MUSL" ]]; then
        ! readelf -d "$file" | grep -q NEEDED || die "$(basename "$file") is not static"
        log "$(basename "$file") is static: no shared libraries needed"
    else
        glibc="$(readelf -V "$file" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
        log "$(basename "$file") needs glibc ${glibc#GLIBC_} or later"
    fi
}

for target in "${targets[@]}"; do
    build "$target"
    strip_binary "$target"
    if [[ "$target" == *windows* ]]; then check_windows; else check_linux "$target"; fi
done

# ---- man pages, completions, sums ----------------------------------------------------------
# Generated by the Linux binary; they are the same for every target.
linux_binary="$(artifact "$LINUX")"
"$linux_binary" man --dir "$DIST/man"
for shell in bash zsh fish powershell elvish; do
    "$linux_binary" completions "$shell" --dir "$DIST/completions"
done

sums="$(cd "$DIST" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum)"
printf '%s\n' "$sums" >"$DIST/SHA256SUMS"

printf '\nportowner %s in %s/ (check with: cd %s && sha256sum -c SHA256SUMS)\n' \
    "$version" "$DIST" "$DIST"
for target in "${targets[@]}"; do
    file="$(artifact "$target")"
    size="$(stat -c %s "$file")"
    printf '  %-48s %9d bytes  %6d KiB\n' "$(basename "$file")" "$size" $(((size + 1023) / 1024))
done
