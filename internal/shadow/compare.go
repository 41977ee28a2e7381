package shadow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nanopore/strangler/internal/trpc"
	"github.com/nanopore/strangler/internal/validate"
)

// Exchange is one side's answer, as far as it was kept.
type Exchange struct {
	Status int
	Header http.Header
	Body   []byte
	// Truncated: the answer was longer than the tee kept; not comparable.
	Truncated bool
	// Latency from the request to the end of the answer.
	Latency time.Duration
}

// CallRef names one tRPC call: the route that takes it and its procedure.
type CallRef struct {
	Route     string `json:"route"`
	Procedure string `json:"procedure"`
}

// Pair is what Compare compares: two answers to the same request (for
// tRPC, to the same list of calls).
type Pair struct {
	// Route labels the request (the route id, or a batch label).
	Route string
	// Calls are the tRPC calls both answers answer, in order; nil for a
	// request that is not tRPC.
	Calls []CallRef
	// Batch: the answers are batch arrays (?batch=1).
	Batch       bool
	Legacy, New Exchange
	// Inputs are the calls' raw inputs, for records (optional).
	Inputs [][]byte
}

// Verdict is the comparison of one tRPC call, or of one whole answer.
type Verdict struct {
	Route     string `json:"route"`
	Procedure string `json:"procedure"`
	// Outcome is match, mismatch, accepted or noise (after classification;
	// Compare alone leaves every difference a mismatch).
	Outcome   string `json:"outcome"`
	Diffs     []Diff `json:"diffs,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	// LegacyEntry and NewEntry are the call's own envelopes (tRPC).
	LegacyEntry, NewEntry []byte `json:"-"`
	// legacyError is legacy's error message, for accepted differences that
	// apply only to a known legacy failure.
	legacyError string
}

// Outcomes of a comparison (the outcome label; skipped and error come from
// the shadower).
const (
	OutcomeMatch    = "match"
	OutcomeMismatch = "mismatch"
	OutcomeAccepted = "accepted"
	OutcomeNoise    = "noise"
	OutcomeSkipped  = "skipped"
	OutcomeError    = "error"
)

// Compare compares two answers under the rules of rs and returns one
// verdict per tRPC call (plus one for the request as a whole when a batch's
// status or headers differ), or one verdict for any other request. Every
// difference is a mismatch until classified (Shadower.Judge). It is usable
// on its own, for example on the two answers of a dual write.
func Compare(p Pair, rs *RuleSet) []Verdict {
	ids := newIDMap()
	if p.Calls == nil {
		return []Verdict{compareHTTP(p, rs, ids)}
	}
	if v, ok := identical(p, rs); ok {
		return v
	}
	la, errA := envelopes(p.Legacy.Body, p.Batch)
	na, errB := envelopes(p.New.Body, p.Batch)
	if errA != nil || errB != nil || len(la) != len(p.Calls) || len(na) != len(p.Calls) {
		// Not answers tRPC would give for these calls (a proxy error page, a
		// framework 403...): compare them as plain HTTP answers.
		ref := requestRef(p)
		v := compareHTTP(Pair{Route: ref.Route, Legacy: p.Legacy, New: p.New}, rs, ids)
		v.Procedure = ref.Procedure
		return []Verdict{v}
	}
	out, sameEntries := compareCalls(p, rs, ids, la, na)
	ref := requestRef(p)
	d := newDiffer(rs.For(ref.Route, ref.Procedure), ids)
	// A status that the entries explain is reported once, by the entries.
	if p.Legacy.Status != p.New.Status && sameEntries {
		d.status(p.Legacy.Status, p.New.Status)
	}
	d.headers(p.Legacy.Header, p.New.Header)
	if len(d.diffs) > 0 {
		if len(p.Calls) == 1 {
			out[0].Diffs = append(out[0].Diffs, d.diffs...)
		} else {
			out = append(out, Verdict{Route: ref.Route, Procedure: ref.Procedure, Diffs: d.diffs})
		}
	}
	return out
}

// compareCalls compares the envelopes call by call; sameEntries reports
// whether every call has the same status on both sides.
func compareCalls(p Pair, rs *RuleSet, ids *idMap, la, na []envelope) (out []Verdict, sameEntries bool) {
	out = make([]Verdict, 0, len(p.Calls)+1)
	sameEntries = true
	for i, c := range p.Calls {
		d := newDiffer(rs.For(c.Route, c.Procedure), ids)
		v := Verdict{Route: c.Route, Procedure: c.Procedure, LegacyEntry: la[i].raw, NewEntry: na[i].raw}
		if bytes.Equal(la[i].raw, na[i].raw) {
			// The same bytes: nothing to normalise, nothing differs (even ids
			// pair with themselves).
			v.legacyError = legacyErrorOf(la[i].obj)
		} else {
			v.legacyError = compareEnvelope(d, la[i].obj, na[i].obj)
		}
		v.Diffs, v.Truncated = d.diffs, d.truncated
		sameEntries = sameEntries && la[i].status == na[i].status
		out = append(out, v)
	}
	return out, sameEntries
}

// identical answers the common case without parsing: the same status,
// headers and body bytes match call by call.
func identical(p Pair, rs *RuleSet) ([]Verdict, bool) {
	if p.Legacy.Status != p.New.Status || !bytes.Equal(p.Legacy.Body, p.New.Body) {
		return nil, false
	}
	ref := requestRef(p)
	for _, h := range rs.For(ref.Route, ref.Procedure).headers {
		if strings.Join(p.Legacy.Header.Values(h), ", ") != strings.Join(p.New.Header.Values(h), ", ") {
			return nil, false
		}
	}
	out := make([]Verdict, len(p.Calls))
	for i, c := range p.Calls {
		out[i] = Verdict{Route: c.Route, Procedure: c.Procedure}
	}
	return out, true
}

// requestRef names the request as a whole: its one call, or the batch.
func requestRef(p Pair) CallRef {
	if len(p.Calls) == 1 {
		return p.Calls[0]
	}
	return CallRef{Route: p.Route}
}

type envelope struct {
	raw    []byte
	obj    *validate.Object
	status int
}

// envelopes parses a tRPC answer into its envelopes.
func envelopes(body []byte, batch bool) ([]envelope, error) {
	if !batch {
		v, err := validate.ParseJSON(body)
		if err != nil {
			return nil, err
		}
		obj, ok := v.(*validate.Object)
		if !ok || !isEnvelope(obj) {
			return nil, trpc.ErrNotBatch
		}
		st, _ := trpc.EnvelopeStatus(body)
		return []envelope{{raw: body, obj: obj, status: st}}, nil
	}
	entries, err := trpc.ParseBatch(body)
	if err != nil {
		return nil, err
	}
	out := make([]envelope, len(entries))
	for i, e := range entries {
		v, _ := validate.ParseJSON(e.Raw)
		obj, _ := v.(*validate.Object)
		if obj == nil {
			return nil, trpc.ErrNotBatch
		}
		out[i] = envelope{raw: e.Raw, obj: obj, status: e.Status}
	}
	return out, nil
}

func isEnvelope(o *validate.Object) bool {
	_, r := o.Get("result")
	_, e := o.Get("error")
	return r || e
}

// compareEnvelope compares one call's envelopes and returns legacy's error
// message, if legacy failed.
func compareEnvelope(d *differ, a, b *validate.Object) (legacyError string) {
	ar, aOK := a.Get("result")
	br, bOK := b.Get("result")
	ea, eb := errorOf(a), errorOf(b)
	if ea != nil {
		legacyError = ea.message
	}
	switch {
	case aOK && bOK:
		d.value("$", "$", dataOf(ar), dataOf(br))
	case ea != nil && eb != nil:
		d.errors(ea, eb)
	default:
		if !d.rule(PathOutcome).ignore {
			d.add(Diff{Path: PathOutcome, Kind: "outcome", Legacy: describe(aOK, ea), New: describe(bOK, eb)})
		}
	}
	return legacyError
}

func legacyErrorOf(env *validate.Object) string {
	if e := errorOf(env); e != nil {
		return e.message
	}
	return ""
}

func dataOf(result any) any {
	if o, ok := result.(*validate.Object); ok {
		return o.Value("data")
	}
	return result
}

func describe(ok bool, e *trpcError) string {
	if ok || e == nil {
		return "result"
	}
	return "error " + e.code + ": " + shorten(e.message)
}

// trpcError is the part of an error envelope worth comparing; data.stack
// is never looked at (contract 1.5).
type trpcError struct {
	code, message, path string
	httpStatus, number  float64
}

func errorOf(env *validate.Object) *trpcError {
	ev, ok := env.Get("error")
	if !ok {
		return nil
	}
	eo, _ := ev.(*validate.Object)
	if eo == nil {
		return &trpcError{}
	}
	e := &trpcError{}
	e.message, _ = eo.String("message")
	e.number, _ = eo.Number("code")
	if data, _ := eo.Value("data").(*validate.Object); data != nil {
		e.code, _ = data.String("code")
		e.httpStatus, _ = data.Number("httpStatus")
		e.path, _ = data.String("path")
	}
	return e
}

// errors compares two tRPC errors: the code first (status and number follow
// from it), then the message: zod issues as a multiset (contract 5), and
// JSON.parse wording not at all (contract 7).
func (d *differ) errors(a, b *trpcError) {
	if a.code != b.code {
		d.scalarDiff(PathErrCode, a.code, b.code)
		return
	}
	if a.httpStatus != b.httpStatus {
		d.scalarDiff(PathErrHTTP, validate.FormatNumber(a.httpStatus), validate.FormatNumber(b.httpStatus))
	}
	if a.number != b.number {
		d.scalarDiff(PathErrNumber, validate.FormatNumber(a.number), validate.FormatNumber(b.number))
	}
	if a.path != b.path {
		d.scalarDiff(PathErrPath, a.path, b.path)
	}
	ia, okA := zodIssues(a.message)
	ib, okB := zodIssues(b.message)
	switch {
	case okA && okB:
		onlyA, onlyB := issueDiff(ia, ib)
		if (len(onlyA) > 0 || len(onlyB) > 0) && !d.rule(PathErrIssues).ignore {
			d.add(Diff{Path: PathErrIssues, Kind: "issues", Legacy: showIssues(onlyA), New: showIssues(onlyB)})
		}
	case !okA && !okB && a.code == string(trpc.BadRequest) && strings.Contains(a.message, "JSON"):
		// Node's JSON.parse wording and positions; a Go decoder words them
		// its own way.
	case a.message != b.message:
		d.scalarDiff(PathErrMsg, a.message, b.message)
	}
}

func (d *differ) scalarDiff(path, a, b string) {
	if d.rule(path).ignore {
		return
	}
	d.add(Diff{Path: path, General: path, Kind: "changed", Legacy: shorten(a), New: shorten(b)})
}

func (d *differ) status(a, b int) {
	d.scalarDiff(PathStatus, fmt.Sprint(a), fmt.Sprint(b))
}

// headers compares the rules' selected headers.
func (d *differ) headers(a, b http.Header) {
	for _, h := range d.rules.headers {
		va, vb := strings.Join(a.Values(h), ", "), strings.Join(b.Values(h), ", ")
		if va != vb {
			d.scalarDiff(PathHeader+h, va, vb)
		}
	}
}

// zodIssues parses a zod validation message (a JSON array of issues) into
// one key per issue: path, code and message.
func zodIssues(msg string) ([]string, bool) {
	if !strings.HasPrefix(strings.TrimSpace(msg), "[") {
		return nil, false
	}
	v, err := validate.ParseJSONText(msg)
	if err != nil {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	keys := make([]string, 0, len(arr))
	for _, el := range arr {
		o, ok := el.(*validate.Object)
		if !ok {
			return nil, false
		}
		code, _ := o.String("code")
		m, _ := o.String("message")
		keys = append(keys, string(validate.Stringify(o.Value("path")))+" "+code+" "+m)
	}
	return keys, true
}

// issueDiff returns the issues only in a and only in b, as multisets.
func issueDiff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, k := range a {
		count[k]++
	}
	for _, k := range b {
		if count[k] > 0 {
			count[k]--
			continue
		}
		onlyB = append(onlyB, k)
	}
	for _, k := range a {
		if count[k] > 0 {
			count[k]--
			onlyA = append(onlyA, k)
		}
	}
	return onlyA, onlyB
}

func showIssues(keys []string) string {
	return shorten(strings.Join(keys, "; "))
}

// compareHTTP compares two answers that are not tRPC: status, selected
// headers, and the body structurally when both are JSON, by hash otherwise.
func compareHTTP(p Pair, rs *RuleSet, ids *idMap) Verdict {
	d := newDiffer(rs.For(p.Route, ""), ids)
	if p.Legacy.Status != p.New.Status {
		d.status(p.Legacy.Status, p.New.Status)
	}
	d.headers(p.Legacy.Header, p.New.Header)
	if bytes.Equal(p.Legacy.Body, p.New.Body) {
		return Verdict{Route: p.Route, Diffs: d.diffs, Truncated: d.truncated}
	}
	a, errA := jsonBody(p.Legacy)
	b, errB := jsonBody(p.New)
	switch {
	case errA == nil && errB == nil:
		d.value("$", "$", a, b)
	case !bytes.Equal(p.Legacy.Body, p.New.Body) && !d.rule(PathBody).ignore:
		d.add(Diff{Path: PathBody, General: PathBody, Kind: "body", Legacy: bodyHash(p.Legacy.Body), New: bodyHash(p.New.Body)})
	}
	return Verdict{Route: p.Route, Diffs: d.diffs, Truncated: d.truncated}
}

func jsonBody(e Exchange) (any, error) {
	if len(e.Body) == 0 || !strings.Contains(strings.ToLower(e.Header.Get("Content-Type")), "json") {
		return nil, errNotJSON
	}
	return validate.ParseJSON(e.Body)
}

var errNotJSON = fmt.Errorf("not JSON")

func bodyHash(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("sha256:%s (%d bytes)", hex.EncodeToString(sum[:8]), len(b))
}
