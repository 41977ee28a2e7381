package routing

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/nanopore/strangler/internal/config"
)

// TestCanaryIsStickyAndMonotonic simulates 10,000 users (each with its own
// bucket cookie) at 10%, 20% and 50%: the share on the new side is within one
// point of the target, and no user ever goes back from new to legacy as the
// percentage rises.
func TestCanaryIsStickyAndMonotonic(t *testing.T) {
	tab, err := Compile([]config.Route{{ID: "nanopore.getAll", Target: "http://new.internal",
		Match: config.Match{Procedures: []config.Procedure{{Name: "nanopore.getAll", Kind: "query"}}}}}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rt := newRouter(t, tab, nil)
	const users = 10000
	onNew := make([]bool, users)
	for _, pct := range []int{10, 20, 50} {
		st := defaultState(tab)
		st.Modes[0] = RouteMode{Mode: ModeCanary, Percent: pct, Source: "flag"}
		rt.state.Store(st)
		n := 0
		for u := 0; u < users; u++ {
			r := request("GET", "/api/trpc/nanopore.getAll")
			r.Header.Set("Cookie", fmt.Sprintf("other=1; strangler_bucket=user-%d", u))
			d := rt.Decide(r)
			if d.BucketCookie != "" {
				t.Fatalf("user %d has a bucket cookie, yet got a new one", u)
			}
			isNew := d.Side == SideNew
			if onNew[u] && !isNew {
				t.Fatalf("user %d went back from new to legacy when the canary rose to %d%%", u, pct)
			}
			// The same user asking again lands on the same side.
			if again := rt.Decide(r); (again.Side == SideNew) != isNew {
				t.Fatalf("user %d flipped sides between two requests at %d%%", u, pct)
			}
			onNew[u] = isNew
			if isNew {
				n++
			}
		}
		share := float64(n) * 100 / users
		if share < float64(pct)-1 || share > float64(pct)+1 {
			t.Errorf("at %d%% the new side took %.2f%% of users", pct, share)
		}
		t.Logf("canary %d%%: %.2f%% of %d users on the new side", pct, share, users)
	}
}

func TestCanaryWithoutKeySetsABucketCookieAndMutationsStayOnLegacy(t *testing.T) {
	tab, err := Compile([]config.Route{
		{ID: "q", Target: "http://new.internal", Match: config.Match{Procedures: []config.Procedure{{Name: "q", Kind: "query"}}}},
		{ID: "m", Target: "http://new.internal", Match: config.Match{Procedures: []config.Procedure{{Name: "m", Kind: "mutation"}}}},
	}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rt := newRouter(t, tab, nil)
	st := defaultState(tab)
	st.Modes[0] = RouteMode{Mode: ModeCanary, Percent: 100}
	st.Modes[1] = RouteMode{Mode: ModeCanary, Percent: 100}
	rt.state.Store(st)
	d := rt.Decide(request("GET", "/api/trpc/q"))
	if d.BucketCookie == "" || d.Side != SideNew {
		t.Errorf("query at 100%% without a key: side %s, cookie %q", d.Side, d.BucketCookie)
	}
	d = rt.Decide(request("POST", "/api/trpc/m"))
	if d.Side != SideLegacy {
		t.Errorf("a mutation in canary mode went to %s; canary moves reads only", d.Side)
	}
}

func TestClientAddrTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h := http.Header{"X-Forwarded-For": {"203.0.113.5, 10.1.1.1"}}
	cases := []struct {
		remote string
		want   string
	}{
		{"192.0.2.1:5000", "192.0.2.1"},  // untrusted peer: its own address
		{"10.0.0.2:5000", "203.0.113.5"}, // trusted: rightmost untrusted entry
	}
	for _, c := range cases {
		if got := ClientAddr(c.remote, h, trusted); got.String() != c.want {
			t.Errorf("ClientAddr(%s) = %s, want %s", c.remote, got, c.want)
		}
	}
	if got := ClientAddr("10.0.0.2:1", http.Header{"X-Forwarded-For": {"junk, 10.1.1.1"}}, trusted); got.String() != "10.1.1.1" {
		t.Errorf("a malformed entry must stop the walk: got %s", got)
	}
}
