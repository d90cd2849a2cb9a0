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
LOG_TAG=bench-jobs

# shellcheck source=bench/jobs/lib.sh
. "$HERE/lib.sh"
bench_setup bench-jobs

# ------------------------------------------------------------- build -------

command -v node >/dev/null || die "node (20+) is required for the node-execfile baseline"
build_corefork
build_client spawnloop jobclient

# ------------------------------------------------------------ corefork -----

# Starts corefork with job `noop` (PROGRAM, concurrency $1); sets CF_PID, SOCK.
start_corefork() {
  local conc=$1 tag=$2
  SOCK=$TMP/control-$tag.sock
  local cfg=$TMP/corefork-$tag.yaml
  config_head "" >"$cfg"
  cat >>"$cfg" <<EOF
  noop:
    command: [$PROGRAM]
    on_demand: true
    concurrency: $conc
    queue: 1000
EOF
  launch_corefork "$cfg" "$tag"
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

# ---------------------------------------------------------------- runs -----

read -ra methods <<<"$METHODS"
begin_runs round concurrency method rate ok fail client_cpu_s corefork_cpu_s machine_busy \
  children_cpu_s
log "program $PROGRAM, $ROUNDS round(s) x concurrency {$CONCURRENCIES} x {${methods[*]}}, ${DURATION}s each (warm-up ${WARMUP}s); load average $loadavg_start"

# One measurement of METHOD at concurrency CONC in round ROUND: a row of RAW.
measure_one() {
  local round=$1 conc=$2 method=$3
  measure "$method" "$conc" "$WARMUP" >/dev/null 2>&1 || true
  read -r cf0 kids0 <<<"$(cpu_ticks "$CF_PID")"; busy0=$(busy_ticks); t0=$(date +%s%N)
  out=$(measure "$method" "$conc" "$DURATION" 2>"$TMP/err") ||
    { cat "$TMP/err" >&2; die "$method failed: $out"; }
  t1=$(date +%s%N); busy1=$(busy_ticks); read -r cf1 kids1 <<<"$(cpu_ticks "$CF_PID")"
  # CPU of corefork itself while this method ran, and of the job
  # processes it reaped; machine busy = share of all CPUs' time that was
  # not idle (other work on the machine included).
  cf_cpu=$(ticks_s $(( cf1 - cf0 )))
  if [[ "$method" == corefork || "$method" == control-list ]]; then
    children_cpu=$(ticks_s $(( kids1 - kids0 )))
  else
    children_cpu=$(field children_cpu "$out")
    cf_cpu=0
  fi
  busy=$(busy_share "$busy0" "$busy1" "$t0" "$t1")
  rate=$(field rate "$out")
  printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$conc" "$method" "$rate" \
    "$(field ok "$out")" "$(field fail "$out")" "$(field cpu "$out")" "$cf_cpu" "$busy" \
    "${children_cpu:-0}" >>"$RAW"
  log "round $round/$ROUNDS c=$conc $method: $rate runs/s (corefork cpu ${cf_cpu}s, machine busy $busy)"
}

run_rounds "${methods[*]}"

# --------------------------------------------------------------- report ----

report=$(report_path jobs)
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
publish_report "$report"
