#!/usr/bin/env bash
# Container test (issue 5): corefork as PID 1 of a real podman container with
# a CPU limit of 1.5.
#
#   tests/container/run.sh COREFORK_BINARY STATIC_HELLO_BINARY
#
# 1. Builds a FROM scratch image offline (no pulls): the corefork bundle
#    under /opt/corefork (docker/bundle.sh: corefork + every library ldd
#    names beyond glibc; then BUILD/BundleLoader.cmake from
#    cmake/Packaging.cmake: glibc, the dynamic loader as PT_INTERP, the musl
#    shim) and the static examples/hello as /hello, nothing else. corefork
#    runs from /opt/corefork/bin, the way it runs when copied into another
#    image.
# 2. podman --runtime runc run --cpus=1.5 ... IMAGE --drain-delay 2s -- /hello
# 3. Checks: corefork is PID 1; the admin server's /status reports the quota
#    (1.5) and floor(1.5) = 1 desired and ready worker; `corefork detect --json`
#    inside the container agrees; exactly one /hello process runs; the app
#    port serves.
# 4. podman stop: during the drain /readyz says 503 while the app still
#    serves; the container exits 0 (never 137: podman's SIGKILL fallback
#    comes after 10 s) about one drain delay after the SIGTERM.
#
# Needs podman, runc and patchelf (installed by .ci/install-deps.sh test). Skips (printing the reason
# and "0 passed, 0 failed, 1 skipped", exit 0) only where podman cannot run a
# container at all. Prints "N passed, M failed" and exits 1 on any failure.
# Everything it creates (containers, images, temp files) is removed on exit.
set -uo pipefail

