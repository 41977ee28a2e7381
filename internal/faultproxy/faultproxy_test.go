package faultproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// rig is a fault proxy (behind its control API) in front of an upstream
// that answers a small tRPC batch.
type rig struct {
	proxy   *httptest.Server
	control *Client
	hits    chan string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{hits: make(chan string, 100)}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits <- req.Header.Get("X-Forwarded-For")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"result":{"data":{"status":"ok"}}}]`)
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	p := New(Options{Upstream: u})
	r.proxy = httptest.NewServer(p)
	ctl := httptest.NewServer(p.Control())
	t.Cleanup(func() { p.Close(); r.proxy.Close(); ctl.Close() })
	r.control = &Client{URL: ctl.URL}
	return r
}

func (r *rig) get(t *testing.T, path string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.proxy.URL+path, nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestKinds(t *testing.T) {
	const path = "/api/trpc/health,nanopore.getAll?batch=1"
	cases := []struct {
		name   string
		fault  Fault
		status int
		body   string
	}{
		{"none", Fault{Kind: KindLatency, Match: "nothing", Delay: time.Hour}, 200, `[{"result":{"data":{"status":"ok"}}}]`},
		{"error", Fault{Kind: KindError}, 500, `[{"error":{"message":"fault injected","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"health"}}},{"error":{"message":"fault injected","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.getAll"}}}]`},
		{"trpc_error", Fault{Kind: KindTRPCError, Match: "getAll"}, 200, `[{"error":{"message":"fault injected","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"health"}}},{"error":{"message":"fault injected","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.getAll"}}}]`},
		{"corrupt", Fault{Kind: KindCorrupt, Old: `"ok"`, New: `"degraded"`}, 200, `[{"result":{"data":{"status":"degraded"}}}]`},
		{"latency", Fault{Kind: KindLatency, Delay: time.Millisecond}, 200, `[{"result":{"data":{"status":"ok"}}}]`},
	}
	r := newRig(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := r.control.Set(context.Background(), c.fault); err != nil {
				t.Fatal(err)
			}
			status, body, err := r.get(t, path)
			if err != nil || status != c.status || body != c.body {
				t.Errorf("got %d %s %v\nwant %d %s", status, body, err, c.status, c.body)
			}
		})
	}
	if xff := <-r.hits; xff != "203.0.113.9" {
		t.Errorf("X-Forwarded-For reached the upstream as %q, want the client's", xff)
	}
}

// TestRateIsSpreadEvenly: at 0.2 exactly every fifth selected request is
// hit, and requests the fault does not select do not count.
func TestRateIsSpreadEvenly(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.control.Set(ctx, Fault{Kind: KindError, Rate: 0.2, Match: "getAll"}); err != nil {
		t.Fatal(err)
	}
	var got []int
	for i := range 10 {
		status, _, _ := r.get(t, "/api/trpc/nanopore.getAll")
		got = append(got, status)
		if s, _, _ := r.get(t, "/api/trpc/health"); s != 200 {
			t.Fatalf("request %d the fault does not select: %d", i, s)
		}
	}
	want := []int{200, 200, 200, 200, 500, 200, 200, 200, 200, 500}
	if !slicesEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	// An event is recorded after its answer went out: wait for the last.
	var evs []Event
	testutil.Eventually(t, 30*time.Second, "20 events recorded", func() bool {
		evs, _ = r.control.Events(ctx, 0)
		return len(evs) >= 20
	})
	if len(evs) != 20 || evs[8].Fault != "error" || evs[8].Status != 500 || evs[6].Fault != "" {
		t.Errorf("events %+v", evs)
	}
}

// TestResetAndHang: a reset is a connection reset to the client; a hang
// holds the request until the client gives up, and records when.
func TestResetAndHang(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.control.Set(ctx, Fault{Kind: KindReset}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.get(t, "/x"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset: %v", err)
	}
	if err := r.control.Set(ctx, Fault{Kind: KindHang}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodPost, r.proxy.URL+"/y", strings.NewReader("body"))
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, _ := r.control.Events(ctx, 1)
		if len(evs) == 1 && evs[0].ClientGone && evs[0].Fault == "hang" && evs[0].Status == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hang's end was not recorded: %+v", evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.control.Set(ctx, Fault{Kind: "nope"}); err == nil || !strings.Contains(err.Error(), `unknown fault kind "nope"`) {
		t.Errorf("bad fault: %v", err)
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
