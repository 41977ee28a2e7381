package trpc_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/services/samples"
	"github.com/nanopore/strangler/internal/trpc"
	"github.com/nanopore/strangler/internal/validate"
)

// refProcedures mirrors testdata/refserver.mjs in Go.
func refProcedures(tb testing.TB) *trpc.Router {
	tb.Helper()
	type row struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	echo := func(_ context.Context, in trpc.Input) (any, error) { return in.Value, nil }
	procs := []trpc.Procedure{
		{Name: "health", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return map[string]string{"status": "ok"}, nil
		}},
		{Name: "nanopore.getAll", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return []row{{1, "a<b>&\u2028"}}, nil
		}},
		{Name: "fail.plain", Kind: trpc.Mutation, Handler: func(context.Context, trpc.Input) (any, error) {
			return nil, errors.New("Sample not found")
		}},
		{Name: "fail.coded", Kind: trpc.Mutation, Handler: func(context.Context, trpc.Input) (any, error) {
			return nil, trpc.Errorf(trpc.NotFound, "Sample with ID 'x' not found")
		}},
		{Name: "fail.conflict", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return nil, trpc.Errorf(trpc.Conflict, "taken")
		}},
		{Name: "nothing", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return validate.Undefined, nil
		}},
	}
	for name, schema := range samples.Schemas {
		kind := trpc.Mutation
		if name == "nanopore.getProcessingSteps" {
			kind = trpc.Query
		}
		procs = append(procs, trpc.Procedure{Name: name, Kind: kind, Input: schema, Handler: echo})
	}
	r, err := trpc.NewRouter(trpc.Options{}, procs...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// startRefServer runs the real tRPC (node) and returns its base URL.
func startRefServer(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "testbed", "legacy", "node_modules", "@trpc", "server", "package.json")); err != nil {
		t.Fatalf("@trpc/server is not installed: run `npm ci` in testbed/legacy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "refserver.mjs"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("refserver did not start: %q %v", line, err)
	}
	return "http://127.0.0.1:" + strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

type exchange struct {
	status            int
	ctype, vary, body string
}

func doExchange(t *testing.T, base string, c refCase) exchange {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.target, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	req.Header.Set("Origin", base) // same origin: Astro's check lets it through
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return exchange{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Vary"), string(b)}
}

type refCase struct {
	name, method, target, ctype, body string
	header                            map[string]string
}

const (
	okUUID   = `"a5c0b0e4-1111-4222-8333-444455556666"`
	okCreate = `{"sampleName":" S1 ","submitterName":"Jo","submitterEmail":"jo@lab.org","sampleType":"DNA","chartField":"SEQ-001","extra":1}`
	jsonCT   = "application/json"
)

var refCases = []refCase{
	{name: "query", method: "GET", target: "/api/trpc/health"},
	{name: "trailing slash", method: "GET", target: "/api/trpc/health/"},
	{name: "two trailing slashes", method: "GET", target: "/api/trpc/health//"},
	{name: "three trailing slashes", method: "GET", target: "/api/trpc/health///"},
	{name: "no procedure", method: "GET", target: "/api/trpc"},
	{name: "no procedure, slash", method: "GET", target: "/api/trpc/"},
	{name: "unknown procedure", method: "GET", target: "/api/trpc/nope"},
	{name: "router is not a procedure", method: "GET", target: "/api/trpc/nanopore"},
	{name: "escaped unicode name", method: "GET", target: "/api/trpc/%C3%A9%22"},
	{name: "escape not UTF-8", method: "GET", target: "/api/trpc/%FF"},
	{name: "truncated UTF-8 escape", method: "GET", target: "/api/trpc/health%E0%A4?batch=1"},
	{name: "escaped slash", method: "GET", target: "/api/trpc/a%2Fb"},
	{name: "batch", method: "GET", target: "/api/trpc/health,nanopore.getAll?batch=1"},
	{name: "escaped comma splits", method: "GET", target: "/api/trpc/health%2Cnanopore.getAll?batch=1"},
	{name: "batch=0 is one name", method: "GET", target: "/api/trpc/health,nanopore.getAll?batch=0"},
	{name: "batch=true is one name", method: "GET", target: "/api/trpc/health,health?batch=true"},
	{name: "first batch value counts", method: "GET", target: "/api/trpc/health,health?batch=1&batch=0"},
	{name: "first batch value counts 2", method: "GET", target: "/api/trpc/health,health?batch=0&batch=1"},
	{name: "encoded batch name", method: "GET", target: "/api/trpc/health,health?b%61tch=1"},
	{name: "empty names in batch", method: "GET", target: "/api/trpc/,health,?batch=1"},
	{name: "batch with unknown is 207", method: "GET", target: "/api/trpc/health,nope?batch=1"},
	{name: "all unknown is 404", method: "GET", target: "/api/trpc/a,b?batch=1"},
	{name: "lazy input: malformed ignored", method: "GET", target: "/api/trpc/health,nanopore.getAll?batch=1&input=%7Bbad"},
	{name: "lazy input: array ignored", method: "GET", target: "/api/trpc/health,nanopore.getAll?batch=1&input=%5B1%5D"},
	{name: "batch array input", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps,health?batch=1&input=%5B1%5D"},
	{name: "batch null input object", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?batch=1&input=null"},
	{name: "batch member null", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps,nanopore.getProcessingSteps?batch=1&input=" + `%7B%220%22%3Anull%7D`},
	{name: "batch escaped key", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?batch=1&input=" + `%7B%22%5Cu0030%22%3A%22x%22%7D`},
	{name: "batch duplicate key last wins", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?batch=1&input=" + `%7B%220%22%3A1%2C%220%22%3A%2200000000-0000-0000-0000-000000000000%22%7D`},
	{name: "single bad uuid", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?input=%22abc%22"},
	{name: "single good uuid", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?input=%2200000000-0000-0000-0000-000000000000%22"},
	{name: "single input not JSON", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?input=%7B"},
	{name: "single input plus sign", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?input=%22a+b%22"},
	{name: "empty input is undefined", method: "GET", target: "/api/trpc/nanopore.getProcessingSteps?input="},
	{name: "query input ignored by health", method: "GET", target: "/api/trpc/health?input=%7B%22x%22%3A1%7D"},
	{name: "POST to a query", method: "POST", target: "/api/trpc/health", ctype: jsonCT, body: `{}`},
	{name: "GET of a mutation", method: "GET", target: "/api/trpc/nanopore.create"},
	{name: "PUT json to a mutation", method: "PUT", target: "/api/trpc/nanopore.create", ctype: jsonCT, body: `{}`},
	{name: "OPTIONS no content type", method: "OPTIONS", target: "/api/trpc/health"},
	{name: "OPTIONS json", method: "OPTIONS", target: "/api/trpc/health", ctype: jsonCT},
	{name: "POST text/plain same origin", method: "POST", target: "/api/trpc/nanopore.create", ctype: "text/plain", body: okCreate},
	{name: "POST upper-case JSON type", method: "POST", target: "/api/trpc/nanopore.create", ctype: "Application/JSON", body: okCreate},
	{name: "POST json charset", method: "POST", target: "/api/trpc/nanopore.create", ctype: "application/json; charset=utf-8", body: okCreate},
	{name: "create valid", method: "POST", target: "/api/trpc/nanopore.create", ctype: jsonCT, body: okCreate},
	{name: "create with BOM", method: "POST", target: "/api/trpc/nanopore.create", ctype: jsonCT, body: "\uFEFF" + okCreate},
	{name: "create invalid", method: "POST", target: "/api/trpc/nanopore.create", ctype: jsonCT, body: `{"sampleName":"","concentration":"x","chartField":"HTSF-001 "}`},
	{name: "create empty body", method: "POST", target: "/api/trpc/nanopore.create", ctype: jsonCT},
	{name: "create malformed", method: "POST", target: "/api/trpc/nanopore.create", ctype: jsonCT, body: `{"a":1,}`},
	{name: "create batch malformed", method: "POST", target: "/api/trpc/nanopore.create,nanopore.delete?batch=1", ctype: jsonCT, body: `{"0":1,`},
	{name: "mutation batch mixed 207", method: "POST", target: "/api/trpc/nanopore.create,nanopore.delete?batch=1", ctype: jsonCT, body: `{"0":` + okCreate + `,"1":"x"}`},
	{name: "mutation batch all 400", method: "POST", target: "/api/trpc/nanopore.create,nanopore.delete?batch=1", ctype: jsonCT, body: `{"1":"x"}`},
	{name: "mutation batch array body", method: "POST", target: "/api/trpc/nanopore.create,nanopore.delete?batch=1", ctype: jsonCT, body: `[1,2]`},
	{name: "mutation batch null member", method: "POST", target: "/api/trpc/nanopore.delete?batch=1", ctype: jsonCT, body: `{"0":null}`},
	{name: "mixed kinds", method: "POST", target: "/api/trpc/health,nanopore.create?batch=1", ctype: jsonCT, body: `{}`},
	{name: "mixed kinds GET", method: "GET", target: "/api/trpc/nanopore.delete,health,nope?batch=1"},
	{name: "delete object input", method: "POST", target: "/api/trpc/nanopore.delete", ctype: jsonCT, body: `{"id":` + okUUID + `}`},
	{name: "update", method: "POST", target: "/api/trpc/nanopore.update", ctype: jsonCT, body: `{"id":` + okUUID + `,"data":{"concentration":null,"status":"prep","chartField":"x"}}`},
	{name: "plain error is 500", method: "POST", target: "/api/trpc/fail.plain", ctype: jsonCT, body: `{}`},
	{name: "coded error", method: "POST", target: "/api/trpc/fail.coded", ctype: jsonCT},
	{name: "mixed statuses 207", method: "POST", target: "/api/trpc/fail.plain,fail.coded?batch=1", ctype: jsonCT, body: `{}`},
	{name: "same 500s", method: "POST", target: "/api/trpc/fail.plain,fail.plain?batch=1", ctype: jsonCT, body: `{}`},
	{name: "conflict query", method: "GET", target: "/api/trpc/fail.conflict"},
	{name: "jsonl single refused", method: "GET", target: "/api/trpc/health", header: map[string]string{"trpc-accept": "application/jsonl"}},
	{name: "connectionParams not JSON", method: "GET", target: "/api/trpc/health?connectionParams=%7B"},
	{name: "connectionParams not strings", method: "GET", target: "/api/trpc/health?connectionParams=%7B%22a%22%3A1%7D"},
	{name: "connectionParams ok", method: "GET", target: "/api/trpc/health?connectionParams=%7B%22a%22%3A%22b%22%7D"},
	{name: "octet stream GET", method: "GET", target: "/api/trpc/health", ctype: "application/octet-stream"},
	{name: "octet stream to create", method: "POST", target: "/api/trpc/nanopore.create", ctype: "application/octet-stream", body: "xx"},
	{name: "multipart to delete", method: "POST", target: "/api/trpc/nanopore.delete", ctype: "multipart/form-data; boundary=XX", body: "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XX--\r\n"},
	{name: "multipart batch is one name", method: "POST", target: "/api/trpc/health,nanopore.delete?batch=1", ctype: "multipart/form-data; boundary=XX", body: "--XX--\r\n"},
	{name: "HEAD", method: "HEAD", target: "/api/trpc/health"},
	{name: "undefined output", method: "GET", target: "/api/trpc/nothing"},
	{name: "undefined output in a batch", method: "GET", target: "/api/trpc/nothing,health?batch=1"},
	{name: "single null input stays null", method: "POST", target: "/api/trpc/nanopore.delete", ctype: jsonCT, body: `null`},
}

// jsonl asks for the JSONL streaming form.
var jsonl = map[string]string{"trpc-accept": "application/jsonl"}

// jsonlCase is a request asking for the JSONL streaming form (contract
// 1.8). anyOrder: the reference's lines arrive in an order that depends on
// how long each call takes in JavaScript (zod's async parse settles later
// than a plain procedure, a database call later still), so only the
// decoded envelopes are compared.
type jsonlCase struct {
	refCase
	anyOrder bool
}

// jsonlGet is a GET asking for the JSONL form.
func jsonlGet(name, target string) jsonlCase {
	return jsonlCase{refCase: refCase{name: name, method: "GET", target: target, header: jsonl}}
}

var jsonlCases = []jsonlCase{
	jsonlGet("jsonl batch of one", "/api/trpc/health?batch=1"),
	jsonlGet("jsonl three calls breadth first", "/api/trpc/health,nope,health?batch=1"),
	jsonlGet("jsonl error first", "/api/trpc/nope,health?batch=1"),
	jsonlGet("jsonl error labelled with the first path", "/api/trpc/health,nope,nanopore.getAll?batch=1"),
	jsonlGet("jsonl all errors still 200", "/api/trpc/nope,nanopore.create?batch=1"),
	jsonlGet("jsonl empty name", "/api/trpc/,health?batch=1"),
	jsonlGet("jsonl undefined output", "/api/trpc/nothing,health?batch=1"),
	jsonlGet("jsonl lazy input", "/api/trpc/health,nanopore.getAll?batch=1&input=%7Bbad"),
	jsonlGet("jsonl validation error alone", "/api/trpc/nanopore.getProcessingSteps?batch=1&input=%7B%220%22%3A%22x%22%7D"),
	jsonlGet("jsonl valid input alone", "/api/trpc/nanopore.getProcessingSteps?batch=1&input=%7B%220%22%3A%2200000000-0000-0000-0000-000000000000%22%7D"),
	jsonlGet("jsonl null member", "/api/trpc/nanopore.getProcessingSteps?batch=1&input=%7B%220%22%3Anull%7D"),
	jsonlGet("jsonl input not an object", "/api/trpc/nanopore.getProcessingSteps,nanopore.getProcessingSteps?batch=1&input=%5B%5D"),
	{refCase: refCase{name: "jsonl mutations", method: "POST", target: "/api/trpc/nanopore.delete,fail.plain,nanopore.delete?batch=1", ctype: jsonCT, body: `{"0":"x","2":` + okUUID + `}`, header: jsonl}, anyOrder: true},
	{refCase: jsonlGet("jsonl validation and plain", "/api/trpc/nanopore.getProcessingSteps,health?batch=1&input=%7B%220%22%3A%22x%22%7D").refCase, anyOrder: true},
	{refCase: refCase{name: "jsonl mixed kinds", method: "POST", target: "/api/trpc/health,nanopore.create?batch=1", ctype: jsonCT, body: `{}`, header: jsonl}},
	{refCase: refCase{name: "jsonl multipart is a single call", method: "POST", target: "/api/trpc/health,nanopore.delete?batch=1", ctype: "multipart/form-data; boundary=XX", body: "--XX--\r\n", header: jsonl}},
	{refCase: refCase{name: "jsonl media type is case-sensitive", method: "GET", target: "/api/trpc/health,nope?batch=1", header: map[string]string{"trpc-accept": "application/JSONL"}}},
}

// TestRouterMatchesRealTRPC sends every case to the real tRPC 11.4.3 and to
// the Go Router and requires the same status, content type, vary and body.
func TestRouterMatchesRealTRPC(t *testing.T) {
	ref := startRefServer(t)
	gosrv := httptest.NewServer(refProcedures(t))
	defer gosrv.Close()
	for _, c := range refCases {
		t.Run(c.name, func(t *testing.T) {
			want := doExchange(t, ref, c)
			got := doExchange(t, gosrv.URL, c)
			if got != want {
				t.Errorf("%s %s\n got %d %q vary=%q %s\nwant %d %q vary=%q %s", c.method, c.target,
					got.status, got.ctype, got.vary, got.body, want.status, want.ctype, want.vary, want.body)
			}
		})
	}
}

// TestRouterJSONLMatchesRealTRPC sends batches asking for the JSONL
// streaming form to the real tRPC 11.4.3 and to the Go Router.
func TestRouterJSONLMatchesRealTRPC(t *testing.T) {
	ref := startRefServer(t)
	gosrv := httptest.NewServer(refProcedures(t))
	defer gosrv.Close()
	compareJSONL(t, ref, gosrv.URL, jsonlCases)
}

// isoTime is health's volatile timestamp (contract 7).
var isoTime = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)

// compareJSONL sends each case to the reference and to the Go Router and
// requires the same status, content type and vary, and, timestamps masked,
// the same bytes, or for anyOrder cases the same decoded envelopes.
func compareJSONL(t *testing.T, ref, gourl string, cases []jsonlCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := doExchange(t, ref, c.refCase)
			got := doExchange(t, gourl, c.refCase)
			want.body = isoTime.ReplaceAllString(want.body, `"<ts>"`)
			got.body = isoTime.ReplaceAllString(got.body, `"<ts>"`)
			if c.anyOrder && got.body != want.body && sameJSONL(t, got.body, want.body) {
				got.body = want.body
			}
			if got != want {
				t.Errorf("%s %s\n got %d %q vary=%q %s\nwant %d %q vary=%q %s", c.method, c.target,
					got.status, got.ctype, got.vary, got.body, want.status, want.ctype, want.vary, want.body)
			}
		})
	}
}

// sameJSONL reports whether two JSONL answers decode to the same envelopes.
func sameJSONL(t *testing.T, a, b string) bool {
	t.Helper()
	ea, err := trpc.ParseJSONL([]byte(a))
	if err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	eb, err := trpc.ParseJSONL([]byte(b))
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		if string(ea[i].Raw) != string(eb[i].Raw) || ea[i].Status != eb[i].Status {
			return false
		}
	}
	return true
}
