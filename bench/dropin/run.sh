#!/usr/bin/env bash
# Drop-in benchmark (issue 8): an UNMODIFIED Express app (app.js: app.get('/'),
# app.listen(PORT)) with 2 workers, served
#   corefork        corefork --workers 2 --port P --admin 127.0.0.1:0 -- node app.js
#                   (the listen shim, on by default, hands each worker its slot's
#                   SO_REUSEPORT socket when the app binds P)
#   corefork-fd3    CONTROL: corefork --compat-listen off ... -- node app-fd3.js
#                   (app.js with app.listen({fd: 3}): no shim, the inherited fd)
#   node-cluster    node cluster.js (primary forks 2 workers that require app.js)
#   pm2             pm2 start app.js -i 2 (PM2_HOME in a temp dir, pm2 kill after)
# and, only when named in CONFIGS,
#   hello-fd3       corefork --workers 2 -- examples/hello (the C++ fd-3 hello:
#                   what the machine can do without Node; not comparable per request)
# loaded by wrk on 127.0.0.1 in interleaved rounds.
#
#   bench/dropin/run.sh [COREFORK_BINARY]     # default: $COREFORK, else build/corefork
#   RUNS=10 DURATION=5s WRK_CPUS=1 NICE=-10 bench/dropin/run.sh build-bench/corefork
#
# Per run: fresh port; for corefork, /readyz polled until 200 with both workers
# ready (and GET / checked at that moment); GET / until 200; the worker share of
# SHARE_CONNS sequential new connections (conns.js, ss); 1 s warm-up; wrk -t1
# -c64 -dDURATION; per-worker bytes written (/proc/PID/io wchar: the request
# share of the wrk run, as every answer has the same size) and CPU; launcher
# and worker RSS; corefork's /status (restarts); stop and wait for the port.
# node_modules (express, pm2; exact versions, package-lock.json) is installed
# with `npm ci` into bench/dropin/ when missing. See bench/README.md#dropin.
#
# Helpers (log, /proc readers, start_group, wait_gone, cleanup trap...) come
# from ../common/lib.sh; the configurations, the run and the report are here.
# Only 127.0.0.1 is ever contacted.
# shellcheck disable=SC2034  # variables read by common/lib.sh
BENCH_NAME=dropin
: "${RUNS:=10}" "${DURATION:=5s}" "${CONNECTIONS:=64}" "${THREADS:=1}" "${WARMUP:=1s}"
: "${CONFIGS:=corefork corefork-fd3 node-cluster pm2}"
COREFORK_FROM_ENV=${COREFORK:-}         # before lib.sh puts its own default in COREFORK
CALLER_PWD=$PWD
# shellcheck source-path=SCRIPTDIR source=../common/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

DROPIN_DIR=$BENCH_ROOT/dropin
APP_DIR=$DROPIN_DIR                    # start_group runs every app from here
SHARE_CONNS=${SHARE_CONNS:-100}        # sequential new connections per share probe
WRK_CPUS=${WRK_CPUS:-}                 # e.g. 1: taskset -c 1 wrk ...
READY_TIMEOUT=${READY_TIMEOUT:-30}     # seconds for /readyz to report both workers

# ------------------------------------------------------------- set-up ------

