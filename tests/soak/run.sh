#!/usr/bin/env bash
# Soak test for corefork (issue 9): SOAK_SECONDS (default 600) of mixed admin
# scrapes, slow and idle admin connections, reloads and scales, job floods,
# ?wait=true clients that hang up, kill -9 of workers and light app load,
# while corefork's RSS, fds and threads are sampled every 10 s and /livez is
# probed every 100 ms. Prints a summary table; exits 1 if a check failed
# (see tests/soak/README.md), 2 on a setup error.
#
#   tests/soak/run.sh [COREFORK [HELLO]]      # defaults: build/corefork,
#                                             # build/examples/hello
#   SOAK_SECONDS=60 tests/soak/run.sh build-soak/corefork
#
# Only 127.0.0.1 and a unix socket in a fresh temp dir are used. Needs
# /usr/bin/python3 (standard library only), curl, and wrk for the app load
# (installed with apt-get when missing and root; else a Python fallback).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO_ROOT/tests/soak"
COREFORK=$(realpath -e "${1:-$REPO_ROOT/build/corefork}" 2>/dev/null) ||
  { echo "soak: no corefork binary at ${1:-$REPO_ROOT/build/corefork}" >&2; exit 2; }
HELLO=$(realpath -e "${2:-$(dirname "$COREFORK")/examples/hello}" 2>/dev/null) ||
  { echo "soak: no examples/hello next to $COREFORK (pass it as 2nd argument)" >&2; exit 2; }
PY=${PYTHON:-/usr/bin/python3}
export SOAK_SECONDS=${SOAK_SECONDS:-600}
export SOAK_IDLE=${SOAK_IDLE:-1000}
export SOAK_SLOW=${SOAK_SLOW:-300}
OUT=${SOAK_OUT:-${TMPDIR:-/tmp}/corefork-soak-$(date +%Y%m%d-%H%M%S)}
START_TIMEOUT=30

log() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

[ -x "$PY" ] || die "no python3 at $PY"
command -v curl >/dev/null || die "curl is required"
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
export SOAK_OUT=$OUT
RUN=$(mktemp -d "${TMPDIR:-/tmp}/corefork-soak-run-XXXXXX")   # mode 0700

# 1000 idle + 300 slow connections on both ends need fds.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$((SOAK_IDLE + SOAK_SLOW + 1024))
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$need" ] ||
  die "ulimit -n is $(ulimit -n), need $need (lower SOAK_IDLE/SOAK_SLOW)"

if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing wrk"
  (apt-get install -y -q wrk >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; }) || true
fi
if command -v wrk >/dev/null; then export SOAK_APP_PYTHON=0; else
  log "wrk not available: Python app load instead"; export SOAK_APP_PYTHON=1; fi

CF_PID=""
LOG_PID=""
BG_PIDS=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  for p in "${BG_PIDS[@]}" $LOG_PID; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "$CF_PID" ] && kill -0 "$CF_PID" 2>/dev/null; then
    kill -KILL "$CF_PID" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port on 127.0.0.1 that nothing uses, below the ephemeral range (so no
# outgoing connection of the soak takes it meanwhile).
free_port() {
  local p low
  low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
    [ "$p" != "${1:-}" ] || continue
    echo "$p"; return
  done
  die "no free port found"
}
APP_PORT=$(free_port)
ADMIN_PORT=$(free_port "$APP_PORT")
CONTROL_SOCKET=$RUN/control.sock

cat >"$OUT/corefork.yaml" <<EOF
command: [$HELLO]
workers: 2
host: 127.0.0.1
port: $APP_PORT
admin: 127.0.0.1:$ADMIN_PORT
ready: {mode: notify, timeout: 10s}
compat: {listen: off, node_ipc: off}
restart: {initial_delay: 100ms, max_delay: 2s, max_failures: 0}
shutdown: {drain_delay: 0s, timeout: 10s}
jobs:
  spam:                      # prints a lot
    command: "yes | head -c 5M"
    shell: true
    on_demand: true
    timeout: 2s
    kill_grace: 1s
    concurrency: 2
    queue: 10
  forever:                   # prints without end until its timeout
    command: [yes]
    on_demand: true
    timeout: 1s
    kill_grace: 1s
    concurrency: 1
    queue: 2
  big:                       # 1 MiB to stdout and 1 MiB to stderr
    command: "yes 'soak stdout 0123456789abcdef0123456789abcdef' | head -c 1M; yes 'soak stderr 0123456789abcdef0123456789abcdef' | head -c 1M >&2"
    shell: true
    on_demand: true
    timeout: 10s
    concurrency: 2
    queue: 20
  sleepy:                    # for ?wait=true clients that hang up after 1 s
    command: [sleep, "3"]
    on_demand: true
    timeout: 10s
    concurrency: 8
    queue: 40
EOF

log "corefork $COREFORK, app $HELLO"
log "app 127.0.0.1:$APP_PORT, admin 127.0.0.1:$ADMIN_PORT, control $CONTROL_SOCKET"
log "results in $OUT, ${SOAK_SECONDS}s"

# corefork's stderr goes through a pipe that is always read, into a capped log.
mkfifo "$RUN/log.fifo"
"$PY" "$HERE/soak.py" logsink <"$RUN/log.fifo" & LOG_PID=$!
COREFORK_CONTROL_SOCKET=$CONTROL_SOCKET "$COREFORK" --config "$OUT/corefork.yaml" \
  2>"$RUN/log.fifo" >/dev/null </dev/null &
CF_PID=$!

deadline=$((SECONDS + START_TIMEOUT))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
  "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null)" = 200 ]; do
  kill -0 "$CF_PID" 2>/dev/null || die "corefork exited during start (see $OUT/corefork.log)"
  [ "$SECONDS" -lt "$deadline" ] || die "corefork not ready within ${START_TIMEOUT}s"
  sleep 0.1