corefork_bin=${1:?usage: run.sh COREFORK_BINARY STATIC_HELLO_BINARY}
hello_bin=${2:?usage: run.sh COREFORK_BINARY STATIC_HELLO_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$(dirname "$corefork_bin")" && pwd)

readonly CPUS=1.5
readonly EXPECTED_QUOTA=1.5
readonly EXPECTED_WORKERS=1 # floor(1.5 CPUs x 1 per CPU), the default rule
readonly DRAIN_MS=2000
readonly STOP_SLACK_MS=1000 # corefork: SIGTERM to exit <= drain + this
readonly PODMAN_SLACK_MS=5000 # podman stop: its own overhead is ~1 s here
readonly PODMAN_KILL_AFTER_S=10

# shellcheck source-path=SCRIPTDIR source=../support/report.sh
source "$here/../support/report.sh"

# shellcheck source-path=SCRIPTDIR source=../support/podman.sh
source "$here/../support/podman.sh"

# --- prerequisites -----------------------------------------------------------

require_tools podman runc jq curl patchelf

for f in "$corefork_bin" "$hello_bin"; do
  [ -x "$f" ] || { fail "$f: not an executable"; finish; }
done
if ! file_out=$(LC_ALL=C readelf -d "$hello_bin" 2>&1) ||
    grep -q 'NEEDED' <<<"$file_out"; then
  fail "$hello_bin is not static (target_link_options(hello PRIVATE -static))"
  finish
fi

# --- cleanup -----------------------------------------------------------------

tag=$$-$RANDOM
image=localhost/corefork-container-test:$tag
smoke=corefork-smoke-$tag
name=corefork-test-$tag
work=$(mktemp -d /tmp/corefork-container.XXXXXX)
stop_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  [ -n "$stop_pid" ] && kill "$stop_pid" 2>/dev/null
  podman_cmd rm -f -t 0 "$name" "$smoke" >/dev/null 2>&1
  podman_cmd rmi -f "$image" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the image ---------------------------------------------------------------

ctx=$work/context
mkdir -p "$ctx/run/corefork" "$ctx/tmp"
chmod 1777 "$ctx/tmp"
if ! make_bundle "$corefork_bin" "$ctx/opt/corefork" "$build" \
    "$work/bundle.log"; then
  fail "making the bundle of $corefork_bin failed (docker/bundle.sh, BundleLoader.cmake)"
  finish
fi
note "$(tr '\n' ' ' <"$work/bundle.log")"

# The bundle's binary runs with the bundle's own loader, at the fixed path.
interp=$(LC_ALL=C readelf -l "$ctx/opt/corefork/bin/corefork" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[[ "$interp" = /opt/corefork/lib/* ]] ||
  { fail "bundle: PT_INTERP '$interp', want /opt/corefork/lib/<loader>"; finish; }
mapfile -t ldd_names < <(ldd "$corefork_bin" | awk '$2 == "=>" { print $1 }')
cp "$hello_bin" "$ctx/hello"

# The image holds exactly the libraries ldd names (glibc included), the
# loader and the listen shims (loaded into workers, not into corefork), all
# in /opt/corefork/lib: no libc at its usual place to fall back on.
expected=$( (printf '%s\n' "${ldd_names[@]}"; basename "$interp"
             echo libcorefork-listen.so
             [ -f "$build/libcorefork-listen-musl.so" ] && echo libcorefork-listen-musl.so) | sort)
actual=$(find "$ctx" -type f -name '*.so*' -printf '%f\n' | sort)
outside=$(cd "$ctx" && find . -name '*.so*' -not -path './opt/corefork/lib/*' | tr '\n' ' ')

cat >"$ctx/Containerfile" <<'EOF'
FROM scratch
COPY . /
STOPSIGNAL SIGTERM
EXPOSE 8080 9180
ENTRYPOINT ["/opt/corefork/bin/corefork"]
CMD ["/hello"]
EOF
printf 'Containerfile\n' >"$ctx/.containerignore"

if ! podman_cmd build -q --pull=never -t "$image" "$ctx" >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  skip "podman cannot build even a FROM scratch image here (see above)"
fi
pass "podman build of the FROM scratch image (no pulls)"
if [ "$expected" = "$actual" ]; then
  pass "image holds corefork, the $(wc -l <<<"$expected") libraries (what ldd names, glibc and its loader included, and the shims) and static /hello"
  [ -z "$outside" ] || fail "libraries outside /opt/corefork/lib: $outside"
else
  fail "image libraries differ from ldd's: $(diff <(echo "$expected") <(echo "$actual") | grep '^[<>]' | tr '\n' ' ')"
fi

# Smoke run: can podman run a container here at all? Exit 125 is podman's
# own failure (runtime, cgroups, storage), not corefork's.
podman_cmd run --name "$smoke" "${run_opts[@]}" "$image" --version \
  >"$work/smoke.out" 2>"$work/smoke.err"
rc=$?
podman_cmd rm -f "$smoke" >/dev/null 2>&1
if [ $rc -eq 125 ]; then
  cat "$work/smoke.err"
  skip "podman cannot run a container here (exit $rc, see above)"
fi
if [ $rc -eq 0 ] && grep -q '^corefork ' "$work/smoke.out"; then
  pass "corefork runs from /opt/corefork with only the bundled libraries, its own glibc and loader ($(cat "$work/smoke.out"))"
else
  cat "$work/smoke.out" "$work/smoke.err"
  fail "corefork --version in the image exited $rc"
fi

# --- run it ------------------------------------------------------------------

# Host ports chosen by podman (race-free); --timeout bounds a container that a
# killed test run (ctest's timeout) could not clean up.
publish=(-p 127.0.0.1::8080 -p 127.0.0.1::9180)
if ! podman_cmd run -d --name "$name" --timeout 300 --cpus="$CPUS" "${run_opts[@]}" \
    "${publish[@]}" "$image" --drain-delay "${DRAIN_MS}ms" -- /hello \
    >"$work/run.out" 2>"$work/run.err"; then
  cat "$work/run.err"
  fail "podman run --cpus=$CPUS failed"
  finish
fi
port_of() { podman_cmd port "$name" "$1/tcp" | head -1 | sed 's/.*://'; }
app_port=$(port_of 8080)
admin_port=$(port_of 9180)
note "container $name: app 127.0.0.1:$app_port -> 8080, admin 127.0.0.1:$admin_port -> 9180"
show_logs() { echo "---- podman logs $name"; podman_cmd logs "$name" 2>&1 | tail -40; echo "----"; }

# GET URL -> "CODE BODY" on stdout; empty when nothing answered.
get() {
  curl -s --max-time 2 -o "$work/body" -w '%{http_code}' "$1" 2>/dev/null &&
    printf ' %s' "$(cat "$work/body")"
}
# Polls `get URL` until the code is $2, for at most $3 ms; prints the last answer.
poll() {
  local url=$1 want=$2 deadline=$(($(now_ms) + $3)) answer=""
  while :; do
    answer=$(get "$url")
    [ "${answer%% *}" = "$want" ] && { echo "$answer"; return 0; }
    [ "$(now_ms)" -ge "$deadline" ] && { echo "$answer"; return 1; }
    sleep 0.05
  done
}

# The app port serves (the worker got its socket and is ready).
if answer=$(poll "http://127.0.0.1:$app_port/" 200 20000) &&
    jq -e '.worker == 0 and (.pid | type == "number")' <<<"${answer#* }" >/dev/null 2>&1; then
  pass "app port serves GET / -> ${answer#* }"
else
  fail "app port: GET / gave '${answer:-nothing}' within 20 s"
  show_logs
fi

# corefork is PID 1 in the container, and runs exactly one /hello.
host_pid=$(podman_cmd inspect --format '{{.State.Pid}}' "$name")
nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$host_pid/status" 2>/dev/null)
argv0=$(tr '\0' '\n' <"/proc/$host_pid/cmdline" 2>/dev/null | head -1)
if [ "$nspid" = 1 ] && [ "$argv0" = /opt/corefork/bin/corefork ]; then
  pass "corefork is PID 1 in the container (host pid $host_pid)"
else
  fail "PID 1 in the container: NSpid '$nspid', argv[0] '$argv0' (host pid $host_pid)"
fi
hellos=0
for status in /proc/[0-9]*/status; do
  [ "$(awk '/^PPid:/ { print $2 }' "$status" 2>/dev/null)" = "$host_pid" ] || continue
  [ "$(tr '\0' '\n' <"${status%/status}/cmdline" 2>/dev/null | head -1)" = /hello ] &&
    hellos=$((hellos + 1))
done
if [ "$hellos" -eq "$EXPECTED_WORKERS" ]; then
  pass "$hellos /hello worker process(es) under corefork (floor($CPUS) = $EXPECTED_WORKERS)"
else
  fail "$hellos /hello worker processes under corefork, want $EXPECTED_WORKERS"
fi

# What corefork detects from inside the container, two ways: the admin
# server's /status (the running process), and `corefork detect --json`.
# shellcheck disable=SC2016 # a jq expression, $q is jq's
quota_check='(.cpu_quota_cores == $q)'
if answer=$(poll "http://127.0.0.1:$admin_port/status" 200 20000) &&
    jq -e --argjson q "$EXPECTED_QUOTA" --argjson w "$EXPECTED_WORKERS" \
      '(.cgroup | '"$quota_check"') and .desired_workers == $w and
       .sizing.workers == $w' <<<"${answer#* }" >/dev/null 2>&1; then
  pass "/status: cgroup.cpu_quota_cores $EXPECTED_QUOTA, desired_workers $EXPECTED_WORKERS"
  # Readiness follows the worker's READY=1; poll until it is counted.
  deadline=$(($(now_ms) + 10000))
  until jq -e --argjson w "$EXPECTED_WORKERS" '.ready_workers == $w' <<<"${answer#* }" >/dev/null 2>&1 ||
      [ "$(now_ms)" -ge "$deadline" ]; do
    sleep 0.05
    answer=$(get "http://127.0.0.1:$admin_port/status")
  done
  if jq -e --argjson w "$EXPECTED_WORKERS" '.ready_workers == $w' <<<"${answer#* }" >/dev/null 2>&1; then
    pass "/status: ready_workers $EXPECTED_WORKERS"
  else
    fail "/status: ready_workers never reached $EXPECTED_WORKERS: ${answer#* }"
  fi
else
  fail "admin port: GET /status gave '${answer:-nothing (no admin server listening on 9180?)}'"
fi
for path in /livez /readyz; do
  answer=$(poll "http://127.0.0.1:$admin_port$path" 200 5000)
  if [ "${answer%% *}" = 200 ]; then
    pass "admin $path -> 200"
  else
    fail "admin $path gave '${answer:-nothing}'"
  fi
done
detect=$(podman_cmd exec "$name" /opt/corefork/bin/corefork detect --json 2>&1)
if jq -e --argjson q "$EXPECTED_QUOTA" --argjson w "$EXPECTED_WORKERS" \
    "$quota_check"' and .workers == $w' <<<"$detect" >/dev/null 2>&1; then
  pass "corefork detect --json in the container: cpu_quota_cores $EXPECTED_QUOTA, workers $EXPECTED_WORKERS"
else
  fail "corefork detect --json in the container: $detect"
fi

# --- stop it -----------------------------------------------------------------

# podman stop = SIGTERM, then SIGKILL after 10 s. Run it in the background to
# watch the drain: readiness fails at once while the worker keeps serving.
start=$(now_ms)
podman_cmd stop -t "$PODMAN_KILL_AFTER_S" "$name" >"$work/stop.out" 2>"$work/stop.err" &
stop_pid=$!
answer=$(poll "http://127.0.0.1:$admin_port/readyz" 503 $((DRAIN_MS - 500)))
if [ "${answer%% *}" = 503 ]; then
  pass "during the drain /readyz -> 503"
else
  fail "during the drain /readyz gave '${answer:-nothing}', want 503"
fi
answer=$(get "http://127.0.0.1:$app_port/")
elapsed=$(($(now_ms) - start))
if [ "${answer%% *}" = 200 ] && [ "$elapsed" -lt "$DRAIN_MS" ]; then
  pass "during the drain the app still serves (${elapsed} ms after podman stop)"
else
  fail "during the drain GET / gave '${answer:-nothing}' ${elapsed} ms after podman stop"
fi
wait "$stop_pid"
stop_rc=$?
stop_pid=""
elapsed=$(($(now_ms) - start))
exit_code=$(podman_cmd inspect --format '{{.State.ExitCode}}' "$name" 2>&1)
if [ "$stop_rc" -eq 0 ] && [ "$exit_code" = 0 ]; then
  pass "podman stop: exit code 0"
else
  fail "podman stop: exit code '$exit_code' (podman stop exited $stop_rc: $(cat "$work/stop.err"))"
  show_logs
fi
if grep -qi sigkill "$work/stop.err"; then
  fail "podman fell back to SIGKILL: $(cat "$work/stop.err")"
elif [ "$elapsed" -ge $((DRAIN_MS - 50)) ] && [ "$elapsed" -le $((DRAIN_MS + PODMAN_SLACK_MS)) ]; then
  pass "podman stop took ${elapsed} ms (drain ${DRAIN_MS} ms; podman's SIGKILL would come at ${PODMAN_KILL_AFTER_S} s)"
else
  fail "podman stop took ${elapsed} ms, want ${DRAIN_MS}..$((DRAIN_MS + PODMAN_SLACK_MS)) ms"
  show_logs
fi
# The precise timing, from corefork's own log (podman adds its own overhead
# before the signal and after the exit): SIGTERM received -> exiting with 0.
podman_cmd logs "$name" >"$work/logs" 2>&1
log_ms() { # the timestamp of the first log line matching $1, in ms
  local stamp
  stamp=$(grep -m1 "$1" "$work/logs" | grep -o '^[0-9T:.-]*Z')
  [ -n "$stamp" ] && date -u -d "$stamp" +%s%3N
}
if term_ms=$(log_ms 'corefork\[[0-9]*\] .*SIGTERM') &&
    exit_ms=$(log_ms 'corefork\[[0-9]*\] .*exiting with 0'); then
  took=$((exit_ms - term_ms))
  if [ "$took" -ge "$DRAIN_MS" ] && [ "$took" -le $((DRAIN_MS + STOP_SLACK_MS)) ]; then
    pass "corefork: SIGTERM to 'exiting with 0' in ${took} ms (drain ${DRAIN_MS} ms)"
  else
    fail "corefork: SIGTERM to 'exiting with 0' in ${took} ms, want ${DRAIN_MS}..$((DRAIN_MS + STOP_SLACK_MS)) ms"
    show_logs
  fi
else
  fail "corefork's log lacks the SIGTERM line or 'exiting with 0'"
  show_logs
fi

finish
