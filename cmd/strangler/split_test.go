package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/testutil"
)

// splitFixture is a proxy whose sample routes have a second stand-in as
// their new side (both on one database), so that both sides answer alike
// and a split batch can be compared with the all-legacy answer.
type splitFixture struct {
	legacy, other *testutil.Standin
	proxy         *Main
}

func newSplitFixture(t *testing.T) *splitFixture {
	t.Helper()
	db := migratedDB(t)
	f := &splitFixture{
		legacy: testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db, RequestLog: true}),
		other:  testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db}),
	}
	cfg, err := config.Load(config.Source{Path: "../../config/strangler.yaml", Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Routes {
		if cfg.Routes[i].Target != "" {
			cfg.Routes[i].Target = f.other.URL
		}
		// These tests are about splitting batches: let mutations move one
		// by one (write groups are tested on their own).
		cfg.Routes[i].WriteGroup = ""
	}
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.LegacyURL, cfg.DatabaseURL = f.legacy.URL, db
	cfg.AdminTokenHashes = []string{tokenHash(testToken)}
	cfg.Log.Access = false
	m := NewMain(cfg, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; m.Close() })
	f.proxy = m
	return f
}

// flip puts routes into a mode through the replica's admin API and waits
// until the replica applied it.
func (f *splitFixture) flip(t *testing.T, mode string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		resp := adminCall(t, f.proxy, http.MethodPut, "/api/routes/"+id, `{"mode":"`+mode+`","reason":"test"}`)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("flip %s %s: %d %s", id, mode, resp.StatusCode, body)
		}
		testutil.Eventually(t, 30*time.Second, id+" applied", func() bool {
			r, ok := f.proxy.router.State().Table.ByID(id)
			return ok && f.proxy.router.State().Mode(r).Mode.String() == mode
		})
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, base, method, target, contentType, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "lab.test"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return answer{resp.StatusCode, resp.Header, string(b)}
}

var volatileTS = regexp.MustCompile(`"timestamp":"[^"]*"|"(submitted|created|updated|started|completed)_at":"[^"]*"`)

func maskTS(s string) string { return volatileTS.ReplaceAllString(s, `"<ts>"`) }

const (
	batchQ   = "/api/trpc/nanopore.getAll,health,nanopore.getProcessingSteps?batch=1&input="
	stepsIn  = `{"2":"00000000-0000-0000-0000-000000000000"}`
	sampleIn = `{"sampleName":"S1","submitterName":"Ann Lee","submitterEmail":"ann@lab.org","sampleType":"DNA","chartField":"HTSF-001"}`
)

func TestSplitBatchAnswersLikeLegacyAlone(t *testing.T) {
	f := newSplitFixture(t)
	// A sample so that getAll has data; both stand-ins snapshot it at their
	// first getAll.
	if a := send(t, f.legacy.URL, "POST", "/api/trpc/nanopore.create", "application/json", sampleIn); a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	target := batchQ + url.QueryEscape(stepsIn)
	allLegacy := send(t, f.legacy.URL, "GET", target, "", "")

	f.flip(t, "new", "nanopore.getAll", "nanopore.getProcessingSteps")
	split := send(t, f.proxy.PublicURL(), "GET", target, "", "", "X-Strangler-Token", testToken)
	if split.header.Get("X-Strangler-Target") != "split" {
		t.Fatalf("the batch was not split: %q", split.header.Get("X-Strangler-Target"))
	}
	if split.status != allLegacy.status || maskTS(split.body) != maskTS(allLegacy.body) {
		t.Fatalf("split answer differs from legacy alone:\nlegacy %d %s\nsplit  %d %s", allLegacy.status, allLegacy.body, split.status, split.body)
	}
	if split.status != http.StatusMultiStatus {
		t.Errorf("a batch with a 500 entry should be 207, got %d", split.status)
	}
	for _, h := range []string{"Content-Type", "Vary", "Content-Security-Policy", "X-Frame-Options"} {
		if split.header.Get(h) != allLegacy.header.Get(h) {
			t.Errorf("header %s: split %q, legacy %q", h, split.header.Get(h), allLegacy.header.Get(h))
		}
	}
}

