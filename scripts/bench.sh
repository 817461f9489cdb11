#!/usr/bin/env bash
# Benchmark: how fast portowner names the owner of a listening socket on a busy Linux host,
# side by side with `ss -ltnp`, `lsof` and the `listeners` crate (get_process_by_port).
#
#   scripts/bench.sh            full run: 200, 2,000 and 5,000 processes (under 10 minutes
#                               on an idle 2-core machine)
#   scripts/bench.sh --quick    200 and 2,000 processes, fewer runs (about 2 minutes)
#
# Run as root (to read every process's descriptors, as a mail-server admin would). It builds
# portowner and the listeners peer in release mode, starts a synthetic busy host (COUNT idle
# python processes holding 100 descriptors each) and a listener on a free loopback port owned
# by `bench-mta` (a parent and two workers sharing the socket), then times every tool against
# that same socket. Runs are interleaved in rounds (A B C D, A B C D, ...) so that drift of the
# machine hits every tool alike. Every process it starts is recorded by PID and killed by PID
# on exit, even on failure or Ctrl-C. Results go to target/bench/ and to stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/scripts/bench"
out="$root/target/bench"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

say() { printf '==> %s\n' "$*" >&2; }

# --- every process we start, by PID; killed on exit ------------------------------------------
started=()   # python parents we started (crowds and owners), each recorded with $!
pidfiles=()  # files listing the PIDs each of them forked
ours() {     # is PID still one of our helpers? (guards against a reused PID)
  grep -qs -e busy_host.py -e owner.py "/proc/$1/cmdline"
}
stop_pids() {
  local pid
  for pid in "$@"; do
    if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}
