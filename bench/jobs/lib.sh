# shellcheck shell=bash
# Shared parts of bench/jobs/run.sh and bench/jobs/pool.sh. Sourced, not run.
#
# The caller sets HERE (this folder), REPO_ROOT, BUILD_DIR, COREFORK and
# LOG_TAG (the log prefix, e.g. bench-jobs), then calls bench_setup NAME, which
# makes the temp dir TMP (kept on failure) and the cleanup trap that kills a
# corefork left in CF_PID. After that: build_corefork, build_client (into
# $TMP/jobclient), launch_corefork / stop_corefork, the /proc readers, and
# run_rounds (which calls the caller's start_corefork and measure_one),
# report_path, publish_report.

CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%s %s] %s\n' "$LOG_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

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

# Makes TMP (corefork-NAME.XXXXXX) and installs the traps; clears corefork's
# environment so only the generated configs count.
bench_setup() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/corefork-$1.XXXXXX")
  CF_PID=""
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  unset COREFORK_CONFIG COREFORK_CONTROL_SOCKET COREFORK_ADMIN COREFORK_WORKERS \
    COREFORK_PORT COREFORK_HOST COREFORK_LOG_LEVEL LISTEN_FDS LISTEN_PID NODE_OPTIONS
}

apt_install() {
  [[ $(id -u) -eq 0 ]] || die "$* missing and not root: apt-get install -y $*"
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Configures (once) and builds corefork in BUILD_DIR unless NO_BUILD is set;
# dies without an executable COREFORK.
build_corefork() {
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
}

# Compiles bench/jobs/NAME.c for each NAME into $TMP/NAME.
build_client() {
  local tool
  for tool in "$@"; do
    cc -O2 -Wall -Wextra -pthread -o "$TMP/$tool" "$HERE/$tool.c" ||
      die "cannot compile $tool.c"
  done
}

free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# The top of a corefork config up to "jobs:": an idle worker, the control
# socket SOCK, and the extra top-level LINE given, if any.
config_head() {
  cat <<EOF
command: [sleep, "1000000"]    # an idle worker: only the jobs are measured
workers: 1
host: 127.0.0.1
port: $(free_port)
admin: 127.0.0.1:0
${1:+$1
}shutdown: {drain_delay: 0s, timeout: 5s}
control: {socket: $SOCK}
jobs:
EOF
}

# Checks config CFG, starts corefork on it in its own session (log
# $TMP/corefork-TAG.log) and waits up to 15s for its control socket SOCK to
# answer GET /jobs; sets CF_PID.
launch_corefork() {
  local cfg=$1 tag=$2
  "$COREFORK" check-config "$cfg" >"$TMP/check.log" 2>&1 ||
    { cat "$TMP/check.log" >&2; die "corefork check-config $cfg failed${3:-}"; }
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

# "SELF CHILDREN": clock ticks of PID itself (utime + stime) and of the
# children it reaped (cutime + cstime).
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

# Share of all CPUs' time not idle between busy_ticks B0 / B1 taken at
# nanosecond times T0 / T1 (other work on the machine included).
busy_share() {
  awk -v b=$(( $2 - $1 )) -v hz="$CLK_TCK" -v ns=$(( $4 - $3 )) -v cpus="$(nproc)" \
    'BEGIN { printf "%.2f", (b / hz) / (ns / 1e9 * cpus) }'
}

ticks_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }'; }

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }  # "ok=1 cpu=2" -> value

# Starts RAW ($TMP/runs.tsv) with a header row of the column names given
# (tab-separated); sets loadavg_start and started (UTC).
# shellcheck disable=SC2034  # loadavg_start, started: read by the caller's report
begin_runs() {
  RAW=$TMP/runs.tsv
  (IFS=$'\t'; echo "$*") >"$RAW"
  loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
}

# For ROUNDS rounds and each of CONCURRENCIES: start_corefork CONC TAG, then
# measure_one ROUND CONC NAME for each of the NAMES (one string), starting one
# later each round (interleaved), then stop_corefork.
run_rounds() {
  local -a names
  read -ra names <<<"$1"
  local n=${#names[@]} round conc i
  for (( round = 1; round <= ROUNDS; round++ )); do
    for conc in $CONCURRENCIES; do
      start_corefork "$conc" "$round-$conc"
      for (( i = 0; i < n; i++ )); do
        measure_one "$round" "$conc" "${names[$(( (i + round - 1) % n ))]}"
      done
      stop_corefork
    done
  done
}

# Makes RESULTS_DIR; prints the path of a new report NAME-<date>.md in it.
report_path() {
  mkdir -p "$RESULTS_DIR"
  echo "$RESULTS_DIR/$1-$(date +%Y-%m-%d-%H%M).md"
}

# Keeps RAW next to REPORT (as .tsv) and prints REPORT.
publish_report() {
  cp "$RAW" "${1%.md}.tsv"
  cat "$1"
  log "report written to ${1#"$REPO_ROOT"/} (raw: ${1%.md}.tsv)"
}
