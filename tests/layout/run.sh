#!/usr/bin/env bash
# The layout check (cmake/Modules.cmake) refuses what it promises to refuse:
# configures copies of the source tree with (1) an include of an undeclared
# module and (2) a declared cycle, and expects `cmake` to fail naming them;
# (3) the tree as it is must configure.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

copy() {  # a fresh copy of what configuring reads
  rm -rf "$work/tree" "$work/b"
  mkdir -p "$work/tree"
  cp -r "$src/CMakeLists.txt" "$src/cmake" "$src/src" "$src/examples" \
    "$work/tree/"
  mkdir -p "$work/tree/tests"
}
configure() {
  cmake -S "$work/tree" -B "$work/b" -DBUILD_TESTING=OFF >"$work/out" 2>&1
}
fail=0
expect_refused() {  # NAME PATTERN
  if configure; then
    echo "FAIL: $1: cmake accepted it"; fail=1
  elif ! grep -q -- "$2" "$work/out"; then
    echo "FAIL: $1: cmake failed without naming it:"; cat "$work/out"; fail=1
  else
    echo "ok: $1: $(grep -m1 -- "$2" "$work/out" | sed 's/^ *//')"
  fi
}

copy
configure || { echo "FAIL: the tree itself does not configure:"; cat "$work/out"; exit 1; }
echo "ok: the tree configures"

copy
echo '#include "admin/router.h"' >>"$work/tree/src/util/format.cc"
expect_refused "util includes admin" "src/util/format.cc: #include \"admin/router.h\""

copy
sed -i 's/^corefork_module(schedule DEPS /corefork_module(schedule DEPS config /' \
  "$work/tree/CMakeLists.txt"
grep -q 'corefork_module(schedule DEPS config ' "$work/tree/CMakeLists.txt" ||
  { echo "FAIL: could not declare the cycle (CMakeLists.txt changed?)"; exit 1; }
expect_refused "schedule <-> config" "module cycle: .*schedule -> config -> schedule"

exit $fail
