#!/usr/bin/env bash
# Package test (issue 10): the .deb that `cpack -G DEB` builds installs with
# `apt install ./corefork_*.deb` on a fresh Debian 12 and runs.
#
#   tests/package/run.sh BUILD_DIR      # corefork, the shim and the man page built
#
# 1. The man page (docs/corefork.1) renders without warnings and names every
#    option `corefork --help` lists.
# 2. cpack -G DEB into a temporary directory (the build dir's own packages
#    are left alone); checks the control file (Depends from dpkg-shlibdeps
#    covers every library the packaged binary needs, as dpkg -S sees it) and
#    the contents (paths, modes, root ownership, stripped, no RPATH); runs
#    lintian where it is installed.
# 3. In a container from localhost/corefork-test/debian12-base (a
#    debootstrapped Debian 12, made by tests/package/prepare-base.sh; this
#    test never debootstraps): apt-get update and `apt install ./<deb>` with
#    the host's network (the Depends come from Debian's archive). Then, in a
#    container of the result with no network: corefork --version, detect,
#    detect --json, the man page and docs in place, a worker started with the
#    listen shim from /usr/lib/corefork, and `dpkg --purge` leaves nothing.
#
# Installs nothing. Skips (printing the reason and "0 passed, 0 failed, 1
# skipped", exit 0) when a tool or the base image is missing, podman cannot
# run a container, or the container cannot reach Debian's archive, unless a
# check before that point failed. Prints "N passed, M failed" and exits 1 on
# any failure. Removes what it creates.
set -uo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# Another image (another Debian release) with COREFORK_PACKAGE_BASE_IMAGE.
readonly BASE_IMAGE=${COREFORK_PACKAGE_BASE_IMAGE:-localhost/corefork-test/debian12-base:latest}
readonly INSTALL_TIMEOUT_S=150 # apt-get update + install in the container
readonly SHIM=/usr/lib/corefork/libcorefork-listen.so

# shellcheck source-path=SCRIPTDIR source=../support/report.sh
source "$here/../support/report.sh"
started=$(now_ms)

export PATH=$PATH:/usr/sbin:/sbin
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"

# --- prerequisites (installed up front by .ci/install-deps.sh test) -----------

