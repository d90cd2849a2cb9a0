#!/usr/bin/env bash
# Jobs benchmark: runs per second of a trivial job (/bin/true) started through
# corefork's control API (POST /jobs/noop/runs?wait=true on the unix socket),
# compared in the same run and at the same concurrency with
#   node-execfile  Node's child_process.execFile('/bin/true') in a loop
#   bare-spawn     a bare C posix_spawn + waitpid loop (the machine's limit)
# plus, as a check that the client is not the bottleneck,
#   control-list   the same client doing GET /jobs (no process started).
#
#   bench/jobs/run.sh                         # ROUNDS=5 DURATION=3 CONCURRENCIES="1 4"
#   ROUNDS=3 DURATION=2 bench/jobs/run.sh
#   NO_BUILD=1 COREFORK=/path/to/corefork bench/jobs/run.sh
#
# The corefork client is bench/jobs/jobclient.c (C, one thread per concurrent
# client, one request per connection as the control socket wants). Every
# round starts a fresh corefork per concurrency level with the job's
# `concurrency` equal to the number of clients, then runs the methods in a
# rotating order (interleaved), each with a warm-up. Medians over the rounds
# are reported; the report goes to stdout and bench/results/jobs-<date>.md.
# Only a unix socket in a temp dir is used; nothing touches the network.
set -euo pipefail
set +m

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}          # seconds per measurement
WARMUP=${WARMUP:-0.5}            # seconds, discarded, before each measurement
CONCURRENCIES=${CONCURRENCIES:-"1 4"}
PROGRAM=${PROGRAM:-/bin/true}
METHODS=${METHODS:-"corefork node-execfile bare-spawn control-list"}
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build-bench}
COREFORK=${COREFORK:-$BUILD_DIR/corefork}
RESULTS_DIR=${RESULTS_DIR:-$REPO_ROOT/bench/results}
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench-jobs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/corefork-bench-jobs.XXXXXX")
CF_PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$CF_PID" ]]; then
    kill -KILL -- "-$CF_PID" 2>/dev/null
    wait "$CF_PID" 2>/dev/null
  fi
  if [[ $rc -ne 0 ]]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

apt_install() {
  [[ $(id -u) -eq 0 ]] || die "$* missing and not root: apt-get install -y $*"
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ------------------------------------------------------------- build -------

command -v node >/dev/null || die "node (20+) is required for the node-execfile baseline"
command -v cc >/dev/null || apt_install gcc libc6-dev
if [[ -z "${NO_BUILD:-}" ]]; then
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    command -v cmake >/dev/null || apt_install cmake
    command -v ninja >/dev/null || apt_install ninja-build
    log "configuring corefork in $BUILD_DIR"
    cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja >"$TMP/cmake.log" 2>&1 ||
      { tail -20 "$TMP/cmake.log" >&2; die "cmake configure failed"; }
  fi
  log "building corefork (incremental) in $BUILD_DIR"
  cmake --build "$BUILD_DIR" --target corefork >"$TMP/build.log" 2>&1 ||
    { tail -20 "$TMP/build.log" >&2; die "corefork build failed"; }
fi
[[ -x "$COREFORK" ]] || die "no corefork binary at $COREFORK"
for tool in spawnloop jobclient; do
  cc -O2 -Wall -Wextra -pthread -o "$TMP/$tool" "$HERE/$tool.c" ||
    die "cannot compile $tool.c"
done

# ------------------------------------------------------------ corefork -----

unset COREFORK_CONFIG COREFORK_CONTROL_SOCKET COREFORK_ADMIN COREFORK_WORKERS \
  COREFORK_PORT COREFORK_HOST COREFORK_LOG_LEVEL LISTEN_FDS LISTEN_PID NODE_OPTIONS

free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# "SELF CHILDREN": utime + stime of PID, and cutime + cstime (the children it
# reaped), in clock ticks.
cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo "0 0"; return; }
  local -a f
  read -ra f <<<"${s##*) }"
  echo "$(( f[11] + f[12] )) $(( f[13] + f[14] ))"
}

busy_ticks() {  # non-idle ticks of the whole machine
  local -a f
  read -ra f </proc/stat
  echo $(( f[1] + f[2] + f[3] + f[6] + f[7] + f[8] ))
}

