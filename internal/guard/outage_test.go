package guard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nanopore/strangler/internal/config"
	tu "github.com/nanopore/strangler/internal/testutil"
)

// TestWebhook: a trip is posted as JSON off the evaluation, retried past a
// 503, and counted.
func TestWebhook(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var mu sync.Mutex
	var got WebhookPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &got) != nil {
			t.Errorf("webhook body %q (%s)", body, r.Header.Get("Content-Type"))
		}
	}))
	defer srv.Close()
	e := newEnv(t)
	e.flip("nanopore.getAll", "new")
	g := e.guard(func(_ *Options, c *config.Guard) {
		c.Webhook = config.GuardWebhook{URL: srv.URL, Timeout: 5 * time.Second, Retries: 2, Backoff: time.Millisecond}
		c.FlushInterval, c.EvaluateInterval = time.Hour, time.Hour // this test drives them
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 10)
	if evs := evaluate(t, g); len(evs) != 1 {
		t.Fatalf("trips: %+v", evs)
	}
	tu.Eventually(t, 30*time.Second, "webhook delivered", func() bool {
		return testutil.ToFloat64(g.metrics.webhook.WithLabelValues("sent")) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if calls.Load() != 2 || got.Route != "nanopore.getAll" || got.Signal != SignalErrorRate || got.Text == "" ||
		got.WindowSecs != 30 || got.Samples != 10 {
		t.Fatalf("%d calls, last payload %+v", calls.Load(), got)
	}
}

// TestDatabaseDown: with the database gone a replica keeps counting in
// memory, still trips on its local signals (the rollback holds on this
// replica), and when the database returns it writes what it counted,
// evaluates the windows again and records the trips it made meanwhile.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	cluster := tu.StartCluster(t)
	e := newEnvOn(t, cluster.CreateDB("guard"))
	e.flip("nanopore.getAll", "new")
	e.flip("files.list", "new")
	var filesDown atomic.Int64
	rep := e.replica()
	g := e.guardOn("r1", rep, func(o *Options, _ *config.Guard) {
		o.Health = func(target string) (int, bool) {
			if target == "https://files.internal" {
				return int(filesDown.Load()), true
			}
			return 0, true
		}
	})
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 4)
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("trips: %+v", evs)
	}

	cluster.Stop()
	e.clock.Advance(time.Second)
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 8)
	if err := g.Flush(context.Background()); err == nil {
		t.Fatal("flush with the database down succeeded")
	}
	filesDown.Store(5)
	evs := g.Evaluate(context.Background())
	if len(evs) != 1 || evs[0].Route != "files.list" || evs[0].Signal != SignalHealth {
		t.Fatalf("trips while the database is down: %+v (only local signals can trip)", evs)
	}
	if !rep.local["files.list"] || testutil.ToFloat64(g.metrics.dbUp) != 0 {
		t.Fatalf("files.list not rolled back on this replica, or the database reported up")
	}

	cluster.Start()
	e.clock.Advance(time.Second)
	evs = evaluate(t, g)
	if len(evs) != 1 || evs[0].Route != "nanopore.getAll" || evs[0].Samples != 12 {
		t.Fatalf("trips once the database is back: %+v (the 8 failures counted while down must count)", evs)
	}
	all := e.events()
	if got := signals(all); len(got) != 2 || got[0] != "files.list:health" || got[1] != "nanopore.getAll:error_rate" {
		t.Fatalf("recorded events %v", got)
	}
	if testutil.ToFloat64(g.metrics.dbUp) != 1 {
		t.Fatal("database not reported back")
	}
}
