# strangler: `make run` starts the legacy stand-in and the proxy in front of
# it; `make test` runs every test. See README.md.
GO      ?= go
BIN     := bin/strangler
export GOFLAGS := -buildvcs=false

.PHONY: all build run test test-go test-standin test-fault test-fuzz vet deps clean

all: build

# As the image builds it (deploy/Containerfile): static, no cgo.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/strangler

# npm dependencies of the stand-in and of the tRPC client scenario.
deps: testbed/legacy/node_modules/.installed testbed/e2e/node_modules/.installed

# The lock is the one scripts/legacy-standin.sh takes, so that a stand-in
# starting meanwhile never sees a half-installed tree.
testbed/legacy/node_modules/.installed: testbed/legacy/package-lock.json
	cd testbed/legacy && flock .npm-install.lock npm ci --no-audit --no-fund --loglevel=error
	sha256sum < testbed/legacy/package-lock.json > testbed/legacy/node_modules/.standin-lock.sha256
	touch $@

testbed/e2e/node_modules/.installed: testbed/e2e/package-lock.json
	cd testbed/e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Builds everything, prepares PostgreSQL, starts the stand-in on :3000 and
# the proxy on :3001 in front of it; Ctrl-C stops both.
run: build deps
	scripts/run.sh

# Every test: Go unit and integration tests against real PostgreSQL, the
# stand-in's own suite, the end-to-end tests, the fault-injection suite,
# and the fuzzers briefly.
test: build deps vet test-go test-standin test-fault test-fuzz

vet:
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 -timeout 20m ./...

test-standin:
	cd testbed/legacy && npm test

# The fault-injection suite (faultinject/README.md): real processes (private
# PostgreSQL clusters, the stand-in, the samples service, fault proxies,
# strangler serve). Its files carry the faultinject build tag, so that
# test-go's ./... does not run it a second time.
test-fault: deps
	$(GO) vet -tags faultinject ./faultinject
	$(GO) test -tags faultinject -count=1 -timeout 15m ./faultinject

# Fuzzers run briefly here; run longer by hand, e.g.
#   go test -run XXX -fuzz FuzzNormalize -fuzztime 10m ./internal/routing
FUZZTIME ?= 10s
test-fuzz:
	scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin
