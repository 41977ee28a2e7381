package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"golang.org/x/net/websocket"

	"github.com/nanopore/strangler/internal/limit"
	"github.com/nanopore/strangler/internal/routing"
)

// seen is what a test backend received.
type seen struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         []byte
}

// echoBackend records each request and answers with a fixed set of headers.
func echoBackend(t *testing.T) (*httptest.Server, chan seen) {
	t.Helper()
	got := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), body}
		h := w.Header()
		h.Add("Set-Cookie", "a=1; Path=/; HttpOnly")
		h.Add("Set-Cookie", "b=2; Path=/")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", `"v1"`)
		h["Server"] = []string{""}
		h["X-Powered-By"] = []string{""}
		h.Set("X-Frame-Options", "DENY")
		if r.URL.Path == "/redirect" {
			h.Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
			return
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

type fixture struct {
	proxy *Proxy
	front *httptest.Server
	reg   *prometheus.Registry
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, legacy string, mod func(*Options)) *fixture {
	t.Helper()
	u, err := url.Parse(legacy)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	opts := Options{Legacy: u, AccessLog: true, Logger: zerolog.New(f.logs), Registerer: f.reg}
	if mod != nil {
		mod(&opts)
	}
	f.proxy = New(opts)
	f.front = httptest.NewServer(f.proxy)
	t.Cleanup(f.front.Close)
	return f
}

func TestPassthroughForwardsTheRequestUnchanged(t *testing.T) {
	back, got := echoBackend(t)
	f := newFixture(t, back.URL, nil)

	req, _ := http.NewRequest(http.MethodPost, f.front.URL+"/api/x%2Fy/z?b=2&a=1&a=&q=%20", strings.NewReader(`{"in":1}`))
	req.Host = "lab.example.org"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://lab.example.org")
	req.Header.Set("Cookie", "admin_session=s1; other=2")
	req.Header.Set("Authorization", "Bearer session-1")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Port", "8443")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "drop me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := <-got

	checks := []struct{ name, got, want string }{
		{"method", s.Method, "POST"},
		{"path", s.Path, "/api/x/y/z"},
		{"raw query", s.RawQuery, "b=2&a=1&a=&q=%20"},
		{"host kept", s.Host, "lab.example.org"},
		{"body", string(s.Body), `{"in":1}`},
		{"origin", s.Header.Get("Origin"), "http://lab.example.org"},
		{"cookie", s.Header.Get("Cookie"), "admin_session=s1; other=2"},
		{"authorization", s.Header.Get("Authorization"), "Bearer session-1"},
		{"traceparent", s.Header.Get("Traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"untrusted X-Forwarded-For replaced", s.Header.Get("X-Forwarded-For"), "127.0.0.1"},
		{"X-Forwarded-Host", s.Header.Get("X-Forwarded-Host"), "lab.example.org"},
		{"untrusted X-Forwarded-Proto replaced", s.Header.Get("X-Forwarded-Proto"), "http"},
		{"untrusted X-Forwarded-Port dropped", s.Header.Get("X-Forwarded-Port"), ""},
		{"hop-by-hop header named by Connection dropped", s.Header.Get("X-Hop"), ""},
		{"request id sent upstream", s.Header.Get(RequestIDHeader), resp.Header.Get(RequestIDHeader)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if resp.Header.Get(RequestIDHeader) == "" {
		t.Error("answer carries no X-Request-Id")
	}
}

func TestRequestIDFromClientIsKeptUnlessUnsafe(t *testing.T) {
	back, got := echoBackend(t)
	f := newFixture(t, back.URL, nil)
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"plain", "abc-123", true},
		{"too long", strings.Repeat("a", 129), false},
		{"space", "a b", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.front.URL+"/", nil)
			req.Header.Set(RequestIDHeader, c.sent)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			s := <-got
			id := resp.Header.Get(RequestIDHeader)
			if (id == c.sent) != c.kept {
				t.Errorf("sent %q, answer id %q, kept=%v want %v", c.sent, id, id == c.sent, c.kept)
			}
			if s.Header.Get(RequestIDHeader) != id {
				t.Errorf("upstream saw %q, client got %q", s.Header.Get(RequestIDHeader), id)
			}
		})
	}
}

func TestTrustedProxyForwardedForIsKept(t *testing.T) {
	back, got := echoBackend(t)
	f := newFixture(t, back.URL, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	req, _ := http.NewRequest(http.MethodGet, f.front.URL+"/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "lab.example.org")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := (<-got).Header
	if xff := h.Get("X-Forwarded-For"); xff != "203.0.113.9, 10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For from a trusted peer: got %q", xff)
	}
	if h.Get("X-Forwarded-Proto") != "https" || h.Get("X-Forwarded-Host") != "lab.example.org" {
		t.Errorf("a trusted peer's proto/host were replaced: %v", h)
	}
}

func TestAnswerHeadersPassUnchanged(t *testing.T) {
	back, got := echoBackend(t)
	f := newFixture(t, back.URL, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/page", "/redirect"} {
		direct, err := client.Get(back.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		direct.Body.Close()
		<-got
		via, err := client.Get(f.front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		via.Body.Close()
		<-got
		if via.StatusCode != direct.StatusCode {
			t.Errorf("%s: status %d, direct %d", path, via.StatusCode, direct.StatusCode)
		}
		dh, vh := direct.Header.Clone(), via.Header.Clone()
		for _, h := range []string{"Date", RequestIDHeader} {
			dh.Del(h)
			vh.Del(h)
		}
		if !equalHeaders(dh, vh) {
			t.Errorf("%s: headers differ\ndirect: %v\nproxy:  %v", path, dh, vh)
		}
		if _, ok := via.Header["Server"]; !ok {
			t.Errorf("%s: empty Server header was dropped", path)
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv := b[k]
		if strings.Join(av, "\x00") != strings.Join(bv, "\x00") {
			return false
		}
	}
	return true
}

// TestStreamingIsFlushedAsItComes proves incremental delivery without timing:
// the backend writes its second event only after the client has read the
// first, so a buffering proxy would deadlock until the test's timeout.
func TestStreamingIsFlushedAsItComes(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/json"} {
		t.Run(ct, func(t *testing.T) {
			next := make(chan struct{})
			back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				for i := 0; i < 3; i++ {
					_, _ = io.WriteString(w, "data: event\n\n")
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-r.Context().Done():
						return
					}
				}
			}))
			defer back.Close()
			f := newFixture(t, back.URL, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.front.URL+"/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := 0; i < 3; i++ {
				line, err := br.ReadString('\n')
				if err != nil || line != "data: event\n" {
					t.Fatalf("event %d: %q, %v (a proxy that buffers never delivers it)", i, line, err)
				}
				_, _ = br.ReadString('\n')
				next <- struct{}{}
			}
		})
	}
}

