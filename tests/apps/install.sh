#!/usr/bin/env bash
# Installs what tests/dropin_test.cc runs: the pinned Node frameworks of
# package-lock.json into tests/apps/node_modules (npm ci), and Debian's
# uvicorn for /usr/bin/python3. Idempotent: does nothing when both are
# already there and node_modules matches the lock file. Called by
# .ci/install-deps.sh (test mode); the tests themselves never install.
set -euo pipefail
cd "$(dirname "$0")"

debs=()
command -v node >/dev/null || debs+=(nodejs)
command -v npm >/dev/null || debs+=(npm)
[ -x /usr/bin/python3 ] || debs+=(python3)
/usr/bin/python3 -c 'import uvicorn' 2>/dev/null || debs+=(python3-uvicorn)
if [ ${#debs[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${debs[@]}"
fi

# The stamp is the hash of the lock file that the last npm ci installed.
stamp=node_modules/.corefork-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   [ -f node_modules/express/package.json ]; then
  echo "tests/apps: node_modules up to date"
  exit 0
fi
npm ci --no-audit --no-fund
echo "$want" > "$stamp"
