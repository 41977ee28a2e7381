// Package shadow compares the answers of the legacy app and of the new Go
// services, off the hot path, and never at the user's expense.
//
// # On the hot path
//
// The proxy's executor calls Begin with what routing decided (Info): the
// shadower decides whether the request is compared (its route is in
// shadow or canary mode, or new with shadow.compare_in_new_mode, and it is
// declared safe: tRPC queries by their kind, other routes only when the
// configuration says so, because legacy has destructive GETs), snapshots
// it (the body buffered up to a cap; a larger one is served and the
// comparison skipped with a reason), and returns a Pending. The primary
// answers into Pending.Wrap's Tee, which streams to the client unchanged
// and keeps a bounded copy. Pending.Submit queues the comparison without
// ever waiting: with the queue full, the memory budget spent or the
// secondary's breaker open, the comparison is skipped and counted.
//
// # Off the hot path
//
// A pool of workers (started on demand, up to shadow.workers, leaving when
// idle) sends the copy (marked with the X-Strangler-Shadow
// header, so that it is never shadowed again) to the other side through a
// Caller (Handler for in-process services, Upstream for URLs, reusing the
// proxy's transport), with its own timeout and a context detached from the
// client. For tRPC only the compared calls are sent, as one batch (package
// trpc's Split). Now and then (shadow.relearn_fraction) the same safe
// request goes to legacy a second time: the scalar paths that differ
// between two legacy answers are learnt as noise for that route and
// procedure, stored in strangler.shadow_noise and shared by the replicas.
//
// # Comparing
//
// Compare understands what it compares: for tRPC, each call's envelope
// (result data structurally, error code, HTTP status, message, and a
// validation error's zod issues as a multiset); for JSON, a structural diff
// that reports JSON paths; otherwise status, selected headers and a body
// hash. Rules per route normalise first (ignore paths, compare presence
// only, map ids seen in the request's own answers, unordered arrays by
// key, numeric tolerance). Judge then classifies each difference: accepted
// (a declared difference, until its expiry), noise (learnt), or mismatch.
//
// # Records and metrics
//
// Mismatches are stored in strangler.shadow_mismatches, sampled and capped
// per route and hour, with secrets and personal data redacted (Redactor);
// a retention job deletes old ones. Store.Report groups them by route,
// procedure and path for `strangler diffs` and the admin API. Metrics:
// strangler_shadow_comparisons_total{route,procedure,outcome},
// strangler_shadow_skipped_total{route,reason}, the paired latency
// strangler_shadow_latency_delta_seconds{route} (new minus legacy), and
// strangler_shadow_mismatch_ratio{route} over five minutes (also
// MismatchRate, for the guard).
package shadow