# Starts corefork with job `noop` (PROGRAM, concurrency $1); sets CF_PID, SOCK.
start_corefork() {
  local conc=$1 tag=$2
  SOCK=$TMP/control-$tag.sock
  local cfg=$TMP/corefork-$tag.yaml
  cat >"$cfg" <<EOF
command: [sleep, "1000000"]    # an idle worker: only the jobs are measured
workers: 1
host: 127.0.0.1
port: $(free_port)
admin: 127.0.0.1:0
shutdown: {drain_delay: 0s, timeout: 5s}
control: {socket: $SOCK}
jobs:
  noop:
    command: [$PROGRAM]
    on_demand: true
    concurrency: $conc
    queue: 1000
EOF
  "$COREFORK" check-config "$cfg" >/dev/null || die "corefork check-config $cfg failed"
  setsid "$COREFORK" --config "$cfg" >"$TMP/corefork-$tag.log" 2>&1 </dev/null &
  CF_PID=$!
  local deadline=$(( SECONDS + 15 ))
  until "$TMP/jobclient" "$SOCK" 1 0.01 list >/dev/null 2>&1; do
    kill -0 "$CF_PID" 2>/dev/null || { tail -20 "$TMP/corefork-$tag.log" >&2; die "corefork exited"; }
    (( SECONDS < deadline )) || die "corefork's control socket did not answer within 15s"
    sleep 0.05
  done
}

stop_corefork() {
  kill -TERM "$CF_PID" 2>/dev/null || true
  local deadline=$(( SECONDS + 10 ))
  while kill -0 "$CF_PID" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.05; done
  kill -KILL -- "-$CF_PID" 2>/dev/null || true
  wait "$CF_PID" 2>/dev/null || true
  CF_PID=""
}

# Runs one measurement of METHOD at concurrency C for SECS seconds; prints the
# tool's "ok=.. fail=.. seconds=.. rate=.. cpu=.." line.
measure() {
  local method=$1 conc=$2 secs=$3
  case "$method" in
    corefork) "$TMP/jobclient" "$SOCK" "$conc" "$secs" run noop ;;
    control-list) "$TMP/jobclient" "$SOCK" "$conc" "$secs" list ;;
    node-execfile) node "$HERE/execfile.js" "$PROGRAM" "$conc" "$secs" ;;
    bare-spawn) "$TMP/spawnloop" "$PROGRAM" "$conc" "$secs" ;;
    *) die "unknown method $method" ;;
  esac
}

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }  # "ok=1 cpu=2" -> value

# ---------------------------------------------------------------- runs -----

