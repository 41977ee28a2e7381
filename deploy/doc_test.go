// Package deploy holds no code: its tests check what deploy/ ships.
//
//   - manifests_test.go: every Kubernetes manifest validates against the
//     Kubernetes OpenAPI schema (the structural schema client-go embeds,
//     generated from the API server's OpenAPI document), offline; the
//     Prometheus Operator resources decode strictly into their upstream Go
//     types; and the settings that matter hold (three replicas, probes and
//     scraping on the admin listener, hardening, the NetworkPolicy lets
//     through exactly what the proxy uses, the cluster environment passes
//     `strangler check-config`).
//   - image_test.go: the Containerfile's build flags give a static binary,
//     run as a non-root user from the image's layout.
//   - rules_test.go: the alert rules parse, promtool checks and unit-tests
//     them, and the PrometheusRule equals the rule file.
//   - metrics_test.go: every metric the dashboard and the alerts name is on
//     a live proxy's /metrics, with the right type for its use.
//   - grants_test.go: the SQL in deploy/sql/ is enough for a role that is
//     not a superuser to migrate, flip, backfill, relay and reconcile.
package deploy
