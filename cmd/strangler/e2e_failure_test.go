package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// TestE2ELegacyDownGives502Quickly points the proxy at a port nobody
// listens on: tRPC callers get tRPC error envelopes (an array for a batch,
// an object for a single call), others a short JSON body, all 502, without
// waiting for the (long) dial timeout and without naming the address.
func TestE2ELegacyDownGives502Quickly(t *testing.T) {
	t.Parallel()
	port := testutil.FreePort(t)
	proxy := startProxy(t, "http://127.0.0.1:"+strconv.Itoa(port), "STRANGLER_UPSTREAM_DIAL_TIMEOUT=120s")
	cases := []struct {
		name, method, target, body string
		check                      func(t *testing.T, body []byte)
	}{
		{"tRPC batch", "GET", "/api/trpc/health,nanopore.getAll?batch=1", "", func(t *testing.T, body []byte) {
			want := "[" + trpcError(t, body, 0, "health") + "," + trpcError(t, body, 1, "nanopore.getAll") + "]"
			if string(body) != want {
				t.Errorf("batch body\n got %s\nwant %s", body, want)
			}
		}},
		{"tRPC single mutation", "POST", "/api/trpc/nanopore.create", `{"sampleName":"x"}`, func(t *testing.T, body []byte) {
			if want := trpcError(t, body, -1, "nanopore.create"); string(body) != want {
				t.Errorf("single body\n got %s\nwant %s", body, want)
			}
		}},
		{"page", "GET", "/nanopore", "", func(t *testing.T, body []byte) {
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil || len(body) > 512 {
				t.Errorf("not a short JSON body (%v): %s", err, body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			req, _ := http.NewRequest(c.method, proxy.URL+c.target, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			resp, body := do(t, req)
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("the 502 took %s: a refused connection must not wait for the dial timeout", took)
			}
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			for _, leak := range []string{"127.0.0.1", strconv.Itoa(port), "refused", "dial"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("the answer names internals (%q): %s", leak, body)
				}
			}
			c.check(t, body)
		})
	}
}

// trpcError returns the exact bytes tRPC 11 gives a BAD_GATEWAY error of
// procedure path (key order included), with the message taken from the
// answer (element i of a batch, or the object itself when i < 0).
func trpcError(t *testing.T, body []byte, i int, path string) string {
	t.Helper()
	type envelope struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	var e envelope
	if i < 0 {
		_ = json.Unmarshal(body, &e)
	} else {
		var arr []envelope
		if err := json.Unmarshal(body, &arr); err != nil || len(arr) <= i {
			t.Fatalf("not a batch array with element %d: %s", i, body)
		}
		e = arr[i]
	}
	if e.Error.Message == "" {
		t.Fatalf("no error message in %s", body)
	}
	msg, _ := json.Marshal(e.Error.Message)
	return fmt.Sprintf(`{"error":{"message":%s,"code":-32603,"data":{"code":"BAD_GATEWAY","httpStatus":502,"path":%q}}}`, msg, path)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: e2eTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestE2EHangingLegacyGives504 sends a request legacy never answers: the
// proxy gives up after upstream.response_header_timeout with a 504, and
// keeps serving.
func TestE2EHangingLegacyGives504(t *testing.T) {
	t.Parallel()
	const timeout = 700 * time.Millisecond
	legacy := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), TestRoutes: true, RequestLog: true})
	proxy := startProxy(t, legacy.URL, "STRANGLER_UPSTREAM_RESPONSE_HEADER_TIMEOUT="+timeout.String())
	start := time.Now()
	req, _ := http.NewRequest("GET", proxy.URL+"/__standin/slow?hang=1", nil)
	resp, body := do(t, req)
	took := time.Since(start)
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if took < timeout {
		t.Errorf("504 after %s, before the %s timeout", took, timeout)
	}
	if strings.Contains(string(body), legacy.Addr) || len(body) > 512 {
		t.Errorf("body: %s", body)
	}
	if !legacy.Received(t, func(r testutil.StandinRequest) bool { return r.URL == "/__standin/slow?hang=1" }) {
		t.Error("the hanging request never reached legacy")
	}
	req, _ = http.NewRequest("GET", proxy.URL+"/__standin/slow?ms=1", nil)
	if resp, body := do(t, req); resp.StatusCode != 200 || string(body) != `{"slept_ms":1}` {
		t.Errorf("after the 504: %d %s", resp.StatusCode, body)
	}
}

