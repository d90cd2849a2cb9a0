#!/usr/bin/env bash
# Tests for charts/corefork, without helm (none can be installed here).
#
#   tests/chart/run.sh [COREFORK_BIN]
#
# Renders the chart with a small test-only renderer (tests/chart/render: Go
# text/template + sprig, as Helm does) for the default values and several
# variants (tests/chart/values/*.yaml), then checks the output:
#   - the renderer rejects a Kubernetes version outside Chart.yaml's
#     kubeVersion, as Helm does;
#   - the renderer rejects values that break values.schema.json (checked with
#     gojsonschema as Helm does, and again with ajv: both must agree) or the
#     templates' own rules, with the expected message (values/bad/*.yaml);
#   - yamllint is clean (tests/chart/yamllint.yaml);
#   - every object is valid against the Kubernetes schemas (npm
#     kubernetes-models, @kubernetes-models/prometheus-operator), unknown
#     fields included; probes, ports, selectors, the grace-period arithmetic,
#     env, security context, NOTES.txt (tests/chart/js/check.mjs);
#   - the ConfigMap's corefork.yaml passes `corefork check-config`.
# Installs what it needs: apt-get (Go, sprig, yaml.v2, gojsonschema, yamllint)
# and npm into a cache folder (kubernetes-models, ajv, yaml); set
# COREFORK_CHART_TEST_CACHE to move it. Ends with "N passed, M failed" and
# exits non-zero on any failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CHART=$ROOT/charts/corefork
COREFORK=${1:-${COREFORK_BIN:-$ROOT/build-chart/corefork}}
CACHE=${COREFORK_CHART_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/corefork-chart-test}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/corefork-chart.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)

# The variants rendered and checked (tests/chart/values/NAME.yaml; "default"
# is values.yaml alone).
VARIANTS=(default servicemonitor jobs drain drain-odd pdb-hpa podmonitor-listeners env-map
  k8s-extras prestop-sleep grace-override networkpolicy app-metrics-port recycle)

PASSED=0 FAILED=0 SKIPPED=0
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
finish() {
  echo "chart tests took $(($(date +%s) - START))s"
  if [ "$SKIPPED" -gt 0 ]; then
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  else
    echo "$PASSED passed, $FAILED failed"
  fi
  [ "$FAILED" -eq 0 ]
  exit $?
}
indent() { sed 's/^/    /'; }

# ------------------------------------------------------------------ set-up
setup_apt() {
  local need=()
  command -v go >/dev/null || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || need+=(golang-github-masterminds-sprig-dev)
  [ -d /usr/share/gocode/src/gopkg.in/yaml.v2 ] || need+=(golang-gopkg-yaml.v2-dev)
  [ -d /usr/share/gocode/src/github.com/xeipuuv/gojsonschema ] || need+=(golang-github-xeipuuv-gojsonschema-dev)
  command -v yamllint >/dev/null || need+=(yamllint)
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "installing ${need[*]} (apt-get)"
  if [ "$(id -u)" != 0 ]; then
    echo "not root: cannot apt-get install ${need[*]}" >&2
    return 1
  fi
  # Other tests may run apt-get at the same time (ctest -j): wait for the lock.
  local try
  for try in 1 2 3 4 5 6; do
    if { apt-get -o DPkg::Lock::Timeout=120 update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
        --no-install-recommends "${need[@]}"; } >"$WORK/apt.log" 2>&1; then
      return 0
    fi
    grep -q 'Could not get lock\|Unable to lock' "$WORK/apt.log" || break
    sleep $((try * 5))
  done
  tail -20 "$WORK/apt.log" >&2
  return 1
}

