#!/usr/bin/env bash
# The bundle on any base image (issue 13, part 5): corefork from
# /opt/corefork runs with its own dynamic loader and glibc, whatever libc the
# image has, and gives a musl-built worker the musl build of the listen shim.
#
#   tests/musl/run.sh COREFORK_BINARY STATIC_HELLO_BINARY
#
# 1. Makes the bundle as the `bundle` target does (docker/bundle.sh, then
#    BUILD/BundleLoader.cmake from cmake/Packaging.cmake: loader + glibc in
#    lib/, PT_INTERP /opt/corefork/lib/ld-linux-*.so.*, the musl shim).
# 2. A musl-only root filesystem, assembled from Debian's musl package (no
#    registry image): musl's loader, /opt/corefork, and tests/musl/worker.c
#    built with musl-gcc (an ordinary bind()+listen() on $PORT). No
#    libc.so.6 outside /opt/corefork/lib. `podman import`ed, corefork as the
#    entrypoint, 2 workers: /readyz 200, two worker pids answer, the log
#    names the musl shim, the workers map musl only (no glibc, no
#    LD_LIBRARY_PATH), SIGTERM -> exit 0. A copy at /srv/corefork, started
#    through its loader (the fallback for a relocated bundle), does the same.
# 3. A FROM scratch image (podman import of an empty root plus the bundle
#    and the static examples/hello): /readyz 200, the app answers,
#    SIGTERM -> exit 0.
#
# Needs podman, runc, jq, curl, musl-gcc (musl-tools) and patchelf
# (.ci/install-deps.sh test). Skips ("0 passed, 0 failed, 1 skipped") only
# where podman cannot run a container at all. Everything it creates is
# removed on exit.
set -uo pipefail

