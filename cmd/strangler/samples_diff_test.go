package main

// Issue 4, end to end: the Go samples service, mounted in the proxy with
// every sample route in new mode, answers like legacy. The differential
// scenario (testbed/e2e/samples-scenario.mjs, through the real @trpc/client
// and raw HTTP) runs once against a legacy stand-in and once through the
// proxy; every answer must be identical after mapping ids and masking
// timestamps (contract 7), except the declared fixes, which the scenario
// tags by name and which are checked for their intended behaviour instead.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/internal/validate"
)

// samplesProxy is an in-process proxy whose sample routes are all in new
// mode (the Go service on the samples schema of the proxy's database), in
// front of a legacy stand-in on a database of its own, which must only see
// what no sample route takes.
type samplesProxy struct {
	*Main
	behind *testutil.Standin
	db     string
	// routes are the ids of the routes whose target is the samples service.
	routes []string
}

// startSamplesProxy starts the proxy and moves the sample routes to new the
// way an operator would: `strangler flip samples new` moves the write group
// (every mutation), and each read route moves alone.
func startSamplesProxy(t *testing.T) *samplesProxy {
	t.Helper()
	p := &samplesProxy{
		behind: testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), RequestLog: true}),
		db:     migratedDB(t),
	}
	p.Main = startReplica(t, p.behind.URL, p.db)
	for _, r := range p.Config.Routes {
		if r.Target == "service:samples" {
			p.routes = append(p.routes, r.ID)
		}
	}
	if len(p.routes) != 12 {
		t.Fatalf("the shipped config has %d sample routes, want the 12 procedures: %v", len(p.routes), p.routes)
	}
	for _, id := range []string{"samples", "health", "nanopore.getAll", "nanopore.getProcessingSteps"} {
		if code, out, errOut := cliRun(t, p.db, "flip", id, "new", "--reason", "issue 4: samples service"); code != 0 {
			t.Fatalf("flip %s: exit %d %s %s", id, code, out, errOut)
		}
	}
	testutil.Eventually(t, e2eTimeout, "every sample route in new mode", func() bool {
		st := p.router.State()
		for _, id := range p.routes {
			if r, ok := st.Table.ByID(id); !ok || st.Mode(r).Mode.String() != "new" {
				return false
			}
		}
		return true
	})
	return p
}

// sampleProcedure says whether name is answered by the samples service.
func (p *samplesProxy) sampleProcedure(name string) bool { return slices.Contains(p.routes, name) }