setup_npm() {
  local dir=$CACHE/node stamp
  stamp=$(sha256sum "$HERE/js/package.json" | cut -d' ' -f1)
  mkdir -p "$dir"
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$dir/node_modules" ]; then
    echo "installing npm packages into $dir"
    cp "$HERE/js/package.json" "$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1 ||
      { tail -20 "$WORK/npm.log" >&2; return 1; }
    echo "$stamp" >"$dir/.stamp"
  fi
  # ESM imports resolve node_modules next to the script: run copies from here.
  mkdir -p "$WORK/js"
  cp "$HERE"/js/*.mjs "$WORK/js/"
  ln -s "$dir/node_modules" "$WORK/js/node_modules"
}

setup_renderer() {
  # GOPATH mode, offline, with Debian's Go packages. The source must sit in a
  # GOPATH folder (with its go.mod) for sprig/v3 to resolve.
  local src=$CACHE/gopath/src/corefork-chart-render stamp
  stamp=$( (cat "$HERE"/render/*.go "$HERE/render/go.mod"; go version) | sha256sum | cut -d' ' -f1)
  RENDER=$CACHE/render
  if [ "$(cat "$CACHE/render.stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$RENDER" ]; then
    return 0
  fi
  echo "building the test renderer"
  mkdir -p "$src"
  cp "$HERE"/render/*.go "$HERE/render/go.mod" "$src/"
  (cd "$src" && GO111MODULE=off GOPATH="$CACHE/gopath:/usr/share/gocode" GOPROXY=off \
    GOFLAGS='' GOCACHE="$CACHE/go-build" go build -o "$RENDER" .) >"$WORK/go.log" 2>&1 ||
    { cat "$WORK/go.log" >&2; return 1; }
  echo "$stamp" >"$CACHE/render.stamp"
}

mkdir -p "$CACHE"
setup_apt || { fail "set-up: apt-get install"; finish; }
setup_npm || { fail "set-up: npm install"; finish; }
setup_renderer || { fail "set-up: go build of tests/chart/render"; finish; }
if [ ! -x "$COREFORK" ]; then
  fail "set-up: corefork binary $COREFORK not found (pass it as the first argument)"
  finish
fi
OUT=$WORK/out
mkdir -p "$OUT"

# render NAME [-strict] [-f FILE]...: renders into $OUT/NAME.{yaml,values.json,notes.txt}
render() {
  local name=$1
  shift
  "$RENDER" -chart "$CHART" -o "$OUT/$name.yaml" \
    -values-out "$OUT/$name.values.json" -notes-out "$OUT/$name.notes.txt" "$@" \
    2>"$OUT/$name.err"
}

# ------------------------------------------------------------ chart files
if yamllint -s -c "$HERE/yamllint-chart.yaml" "$CHART/Chart.yaml" "$CHART/values.yaml" \
  "$HERE"/values/*.yaml "$HERE"/values/bad/*.yaml >"$WORK/lint-chart.log" 2>&1; then
  pass "yamllint: Chart.yaml, values.yaml and the test values"
else
  fail "yamllint: Chart.yaml, values.yaml and the test values"
  indent <"$WORK/lint-chart.log"
fi

# ---------------------------------------------------------------- variants
RENDERED=()
for v in "${VARIANTS[@]}"; do
  args=(-strict)
  [ "$v" = default ] || args+=(-f "$HERE/values/$v.yaml")
  if render "$v" "${args[@]}"; then
    pass "$v: renders (schema-valid values; strict: no reference to a missing value)"
    RENDERED+=("$v")
  else
    fail "$v: renders"
    indent <"$OUT/$v.err"
    continue
  fi
  if yamllint -s -c "$HERE/yamllint.yaml" "$OUT/$v.yaml" >"$OUT/$v.lint" 2>&1; then
    pass "$v: yamllint clean"
  else
    fail "$v: yamllint clean"
    indent <"$OUT/$v.lint"
  fi
done

# Default values also render in Helm's default (non-strict) mode, identically.
if render default-lax && cmp -s "$OUT/default.yaml" "$OUT/default-lax.yaml"; then
  pass "default: non-strict render is identical"
else
  fail "default: non-strict render is identical"
  indent <"$OUT/default-lax.err"
fi

# Release name and namespace flow into names, selectors and the monitor.
if render named -strict -name shop -namespace prod -f "$HERE/values/servicemonitor.yaml" &&
  grep -q '^  name: shop-corefork$' "$OUT/named.yaml" &&
  grep -q '^  namespace: prod$' "$OUT/named.yaml" &&
  grep -q '^    - prod$' "$OUT/named.yaml"; then
  pass "release name and namespace: shop-corefork, ServiceMonitor in and watching prod"
else
  fail "release name and namespace: shop-corefork, ServiceMonitor in and watching prod"
  indent <"$OUT/named.err"
fi

# Chart.yaml's kubeVersion (>=1.23.0-0) admits the oldest supported release
# and vendor builds; the preStop sleep admits 1.29 builds (the bad cases hold
# the versions refused).
if render kube-1.23 -strict -kube-version v1.23.0 &&
  render kube-eks -strict -kube-version v1.29.4-eks-036c24b -f "$HERE/values/prestop-sleep.yaml"; then
  pass "kubeVersion: v1.23.0 renders; v1.29.4-eks-036c24b renders with a preStop sleep"
else
  fail "kubeVersion: v1.23.0 renders; v1.29.4-eks-036c24b renders with a preStop sleep"
  indent <"$OUT/kube-1.23.err"
  indent <"$OUT/kube-eks.err"
fi

# ----------------------------------------------------------- manifest checks
if [ ${#RENDERED[@]} -gt 0 ]; then
  node "$WORK/js/check.mjs" "$OUT" "$COREFORK" "$CHART" "${RENDERED[@]}" >"$WORK/check.log" 2>&1
  rc=$?
  cat "$WORK/check.log"
  p=$(grep -c '^PASS ' "$WORK/check.log")
  f=$(grep -c '^FAIL ' "$WORK/check.log")
  s=$(grep -c '^SKIP ' "$WORK/check.log")
  PASSED=$((PASSED + p)) FAILED=$((FAILED + f)) SKIPPED=$((SKIPPED + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "check.mjs exited with $rc"
  fi
fi

# ------------------------------------------------------ rejected values
# Each values/bad/*.yaml starts with "# expect: TEXT": rendering must fail and
# print TEXT (a values.schema.json violation or a template's fail message).
# An optional second line "# args: ARGS" adds renderer arguments (e.g.
# -kube-version v1.28.9).
AGREE=()
for v in "${RENDERED[@]}"; do AGREE+=("valid:$OUT/$v.values.json"); done
for f in "$HERE"/values/bad/*.yaml; do
  name=bad-$(basename "$f" .yaml)
  expect=$(sed -n '1s/^# expect: //p' "$f")
  if [ -z "$expect" ]; then
    fail "$name: has no '# expect:' line"
    continue
  fi
  read -r -a extra <<<"$(sed -n '2s/^# args: //p' "$f")"
  if render "$name" "${extra[@]}" -f "$f"; then
    fail "$name: rejected (it rendered)"
  elif grep -qF -- "$expect" "$OUT/$name.err"; then
    pass "$name: rejected with \"$expect\""
    if grep -q "values don't meet the specifications" "$OUT/$name.err"; then
      AGREE+=("invalid:$OUT/$name.values.json")
    else
      AGREE+=("valid:$OUT/$name.values.json")
    fi
  else
    fail "$name: rejected with \"$expect\""
    indent <"$OUT/$name.err"
  fi
done

# A second schema validator (ajv) must agree with the first on every values
# set above: valid for the variants and the template-rejected ones, invalid
# for the schema-rejected ones.
node "$WORK/js/validate-values.mjs" --agree "$CHART/values.schema.json" "${AGREE[@]}" >"$WORK/agree.log" 2>&1
rc=$?
cat "$WORK/agree.log"
p=$(grep -c '^PASS ' "$WORK/agree.log")
f=$(grep -c '^FAIL ' "$WORK/agree.log")
PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  fail "validate-values.mjs --agree exited with $rc"
fi

finish