func TestSplitMutationBatchStatuses(t *testing.T) {
	f := newSplitFixture(t)
	f.flip(t, "new", "nanopore.create")
	unknown := `"id":"00000000-0000-4000-8000-000000000000"`
	cases := []struct {
		name, procs, body string
		want              int
	}{
		{"all fail alike: 400", "nanopore.create,nanopore.update", `{"0":{},"1":{"id":"x"}}`, 400},
		{"400 and 500: 207", "nanopore.create,nanopore.updateStatus", `{"0":{},"1":{` + unknown + `,"status":"prep"}}`, 207},
		{"success and failure: 207", "nanopore.create,nanopore.update", `{"0":` + sampleIn + `,"1":{"id":"x"}}`, 207},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := "/api/trpc/" + c.procs + "?batch=1"
			alone := send(t, f.legacy.URL, "POST", target, "application/json", c.body)
			split := send(t, f.proxy.PublicURL(), "POST", target, "application/json", c.body, "X-Strangler-Token", testToken)
			if split.header.Get("X-Strangler-Target") != "split" {
				t.Fatalf("not split: %q", split.header.Get("X-Strangler-Target"))
			}
			if alone.status != c.want || split.status != c.want {
				t.Fatalf("legacy alone %d, split %d, want %d\n%s\n%s", alone.status, split.status, c.want, alone.body, split.body)
			}
			ids := regexp.MustCompile(`"id":"[0-9a-f-]{36}"`)
			if ids.ReplaceAllString(maskTS(split.body), "<id>") != ids.ReplaceAllString(maskTS(alone.body), "<id>") {
				t.Errorf("bodies differ:\nalone %s\nsplit %s", alone.body, split.body)
			}
		})
	}
}

func TestBatchOnOneSideIsPassedThroughUntouched(t *testing.T) {
	f := newSplitFixture(t)
	f.flip(t, "new", "nanopore.getAll", "health")
	// Not getProcessingSteps: the other side is a copy of legacy, whose
	// INTERNAL_SERVER_ERROR entry would (rightly) send the query to legacy.
	target := "/api/trpc/nanopore.getAll,health?batch=1&input=%7B%7D"
	direct := send(t, f.other.URL, "GET", target, "", "")
	via := send(t, f.proxy.PublicURL(), "GET", target, "", "", "X-Strangler-Token", testToken)
	if via.header.Get("X-Strangler-Target") != f.other.URL {
		t.Fatalf("answered by %q", via.header.Get("X-Strangler-Target"))
	}
	if via.status != direct.status || maskTS(via.body) != maskTS(direct.body) {
		t.Fatalf("not passed through:\n%s\n%s", direct.body, via.body)
	}
	for _, h := range []http.Header{direct.header, via.header} {
		// Connection and Keep-Alive are hop-by-hop: a proxy must not pass
		// them on (RFC 9110 7.6.1).
		h.Del("Connection")
		h.Del("Keep-Alive")
		h.Del("Date")
		h.Del("X-Request-Id")
		h.Del("X-Strangler-Target")
	}
	if !equalHeader(direct.header, via.header) {
		t.Errorf("headers differ:\n%v\n%v", direct.header, via.header)
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestBatchesLegacyAnswersWholeGoToLegacyWhole: a batch that would need a
// split but that legacy answers as a whole goes to legacy untouched.
func TestBatchesLegacyAnswersWholeGoToLegacyWhole(t *testing.T) {
	f := newSplitFixture(t)
	f.flip(t, "new", "nanopore.getAll", "nanopore.create")
	cases := []struct{ name, method, target, ct, body string }{
		{"mixed query and mutation", "POST", "/api/trpc/nanopore.getAll,nanopore.update?batch=1", "application/json", `{"1":{"id":"x","data":{}}}`},
		{"malformed input", "GET", "/api/trpc/nanopore.getAll,nanopore.getProcessingSteps?batch=1&input=%7Bnot-json", "", ""},
		{"input array", "GET", "/api/trpc/nanopore.getAll,nanopore.getProcessingSteps?batch=1&input=%5B1%5D", "", ""},
		{"method does not fit", "POST", "/api/trpc/nanopore.getAll,nanopore.getProcessingSteps?batch=1", "application/json", `{}`},
		{"unknown procedure", "GET", "/api/trpc/nanopore.getAll,nanopore.nope?batch=1", "", ""},
		{"streaming form", "GET", "/api/trpc/nanopore.getAll,nanopore.getProcessingSteps?batch=1&input=" + url.QueryEscape(`{"1":"x"}`), "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.name == "streaming form" {
				extra = []string{"trpc-accept", "application/jsonl"}
			}
			direct := send(t, f.legacy.URL, c.method, c.target, c.ct, c.body, extra...)
			via := send(t, f.proxy.PublicURL(), c.method, c.target, c.ct, c.body, append(extra, "X-Strangler-Token", testToken)...)
			if via.header.Get("X-Strangler-Target") != "legacy" {
				t.Errorf("went to %q, want legacy whole", via.header.Get("X-Strangler-Target"))
			}
			if via.status != direct.status || maskTS(via.body) != maskTS(direct.body) || via.header.Get("Content-Type") != direct.header.Get("Content-Type") {
				t.Errorf("differs from legacy's own answer:\n%d %s %s\n%d %s %s", direct.status, direct.header.Get("Content-Type"), direct.body,
					via.status, via.header.Get("Content-Type"), via.body)
			}
		})
	}
}

