#!/usr/bin/env bash
# Pool benchmark: latency and runs per second of a trivial task, fib(N) (N=20
# by default, ~0.1 ms of JS), at CONCURRENCY clients, three ways:
#   pooled          POST /jobs/fib-pool/runs?wait=true on corefork's control
#                   socket; the job has `pool: {size: POOL_SIZE}` and runs
#                   examples/pool/pool_worker.js (one JSON line per run)
#   spawn           the same request to a spawn-per-run job, `node
#                   examples/node/fib.js` (concurrency POOL_SIZE): a Node
#                   process started per run
#   worker-threads  Node worker_threads in one process (bench/jobs/
#                   worker_threads.js): POOL_SIZE threads, the round trip
#                   measured on the main thread; no corefork at all
#   pooled-max-runs-0  as pooled, with `max_runs: 0` (never recycled, the
#                   default): the cost of max_runs: 1000 at thousands of runs/s
#
#   bench/jobs/pool.sh                      # ROUNDS=5 DURATION=3 CONCURRENCIES="1 4"
#   NO_BUILD=1 COREFORK=build/corefork bench/jobs/pool.sh
#
# The control-socket client is bench/jobs/jobclient.c with --latency (run.sh's
# client plus per-request latency): one thread per client, one request per
# connection.
# Every round starts a fresh corefork per concurrency level (an idle `sleep`
# worker and both jobs), then runs the modes in a rotating order, each with a
# warm-up (which also starts the pool's processes). Medians over the rounds
# with min-max; per-round ratios to spawn and worker-threads. The
# report goes to stdout and bench/results/pool-<date>.md (+ .tsv).
# Only a unix socket in a temp dir is used; nothing touches the network.
set -euo pipefail
set +m

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}          # seconds per measurement
WARMUP=${WARMUP:-0.5}            # seconds, discarded, before each measurement
CONCURRENCIES=${CONCURRENCIES:-"1 4"}
POOL_SIZE=${POOL_SIZE:-2}        # pool size, spawn concurrency, threads
N=${N:-20}                       # fib(N)
MAX_RUNS=${MAX_RUNS-1000}        # the pooled job's pool.max_runs; empty: corefork's default (0)
MODES=${MODES:-"pooled spawn worker-threads pooled-max-runs-0"}
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build-bench}
COREFORK=${COREFORK:-$BUILD_DIR/corefork}
RESULTS_DIR=${RESULTS_DIR:-$REPO_ROOT/bench/results}
POOL_WORKER=$REPO_ROOT/examples/pool/pool_worker.js
SPAWN_JOB=$REPO_ROOT/examples/node/fib.js
LOG_TAG=bench-pool

# shellcheck source=bench/jobs/lib.sh
. "$HERE/lib.sh"
bench_setup bench-pool

# ------------------------------------------------------------- build -------

command -v node >/dev/null || die "node (20+) is required (the jobs and worker-threads)"
build_corefork
build_client jobclient

# ------------------------------------------------------------ corefork -----

# GET TARGET on the control socket; the body on stdout ("" on failure).
control_get() {
  node -e 'require("http").get({ socketPath: process.argv[1], path: process.argv[2], agent: false },
      (res) => { let b = ""; res.on("data", (c) => (b += c)); res.on("end", () => process.stdout.write(b)); })
    .on("error", () => process.exit(1));' "$SOCK" "$1" 2>/dev/null || true
}

# "starts processes" of job $1 from GET /jobs ("- -" without a pool).
# shellcheck disable=SC2016  # ${...} in the script is a JS template literal
pool_counts() {
  control_get /jobs | node -e '
    let t = ""; process.stdin.on("data", (c) => (t += c)).on("end", () => {
      let j; try { j = JSON.parse(t); } catch { console.log("- -"); return; }
      const list = Array.isArray(j) ? j : (j.jobs ?? []);
      const p = (list.find((x) => x.name === process.argv[1]) ?? {}).pool;
      console.log(p ? `${p.starts} ${p.processes}` : "- -");
    });' "$1"
}

# "PID TICKS" for every live child of corefork (the worker, pool processes,
# running spawned runs).
children_ticks() {
  local pid
  for pid in $(pgrep -P "$CF_PID" || true); do
    local -a t
    read -ra t <<<"$(cpu_ticks "$pid")"
    echo "$pid ${t[0]}"
  done
}