read -ra methods <<<"$METHODS"
n=${#methods[@]}
RAW=$TMP/runs.tsv
printf 'round\tconcurrency\tmethod\trate\tok\tfail\tclient_cpu_s\tcorefork_cpu_s\tmachine_busy\tchildren_cpu_s\n' >"$RAW"
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "program $PROGRAM, $ROUNDS round(s) x concurrency {$CONCURRENCIES} x {${methods[*]}}, ${DURATION}s each (warm-up ${WARMUP}s); load average $loadavg_start"

for (( round = 1; round <= ROUNDS; round++ )); do
  for conc in $CONCURRENCIES; do
    start_corefork "$conc" "$round-$conc"
    for (( i = 0; i < n; i++ )); do
      method=${methods[$(( (i + round - 1) % n ))]}
      measure "$method" "$conc" "$WARMUP" >/dev/null 2>&1 || true
      read -r cf0 kids0 <<<"$(cpu_ticks "$CF_PID")"; busy0=$(busy_ticks); t0=$(date +%s%N)
      out=$(measure "$method" "$conc" "$DURATION" 2>"$TMP/err") ||
        { cat "$TMP/err" >&2; die "$method failed: $out"; }
      t1=$(date +%s%N); busy1=$(busy_ticks); read -r cf1 kids1 <<<"$(cpu_ticks "$CF_PID")"
      # CPU of corefork itself while this method ran, and of the job
      # processes it reaped; machine busy = share of all CPUs' time that was
      # not idle (other work on the machine included).
      cf_cpu=$(awk -v t=$(( cf1 - cf0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
      if [[ "$method" == corefork || "$method" == control-list ]]; then
        children_cpu=$(awk -v t=$(( kids1 - kids0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
      else
        children_cpu=$(field children_cpu "$out")
        cf_cpu=0
      fi
      busy=$(awk -v b=$(( busy1 - busy0 )) -v hz="$CLK_TCK" -v ns=$(( t1 - t0 )) -v cpus="$(nproc)" \
        'BEGIN { printf "%.2f", (b / hz) / (ns / 1e9 * cpus) }')
      rate=$(field rate "$out")
      printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$conc" "$method" "$rate" \
        "$(field ok "$out")" "$(field fail "$out")" "$(field cpu "$out")" "$cf_cpu" "$busy" \
        "${children_cpu:-0}" >>"$RAW"
      log "round $round/$ROUNDS c=$conc $method: $rate runs/s (corefork cpu ${cf_cpu}s, machine busy $busy)"
    done
    stop_corefork
  done
done

# --------------------------------------------------------------- report ----

mkdir -p "$RESULTS_DIR"
stamp=$(date +%Y-%m-%d-%H%M)
report=$RESULTS_DIR/jobs-$stamp.md
{
  echo "# jobs benchmark ($started)"
  echo
  echo "Runs per second of \`$PROGRAM\`, median of $ROUNDS interleaved rounds of ${DURATION}s"
  echo "(warm-up ${WARMUP}s each). $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)),"
  echo "kernel $(uname -r), node $(node --version), $("$COREFORK" --version 2>&1 | head -1),"
  echo "load average at start $loadavg_start, at end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "- **corefork**: POST /jobs/noop/runs?wait=true on the control socket (C client"
  echo "  bench/jobs/jobclient.c, one connection per request), job concurrency = clients"
  echo "- **node-execfile**: child_process.execFile in that many concurrent loops"
  echo "- **bare-spawn**: posix_spawn + waitpid in that many threads (C)"
  echo "- **control-list**: the same client doing GET /jobs (no process started): the"
  echo "  ceiling of the client + control socket path"
  echo
  echo "CPU columns are per successful run: corefork's own CPU, the client's (jobclient,"
  echo "node or spawnloop itself), the job processes' (reaped children), and their sum."
  echo "On a saturated machine the runs/s ratio tends to the inverse ratio of total CPU"
  echo "per run; below saturation it is set by latency (wake-ups along the path)."
  echo
  awk -F'\t' -v conc_order="$CONCURRENCIES" -v method_order="${methods[*]}" '
    BEGIN { nc = split(conc_order, C, " "); nm = split(method_order, M, " ") }
    NR == 1 { next }
    { key = $2 SUBSEP $3; n[key]++; v[key, n[key]] = $4; cf[key] += $8; cl[key] += $7; ok[key] += $5
      busy[key] += $9; kids[key] += $10; rr[$1, $2, $3] = $4; if ($1 > rounds) rounds = $1 }
    function median(key,   i, j, t, a, m) {
      m = n[key]; for (i = 1; i <= m; i++) a[i] = v[key, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function minmax(key,   i, lo, hi) {
      lo = hi = v[key, 1]
      for (i = 2; i <= n[key]; i++) { if (v[key, i] + 0 < lo + 0) lo = v[key, i]; if (v[key, i] + 0 > hi + 0) hi = v[key, i] }
      return sprintf("%.0f-%.0f", lo, hi)
    }
    END {
      print "| concurrency | method | runs/s (median) | range | corefork CPU ms/run | client CPU ms/run | job processes CPU ms/run | total CPU ms/run | machine busy |"
      print "|---:|---|---:|---|---:|---:|---:|---:|---:|"
      for (ci = 1; ci <= nc; ci++) for (mi = 1; mi <= nm; mi++) {
        c = C[ci]; m = M[mi]; key = c SUBSEP m; if (!n[key]) continue
        med[key] = median(key)
        printf "| %s | %s | %.0f | %s | %s | %.3f | %s | %.3f | %.0f%% |\n", c, m, med[key], minmax(key),
          (m == "corefork" || m == "control-list") && ok[key] ? sprintf("%.3f", cf[key] * 1000 / ok[key]) : "-",
          ok[key] ? cl[key] * 1000 / ok[key] : 0,
          m != "control-list" && ok[key] ? sprintf("%.3f", kids[key] * 1000 / ok[key]) : "-",
          ok[key] ? (cf[key] + cl[key] + kids[key]) * 1000 / ok[key] : 0,
          (busy[key] / n[key] > 1 ? 1 : busy[key] / n[key]) * 100
      }
      print ""
      print "| concurrency | corefork / node-execfile (target >= 1.5) | corefork / bare-spawn (target >= 0.60) | control-list / corefork (client headroom) |"
      print "|---:|---:|---:|---:|"
      for (ci = 1; ci <= nc; ci++) {
        c = C[ci]
        cf_ = med[c SUBSEP "corefork"]; nd = med[c SUBSEP "node-execfile"]; bs = med[c SUBSEP "bare-spawn"]; ls = med[c SUBSEP "control-list"]
        printf "| %s | %s | %s | %s |\n", c, nd ? sprintf("%.2fx", cf_ / nd) : "-", bs ? sprintf("%.0f%%", cf_ / bs * 100) : "-",
          cf_ && ls ? sprintf("%.1fx", ls / cf_) : "-"
      }
      print ""
      print "Per round (same corefork instance, methods back to back):"
      print ""
      print "| round | concurrency | corefork / node-execfile | corefork / bare-spawn |"
      print "|---:|---:|---:|---:|"
      for (r = 1; r <= rounds; r++) for (ci = 1; ci <= nc; ci++) {
        c = C[ci]; cf_ = rr[r, c, "corefork"]; nd = rr[r, c, "node-execfile"]; bs = rr[r, c, "bare-spawn"]
        if (cf_ == "") continue
        printf "| %d | %s | %s | %s |\n", r, c, nd ? sprintf("%.2fx", cf_ / nd) : "-", bs ? sprintf("%.0f%%", cf_ / bs * 100) : "-"
      }
    }' "$RAW"
} >"$report"
cp "$RAW" "${report%.md}.tsv"
cat "$report"
log "report written to ${report#"$REPO_ROOT"/} (raw: ${report%.md}.tsv)"
