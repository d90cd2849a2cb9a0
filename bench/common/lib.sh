# shellcheck shell=bash
# Shared driver of bench/http/run.sh and bench/fib/run.sh. Sourced, not run.
#
# The caller sets BENCH_NAME (used in file names), ROUTE (path to load) and the
# defaults it wants for RUNS, DURATION, CONNECTIONS, THREADS, then calls
# bench_main. Everything else lives here:
#
#   - dependencies: wrk (apt-get if missing), curl (apt-get if missing), node
#     (required), pm2 (npm install into a temp folder, PM2_HOME in a temp dir),
#     corefork (cmake configure + build into $BUILD_DIR);
#   - five configurations, each with 2 workers serving examples/node/server.js:
#       corefork-reuseport  corefork --workers 2 (one SO_REUSEPORT socket per worker)
#       corefork-shared     corefork, config file with listeners[].mode: shared
#       node-cluster        bench/http/cluster.js (cluster module, default round-robin)
#       pm2-cluster         pm2 start server.js -i 2
#       node-single         node server.js (one process, no launcher)
#     and, only when named in CONFIGS, the experiment
#       corefork-shared-single-accept  corefork-shared + UV_TCP_SINGLE_ACCEPT=1 for the workers
#   - interleaving: round r runs every configuration once, starting at a
#     different configuration each round; every run starts its configuration
#     from scratch on a fresh port and stops it completely afterwards;
#   - per run: wait for the port (polling, deadline), warm up, measure with wrk
#     + bench/common/workers.lua (responses per X-Worker-Pid), snapshot which
#     worker holds each connection (ss), read the launcher's and workers' VmRSS
#     and CPU time from /proc (plus wrk's and the whole machine's CPU, to show
#     interference), stop, record one JSON line;
#   - NICE=-10 (root) raises the benchmark above other work on a shared machine
#     (process nice and, with CONFIG_SCHED_AUTOGROUP, the sessions' autogroups);
#   - bench/common/report.js turns the JSON lines into the markdown report
#     (stdout + bench/results/<name>-<date>.md).
#
# Only 127.0.0.1 is ever contacted.

set -euo pipefail
set +m   # no job control: background children stay out of their own groups, so setsid execs in place

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$BENCH_ROOT/.." && pwd)
APP_DIR=$REPO_ROOT/examples/node

CLK_TCK=$(getconf CLK_TCK)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-1s}
WORKERS=2
CONFIGS=${CONFIGS:-"corefork-reuseport corefork-shared node-cluster pm2-cluster node-single"}
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build-bench}
COREFORK=${COREFORK:-$BUILD_DIR/corefork}
PM2_VERSION=${PM2_VERSION:-latest}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/results}
START_TIMEOUT=${START_TIMEOUT:-30}   # seconds for a configuration to answer
STOP_TIMEOUT=${STOP_TIMEOUT:-15}     # seconds for it to exit after SIGTERM
NICE=${NICE:-0}                      # e.g. -10 (root): run everything above other work on the machine

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup ---

BENCH_TMP=""
declare -a GROUPS_STARTED=()   # process group ids (setsid) started by this script
PM2=""
WRK_PID=""

cleanup() {
  local rc=$?
  set +e
  local pgid
  [[ -n "$WRK_PID" ]] && kill -TERM "$WRK_PID" 2>/dev/null
  for pgid in "${GROUPS_STARTED[@]}"; do
    kill -TERM -- "-$pgid" 2>/dev/null
  done
  if [[ -n "$PM2" && -n "${PM2_HOME:-}" && -d "$PM2_HOME" ]]; then
    local daemon
    daemon=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null)
    timeout 20 "$PM2" kill >/dev/null 2>&1
    [[ -n "$daemon" ]] && kill -KILL "$daemon" 2>/dev/null
  fi
  for pgid in "${GROUPS_STARTED[@]}"; do
    kill -KILL -- "-$pgid" 2>/dev/null
  done
  if [[ -n "$BENCH_TMP" && -d "$BENCH_TMP" ]]; then
    if [[ $rc -ne 0 ]]; then
      log "logs kept in $BENCH_TMP/logs"
      rm -rf "$BENCH_TMP/pm2" "$BENCH_TMP/pm2-home"
    else
      rm -rf "$BENCH_TMP"
    fi
  fi
  exit $rc
}

# ----------------------------------------------------------------- /proc ---

# Fields of /proc/PID/stat after "(comm)"; comm may hold spaces ("PM2 v6: God Daemon").
stat_fields() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  printf '%s\n' "${s##*) }"
}

