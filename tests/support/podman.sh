# What the podman-based shell tests (tests/container, tests/musl) share:
# the tool check, how podman is called, and how the corefork bundle is made.
# Source it after report.sh.
# shellcheck shell=bash

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"

# require_tools CMD...: skips the test when one is missing. Tests install
# nothing: `.ci/install-deps.sh test` (the README's test command) installs
# them up front.
require_tools() {
  local missing=() cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] ||
    skip "${missing[*]} not installed (run .ci/install-deps.sh test)"
  export PATH=$PATH:/usr/sbin:/sbin
}

# runc, not crun: crun refuses hybrid cgroups. These rlimits, because
# podman's defaults (taken from the host) are refused on these machines.
podman_cmd() { $sudo podman --runtime runc "$@"; }
# shellcheck disable=SC2034 # used by the scripts that source this
run_opts=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

# make_bundle COREFORK_BINARY OUT_DIR BUILD_DIR LOG: the bundle as the
# `bundle` target makes it (docker/bundle.sh, then BUILD/BundleLoader.cmake
# from cmake/Packaging.cmake: loader + glibc in lib/, PT_INTERP
# /opt/corefork/lib/ld-linux-*.so.*, the musl shim), for /opt/corefork.
# Non-zero, with LOG printed, when it fails.
make_bundle() {
  local bin=$1 out=$2 build=$3 log=$4 repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  if ! "$repo/docker/bundle.sh" "$bin" "$out" >"$log" 2>&1 ||
      ! cmake "-DBIN=$bin" "-DOUT=$out" -DPREFIX=/opt/corefork \
        "-DPATCHELF=$(command -v patchelf)" -P "$build/BundleLoader.cmake" \
        >>"$log" 2>&1; then
    cat "$log"
    return 1
  fi
}
