#!/usr/bin/env bash
# Installs what building and testing corefork needs, from Debian 12 packages
# only, and only the packages that are missing (a no-op on a ready machine).
# Usage: .ci/install-deps.sh [build|test]   (test = build + test tools)
set -euo pipefail

want=(build-essential cmake ninja-build pkg-config clang-format
      libcpp-httplib-dev libyaml-cpp-dev prometheus-cpp-dev libspdlog-dev
      libfmt-dev nlohmann-json3-dev libcctz-dev libgtest-dev util-linux procps curl file)
if [ "${1:-build}" = test ]; then
  # prometheus: a real scrape; clang + its runtime: the libFuzzer targets;
  # chromium + a font: the status page test (tests/status_page_test.cc)
  # renders the admin page headless and keeps a screenshot;
  # patchelf + musl-tools: the bundle's own loader and the musl build of the
  # listen shim (tests/musl/run.sh); libfaketime: recycle.schedule's test
  # runs corefork at a chosen wall-clock time (tests/recycle_test.cc);
  # the drop-in tests' real apps come from tests/apps/install.sh below.
  # (node, npm and python3-uvicorn: tests/apps/install.sh, which checks for
  # the commands, since node may come with its own npm from elsewhere).
  want+=(prometheus clang libclang-rt-14-dev podman runc jq man-db debootstrap
         lintian chromium fonts-dejavu-core patchelf musl-tools libfaketime)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
# The pinned npm frameworks the drop-in tests run (npm ci; a no-op when
# node_modules matches the lock file).
if [ "${1:-build}" = test ]; then
  "$(dirname "$0")/../tests/apps/install.sh"
  # The package test's debootstrapped Debian 12 image (cached in podman).
  "$(dirname "$0")/../tests/package/prepare-base.sh"
fi
