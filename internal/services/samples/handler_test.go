package samples

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// client calls a service over real HTTP, as the browser's tRPC link does.
type client struct {
	tb   testing.TB
	base string
	hc   *http.Client
}

// MustServer serves svc.Handler on a local port for the test.
func MustServer(tb testing.TB, svc *Service) *client {
	srv := httptest.NewServer(svc.Handler())
	tb.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	tb.Cleanup(tr.CloseIdleConnections)
	return &client{tb: tb, base: srv.URL, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// do sends one request and returns the status, headers and body; a
// transport failure fails the test (call it on the test goroutine only).
func (c *client) do(method, path, body string) (int, http.Header, string) {
	c.tb.Helper()
	status, h, b, err := c.try(method, path, body)
	if err != nil {
		c.tb.Fatal(err)
	}
	return status, h, b
}

// try is do for any goroutine: a transport failure is returned.
func (c *client) try(method, path, body string) (int, http.Header, string, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, "", fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.ContentLength != -1 {
		resp.Header.Set("X-Test-Content-Length", "set")
	}
	return resp.StatusCode, resp.Header, string(b), nil
}

func (c *client) mutate(proc, input string) (int, string) {
	c.tb.Helper()
	status, _, body := c.do(http.MethodPost, "/api/trpc/"+proc, input)
	return status, body
}

func (c *client) query(proc, input string) (int, string) {
	c.tb.Helper()
	path := "/api/trpc/" + proc
	if input != "" {
		path += "?input=" + url.QueryEscape(input)
	}
	status, _, body := c.do(http.MethodGet, path, "")
	return status, body
}

// data returns a function stripping the success envelope of an answer and
// failing on anything else: data(t)(c.query(...)).
func data(tb testing.TB) func(status int, body string) []byte {
	return func(status int, body string) []byte {
		tb.Helper()
		inner, ok := strings.CutPrefix(body, `{"result":{"data":`)
		if status != 200 || !ok {
			tb.Fatalf("status %d body %s, want a success", status, body)
		}
		return []byte(strings.TrimSuffix(inner, "}}"))
	}
}

const createBody = `{"sampleName":"Sample A","submitterName":"Jo Smith","submitterEmail":"Delete.Me@select.org",
"sampleType":"DNA","concentration":1.23456,"volume":3.456,"totalAmount":4.2666,"chartField":"HTSF-001","unknown":1}`

func TestHTTPHealthAndHeaders(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, newClock(t0).Now)
	c := MustServer(t, svc)
	status, h, body := c.do(http.MethodGet, "/api/trpc/health?input=%7B%22x%22%3A1%7D", "")
	if want := `{"result":{"data":{"status":"ok","timestamp":"2024-03-04T05:06:07.525Z"}}}`; status != 200 || body != want {
		t.Errorf("health: %d %s, want 200 %s", status, body, want)
	}
	if h.Get("Content-Type") != "application/json" || h.Get("Vary") != "trpc-accept" || h.Get("X-Test-Content-Length") != "" {
		t.Errorf("headers %v: want application/json, vary trpc-accept, chunked", h)
	}
}

func TestHTTPSampleLifecycle(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, newClock(t0).Now)
	c := MustServer(t, svc)
	created := MustObject(t, data(t)(c.mutate("nanopore.create", createBody)))
	id := created["id"].(string)
	if created["submitter_email"] != "Delete.Me@select.org" || created["concentration"] != "1.235" || created["total_amount"] != "4.267" {
		t.Errorf("created %v", created)
	}
	updated := MustObject(t, data(t)(c.mutate("nanopore.update", `{"id":"`+id+`","data":{"status":"prep","volume":null,"chartField":"SEQ-001"}}`)))
	if updated["status"] != "prep" || updated["volume"] != nil || updated["started_at"] != FormatTime(t0) || updated["chart_field"] != "HTSF-001" {
		t.Errorf("updated %v", updated)
	}
	assigned := MustObject(t, data(t)(c.mutate("nanopore.assign", `{"id":"`+id+`","assignedTo":"Grey"}`)))
	if assigned["assigned_to"] != "Grey" || assigned["library_prep_by"] != nil {
		t.Errorf("assigned %v", assigned)
	}
	moved := MustObject(t, data(t)(c.mutate("nanopore.updateStatus", `{"id":"`+id+`","status":"completed"}`)))
	if moved["completed_at"] != FormatTime(t0) {
		t.Errorf("moved %v", moved)
	}
	all := MustArray(t, data(t)(c.query("nanopore.getAll", "")))
	if len(all) != 1 || all[0]["status"] != "completed" {
		t.Errorf("getAll %v", all)
	}
	status, body := c.mutate("nanopore.delete", `"`+id+`"`)
	if status != 200 || body != `{"result":{"data":{"success":true}}}` {
		t.Errorf("delete: %d %s", status, body)
	}
	if got := data(t)(c.query("nanopore.getAll", "")); string(got) != "[]" {
		t.Errorf("getAll after delete: %s", got)
	}
}