missing=()
for cmd in cpack dpkg-deb dpkg-shlibdeps file readelf podman runc jq man gzip; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
[ ${#missing[@]} -eq 0 ] ||
  skip "missing ${missing[*]}: run .ci/install-deps.sh test"
[ -f "$build/CPackConfig.cmake" ] || { fail "$build: no CPackConfig.cmake"; finish; }
corefork=$build/corefork
[ -x "$corefork" ] || { fail "$corefork: not built"; finish; }
[ -f "$build/libcorefork-listen.so" ] || { fail "$build/libcorefork-listen.so: not built"; finish; }

podman_cmd() { $sudo podman --runtime runc "$@"; }
run_opts=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

tag=$$-$RANDOM
installer=corefork-pkg-install-$tag
runner=corefork-pkg-run-$tag
image=localhost/corefork-package-test:$tag
work=$(mktemp -d /tmp/corefork-package.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  podman_cmd rm -f -t 0 "$installer" "$runner" >/dev/null 2>&1
  podman_cmd rmi -f "$image" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the man page -----------------------------------------------------------

manpage=$repo/docs/corefork.1
warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$manpage" 2>&1 >"$work/man.txt")
if [ -z "$warnings" ] && grep -q '^NAME' "$work/man.txt" &&
    grep -q 'corefork - container-aware prefork launcher' "$work/man.txt"; then
  pass "man -l docs/corefork.1 renders without warnings ($(wc -l <"$work/man.txt") lines)"
else
  fail "man -l docs/corefork.1: ${warnings:-no NAME section}"
fi
# Its header names the version being packaged.
binary_version=$("$corefork" --version)
if grep -q "^\.TH COREFORK 1 \"[0-9-]*\" \"$binary_version\"" "$manpage"; then
  pass "the man page's header says \"$binary_version\""
else
  fail "the man page's .TH line does not say \"$binary_version\": $(grep '^\.TH' "$manpage")"
fi
# Every option of --help, as roff writes it (\-\-name).
mapfile -t options < <("$corefork" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
absent=()
for opt in "${options[@]}"; do
  grep -qF -- "${opt//-/\\-}" "$manpage" || absent+=("$opt")
done
if [ ${#options[@]} -gt 5 ] && [ ${#absent[@]} -eq 0 ]; then
  pass "the man page names all ${#options[@]} options of corefork --help"
else
  fail "the man page lacks options of corefork --help: ${absent[*]:-(none found in --help)}"
fi

# --- 2. the .deb -----------------------------------------------------------------

out=$work/out
mkdir -p "$out"
t0=$(now_ms)
if ! (cd "$build" && cpack -G DEB -B "$out") >"$work/cpack.log" 2>&1; then
  tail -20 "$work/cpack.log"
  fail "cpack -G DEB failed"
  finish
fi
debs=("$out"/corefork_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  fail "cpack made no single corefork_*.deb: $(ls "$out")"
  finish
fi
deb=${debs[0]}
pass "cpack -G DEB: $(basename "$deb") ($(stat -c %s "$deb") bytes, $(($(now_ms) - t0)) ms)"

field() { dpkg-deb -f "$deb" "$1"; }
version=$(field Version)
depends=$(field Depends)
note "Depends: $depends"
if [ "$(field Package)" = corefork ] && [ -n "$(field Maintainer)" ] &&
    [[ "$(field Architecture)" = "$(dpkg --print-architecture)" ]]; then
  pass "control: Package corefork $version, Architecture $(field Architecture), Maintainer set"
else
  fail "control: $(dpkg-deb -f "$deb" Package Version Architecture Maintainer | tr '\n' ' ')"
fi

dpkg-deb -x "$deb" "$work/root"
packaged=$work/root/usr/bin/corefork
# Depends names every package that holds a library the packaged binary
# needs (the same check as the Dockerfile's runtime list), with a version.
names=$(sed 's/(.*//; s/[[:space:]]//g' <<<"${depends//[,|]/$'\n'}" | grep . | tr '\n' ' ')
if [[ "$depends" == *"libc6 (>= "* ]] &&
    "$repo/docker/check-runtime-packages.sh" "$packaged" "$names" >"$work/deps.log" 2>&1; then
  pass "Depends (dpkg-shlibdeps) covers every library ldd names: $(grep -c : "$work/deps.log") libraries"
else
  cat "$work/deps.log"
  fail "Depends does not cover what $packaged needs: $depends"
fi

# Contents: mode, owner and path of what corefork needs at run time.
dpkg-deb -c "$deb" >"$work/contents"
want_entries=(
  "-rwxr-xr-x root/root ./usr/bin/corefork"
  "-rw-r--r-- root/root .$SHIM"
  "-rw-r--r-- root/root ./usr/share/man/man1/corefork.1.gz"
  "-rw-r--r-- root/root ./usr/share/doc/corefork/configuration.md"
)
bad=()
for entry in "${want_entries[@]}"; do
  read -r mode owner path <<<"$entry"
  awk -v m="$mode" -v o="$owner" -v p="$path" \
    '$1 == m && $2 == o && $NF == p { found = 1 } END { exit !found }' "$work/contents" ||
    bad+=("$path ($mode $owner)")
done
if awk '$2 != "root/root"' "$work/contents" | grep -q .; then
  bad+=("entries not owned by root: $(awk '$2 != "root/root" { print $NF }' "$work/contents" | head -3)")
fi
if [ ${#bad[@]} -eq 0 ]; then
  pass "contents: /usr/bin/corefork 0755, $SHIM 0644, man page, docs, all root:root ($(wc -l <"$work/contents") entries)"
else
  fail "contents: missing or wrong: ${bad[*]}"
fi
dynamic=$(LC_ALL=C readelf -d "$packaged")
sections=$(LC_ALL=C readelf -S "$packaged")
if grep -qE 'RPATH|RUNPATH' <<<"$dynamic"; then
  fail "/usr/bin/corefork in the package keeps a search path: $(grep -E 'RPATH|RUNPATH' <<<"$dynamic")"
elif grep -q '\.debug_info' <<<"$sections"; then
  fail "/usr/bin/corefork in the package is not stripped"
else
  pass "/usr/bin/corefork in the package: stripped, no RPATH/RUNPATH ($(stat -c %s "$packaged") bytes)"
fi

# lintian, where installed: nothing but the tags that need a decision
# outside the build (docker/README.md: licence, changelog, maintainer) and
# CPack's harmless ldconfig calls.
if command -v lintian >/dev/null; then
  known=bogus-mail-host,no-changelog,no-copyright-file,maintscript-calls-ldconfig
  lintian --tag-display-limit 0 --suppress-tags "$known" "$deb" 2>&1 |
    grep -v '^running with root privileges' >"$work/lintian.log"
  if [ -s "$work/lintian.log" ]; then
    fail "lintian: $(cat "$work/lintian.log")"
  else
    pass "lintian: no tags beyond the known $known"
  fi
else
  note "no lintian installed: its check is left out"
fi

# --- 3. a fresh Debian 12 ------------------------------------------------------

if ! podman_cmd image exists "$BASE_IMAGE" 2>/dev/null; then
  skip "no $BASE_IMAGE image: run tests/package/prepare-base.sh (or .ci/install-deps.sh test) once"
fi
# apt reads the .deb as its unprivileged _apt user.
chmod 0755 "$work" "$out"
chmod 0644 "$deb"
debname=$(basename "$deb")
t0=$(now_ms)
# The host's network: only the archive is needed (for Depends).
# shellcheck disable=SC2086 # $sudo is empty or "sudo -n"
timeout "$INSTALL_TIMEOUT_S" $sudo podman --runtime runc run --name "$installer" \
  --network=host "${run_opts[@]}" -v "$out:/pkg:ro" -w /pkg "$BASE_IMAGE" \
  bash -c 'export DEBIAN_FRONTEND=noninteractive
           apt-get update -q || exit 90
           apt install -y ./'"$debname" >"$work/install.log" 2>&1
rc=$?
if [ $rc -eq 125 ]; then
  tail -5 "$work/install.log"
  skip "podman cannot run a container here (exit 125, see above)"
elif [ $rc -eq 90 ]; then
  tail -5 "$work/install.log"
  skip "the container cannot reach Debian's archive (apt-get update failed, see above)"
elif [ $rc -ne 0 ]; then
  tail -30 "$work/install.log"
  fail "apt install ./$debname on a fresh Debian 12 exited $rc"
  finish
fi
unpacked=$(grep -c '^Unpacking ' "$work/install.log")
pass "apt install ./$debname on a fresh Debian 12 ($(($(now_ms) - t0)) ms; $((unpacked - 1)) packages from the archive for Depends)"
grep -E '^(Setting up|Unpacking) corefork' "$work/install.log" | sed 's/^/  .. /' | head -2
podman_cmd commit -q "$installer" "$image" >/dev/null 2>"$work/commit.err" ||
  { cat "$work/commit.err"; fail "podman commit"; finish; }
podman_cmd rm -f "$installer" >/dev/null 2>&1

# No network from here on: loopback only, and no port clashes with the host.
if ! podman_cmd run -d --name "$runner" --timeout 300 --network=none "${run_opts[@]}" \
    "$image" sleep 280 >/dev/null 2>"$work/run.err"; then
  cat "$work/run.err"
  fail "podman run of the installed image"
  finish
fi
in_box() { podman_cmd exec "$runner" "$@"; }

answer=$(in_box corefork --version 2>&1)
if [ "$answer" = "corefork ${version%-*}" ]; then
  pass "corefork --version in the container: $answer"
else
  fail "corefork --version in the container: '$answer', want 'corefork ${version%-*}'"
fi
if answer=$(in_box corefork detect 2>&1) && grep -q '^workers: *[1-9]' <<<"$answer"; then
  pass "corefork detect in the container: $(grep -E '^(cgroup version|workers):' <<<"$answer" | tr -s ' ' | tr '\n' ' ')"
else
  fail "corefork detect in the container: $answer"
fi
if answer=$(in_box corefork detect --json 2>&1) && jq -e '.workers >= 1' <<<"$answer" >/dev/null 2>&1; then
  pass "corefork detect --json in the container: workers $(jq .workers <<<"$answer")"
else
  fail "corefork detect --json in the container: $answer"
fi
# shellcheck disable=SC2016 # expanded in the container
if in_box sh -c 'zcat /usr/share/man/man1/corefork.1.gz | grep -q "^\.TH COREFORK 1" &&
    test -s /usr/share/doc/corefork/configuration.md &&
    test "$(dpkg-query -W -f="\${Status}" corefork)" = "install ok installed"' 2>&1; then
  pass "installed: man page corefork(1), docs in /usr/share/doc/corefork, dpkg status ok"
else
  fail "installed: man page, docs or dpkg status missing"
fi

# The shim is where corefork looks for it: a worker (coreutils' sleep, a
# dynamic glibc program) gets it, as the start-up log says. Bounded: the log
# line is polled for 10 s, the whole run by timeout(1).
# shellcheck disable=SC2016 # expanded in the container
shim_log=$(in_box bash -c '
  export COREFORK_CONTROL_SOCKET=/tmp/control.sock
  timeout -k 5 20 corefork --workers 1 --host 127.0.0.1 --port 8080 \
    --admin 127.0.0.1:9180 --drain-delay 0 -- sleep 60 >/tmp/log 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "listen shim" /tmp/log && break
    sleep 0.1
  done
  kill -TERM $pid
  wait $pid
  echo "exit $?"
  cat /tmp/log' 2>&1)
if grep -qF "(listen shim $SHIM)" <<<"$shim_log" && grep -q '^exit 0$' <<<"$shim_log"; then
  pass "corefork in the container finds the shim at $SHIM and exits 0 on SIGTERM"
else
  fail "the shim from the package is not used, or corefork did not exit 0:"
  tail -15 <<<"$shim_log"
fi

if answer=$(in_box sh -c 'dpkg --purge corefork >/dev/null 2>&1 &&
    ! test -e /usr/bin/corefork && ! test -e /usr/lib/corefork &&
    ! test -e /usr/share/doc/corefork && ! test -e /usr/share/man/man1/corefork.1.gz &&
    echo clean' 2>&1) && [ "$answer" = clean ]; then
  pass "dpkg --purge corefork leaves no file behind"
else
  fail "dpkg --purge corefork: $answer"
fi

note "took $(($(now_ms) - started)) ms"
finish
