package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
)

// transparencyCase is one request sent to legacy directly and then, back to
// back, through the proxy.
type transparencyCase struct {
	name    string
	method  string
	target  string
	headers []string
	body    string
	// status is what legacy answers, so that the case exercises what its
	// name says.
	status int
	// volatile are JSON keys whose values differ between two legacy answers
	// (contract section 7: clocks, uptime, memory, counters).
	volatile []string
	// ids masks random sample ids and timestamps (created samples).
	ids bool
}

// e2eHost is the Host both paths receive: the proxy keeps the client's Host,
// so legacy sees the same origin and builds the same URLs either way.
const e2eHost = "app.example:3001"

const (
	validCreate   = `{"sampleName":"Transparency A","submitterName":"Jo Doe","submitterEmail":"jo@lab.org","sampleType":"DNA","concentration":1.23456,"chartField":"HTSF-001"}`
	invalidCreate = `{"sampleName":"","submitterName":"J0","submitterEmail":"nope","sampleType":"dna","concentration":"x","chartField":"ABC-001"}`
	unknownID     = `"00000000-0000-4000-8000-000000000001"`
)

func q(input string) string { return url.QueryEscape(input) }

// transparencyCases are in an order that gives both paths the same state:
// creates come before the getAll reads, and each read is sent to legacy
// first, whose getAll snapshot (contract 4.2) the proxied read then shares.
var transparencyCases = []transparencyCase{
	{name: "page /", method: "GET", target: "/", status: 200},
	{name: "page /nanopore", method: "GET", target: "/nanopore", status: 200},
	{name: "404 page", method: "GET", target: "/does-not-exist", status: 404},
	{name: "HEAD page", method: "HEAD", target: "/nanopore", status: 200},
	{name: "tRPC GET single", method: "GET", target: "/api/trpc/health", status: 200, volatile: []string{"timestamp"}},
	{name: "tRPC POST single create", method: "POST", target: "/api/trpc/nanopore.create",
		headers: []string{"Content-Type: application/json"}, body: validCreate, status: 200, ids: true},
	{name: "tRPC POST single 404", method: "POST", target: "/api/trpc/nanopore.delete",
		headers: []string{"Content-Type: application/json; charset=utf-8"}, body: unknownID, status: 404},
	{name: "tRPC POST single zod 400", method: "POST", target: "/api/trpc/nanopore.create",
		headers: []string{"Content-Type: application/json"}, body: invalidCreate, status: 400},
	{name: "tRPC POST batch", method: "POST", target: "/api/trpc/nanopore.create,nanopore.create?batch=1",
		headers: []string{"Content-Type: application/json"}, body: `{"0":` + validCreate + `,"1":` + validCreate + `}`, status: 200, ids: true},
	{name: "tRPC GET single getAll", method: "GET", target: "/api/trpc/nanopore.getAll", status: 200, ids: true},
	{name: "tRPC GET batch", method: "GET", target: "/api/trpc/health,nanopore.getAll?batch=1&input=" + q(`{}`), status: 200, ids: true},
	{name: "tRPC GET batch 200+500 (207)", method: "GET",
		target: "/api/trpc/health,nanopore.getProcessingSteps?batch=1&input=" + q(`{"1":`+unknownID+`}`), status: 207, volatile: []string{"timestamp"}},
	{name: "tRPC POST batch 500+404 (207)", method: "POST", target: "/api/trpc/nanopore.updateStatus,nanopore.delete?batch=1",
		headers: []string{"Content-Type: application/json"}, body: `{"0":{"id":` + unknownID + `,"status":"prep"},"1":` + unknownID + `}`, status: 207},
	{name: "tRPC GET of a mutation (405)", method: "GET", target: "/api/trpc/nanopore.delete?input=" + q(unknownID), status: 405},
	{name: "tRPC unknown procedure", method: "GET", target: "/api/trpc/nanopore.nope", status: 404},
	{name: "tRPC batch mixing query and mutation", method: "POST", target: "/api/trpc/health,nanopore.delete?batch=1",
		headers: []string{"Content-Type: application/json"}, body: `{"1":` + unknownID + `}`, status: 400},
	{name: "tRPC POST malformed JSON", method: "POST", target: "/api/trpc/nanopore.create",
		headers: []string{"Content-Type: application/json"}, body: `{"sampleName":}`, status: 400},
	{name: "tRPC JSONL streaming batch", method: "GET", target: "/api/trpc/health,nanopore.getAll?batch=1",
		headers: []string{"trpc-accept: application/jsonl"}, status: 200, volatile: []string{"timestamp"}, ids: true},
	{name: "tRPC HEAD (204)", method: "HEAD", target: "/api/trpc/health", status: 204},
	{name: "tRPC OPTIONS (415)", method: "OPTIONS", target: "/api/trpc/health", status: 415},
	{name: "cross-origin form POST (403)", method: "POST", target: "/api/trpc/nanopore.create",
		headers: []string{"Content-Type: application/x-www-form-urlencoded", "Origin: http://evil.example"}, body: "a=1", status: 403},
	{name: "POST without content type or origin (403)", method: "POST", target: "/api/trpc/nanopore.create", status: 403},
	{name: "same-origin text/plain POST (415)", method: "POST", target: "/api/trpc/nanopore.create",
		headers: []string{"Content-Type: text/plain", "Origin: http://" + e2eHost}, body: validCreate, status: 415},
	{name: "/health", method: "GET", target: "/health", status: 200,
		volatile: []string{"timestamp", "uptime", "responseTime", "heapUsed", "heapTotal", "rss", "external", "percentage", "loadAverage", "requests"}},
	{name: "/api/version-info", method: "GET", target: "/api/version-info", status: 200, volatile: []string{"requests"}},
	{name: "/api/migrate?action=status", method: "GET", target: "/api/migrate?action=status", status: 200, volatile: []string{"timestamp"}},
	{name: "redirect with two Set-Cookie", method: "GET", target: "/__standin/cookie?name=sid&value=abc", status: 302},
}

