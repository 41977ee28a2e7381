// Package guard protects users from a failing new side: active health
// checks of the upstreams (Checker), a circuit breaker per new target
// (Breakers), and automatic rollback of routes to legacy (Guard).
//
// # Counting
//
// The proxy reports each answered request or tRPC call with Observe
// (route, procedure, side, outcome, latency) and each shadow comparison
// with ObserveComparison. Outcomes come from ClassifyHTTP or ClassifyTRPC,
// which reads a tRPC answer (or the first bytes of one) per call without
// building it: 5xx answers and entries of status 500 or more fail, unless
// their message is a normal error of that procedure (guard.normal_errors:
// 500 "Sample not found" is how the contract says "no such sample"); 4xx,
// validation errors included, never count. Counts go into per-second
// buckets in memory: no lock shared between routes, no allocation, no I/O.
//
// # Windows across replicas
//
// Every guard.flush_interval each replica adds its buckets to
// strangler.guard_samples (one row per replica, route, procedure, side and
// second, with a fixed latency histogram). Every guard.evaluate_interval
// each replica sums the window of every route out of legacy over all
// replicas, so three replicas decide on what one would see. A window never
// reaches back before the route's flag last changed: a person's flip starts
// afresh. While the database is down the buckets stay in memory and the
// windows are not evaluated; the breaker and health signals, which are
// local, still trip.
//
// # Signals
//
// For each guarded route (guard.defaults, guard.routes overrides): the new
// side's error rate against an absolute threshold and against legacy's rate
// for the same procedures (this window when legacy served enough of them,
// else the baseline recorded the last time it did); the new side's p99
// against legacy's; the shadow mismatch rate; consecutive failed health
// checks of the new target; its breaker opening or failing its half-open
// probes. Minimum sample counts keep a handful of requests from tripping.
//
// # Tripping
//
// A trip takes an advisory lock, re-reads the route's flag (another replica
// or a person may have acted), rolls the route back through the same path
// as `strangler rollback` (a write group member takes its whole group),
// and records one strangler.guard_events row in the lock's transaction
// (unique per write group and flag version). It logs, counts
// strangler_guard_trips_total{route,signal} and posts the optional webhook.
// The guard never flips a route out of legacy: only a person does.
package guard