cleanup() {
  local file
  for file in "${pidfiles[@]}"; do
    # The children first (their parent ignores SIGCHLD, so they are reaped at once).
    [ -f "$file" ] && stop_pids $(tail -n +2 "$file" | tr ' ' '\n')
  done
  stop_pids "${started[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools --------------------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
  echo "bench.sh: run as root: ss, lsof and portowner must all be able to read every process" >&2
  exit 2
fi
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v ss >/dev/null || missing+=(iproute2)
command -v lsof >/dev/null || missing+=(lsof)
[ -x /usr/bin/time ] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

say "building portowner and the listeners peer (release)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cargo build --release --quiet --manifest-path "$here/listeners-peer/Cargo.toml" \
  --target-dir "$root/target/listeners-peer"
portowner="$root/target/release/portowner"
peer="$root/target/listeners-peer/release/listeners-peer"
extra=()
"$portowner" --help | grep -q -- '--no-banner' && extra+=(--no-banner)

rm -rf "$out"
mkdir -p "$out"

# --- the synthetic host ---------------------------------------------------------------------------
wait_for() { # FILE: until it exists (the helpers rename it into place when complete)
  local i
  for i in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "bench.sh: $1 did not appear" >&2
  exit 1
}
add_crowd() { # COUNT: start COUNT more idle processes with 100 descriptors each
  local file="$out/crowd-$RANDOM-$1.pids"
  python3 "$here/busy_host.py" "$1" 100 "$file" &
  started+=("$!")
  disown "$!"  # bash would otherwise announce "Killed" when cleanup ends it
  pidfiles+=("$file")
  wait_for "$file"
}
owner=""
start_owner() { # starts a new owner (after the crowd, so its PID is higher); sets port/owner
  [ -n "$owner" ] && stop_pids $(tail -n +2 "$owner_file.pids") "$owner"
  owner_file="$out/owner-$RANDOM.txt"
  python3 "$here/owner.py" "$owner_file" &
  owner=$!
  started+=("$owner")
  disown "$owner"
  wait_for "$owner_file"
  local workers
  read -r port owner_pid workers < "$owner_file"
  printf '%s\n' "$owner_pid" $workers > "$owner_file.pids"
  pidfiles+=("$owner_file.pids")
}
processes() { ls /proc | grep -c '^[0-9]'; }

# --- checks that every tool finds the owner before anything is timed ---------------------------
check_tools() {
  "$portowner" --port "$port" --expect bench-mta "${extra[@]}" | grep -q "PID $owner_pid" \
    || { echo "bench.sh: portowner did not name PID $owner_pid" >&2; exit 1; }
  set +e; "$portowner" --port "$port" --expect no-such-mta "${extra[@]}" >/dev/null; local code=$?; set -e
  [ "$code" = 4 ] || { echo "bench.sh: wrong-owner case exited $code, not 4" >&2; exit 1; }
  ss -ltnp "sport = :$port" | grep -q "pid=$owner_pid," \
    || { echo "bench.sh: ss did not name PID $owner_pid" >&2; exit 1; }
  lsof -nP -iTCP:"$port" -sTCP:LISTEN | grep -q " $owner_pid " \
    || { echo "bench.sh: lsof did not name PID $owner_pid" >&2; exit 1; }
  "$peer" "$port" | grep -q "$owner_pid" \
    || { echo "bench.sh: listeners did not name PID $owner_pid" >&2; exit 1; }
}

# --- timing ------------------------------------------------------------------------------------------
# bench NAME ROUNDS RUNS [TOOL...]: ROUNDS hyperfine invocations, each running every tool
# (default: all five) RUNS times in turn, exported as $out/NAME-ROUND.json. Only the first
# round warms up (one run each), so caches are as warm for every tool.
bench() {
  local name=$1 rounds=$2 runs=$3 round warmup
  shift 3
  local tools=("$@")
  [ ${#tools[@]} -eq 0 ] && tools=(portowner ss lsof listeners wrong-owner)
  local args=() tool
  for tool in "${tools[@]}"; do
    case $tool in
      portowner) args+=(-n portowner "$portowner --port $port --expect bench-mta ${extra[*]}") ;;
      ss) args+=(-n "ss -ltnp" "ss -ltnp 'sport = :$port'") ;;
      lsof) args+=(-n lsof "lsof -nP -iTCP:$port -sTCP:LISTEN") ;;
      listeners) args+=(-n listeners "$peer $port") ;;
      wrong-owner) args+=(-n "portowner wrong-owner"
                          "$portowner --port $port --expect no-such-mta ${extra[*]}") ;;
    esac
  done
  for round in $(seq 1 "$rounds"); do
    warmup=0
    [ "$round" = 1 ] && warmup=1
    hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" \
      --export-json "$out/$name-$round.json" "${args[@]}" >/dev/null 2>&1
  done
}
memory() { # peak RSS in KiB of each tool, one run each
  local file="$out/rss.txt"
  : > "$file"
  measure() { /usr/bin/time -f "%M" -o "$out/rss.one" "${@:2}" >/dev/null 2>&1 || true
              printf '%s\t%s\n' "$1" "$(tail -1 "$out/rss.one")" >> "$file"; }
  measure portowner "$portowner" --port "$port" --expect bench-mta "${extra[@]}"
  measure "portowner wrong-owner" "$portowner" --port "$port" --expect no-such-mta "${extra[@]}"
  measure "ss -ltnp" ss -ltnp "sport = :$port"
  measure lsof lsof -nP -iTCP:"$port" -sTCP:LISTEN
  measure listeners "$peer" "$port"
}
scale_step() { # COUNT ROUNDS RUNS: grow the crowd to COUNT, new owner, time
  local want=$1 have=$crowd
  [ "$want" -gt "$have" ] && add_crowd $((want - have))
  crowd=$want
  start_owner
  check_tools
  say "$want extra processes ($(processes) in /proc): port $port, owner PID $owner_pid"
  bench "scale-$want" "$2" "$3"
}

crowd=0
if [ "$quick" = 1 ]; then
  scale_step 200 2 2
  scale_step 2000 2 2
  memory
else
  scale_step 200 3 4
  scale_step 2000 3 4
  memory
  scale_step 5000 2 2
  say "owner started before the crowd (2,000): listeners stops at the first holder it meets"
  stop_pids $(for f in "${pidfiles[@]}"; do [ -f "$f" ] && tail -n +2 "$f"; done) "${started[@]}"
  started=(); pidfiles=(); owner=""; crowd=0
  start_owner
  add_crowd 2000
  check_tools
  bench "early-2000" 3 4 portowner listeners
fi

python3 "$here/summarize.py" "$out" | tee "$out/summary.md"