# CPU ticks the job processes used between two snapshots: live children's
# growth, plus what corefork reaped meanwhile minus what those reaped
# processes had already used at the first snapshot.
job_ticks() {
  local before=$1 after=$2 reaped=$3
  awk -v reaped="$reaped" '
    FNR == NR { b[$1] = $2; next }
    { a[$1] = $2 }
    END {
      t = reaped
      for (p in a) t += a[p] - (p in b ? b[p] : 0)
      for (p in b) if (!(p in a)) t -= b[p]
      print t
    }' "$before" "$after"
}

# Starts corefork (CONC unused, TAG) with jobs fib-spawn, fib-pool and
# fib-pool-max-runs-0 (the pools only when their mode is in MODES); sets
# CF_PID, SOCK.
start_corefork() {
  local tag=$2
  SOCK=$TMP/control-$tag.sock
  local cfg=$TMP/corefork-$tag.yaml
  config_head 'ready: {mode: none}            # sleep never listens: no ready timeout restarts' >"$cfg"
  cat >>"$cfg" <<EOF
  fib-spawn:
    command: [node, "$SPAWN_JOB"]
    on_demand: true
    concurrency: $POOL_SIZE
    queue: 1000
EOF
  # Without the pooled mode the config has no pool (a binary without pools
  # can still run the other two).
  [[ " $MODES " == *" pooled "* ]] && cat >>"$cfg" <<EOF
  fib-pool:
    command: [node, "$POOL_WORKER"]
    on_demand: true
    queue: 1000
    pool:
      size: $POOL_SIZE${MAX_RUNS:+
      max_runs: $MAX_RUNS}
EOF
  [[ " $MODES " == *" pooled-max-runs-0 "* ]] && cat >>"$cfg" <<EOF
  fib-pool-max-runs-0:
    command: [node, "$POOL_WORKER"]
    on_demand: true
    queue: 1000
    pool: {size: $POOL_SIZE, max_runs: 0}
EOF
  launch_corefork "$cfg" "$tag" " (no pools in this binary?)"
}

# One measurement of MODE at concurrency C for SECS seconds (warm-up WARM,
# used only by worker-threads, which starts a fresh process); prints the
# "ok=.. fail=.. rate=.. p50_ms=.." line.
measure() {
  local mode=$1 conc=$2 secs=$3 warm=$4
  local body="{\"n\":$N}"
  case "$mode" in
    pooled) "$TMP/jobclient" --latency "$SOCK" "$conc" "$secs" run fib-pool "$body" "$expect" ;;
    pooled-max-runs-0)
      "$TMP/jobclient" --latency "$SOCK" "$conc" "$secs" run fib-pool-max-runs-0 "$body" "$expect" ;;
    spawn) "$TMP/jobclient" --latency "$SOCK" "$conc" "$secs" run fib-spawn "$body" "$expect" ;;
    worker-threads) node "$HERE/worker_threads.js" "$POOL_SIZE" "$conc" "$secs" "$warm" "$N" ;;
    *) die "unknown mode $mode" ;;
  esac
}

# What every answer must contain: the run's stdout starts with fib(N).
expect="\"stdout\":\"$(node -e "const f = (k) => (k < 2 ? k : f(k - 1) + f(k - 2)); console.log(f($N))")"

# ---------------------------------------------------------------- runs -----

read -ra modes <<<"$MODES"
begin_runs round concurrency mode rate ok fail p50_ms p90_ms p99_ms max_ms pids client_cpu_s \
  corefork_cpu_s job_cpu_s machine_busy load1_before load1_after pool_starts pool_processes
log "fib($N), pool size $POOL_SIZE, $ROUNDS round(s) x concurrency {$CONCURRENCIES} x {${modes[*]}}, ${DURATION}s each (warm-up ${WARMUP}s); load average $loadavg_start"

