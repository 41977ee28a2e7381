#!/usr/bin/env bash
# Instructions per request of strangler's public chain against a bare
# httputil.ReverseProxy, counted by valgrind's callgrind. BenchmarkChain
# (cmd/strangler) opens a Main with the shipped config, as `strangler serve`
# runs, and has it and the bare proxy each serve a 1 KiB GET from one
# loopback upstream in the same process. Instruction counts do not depend on
# what else the machine runs, so this shows a change of a few hundred
# instructions that the wrk benchmark cannot see through a shared host's
# noise. Each side runs twice (N and 2N requests); the difference divided by
# N removes start-up.
# Usage: bench/chain.sh [N] (default 3000). Needs valgrind. With
# CHAIN_OUT=DIR the callgrind files stay in DIR, for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "chain.sh: needs valgrind (apt-get install -y valgrind)" >&2; exit 2; }
n=${1:-3000}
if [[ -n ${CHAIN_OUT:-} ]]; then
	dir=$(realpath -m "$CHAIN_OUT")
	mkdir -p "$dir"
else
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
# Static, as strangler ships. Callgrind trips now and then over cgo's
# threads and over the signals of Go's asynchronous preemption (off below;
# one P, so goroutines still take turns at every blocking call).
CGO_ENABLED=0 go test -c -o "$dir/strangler.test" ./cmd/strangler
count() { # side requests -> instructions
	local log="$dir/$1-$2.log"
	# The test reads ../../config/strangler.yaml, as go test runs it.
	if ! (cd cmd/strangler && GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$dir/$1-$2.out" \
		"$dir/strangler.test" -test.run '^$' -test.bench "BenchmarkChain/$1\$" -test.benchtime "${2}x" >"$log" 2>&1); then
		echo "chain.sh: $1 with $2 requests failed:" >&2
		tail -20 "$log" >&2
		return 1
	fi
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
}
declare -A per
for side in reverseproxy strangler; do
	a=$(count "$side" "$n")
	b=$(count "$side" $((2 * n)))
	per[$side]=$(((b - a) / n))
	echo "$side: ${per[$side]} instructions per request"
done
echo "strangler - reverseproxy: $((per[strangler] - per[reverseproxy])) instructions per request"
