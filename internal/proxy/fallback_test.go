package proxy

import (
	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/trpc"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nanopore/strangler/internal/routing"
)

// newDecider sends everything to one route's new side.
type newDecider struct{ route *routing.Route }

func (d newDecider) Decide(*http.Request) routing.Decision {
	return routing.Decision{Label: d.route.ID, Route: d.route, Side: routing.SideNew}
}

type fixedBreaker struct {
	allow   bool
	reports []bool
}

func (b *fixedBreaker) Allow(string) (func(bool), bool) {
	return func(ok bool) { b.reports = append(b.reports, ok) }, b.allow
}

func TestSafeRequestsFallBackToLegacy(t *testing.T) {
	var legacyHits atomic.Int64
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		legacyHits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Side", "legacy")
		_, _ = w.Write(append([]byte("legacy:"), body...))
	}))
	defer legacy.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead, _ := url.Parse("http://" + ln.Addr().String())
	ln.Close()

	failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Side", "new")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "new broke")
	})
	healthy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "new ok")
	})
	svc := func(safe bool) *routing.Route {
		return &routing.Route{ID: "r", Safe: safe, Target: routing.Target{Kind: routing.TargetService, Name: "svc"}}
	}
	remote := &routing.Route{ID: "r", Safe: true, Target: routing.Target{Kind: routing.TargetURL, Name: dead.String(), URL: dead}}
	cases := []struct {
		name       string
		route      *routing.Route
		svc        http.Handler
		breaker    *fixedBreaker
		wantStatus int
		wantBody   string
		wantReport []bool
	}{
		{"safe, new 500: legacy answers", svc(true), failing, &fixedBreaker{allow: true}, 200, "legacy:payload", []bool{false}},
		{"safe, new refuses connections: legacy answers", remote, nil, &fixedBreaker{allow: true}, 200, "legacy:payload", []bool{false}},
		{"safe, breaker open: legacy without trying new", svc(true), failing, &fixedBreaker{allow: false}, 200, "legacy:payload", nil},
		{"safe, new fine: new answers", svc(true), healthy, &fixedBreaker{allow: true}, 200, "new ok", []bool{true}},
		{"unsafe, new 500: the user gets it, never sent twice", svc(false), failing, &fixedBreaker{allow: true}, 500, "new broke", []bool{false}},
		{"unsafe, breaker open: 503 at once", svc(false), failing, &fixedBreaker{allow: false}, 503, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := legacyHits.Load()
			f := newFixture(t, legacy.URL, func(o *Options) {
				o.Router = newDecider{c.route}
				o.Services = map[string]http.Handler{"svc": c.svc}
				o.Breaker = c.breaker
			})
			resp, err := http.Post(f.front.URL+"/x", "text/plain", stringsReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.wantStatus || (c.wantBody != "" && string(body) != c.wantBody) {
				t.Fatalf("status %d body %q, want %d %q", resp.StatusCode, body, c.wantStatus, c.wantBody)
			}
			if c.wantBody == "legacy:payload" && resp.Header.Get("X-Side") != "legacy" {
				t.Errorf("headers of the failed new answer leaked: %v", resp.Header)
			}
			wantLegacy := int64(0)
			if c.wantBody == "legacy:payload" {
				wantLegacy = 1
			}
			if got := legacyHits.Load() - before; got != wantLegacy {
				t.Errorf("legacy was called %d times, want %d", got, wantLegacy)
			}
			if len(c.breaker.reports) != len(c.wantReport) {
				t.Fatalf("breaker reports %v, want %v", c.breaker.reports, c.wantReport)
			}
			for i := range c.wantReport {
				if c.breaker.reports[i] != c.wantReport[i] {
					t.Errorf("breaker reports %v, want %v", c.breaker.reports, c.wantReport)
				}
			}
		})
	}
}

func stringsReader(s string) io.Reader { return &stringReader{s: s} }

type stringReader struct{ s string }

func (r *stringReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

// trpcDecider sends every call of a tRPC request to one route's new side.
type trpcDecider struct{ route *routing.Route }

func (d trpcDecider) Decide(r *http.Request) routing.Decision {
	req, err := trpc.ParseURL(strings.TrimPrefix(r.URL.Path, "/api/trpc/"), r.URL.RawQuery)
	if err != nil {
		panic(err)
	}
	dec := routing.Decision{Label: d.route.ID, Route: d.route, Side: routing.SideNew, TRPC: &req}
	for range req.Names {
		dec.Calls = append(dec.Calls, routing.Call{Route: d.route, Kind: routing.KindQuery, Side: routing.SideNew})
	}
	return dec
}

// TestQueryFailingInsideA200BatchFallsBack: a batch of queries whose new
// side answers 200 with an INTERNAL_SERVER_ERROR entry is answered by
// legacy (the guard's classification, not the status, finds the failure);
// a clean answer, and an answer too long to hold, stream from the new side.
func TestQueryFailingInsideA200BatchFallsBack(t *testing.T) {
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"result":{"data":"legacy"}}]`)
	}))
	defer legacy.Close()
	failed := `[{"error":{"message":"boom","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"p.q"}}}]`
	long := `[{"result":{"data":"` + strings.Repeat("x", maxHeldAnswer) + `"}},` + failed[1:]
	cases := []struct{ name, answer, want string }{
		{"failed entry in a 200 batch: legacy answers", failed, `[{"result":{"data":"legacy"}}]`},
		{"clean answer: the new side's", `[{"result":{"data":"new"}}]`, `[{"result":{"data":"new"}}]`},
		{"too long to hold: streamed as it came", long, long},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := guard.New(guard.Options{})
			route := &routing.Route{ID: "p.q", Target: routing.Target{Kind: routing.TargetService, Name: "svc"}}
			f := newFixture(t, legacy.URL, func(o *Options) {
				o.Router = trpcDecider{route}
				o.Services = map[string]http.Handler{"svc": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, c.answer)
				})}
				o.Breaker, o.Observer = g, g
			})
			resp, err := http.Get(f.front.URL + "/api/trpc/p.q?batch=1&input=%7B%7D")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != c.want {
				t.Fatalf("%d %.120s, want %.120s", resp.StatusCode, body, c.want)
			}
		})
	}
}
