// Package guard watches the upstreams and the new side of each route: active
// health checks now; circuit breakers and automatic rollback build on them.
package guard
