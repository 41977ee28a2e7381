#!/usr/bin/env bash
# fuzz.sh DURATION: run every Go fuzz target of the module for DURATION each.
# New failing inputs land in the package's testdata/fuzz corpus (commit them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dur="${1:-10s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($dur)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" "$pkg"
  done
done
