# Reporting for the shell tests (tests/container, tests/package): PASS/FAIL
# lines, and the "N passed, M failed" / "0 passed, 0 failed, 1 skipped"
# summary CTest matches (SKIP_REGULAR_EXPRESSION). Source it; it sets
# `passed` and `failed`.
# shellcheck shell=bash
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
note() { echo "  .. $*"; }
# Ends the test as skipped, unless something already failed: a skip of a
# later part must not hide that.
skip() {
  echo "SKIP: $*"
  [ "$failed" -eq 0 ] || finish
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
