#!/usr/bin/env bash
# scripts/wine-smoke.sh - smoke test of the release portowner.exe itself, under Wine.
#
# Usage:   eval "$(scripts/wine-env.sh)"; scripts/wine-smoke.sh [PATH/TO/portowner.exe]
# Default: target/x86_64-pc-windows-gnu/release/portowner.exe (build it first:
#          cargo build --release --target x86_64-pc-windows-gnu).
#
# What it checks, on the artifact that gets copied to servers:
#   * one self-contained .exe: it imports only DLLs that Windows ships (no libgcc_s,
#     libwinpthread, libstdc++ beside it);
#   * the remote PowerShell contract, against an SMTP listener this script starts on
#     127.0.0.1 (and a port nothing listens on): stdout is ASCII (JSON without BOM that
#     parses, or a table without ANSI escapes), stderr is empty, the exit code is the expected
#     one and equals the JSON's exit_code, and stdin - a pipe held open, never written - is
#     never read.
# Under Wine the TCP table names no owner (PID 0), so the listener's verdict is the honest
# owner-unknown (exit 5), with the greeting read `ok`.
#
# Needs: CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER (from scripts/wine-env.sh), python3,
# x86_64-w64-mingw32-objdump. Everything it starts is stopped by PID when it exits.
set -euo pipefail

exe="${1:-target/x86_64-pc-windows-gnu/release/portowner.exe}"
runner="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER:?run eval \"\$(scripts/wine-env.sh)\" first}"
[[ -f "$exe" ]] || { echo "wine-smoke: $exe not found; build it first" >&2; exit 1; }

fail() { printf 'wine-smoke: FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf 'wine-smoke: ok: %s\n' "$*"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/portowner-smoke.XXXXXX")"
listener_pid=""
cleanup() {
    exec 3>&- || true
    if [[ -n "$listener_pid" ]]; then kill "$listener_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. one self-contained .exe -----------------------------------------------------------------
imports="$(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^[[:space:]]*DLL Name: //p' | sort -fu)"
[[ -n "$imports" ]] || fail "no import table found in $exe"
if grep -Eiq 'libgcc|libwinpthread|libstdc\+\+|vcruntime|msvcp' <<<"$imports"; then
    fail "$exe needs runtime DLLs that Windows does not ship: $(tr '\n' ' ' <<<"$imports")"
fi
pass "$(basename "$exe") ($(stat -c %s "$exe") bytes) imports only system DLLs: $(tr '\n' ' ' <<<"$imports")"

# ---- 2. an SMTP listener of our own on loopback ---------------------------------------------------
python3 -u - >"$work/port" <<'EOF' &
import socket
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(8)
print(server.getsockname()[1], flush=True)
server.settimeout(120)
while True:
    try:
        client, _ = server.accept()
    except OSError:
        break
    client.settimeout(5)
    try:
        client.sendall(b"220 smoke.test ESMTP portowner smoke test\r\n")
        if client.recv(512).upper().startswith(b"QUIT"):
            client.sendall(b"221 bye\r\n")
    except OSError:
        pass
    client.close()
EOF
listener_pid=$!
for _ in $(seq 1 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(head -n1 "$work/port")"
[[ "$port" =~ ^[0-9]+$ ]] || fail "the listener did not start"
nowhere="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# stdin for every run: a FIFO that this script holds open and never writes, so a read blocks.
mkfifo "$work/stdin"
exec 3<>"$work/stdin"

# run NAME ARGS... -> $work/NAME.out, $work/NAME.err, exit code in $work/NAME.rc
run() {
    local name="$1"; shift
    local rc=0
    timeout 120 "$runner" "$exe" "$@" <&3 >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    [[ "$rc" != 124 ]] || fail "$name: still running after 120 s (reading stdin?)"
    echo "$rc" >"$work/$name.rc"
}

# check NAME FORMAT VERDICT EXIT: the contract on one run's output.
check() {
    python3 - "$work/$1" "$2" "$3" "$4" <<'EOF' || fail "$1: see above"
import json, sys
base, fmt, verdict, exit_code = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
out = open(base + ".out", "rb").read()
err = open(base + ".err", "rb").read()
rc = int(open(base + ".rc").read())
problems = []
if err:
    problems.append("stderr is not empty: %r" % err[:300])
bad = [b for b in out if not (b in (10, 13) or 32 <= b <= 126)]
if bad:
    problems.append("stdout is not plain ASCII (first bad byte 0x%02x)" % bad[0])
if rc != exit_code:
    problems.append("exit code %d, expected %d" % (rc, exit_code))
if fmt == "json":
    if not out.startswith(b"{"):
        problems.append("JSON does not start with '{' (BOM?): %r" % out[:8])
    try:
        doc = json.loads(out.decode("utf-8"))
        if doc.get("exit_code") != rc:
            problems.append("JSON exit_code %r != exit code %d" % (doc.get("exit_code"), rc))
        if doc.get("verdict") != verdict:
            problems.append("JSON verdict %r, expected %r" % (doc.get("verdict"), verdict))
    except ValueError as e:
        problems.append("stdout is not JSON: %s" % e)
elif (": %s - " % verdict).encode() not in out:
    problems.append("no '%s' verdict line in the table" % verdict)
for p in problems:
    print("wine-smoke: %s: %s" % (base.rsplit("/", 1)[-1], p), file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
    pass "$1: $2, verdict $3, exit $4, stderr empty, ASCII"
}

# ---- 3. the contract ---------------------------------------------------------------------------
run listener-json --format json --port "$port" --banner-timeout 10
check listener-json json owner-unknown 5
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); b=d["ports"][0]["banner"][0]; sys.exit(b["finding"] != "ok")' \
    "$work/listener-json.out" || fail "the greeting of the smoke listener was not read as ok"
pass "listener-json: greeting read ok through Wine's sockets"

run listener-table --port "$port" --banner-timeout 10
check listener-table table owner-unknown 5

run nothing-json --format json --port "$nowhere"
check nothing-json json not-listening 3

pass "all checks passed"
