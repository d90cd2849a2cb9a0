#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: install what is
# missing, check the formatting, build with warnings as errors, run every unit
# and whole-binary test under CTest. The fuzz targets run for a bounded time
# before CTest, so that CTest's summary is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh test

echo "== clang-format"
mapfile -t sources < <(git ls-files 'src/*.h' 'src/*.cc' 'src/*.c' \
                         'tests/*.h' 'tests/*.cc' 'examples/*.cc' 2>/dev/null)
clang-format --dry-run -Werror "${sources[@]}"

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOREFORK_WERROR=ON >/dev/null
cmake --build "$build"
# libFuzzer with ASan+UBSan over the checked-in corpora (tests/fuzz).
echo "== fuzz (${FUZZ_SECONDS:=30}s per target)"
fuzz_build=${FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$fuzz_build" -G Ninja -DCOREFORK_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$fuzz_build" --target fuzz_targets
FUZZ_SECONDS=$FUZZ_SECONDS tests/fuzz/run.sh "$fuzz_build"

(cd "$build" && ctest --output-on-failure -j2 --timeout 300)