// TestBadInputGetsAClearErrorAndTheProxyKeepsServing throws hostile
// requests at the proxy, then checks an ordinary request still works.
func TestBadInputGetsAClearErrorAndTheProxyKeepsServing(t *testing.T) {
	f := newSplitFixture(t)
	f.flip(t, "new", "nanopore.getAll")
	many := "/api/trpc/" + strings.TrimSuffix(strings.Repeat("health,", 10000), ",") + "?batch=1"
	long := "/api/trpc/" + strings.Repeat("a", 64<<10)
	for _, target := range []string{many, long} {
		a := send(t, f.proxy.PublicURL(), "GET", target, "", "")
		if a.status != http.StatusRequestURITooLong || !strings.Contains(a.body, "uri_too_long") {
			t.Errorf("%d-byte path: %d %s", len(target), a.status, a.body)
		}
	}
	for _, raw := range []string{
		"GET /api/trpc/nanopore.getAll,%FF%FE?batch=1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/trpc/nanopore.\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/\xc3\x28migrate HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		status := rawStatus(t, f.proxy.PublicAddr(), raw)
		if status == 0 || status == http.StatusBadGateway {
			t.Errorf("%q: status %d", raw, status)
		}
	}
	if a := send(t, f.proxy.PublicURL(), "GET", "/api/trpc/health", "", ""); a.status != 200 {
		t.Fatalf("the proxy stopped serving: %d %s", a.status, a.body)
	}
}

// rawStatus writes a raw HTTP request and returns the answer's status.
func rawStatus(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// TestSplitQueriesFallBackWhenTheNewSideIsDown: the new side's share of a
// split batch of queries is answered by legacy when the new side is gone.
func TestSplitQueriesFallBackWhenTheNewSideIsDown(t *testing.T) {
	f := newSplitFixture(t)
	target := batchQ + url.QueryEscape(stepsIn)
	alone := send(t, f.legacy.URL, "GET", target, "", "")
	f.flip(t, "new", "nanopore.getAll", "nanopore.getProcessingSteps")
	f.other.Kill()
	via := send(t, f.proxy.PublicURL(), "GET", target, "", "")
	if via.status != alone.status || maskTS(via.body) != maskTS(alone.body) {
		t.Fatalf("with the new side down:\nlegacy alone %d %s\nproxy        %d %s", alone.status, alone.body, via.status, via.body)
	}
}
