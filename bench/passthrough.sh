#!/usr/bin/env bash
# Passthrough benchmark of issue 2: strangler vs nginx, Caddy, a bare Go
# httputil.ReverseProxy and the bare upstream, with wrk on loopback, in
# interleaved rounds. Builds the binaries, then runs bench/cmd/passbench,
# which writes bench/results/passthrough-<date>.md and the table in
# bench/README.md. Extra arguments go to passbench (e.g. -rounds 5,
# -duration 5s, -targets refproxy,strangler). Installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in wrk nginx caddy taskset; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
	echo "passthrough.sh: missing: ${missing[*]}" >&2
	echo "install them with: apt-get install -y wrk nginx caddy util-linux" >&2
	exit 2
fi
if (($(nproc) < 2)); then
	echo "passthrough.sh: needs 2 cores (proxies on core 0, wrk and upstream on core 1)" >&2
	exit 2
fi

mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/strangler ./cmd/strangler # as shipped: static
go build -o bin/upstream ./bench/cmd/upstream
go build -o bin/refproxy ./bench/cmd/refproxy
go build -o bin/passbench ./bench/cmd/passbench

# The driver only sleeps and samples /proc; it stays off the proxies' core.
exec taskset -c 1 ./bin/passbench "$@"
