#!/usr/bin/env bash
# Worker-log benchmark (issue 13, part 3): lines/s of worker output that get
# through corefork with `logs.workers: raw` (workers write to corefork's own
# stdout: no copy), `tagged` and `json` (pipes read by corefork's loop, each
# line reformatted and written by a writer thread).
#
# WORKERS workers each run `yes LINE` (a ~70-byte line, as fast as the pipe
# takes it). corefork's stdout is a fifo read by a counter (python3, 64 KiB
# reads, counting newlines): after a 1 s warm-up it counts the lines that
# arrive in WINDOW seconds, and corefork's CPU time over the same window
# (/proc/PID/stat). RUNS interleaved rounds (the order rotating); per mode
# the median and range of lines/s and of corefork's CPU %, the per-round
# ratio to raw, and the lines corefork dropped (its
# corefork_worker_log_lines_dropped_total: 0 means the reader kept up).
#
#   bench/logs/run.sh [COREFORK_BINARY]     # default: build/corefork
#   RUNS=5 WINDOW=3 WORKERS=2 bench/logs/run.sh
set -euo pipefail
: "${RUNS:=5}" "${WINDOW:=3}" "${WORKERS:=2}"
root=$(cd "$(dirname "$0")/../.." && pwd)
corefork=${1:-$root/build/corefork}
[[ -x $corefork ]] || { echo "build corefork first ($corefork)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
work=$(mktemp -d)
pid="" counter=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null
  [[ -n $counter ]] && kill "$counter" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[logs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Counts newlines on stdin; prints "lines_per_s cpu_percent" to $2 once the
# window is over, then keeps reading (and discarding) until stdin closes.
cat >"$work/count.py" <<'EOF'
import os, sys, time
window, out, pidfile = float(sys.argv[1]), sys.argv[2], sys.argv[3]
fd = sys.stdin.fileno()
def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
start = time.monotonic(); lines = 0; t0 = None; done = False
while True:
    data = os.read(fd, 65536)
    if not data:
        break
    now = time.monotonic()
    if t0 is None and now - start >= 1.0:
        pid = int(open(pidfile).read()); t0 = now; c0 = cpu(pid); lines = 0
    lines += data.count(b"\n")
    if t0 is not None and not done and now - t0 >= window:
        with open(out, "w") as f:
            f.write(f"{lines / (now - t0):.0f} {100 * (cpu(pid) - c0) / (now - t0):.1f}\n")
        done = True
EOF

port=18850 admin=18800
run() {  # MODE -> "lines_per_s cpu_percent dropped" on stdout
  local mode=$1
  port=$((port + 1)) admin=$((admin + 1))
  printf 'ready: {mode: none}\nshutdown: {drain_delay: 0s, timeout: 2s}\nlogs: {workers: %s}\n' \
    "$mode" >"$work/c.yaml"
  rm -f "$work/fifo" "$work/result" "$work/pid"
  mkfifo "$work/fifo"
  python3 "$work/count.py" "$WINDOW" "$work/result" "$work/pid" <"$work/fifo" &
  counter=$!
  COREFORK_CONTROL_SOCKET=$work/control.sock "$corefork" --config "$work/c.yaml" \
    --workers "$WORKERS" --port "$port" --host 127.0.0.1 --admin "127.0.0.1:$admin" -- \
    /bin/sh -c "exec yes 'GET /api/items/42 200 1.234ms user=alice request_id=5f2c9a7e'" \
    >"$work/fifo" 2>"$work/log" &
  pid=$!
  echo "$pid" >"$work/pid"
  for _ in $(seq 300); do
    [[ -s $work/result ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "corefork exited" >&2; cat "$work/log" >&2; exit 1; }
    sleep 0.05
  done
  [[ -s $work/result ]] || { echo "no result after 15 s" >&2; exit 1; }
  local dropped
  dropped=$(curl -s "http://127.0.0.1:$admin/metrics" |
    awk '/^corefork_worker_log_lines_dropped_total/ {s += $2} END {printf "%d", s}')
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
  kill "$counter" 2>/dev/null || true; wait "$counter" 2>/dev/null || true; counter=""
  echo "$(cat "$work/result") $dropped"
}
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f (range %.0f-%.0f)", m, a[1], a[NR]}'; }
median3() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f (range %.3f-%.3f)", m, a[1], a[NR]}'; }

modes=(raw tagged json)
log "$RUNS interleaved rounds x {${modes[*]}}, $WORKERS workers running yes, ${WINDOW}s window"
for m in "${modes[@]}"; do : >"$work/$m.lps"; : >"$work/$m.cpu"; : >"$work/$m.drop"; : >"$work/$m.ratio"; done
for round in $(seq "$RUNS"); do
  declare -A lps=()
  shift_by=$(( (round - 1) % ${#modes[@]} ))
  order=("${modes[@]:shift_by}" "${modes[@]:0:shift_by}")  # rotate: no order bias
  for mode in "${order[@]}"; do
    read -r l c d < <(run "$mode")
    lps[$mode]=$l
    echo "$l" >>"$work/$mode.lps"; echo "$c" >>"$work/$mode.cpu"; echo "$d" >>"$work/$mode.drop"
    log "round $round $mode: $l lines/s, corefork CPU $c %, dropped $d"
  done
  for m in tagged json; do
    awk -v a="${lps[$m]}" -v r="${lps[raw]}" 'BEGIN {printf "%.4f\n", a/r}' >>"$work/$m.ratio"
  done
done
echo "lines/s through corefork's stdout ($WORKERS workers, ${WINDOW}s windows, $RUNS rounds):"
for m in "${modes[@]}"; do
  printf '  %-6s lines/s %s   corefork CPU %% %s   dropped (sum) %s\n' "$m" \
    "$(median <"$work/$m.lps")" "$(median <"$work/$m.cpu")" \
    "$(awk '{s += $1} END {print s + 0}' "$work/$m.drop")"
done
for m in tagged json; do echo "  $m / raw per round: $(median3 <"$work/$m.ratio")"; done