// TestE2EByteTransparency sends each request straight to a stand-in and
// through the proxy to the same stand-in, and requires the same status line,
// body and end-to-end headers (values, empty values and repeats included)
// and the same framing (chunked or not), once Date, X-Request-Id and the
// contract's volatile fields are masked.
func TestE2EByteTransparency(t *testing.T) {
	t.Parallel()
	legacy := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), TestRoutes: true})
	proxy := startProxy(t, legacy.URL)
	for _, c := range transparencyCases {
		req := httpRequest(c.method, c.target, e2eHost, c.headers, c.body)
		direct := rawExchange(t, legacy.Addr, req)
		proxied := rawExchange(t, proxy.Addr, req)
		if !strings.Contains(direct.StatusLine, fmt.Sprintf(" %d ", c.status)) {
			t.Errorf("%s: legacy answered %q, the case expects %d", c.name, direct.StatusLine, c.status)
			continue
		}
		want, got := c.render(direct), c.render(proxied)
		if want != got {
			t.Errorf("%s: the proxied answer differs from legacy's\n--- legacy\n%s\n--- proxied\n%s", c.name, want, got)
		}
	}
	requestsReachLegacyUnchanged(t, legacy.Addr, proxy.Addr)
}

// requestsReachLegacyUnchanged has legacy echo what it received: through the
// proxy, the method, target and every header (repeats, empty values, no
// added User-Agent or Accept-Encoding) are as sent, plus the forwarding
// headers the proxy owns. The client's own X-Forwarded-For is replaced, as
// no proxy is trusted in the shipped config.
func requestsReachLegacyUnchanged(t *testing.T, legacyAddr, proxyAddr string) {
	req := httpRequest("POST", "/__standin/headers?a=1&b=%2F&c=%E2%9C%93&d=a+b", e2eHost, []string{
		"x-custom: one", "X-Custom: two", "x-empty:", "Cookie: a=1", "Cookie: b=2", "Origin: http://" + e2eHost,
		"Content-Type: application/json", "Accept-Encoding: gzip, br", "X-Forwarded-For: 203.0.113.7",
	}, `{"x":1}`)
	type echo struct {
		Method, URL string
		Headers     map[string]string
	}
	var direct, proxied echo
	for _, e := range []struct {
		addr string
		into *echo
	}{{legacyAddr, &direct}, {proxyAddr, &proxied}} {
		r := rawExchange(t, e.addr, req)
		if err := json.Unmarshal(r.Body, e.into); err != nil {
			t.Fatalf("header echo: %v: %s", err, r.Body)
		}
	}
	own := map[string]string{"x-forwarded-for": "127.0.0.1", "x-forwarded-host": e2eHost, "x-forwarded-proto": "http"}
	for name, want := range own {
		if got := proxied.Headers[name]; got != want {
			t.Errorf("legacy received %s %q through the proxy, want %q", name, got, want)
		}
		delete(proxied.Headers, name)
		delete(direct.Headers, name)
	}
	if proxied.Headers["x-request-id"] == "" {
		t.Error("legacy received no X-Request-Id through the proxy")
	}
	delete(proxied.Headers, "x-request-id")
	if direct.Method != proxied.Method || direct.URL != proxied.URL || !maps.Equal(direct.Headers, proxied.Headers) {
		t.Errorf("legacy received a different request through the proxy:\ndirect:  %+v\nproxied: %+v", direct, proxied)
	}
}

// hopByHop are the headers of one connection, not of the answer (RFC 9110
// 7.6.1): each hop sets its own. Framing is compared apart.
var hopByHop = []string{"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}

// masked are the headers that legitimately differ: the clock, and the
// request id the proxy adds.
var masked = []string{"date", "x-request-id"}

// render writes an answer as comparable text: status line, framing, sorted
// end-to-end header lines (repeats keep their order), the masked body.
func (c transparencyCase) render(r rawResponse) string {
	var fields []headerField
	for _, f := range r.Fields {
		name := strings.ToLower(f.Name)
		if slices.Contains(hopByHop, name) || slices.Contains(masked, name) {
			continue
		}
		fields = append(fields, headerField{Name: name, Value: f.Value})
	}
	slices.SortStableFunc(fields, func(a, b headerField) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nframing: chunked=%v\n", r.StatusLine, r.Chunked)
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %q\n", f.Name, f.Value)
	}
	body := maskJSONValues(r.Body, c.volatile...)
	if c.ids {
		body = maskIDsAndTimes(body)
	}
	fmt.Fprintf(&b, "\n%s", body)
	return b.String()
}