// TestE2EHangingLegacyGives504EnvelopesOnTRPC puts a peer that accepts
// connections and never answers in legacy's place (the stand-in hangs only
// on its test route): a tRPC batch gets one GATEWAY_TIMEOUT envelope per
// procedure.
func TestE2EHangingLegacyGives504EnvelopesOnTRPC(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // never answered, closed with the test
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	proxy := startProxy(t, "http://"+ln.Addr().String(), "STRANGLER_UPSTREAM_RESPONSE_HEADER_TIMEOUT=300ms",
		"STRANGLER_HEALTH_INTERVAL=1h")
	req, _ := http.NewRequest("GET", proxy.URL+"/api/trpc/health,nanopore.getAll?batch=1", nil)
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var entries []struct {
		Error struct {
			Code int `json:"code"`
			Data struct {
				Code       string `json:"code"`
				HTTPStatus int    `json:"httpStatus"`
				Path       string `json:"path"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &entries); err != nil || len(entries) != 2 {
		t.Fatalf("not a two-element batch answer (%v): %s", err, body)
	}
	for i, path := range []string{"health", "nanopore.getAll"} {
		e := entries[i].Error
		if e.Code != -32603 || e.Data.Code != "GATEWAY_TIMEOUT" || e.Data.HTTPStatus != 504 || e.Data.Path != path {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
}

// TestE2ELegacyDyingMidBodyAbortsTheClientStream kills legacy while a
// download is half read. A client of legacy itself then sees a broken stream
// (no final chunk); through the proxy it must too, never a clean end that
// passes a truncated file off as complete.
//
// BUG(proxy), reported to the lead: this test fails. proxy.observe recovers
// the http.ErrAbortHandler that httputil.ReverseProxy panics with when the
// upstream body breaks, and returns normally, so net/http ends the chunked
// answer cleanly (access log: status 499, error "aborted"). The recover
// should re-panic http.ErrAbortHandler after logging.
func TestE2ELegacyDyingMidBodyAbortsTheClientStream(t *testing.T) {
	t.Parallel()
	db := testutil.CreateDB(t)
	direct := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db, TestRoutes: true})
	if n, err := downloadWhileLegacyDies(t, direct.URL, direct); err == nil {
		t.Fatalf("precondition: legacy's own stream ended cleanly after %d bytes when it died", n)
	}
	behind := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db, TestRoutes: true})
	proxy := startProxy(t, behind.URL)
	if n, err := downloadWhileLegacyDies(t, proxy.URL, behind); err == nil {
		t.Fatalf("through the proxy the stream ended cleanly after %d bytes although legacy died", n)
	}
}

// downloadWhileLegacyDies starts a 64 MiB download from base, reads 1 MiB,
// kills legacy, and reads on; it returns how far the body got and how it
// ended (nil: a clean end).
func downloadWhileLegacyDies(t *testing.T, base string, legacy *testutil.Standin) (int64, error) {
	t.Helper()
	const size = 64 << 20
	resp, err := (&http.Client{Timeout: e2eTimeout}).Get(fmt.Sprintf("%s/__standin/download?bytes=%d", base, size))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	legacy.Kill()
	n, err := checkPattern(resp.Body, 1<<20)
	if n >= size {
		t.Fatalf("all %d bytes arrived before legacy died; the test proves nothing", n)
	}
	return n, err
}

// TestE2ESIGTERMDrainsInFlightRequests stops a proxy process while two
// requests are in flight (one waiting for legacy's headers, one streaming a
// body the client has not read yet): new connections are refused at once,
// both requests complete, and the process exits 0.
func TestE2ESIGTERMDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	legacy := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t), TestRoutes: true, RequestLog: true})
	proxy, proc := startProxyProcess(t, legacy.URL, "STRANGLER_SERVER_SHUTDOWN_GRACE=2m")

	// The held download: its body cannot finish before the test reads it.
	const held = 64 << 20
	conn, err := net.Dial("tcp", proxy.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * e2eTimeout))
	_, _ = io.WriteString(conn, httpRequest("GET", fmt.Sprintf("/__standin/download?bytes=%d", held), proxy.Addr, nil, ""))
	download, err := http.ReadResponse(bufio.NewReader(conn), nil) // body left unread
	if err != nil || download.StatusCode != 200 {
		t.Fatalf("download: %v %v", download, err)
	}

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 2 * e2eTimeout}).Get(proxy.URL + "/__standin/slow?ms=1500")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	legacy.WaitForRequest(t, e2eTimeout, "the slow request at legacy", func(r testutil.StandinRequest) bool {
		return r.URL == "/__standin/slow?ms=1500"
	})

	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, e2eTimeout, "new connections refused after SIGTERM", func() bool {
		c, err := net.Dial("tcp", proxy.Addr)
		if err == nil {
			c.Close()
			return false
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	select {
	case <-proc.Exited():
		t.Fatal("the proxy exited with a download still in flight")
	default:
	}

	if r := <-slow; r.err != nil || r.status != 200 || r.body != `{"slept_ms":1500}` {
		t.Errorf("in-flight slow request: %d %q %v", r.status, r.body, r.err)
	}
	if n, err := checkPattern(download.Body, 0); err != nil || n != held {
		t.Errorf("in-flight download: %d of %d bytes: %v", n, held, err)
	}
	code, err := proc.Wait(e2eTimeout)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if !strings.Contains(proc.Output(), "draining in-flight requests") {
		t.Errorf("no drain in the log:\n%s", proc.Output())
	}
}

// TestE2EReadinessReportsLegacyHealth makes legacy's database disappear:
// legacy's /health turns 503, the readiness body says legacy is unhealthy,
// and /readyz stays 200 (every replica shares legacy; taking them all out of
// the load balancer would help nobody), while traffic still passes.
func TestE2EReadinessReportsLegacyHealth(t *testing.T) {
	t.Parallel()
	db := testutil.CreateDB(t)
	legacy := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db})
	// A generous check timeout: on a loaded machine a check that times out
	// is also "unhealthy", but this test wants legacy's own 503.
	proxy := startProxy(t, legacy.URL, "STRANGLER_HEALTH_INTERVAL=100ms", "STRANGLER_HEALTH_TIMEOUT=20s")

	waitLegacyHealth(t, proxy.AdminURL, true)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	testutil.DropDB(t, strings.TrimPrefix(u.Path, "/"))
	st := waitLegacyHealth(t, proxy.AdminURL, false)
	if !strings.Contains(st.Error, "503") {
		t.Errorf("legacy status error %q, want legacy's 503", st.Error)
	}
	req, _ := http.NewRequest("GET", proxy.URL+"/api/trpc/health", nil)
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Errorf("tRPC health through the proxy: %d %s", resp.StatusCode, body)
	}
}

type targetStatus struct {
	Target  string `json:"target"`
	Healthy bool   `json:"healthy"`
	Checked bool   `json:"checked"`
	Error   string `json:"error"`
}

// waitLegacyHealth polls /readyz until legacy's checked health is healthy,
// failing if /readyz ever answers anything but 200.
func waitLegacyHealth(t *testing.T, adminURL string, healthy bool) targetStatus {
	t.Helper()
	var last targetStatus
	testutil.Eventually(t, e2eTimeout, fmt.Sprintf("readiness body: legacy healthy=%v", healthy), func() bool {
		req, _ := http.NewRequest("GET", adminURL+"/readyz", nil)
		resp, body := do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("/readyz answered %d: %s", resp.StatusCode, body)
		}
		var v struct {
			Ready   bool           `json:"ready"`
			Targets []targetStatus `json:"targets"`
		}
		if err := json.Unmarshal(body, &v); err != nil || !v.Ready {
			t.Fatalf("/readyz body %s: %v", body, err)
		}
		for _, s := range v.Targets {
			if s.Target == "legacy" {
				last = s
				return s.Checked && s.Healthy == healthy
			}
		}
		return false
	})
	return last
}