# utime + stime of PID in clock ticks.
cpu_ticks() {
  local -a f
  read -ra f <<<"$(stat_fields "$1")" || { echo 0; return; }
  echo $(( ${f[11]:-0} + ${f[12]:-0} ))
}

# VmRSS of PID in KiB (0 if gone).
rss_kb() {
  awk '/^VmRSS:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

# Direct children of PID, one per line.
children_of() {
  local parent=$1 d
  local -a f
  for d in /proc/[0-9]*; do
    read -ra f <<<"$(stat_fields "${d#/proc/}" 2>/dev/null)" || continue
    [[ "${f[1]:-}" == "$parent" ]] && echo "${d#/proc/}"
  done
  return 0
}

# Non-idle ticks of all CPUs together, and the irq + softirq part of them (the
# kernel's loopback TCP work lands mostly there, attributed to no process).
# /proc/stat: cpu user nice system idle iowait irq softirq steal ...
machine_ticks() {
  local -a f
  read -ra f </proc/stat
  MACHINE_BUSY=$(( f[1] + f[2] + f[3] + f[6] + f[7] + f[8] ))
  MACHINE_IRQ=$(( f[6] + f[7] ))
}

# User + system CPU of this shell's reaped children, in clock ticks (`times`,
# line 2), stored in CHILD_TICKS. `times` must run in this shell, not in a
# $(...) subshell (whose children are not ours), hence the file.
children_ticks() {
  local m s total=0 t
  local -a lines
  times >"$BENCH_TMP/times"
  mapfile -t lines <"$BENCH_TMP/times"
  for t in ${lines[1]}; do                 # e.g. 1m2.345s
    m=${t%%m*}; s=${t#*m}; s=${s%s}
    total=$(( total + m * 6000 + 10#${s%.*} * 100 + 10#${s#*.} / 10 ))
  done
  CHILD_TICKS=$(( total * CLK_TCK / 100 ))
}

# True while PID exists and is not a zombie.
alive() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 1
  local -a f
  read -ra f <<<"$(stat_fields "$1")"
  [[ "${f[0]:-Z}" != Z ]]
}

# ----------------------------------------------------------- dependencies ---

apt_install() {
  [[ $(id -u) -eq 0 ]] || die "$* missing and not root: apt-get install -y $*"
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_tools() {
  command -v node >/dev/null || die "node (20+) is required"
  command -v wrk >/dev/null || apt_install wrk
  command -v curl >/dev/null || apt_install curl
}

# Configures $BUILD_DIR if needed and builds the corefork target (incremental,
# so a no-op when up to date). NO_BUILD=1 uses $COREFORK as it is.
COREFORK_BUILD_NOTE="prebuilt (NO_BUILD=1)"
ensure_corefork() {
  if [[ ! -x "$COREFORK" || -z "${NO_BUILD:-}" ]]; then
    if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
      command -v cmake >/dev/null || apt_install cmake
      command -v ninja >/dev/null || apt_install ninja-build
      log "configuring corefork in $BUILD_DIR"
      cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -G Ninja >"$BENCH_TMP/logs/cmake.log" 2>&1 ||
        die "cmake configure failed, see $BENCH_TMP/logs/cmake.log"
    fi
    log "building corefork (incremental) in $BUILD_DIR"
    if cmake --build "$BUILD_DIR" --target corefork >"$BENCH_TMP/logs/build.log" 2>&1; then
      COREFORK_BUILD_NOTE="built from the working tree"
    elif [[ -x "$COREFORK" ]]; then
      COREFORK_BUILD_NOTE="STALE: rebuild failed, existing binary used"
      log "warning: corefork rebuild failed (see $BENCH_TMP/logs/build.log); using the existing $COREFORK"
      tail -5 "$BENCH_TMP/logs/build.log" >&2
    else
      tail -20 "$BENCH_TMP/logs/build.log" >&2
      die "corefork build failed"
    fi
  fi
  [[ -x "$COREFORK" ]] || die "no corefork binary at $COREFORK"
}

ensure_pm2() {
  [[ " $CONFIGS " == *" pm2-cluster "* ]] || return 0
  export PM2_HOME=$BENCH_TMP/pm2-home
  mkdir -p "$PM2_HOME"
  if [[ -n "${PM2_BIN:-}" ]]; then
    PM2=$PM2_BIN
  else
    log "installing pm2@$PM2_VERSION with npm into $BENCH_TMP/pm2"
    mkdir -p "$BENCH_TMP/pm2"
    (cd "$BENCH_TMP/pm2" &&
      npm install --prefix "$BENCH_TMP/pm2" --no-audit --no-fund --loglevel=error \
        "pm2@$PM2_VERSION" >"$BENCH_TMP/logs/npm.log" 2>&1) ||
      { tail -20 "$BENCH_TMP/logs/npm.log" >&2; die "npm install pm2 failed"; }
    PM2=$BENCH_TMP/pm2/node_modules/.bin/pm2
  fi
  [[ -x "$PM2" ]] || die "no pm2 at $PM2"
}

# ----------------------------------------------------------------- ports ----

free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# "<code> <x-worker-pid>" of one GET on a new connection, or "000 -".
probe() {
  local out
  out=$(curl -s -o /dev/null --max-time 2 -D - "http://127.0.0.1:$1/" 2>/dev/null | tr -d '\r') || true
  local code pid
  code=$(awk 'NR==1 {print $2}' <<<"$out")
  pid=$(awk -F': ' 'tolower($1)=="x-worker-pid" {print $2}' <<<"$out")
  echo "${code:-000} ${pid:--}"
}

# Waits until PORT answers 200, while process WATCH_PID stays alive. Then
# polls a little longer (bounded) until WANT distinct worker pids have
# answered, so no worker is still starting when the warm-up begins.
wait_ready() {
  local port=$1 watch=$2 want=$3 logf=$4
  local deadline=$(( SECONDS + START_TIMEOUT )) code pid
  while :; do
    if [[ -n "$watch" ]] && ! alive "$watch"; then
      tail -20 "$logf" >&2
      die "$CONFIG exited before answering on port $port"
    fi
    read -r code pid <<<"$(probe "$port")"
    [[ "$code" == 200 ]] && break
    (( SECONDS < deadline )) || { tail -20 "$logf" >&2; die "$CONFIG did not answer on port $port within ${START_TIMEOUT}s"; }
    sleep 0.05
  done
  local -A seen=(["$pid"]=1)
  local until=$(( SECONDS + 5 ))
  while (( ${#seen[@]} < want && SECONDS < until )); do
    read -r code pid <<<"$(probe "$port")"
    [[ "$code" == 200 ]] && seen["$pid"]=1
    sleep 0.02
  done
  READY_PIDS_SEEN=${#seen[@]}
}

# Waits (bounded) until nothing accepts on PORT any more.
wait_port_closed() {
  local port=$1 deadline=$(( SECONDS + STOP_TIMEOUT ))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    (( SECONDS < deadline )) || { log "warning: port $port still open after stop"; return 0; }
    sleep 0.05
  done
}

# Waits (bounded) for PID to exit; SIGKILLs its group after the deadline.
wait_gone() {
  local pid=$1 pgid=${2:-} deadline=$(( SECONDS + STOP_TIMEOUT ))
  while alive "$pid"; do
    if (( SECONDS >= deadline )); then
      log "warning: pid $pid still alive ${STOP_TIMEOUT}s after SIGTERM, SIGKILL"
      if [[ -n "$pgid" ]]; then kill -KILL -- "-$pgid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
      deadline=$(( SECONDS + 5 ))
    fi
    sleep 0.05
  done
}

# ------------------------------------------------------- configurations ----

# Starts CMD... in a new session (process group = pid), in APP_DIR, output to
# LOGF; sets STARTED_PID.
start_group() {
  local logf=$1; shift
  (cd "$APP_DIR" && exec setsid "$@" >"$logf" 2>&1 </dev/null) &
  STARTED_PID=$!
  GROUPS_STARTED+=("$STARTED_PID")
}

# Drops PGID from the cleanup list once it is gone (its id may be reused later).
forget_group() {
  local -a keep=()
  local g
  for g in "${GROUPS_STARTED[@]}"; do [[ "$g" == "$1" ]] || keep+=("$g"); done
  GROUPS_STARTED=("${keep[@]}")
}

# With NICE set and CONFIG_SCHED_AUTOGROUP on, a process's nice value only
# ranks it inside its own session's autogroup; between sessions the scheduler
# shares the CPUs per autogroup. Every configuration runs in a session of its
# own (setsid here, PM2's detached daemon), so NICE is also written to the
# autogroup of the session of PID.
set_autogroup_nice() {
  [[ "$NICE" != 0 && -w "/proc/$1/autogroup" ]] || return 0
  echo "$NICE" >"/proc/$1/autogroup" 2>/dev/null || log "warning: cannot set the autogroup nice of pid $1"
}

# Sets LAUNCHER_PID (process whose RSS/CPU is "the launcher"; empty for
# node-single), APP_PGID (our process group, if any) and WORKER_PARENT (whose
# children are the workers).
start_config() {
  local port=$1 run=$2 logf=$3
  LAUNCHER_PID="" APP_PGID="" WORKER_PARENT=""
  case "$CONFIG" in
    corefork-reuseport)
      local -a admin=()
      [[ -n "$COREFORK_HAS_ADMIN" ]] && admin=(--admin "127.0.0.1:$(free_port)")
      COREFORK_CONTROL_SOCKET=$BENCH_TMP/control-$run.sock \
        start_group "$logf" "$COREFORK" --workers "$WORKERS" --port "$port" --host 127.0.0.1 \
        "${admin[@]}" --drain-delay 0 --shutdown-timeout 10s -- node server.js
      LAUNCHER_PID=$STARTED_PID APP_PGID=$STARTED_PID WORKER_PARENT=$STARTED_PID
      ;;
    corefork-shared|corefork-shared-single-accept)
      local cfg=$BENCH_TMP/shared-$run.yaml
      {
        echo "command: [node, server.js]"
        echo "workers: $WORKERS"
        [[ -n "$COREFORK_HAS_ADMIN" ]] && echo "admin: 127.0.0.1:$(free_port)"
        echo "listeners:"
        echo "  - {name: http, host: 127.0.0.1, port: $port, mode: shared}"
        echo "shutdown: {drain_delay: 0s, timeout: 10s}"
        # Experiment (not in the default CONFIGS): libuv then sleeps 1 ns after
        # every accept() instead of draining the whole queue, so the other
        # worker gets a chance at the shared socket.
        [[ "$CONFIG" == corefork-shared-single-accept ]] && echo "env: {UV_TCP_SINGLE_ACCEPT: '1'}"
      } >"$cfg"
      "$COREFORK" check-config "$cfg" >/dev/null || die "corefork check-config $cfg failed"
      COREFORK_CONTROL_SOCKET=$BENCH_TMP/control-$run.sock \
        start_group "$logf" "$COREFORK" --config "$cfg"
      LAUNCHER_PID=$STARTED_PID APP_PGID=$STARTED_PID WORKER_PARENT=$STARTED_PID
      ;;
    node-cluster)
      PORT=$port WORKERS=$WORKERS start_group "$logf" node "$BENCH_ROOT/http/cluster.js"
      LAUNCHER_PID=$STARTED_PID APP_PGID=$STARTED_PID WORKER_PARENT=$STARTED_PID
      ;;
    pm2-cluster)
      (cd "$APP_DIR" && PORT=$port "$PM2" start server.js -i "$WORKERS" --name "bench-$BENCH_NAME" \
        >"$logf" 2>&1 </dev/null) || { tail -20 "$logf" >&2; die "pm2 start failed"; }
      LAUNCHER_PID=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null || true)
      alive "$LAUNCHER_PID" || die "no PM2 daemon pid in $PM2_HOME/pm2.pid"
      WORKER_PARENT=$LAUNCHER_PID
      ;;
    node-single)
      PORT=$port start_group "$logf" node server.js
      APP_PGID=$STARTED_PID WORKER_PARENT=""
      SINGLE_PID=$STARTED_PID
      ;;
    *) die "unknown configuration $CONFIG" ;;
  esac
}

stop_config() {
  local port=$1
  case "$CONFIG" in
    pm2-cluster)
      "$PM2" kill >/dev/null 2>&1 || log "warning: pm2 kill failed"
      wait_gone "$LAUNCHER_PID"
      ;;
    *)
      kill -TERM "$APP_PGID" 2>/dev/null || true
      wait_gone "$APP_PGID" "$APP_PGID"
      # stragglers of the group (workers that outlived their launcher)
      kill -KILL -- "-$APP_PGID" 2>/dev/null || true
      ;;
  esac
  wait_port_closed "$port"
}