done
until curl -sf --max-time 1 --unix-socket "$CONTROL_SOCKET" http://localhost/jobs >/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || die "control socket not answering within ${START_TIMEOUT}s"
  sleep 0.1
done
log "corefork pid $CF_PID ready"

export SOAK_START SOAK_END SOAK_ADMIN_PORT=$ADMIN_PORT SOAK_APP_PORT=$APP_PORT \
  SOAK_CONTROL_SOCKET=$CONTROL_SOCKET SOAK_COREFORK_PID=$CF_PID
SOAK_START=$(date +%s.%N)
SOAK_END=$(awk -v s="$SOAK_START" -v d="$SOAK_SECONDS" 'BEGIN { printf "%.3f", s + d }')

"$PY" "$HERE/soak.py" sample & BG_PIDS+=($!)
"$PY" "$HERE/soak.py" livez & BG_PIDS+=($!)
"$PY" "$HERE/soak.py" conns & BG_PIDS+=($!)
"$PY" "$HERE/soak.py" drive & BG_PIDS+=($!)
if [ "$SOAK_APP_PYTHON" = 0 ]; then
  # Light load: 4 connections, each waits 50 ms between requests (~70 req/s).
  printf 'function delay() return 50 end\n' >"$RUN/delay.lua"
  wrk -t1 -c4 -d"${SOAK_SECONDS%.*}s" --timeout 2s -s "$RUN/delay.lua" \
    "http://127.0.0.1:$APP_PORT/" >"$OUT/wrk.txt" 2>&1 & BG_PIDS+=($!)
fi

# Every role stops at SOAK_END; report each new sample meanwhile.
shown=""
while :; do
  alive=0
  for p in "${BG_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ "$alive" = 1 ] || break
  if [ "$(date +%s)" -gt $((${SOAK_END%.*} + 60)) ]; then
    log "roles still running 60 s after the end: stopping them"
    for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  fi
  sleep 1
  last=$(tail -n 1 "$OUT/samples.csv" 2>/dev/null || true)
  [ "$last" = "$shown" ] || log "t,rss_kb,fds,threads,children,load: $last"
  shown=$last
done
for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BG_PIDS=()

# Stop corefork: SIGTERM, bounded wait, note the exit status.
if kill -0 "$CF_PID" 2>/dev/null; then
  t0=$SECONDS
  kill -TERM "$CF_PID"
  code=timeout
  for _ in $(seq 300); do
    if ! kill -0 "$CF_PID" 2>/dev/null; then
      code=0; wait "$CF_PID" || code=$?; break
    fi
    sleep 0.1
  done
  printf '{"exit": %s, "seconds": %d}\n' \
    "$([ "$code" = timeout ] && echo '"timeout"' || echo "$code")" $((SECONDS - t0)) >"$OUT/stop.json"
else
  code=0; wait "$CF_PID" || code=$?
  printf '{"exit": "died before the end (status %s)"}\n' "$code" >"$OUT/stop.json"
fi
CF_PID=""
# The log sink ends at EOF, once corefork and its children are gone.
for _ in $(seq 100); do kill -0 "$LOG_PID" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$LOG_PID" 2>/dev/null || true
wait "$LOG_PID" 2>/dev/null || true
LOG_PID=""

rc=0
"$PY" "$HERE/soak.py" summary || rc=$?
log "results: $OUT (summary.md, samples.csv, livez.csv, corefork.log)"
exit "$rc"
