package shadow

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
)

func TestGlobAndGeneral(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"$[*].updated_at", "$[*].updated_at", true},
		{"$[*].updated_at", "$[*].created_at", false},
		{"$..submitter_email", "$.submitter_email", true},
		{"$..submitter_email", "$[*].submitter_email", true},
		{"$..submitter_email", "$.x.y[*].submitter_email", true},
		{"$..id", "$.sample_id", false},
		{"$..id", "$[*].id", true},
		{"$.*", "$.a", true},
		{"$.*", "$.a.b", false},
		{"$**", "$.a.b[*].c", true},
		{"**", "error.code", true},
		{"nanopore.*", "nanopore.getAll", true},
		{"nanopore.*ProcessingStep*", "nanopore.getProcessingSteps", true},
		{"nanopore.*ProcessingStep*", "nanopore.getAll", false},
		{"", "anything", true},
		{"status", "status", true},
	}
	for _, c := range cases {
		if got := NewGlob(c.pat).Match(c.path); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pat, c.path, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"$[3].a[12].b": "$[*].a[*].b", "$['a[1]'][2]": "$['a[1]'][*]", "status": "status", "$[*]": "$[*]",
	} {
		if got := General(in); got != want {
			t.Errorf("General(%q) = %q, want %q", in, got, want)
		}
	}
}

// diffsOf compares two JSON bodies as plain HTTP answers.
func diffsOf(t *testing.T, rules []config.ShadowRule, legacy, next string) []Diff {
	t.Helper()
	cfg := config.Shadow{Rules: rules}
	v := Compare(Pair{Route: "r", Legacy: jsonEx(200, legacy), New: jsonEx(200, next)}, NewRuleSet(cfg))
	if len(v) != 1 {
		t.Fatalf("want one verdict, got %d", len(v))
	}
	return v[0].Diffs
}

func jsonEx(status int, body string) Exchange {
	return Exchange{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

func paths(ds []Diff) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Path+" "+d.Kind)
	}
	return out
}

func TestJSONDiff(t *testing.T) {
	ts := []config.ShadowRule{{Presence: []string{"$..updated_at"}}}
	cases := []struct {
		name        string
		rules       []config.ShadowRule
		legacy, new string
		want        []string
	}{
		{"equal", nil, `{"a":1,"b":[1,2]}`, `{"a":1,"b":[1,2]}`, nil},
		{"changed field", nil, `{"a":1,"b":"x"}`, `{"a":1,"b":"y"}`, []string{"$.b changed"}},
		{"missing field", nil, `{"a":1,"b":"x"}`, `{"a":1}`, []string{"$.b missing"}},
		{"extra field", nil, `{"a":1}`, `{"a":1,"c":true}`, []string{"$.c extra"}},
		{"extra element", nil, `[{"id":1}]`, `[{"id":1},{"id":2}]`, []string{"$[1] extra"}},
		{"type", nil, `{"a":"1"}`, `{"a":1}`, []string{"$.a type"}},
		{"key order", nil, `{"a":1,"b":2}`, `{"b":2,"a":1}`, []string{"$ key_order"}},
		{"odd key", nil, `{"a b":1}`, `{"a b":2}`, []string{"$['a b'] changed"}},
		{"ignored", []config.ShadowRule{{Ignore: []string{"$[*].t"}}}, `[{"t":1,"k":1}]`, `[{"t":2,"k":1}]`, nil},
		{"presence same", ts, `[{"updated_at":"2026-01-01T00:00:00.000Z"}]`, `[{"updated_at":"2027-01-01T00:00:00.000Z"}]`, nil},
		{"presence null", ts, `[{"updated_at":"2026-01-01T00:00:00.000Z"}]`, `[{"updated_at":null}]`, []string{"$[0].updated_at changed"}},
		{"tolerance", []config.ShadowRule{{Tolerance: []config.NumericTolerance{{Path: "$.x", Abs: 0.01}}}}, `{"x":1.001}`, `{"x":1.009}`, nil},
		{"beyond tolerance", []config.ShadowRule{{Tolerance: []config.NumericTolerance{{Path: "$.x", Abs: 0.01}}}}, `{"x":1}`, `{"x":1.5}`, []string{"$.x changed"}},
		{"unordered", []config.ShadowRule{{Unordered: []config.UnorderedArray{{Path: "$", Key: "id"}}}},
			`[{"id":"a","v":1},{"id":"b","v":2}]`, `[{"id":"b","v":2},{"id":"a","v":1}]`, nil},
		{"unordered changed", []config.ShadowRule{{Unordered: []config.UnorderedArray{{Path: "$", Key: "id"}}}},
			`[{"id":"a","v":1},{"id":"b","v":2}]`, `[{"id":"b","v":3},{"id":"a","v":1}]`, []string{"$[1].v changed"}},
		{"unordered extra", []config.ShadowRule{{Unordered: []config.UnorderedArray{{Path: "$", Key: "id"}}}},
			`[{"id":"a"}]`, `[{"id":"c"},{"id":"a"}]`, []string{"$[0] extra"}},
		{"ids mapped", []config.ShadowRule{{MapIDs: []string{"$..id", "$..sample_id"}}},
			`[{"id":"L1","s":[{"sample_id":"L1"}]},{"id":"L2"}]`, `[{"id":"N1","s":[{"sample_id":"N1"}]},{"id":"N2"}]`, nil},
		{"ids inconsistent", []config.ShadowRule{{MapIDs: []string{"$..id", "$..sample_id"}}},
			`[{"id":"L1","s":[{"sample_id":"L1"}]}]`, `[{"id":"N1","s":[{"sample_id":"N2"}]}]`, []string{"$[0].s[0].sample_id id_mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := paths(diffsOf(t, c.rules, c.legacy, c.new))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("diffs %q, want %q", got, c.want)
			}
		})
	}
}

