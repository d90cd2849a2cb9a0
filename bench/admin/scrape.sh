#!/usr/bin/env bash
# How long one GET /metrics takes on corefork's admin port, with 2 and with 16
# workers (examples/hello). The per-worker families are read from /proc at
# scrape time, so the scrape cost grows with the worker count; this measures by
# how much.
#
#   bench/admin/scrape.sh                    # WORKERS_LIST="2 16" SCRAPES=200
#   BUILD_DIR=build-orch SCRAPES=1000 bench/admin/scrape.sh
#
# For each worker count: start corefork (ready.mode notify, hello says
# READY=1), wait until /readyz says 200 with every worker ready, warm up with
# 20 scrapes, then time SCRAPES scrapes twice with curl's %{time_total}:
#   keep-alive              one curl process, every scrape on the same
#                           connection (as Prometheus does); time to the last byte
#   keep-alive, first byte  the same scrapes, time to the first byte
#   fresh connection        one curl process (and connection) per scrape;
#                           connect included
# and report mean, p50, p99 and max in milliseconds, the scrape size, and
# corefork's own CPU time per scrape (utime+stime from /proc over the
# keep-alive series). Only 127.0.0.1 is contacted. Needs curl and awk.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build}
COREFORK=${COREFORK:-$BUILD_DIR/corefork}
HELLO=${HELLO:-$BUILD_DIR/examples/hello}
WORKERS_LIST=${WORKERS_LIST:-"2 16"}
SCRAPES=${SCRAPES:-200}
WARMUP=${WARMUP:-20}
START_TIMEOUT=${START_TIMEOUT:-30}   # seconds until every worker is ready

log() { printf '[scrape %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -x "$COREFORK" ] || die "no corefork at $COREFORK (build first, or set BUILD_DIR/COREFORK)"
[ -x "$HELLO" ] || die "no examples/hello at $HELLO"
command -v curl >/dev/null || die "curl is required (apt-get install curl)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/corefork-scrape-XXXXXX")
CF_PID=""
cleanup() {
  if [ -n "$CF_PID" ] && kill -0 "$CF_PID" 2>/dev/null; then
    kill -TERM "$CF_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$CF_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CF_PID" 2>/dev/null || true
    wait "$CF_PID" 2>/dev/null || true
  fi
  CF_PID=""
}
trap 'cleanup; rm -rf "$TMP"' EXIT

# A TCP port on 127.0.0.1 that no socket uses right now, below the kernel's
# ephemeral range (so no outgoing connection takes it meanwhile).
free_port() {
  local p low
  low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if command -v ss >/dev/null; then
      [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
    elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      continue
    fi
    echo "$p"
    return
  done
  die "no free port found"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# mean p50 p99 max (ms) of the seconds on stdin, one per line.
stats() {
  sort -n | awk '{ v[NR] = $1 * 1000; s += v[NR] }
    END {
      if (NR == 0) { print "no samples"; exit 1 }
      p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
      printf "n=%d mean=%.3f p50=%.3f p99=%.3f max=%.3f\n", NR, s / NR, p50, p99, v[NR]
    }'
}

printf 'ready: {mode: notify, timeout: 30s}\nshutdown: {drain_delay: 0s, timeout: 10s}\n' \
  >"$TMP/corefork.yaml"
CLK_TCK=$(getconf CLK_TCK)
log "corefork $("$COREFORK" --version 2>/dev/null || echo '?') on $(nproc) CPU(s), $SCRAPES scrapes per series"
printf '\n| workers | series | scrapes | mean ms | p50 ms | p99 ms | max ms | scrape bytes | corefork CPU ms/scrape |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'

for workers in $WORKERS_LIST; do
  app_port=$(free_port)
  admin_port=$(free_port)
  [ "$app_port" != "$admin_port" ] || admin_port=$(free_port)
  url="http://127.0.0.1:$admin_port/metrics"
  COREFORK_CONTROL_SOCKET="$TMP/control-$workers.sock" \
    "$COREFORK" --config "$TMP/corefork.yaml" --workers "$workers" \
    --host 127.0.0.1 --port "$app_port" --admin "127.0.0.1:$admin_port" \
    --log-level warn -- "$HELLO" >"$TMP/corefork-$workers.log" 2>&1 &
  CF_PID=$!

  deadline=$((SECONDS + START_TIMEOUT))
  until curl -fsS "http://127.0.0.1:$admin_port/readyz" 2>/dev/null |
      grep -q "\"ready_workers\":$workers[,}]"; do
    kill -0 "$CF_PID" 2>/dev/null || { cat "$TMP/corefork-$workers.log" >&2; die "corefork exited"; }
    [ "$SECONDS" -lt "$deadline" ] || die "$workers workers not ready within ${START_TIMEOUT}s"
    sleep 0.1
  done

  args=()
  for _ in $(seq "$WARMUP"); do args+=(-o /dev/null "$url"); done
  curl -fsS "${args[@]}"

  # keep-alive: one curl, one connection, SCRAPES transfers.
  args=()
  for _ in $(seq "$SCRAPES"); do args+=(-o /dev/null "$url"); done
  before=$(cpu_ticks "$CF_PID")
  curl -fsS -w '%{time_total} %{size_download} %{time_starttransfer}\n' "${args[@]}" \
    >"$TMP/keepalive-$workers.txt"
  after=$(cpu_ticks "$CF_PID")
  bytes=$(awk 'NR == 1 { print $2 }' "$TMP/keepalive-$workers.txt")
  cpu_ms=$(awk -v t="$((after - before))" -v hz="$CLK_TCK" -v n="$SCRAPES" \
    'BEGIN { printf "%.3f", t * 1000 / hz / n }')
  read -r n mean p50 p99 max < <(awk '{ print $1 }' "$TMP/keepalive-$workers.txt" | stats |
    sed 's/[a-z0-9]*=//g')
  printf '| %s | keep-alive | %s | %s | %s | %s | %s | %s | %s |\n' \
    "$workers" "$n" "$mean" "$p50" "$p99" "$max" "$bytes" "$cpu_ms"
  read -r n mean p50 p99 max < <(awk '{ print $3 }' "$TMP/keepalive-$workers.txt" | stats |
    sed 's/[a-z0-9]*=//g')
  printf '| %s | keep-alive, first byte | %s | %s | %s | %s | %s | %s | - |\n' \
    "$workers" "$n" "$mean" "$p50" "$p99" "$max" "$bytes"

  # fresh: a new connection (and curl process) per scrape; connect included.
  : >"$TMP/fresh-$workers.txt"
  for _ in $(seq "$SCRAPES"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "$url" >>"$TMP/fresh-$workers.txt"
  done
  read -r n mean p50 p99 max < <(stats <"$TMP/fresh-$workers.txt" | sed 's/[a-z0-9]*=//g')
  printf '| %s | fresh connection | %s | %s | %s | %s | %s | %s | - |\n' \
    "$workers" "$n" "$mean" "$p50" "$p99" "$max" "$bytes"

  cleanup
done
