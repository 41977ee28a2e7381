// Package faultinject is the fault-injection suite of issue 7: tests only,
// behind the faultinject build tag (`make test-fault`, which `make test`
// runs). Each test starts real processes: a private PostgreSQL cluster
// (initdb and pg_ctl on a free port), the legacy stand-in, the samples
// service alone (`strangler serve-service samples`), a fault proxy
// (internal/faultproxy) in front of it and, where a test needs it, one in
// front of legacy, and `strangler serve` whose samples routes point at the
// fault proxy by URL. See README.md for what each test shows.
package faultinject
