package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/testutil"
)

// routeDecider sends /svc to an in-process service and everything else to
// legacy, with an optional token requirement.
type routeDecider struct{ auth *config.RouteAuth }

func (d routeDecider) Decide(r *http.Request) routing.Decision {
	rt := &routing.Route{ID: "r", Auth: d.auth, Target: routing.Target{Kind: routing.TargetService, Name: "svc"}}
	if r.URL.Path == "/svc" {
		return routing.Decision{Label: "r", Route: rt, Side: routing.SideNew}
	}
	return routing.Decision{Label: "r", Route: rt, Side: routing.SideLegacy}
}

func TestSpoofedIdentityNeverReachesAnUpstream(t *testing.T) {
	back, got := echoBackend(t)
	svcSeen := make(chan http.Header, 1)
	f := newFixture(t, back.URL, func(o *Options) {
		o.Router = routeDecider{}
		o.Services = map[string]http.Handler{"svc": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			svcSeen <- r.Header.Clone()
		})}
	})
	for _, path := range []string{"/legacy", "/svc"} {
		req, _ := http.NewRequest("GET", f.front.URL+path, nil)
		req.Header.Set("X-User-Id", "admin")
		req.Header.Set("X-User-Role", "admin")
		req.Header.Set("X-User-Email", "boss@lab.org")
		req.Header.Set("X-Strangler-Shadow", "1")
		req.Header.Set("X-Strangler-Anything", "x")
		req.Header.Set("Authorization", "Bearer session-123")
		req.Header.Set("Cookie", "admin_session=session-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var h http.Header
		if path == "/svc" {
			h = <-svcSeen
		} else {
			h = (<-got).Header
		}
		for _, k := range []string{"X-User-Id", "X-User-Role", "X-User-Email", "X-Strangler-Shadow", "X-Strangler-Anything"} {
			if v := h.Get(k); v != "" {
				t.Errorf("%s: client-sent %s reached the upstream as %q", path, k, v)
			}
		}
		if h.Get("Authorization") != "Bearer session-123" || h.Get("Cookie") != "admin_session=session-123" {
			t.Errorf("%s: legacy credentials were not passed untouched: %v", path, h)
		}
	}
}

func TestRouteTokensAreVerifiedAndTheIdentityPassedOn(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	other := testutil.StartFakeOIDC(t)
	back, got := echoBackend(t)
	f := newFixture(t, back.URL, func(o *Options) {
		o.Router = routeDecider{auth: &config.RouteAuth{Issuer: idp.Issuer, Audience: "samples", RolesClaim: "roles"}}
	})
	call := func(token string) (*http.Response, http.Header) {
		req, _ := http.NewRequest("GET", f.front.URL+"/legacy", nil)
		req.Header.Set("X-User-Id", "spoofed")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return resp, (<-got).Header
		}
		return resp, nil
	}
	for name, tok := range map[string]string{
		"none":           "",
		"expired":        idp.Sign(map[string]any{"sub": "ann", "aud": "samples"}, -time.Minute),
		"other issuer":   other.Sign(map[string]any{"sub": "ann", "aud": "samples"}, time.Hour),
		"wrong audience": idp.Sign(map[string]any{"sub": "ann", "aud": "billing"}, time.Hour),
	} {
		resp, _ := call(tok)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s token: %d", name, resp.StatusCode)
		}
	}
	resp, h := call(idp.Sign(map[string]any{"sub": "ann", "aud": "samples", "email": "ann@lab.org", "roles": []string{"staff"}}, time.Hour))
	if resp.StatusCode != 200 || h.Get("X-User-Id") != "ann" || h.Get("X-User-Role") != "staff" || h.Get("X-User-Email") != "ann@lab.org" {
		t.Fatalf("valid token: %d %v", resp.StatusCode, h)
	}
}

func TestStripClientIdentityReportsTheShadowMark(t *testing.T) {
	for _, c := range []struct {
		name   string
		shadow []string
		marked bool
	}{
		{"no mark", nil, false},
		{"mark", []string{"1"}, true},
		{"empty mark", []string{""}, false},
		{"mark after an empty value", []string{"", "1"}, false}, // Header.Get reads the first
	} {
		h := http.Header{
			"X-User-Id": {"admin"}, "X-User-Email": {"boss@lab.org"}, "X-User-Role": {"admin"},
			"X-Strangler-Anything": {"x"}, "Accept": {"*/*"}, "X-Request-Id": {"abc"}, "X-Usered": {"kept"},
		}
		if c.shadow != nil {
			h["X-Strangler-Shadow"] = c.shadow
		}
		if got := stripClientIdentity(h); got != c.marked {
			t.Errorf("%s: marked = %v, want %v", c.name, got, c.marked)
		}
		want := http.Header{"Accept": {"*/*"}, "X-Request-Id": {"abc"}, "X-Usered": {"kept"}}
		if !equalHeaders(h, want) {
			t.Errorf("%s: left %v, want %v", c.name, h, want)
		}
	}
}
