#!/usr/bin/env bash
# HTTP benchmark: the Node example's `/` route (a tiny hello response) with 2
# workers under corefork (reuseport and shared), Node cluster, PM2 cluster mode
# and a single node process, driven by wrk on 127.0.0.1, interleaved.
#
#   bench/http/run.sh                      # RUNS=3 DURATION=10s CONNECTIONS=64 THREADS=1
#   RUNS=5 DURATION=15s bench/http/run.sh
#   CONFIGS="corefork-shared node-cluster" bench/http/run.sh
#
# See bench/README.md for what is measured and how to read it.
# shellcheck disable=SC2034  # read by common/lib.sh
BENCH_NAME=http
# shellcheck disable=SC2034
ROUTE=/
: "${RUNS:=3}" "${DURATION:=10s}" "${CONNECTIONS:=64}" "${THREADS:=1}" "${WARMUP:=1s}"
# shellcheck source-path=SCRIPTDIR source=../common/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
bench_main
