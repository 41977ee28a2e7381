#!/usr/bin/env bash
# legacy-standin.sh: run the legacy stand-in (testbed/legacy) in the foreground.
#
#   scripts/legacy-standin.sh --port PORT --database-url URL [--host H]
#       [--getall-ttl S] [--request-log FILE] [--test-routes]
#
# On first use, or when package-lock.json changed since the last install, it
# runs a quiet `npm ci` (serialised with flock, so parallel tests can call it
# at once), then execs node on server.mjs with the given arguments. Works from
# any working directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
app="$(cd "$here/../testbed/legacy" && pwd)"
stamp="$app/node_modules/.standin-lock.sha256"

installed() {
  [[ -f "$stamp" ]] && [[ "$(sha256sum < "$app/package-lock.json")" == "$(cat "$stamp")" ]]
}

if ! installed; then
  exec 9>"$app/.npm-install.lock"
  flock 9
  if ! installed; then
    (cd "$app" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    sha256sum < "$app/package-lock.json" > "$stamp"
  fi
  flock -u 9
  exec 9>&-
fi

exec node "$app/server.mjs" "$@"