// The transcript of samples-differential.mjs.
type (
	diffStep struct {
		Step      string            `json:"step"`
		Via       string            `json:"via"`
		Calls     []diffCall        `json:"calls"`
		Outcomes  []json.RawMessage `json:"outcomes"`
		Exchanges []diffExchange    `json:"exchanges"`
	}
	diffCall struct {
		Path  string          `json:"path"`
		Input json.RawMessage `json:"input"`
		Fix   string          `json:"fix"`
	}
	diffExchange struct {
		Method  string            `json:"method"`
		Target  string            `json:"target"`
		ReqBody *string           `json:"reqBody"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
)

// runDifferential runs the scenario against base and parses its transcript.
func runDifferential(t *testing.T, base string, args ...string) []diffStep {
	t.Helper()
	out := runNode(t, "samples-differential.mjs", append([]string{"--url", base}, args...)...)
	var steps []diffStep
	if err := json.Unmarshal(out, &steps); err != nil {
		t.Fatalf("transcript of %s: %v\n%.2000s", base, err, out)
	}
	return steps
}

// runNode runs a script of testbed/e2e and returns its stdout.
func runNode(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	dir := filepath.Join(testutil.RepoRoot(t), "testbed", "e2e")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@trpc", "client")); err != nil {
		t.Fatalf("the tRPC client is not installed (run `make deps`): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*e2eTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, script)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstderr:\n%s", script, args, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestSamplesServiceAnswersLikeLegacyThroughTheProxy is issue 4's
// differential test: 199 calls of every procedure, through @trpc/client's
// httpLink and httpBatchLink and raw HTTP, against a stand-in and through
// the proxy with every sample route in new mode. (Its first version found
// three trpc differences, fixed in b3088cf: a null batch member, the JSONL
// streaming form, and the framing of Astro's 403.)
func TestSamplesServiceAnswersLikeLegacyThroughTheProxy(t *testing.T) {
	t.Parallel()
	direct := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t)})
	proxy := startSamplesProxy(t)
	legacy := runDifferential(t, direct.URL)
	viaGo := runDifferential(t, proxy.PublicURL(), "--token", testToken)
	if len(legacy) != len(viaGo) {
		t.Fatalf("the scenario took %d steps against legacy and %d through the proxy", len(legacy), len(viaGo))
	}
	calls, kinds := coverage(t, proxy, legacy)
	checkAnsweredBy(t, proxy, viaGo)
	d := newDiffer(t, legacy, viaGo)
	d.compareAll()
	d.checkFixes()
	t.Logf("%d steps, %d calls (%v): %d compared identical, declared fixes checked: %v; JSON.parse messages masked: %d (%d worded alike)",
		len(legacy), calls, kinds, d.identical, d.fixCounts, d.parseMasked, d.parseAlike)
}

// coverage requires issue 4's breadth: 150 calls or more, every procedure,
// single and batched, through both links and raw HTTP.
func coverage(t *testing.T, p *samplesProxy, steps []diffStep) (int, map[string]int) {
	t.Helper()
	calls, kinds, procs := 0, map[string]int{}, map[string]bool{}
	for _, s := range steps {
		calls += len(s.Calls)
		kinds[s.Via]++
		for _, c := range s.Calls {
			procs[c.Path] = true
		}
		for _, ex := range s.Exchanges {
			if strings.Contains(ex.Target, "batch=1") {
				kinds["batched requests"]++
			}
		}
	}
	if calls < 150 {
		t.Errorf("the scenario makes %d calls; issue 4 asks for at least 150", calls)
	}
	for _, id := range p.routes {
		if !procs[id] {
			t.Errorf("the scenario never calls %s", id)
		}
	}
	for _, k := range []string{"httpLink", "httpBatchLink", "raw", "batched requests"} {
		if kinds[k] == 0 {
			t.Errorf("the scenario has no %s step", k)
		}
	}
	return calls, kinds
}

// checkAnsweredBy requires every exchange naming only sample procedures to
// be answered by the Go service, and the legacy stand-in behind the proxy to
// have seen only the others.
func checkAnsweredBy(t *testing.T, p *samplesProxy, steps []diffStep) {
	t.Helper()
	toLegacy := map[string]int{}
	for _, s := range steps {
		for _, ex := range s.Exchanges {
			want := "service:samples"
			for _, name := range procedureNames(ex.Target) {
				if !p.sampleProcedure(name) {
					want = "legacy"
				}
			}
			if got := ex.Headers["x-strangler-target"]; got != want {
				t.Errorf("step %q: %s %s answered by %q, want %q", s.Step, ex.Method, ex.Target, got, want)
			}
			if want == "legacy" {
				toLegacy[ex.Method+" "+ex.Target]++
			}
			delete(ex.Headers, "x-strangler-target")
		}
	}
	got := map[string]int{}
	for _, r := range p.behind.Requests(t) {
		if strings.HasPrefix(r.URL, "/api/trpc") { // not the proxy's health checks
			got[r.Method+" "+r.URL]++
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(toLegacy) {
		t.Errorf("legacy behind the proxy received %v, want only %v", got, toLegacy)
	}
}

// procedureNames lists the procedures of a tRPC request target.
func procedureNames(target string) []string {
	path, _, _ := strings.Cut(target, "?")
	rest := strings.Trim(strings.TrimPrefix(path, "/api/trpc"), "/")
	return strings.Split(rest, ",")
}

// Placeholders of contract 7's normalisation.
var (
	anyUUID   = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	wholeISO  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	stableIDs = map[string]bool{demoUserID: true, "00000000-0000-0000-0000-000000000000": true,
		"00000000-0000-4000-8000-00000000abcd": true}
	// jsonParseMessage matches V8's JSON.parse wording, which the contract
	// lets a Go decoder word differently (compare code, status, path only).
	jsonParseMessage = regexp.MustCompile(`in JSON at position \d+|^Unexpected end of JSON input$|^Unexpected token`)
)

// idMap maps one side's ids to placeholders in order of first appearance.
type idMap struct {
	ids map[string]string
	// frozen maps without registering: the declared fixes create ids the
	// other side never has, which must not shift the numbering.
	frozen bool
	// keep leaves unknown ids as they are (ids both sides were sent).
	keep bool
}

func (m *idMap) text(s string) string {
	return anyUUID.ReplaceAllStringFunc(s, func(id string) string {
		lower := strings.ToLower(id)
		if stableIDs[lower] {
			return id
		}
		ph, ok := m.ids[lower]
		if !ok {
			if m.keep {
				return id
			}
			if m.frozen {
				return "<id:?>"
			}
			ph = fmt.Sprintf("<id:%d>", len(m.ids)+1)
			m.ids[lower] = ph
		}
		if id != lower {
			return strings.ToUpper(ph) // an upper-case id stays recognisable
		}
		return ph
	})
}

// value normalises a decoded JSON value in document order.
func (m *idMap) value(v any) any {
	switch x := v.(type) {
	case string:
		if wholeISO.MatchString(x) {
			return "<ts>"
		}
		return m.text(x)
	case []any:
		for i := range x {
			x[i] = m.value(x[i])
		}
	case *validate.Object:
		for _, k := range x.Keys() {
			x.Set(k, m.value(x.Value(k)))
		}
	}
	return v
}

// body normalises an answer body: JSON keeps its key order, JSONL (the
// streaming form) is normalised line by line, anything else as text.
func (m *idMap) body(s string) string {
	if v, err := validate.ParseJSONText(s); err == nil {
		return string(validate.AppendValue(nil, m.value(v)))
	}
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if v, err := validate.ParseJSONText(line); err == nil {
			lines[i] = string(validate.AppendValue(nil, m.value(v)))
		} else {
			lines[i] = m.text(line)
		}
	}
	return strings.Join(lines, "\n")
}

// parseJSON decodes JSON text keeping key order; nil when it is not JSON.
func parseJSON(s string) any {
	v, err := validate.ParseJSONText(s)
	if err != nil {
		return nil
	}
	return v
}

// entries splits an exchange's body into one envelope per call: the array
// elements of a batch answer, else the whole body.
func entries(ex diffExchange) []any {
	v := parseJSON(ex.Body)
	if arr, ok := v.([]any); ok && strings.Contains(ex.Target, "batch=1") {
		return arr
	}
	return []any{v}
}

// entryStatus is the HTTP status tRPC gives one envelope.
func entryStatus(env any, whole int) int {
	o, _ := env.(*validate.Object)
	if o == nil {
		return whole
	}
	e, _ := o.Value("error").(*validate.Object)
	if e == nil {
		return 200
	}
	data, _ := e.Value("data").(*validate.Object)
	if data == nil {
		return whole
	}
	n, _ := data.Number("httpStatus")
	return int(n)
}

// envelopeData returns a success envelope's data, or nil.
func envelopeData(env any) (any, bool) {
	o, _ := env.(*validate.Object)
	if o == nil {
		return nil, false
	}
	r, _ := o.Value("result").(*validate.Object)
	if r == nil {
		return nil, false
	}
	return r.Get("data")
}

// envelopeError returns an error envelope's message and data.path.
func envelopeError(env any) (msg, path string, ok bool) {
	o, _ := env.(*validate.Object)
	if o == nil {
		return "", "", false
	}
	e, _ := o.Value("error").(*validate.Object)
	if e == nil {
		return "", "", false
	}
	msg, _ = e.String("message")
	if data, _ := e.Value("data").(*validate.Object); data != nil {
		path, _ = data.String("path")
	}
	return msg, path, true
}

// callsOf maps each envelope of an exchange to the step's call it answers:
// calls travel in the order they were made, one per listed name.
func callsOf(s diffStep, ex diffExchange, used []bool) []int {
	var out []int
	for _, name := range procedureNames(ex.Target) {
		idx := -1
		for i, c := range s.Calls {
			if !used[i] && c.Path == name {
				idx, used[i] = i, true
				break
			}
		}
		out = append(out, idx)
	}
	return out
}

// Sides of a comparison.
const (
	onLegacy = 0
	onGo     = 1
)

var sideName = [2]string{"legacy", "go"}

// differ compares the two transcripts step by step.
type differ struct {
	t     *testing.T
	steps [2][]diffStep
	ids   [2]*idMap
	fixes []fixCall
	model *stepsModel

	identical, parseMasked, parseAlike int
	fixCounts                          map[string]int
}

// fixCall is one call that exercises a declared fix, as each side answered.
type fixCall struct {
	step, call int
	name, path string
	entry      [2]any // the call's envelope
	status     [2]int
	input      [2]any // the input each side sent
}

func newDiffer(t *testing.T, legacy, viaGo []diffStep) *differ {
	return &differ{t: t, steps: [2][]diffStep{legacy, viaGo},
		ids:       [2]*idMap{{ids: map[string]string{}}, {ids: map[string]string{}}},
		fixCounts: map[string]int{}}
}

// compareAll compares every step: requests, exchanges and client outcomes.
func (d *differ) compareAll() {
	for i := range d.steps[onLegacy] {
		s := [2]diffStep{d.steps[onLegacy][i], d.steps[onGo][i]}
		if s[0].Step != s[1].Step || len(s[0].Exchanges) != len(s[1].Exchanges) {
			d.t.Errorf("step %d: %q made %d requests on legacy, %q made %d through the proxy", i,
				s[0].Step, len(s[0].Exchanges), s[1].Step, len(s[1].Exchanges))
			continue
		}
		d.compareStep(i, s)
	}
}

func (d *differ) compareStep(i int, s [2]diffStep) {
	tagged := false
	for _, c := range s[onLegacy].Calls {
		tagged = tagged || c.Fix != ""
	}
	used := [2][]bool{make([]bool, len(s[0].Calls)), make([]bool, len(s[1].Calls))}
	for k := range s[onLegacy].Exchanges {
		ex := [2]diffExchange{s[0].Exchanges[k], s[1].Exchanges[k]}
		if !tagged {
			d.same(s[0].Step, "request", d.request(onLegacy, ex[0]), d.request(onGo, ex[1]))
		}
		calls := callsOf(s[onLegacy], ex[onLegacy], used[onLegacy])
		callsOf(s[onGo], ex[onGo], used[onGo])
		for side := range 2 {
			checkCreateTimes(d.t, s[side].Step, sideName[side], ex[side])
		}
		d.compareExchange(i, s, ex, calls)
	}
	for c, call := range s[onLegacy].Calls {
		if call.Fix != "" || s[onLegacy].Outcomes == nil {
			continue
		}
		d.same(s[0].Step, fmt.Sprintf("client outcome of call %d", c),
			d.ids[onLegacy].body(string(s[0].Outcomes[c])), d.ids[onGo].body(string(s[1].Outcomes[c])))
	}
}

// compareExchange compares one exchange whole, or entry by entry when some
// of its calls exercise a declared fix.
func (d *differ) compareExchange(i int, s [2]diffStep, ex [2]diffExchange, calls []int) {
	fixed := false
	for _, c := range calls {
		fixed = fixed || c >= 0 && s[onLegacy].Calls[c].Fix != ""
	}
	name := s[onLegacy].Step
	if !fixed {
		if d.same(name, ex[0].Method+" "+ex[0].Target, d.answer(onLegacy, ex[0], true), d.answer(onGo, ex[1], true)) {
			d.identical += len(calls)
		}
		return
	}
	d.same(name, "headers", d.answer(onLegacy, ex[0], false), d.answer(onGo, ex[1], false))
	env := [2][]any{entries(ex[0]), entries(ex[1])}
	for j, c := range calls {
		call := s[onLegacy].Calls[c]
		if call.Fix == "" {
			if d.same(name, fmt.Sprintf("entry %d", j), d.entryText(onLegacy, env[0][j]), d.entryText(onGo, env[1][j])) {
				d.identical++
			}
			continue
		}
		f := fixCall{step: i, call: c, name: call.Fix, path: call.Path}
		for side := range 2 {
			f.entry[side] = env[side][j]
			f.status[side] = entryStatus(env[side][j], ex[side].Status)
			f.input[side] = callInput(s[side], ex[side], c, j)
		}
		d.fixes = append(d.fixes, f)
		d.fixCounts[call.Fix]++
	}
}

// request is a normalised request line and body.
func (d *differ) request(side int, ex diffExchange) string {
	m := d.ids[side]
	out := ex.Method + " " + m.text(ex.Target)
	if ex.ReqBody != nil {
		out += " " + m.body(*ex.ReqBody)
	}
	return out
}

// answer is a normalised answer: status (optional), headers, body.
func (d *differ) answer(side int, ex diffExchange, withBody bool) string {
	h, _ := json.Marshal(ex.Headers) // sorted keys
	if !withBody {
		return string(h)
	}
	return fmt.Sprintf("%d %s %s", ex.Status, h, d.ids[side].body(ex.Body))
}

func (d *differ) entryText(side int, env any) string {
	return string(validate.AppendValue(nil, d.ids[side].value(env)))
}

// parseMessage finds JSON.parse error messages in normalised text.
var parseMessage = regexp.MustCompile(`"message":"(?:[^"\\]|\\.)*?(?:in JSON at position \d+|Unexpected end of JSON input|Unexpected token)(?:[^"\\]|\\.)*"`)

// same reports a difference; JSON.parse wording is compared only when
// everything else is equal (contract 7: compare code, status and path).
func (d *differ) same(step, what, legacy, viaGo string) bool {
	if legacy == viaGo {
		if parseMessage.MatchString(legacy) {
			d.parseMasked++
			d.parseAlike++
		}
		return true
	}
	const mask = `"message":"<JSON.parse message>"`
	if parseMessage.MatchString(legacy) &&
		parseMessage.ReplaceAllString(legacy, mask) == parseMessage.ReplaceAllString(viaGo, mask) {
		d.parseMasked++
		return true
	}
	d.t.Errorf("step %q, %s differs:\nlegacy: %.3000s\ngo:     %.3000s", step, what, legacy, viaGo)
	return false
}

// callInput is the input a side sent for call c (entry j of ex).
func callInput(s diffStep, ex diffExchange, c, j int) any {
	if s.Via != "raw" {
		return parseJSON(string(s.Calls[c].Input))
	}
	if ex.ReqBody == nil {
		return nil
	}
	v := parseJSON(*ex.ReqBody)
	if o, ok := v.(*validate.Object); ok && strings.Contains(ex.Target, "batch=1") {
		return o.Value(fmt.Sprint(j))
	}
	return v
}

// checkCreateTimes checks contract 2.1's create equalities on every sample
// a create returned: submitted_at = created_at = updated_at, no start or
// completion.
func checkCreateTimes(t *testing.T, step, side string, ex diffExchange) {
	t.Helper()
	for j, name := range procedureNames(ex.Target) {
		if name != "nanopore.create" {
			continue
		}
		env := entries(ex)
		if j >= len(env) {
			continue
		}
		data, ok := envelopeData(env[j])
		o, _ := data.(*validate.Object)
		if !ok || o == nil {
			continue
		}
		sub, _ := o.String("submitted_at")
		cr, _ := o.String("created_at")
		up, _ := o.String("updated_at")
		if sub == "" || sub != cr || sub != up || o.Value("started_at") != nil || o.Value("completed_at") != nil {
			t.Errorf("step %q on %s: create's timestamps break contract 2.1: %s", step, side, validate.AppendValue(nil, o))
		}
	}
}

// The declared fixes (DESIGN.md, "Compatibility decisions") and the check of
// each one's intended behaviour.
var declaredFixes = map[string]func(*differ, fixCall) error{
	"steps":        (*differ).checkStepsFix,
	"getAll-fresh": (*differ).checkFreshFix,
	"email":        (*differ).checkEmailFix,
}

// checkFixes checks every tagged call, in scenario order, and requires each
// declared fix to have been exercised.
func (d *differ) checkFixes() {
	d.model = &stepsModel{samples: map[string][]string{}, rows: map[string]*validate.Object{}}
	for _, f := range d.fixes {
		check, ok := declaredFixes[f.name]
		if !ok {
			d.t.Errorf("step %q tags an undeclared fix %q", d.steps[onLegacy][f.step].Step, f.name)
			continue
		}
		if err := check(d, f); err != nil {
			d.t.Errorf("declared fix %s, step %q (%s): %v\nlegacy: %s\ngo:     %s", f.name, d.steps[onLegacy][f.step].Step,
				f.path, err, validate.AppendValue(nil, f.entry[onLegacy]), validate.AppendValue(nil, f.entry[onGo]))
		}
	}
	for name := range declaredFixes {
		if d.fixCounts[name] == 0 {
			d.t.Errorf("the scenario never exercises the declared fix %s", name)
		}
	}
}

// wantError checks an error envelope's status, message and path.
func wantError(env any, gotStatus, status int, message, path string) error {
	msg, p, ok := envelopeError(env)
	if !ok || gotStatus != status || msg != message || p != path {
		return fmt.Errorf("want %d %q at %q, got %d %q at %q", status, message, path, gotStatus, msg, p)
	}
	return nil
}

// checkFreshFix: a tagged getAll comes where legacy's snapshot is stale; the
// scenario then creates a sample ("... (refresh)") and reads again ("...
// (confirm)"). The Go answer must be the confirmed list without the new
// sample; legacy's must not (else the step never exercised the defect).
func (d *differ) checkFreshFix(f fixCall) error {
	steps := d.steps[onLegacy]
	name := steps[f.step].Step
	if f.step+2 >= len(steps) || steps[f.step+1].Step != name+" (refresh)" || steps[f.step+2].Step != name+" (confirm)" {
		return fmt.Errorf("not followed by %q and %q", name+" (refresh)", name+" (confirm)")
	}
	for side := range 2 {
		s := d.steps[side]
		var created struct{ Data struct{ ID string } }
		_ = json.Unmarshal(s[f.step+1].Outcomes[0], &created)
		confirm, _ := envelopeData(entries(s[f.step+2].Exchanges[0])[0])
		list, _ := confirm.([]any)
		var without []any
		for _, row := range list {
			if id, _ := row.(*validate.Object).String("id"); id != created.Data.ID {
				without = append(without, row)
			}
		}
		stale, _ := envelopeData(f.entry[side])
		got, want := string(validate.AppendValue(nil, stale)), string(validate.AppendValue(nil, without))
		if len(without) != len(list)-1 || f.status[side] != 200 {
			return fmt.Errorf("%s: the refresh did not create a listed sample, or getAll failed", sideName[side])
		}
		if side == onGo && got != want {
			return fmt.Errorf("the Go service's getAll is not the fresh list:\n got %s\nwant %s", got, want)
		}
		if side == onLegacy && got == want {
			return fmt.Errorf("legacy answered fresh here: the step does not exercise the snapshot")
		}
	}
	return nil
}

// checkEmailFix: the Go service stores the address as given (trimmed);
// legacy strips SQL keywords out of it, and create then refuses what no
// longer looks like an address. Everything else must still match.
func (d *differ) checkEmailFix(f fixCall) error {
	in, _ := f.input[onGo].(*validate.Object)
	if data, ok := in.Value("data").(*validate.Object); ok {
		in = data
	}
	email, _ := in.String("submitterEmail")
	mangled := legacyEmail(email)
	if mangled == email {
		return fmt.Errorf("legacy keeps %q: not an e-mail fix case", email)
	}
	goData, _ := envelopeData(f.entry[onGo])
	goRow, _ := goData.(*validate.Object)
	if goRow == nil || f.status[onGo] != 200 {
		return fmt.Errorf("the Go service refused %q", email)
	}
	if got, _ := goRow.String("submitter_email"); got != strings.TrimSpace(email) {
		return fmt.Errorf("the Go service stored %q for %q", got, email)
	}
	if f.status[onLegacy] != 200 {
		if f.path != "nanopore.create" || serviceEmail.MatchString(mangled) {
			return fmt.Errorf("legacy refused %q unexpectedly", email)
		}
		return wantError(f.entry[onLegacy], f.status[onLegacy], 400, "Validation failed: Invalid email format", f.path)
	}
	legacyData, _ := envelopeData(f.entry[onLegacy])
	legacyRow := legacyData.(*validate.Object)
	if got, _ := legacyRow.String("submitter_email"); got != mangled {
		return fmt.Errorf("legacy stored %q for %q, want %q", got, email, mangled)
	}
	rows := [2]*validate.Object{legacyRow, goRow}
	var text [2]string
	for side := range 2 {
		rows[side].Set("submitter_email", "<as stored>")
		d.ids[side].frozen = true
		text[side] = string(validate.AppendValue(nil, d.ids[side].value(rows[side])))
		d.ids[side].frozen = false
	}
	if text[0] != text[1] {
		return fmt.Errorf("the rows differ beyond the address:\nlegacy %s\ngo     %s", text[0], text[1])
	}
	return nil
}

// stepsModel is what the step procedures should have stored on the Go side
// (contract 4.8 intent, 3.6 defaults), built from the answers as they come.
type stepsModel struct {
	samples map[string][]string         // sample id -> its step ids in order
	rows    map[string]*validate.Object // step id -> its row as last answered
}

// defaultSteps are contract 3.6's eight steps and estimated hours.
var defaultSteps = []struct {
	name  string
	hours float64
}{{"Sample QC", 1}, {"Library Preparation", 4}, {"Library QC", 1}, {"Sequencing Setup", 1},
	{"Sequencing Run", 48}, {"Basecalling", 2}, {"Quality Assessment", 1}, {"Data Delivery", 1}}

const stepKeys = "id,sample_id,step_name,step_status,assigned_to,started_at,completed_at,estimated_duration_hours,notes,results_data,created_at,updated_at"

// checkStepsFix: legacy answers every valid step call with 500 timer.done;
// the Go service does what the procedure is meant to do.
func (d *differ) checkStepsFix(f fixCall) error {
	if err := wantError(f.entry[onLegacy], f.status[onLegacy], 500, "timer.done is not a function", f.path); err != nil {
		return fmt.Errorf("legacy: %w", err)
	}
	m, env, status := d.model, f.entry[onGo], f.status[onGo]
	if f.path == "nanopore.getProcessingSteps" || f.path == "nanopore.createDefaultProcessingSteps" {
		sample, _ := f.input[onGo].(string)
		if f.path == "nanopore.getProcessingSteps" {
			return m.wantList(env, status, sample)
		}
		return m.created(env, status, sample)
	}
	in, _ := f.input[onGo].(*validate.Object)
	id, _ := in.String("stepId")
	prev, ok := m.rows[id]
	if !ok {
		return wantError(env, status, 500, "Step not found", f.path)
	}
	want := parseJSON(string(validate.AppendValue(nil, prev))).(*validate.Object)
	var stamp string
	switch f.path {
	case "nanopore.updateProcessingStep":
		up, _ := in.Value("updates").(*validate.Object)
		if h, ok := up.Number("estimatedDurationHours"); ok && h != float64(int64(h)) {
			return wantError(env, status, 400, "Invalid input format", f.path)
		}
		for _, k := range [][2]string{{"assignedTo", "assigned_to"}, {"notes", "notes"},
			{"estimatedDurationHours", "estimated_duration_hours"}, {"resultsData", "results_data"}} {
			if v, ok := up.Get(k[0]); ok {
				want.Set(k[1], v)
			}
		}
	case "nanopore.startProcessingStep":
		want.Set("step_status", "in_progress")
		want.Set("assigned_to", orNull(in, "assignedTo"))
		stamp = "started_at"
	case "nanopore.completeProcessingStep":
		want.Set("step_status", "completed")
		want.Set("notes", orNull(in, "notes"))
		want.Set("results_data", orNull(in, "resultsData"))
		stamp = "completed_at"
	}
	return m.wantRow(env, status, want, stamp)
}

// orNull is `input.key || null`.
func orNull(o *validate.Object, key string) any {
	v := o.Value(key)
	if validate.IsUndefined(v) || v == "" || v == false || v == 0.0 {
		return nil
	}
	return v
}

// wantRow checks an updated step against want; updated_at and the stamped
// column (now) must be set, every other column must be as expected.
func (m *stepsModel) wantRow(env any, status int, want *validate.Object, stamp string) error {
	data, _ := envelopeData(env)
	got, _ := data.(*validate.Object)
	if status != 200 || got == nil {
		return fmt.Errorf("want 200 and a step")
	}
	for _, k := range []string{"updated_at", stamp} {
		if k == "" {
			continue
		}
		if v, _ := got.String(k); !wholeISO.MatchString(v) {
			return fmt.Errorf("%s is %v, want a timestamp", k, got.Value(k))
		}
		want.Set(k, got.Value(k))
	}
	if g, w := validate.AppendValue(nil, got), validate.AppendValue(nil, want); !bytes.Equal(g, w) {
		return fmt.Errorf("step row\n got %s\nwant %s", g, w)
	}
	id, _ := got.String("id")
	m.rows[id] = got
	return nil
}

// wantList checks getProcessingSteps against the model (an unknown sample
// has no steps: [] is a filter's answer).
func (m *stepsModel) wantList(env any, status int, sample string) error {
	want := []any{}
	for _, id := range m.samples[sample] {
		want = append(want, m.rows[id])
	}
	data, _ := envelopeData(env)
	if g, w := validate.AppendValue(nil, data), validate.AppendValue(nil, want); status != 200 || !bytes.Equal(g, w) {
		return fmt.Errorf("want 200 and the steps in created order\n got %d %s\nwant %s", status, g, w)
	}
	return nil
}

// created checks createDefaultProcessingSteps: the eight default steps, all
// pending, for an existing sample; 500 Sample not found otherwise.
func (m *stepsModel) created(env any, status int, sample string) error {
	if stableIDs[sample] {
		return wantError(env, status, 500, "Sample not found", "nanopore.createDefaultProcessingSteps")
	}
	data, _ := envelopeData(env)
	list, _ := data.([]any)
	if status != 200 || len(list) != len(defaultSteps) {
		return fmt.Errorf("want 200 and %d steps, got %d and %d", len(defaultSteps), status, len(list))
	}
	for i, v := range list {
		row := v.(*validate.Object)
		if strings.Join(row.Keys(), ",") != stepKeys {
			return fmt.Errorf("step %d keys %v, want %s", i, row.Keys(), stepKeys)
		}
		name, _ := row.String("step_name")
		hours, _ := row.Number("estimated_duration_hours")
		sid, _ := row.String("sample_id")
		st, _ := row.String("step_status")
		if name != defaultSteps[i].name || hours != defaultSteps[i].hours || sid != sample || st != "pending" ||
			row.Value("assigned_to") != nil || row.Value("started_at") != nil || row.Value("notes") != nil || row.Value("results_data") != nil {
			return fmt.Errorf("step %d is %s", i, validate.AppendValue(nil, row))
		}
		id, _ := row.String("id")
		m.rows[id] = row
		m.samples[sample] = append(m.samples[sample], id)
	}
	return nil
}
