#!/usr/bin/env bash
# run.sh: what `make run` does. Prepares PostgreSQL, starts the legacy
# stand-in on :3000 and strangler on :3001 in front of it (admin on
# 127.0.0.1:9091), and stops both on Ctrl-C.
#
# PostgreSQL: STRANGLER_DATABASE_URL if set; else the local server
# (127.0.0.1:5432); if none answers and the server binaries are installed, a
# throwaway cluster in a temporary folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

pids=()
tmp=""
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "$tmp" ]]; then
    as_pg pg_ctl -D "$tmp/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
  fi
  echo "stopped"
}
trap cleanup INT TERM EXIT

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

db="${STRANGLER_DATABASE_URL:-}"
if [[ -z "$db" ]]; then
  if answers "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; then
    psql "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" -Atqc \
      "select 1 from pg_database where datname='strangler'" | grep -q 1 ||
      createdb -h 127.0.0.1 -U postgres strangler
    db="postgres://postgres@127.0.0.1:5432/strangler?sslmode=disable"
  elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    tmp=$(mktemp -d /tmp/strangler-run-XXXX)
    [[ $(id -u) == 0 ]] && chown postgres "$tmp"
    port=55432
    echo "no PostgreSQL answers on 127.0.0.1:5432: starting a throwaway cluster in $tmp on port $port"
    as_pg initdb -D "$tmp/data" -A trust -U postgres >/dev/null
    as_pg pg_ctl -D "$tmp/data" -l "$tmp/log" -o "-p $port -k $tmp -c listen_addresses=127.0.0.1" -w start >/dev/null
    createdb -h 127.0.0.1 -p "$port" -U postgres strangler
    db="postgres://postgres@127.0.0.1:$port/strangler?sslmode=disable"
  else
    echo "No PostgreSQL found. Set STRANGLER_DATABASE_URL, start a local server on 127.0.0.1:5432," >&2
    echo "or install the server binaries (Debian: apt-get install postgresql) so a throwaway one can start." >&2
    exit 1
  fi
fi
export STRANGLER_DATABASE_URL="$db"
export STRANGLER_LEGACY_URL="${STRANGLER_LEGACY_URL:-http://127.0.0.1:3000}"

bin/strangler migrate
scripts/legacy-standin.sh --port 3000 --host 127.0.0.1 --database-url "$db" &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:3000/health 2>/dev/null && break
  sleep 0.2
done
bin/strangler serve &
pids+=($!)
echo "legacy stand-in on http://127.0.0.1:3000, strangler on http://127.0.0.1:3001 (admin http://127.0.0.1:9091); Ctrl-C stops both"
wait -n "${pids[@]}"
