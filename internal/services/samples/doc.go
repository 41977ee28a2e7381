// Package samples is the Go service behind the legacy app's sample API: the
// tRPC procedures `health` and `nanopore.*` (legacy-contract.md section 4),
// answered from the `samples` schema byte for byte as legacy answers them.
//
// # Layers
//
//   - Data and logic (store.go, steps.go): plain methods with typed inputs
//     (inputs.go) that run one statement each on the injected pgx pool and
//     append the answer's JSON to a buffer (AppendCreate, AppendUpdate, ...)
//     or open a Stream (GetAll, GetProcessingSteps). Errors are *trpc.Error
//     with legacy's code and message (errors.go, contract section 6).
//   - Encoding (encode.go): rows are read as raw binary-protocol values and
//     written as JSON by hand, keys in table column order, decimals as the
//     fixed-scale text PostgreSQL prints (selected ::text, never a float),
//     timestamps as JS Date's ISO form truncated to milliseconds, strings
//     escaped like JSON.stringify. getAll streams row by row, so memory stays
//     flat whatever the table size.
//   - Wiring (procedures.go, decode.go): the procedures for package trpc's
//     Router with the input schemas of schemas.go; Handler serves them at
//     /api/trpc/....
//
// # Compatibility decisions
//
// Reproduced as legacy does it: transitions not enforced; prep stamps
// started_at every time and completed stamps completed_at, from the app
// clock, while updated_at comes from the table's trigger; update writes only
// the given fields (data {} only bumps updated_at); assign always overwrites
// library_prep_by; unknown ids answer 500 "Sample not found" except delete's
// 404 "Sample with ID '<id as sent>' not found"; create's own re-check after
// zod ("Validation failed: ..."); created_by is always the demo user.
//
// Declared fixes (accepted differences in the shadow configuration):
//   - getAll is always fresh (legacy serves a 300 s snapshot).
//   - E-mail addresses are stored as given, trimmed; legacy strips SQL
//     keywords out of them and then refuses some (Delete.Me@select.org).
//   - The processing-step procedures work as contract 4.8 and 3.6 intend
//     (legacy answers 500 "timer.done is not a function"). Their errors
//     follow the sample procedures: getProcessingSteps of an unknown sample
//     is [] (it is a filter); createDefaultProcessingSteps of an unknown
//     sample is 500 "Sample not found"; update/start/complete of an unknown
//     step is 500 "Step not found"; a value PostgreSQL refuses maps like any
//     other (estimatedDurationHours 1.5: 400 "Invalid input format").
//     results_data stores any JSON value (JSON.stringify of the input).
//     createDefaultProcessingSteps inserts the eight steps in one statement,
//     step i created one microsecond after step i-1 so that created_at order
//     is insertion order; a second call inserts eight more, as legacy's code
//     would.
//   - No stack traces, ever.
//
// # Schema
//
// migrations/samples creates the legacy tables in schema samples with the
// same columns, checks and names. created_by and uploaded_by have no foreign
// key: there is no users table in this schema. Every statement names the
// schema, so a database without it fails instead of reaching the legacy
// tables in public.
//
// # Dual writes (package dualwrite)
//
// As the primary (its write group in new mode), every write also inserts
// one samples.outbox row per row it wrote, in the same statement (a
// data-modifying CTE, see outboxed in sql.go), so that a change and its
// outbox row commit together; the proxy's relay copies the changed sample
// into the legacy tables. A call whose context carries
// dualwrite.WithSecondary is the proxy replaying a write legacy already
// answered, for comparison: a create takes legacy's id
// (Secondary.CreateID), and the whole call runs in a transaction that is
// rolled back once its answer is encoded (secondary.go): the proxy's
// converge writes legacy's rows. A primary write that finds no sample asks
// the hook set with SetMissing (the proxy's dualwrite.Writer.Rescue) and
// runs once more if the sample was brought from legacy (missing.go). Copies
// into this schema set strangler.copying for their transaction, which
// makes the updated_at trigger keep the copied value
// (migrations/samples/0003).
//
// # Requirements on the pool
//
// Results are requested in binary format (pgx.QueryResultFormats); with a
// pool in QueryExecModeExec or SimpleProtocol the service switches its own
// queries to QueryExecModeDescribeExec, which honours result formats. A
// Stream holds its connection until written or until its request ends, and
// the Router writes a batch's answers after running all its calls, so a
// batch with k getAll calls holds k connections at once: keep MaxConns above
// the largest batch.
package samples
