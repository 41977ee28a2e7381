//go:build faultinject

package faultinject

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
)

// TestLegacyDownAnswers502QuicklyAndSaysSo kills the legacy stand-in: every
// legacy request gets the proxy's 502 at once (the access log's duration
// is far below the 60 s dial timeout: a refused connection is not waited
// for), the readiness body reports legacy unhealthy, and the metrics say
// so (target health, connect errors).
func TestLegacyDownAnswers502QuicklyAndSaysSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{proxyEnv: []string{"STRANGLER_HEALTH_INTERVAL=200ms", "STRANGLER_UPSTREAM_DIAL_TIMEOUT=60s"}})
	e.waitLegacyHealth(t, true)
	e.standin.Kill()

	var users []answer
	for range 10 {
		users = append(users, e.do("read", "GET", "/api/trpc/nanopore.getAll", ""))
	}
	users = append(users, e.do("page", "GET", "/nanopore", ""))
	var log map[string]accessLine
	testutil.Eventually(t, waitLong, "the access log", func() bool {
		log = e.accessLog()
		_, ok := log[users[len(users)-1].id]
		return ok
	})
	for _, a := range users {
		l := log[a.id]
		if a.status != http.StatusBadGateway || l.Status != http.StatusBadGateway {
			t.Errorf("%s with legacy down: %d (logged %d) %.200s", a.what, a.status, l.Status, a.body)
		}
		if l.DurationMS > 1000 {
			t.Errorf("the 502 took %.0f ms: a refused connection must not be waited for", l.DurationMS)
		}
	}
	st := e.waitLegacyHealth(t, false)
	t.Logf("readiness with legacy down: %+v", st)
	if v, ok := e.metric("strangler_target_healthy", "target=legacy"); !ok || v != 0 {
		t.Errorf("strangler_target_healthy{target=legacy} = %v (present %v), want 0", v, ok)
	}
	if v, _ := e.metric("strangler_upstream_errors_total", "kind=connect"); v < 11 {
		t.Errorf("strangler_upstream_errors_total{kind=connect} = %v after 11 refused requests", v)
	}
}

type targetStatus struct {
	Target  string `json:"target"`
	Healthy bool   `json:"healthy"`
	Checked bool   `json:"checked"`
	Error   string `json:"error"`
}

// waitLegacyHealth polls /readyz until its body reports legacy checked
// and healthy (or not).
func (e *env) waitLegacyHealth(t *testing.T, healthy bool) targetStatus {
	t.Helper()
	var last targetStatus
	testutil.Eventually(t, waitLong, "readiness: legacy healthy="+strconv.FormatBool(healthy), func() bool {
		resp, err := http.Get(e.proxy.AdminURL + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var v struct {
			Targets []targetStatus `json:"targets"`
		}
		if json.Unmarshal(body, &v) != nil {
			return false
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

// TestPostgresRestartKeepsFlagsAndAppliesAFlipMadeMeanwhile stops the
// proxy's PostgreSQL (legacy has a cluster of its own and stays up):
// getAll keeps going to the new side as the flags in memory say (its
// failures, the service having no database either, are answered by
// legacy); a rollback is written while the proxy still cannot reach the
// database (the cluster started on another port and stopped again); once
// the database is back the proxy applies it, its LISTEN session is back,
// and a flip made then applies through it.
func TestPostgresRestartKeepsFlagsAndAppliesAFlipMadeMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{legacyCluster: true})
	e.flip("nanopore.getAll", "new")
	e.readsReachNewSide(t, true)

	e.cluster.Stop()
	testutil.Eventually(t, waitLong, "the guard and the flag listener to see the database down", func() bool {
		v, ok := e.metric("strangler_guard_database_up")
		l, _ := e.metric("strangler_flags_listener_up")
		return ok && v == 0 && l == 0
	})
	e.readsReachNewSide(t, true) // flags from memory

	other := testutil.FreePort(t)
	e.cluster.StartOnPort(other)
	code, out := e.cliOn(e.cluster.URLOnPort(other, "strangler"), "rollback", "nanopore.getAll", "--reason", "during the outage")
	m := flagsVersion.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("rollback during the outage: %d %s", code, out)
	}
	e.cluster.Stop()
	e.readsReachNewSide(t, true) // the proxy has not seen it

	e.cluster.Start()
	v, _ := strconv.ParseInt(m[1], 10, 64)
	e.waitApplied(v)
	e.readsReachNewSide(t, false)
	testutil.Eventually(t, waitLong, "the proxy's LISTEN session", func() bool {
		v, ok := e.metric("strangler_flags_listener_up")
		return ok && v == 1
	})
	e.flip("nanopore.getAll", "new")
	// The new target's breaker opened while the service had no database;
	// its half-open probe closes it again (breaker_pause), so the reads
	// reach the new side again within a few tries.
	testutil.Eventually(t, waitLong, "reads on the new side again", func() bool {
		return e.readsReached(t) == 5
	})
}

// readsReachNewSide checks whether five getAll reads all reached the new
// side (its fault proxy), or none did.
func (e *env) readsReachNewSide(t *testing.T, want bool) {
	t.Helper()
	if reached := e.readsReached(t); want && reached != 5 || !want && reached != 0 {
		t.Fatalf("%d of 5 reads reached the new side (want all: %v)", reached, want)
	}
}

// readsReached sends five getAll reads, all of which must succeed, and
// returns how many reached the new side.
func (e *env) readsReached(t *testing.T) int {
	t.Helper()
	ids := map[string]bool{}
	for range 5 {
		a := e.do("read", "GET", "/api/trpc/nanopore.getAll", "")
		if a.failed() || !strings.HasPrefix(string(a.body), `{"result":{"data":[`) {
			t.Fatalf("getAll failed a user: %d %.200s %v", a.status, a.body, a.err)
		}
		ids[a.id] = true
	}
	reached := 0
	for _, ev := range e.newSide.events(t) {
		if ids[ev.RequestID] {
			reached++
		}
	}
	return reached
}
