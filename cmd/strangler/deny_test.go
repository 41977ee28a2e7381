package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

// TestDeniedRoutesNeverReachLegacy sends every spelling of the denied
// routes, with every method, through the proxy in front of the stand-in,
// before and after `rollback --all`: each gets 403 with a JSON reason, and
// the stand-in's request log shows none of them.
func TestDeniedRoutesNeverReachLegacy(t *testing.T) {
	f := newSplitFixture(t)
	spellings := []string{
		"/api/migrate", "/api/migrate/", "//api/migrate", "/api/%6Digrate", "/api/migrate?action=",
		"/api/migrate?action=run", "/API/MIGRATE", "/api/./migrate", "/api/x/../migrate", "/api%2Fmigrate",
		"/api/%2e%2e/api/migrate", "/api/migrate?Action=status", "/api/audit-trail", "/api/Audit-Trail/",
		"/api/security/hardening?action=report",
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}
	check := func(when string) {
		for _, target := range spellings {
			for _, m := range methods {
				a := send(t, f.proxy.PublicURL(), m, target, "application/json", "")
				if a.status != http.StatusForbidden {
					t.Errorf("%s: %s %s answered %d %s", when, m, target, a.status, a.body)
				}
				if m != "HEAD" && !strings.Contains(a.body, `"error":"forbidden"`) {
					t.Errorf("%s: %s %s: no JSON reason: %s", when, m, target, a.body)
				}
			}
		}
		for _, w := range []struct{ method, path string }{
			{"POST", "/api/backup-recovery"}, {"POST", "/api/backup"}, {"POST", "/api/performance/load-test"},
			{"DELETE", "/api/performance/load-test"}, {"POST", "/api/memory-optimize"}, {"POST", "/api/ai-service?action=clear-cache"},
			{"POST", "/api/shutdown"}, {"POST", "/api/migration"}, {"POST", "/api/config"},
		} {
			if a := send(t, f.proxy.PublicURL(), w.method, w.path, "application/json", `{"action":"restore"}`); a.status != http.StatusForbidden {
				t.Errorf("%s: %s %s answered %d", when, w.method, w.path, a.status)
			}
		}
	}
	check("before rollback")
	resp := adminCall(t, f.proxy, http.MethodPost, "/api/rollback", `{"all":true,"reason":"test"}`)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rollback --all: %d", resp.StatusCode)
	}
	check("after rollback --all")

	// A read-only action still reaches legacy: the log works.
	if a := send(t, f.proxy.PublicURL(), "GET", "/api/migrate?action=status", "", ""); a.status != http.StatusOK {
		t.Fatalf("GET /api/migrate?action=status: %d %s", a.status, a.body)
	}
	testutil.Eventually(t, 30*time.Second, "the allowed request in the stand-in's log", func() bool {
		return f.legacy.Received(t, func(r testutil.StandinRequest) bool { return r.URL == "/api/migrate?action=status" })
	})
	leaked := f.legacy.Received(t, func(r testutil.StandinRequest) bool {
		u := strings.ToLower(r.URL)
		return (strings.Contains(u, "migrate") && u != "/api/migrate?action=status") ||
			strings.Contains(u, "audit-trail") || strings.Contains(u, "hardening") ||
			(r.Method != "GET" && (strings.Contains(u, "backup") || strings.Contains(u, "load-test") ||
				strings.Contains(u, "memory-optimize") || strings.Contains(u, "ai-service") ||
				strings.Contains(u, "shutdown") || strings.Contains(u, "migration") || strings.Contains(u, "/api/config")))
	})
	if leaked {
		t.Error("a denied request reached the legacy stand-in")
	}
}

// TestTargetHeaderOnlyForAdmins: users never see which side answered.
func TestTargetHeaderOnlyForAdmins(t *testing.T) {
	f := newSplitFixture(t)
	for _, c := range []struct {
		hdr  []string
		want string
	}{
		{nil, ""},
		{[]string{"X-Strangler-Token", "wrong"}, ""},
		{[]string{"X-Strangler-Token", testToken}, "legacy"},
		{[]string{"X-Strangler-Token", testToken, "X-Strangler-Force", "new"}, f.other.URL},
		{[]string{"X-Strangler-Token", "wrong", "X-Strangler-Force", "new"}, ""},
	} {
		a := send(t, f.proxy.PublicURL(), "GET", "/api/trpc/health", "", "", c.hdr...)
		if got := a.header.Get("X-Strangler-Target"); got != c.want {
			t.Errorf("headers %v: X-Strangler-Target %q, want %q", c.hdr, got, c.want)
		}
	}
	// The token and the force header never reach legacy.
	if f.legacy.Received(t, func(r testutil.StandinRequest) bool {
		_, tok := r.Headers["x-strangler-token"]
		_, force := r.Headers["x-strangler-force"]
		return tok || force
	}) {
		t.Error("an X-Strangler-* header reached legacy")
	}
}
