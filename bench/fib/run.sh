#!/usr/bin/env bash
# CPU-bound benchmark: the Node example's `/main` route (a recursive fib(30)
# per request, ~9-10 ms of CPU here) with 2 workers under corefork (reuseport and
# shared), Node cluster, PM2 cluster mode and a single node process, driven by
# wrk on 127.0.0.1, interleaved. Few connections: the workers are the
# bottleneck, not wrk.
#
#   bench/fib/run.sh                       # RUNS=3 DURATION=10s CONNECTIONS=8 THREADS=1
#
# See bench/README.md for what is measured and how to read it.
# shellcheck disable=SC2034  # read by common/lib.sh
BENCH_NAME=fib
# shellcheck disable=SC2034
ROUTE=/main
: "${RUNS:=3}" "${DURATION:=10s}" "${CONNECTIONS:=8}" "${THREADS:=1}" "${WARMUP:=1s}"
# shellcheck source-path=SCRIPTDIR source=../common/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
bench_main