# lib.sh has already set COREFORK to $BUILD_DIR/corefork when the caller did
# not; this benchmark's default is the project build dir instead, and the
# first argument wins over both.
resolve_corefork() {
  if [[ -n "${1:-}" ]]; then COREFORK=$1
  elif [[ -n "${COREFORK_FROM_ENV:-}" ]]; then COREFORK=$COREFORK_FROM_ENV
  else COREFORK=$REPO_ROOT/build/corefork
  fi
  [[ "$COREFORK" == /* ]] || COREFORK=$CALLER_PWD/$COREFORK
  if [[ ! -x "$COREFORK" ]]; then
    # Not there: configure and build it (corefork, the shim, hello) in its dir.
    local dir
    dir=$(dirname "$COREFORK")
    command -v cmake >/dev/null || apt_install cmake
    command -v ninja >/dev/null || apt_install ninja-build
    log "no corefork at $COREFORK: building corefork, corefork-listen, hello in $dir"
    [[ -f "$dir/build.ninja" ]] || cmake -S "$REPO_ROOT" -B "$dir" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BENCH_TMP/logs/cmake.log" 2>&1 ||
      die "cmake configure failed, see $BENCH_TMP/logs/cmake.log"
    cmake --build "$dir" --target corefork corefork-listen hello >"$BENCH_TMP/logs/build.log" 2>&1 ||
      { tail -20 "$BENCH_TMP/logs/build.log" >&2; die "corefork build failed"; }
  fi
  [[ -x "$COREFORK" ]] || die "no corefork binary at $COREFORK"
  HELLO=$(dirname "$COREFORK")/examples/hello
  if [[ " $CONFIGS " == *" hello-fd3 "* && ! -x "$HELLO" ]]; then
    die "hello-fd3 needs $HELLO (ninja -C $(dirname "$COREFORK") hello)"
  fi
}

ensure_node_modules() {
  if [[ ! -d "$DROPIN_DIR/node_modules/express" || ! -x "$DROPIN_DIR/node_modules/.bin/pm2" ]]; then
    log "npm ci in bench/dropin (express, pm2; versions from package-lock.json)"
    (cd "$DROPIN_DIR" && npm ci --no-audit --no-fund --loglevel=error >"$BENCH_TMP/logs/npm.log" 2>&1) ||
      { tail -20 "$BENCH_TMP/logs/npm.log" >&2; die "npm ci failed"; }
  fi
  PM2=$DROPIN_DIR/node_modules/.bin/pm2
  export PM2_HOME=$BENCH_TMP/pm2-home
  mkdir -p "$PM2_HOME"
}

# Runs wrk, pinned to WRK_CPUS when set.
run_wrk() {
  if [[ -n "$WRK_CPUS" ]]; then taskset -c "$WRK_CPUS" wrk "$@"; else wrk "$@"; fi
}

# --------------------------------------------------------- readiness -------

# HTTP code of GET 127.0.0.1:PORT/PATH (000 when nothing answers).
http_code() {
  curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null || true
}

# The admin port corefork took for --admin 127.0.0.1:0: its listening TCP
# socket that is not on the app port. Polled with a deadline.
find_admin_port() {
  local pid=$1 appport=$2 deadline=$(( SECONDS + START_TIMEOUT )) p
  while (( SECONDS < deadline )); do
    p=$(ss -Htlnp 2>/dev/null | awk -v pid="pid=$pid," -v app=":$appport" '
      index($0, pid) { n = split($4, a, ":"); if (":" a[n] != app) { print a[n]; exit } }')
    [[ -n "$p" ]] && { echo "$p"; return 0; }
    alive "$pid" || return 1
    sleep 0.02
  done
  return 1
}

# corefork only: polls /readyz (20 ms steps) from start-up until it answers
# 200 with ready_workers == WORKERS. Records how many 503s came first, the time
# to the first 200 and to both workers, and the code and latency of a GET /
# sent right after the first 200 (ready should mean serving: 200, quickly; the
# GET runs in the background so it does not delay the polling). Sets READY_JSON.
wait_readyz() {
  local port=$1 aport=$2 t0=$3 logf=$4
  local deadline=$(( SECONDS + READY_TIMEOUT )) body code n503=0 first_ms="" get_at_first="" both_ms="" other=0
  local getf=$BENCH_TMP/get-at-ready get_pid="" get_ms=null
  rm -f "$getf"
  while :; do
    body=$(curl -s --max-time 2 -w '\n%{http_code}' "http://127.0.0.1:$aport/readyz" 2>/dev/null || true)
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    if [[ "$code" == 200 ]]; then
      if [[ -z "$first_ms" ]]; then
        first_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "http://127.0.0.1:$port/" >"$getf" 2>/dev/null &
        get_pid=$!
      fi
      if [[ "$body" == *"\"ready_workers\":$WORKERS"* ]]; then
        both_ms=$(( ($(date +%s%N) - t0) / 1000000 )); break
      fi
    elif [[ "$code" == 503 ]]; then n503=$(( n503 + 1 ))
    else other=$(( other + 1 ))
    fi
    if (( SECONDS >= deadline )) || ! alive "$LAUNCHER_PID"; then
      tail -20 "$logf" >&2
      log "warning: $CONFIG: /readyz did not report $WORKERS ready workers within ${READY_TIMEOUT}s (last: $code $body)"
      break
    fi
    sleep 0.02
  done
  if [[ -n "$get_pid" ]]; then
    wait "$get_pid" || true   # bounded by curl --max-time 5
    local secs
    read -r get_at_first secs <"$getf" || true
    [[ -n "${secs:-}" ]] && get_ms=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')
  fi
  READY_JSON="{\"readyz_503_before\":$n503,\"readyz_other_before\":$other,\"first_200_ms\":${first_ms:-null},\"get_at_first_200\":\"${get_at_first:-}\",\"get_at_first_200_ms\":$get_ms,\"both_ready_ms\":${both_ms:-null}}"
}

# GET / until 200 (20 ms steps, deadline), then new connections (conns.js, 10
# at a time, bounded) until WORKERS distinct processes have taken one, so no
# worker is still starting when the measurement begins.
wait_serving() {
  local port=$1 logf=$2 deadline=$(( SECONDS + START_TIMEOUT )) seen
  until [[ "$(http_code "$port" /)" == 200 ]]; do
    if ! alive "${APP_PGID:-$LAUNCHER_PID}"; then tail -20 "$logf" >&2; die "$CONFIG exited before answering"; fi
    (( SECONDS < deadline )) || { tail -20 "$logf" >&2; die "$CONFIG did not answer on port $port within ${START_TIMEOUT}s"; }
    sleep 0.02
  done
  deadline=$(( SECONDS + 10 ))
  while :; do
    seen=$(node "$DROPIN_DIR/conns.js" "$port" 10 "$LAUNCHER_PID" | node -e '
      let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => console.log(Object.keys(JSON.parse(s).pids).length))')
    (( seen >= WORKERS )) && break
    (( SECONDS < deadline )) || { log "warning: $CONFIG: only $seen worker(s) took connections within 10s"; break; }
  done
}

# ----------------------------------------------------- configurations ------

# Sets LAUNCHER_PID, APP_PGID (our process group; empty for PM2, whose daemon
# detaches) and WORKER_PARENT.
start_dropin() {
  local port=$1 run=$2 logf=$3
  LAUNCHER_PID="" APP_PGID="" WORKER_PARENT=""
  local -a common=(--workers "$WORKERS" --port "$port" --host 127.0.0.1 --admin 127.0.0.1:0
                   --drain-delay 0 --shutdown-timeout 10s)
  case "$CONFIG" in
    corefork)
      COREFORK_CONTROL_SOCKET=$BENCH_TMP/control-$run.sock \
        start_group "$logf" "$COREFORK" "${common[@]}" -- node app.js ;;
    corefork-fd3)
      COREFORK_CONTROL_SOCKET=$BENCH_TMP/control-$run.sock \
        start_group "$logf" "$COREFORK" "${common[@]}" --compat-listen off -- node app-fd3.js ;;
    hello-fd3)
      COREFORK_CONTROL_SOCKET=$BENCH_TMP/control-$run.sock \
        start_group "$logf" "$COREFORK" "${common[@]}" --compat-listen off -- "$HELLO" ;;
    node-cluster)
      PORT=$port WORKERS=$WORKERS start_group "$logf" node cluster.js ;;
    pm2)
      (cd "$DROPIN_DIR" && PORT=$port "$PM2" start app.js -i "$WORKERS" --name dropin \
        >"$logf" 2>&1 </dev/null) || { tail -20 "$logf" >&2; die "pm2 start failed"; }
      LAUNCHER_PID=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null || true)
      alive "$LAUNCHER_PID" || die "no PM2 daemon pid in $PM2_HOME/pm2.pid"
      WORKER_PARENT=$LAUNCHER_PID
      return 0 ;;
    *) die "unknown configuration $CONFIG" ;;
  esac
  LAUNCHER_PID=$STARTED_PID APP_PGID=$STARTED_PID WORKER_PARENT=$STARTED_PID
}

stop_dropin() {
  local port=$1
  if [[ "$CONFIG" == pm2 ]]; then
    "$PM2" kill >/dev/null 2>&1 || log "warning: pm2 kill failed"
    wait_gone "$LAUNCHER_PID"
  else
    kill -TERM "$APP_PGID" 2>/dev/null || true
    wait_gone "$APP_PGID" "$APP_PGID"
    kill -KILL -- "-$APP_PGID" 2>/dev/null || true
  fi
  wait_port_closed "$port"
}

# wchar (bytes passed to write/writev, sockets included) of PID.
wchar_of() {
  awk '/^wchar:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/io" 2>/dev/null || echo 0
}

# ------------------------------------------------------------- a run -------

run_dropin() {
  local run=$1 round=$2
  local port logf out t0
  port=$(free_port)
  logf=$BENCH_TMP/logs/$CONFIG-$run.log
  out=$BENCH_TMP/logs/$CONFIG-$run.wrk
  log "round $round/$RUNS: $CONFIG on 127.0.0.1:$port"

  t0=$(date +%s%N)
  start_dropin "$port" "$run" "$logf"
  local aport="" READY_JSON=null
  if [[ "$CONFIG" == corefork* || "$CONFIG" == hello-fd3 ]]; then
    aport=$(find_admin_port "$LAUNCHER_PID" "$port") || { tail -20 "$logf" >&2; die "$CONFIG: no admin port found"; }
    wait_readyz "$port" "$aport" "$t0" "$logf"
  fi
  wait_serving "$port" "$logf"
  local start_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  set_autogroup_nice "${APP_PGID:-$LAUNCHER_PID}"

  local share_json
  share_json=$(node "$DROPIN_DIR/conns.js" "$port" "$SHARE_CONNS" "$LAUNCHER_PID")

  run_wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true

  local -a wpids
  mapfile -t wpids < <(children_of "$WORKER_PARENT")
  local -A wchar0=() cpu0=()
  local w l0=0 l1=0 busy0 busy1 irq0 irq1 kids0 kids1 t1 t2
  for w in "${wpids[@]}"; do wchar0[$w]=$(wchar_of "$w"); cpu0[$w]=$(cpu_ticks "$w"); done
  l0=$(cpu_ticks "$LAUNCHER_PID")
  machine_ticks; busy0=$MACHINE_BUSY irq0=$MACHINE_IRQ; children_ticks; kids0=$CHILD_TICKS
  t1=$(date +%s%N)
  run_wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$DROPIN_DIR/stats.lua" \
    "http://127.0.0.1:$port/" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed"; }
  WRK_PID=""
  t2=$(date +%s%N)
  machine_ticks; busy1=$MACHINE_BUSY irq1=$MACHINE_IRQ; children_ticks; kids1=$CHILD_TICKS
  l1=$(cpu_ticks "$LAUNCHER_PID")

  local workers_json="" app_ticks=$(( l1 - l0 ))
  for w in "${wpids[@]}"; do
    local dc=$(( $(cpu_ticks "$w") - ${cpu0[$w]} ))
    app_ticks=$(( app_ticks + dc ))
    workers_json+="${workers_json:+,}{\"pid\":\"$w\",\"rss_kb\":$(rss_kb "$w"),\"wchar\":$(( $(wchar_of "$w") - ${wchar0[$w]} )),\"cpu_ticks\":$dc}"
  done
  local launcher_rss status_json=null
  launcher_rss=$(rss_kb "$LAUNCHER_PID")
  if [[ -n "$aport" ]]; then
    status_json=$(curl -s --max-time 2 "http://127.0.0.1:$aport/status" 2>/dev/null |
      node -e 'let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
        try { const j = JSON.parse(s); console.log(JSON.stringify({ready_workers: j.ready_workers,
          restarts: j.slots.map((x) => x.restarts), states: j.slots.map((x) => x.state)})); }
        catch (e) { console.log("null"); } })')
  fi
  local wrk_json
  wrk_json=$(sed -n 's/^DROPIN_JSON //p' "$out" | tail -1)
  [[ -n "$wrk_json" ]] || { cat "$out" >&2; die "no DROPIN_JSON line in the wrk output"; }

  stop_dropin "$port"
  [[ -n "$APP_PGID" ]] && forget_group "$APP_PGID"

  printf '{"config":"%s","round":%d,"port":%d,"start_ms":%d,"ready":%s,"share_new_conns":%s,"launcher_pid":"%s","launcher_rss_kb":%d,"launcher_cpu_ticks":%d,"app_cpu_ticks":%d,"wrk_cpu_ticks":%d,"machine_busy_ticks":%d,"machine_irq_ticks":%d,"clk_tck":%d,"wall_ns":%d,"workers":[%s],"status":%s,"loadavg":"%s","wrk":%s}\n' \
    "$CONFIG" "$round" "$port" "$start_ms" "$READY_JSON" "$share_json" "$LAUNCHER_PID" "$launcher_rss" \
    $(( l1 - l0 )) "$app_ticks" $(( kids1 - kids0 )) $(( busy1 - busy0 )) $(( irq1 - irq0 )) "$CLK_TCK" \
    $(( t2 - t1 )) "$workers_json" "${status_json:-null}" "$(cut -d' ' -f1-3 /proc/loadavg)" "$wrk_json" \
    >>"$BENCH_TMP/runs.jsonl"
}

# -------------------------------------------------------------- main -------

dropin_main() {
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/corefork-bench-dropin.XXXXXX")
  mkdir -p "$BENCH_TMP/logs" "$RESULTS_DIR"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES NODE_CLUSTER_SCHED_POLICY COREFORK_CONFIG NODE_OPTIONS \
    LD_PRELOAD COREFORK_COMPAT_LISTEN COREFORK_READY_MODE COREFORK_COMPAT_NODE_IPC

  if [[ "$NICE" != 0 ]]; then
    renice -n "$NICE" -p $$ >/dev/null || die "renice -n $NICE failed (negative values need root)"
    set_autogroup_nice $$
    log "running at nice $NICE (inherited by every process the benchmark starts)"
  fi
  ensure_tools
  resolve_corefork "${1:-}"
  ensure_node_modules

  local -a configs
  read -ra configs <<<"$CONFIGS"
  local n=${#configs[@]} round i run=0 loadavg_start started
  loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "dropin: $RUNS round(s) x {${configs[*]}}, wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP)${WRK_CPUS:+, wrk on CPU $WRK_CPUS}; corefork $COREFORK"
  for (( round = 1; round <= RUNS; round++ )); do
    for (( i = 0; i < n; i++ )); do
      CONFIG=${configs[$(( (i + round - 1) % n ))]}
      run=$(( run + 1 ))
      run_dropin "$run" "$round"
    done
  done

  local stamp wrk_version express_version pm2_version
  stamp=$(date +%Y-%m-%d-%H%M)
  wrk_version=$( (wrk -v 2>&1 || true) | head -1 | awk '{print $2}')
  express_version=$(node -p 'require("./node_modules/express/package.json").version' 2>/dev/null || echo -)
  pm2_version=$(node -p 'require("./node_modules/pm2/package.json").version' 2>/dev/null || echo -)
  cat >"$BENCH_TMP/meta.json" <<EOF
{"bench":"dropin","runs":$RUNS,"duration":"$DURATION","warmup":"$WARMUP","connections":$CONNECTIONS,
 "threads":$THREADS,"workers":$WORKERS,"configs":"$CONFIGS","share_conns":$SHARE_CONNS,"wrk_cpus":"$WRK_CPUS",
 "started":"$started","finished":"$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "loadavg_start":"$loadavg_start","loadavg_end":"$(cut -d' ' -f1-3 /proc/loadavg)",
 "cpus":$(nproc),"cpu_model":"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')",
 "kernel":"$(uname -r)","node":"$(node --version)","express":"$express_version","pm2":"$pm2_version",
 "wrk":"$wrk_version","corefork":"$("$COREFORK" --version 2>&1 | head -1)","corefork_path":"$COREFORK",
 "nice":$NICE,"git":"$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo -)"}
EOF
  local report=$RESULTS_DIR/dropin-$stamp.md
  node "$DROPIN_DIR/report.js" "$BENCH_TMP/meta.json" "$BENCH_TMP/runs.jsonl" >"$report"
  cp "$BENCH_TMP/runs.jsonl" "${report%.md}.jsonl"
  cp "$BENCH_TMP/meta.json" "${report%.md}.meta.json"   # report.js can be re-run on the two
  cat "$report"
  log "report written to ${report#"$REPO_ROOT"/} (raw runs: ${report%.md}.jsonl)"
}

cd "$DROPIN_DIR"
dropin_main "$@"