# One measurement of MODE at concurrency CONC in round ROUND: a row of RAW.
measure_one() {
  local round=$1 conc=$2 mode=$3
  if [[ "$mode" != worker-threads ]]; then
    measure "$mode" "$conc" "$WARMUP" 0 >/dev/null 2>&1 || true
  fi
  load0=$(cut -d' ' -f1 /proc/loadavg)
  children_ticks >"$TMP/kids0"
  read -r cf0 reaped0 <<<"$(cpu_ticks "$CF_PID")"; busy0=$(busy_ticks); t0=$(date +%s%N)
  out=$(measure "$mode" "$conc" "$DURATION" "$WARMUP" 2>"$TMP/err") ||
    { cat "$TMP/err" >&2; die "$mode failed: $out"; }
  t1=$(date +%s%N); busy1=$(busy_ticks); read -r cf1 reaped1 <<<"$(cpu_ticks "$CF_PID")"
  children_ticks >"$TMP/kids1"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  # corefork's own CPU and the job processes' (pool processes or spawned
  # runs) while this mode ran; worker-threads uses neither (its CPU is
  # the client's). machine busy: share of all CPUs' time not idle, other
  # work on the machine included.
  if [[ "$mode" == worker-threads ]]; then
    cf_cpu=0; job_cpu=0
  else
    cf_cpu=$(ticks_s $(( cf1 - cf0 )))
    job_cpu=$(ticks_s "$(job_ticks "$TMP/kids0" "$TMP/kids1" $(( reaped1 - reaped0 )))")
  fi
  busy=$(busy_share "$busy0" "$busy1" "$t0" "$t1")
  starts="-"; procs="-"
  [[ "$mode" == pooled* ]] && read -r starts procs <<<"$(pool_counts "fib-${mode/pooled/pool}")"
  printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$round" "$conc" "$mode" "$(field rate "$out")" "$(field ok "$out")" "$(field fail "$out")" \
    "$(field p50_ms "$out")" "$(field p90_ms "$out")" "$(field p99_ms "$out")" \
    "$(field max_ms "$out")" "$(field pids "$out")" "$(field cpu "$out")" "$cf_cpu" "$job_cpu" \
    "$busy" "$load0" "$load1" "$starts" "$procs" >>"$RAW"
  log "round $round/$ROUNDS c=$conc $mode: $(field rate "$out") runs/s, p50 $(field p50_ms "$out") ms, p90 $(field p90_ms "$out") ms, pids $(field pids "$out") (pool starts $starts; machine busy $busy, load $load0 -> $load1)"
}

run_rounds "${modes[*]}"
loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --------------------------------------------------------------- report ----

