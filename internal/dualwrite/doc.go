// Package dualwrite keeps the legacy tables and a Go service's schema equal,
// with the same keys, through every flip and rollback of a write group
// (DESIGN.md "Dual writes keep identifiers equal"). It is generic over a
// Spec (the group's tables in parent order, both schemas, how each
// procedure names its rows); Samples is the first Spec.
//
// # Legacy primary (shadow, canary, and legacy mode)
//
// The proxy's executor calls Writer.Begin for a tRPC request with a
// mutation of a write group. Begin reads the body (putting it back),
// notes the rows the inputs name and how many creates the request makes,
// and stores an intent row (strangler.dualwrite_intents) BEFORE the
// request goes to legacy, leased to this replica. The primary answers
// into Pending.Wrap, which streams to the client and keeps a copy; Done
// hands the copy to a bounded worker pool and returns at once: the user
// never waits for the new side, and nothing the new side does changes the
// answer.
//
// Off the hot path a worker, for each call legacy answered with 200 in
// shadow or canary mode, replays the call on the in-process service with
// a context marker (WithSecondary: the internal channel, which no HTTP
// request can set) so that the service uses legacy's id for a create and
// writes no outbox row, and hands both answers to Options.Compare
// (JudgeWith: the shadow comparator). The service runs a replay in a
// transaction it rolls back once the answer is encoded: only the converge
// writes the new store, so a replay that runs late, or whose converge died
// with its proxy, can never leave a row legacy does not have (this is a
// choice: the wording also allows keeping the replay's rows and
// overwriting them, which leaves orphans and "newer" rows behind after a
// crash). Then it converges: it copies, from
// the legacy tables, the current rows of every affected sample (the root
// row and its child rows) into the new schema exactly (keys, every
// column, timestamps to the microsecond, values legacy changed on the way
// such as its e-mail mangling, the outcome of batch entries legacy ran
// concurrently), deleting what legacy no longer has, and deletes the
// intent. In legacy mode (unless Options.SkipLegacyMode) the same
// converge runs without the replay, so the new store stays equal after a
// rollback and a later flip needs no backfill.
//
// Every copy of one sample takes an advisory lock on the coordination
// database (the strangler schema's) before it reads its source and holds
// it until its write commits; copies always read the current source, so
// whatever order jobs run in, the last copy leaves the latest state: two
// concurrent writes of one sample end ordered.
//
// A failed converge leaves the intent pending with its error; the retry
// loop (every replica, FOR UPDATE SKIP LOCKED) converges it again with
// backoff and marks it dead with the reason after Retry.MaxAttempts
// (re-running the mutation is pointless once converge copies state). An
// intent whose lease ends unanswered (its proxy was killed, or its job
// did not fit the queue) is recovered the same way: the samples its input
// names are converged, and a create whose id was never seen is found by a
// sweep of legacy's samples submitted since the intent (minus
// SweepMargin) that the new store lacks. While the coordination database
// is down, intents wait in memory (bounded) and are stored when it is
// back; a write made while it is down and lost with the process is left
// for `strangler reconcile --repair`.
//
// Outcomes: legacy refuses a write (4xx): nothing is replayed and the
// named samples are merely re-copied (no change). Legacy fails with a 5xx
// or the proxy's own 502/504: the outcome is unknown, so the named
// samples are copied and a create is swept. The new side fails: the
// comparison is skipped or records the error; the converge does not
// depend on it. The proxy is killed between the intent and legacy's
// answer: the recovery above. A delete of a sample the other side never
// had: the copy deletes nothing.
//
// # New primary (new mode)
//
// The service commits its change and one outbox row per written row in
// the same statement (samples.outbox, see package samples). A Relay, run
// by every replica, claims pending rows with FOR UPDATE SKIP LOCKED and
// copies each changed sample's current state from the new schema into the
// legacy tables, deleting child rows itself when the sample is gone, then
// marks the rows applied in the transaction that claimed them. Legacy's
// API cannot take ids, so the relay writes the tables directly. Its
// transaction sets session_replication_role = replica, which stops
// legacy's updated_at trigger from rewriting the copied timestamps
// without taking any lock legacy would wait on; it needs a superuser or,
// on PostgreSQL 15:
//
//	GRANT SET ON PARAMETER session_replication_role TO strangler;
//
// It also switches off foreign-key checks and actions for that
// transaction only, which is why the relay deletes child rows itself.
// With both stores in one database each row applies exactly once; across
// two databases a replica killed between the two commits leaves a row to
// be applied again, which rewrites the same state.
//
// Right after a flip to new, a sample legacy wrote an instant before may
// not be converged yet. The service asks Writer.Rescue (installed with
// samples.Service.SetMissing) before it answers "Sample not found" to a
// primary write: the sample is copied from legacy under its lock, when
// legacy has it and no relay row of it is pending, and the write runs once
// more (a write that found nothing wrote nothing).
//
// Legacy reads show relayed rows as soon as they are applied, except
// legacy's nanopore.getAll: it serves a per-process snapshot for up to
// 300 s that only a legacy create refreshes, so after a rollback users
// may see a stale list (without the samples created while new was
// primary) for up to 300 s.
//
// After a rollback the relay keeps draining what new mode left; it then
// copies a sample only where legacy's row is not newer (Version column),
// and deletes only rows not written since the change. Symmetrically a
// converge still pending when the group moved to new copies only where
// legacy's row is newer. The relay's lag (age of the oldest unapplied
// row), pending and dead rows are metrics, and OutboxLag reads them for a
// rollback to report; the rollback itself waits for nothing.
//
// # Backfill, reconcile, queues
//
// Backfill copies existing legacy rows into the new schema table by table
// in key order, a batch per transaction, with its progress recorded in the
// same transaction (resumable after a kill), a rate limit and a dry run.
// Reconcile compares both stores row by row and column by column and
// reports missing, extra and differing rows with their columns; Repair
// copies the drifting samples from the side that is the source of truth
// and records each repair in strangler.dualwrite_audit. ListQueues,
// RetryQueues and DropQueues show and handle pending and dead rows of both
// queues (`strangler outbox`).
//
// # Metrics
//
// strangler_dualwrite_relay_lag_seconds{group}, _outbox_pending{group},
// _outbox_dead{group}, _relay_rows_total{group,outcome},
// _intents{group,state}, _converge_total{group,outcome},
// _converge_seconds{group}, _secondary_total{group,procedure,outcome},
// _skipped_total{group,reason}.
package dualwrite
