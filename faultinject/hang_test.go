//go:build faultinject

package faultinject

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/faultproxy"
	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/testutil"
)

// TestHangingNewSideOpensTheBreakerAndLeaksNothing: getAll in new mode,
// its new side accepting requests and never answering. Each safe request
// waits for the configured upstream timeout (2 s here; the proxy's own
// clock, recorded by the fault proxy as when it gave up) and is answered
// by legacy; the breaker opens and later requests go to legacy at once;
// the guard trips on the open breaker (guard.defaults.breaker_open, the
// only signal switched on here: the error rate would see the same hang);
// and once it is over the proxy runs no more goroutines than before.
func TestHangingNewSideOpensTheBreakerAndLeaksNothing(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	// What legacy may add to the timeout on a loaded machine.
	const legacySlack = 1500 * time.Millisecond
	e := newEnv(t, envOptions{proxyEnv: []string{
		"STRANGLER_UPSTREAM_RESPONSE_HEADER_TIMEOUT=2s",
		// Idle upstream connections close soon, so that goroutines settle.
		"STRANGLER_UPSTREAM_IDLE_CONN_TIMEOUT=1s", "STRANGLER_SERVER_IDLE_TIMEOUT=1s",
		"STRANGLER_GUARD_DEFAULTS_BREAKER_OPEN=true",
		"STRANGLER_GUARD_DEFAULTS_ERROR_RATE=0", "STRANGLER_GUARD_DEFAULTS_LATENCY_RATIO=0",
		"STRANGLER_GUARD_DEFAULTS_HEALTH_FAILURES=0",
	}})
	e.flip("nanopore.getAll", "new")
	var users seen
	read := func(int) { users.add(e.do("read", "GET", "/api/trpc/nanopore.getAll", "")) }
	drive(8, after(40), read) // the pools at the test's concurrency
	base := e.goroutines()

	e.newSide.set(t, faultproxy.Fault{Kind: faultproxy.KindHang, Match: "nanopore.getAll"})
	var rolledBack atomic.Bool
	stop := watch(func() bool { return len(e.guardEvents("nanopore.getAll")) > 0 }, &rolledBack)
	drive(8, until(&rolledBack, 2000), read)
	stop()
	ev := e.waitEvent("nanopore.getAll")
	t.Logf("rolled back: %s: %s", ev.Signal, ev.Detail)
	if ev.Signal != guard.SignalBreakerOpen {
		t.Errorf("rolled back on %s, want %s", ev.Signal, guard.SignalBreakerOpen)
	}
	if v, _ := e.metric("strangler_fallbacks_total", "route=nanopore.getAll", "reason=breaker_open"); v == 0 {
		t.Errorf("no request was sent to legacy because the breaker was open")
	}
	hung := checkHangs(t, e.newSide.events(t), timeout)
	e.checkAnsweredByLegacy(t, users.answers(), timeout+legacySlack)

	e.newSide.set(t)
	if now := e.goroutines(); now > base+2 {
		t.Errorf("goroutines: %v before the hang, %v after it (%d requests hung)", base, now, hung)
	}
}

// checkHangs: every hung request ended because the proxy gave up, after
// the configured timeout and not much later; it returns how many hung.
func checkHangs(t *testing.T, evs []faultproxy.Event, timeout time.Duration) int {
	t.Helper()
	n := 0
	for _, ev := range evs {
		if ev.Fault != "hang" {
			continue
		}
		n++
		held := ev.End.Sub(ev.Start)
		if !ev.ClientGone || held < timeout-50*time.Millisecond || held > timeout+time.Second {
			t.Errorf("a hung request was held %s (client gone: %v); the proxy's timeout is %s", held, ev.ClientGone, timeout)
		}
	}
	if n == 0 {
		t.Fatal("no request reached the hanging new side")
	}
	return n
}

// checkAnsweredByLegacy: every user got getAll's answer from legacy
// within limit, as the proxy's access log records it.
func (e *env) checkAnsweredByLegacy(t *testing.T, users []answer, limit time.Duration) {
	t.Helper()
	var log map[string]accessLine
	testutil.Eventually(t, waitLong, "the access log of every request", func() bool {
		log = e.accessLog()
		for _, a := range users {
			if _, ok := log[a.id]; !ok && a.id != "" {
				return false
			}
		}
		return true
	})
	var slowest float64
	fellBack := 0
	for _, a := range users {
		if a.failed() {
			t.Errorf("a user's read failed: %d %.200s %v", a.status, a.body, a.err)
			continue
		}
		l := log[a.id]
		slowest = max(slowest, l.DurationMS)
		if l.Target == "legacy" {
			fellBack++
		}
		if l.DurationMS > float64(limit.Milliseconds()) {
			t.Errorf("request %s took %.0f ms (target %s), more than %s", a.id, l.DurationMS, l.Target, limit)
		}
	}
	t.Logf("%d requests, %d answered by legacy, slowest %.0f ms", len(users), fellBack, slowest)
}

// TestNewSideResettingConnectionsFallsBack: getAll and the samples write
// group in new mode, the new side resetting every connection (TCP RST, no
// answer). Each read is answered by legacy and counted as a fallback; a
// write gets the proxy's 502 and reaches the new side exactly once (never
// sent twice, never sent to legacy instead).
func TestNewSideResettingConnectionsFallsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.flip("nanopore.getAll", "new")
	e.flip("samples", "new")
	e.newSide.set(t, faultproxy.Fault{Kind: faultproxy.KindReset, Match: "/api/trpc/nanopore."})
	var reads []answer
	for range 5 {
		a := e.do("read", "GET", "/api/trpc/nanopore.getAll", "")
		if a.failed() || !strings.HasPrefix(string(a.body), `{"result":{"data":[`) {
			t.Fatalf("a read failed while the new side reset connections: %d %.200s %v", a.status, a.body, a.err)
		}
		reads = append(reads, a)
	}
	if v, _ := e.metric("strangler_fallbacks_total", "route=nanopore.getAll", "reason=new_side_failed"); v != 5 {
		t.Errorf("strangler_fallbacks_total{reason=new_side_failed} = %v after 5 reset reads", v)
	}
	e.checkAnsweredByLegacy(t, reads, waitLong)
	w := e.do("write", "POST", "/api/trpc/nanopore.create", createInput)
	if w.status != http.StatusBadGateway {
		t.Errorf("a write whose new side reset the connection: %d %.200s %v", w.status, w.body, w.err)
	}
	tries := 0
	for _, ev := range e.newSide.events(t) {
		if ev.RequestID == w.id {
			tries++
		}
	}
	var legacyRows int
	if err := e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM public.nanopore_samples WHERE sample_name = 'Fault Sample'`).Scan(&legacyRows); err != nil {
		t.Fatal(err)
	}
	if tries != 1 || legacyRows != 0 {
		t.Errorf("the failed write reached the new side %d times and wrote %d legacy rows; want once and none", tries, legacyRows)
	}
}