report=$(report_path pool)
{
  echo "# pool benchmark ($started)"
  echo
  echo "fib($N) per run, pool size / spawn concurrency / threads = $POOL_SIZE; median (min-max) of"
  echo "$ROUNDS interleaved rounds of ${DURATION}s (warm-up ${WARMUP}s each). $(nproc) CPUs"
  echo "($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r),"
  echo "node $(node --version), $("$COREFORK" --version 2>&1 | head -1) ($COREFORK)."
  echo "Load average at start $loadavg_start, at end $loadavg_end."
  echo
  echo "- **pooled**: POST /jobs/fib-pool/runs?wait=true, \`pool: {size: $POOL_SIZE${MAX_RUNS:+, max_runs: $MAX_RUNS}}\`,"
  echo "  examples/pool/pool_worker.js (C client bench/jobs/jobclient.c --latency, a connection per request)"
  echo "- **spawn**: the same request to \`node examples/node/fib.js\` per run (concurrency $POOL_SIZE)"
  echo "- **worker-threads**: bench/jobs/worker_threads.js, $POOL_SIZE threads in one Node process"
  echo "- **pooled-max-runs-0**: as pooled, \`pool: {size: $POOL_SIZE, max_runs: 0}\` (processes never recycled)"
  echo
  echo "Latency: from connect() to the answer's end (pooled, spawn) or from the hand-off to the"
  echo "thread's answer (worker-threads); queueing included. CPU per run: corefork's own, the"
  echo "client's (for worker-threads: the whole Node process), the job processes' (pool processes"
  echo "or spawned runs). machine busy: non-idle share of all CPUs during the measurement, other"
  echo "work on the machine included; load: 1-min load average before / after each measurement."
  echo
  awk -F'\t' -v conc_order="$CONCURRENCIES" -v mode_order="${modes[*]}" '
    BEGIN { nc = split(conc_order, C, " "); nm = split(mode_order, M, " ") }
    NR == 1 { next }
    {
      key = $2 SUBSEP $3; k = ++n[key]
      rate[key, k] = $4; p50[key, k] = $7; p90[key, k] = $8; p99[key, k] = $9
      ok[key] += $5; fail[key] += $6; cl[key] += $12; cf[key] += $13; job[key] += $14
      busy[key, k] = $15
      for (f = 16; f <= 17; f++) {
        if (!(key in lmin) || $f + 0 < lmin[key]) lmin[key] = $f + 0
        if (!(key in lmax) || $f + 0 > lmax[key]) lmax[key] = $f + 0
      }
      pids[key] = pids[key] (pids[key] == "" ? "" : ",") $11
      if ($18 != "-") starts[key] = starts[key] (starts[key] == "" ? "" : ",") $18
      rr[$1, $2, $3] = $4; r50[$1, $2, $3] = $7; if ($1 > rounds) rounds = $1
    }
    function sorted(arr, key, m, out,   i, j, t) {
      for (i = 1; i <= m; i++) out[i] = arr[key, i] + 0
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (out[j] < out[i]) { t = out[i]; out[i] = out[j]; out[j] = t }
    }
    function med(arr, key,   m, a) {
      m = n[key]; sorted(arr, key, m, a)
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function lo(arr, key,   a) { sorted(arr, key, n[key], a); return a[1] }
    function hi(arr, key,   a) { sorted(arr, key, n[key], a); return a[n[key]] }
    function ms(arr, key) { return sprintf("%.2f (%.2f-%.2f)", med(arr, key), lo(arr, key), hi(arr, key)) }
    # Per-round ratio arr[r, c, a] / arr[r, c, b]: "median (min-max)" in fmt.
    function ratio(arr, c, a, b, fmt,   r, k, v, i, j, t) {
      k = 0
      for (r = 1; r <= rounds; r++)
        if (arr[r, c, a] != "" && arr[r, c, b] + 0 > 0) v[++k] = arr[r, c, a] / arr[r, c, b]
      if (!k) return "-"
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return sprintf(fmt " (" fmt "-" fmt ")", k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2, v[1], v[k])
    }
    END {
      print "| C | mode | runs/s | p50 ms | p90 ms | p99 ms (median) | CPU ms/run: corefork + client + jobs = total | processes per run | machine busy | load 1m | fails |"
      print "|---:|---|---:|---:|---:|---:|---|---|---:|---|---:|"
      for (ci = 1; ci <= nc; ci++) for (mi = 1; mi <= nm; mi++) {
        c = C[ci]; m = M[mi]; key = c SUBSEP m; if (!n[key]) continue
        o = ok[key] ? ok[key] : 1
        procs = m == "worker-threads" ? "- (" C[ci] " loops, threads)" : "distinct pids " pids[key]
        if (starts[key] != "") procs = procs "; pool starts " starts[key]
        printf "| %s | %s | %.0f (%.0f-%.0f) | %s | %s | %.2f | %.3f + %.3f + %.3f = %.3f | %s | %.0f-%.0f%% | %.2f-%.2f | %d |\n",
          c, m, med(rate, key), lo(rate, key), hi(rate, key), ms(p50, key), ms(p90, key), med(p99, key),
          cf[key] * 1000 / o, cl[key] * 1000 / o, job[key] * 1000 / o, (cf[key] + cl[key] + job[key]) * 1000 / o,
          procs, lo(busy, key) * 100, hi(busy, key) * 100, lmin[key], lmax[key], fail[key]
      }
      print ""
      print "Ratios per round (same corefork instance, modes back to back): median (min-max)."
      print ""
      print "| C | mode | / spawn runs/s (target >= 20) | / worker-threads runs/s | spawn p50 / p50 | p50 ms (target < 2) |"
      print "|---:|---|---:|---:|---:|---:|"
      for (ci = 1; ci <= nc; ci++) for (mi = 1; mi <= nm; mi++) {
        c = C[ci]; m = M[mi]; key = c SUBSEP m
        if (m !~ /^pooled/ || !n[key]) continue
        printf "| %s | %s | %s | %s | %s | %s |\n", c, m, ratio(rr, c, m, "spawn", "%.1fx"),
          ratio(rr, c, m, "worker-threads", "%.2fx"), ratio(r50, c, "spawn", m, "%.0fx"), ms(p50, key)
      }
    }' "$RAW"
} >"$report"
publish_report "$report"