worker_pids() {
  if [[ "$CONFIG" == node-single ]]; then echo "$SINGLE_PID"; else children_of "$WORKER_PARENT"; fi
}

# Which process holds the server side of each of wrk's connections: polls
# `ss` (bounded, while wrk runs) until all CONNECTIONS are established, then
# prints "pid":count pairs. With keep-alive, this is where every configuration
# does its balancing: once per connection, not per request.
connections_per_worker() {
  local port=$1 wrk_pid=$2 deadline=$(( SECONDS + 3 )) lines settled
  while :; do
    # one line per established server-side socket: the pids holding it
    lines=$(ss -Htnp state established "( sport = :$port )" 2>/dev/null |
      awk '{ n = split($0, a, "pid="); s = ""; for (i = 2; i <= n; i++) { sub(/[^0-9].*/, "", a[i]); s = s (i > 2 ? " " : "") a[i] } print s }' || true)
    # settled: every connection held by exactly one process, not the launcher
    # (Node cluster / PM2 primaries hold a connection briefly while passing it on)
    settled=$(awk -v want="$CONNECTIONS" -v launcher="${LAUNCHER_PID:-x}" '
      NF == 1 && $1 != launcher { n++ } END { print (n >= want ? 1 : 0) }' <<<"$lines")
    [[ "$settled" == 1 ]] && break
    if (( SECONDS >= deadline )) || ! alive "$wrk_pid"; then break; fi
    sleep 0.05
  done
  awk 'NF >= 1 { c[$NF]++ } END { for (p in c) printf "%s\"%s\":%d", (k++ ? "," : ""), p, c[p] }' <<<"$lines"
}

# ------------------------------------------------------------------ a run ---

run_one() {
  local run=$1 round=$2
  local port logf out
  port=$(free_port)
  logf=$BENCH_TMP/logs/$CONFIG-$run.log
  out=$BENCH_TMP/logs/$CONFIG-$run.wrk
  log "round $round/$RUNS: $CONFIG on 127.0.0.1:$port"

  start_config "$port" "$run" "$logf"
  local want=$WORKERS
  [[ "$CONFIG" == node-single ]] && want=1
  wait_ready "$port" "${APP_PGID:-$LAUNCHER_PID}" "$want" "$logf"
  # Only now: the session (and its autogroup) surely exists.
  set_autogroup_nice "${APP_PGID:-$LAUNCHER_PID}"

  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$port$ROUTE" >/dev/null 2>&1 || true

  # CPU accounting over the measured window: the launcher, the workers, wrk
  # (this shell's reaped children, via `times`) and the whole machine, so the
  # report can show how much CPU went to processes outside the benchmark.
  local ticks0=0 ticks1=0 t0 t1 app0 app1 busy0 busy1 irq0 irq1 kids0 kids1 w
  local -a wpids
  mapfile -t wpids < <(worker_pids)
  [[ -n "$LAUNCHER_PID" ]] && ticks0=$(cpu_ticks "$LAUNCHER_PID")
  app0=$ticks0; for w in "${wpids[@]}"; do app0=$(( app0 + $(cpu_ticks "$w") )); done
  machine_ticks; busy0=$MACHINE_BUSY irq0=$MACHINE_IRQ; children_ticks; kids0=$CHILD_TICKS
  t0=$(date +%s%N)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$BENCH_ROOT/common/workers.lua" \
    "http://127.0.0.1:$port$ROUTE" >"$out" 2>&1 &
  local wrk_pid=$!
  WRK_PID=$wrk_pid
  local conns_json
  conns_json=$(connections_per_worker "$port" "$wrk_pid")
  wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed"; }
  WRK_PID=""
  t1=$(date +%s%N)
  machine_ticks; busy1=$MACHINE_BUSY irq1=$MACHINE_IRQ; children_ticks; kids1=$CHILD_TICKS
  [[ -n "$LAUNCHER_PID" ]] && ticks1=$(cpu_ticks "$LAUNCHER_PID")
  app1=$ticks1; for w in "${wpids[@]}"; do app1=$(( app1 + $(cpu_ticks "$w") )); done

  # Memory and worker list while everything is still up.
  local launcher_rss=0 workers_json="" w
  [[ -n "$LAUNCHER_PID" ]] && launcher_rss=$(rss_kb "$LAUNCHER_PID")
  for w in $(worker_pids); do
    workers_json+="${workers_json:+,}{\"pid\":\"$w\",\"rss_kb\":$(rss_kb "$w")}"
  done
  local wrk_json
  wrk_json=$(sed -n 's/^CFBENCH_JSON //p' "$out" | tail -1)
  [[ -n "$wrk_json" ]] || { cat "$out" >&2; die "no CFBENCH_JSON line in the wrk output"; }
  local loadavg
  loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

  stop_config "$port"
  forget_group "$APP_PGID"

  printf '{"config":"%s","round":%d,"port":%d,"launcher_pid":"%s","launcher_rss_kb":%d,"launcher_cpu_ticks":%d,"app_cpu_ticks":%d,"wrk_cpu_ticks":%d,"machine_busy_ticks":%d,"machine_irq_ticks":%d,"clk_tck":%d,"wall_ns":%d,"ready_pids_seen":%d,"connections":{%s},"workers":[%s],"loadavg":"%s","wrk":%s}\n' \
    "$CONFIG" "$round" "$port" "$LAUNCHER_PID" "$launcher_rss" $(( ticks1 - ticks0 )) $(( app1 - app0 )) $(( kids1 - kids0 )) $(( busy1 - busy0 )) $(( irq1 - irq0 )) "$CLK_TCK" \
    $(( t1 - t0 )) "$READY_PIDS_SEEN" "$conns_json" "$workers_json" "$loadavg" "$wrk_json" >>"$BENCH_TMP/runs.jsonl"
}

# ------------------------------------------------------------------- main ---

bench_main() {
  : "${BENCH_NAME:?}" "${ROUTE:?}"
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/corefork-bench-$BENCH_NAME.XXXXXX")
  mkdir -p "$BENCH_TMP/logs" "$RESULTS_DIR"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Nothing inherited may change how the peers listen or schedule.
  unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES NODE_CLUSTER_SCHED_POLICY COREFORK_CONFIG NODE_OPTIONS

  if [[ "$NICE" != 0 ]]; then
    renice -n "$NICE" -p $$ >/dev/null || die "renice -n $NICE failed (negative values need root)"
    set_autogroup_nice $$
    log "running at nice $NICE (inherited by every process the benchmark starts)"
  fi

  ensure_tools
  ensure_corefork
  ensure_pm2
  COREFORK_HAS_ADMIN=""
  "$COREFORK" --help 2>&1 | grep -q -- '--admin' && COREFORK_HAS_ADMIN=1

  local -a configs
  read -ra configs <<<"$CONFIGS"
  local n=${#configs[@]}
  local loadavg_start
  loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
  local started
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "$BENCH_NAME: route $ROUTE, $RUNS round(s) x {${configs[*]}}, wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP)"

  local round i run=0
  for (( round = 1; round <= RUNS; round++ )); do
    for (( i = 0; i < n; i++ )); do
      CONFIG=${configs[$(( (i + round - 1) % n ))]}
      run=$(( run + 1 ))
      run_one "$run" "$round"
    done
  done

  local pm2_version="-" wrk_version
  [[ -n "$PM2" ]] && pm2_version=$("$PM2" --version 2>/dev/null | tail -1)
  [[ -n "$PM2" ]] && { "$PM2" kill >/dev/null 2>&1 || true; }
  wrk_version=$( (wrk -v 2>&1 || true) | head -1 | awk '{print $2}')
  local stamp
  stamp=$(date +%Y-%m-%d-%H%M)

  cat >"$BENCH_TMP/meta.json" <<EOF
{"bench":"$BENCH_NAME","route":"$ROUTE","runs":$RUNS,"duration":"$DURATION","warmup":"$WARMUP",
 "connections":$CONNECTIONS,"threads":$THREADS,"workers":$WORKERS,"configs":"$CONFIGS",
 "started":"$started","finished":"$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "loadavg_start":"$loadavg_start","loadavg_end":"$(cut -d' ' -f1-3 /proc/loadavg)",
 "cpus":$(nproc),"cpu_model":"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')",
 "kernel":"$(uname -r)","node":"$(node --version)","wrk":"$wrk_version","pm2":"$pm2_version",
 "corefork":"$("$COREFORK" --version 2>&1 | head -1)","corefork_build":"$COREFORK_BUILD_NOTE",
 "corefork_admin_flag":"${COREFORK_HAS_ADMIN:+yes}","nice":$NICE,
 "git":"$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo -)$([[ -z "$(git -C "$REPO_ROOT" status --porcelain -- src 2>/dev/null)" ]] || echo ' + uncommitted changes in src/')"}
EOF
  local report=$RESULTS_DIR/$BENCH_NAME-$stamp.md
  node "$BENCH_ROOT/common/report.js" "$BENCH_TMP/meta.json" "$BENCH_TMP/runs.jsonl" >"$report"
  cp "$BENCH_TMP/runs.jsonl" "${report%.md}.jsonl"
  cat "$report"
  log "report written to ${report#"$REPO_ROOT"/} (raw runs: ${report%.md}.jsonl)"
}
