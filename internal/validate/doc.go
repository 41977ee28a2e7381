// Package validate is a small declarative validator that reproduces zod
// 3.25.76 as the legacy tRPC app runs it (parseAsync): the same accepted
// values and transformed output, and the same issue list, byte for byte once
// rendered by FormatIssues (the message tRPC sends in its BAD_REQUEST
// envelope).
//
// Declare a schema once with String, Number, Enum, Shape (objects), Union and the
// wrappers Optional, Nullable, Default, Refine and Transform; then Parse raw
// JSON (decoded like JSON.parse: numbers are float64, the last duplicate key
// wins, lone surrogates survive) or Validate an already decoded value.
//
// Values use a JavaScript value model: nil (null), bool, float64, string,
// []any, *Object (ordered keys) and Undefined. Use Decode to copy a
// validated value into a Go struct.
//
// What is exact and what is modelled: string checks, number checks, enums,
// objects (strip mode), defaults and optional fields follow zod's source
// line by line, including each issue kind's JSON key order. The order in
// which zod's async parsing settles unions, objects and effects (microtasks)
// is modelled as rounds: synchronous checks first, then unions in creation
// order, then whatever waited for them. That model is exact for the shapes
// used here (objects of primitives and unions, one refine on top); deeply
// nested unions inside refined objects could order differently from V8.
package validate