func TestWebSocketUpgradePassesThrough(t *testing.T) {
	back := httptest.NewServer(websocket.Handler(func(c *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(c, &msg) == nil {
			if websocket.Message.Send(c, msg) != nil {
				return
			}
		}
	}))
	defer back.Close()
	f := newFixture(t, back.URL, nil)
	wsURL := "ws" + strings.TrimPrefix(f.front.URL, "http") + "/ws"
	c, err := websocket.Dial(wsURL, "", f.front.URL)
	if err != nil {
		t.Fatalf("dial through proxy: %v", err)
	}
	defer c.Close()
	for _, msg := range []string{"hello", strings.Repeat("x", 100_000)} {
		if err := websocket.Message.Send(c, msg); err != nil {
			t.Fatal(err)
		}
		var echo string
		if err := websocket.Message.Receive(c, &echo); err != nil {
			t.Fatal(err)
		}
		if echo != msg {
			t.Fatalf("echo of %d bytes came back as %d bytes", len(msg), len(echo))
		}
	}
}

func TestLegacyDownGives502WithoutInternalAddress(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	f := newFixture(t, dead, nil)

	cases := []struct {
		name, path string
		check      func(t *testing.T, body []byte)
	}{
		{"page", "/nanopore", func(t *testing.T, body []byte) {
			var v struct{ Error, Message string }
			if err := json.Unmarshal(body, &v); err != nil || v.Error != "bad_gateway" {
				t.Errorf("body %s: %v", body, err)
			}
		}},
		{"trpc single", "/api/trpc/nanopore.getAll", func(t *testing.T, body []byte) {
			want := `{"error":{"message":"The service behind this address could not be reached.","code":-32603,"data":{"code":"BAD_GATEWAY","httpStatus":502,"path":"nanopore.getAll"}}}`
			if string(body) != want {
				t.Errorf("got  %s\nwant %s", body, want)
			}
		}},
		{"trpc batch", "/api/trpc/health,nanopore.getAll?batch=1", func(t *testing.T, body []byte) {
			var arr []map[string]any
			if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 2 {
				t.Fatalf("want an array of 2 envelopes, got %s", body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Get(f.front.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if strings.Contains(string(body), ln.Addr().String()) || strings.Contains(string(body), "127.0.0.1") {
				t.Errorf("answer names an internal address: %s", body)
			}
			c.check(t, body)
		})
	}
	if n := testutil.ToFloat64(f.proxy.metrics.upstreamErrors.WithLabelValues("legacy", kindConnect)); n != 3 {
		t.Errorf("upstream connect errors counted: %v, want 3", n)
	}
}

func TestHangingLegacyGives504AfterTheTimeout(t *testing.T) {
	release := make(chan struct{})
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer back.Close()
	defer close(release)
	f := newFixture(t, back.URL, func(o *Options) { o.ResponseHeaderTimeout = 100 * time.Millisecond })
	resp, err := http.Get(f.front.URL + "/api/trpc/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), `"GATEWAY_TIMEOUT"`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}

func TestClientGoneIsLoggedAs499(t *testing.T) {
	arrived := make(chan struct{})
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer back.Close()
	f := newFixture(t, back.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.front.URL+"/slow", nil)
	go func() { <-arrived; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request should have been cancelled")
	}
	waitFor(t, "a 499 access log line", func() bool { return strings.Contains(f.logs.String(), `"status":499`) })
}

func TestPanicInHandlerAnswers500(t *testing.T) {
	f := newFixture(t, "http://127.0.0.1:1", func(o *Options) { o.Router = panicDecider{} })
	rec := httptest.NewRecorder()
	f.proxy.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
}

// panicDecider panics inside the executor, as a bug would.
type panicDecider struct{}

func (panicDecider) Decide(*http.Request) routing.Decision { panic("boom") }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	back, got := echoBackend(t)
	go func() {
		for range got {
		}
	}()
	f := newFixture(t, back.URL, func(o *Options) {
		o.Limiter = &limit.Limiter{Store: limit.NewLocal(), Policy: limit.Policy{
			PerClient: limit.Rule{Requests: 1, Per: time.Hour, Burst: 2}}}
	})
	codes := []int{}
	var last *http.Response
	var body []byte
	for i := 0; i < 3; i++ {
		resp, err := http.Get(f.front.URL + "/api/trpc/health,nanopore.getAll?batch=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		last = resp
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("statuses %v, want 200 200 429", codes)
	}
	if ra := last.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	var arr []struct {
		Error struct {
			Code int
			Data struct{ Code string }
		}
	}
	if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 2 || arr[0].Error.Code != -32029 || arr[0].Error.Data.Code != "TOO_MANY_REQUESTS" {
		t.Errorf("tRPC batch over the limit: %s", body)
	}
}

func TestInFlightCapShedsWith503(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer back.Close()
	defer close(release)
	f := newFixture(t, back.URL, func(o *Options) {
		o.MaxInFlightPerTarget = 1
		o.Router = passthroughDecider{}
	})
	go func() {
		resp, err := http.Get(f.front.URL + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived
	resp, err := http.Get(f.front.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), "service_unavailable") {
		t.Fatalf("second request with one slot taken: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// passthroughDecider sends everything to legacy, to exercise the executor.
type passthroughDecider struct{}

func (passthroughDecider) Decide(*http.Request) routing.Decision {
	return routing.Decision{Label: routing.LabelPassthrough, Side: routing.SideLegacy}
}

func TestAnswerWithoutContentTypeGetsNone(t *testing.T) {
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no Content-Type, no sniffing
		_, _ = io.WriteString(w, "<html>plain bytes</html>")
	}))
	defer back.Close()
	f := newFixture(t, back.URL, nil)
	resp, err := http.Get(f.front.URL + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("the proxy added Content-Type %q", ct)
	}
}
