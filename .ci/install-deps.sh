#!/usr/bin/env bash
# Installs what building and testing corefork needs, from Debian 12 packages
# only, and only the packages that are missing (a no-op on a ready machine).
# Usage: .ci/install-deps.sh [build|test]   (test = build + test tools)
set -euo pipefail

want=(build-essential cmake ninja-build pkg-config clang-format
      libcpp-httplib-dev libyaml-cpp-dev prometheus-cpp-dev libspdlog-dev
      libfmt-dev libgtest-dev util-linux procps curl)
if [ "${1:-build}" = test ]; then
  want+=(prometheus)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
