package deploy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// routesView is the part of `strangler routes --json` the tests read.
type routesView struct {
	FlagsVersion int64 `json:"flags_version"`
	Routes       []struct {
		ID   string `json:"id"`
		Mode string `json:"mode"`
	} `json:"routes"`
	Replicas []struct {
		FlagsVersion int64 `json:"flags_version"`
	} `json:"replicas"`
}

// routeMode is a route's mode in `routes --json` output once every
// replica applied the latest flags ("" before).
func routeMode(out, route string) string {
	var v routesView
	if json.Unmarshal([]byte(out), &v) != nil || len(v.Replicas) == 0 {
		return ""
	}
	for _, r := range v.Replicas {
		if r.FlagsVersion < v.FlagsVersion {
			return ""
		}
	}
	for _, r := range v.Routes {
		if r.ID == route {
			return r.Mode
		}
	}
	return ""
}

const createInput = `{"sampleName":"Deploy","submitterName":"Jo Smith","submitterEmail":"jo@lab.org","sampleType":"DNA","chartField":"HTSF-001"}`

// driveTraffic makes every lazily created series appear.
func (lp *liveProxy) driveTraffic(t *testing.T) {
	t.Helper()
	// Legacy passthrough, a denied route, a tRPC batch.
	lp.do(t, http.MethodGet, "/", "")
	lp.do(t, http.MethodGet, "/api/migrate", "")
	lp.do(t, http.MethodGet, "/api/trpc/health,nanopore.getAll?batch=1&input=%7B%7D", "")
	// Shadow and canary reads, a write group in shadow (legacy primary,
	// dual-written) and then in new (outbox, relay).
	lp.flip(t, "nanopore.getAll", "shadow")
	lp.flip(t, "samples", "shadow")
	lp.do(t, http.MethodPost, "/api/trpc/nanopore.create", createInput)
	for range 5 {
		lp.do(t, http.MethodGet, "/api/trpc/nanopore.getAll", "")
	}
	lp.flip(t, "health", "canary", "--percent", "100")
	lp.do(t, http.MethodGet, "/api/trpc/health", "")
	// A batch split between the sides: its comparison is skipped.
	lp.do(t, http.MethodGet, "/api/trpc/health,nanopore.getAll?batch=1&input=%7B%7D", "")
	lp.flip(t, "deploytest.volatile", "shadow")
	testutil.Eventually(t, time.Minute, "legacy's /health learnt as noise", func() bool {
		lp.do(t, http.MethodGet, "/health", "")
		return lp.scrape(t)["strangler_shadow_noise_learned_total"] != nil
	})
	lp.flip(t, "samples", "new")
	lp.do(t, http.MethodPost, "/api/trpc/nanopore.create", createInput)
	lp.do(t, http.MethodGet, "/api/trpc/nanopore.getAll", "")
	// Over the legacy login's per-address limit (burst 5): 429.
	for range 8 {
		lp.do(t, http.MethodPost, "/api/admin/login", `{"username":"nobody","password":"x"}`)
	}
	lp.shed(t)
	lp.tripGuard(t)
	testutil.Eventually(t, time.Minute, "health checks of every target", func() bool {
		s := lp.scrape(t)
		return s["strangler_target_healthy"] != nil && s["strangler_guard_signal_value"] != nil
	})
}

// shed holds one request at the stalled target and sends a second one,
// which the in-flight cap of 1 refuses with 503.
func (lp *liveProxy) shed(t *testing.T) {
	t.Helper()
	lp.flip(t, "deploytest.slow", "new")
	held := make(chan int, 1)
	go func() { held <- lp.do(t, http.MethodGet, "/__deploytest/slow", "") }()
	select {
	case <-lp.slow.arrived:
	case <-time.After(time.Minute):
		t.Fatal("the stalled target never got the first request")
	}
	if st := lp.do(t, http.MethodGet, "/__deploytest/slow", ""); st != http.StatusServiceUnavailable {
		t.Errorf("second request to a target at its in-flight cap: %d, want 503 (the route is not safe: no fallback)", st)
	}
	lp.slow.Release()
	if st := <-held; st != http.StatusOK {
		t.Errorf("held request: %d", st)
	}
}

// tripGuard puts a route whose new side refuses connections in new mode
// and sends requests until the guard rolls it back (each is answered by
// legacy through the fallback meanwhile) and the webhook is called.
func (lp *liveProxy) tripGuard(t *testing.T) {
	t.Helper()
	lp.flip(t, "deploytest.down", "new")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if st := lp.do(t, http.MethodGet, "/__deploytest/down", ""); st == 0 || st >= 500 {
			t.Errorf("a safe request whose new side is down got %d: legacy should have answered", st)
		}
		s := lp.scrape(t)
		if s["strangler_guard_trips_total"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard did not roll deploytest.down back within 2 minutes; families: %s\n%s", s.names(), lp.Output())
		}
		time.Sleep(50 * time.Millisecond) // pacing the load, not waiting for a condition
	}
	select {
	case <-lp.hooks:
	case <-time.After(time.Minute):
		t.Fatal("the guard's webhook was not called")
	}
	out, err := lp.cli(t, "history", "deploytest.down")
	if err != nil || !strings.Contains(out, "guard") {
		t.Errorf("history of the tripped route: %v\n%s", err, out)
	}
}