corefork_bin=${1:?usage: run.sh COREFORK_BINARY STATIC_HELLO_BINARY}
hello_bin=${2:?usage: run.sh COREFORK_BINARY STATIC_HELLO_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$(dirname "$corefork_bin")" && pwd)

readonly WORKERS=2
readonly DRAIN_MS=500
readonly PODMAN_KILL_AFTER_S=10

# shellcheck source-path=SCRIPTDIR source=../support/report.sh
source "$here/../support/report.sh"

# shellcheck source-path=SCRIPTDIR source=../support/podman.sh
source "$here/../support/podman.sh"
require_tools podman runc jq curl musl-gcc patchelf readelf

tag=$$-$RANDOM
musl_image=localhost/corefork-musl-test:$tag
scratch_image=localhost/corefork-scratch-test:$tag
name=corefork-musl-$tag
moved_name=corefork-moved-$tag
entry=""
scratch_name=corefork-scratch-$tag
work=$(mktemp -d /tmp/corefork-musl.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  podman_cmd rm -f -t 0 "$name" "$moved_name" "$scratch_name" >/dev/null 2>&1
  podman_cmd rmi -f "$musl_image" "$scratch_image" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the bundle ----------------------------------------------------------------

bundle=$work/bundle
if ! make_bundle "$corefork_bin" "$bundle" "$build" "$work/bundle.log"; then
  fail "making the bundle failed"
  finish
fi
note "$(tr '\n' ' ' <"$work/bundle.log")"
interp=$(LC_ALL=C readelf -l "$bundle/bin/corefork" |
  sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
loader=$(basename "$interp")
if [[ "$interp" = /opt/corefork/lib/ld-* ]] && [ -x "$bundle/lib/$loader" ] &&
    [ -f "$bundle/lib/libc.so.6" ]; then
  pass "bundle: PT_INTERP $interp, with lib/$loader and lib/libc.so.6"
else
  fail "bundle: PT_INTERP '$interp', lib/: $(cd "$bundle/lib" && echo *)"
fi
if [ -f "$bundle/lib/libcorefork-listen-musl.so" ]; then
  pass "bundle: lib/libcorefork-listen-musl.so (the shim built with musl-gcc)"
else
  fail "bundle: no lib/libcorefork-listen-musl.so (is $build/libcorefork-listen-musl.so built?)"
fi
# Relocated: the loader runs corefork from anywhere ($ORIGIN/../lib still
# finds the libraries), the documented fallback when /opt/corefork is taken.
moved=$work/elsewhere/corefork
mkdir -p "$moved" && cp -a "$bundle/." "$moved/"
if out=$("$moved/lib/$loader" "$moved/bin/corefork" --version 2>&1) &&
    [[ "$out" = corefork* ]]; then
  pass "relocated bundle runs through its loader: lib/$loader bin/corefork --version -> $out"
else
  fail "relocated bundle through its loader: $out"
fi

# --- the musl-only root filesystem -----------------------------------------------

loaders=(/lib/ld-musl-*.so.1)
musl_loader=${loaders[0]}
[ -e "$musl_loader" ] || { fail "no /lib/ld-musl-*.so.1 (Debian package musl)"; finish; }
musl_arch=$(basename "$musl_loader" .so.1)
musl_arch=${musl_arch#ld-musl-}
if ! musl-gcc -O2 -Wall -Wextra -o "$work/worker" "$here/worker.c" 2>"$work/cc.log"; then
  cat "$work/cc.log"
  fail "musl-gcc tests/musl/worker.c failed"
  finish
fi
worker_interp=$(LC_ALL=C readelf -l "$work/worker" |
  sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')

root=$work/musl-root
mkdir -p "$root/lib/$musl_arch-linux-musl" "$root/etc" "$root/app" \
  "$root/tmp" "$root/run/corefork" "$root/opt"
chmod 1777 "$root/tmp"
# musl's loader is its libc; libc.so is the name musl-gcc links against.
cp -L "$musl_loader" "$root/lib/$(basename "$musl_loader")"
ln -s "../$(basename "$musl_loader")" "$root/lib/$musl_arch-linux-musl/libc.so"
[ -f "/etc/ld-musl-$musl_arch.path" ] && cp "/etc/ld-musl-$musl_arch.path" "$root/etc/"
cp -a "$bundle" "$root/opt/corefork"
# A second copy elsewhere: the documented fallback, started via its loader.
mkdir -p "$root/srv"
cp -a "$bundle" "$root/srv/corefork"
cp "$work/worker" "$root/app/worker"

glibc_outside=$(cd "$root" && find . \( -name 'libc.so.6' -o -name 'ld-linux*' \) \
  -not -path './opt/corefork/lib/*' -not -path './srv/corefork/lib/*' | tr '\n' ' ')
if [ "$worker_interp" = "$(basename "$musl_loader" | sed 's|^|/lib/|')" ] &&
    [ -z "$glibc_outside" ]; then
  pass "musl root: worker's PT_INTERP $worker_interp; no glibc outside /opt/corefork/lib"
else
  fail "musl root: worker PT_INTERP '$worker_interp', glibc outside the bundle: '$glibc_outside'"
fi

import() { # ROOT IMAGE: an image of exactly ROOT, corefork as its entrypoint
  tar -C "$1" -cf - . | podman_cmd import \
    --change 'ENTRYPOINT ["/opt/corefork/bin/corefork"]' \
    --change 'STOPSIGNAL SIGTERM' - "$2" >"$work/import.log" 2>&1
}
if ! import "$root" "$musl_image"; then
  cat "$work/import.log"
  skip "podman import failed here (see above)"
fi

podman_cmd run --rm "${run_opts[@]}" "$musl_image" --version >"$work/smoke.out" 2>"$work/smoke.err"
rc=$?
if [ $rc -eq 125 ]; then
  cat "$work/smoke.err"
  skip "podman cannot run a container here (exit $rc, see above)"
fi
if [ $rc -eq 0 ] && grep -q '^corefork ' "$work/smoke.out"; then
  pass "corefork --version in the musl-only image: $(cat "$work/smoke.out")"
else
  cat "$work/smoke.out" "$work/smoke.err"
  fail "corefork --version in the musl-only image exited $rc"
fi

# --- helpers for the running containers ------------------------------------------

get() { # URL -> "CODE BODY"; empty when nothing answered
  curl -s --max-time 2 -o "$work/body" -w '%{http_code}' "$1" 2>/dev/null &&
    printf ' %s' "$(cat "$work/body")"
}
poll() { # URL CODE MS: polls until URL answers CODE; prints the last answer
  local url=$1 want=$2 deadline=$(($(now_ms) + $3)) answer=""
  while :; do
    answer=$(get "$url")
    [ "${answer%% *}" = "$want" ] && { echo "$answer"; return 0; }
    [ "$(now_ms)" -ge "$deadline" ] && { echo "$answer"; return 1; }
    sleep 0.05
  done
}
start() { # NAME IMAGE ARGS...: runs it detached with both ports published
  local cname=$1 image=$2
  shift 2
  podman_cmd run -d --name "$cname" --timeout 300 "${run_opts[@]}" ${entry:+--entrypoint "$entry"} \
    -p 127.0.0.1::8080 -p 127.0.0.1::9180 "$image" "$@" \
    >"$work/run.out" 2>"$work/run.err" || { cat "$work/run.err"; return 1; }
  app_port=$(podman_cmd port "$cname" 8080/tcp | head -1 | sed 's/.*://')
  admin_port=$(podman_cmd port "$cname" 9180/tcp | head -1 | sed 's/.*://')
}
logs() { podman_cmd logs "$1" 2>&1; }
stop_ok() { # NAME WHAT: podman stop (SIGTERM) must end in exit code 0
  local out rc code
  out=$(podman_cmd stop -t "$PODMAN_KILL_AFTER_S" "$1" 2>&1)
  rc=$?
  code=$(podman_cmd inspect --format '{{.State.ExitCode}}' "$1" 2>&1)
  if [ $rc -eq 0 ] && [ "$code" = 0 ] && ! grep -qi sigkill <<<"$out"; then
    pass "$2: SIGTERM (podman stop) -> exit code 0"
  else
    fail "$2: podman stop -> exit code '$code' ($out)"
    logs "$1" | tail -20
  fi
}

# --- musl: corefork + 2 musl workers -------------------------------------------

if ! start "$name" "$musl_image" --workers "$WORKERS" \
    --drain-delay "${DRAIN_MS}ms" -- /app/worker; then
  fail "podman run of the musl-only image failed"
  finish
fi
note "musl container $name: app 127.0.0.1:$app_port, admin 127.0.0.1:$admin_port"
answer=$(poll "http://127.0.0.1:$admin_port/readyz" 200 20000)
if [ "${answer%% *}" = 200 ]; then
  pass "musl image: /readyz -> 200"
else
  fail "musl image: /readyz gave '${answer:-nothing}'"
  logs "$name" | tail -20
fi
# Two distinct worker pids: connections until both answered (bounded).
declare -A pids=()
bodies=""
deadline=$(($(now_ms) + 15000))
for _ in $(seq 1 400); do
  answer=$(get "http://127.0.0.1:$app_port/")
  if [ "${answer%% *}" = 200 ]; then
    body=${answer#* }
    pid=$(jq -r .pid <<<"$body" 2>/dev/null)
    [ -n "$pid" ] && [ "$pid" != null ] && pids[$pid]=1
    bodies+="$body"$'\n'
  fi
  [ ${#pids[@]} -ge "$WORKERS" ] && break
  [ "$(now_ms)" -ge "$deadline" ] && break
done
if [ ${#pids[@]} -ge "$WORKERS" ]; then
  pass "musl workers: ${#pids[@]} distinct pids answer (${!pids[*]}) on the one port"
else
  fail "musl workers: ${#pids[@]} distinct pid(s) answered, want $WORKERS: $(head -3 <<<"$bodies")"
  logs "$name" | tail -20
fi
shim=/opt/corefork/lib/libcorefork-listen-musl.so
if [ -n "$bodies" ] &&
    jq -se --arg s "$shim" 'all(.ld_preload == $s and .ld_library_path == "")' \
      <<<"$bodies" >/dev/null 2>&1; then
  pass "musl workers: LD_PRELOAD=$shim, LD_LIBRARY_PATH unset"
else
  fail "musl workers' environment: $(sort -u <<<"$bodies" | head -3)"
fi
# (Into a file first: `grep -q` in a pipe would SIGPIPE podman, and
# pipefail would call that a miss.)
logs "$name" >"$work/musl.log"
if grep -q "listen shim $shim" "$work/musl.log"; then
  pass "corefork's log: $(grep -o "compat.listen: .*" "$work/musl.log" | head -1)"
else
  fail "corefork's log does not name $shim"
  tail -20 "$work/musl.log"
fi
# What is mapped: corefork runs on the bundle's glibc, the workers on musl
# only (the bundle's glibc and rpath do not reach them).
host_pid=$(podman_cmd inspect --format '{{.State.Pid}}' "$name")
if grep -q "/opt/corefork/lib/libc.so.6" "/proc/$host_pid/maps" 2>/dev/null; then
  pass "corefork (PID 1) maps /opt/corefork/lib/libc.so.6"
else
  fail "corefork (host pid $host_pid) does not map the bundle's libc.so.6"
fi
workers_seen=0
worker_problems=""
for status in /proc/[0-9]*/status; do
  [ "$(awk '/^PPid:/ { print $2 }' "$status" 2>/dev/null)" = "$host_pid" ] || continue
  dir=${status%/status}
  [ "$(tr '\0' '\n' <"$dir/cmdline" 2>/dev/null | head -1)" = /app/worker ] || continue
  workers_seen=$((workers_seen + 1))
  maps=$(awk '{ print $6 }' "$dir/maps" 2>/dev/null | sort -u)
  grep -q "ld-musl" <<<"$maps" || worker_problems+=" ${dir#/proc/}: no ld-musl;"
  grep -q "libcorefork-listen-musl.so" <<<"$maps" || worker_problems+=" ${dir#/proc/}: no musl shim;"
  grep -qE "libc\.so\.6|ld-linux" <<<"$maps" && worker_problems+=" ${dir#/proc/}: glibc mapped;"
done
if [ "$workers_seen" -eq "$WORKERS" ] && [ -z "$worker_problems" ]; then
  pass "$workers_seen /app/worker processes map ld-musl + the musl shim, no glibc"
else
  fail "workers: $workers_seen seen, want $WORKERS;$worker_problems"
fi
stop_ok "$name" "musl image"

# The bundle elsewhere (/srv/corefork), started through its own loader: it
# finds its libraries ($ORIGIN/../lib) and, with /proc/self/exe being the
# loader, its shims next to it.
entry="[\"/srv/corefork/lib/$loader\", \"/srv/corefork/bin/corefork\"]"
if start "$moved_name" "$musl_image" --workers "$WORKERS" \
    --drain-delay "${DRAIN_MS}ms" -- /app/worker; then
  answer=$(poll "http://127.0.0.1:$admin_port/readyz" 200 20000)
  logs "$moved_name" >"$work/moved.log"
  if [ "${answer%% *}" = 200 ] &&
      grep -q "listen shim /srv/corefork/lib/libcorefork-listen-musl.so" "$work/moved.log"; then
    pass "relocated (/srv/corefork via its loader): /readyz 200, the musl shim from /srv/corefork/lib"
  else
    fail "relocated: /readyz gave '${answer:-nothing}'"
    tail -20 "$work/moved.log"
  fi
  stop_ok "$moved_name" "relocated bundle"
else
  fail "podman run --entrypoint $entry failed"
fi
entry=""

# --- scratch: nothing but the bundle and a static app ----------------------------

scratch=$work/scratch-root
mkdir -p "$scratch/opt" "$scratch/tmp" "$scratch/run/corefork"
chmod 1777 "$scratch/tmp"
cp -a "$bundle" "$scratch/opt/corefork"
cp "$hello_bin" "$scratch/hello"
outside=$(cd "$scratch" && find . -name '*.so*' -not -path './opt/corefork/lib/*' | tr '\n' ' ')
if [ -z "$outside" ] && import "$scratch" "$scratch_image"; then
  pass "scratch image: /opt/corefork, /hello (static), /tmp; no library elsewhere"
else
  fail "scratch image: libraries outside the bundle '$outside' or import failed: $(cat "$work/import.log")"
  finish
fi
if ! start "$scratch_name" "$scratch_image" --workers "$WORKERS" \
    --drain-delay "${DRAIN_MS}ms" -- /hello; then
  fail "podman run of the scratch image failed"
  finish
fi
answer=$(poll "http://127.0.0.1:$admin_port/readyz" 200 20000)
if [ "${answer%% *}" = 200 ]; then
  pass "scratch image: /readyz -> 200"
else
  fail "scratch image: /readyz gave '${answer:-nothing}'"
  logs "$scratch_name" | tail -20
fi
answer=$(poll "http://127.0.0.1:$app_port/" 200 10000)
if [ "${answer%% *}" = 200 ] && jq -e '.pid | type == "number"' <<<"${answer#* }" >/dev/null 2>&1; then
  pass "scratch image: the static app answers ${answer#* }"
else
  fail "scratch image: GET / gave '${answer:-nothing}'"
fi
stop_ok "$scratch_name" "scratch image"

finish
