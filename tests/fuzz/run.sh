#!/bin/bash
# Runs every libFuzzer target built by tests/fuzz/CMakeLists.txt for a bounded
# time over its checked-in seed corpus (tests/fuzz/corpus/<name>/, for target
# <name>_fuzz; http_parser_fuzz uses corpus/http). New inputs go to a scratch
# directory, never into the checked-in corpus.
#   usage: tests/fuzz/run.sh BUILD_DIR [TARGET...]
#   FUZZ_SECONDS  time per target (default 60)
#   FUZZ_OUT      where crash/leak/timeout reproducers and logs go
#                 (default: a fresh mktemp directory, printed at the end)
# Exits non-zero when any target crashed, leaked, timed out, ran out of
# memory, or is missing.
set -u

build=${1:?usage: run.sh BUILD_DIR [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/corefork-fuzz.XXXXXX")}
mkdir -p "$out"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/fuzz/*_fuzz; do
    [ -x "$bin" ] && targets+=("$(basename "$bin")")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run.sh: no fuzz targets in $build/fuzz (build with -DCOREFORK_FUZZ=ON)" >&2
  exit 2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for target in "${targets[@]}"; do
  bin=$build/fuzz/$target
  name=${target%_fuzz}
  [ "$name" = http_parser ] && name=http
  seeds=$here/corpus/$name
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "FAIL $target: missing binary $bin or corpus $seeds"
    failed=1
    continue
  fi
  scratch=$out/$target.corpus
  mkdir -p "$scratch"
  log=$out/$target.log
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a
  # parser that balloons is a finding too. The outer `timeout` only guards
  # against libFuzzer itself wedging.
  timeout --kill-after=30 $((seconds + 120)) "$bin" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$out/$target-" \
    "$scratch" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "ok   $target: ${runs:-?} runs in ${seconds}s, ${cov:-cov ?}, corpus $(ls "$scratch" | wc -l) new"
  else
    echo "FAIL $target (exit $rc): see $log"
    grep -m5 -E 'ERROR|SUMMARY|runtime error|Timeout|out-of-memory' "$log" | sed 's/^/     /'
    ls "$out"/"$target"-* 2>/dev/null | sed 's/^/     reproducer: /'
    failed=1
  fi
done
echo "logs and scratch corpora: $out"
exit $failed
