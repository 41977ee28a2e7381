// Package routing decides, for each request, which side answers: it compiles
// the route table from config, normalises paths the way the legacy app
// resolves them, evaluates route flags through OpenFeature into an immutable
// State, and decides per route and per tRPC procedure. It decides; it never
// forwards.
package routing
