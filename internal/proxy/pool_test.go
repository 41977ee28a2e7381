package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestLegacyInstancesBalanceAndSessionsStick: requests without a session
// spread over the healthy instances; a session (cookie or bearer) always
// reaches the same one; an unhealthy instance gets nothing.
func TestLegacyInstancesBalanceAndSessionsStick(t *testing.T) {
	var urls []*url.URL
	for i := 0; i < 3; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, i)
		}))
		defer srv.Close()
		u, _ := url.Parse(srv.URL)
		urls = append(urls, u)
	}
	f := newFixture(t, urls[0].String(), func(o *Options) { o.MoreLegacy = urls[1:] })
	get := func(hdr, val string) string {
		req, _ := http.NewRequest("GET", f.front.URL+"/", nil)
		if hdr != "" {
			req.Header.Set(hdr, val)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		seen[get("", "")]++
	}
	if len(seen) != 3 {
		t.Errorf("round-robin reached %v", seen)
	}
	for _, s := range []struct{ hdr, val string }{{"Cookie", "admin_session=session-1"}, {"Authorization", "Bearer session-2"}} {
		first := get(s.hdr, s.val)
		for i := 0; i < 10; i++ {
			if got := get(s.hdr, s.val); got != first {
				t.Fatalf("%s %s moved from instance %s to %s", s.hdr, s.val, first, got)
			}
		}
	}
	names := f.proxy.Instances()
	if len(names) != 3 || names[1].Name != "legacy#2" {
		t.Fatalf("instances %+v", names)
	}
	f.proxy.SetHealthy("legacy#2", false)
	for i := 0; i < 30; i++ {
		if got := get("", ""); got == "1" {
			t.Fatal("an unhealthy instance still gets requests")
		}
	}
	// A session whose instance is down moves to a healthy one and stays.
	for i := 0; i < 20; i++ {
		if get("Cookie", fmt.Sprintf("admin_session=s%d", i)) == "1" {
			t.Fatal("a session was sent to the unhealthy instance")
		}
	}
}
