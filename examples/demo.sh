#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: install what is missing, build,
# and run corefork in front of the bundled example app on port 8080.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target corefork hello
cat <<TXT

corefork is starting examples/hello on port 8080, one worker per CPU of this
machine's (or container's) CPU limit. In another terminal try:

  curl http://127.0.0.1:8080/           # {"worker":W,"pid":P} - run it a few times
  ./build/corefork detect               # how the worker count was chosen
  kill -9 <a worker pid>                # corefork restarts that slot

Stop with Ctrl-C (graceful: 1 s drain, then workers finish in-flight requests).

TXT
exec ./build/corefork --port 8080 --drain-delay 1s -- ./build/examples/hello