func TestHTTPCompareStatusHeadersBody(t *testing.T) {
	rs := NewRuleSet(config.Shadow{})
	l := Exchange{Status: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("<p>a</p>")}
	n := Exchange{Status: 503, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("down")}
	v := Compare(Pair{Route: "page", Legacy: l, New: n}, rs)
	want := []string{"status changed", "header.content-type changed", "body body"}
	if got := paths(v[0].Diffs); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

const (
	zodA = `[\n  {\n    \"code\": \"invalid_string\",\n    \"validation\": \"uuid\",\n    \"message\": \"Invalid uuid\",\n    \"path\": []\n  },\n  {\n    \"code\": \"too_small\",\n    \"message\": \"Required\",\n    \"path\": [\"x\"]\n  }\n]`
	// zodB is zodA with its issues in the other order and keys reordered.
	zodB = `[{\"path\":[\"x\"],\"message\":\"Required\",\"code\":\"too_small\"},{\"validation\":\"uuid\",\"code\":\"invalid_string\",\"message\":\"Invalid uuid\",\"path\":[]}]`
	zodC = `[{\"code\":\"invalid_string\",\"message\":\"Invalid ID format\",\"path\":[]},{\"path\":[\"x\"],\"message\":\"Required\",\"code\":\"too_small\"}]`
)

func trpcErr(code string, num, status int, msg, path, extra string) string {
	return `{"error":{"message":"` + msg + `","code":` + itoa(num) + `,"data":{"code":"` + code +
		`","httpStatus":` + itoa(status) + extra + `,"path":"` + path + `"}}}`
}

func itoa(n int) string { return strconv.Itoa(n) }

func trpcEx(status int, body string) Exchange {
	return Exchange{Status: status, Header: http.Header{"Content-Type": {"application/json"}, "Vary": {"trpc-accept"}}, Body: []byte(body)}
}

func TestTRPCCompare(t *testing.T) {
	rs := NewRuleSet(config.Shadow{})
	one := []CallRef{{Route: "p", Procedure: "p"}}
	bad := trpcErr("BAD_REQUEST", -32600, 400, zodA, "p", "")
	cases := []struct {
		name        string
		legacy, new Exchange
		want        []string
	}{
		{"same data", trpcEx(200, `{"result":{"data":{"a":1}}}`), trpcEx(200, `{"result":{"data":{"a":1}}}`), nil},
		{"data changed", trpcEx(200, `{"result":{"data":{"a":1}}}`), trpcEx(200, `{"result":{"data":{"a":2}}}`), []string{"$.a changed"}},
		{"zod issues reordered", trpcEx(400, bad), trpcEx(400, trpcErr("BAD_REQUEST", -32600, 400, zodB, "p", "")), nil},
		{"zod issue differs", trpcEx(400, bad), trpcEx(400, trpcErr("BAD_REQUEST", -32600, 400, zodC, "p", "")), []string{"error.issues issues"}},
		{"error code differs", trpcEx(400, bad), trpcEx(404, trpcErr("NOT_FOUND", -32004, 404, zodA, "p", "")), []string{"error.code changed"}},
		{"stack dropped", trpcEx(500, trpcErr("INTERNAL_SERVER_ERROR", -32603, 500, "boom", "p", `,"stack":"Error: boom\n at x"`)),
			trpcEx(500, trpcErr("INTERNAL_SERVER_ERROR", -32603, 500, "boom", "p", "")), nil},
		{"JSON.parse wording", trpcEx(400, trpcErr("BAD_REQUEST", -32600, 400, "Unexpected end of JSON input", "p", "")),
			trpcEx(400, trpcErr("BAD_REQUEST", -32600, 400, "unexpected end of input", "p", "")), nil},
		{"message differs", trpcEx(500, trpcErr("INTERNAL_SERVER_ERROR", -32603, 500, "Sample not found", "p", "")),
			trpcEx(500, trpcErr("INTERNAL_SERVER_ERROR", -32603, 500, "Not found", "p", "")), []string{"error.message changed"}},
		{"outcome", trpcEx(500, trpcErr("INTERNAL_SERVER_ERROR", -32603, 500, "timer.done is not a function", "p", "")),
			trpcEx(200, `{"result":{"data":[]}}`), []string{"outcome outcome"}},
		{"status alone", trpcEx(200, `{"result":{"data":1}}`), trpcEx(500, `{"result":{"data":1}}`), []string{"status changed"}},
		{"not tRPC", trpcEx(200, `{"result":{"data":1}}`), Exchange{Status: 502, Header: http.Header{}, Body: []byte("bad gateway")},
			[]string{"status changed", "header.content-type changed", "header.vary changed", "body body"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Compare(Pair{Route: "p", Calls: one, Legacy: c.legacy, New: c.new}, rs)
			if len(v) != 1 || v[0].Procedure != "p" {
				t.Fatalf("verdicts %+v", v)
			}
			if got := paths(v[0].Diffs); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestTRPCBatchPerProcedure(t *testing.T) {
	rs := NewRuleSet(config.DefaultShadow())
	calls := []CallRef{{"health", "health"}, {"nanopore.getAll", "nanopore.getAll"}}
	l := trpcEx(200, `[{"result":{"data":{"status":"ok","timestamp":"2026-01-01T00:00:00.000Z"}}},{"result":{"data":[{"id":"a","sample_name":"x"}]}}]`)
	n := trpcEx(200, `[{"result":{"data":{"status":"ok","timestamp":"2026-01-01T00:00:09.000Z"}}},{"result":{"data":[{"id":"a","sample_name":"y"}]}}]`)
	v := Compare(Pair{Route: "trpc.batch", Calls: calls, Batch: true, Legacy: l, New: n}, rs)
	if len(v) != 2 || len(v[0].Diffs) != 0 {
		t.Fatalf("health should match (timestamp compared for presence): %+v", v)
	}
	if got := paths(v[1].Diffs); !reflect.DeepEqual(got, []string{"$[0].sample_name changed"}) || v[1].Procedure != "nanopore.getAll" {
		t.Fatalf("getAll: %q", got)
	}
	if string(v[1].LegacyEntry) != `{"result":{"data":[{"id":"a","sample_name":"x"}]}}` {
		t.Fatalf("entry %s", v[1].LegacyEntry)
	}
	// A batch whose statuses differ only at the HTTP level gets a
	// request-level verdict.
	n.Status = 207
	v = Compare(Pair{Route: "trpc.batch", Calls: calls, Batch: true, Legacy: l, New: n}, rs)
	if len(v) != 3 || v[2].Procedure != "" || paths(v[2].Diffs)[0] != "status changed" {
		t.Fatalf("request-level status: %+v", v)
	}
}

func TestAcceptedDifferences(t *testing.T) {
	cfg := config.DefaultShadow()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cfg.Accepted = append(cfg.Accepted, config.AcceptedDiff{Route: "old", Path: "**", Reason: "r", Owner: "o", Expires: "2026-11-27"})
	rs := NewRuleSet(cfg)
	noWrites := func(globs, time.Duration) bool { return false }
	wrote := func(globs, time.Duration) bool { return true }
	cases := []struct {
		name, route, proc, path, legacyMsg string
		lastWrite                          func(globs, time.Duration) bool
		want                               bool
	}{
		{"steps with legacy's 500", "nanopore.getProcessingSteps", "nanopore.getProcessingSteps", "outcome", "timer.done is not a function", noWrites, true},
		{"steps other failure", "nanopore.getProcessingSteps", "nanopore.getProcessingSteps", "error.issues", "[...]", noWrites, false},
		{"getAll after an update", "nanopore.getAll", "nanopore.getAll", "$[*].status", "", wrote, true},
		{"getAll without writes", "nanopore.getAll", "nanopore.getAll", "$[*].status", "", noWrites, false},
		{"getAll status code", "nanopore.getAll", "nanopore.getAll", "status", "", wrote, false},
		{"email", "nanopore.create", "nanopore.create", "$.submitter_email", "", noWrites, true},
		{"email in list", "nanopore.getAll", "nanopore.getAll", "$[*].submitter_email", "", noWrites, true},
		{"expired", "old", "", "$.x", "", noWrites, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, ok := rs.accept(c.route, c.proc, c.path, acceptContext{now: now, legacyMessage: c.legacyMsg, lastWrite: c.lastWrite})
			if ok != c.want {
				t.Fatalf("accepted = %v, want %v", ok, c.want)
			}
		})
	}
	if p := cfg.Problems(); len(p) != 0 {
		t.Fatalf("shipped shadow config has problems: %v", p)
	}
}

func TestRedactor(t *testing.T) {
	r := NewRedactor(config.DefaultShadow().Redact)
	h := r.Header(http.Header{"Authorization": {"Bearer abc"}, "Cookie": {"a=b"}, "X-Other": {"mail jo@lab.org"}})
	if h["Authorization"][0] != Redacted || h["Cookie"][0] != Redacted || h["X-Other"][0] != "mail "+Redacted {
		t.Fatalf("headers %v", h)
	}
	body := r.Body([]byte(`{"submitterEmail":"jo@lab.org","nested":[{"submitter_email":"x@y.org","password":"p","note":"call jo@lab.org"}],"apiToken":"t"}`), "application/json")
	want := `{"submitterEmail":"<redacted>","nested":[{"submitter_email":"<redacted>","password":"<redacted>","note":"call <redacted>"}],"apiToken":"<redacted>"}`
	if body != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
	q := r.Query(`batch=1&token=abc&input=` + `%7B%220%22%3A%7B%22submitterEmail%22%3A%22jo%40lab.org%22%7D%7D`)
	if strings.Contains(q, "abc") || strings.Contains(q, "lab.org") || !strings.Contains(q, "batch=1") {
		t.Fatalf("query %s", q)
	}
	d := r.Diff(Diff{Path: "$[0].submitter_email", Legacy: `"jo.@lab.org"`, New: `"jo.update@lab.org"`})
	if d.Legacy != Redacted || d.New != Redacted {
		t.Fatalf("diff %+v", d)
	}
	if got := r.Body([]byte{0, 1, 2, 3}, "application/octet-stream"); !strings.HasPrefix(got, Redacted) {
		t.Fatalf("binary body stored: %q", got)
	}
}

func TestSideBySide(t *testing.T) {
	var b strings.Builder
	SideBySide(&b, "a\nb\nc\nd", "a\nB\nc\nd\ne")
	out := b.String()
	for _, want := range []string{"b", "| B", "> e"} {
		if !strings.Contains(out, want) {
			t.Fatalf("side by side lacks %q:\n%s", want, out)
		}
	}
}
