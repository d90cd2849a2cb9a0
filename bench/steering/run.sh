#!/usr/bin/env bash
# Steering benchmark (issue 11): corefork with `steering.mode: auto` (its
# reuseport BPF program) against `off` (the kernel's hash), 2 workers of
# examples/hello, loaded by wrk on 127.0.0.1.
#
#   1. cost: RUNS interleaved rounds (the order alternating) of wrk -t1 -c64
#      -dDURATION -H "Connection: close" per mode (a new connection per
#      request: the program runs once per SYN, so this is where it costs);
#      req/s and p99 per round, the auto/off ratio per round, median and range.
#   2. churn: one round per mode of wrk -c32 with "Connection: close" (every
#      request a new connection) for CHURN seconds while a worker is killed
#      with SIGKILL every second; errors and p99 against the same mode's
#      undisturbed p99 from part 1.
#
#   bench/steering/run.sh [COREFORK_BINARY]     # default: build/corefork
#   RUNS=8 DURATION=5s CHURN=20 bench/steering/run.sh
set -euo pipefail
: "${RUNS:=8}" "${DURATION:=5s}" "${CHURN:=20}"
root=$(cd "$(dirname "$0")/../.." && pwd)
corefork=${1:-$root/build/corefork}
hello=$(dirname "$corefork")/examples/hello
[[ -x $corefork && -x $hello ]] || { echo "build corefork and hello first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt install wrk)" >&2; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
log() { printf '[steering %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

port=18600 admin=18700
start() {  # MODE
  port=$((port + 1)) admin=$((admin + 1))
  # Default restart policy: kills from outside never make corefork give up.
  printf 'steering: {mode: %s}\nshutdown: {drain_delay: 0s}\nready: {mode: notify}\n' \
    "$1" >"$work/c.yaml"
  COREFORK_CONTROL_SOCKET=$work/control.sock "$corefork" --config "$work/c.yaml" \
    --workers 2 --port "$port" --admin "127.0.0.1:$admin" -- "$hello" \
    >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "corefork did not get ready" >&2; cat "$work/log" >&2; exit 1
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }
# "req/s p99_ms errors" from wrk --latency output.
parse() {
  awk '/Requests\/sec/ {rps=$2}
       /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
       /Socket errors/ {gsub(/,/,""); e+=$4+$6+$8+$10}
       /Non-2xx/ {e+=$NF}
       END {printf "%.0f %.3f %d\n", rps, p99, e}' "$1"
}
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f (range %.3f-%.3f)", m, a[1], a[NR]}'; }

log "cost: $RUNS interleaved rounds x {auto, off}, wrk -t1 -c64 -d$DURATION, Connection: close"
: >"$work/ratios"; : >"$work/auto.rps"; : >"$work/off.rps"; : >"$work/auto.p99"; : >"$work/off.p99"
for round in $(seq "$RUNS"); do
  declare -A rps=()
  order="auto off"
  (( round % 2 == 0 )) && order="off auto"  # alternate: no order bias
  for mode in $order; do
    start "$mode"
    wrk -t1 -c64 -d1s -H 'Connection: close' "http://127.0.0.1:$port/" >/dev/null  # warm-up
    wrk -t1 -c64 -d"$DURATION" -H 'Connection: close' --latency \
      "http://127.0.0.1:$port/" >"$work/wrk"
    read -r r p e < <(parse "$work/wrk")
    stop
    rps[$mode]=$r
    echo "$r" >>"$work/$mode.rps"; echo "$p" >>"$work/$mode.p99"
    log "round $round $mode: $r req/s, p99 $p ms, errors $e"
  done
  awk -v a="${rps[auto]}" -v o="${rps[off]}" 'BEGIN {printf "%.4f\n", a/o}' >>"$work/ratios"
done
echo "cost (req/s auto / off, per round): median $(median <"$work/ratios")"
echo "  auto req/s: $(median <"$work/auto.rps")   p99 ms: $(median <"$work/auto.p99")"
echo "  off  req/s: $(median <"$work/off.rps")   p99 ms: $(median <"$work/off.p99")"

log "churn: SIGKILL a worker every second for ${CHURN}s, new connection per request"
for mode in auto off; do
  start "$mode"
  wrk -t1 -c32 -d2s -H 'Connection: close' --latency "http://127.0.0.1:$port/" >"$work/calm"
  wrk -t1 -c32 -d"${CHURN}s" -H 'Connection: close' --latency \
    "http://127.0.0.1:$port/" >"$work/churn" &
  wrk_pid=$!
  kills=0
  for _ in $(seq "$CHURN"); do
    sleep 1
    victim=$(pgrep -P "$pid" | shuf -n1 || true)  # a live worker
    [[ -n $victim ]] && kill -9 "$victim" 2>/dev/null && kills=$((kills + 1))
  done
  wait "$wrk_pid"
  stop
  read -r _ calm_p99 _ < <(parse "$work/calm")
  read -r r p e < <(parse "$work/churn")
  echo "churn $mode: $kills kills, $r req/s, errors $e, p99 $p ms (undisturbed $calm_p99 ms)"
done