func TestHTTPErrorEnvelopes(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	c := MustServer(t, svc)
	missing := "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name, proc, input string
		status            int
		body              string
	}{
		{"update of an unknown sample is 500", "nanopore.update", `{"id":"` + missing + `","data":{}}`, 500,
			`{"error":{"message":"Sample not found","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.update"}}}`},
		{"delete of an unknown sample is 404", "nanopore.delete", `"` + strings.ToUpper(missing) + `"`, 404,
			`{"error":{"message":"Sample with ID '` + strings.ToUpper(missing) + `' not found","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"nanopore.delete"}}}`},
		{"service re-check", "nanopore.create", strings.Replace(createBody, `"Sample A"`, `"   "`, 1), 400,
			`{"error":{"message":"Validation failed: Sample name is required","code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400,"path":"nanopore.create"}}}`},
		{"step of nobody", "nanopore.startProcessingStep", `{"stepId":"` + missing + `"}`, 500,
			`{"error":{"message":"Step not found","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.startProcessingStep"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.mutate(tt.proc, tt.input)
			if status != tt.status || body != tt.body {
				t.Errorf("got %d %s\nwant %d %s", status, body, tt.status, tt.body)
			}
		})
	}
	status, body := c.mutate("nanopore.assign", `{"id":"nope","assignedTo":"Grey"}`)
	if status != 400 || !strings.Contains(body, `\"message\": \"Invalid ID format\"`) {
		t.Errorf("zod failure: %d %s", status, body)
	}
}

// MustServedSample serves a fresh service with one sample created over HTTP.
func MustServedSample(t *testing.T) (*client, string) {
	svc, _ := MustService(t, newClock(t0).Now)
	c := MustServer(t, svc)
	return c, MustObject(t, data(t)(c.mutate("nanopore.create", createBody)))["id"].(string)
}

func TestHTTPBatches(t *testing.T) {
	t.Parallel()
	c, id := MustServedSample(t)
	status, _, body := c.do(http.MethodGet, "/api/trpc/health,nanopore.getAll?batch=1", "")
	if status != 200 || !strings.HasPrefix(body, `[{"result":{"data":{"status":"ok"`) || !strings.Contains(body, `},{"result":{"data":[{"id":"`+id) {
		t.Errorf("query batch: %d %s", status, body)
	}
	status, _, body = c.do(http.MethodPost, "/api/trpc/nanopore.delete,nanopore.delete?batch=1", `{"0":"`+id+`","1":"`+id+`"}`)
	if status != 207 || !strings.HasPrefix(body, `[{"result":{"data":{"success":true}}},{"error":{"message":"Sample with ID`) {
		t.Errorf("mixed batch: %d %s", status, body)
	}
}

func TestHTTPProcessingSteps(t *testing.T) {
	t.Parallel()
	c, id := MustServedSample(t)
	steps := MustArray(t, data(t)(c.mutate("nanopore.createDefaultProcessingSteps", `"`+id+`"`)))
	if len(steps) != 8 || steps[0]["step_name"] != "Sample QC" {
		t.Fatalf("steps %v", steps)
	}
	stepID := steps[0]["id"].(string)
	started := MustObject(t, data(t)(c.mutate("nanopore.startProcessingStep", `{"stepId":"`+stepID+`"}`)))
	if started["step_status"] != "in_progress" || started["assigned_to"] != nil {
		t.Errorf("started %v", started)
	}
	// jsonb orders keys by length, then bytes; node-postgres keeps that order.
	updated := data(t)(c.mutate("nanopore.updateProcessingStep", `{"stepId":"`+stepID+`","updates":{"notes":"ok","resultsData":{"q":30.50,"pass":true}}}`))
	if !strings.Contains(string(updated), `"notes":"ok","results_data":{"q":30.5,"pass":true}`) {
		t.Errorf("updated %s", updated)
	}
	done := MustObject(t, data(t)(c.mutate("nanopore.completeProcessingStep", `{"stepId":"`+stepID+`","notes":"fine"}`)))
	if done["step_status"] != "completed" || done["notes"] != "fine" || done["results_data"] != nil {
		t.Errorf("completed %v", done)
	}
	listed := MustArray(t, data(t)(c.query("nanopore.getProcessingSteps", `"`+id+`"`)))
	if len(listed) != 8 || listed[0]["step_status"] != "completed" {
		t.Errorf("listed %v", listed)
	}
}

func TestProceduresListsContractSection4(t *testing.T) {
	svc, err := New(Options{Pool: MustTestDB(t, false)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range svc.Procedures() {
		got = append(got, p.Name+" "+string(p.Kind))
	}
	want := []string{"health query", "nanopore.getAll query", "nanopore.create mutation", "nanopore.update mutation",
		"nanopore.assign mutation", "nanopore.updateStatus mutation", "nanopore.delete mutation",
		"nanopore.getProcessingSteps query", "nanopore.createDefaultProcessingSteps mutation",
		"nanopore.updateProcessingStep mutation", "nanopore.startProcessingStep mutation",
		"nanopore.completeProcessingStep mutation"}
	if !slices.Equal(got, want) {
		t.Errorf("procedures %v\nwant %v", got, want)
	}
}

// TestUnwrittenStreamReleasesItsConnection: a Stream the router never
// writes (a batch cut short) gives its connection back when the request ends.
func TestUnwrittenStreamReleasesItsConnection(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, nil)
	MustSeed(t, pool, 10)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := svc.GetAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := pool.Stat().AcquiredConns(); n != 1 {
		t.Fatalf("an open stream should hold one connection, holds %d", n)
	}
	cancel()
	testutil.Eventually(t, 30*time.Second, "the stream's connection to return", func() bool {
		return pool.Stat().AcquiredConns() == 0
	})
	if err := st.WriteData(io.Discard); err == nil {
		t.Error("writing a closed stream should fail")
	}
}
