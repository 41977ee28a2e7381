// Package trpc speaks the legacy app's tRPC 11 wire format.
//
// For the router and proxy (pure functions, no I/O): ParseURL turns the
// path after /api/trpc and the query into procedure names exactly as tRPC
// does; ExtractInputs returns each call's raw input bytes or an
// *InputError; Split builds one side's sub-request of a batch; ParseBatch,
// Join and BatchStatus put the sides' answers back together with tRPC's
// status rule; AppendSuccess, AppendError, ErrorEntry and ErrorResponse build
// envelopes byte for byte (key order, JSON.stringify escaping); ParseJSONL
// decodes a batch answer in the JSONL streaming form into the same entries.
//
// For Go services: Router is an http.Handler that serves declared
// Procedures (input schemas from package validate) and answers like the
// legacy app behind Astro: envelopes, codes and statuses, every guard of
// contract section 1.7 (Astro's origin check, HEAD, 405, 415, "Cannot mix
// procedure types", lazy input parsing), the headers and chunked framing of
// section 1.8, and the JSONL streaming form of a batch (jsonl.go).
package trpc
