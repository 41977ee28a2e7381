package routing

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/config"
)

// shipped compiles the route table of the shipped configuration.
func shipped(t testing.TB) *Table {
	t.Helper()
	cfg, err := config.Load(config.Source{Path: "../../config/strangler.yaml", Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Compile(cfg.Routes, CompileOptions{Services: []string{"samples"}, TRPCEndpoint: cfg.TRPCEndpoint})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func newRouter(t testing.TB, tab *Table, mod func(*Options)) *Router {
	t.Helper()
	opts := Options{CanaryKeys: []string{"cookie:strangler_bucket"}, CanaryCookie: "strangler_bucket"}
	if mod != nil {
		mod(&opts)
	}
	rt, err := NewRouter(tab, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// request builds a server-side request whose RequestURI is exactly target.
func request(method, target string) *http.Request {
	r := httptest.NewRequest(method, "/", nil)
	r.RequestURI = target
	path, q, _ := strings.Cut(target, "?")
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, path, q
	return r
}

func TestShippedDenyRoutesResistBypassAttempts(t *testing.T) {
	rt := newRouter(t, shipped(t), nil)
	denied := []string{
		"/api/migrate", "/api/migrate/", "//api/migrate", "/api/%6Digrate", "/api/%6digrate",
		"/api/migrate?action=", "/api/migrate?action=run", "/api/migrate?action=STATUS",
		"/api/migrate?Action=status", "/api/migrate?action=status%00", "/api/migrate?action=st%61tus2",
		"/API/MIGRATE", "/api/./migrate", "/api/x/../migrate", "/api/x/%2e%2e/migrate", "/api%2Fmigrate",
		"/api%2fmigrate?action=pending2&x", "/api\\migrate", "/api/%252e%252e/api/migrate",
		"/api/migrate?x=1&action=validate2",
		"/api/audit-trail", "/api/audit-trail?action=export", "/api/Audit-Trail/",
		"/api/security/hardening", "/api/security//hardening/",
	}
	for _, target := range denied {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND"} {
			if d := rt.Decide(request(m, target)); d.Side != SideDeny {
				t.Errorf("%s %s: side %s, want deny", m, target, d.Side)
			}
		}
	}
	allowed := []string{
		"/api/migrate?action=status", "/api/migrate?action=pending", "/api/migrate?action=validate",
		"/api/migrate/?action=status", "/api/migrate?action=status&action=run", "/api/migrate?action=st%61tus",
		"/api/migrate?action=status+", // "status " is not status: must be denied, checked below
	}
	for _, target := range allowed[:6] {
		if d := rt.Decide(request("GET", target)); d.Side == SideDeny {
			t.Errorf("GET %s: denied, but it is a read-only action", target)
		}
	}
	if d := rt.Decide(request("GET", allowed[6])); d.Side != SideDeny {
		t.Errorf("GET %s: %s, want deny ('+' is a space)", allowed[6], d.Side)
	}
	postOnly := []string{"/api/backup-recovery", "/api/backup", "/api/performance/load-test", "/api/memory-optimize",
		"/api/ai-service", "/api/shutdown", "/api/migration", "/api/config"}
	for _, p := range postOnly {
		for _, spelled := range []string{p, p + "/", "/" + p, strings.ToUpper(p), strings.Replace(p, "/api/", "/api/%2e/", 1)} {
			if d := rt.Decide(request("POST", spelled)); d.Side != SideDeny {
				t.Errorf("POST %s: %s, want deny", spelled, d.Side)
			}
		}
		if d := rt.Decide(request("GET", p)); d.Side == SideDeny {
			t.Errorf("GET %s is denied; only its writes should be", p)
		}
	}
}

func TestCompileRefusesBadRoutesWithIDAndReason(t *testing.T) {
	routes := []config.Route{
		{ID: "ok", Match: config.Match{Path: "/a"}},
		{ID: "ok", Match: config.Match{Path: "/b"}},
		{ID: "", Match: config.Match{Path: "/c"}},
		{ID: "two-kinds", Match: config.Match{Path: "/d", Prefix: "/d"}},
		{ID: "bad-pattern", Match: config.Match{Pattern: "/samples/:"}},
		{ID: "dup-param", Match: config.Match{Pattern: "/s/:id/x/:id"}},
		{ID: "not-canonical", Match: config.Match{Path: "/API/x/"}},
		{ID: "bad-method", Match: config.Match{Path: "/e", Methods: []string{"FETCH"}}},
		{ID: "unknown-service", Target: "service:billing", Match: config.Match{Path: "/f"}},
		{ID: "bad-target", Target: "ftp://x", Match: config.Match{Path: "/g"}},
		{ID: "bad-mode", DefaultMode: "sideways", Match: config.Match{Path: "/h"}},
		{ID: "mode-without-target", DefaultMode: "new", Match: config.Match{Path: "/i"}},
		{ID: "deny-with-target", Deny: true, Target: "service:samples", Match: config.Match{Path: "/j"}},
		{ID: "same-as-ok", Match: config.Match{Path: "/a"}},
		{ID: "p1", Match: config.Match{Procedures: []config.Procedure{{Name: "x.y", Kind: "query"}}}},
		{ID: "p2", Match: config.Match{Procedures: []config.Procedure{{Name: "x.y", Kind: "query"}}}},
		{ID: "bad-kind", Match: config.Match{Procedures: []config.Procedure{{Name: "x.z", Kind: "read"}}}},
		{ID: "bad-query", Match: config.Match{Path: "/k", Query: []config.QueryCondition{{Param: "a", Absent: true, In: []string{"x"}}}}},
	}
	_, err := Compile(routes, CompileOptions{Services: []string{"samples"}})
	if err == nil {
		t.Fatal("compiled a bad table")
	}
	for _, want := range []string{
		`routes[1] (id "ok"): duplicate id`,
		`routes[2] (id ""): id is required`,
		`(id "two-kinds"): match must set exactly one`,
		`(id "bad-pattern"): pattern "/samples/:" has a parameter without a name`,
		`(id "dup-param"): pattern "/s/:id/x/:id" repeats parameter :id`,
		`(id "not-canonical"): path "/API/x/" is not in canonical form; write "/api/x"`,
		`(id "bad-method"): unknown method "FETCH"`,
		`(id "unknown-service"): unknown service "billing" (registered: samples)`,
		`(id "bad-target"): target "ftp://x" is neither`,
		`(id "bad-mode"): default_mode: unknown mode "sideways"`,
		`(id "mode-without-target"): default_mode new needs a new target`,
		`(id "deny-with-target"): a deny route takes no target or mode`,
		`(id "same-as-ok"): matches exactly the same requests as route "ok"`,
		`(id "p2"): procedure "x.y" is already taken by route "p1"`,
		`(id "bad-kind"): procedure "x.z": kind must be query or mutation`,
		`(id "bad-query"): query[0]: param "a": set exactly one of absent, in, not_in`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestPathPrecedence(t *testing.T) {
	routes := []config.Route{
		{ID: "prefix", Match: config.Match{Prefix: "/api"}},
		{ID: "longer-prefix", Match: config.Match{Prefix: "/api/samples"}},
		{ID: "pattern", Match: config.Match{Pattern: "/api/samples/:id"}},
		{ID: "pattern-literal", Match: config.Match{Pattern: "/api/samples/special"}},
		{ID: "exact", Match: config.Match{Path: "/api/samples/x"}},
		{ID: "exact-get", Match: config.Match{Path: "/api/samples/x", Methods: []string{"GET"}}},
	}
	tab, err := Compile(routes, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ method, path, want string }{
		{"GET", "/api/samples/x", "exact-get"},
		{"POST", "/api/samples/x", "exact"},
		{"GET", "/api/samples/special", "pattern-literal"},
		{"GET", "/api/samples/42", "pattern"},
		{"GET", "/api/samples/42/files", "longer-prefix"},
		{"GET", "/api/other", "prefix"},
		{"GET", "/apix", ""},
	}
	for _, c := range cases {
		r := tab.Path(Normalize(c.path), c.method, "")
		got := ""
		if r != nil {
			got = r.ID
		}
		if got != c.want {
			t.Errorf("%s %s: route %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	tab := shipped(b)
	rt := newRouter(b, tab, nil)
	cases := map[string]*http.Request{
		"page":        request("GET", "/nanopore"),
		"trpc-single": request("GET", "/api/trpc/nanopore.getAll"),
		"trpc-batch":  request("GET", "/api/trpc/nanopore.getAll,health,nanopore.getProcessingSteps?batch=1&input=%7B%7D"),
		"deny":        request("GET", "/api/migrate"),
	}
	for name, r := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = rt.Decide(r)
			}
		})
	}
}

func TestUnknownProcedureSendsTheBatchToLegacyWhole(t *testing.T) {
	tab := shipped(t)
	rt := newRouter(t, tab, nil)
	st := defaultState(tab)
	r, _ := tab.ByID("nanopore.getAll")
	st.Modes[r.Index] = RouteMode{Mode: ModeNew}
	rt.state.Store(st)
	for _, target := range []string{"/api/trpc/nanopore.getAll,nanopore.nope?batch=1", "/api/trpc/nanopore.nope,nanopore.getAll?batch=1"} {
		d := rt.Decide(request("GET", target))
		if d.Side != SideLegacy || d.Split {
			t.Errorf("%s: side %s split %v, want legacy whole", target, d.Side, d.Split)
		}
	}
}

func TestWriteGroupsMoveTogether(t *testing.T) {
	tab := shipped(t)
	changes, note, err := tab.PlanFlip("nanopore.create", "shadow", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 9 || !strings.Contains(note, "write group samples") {
		t.Errorf("flipping one mutation gave %d changes, note %q", len(changes), note)
	}
	byGroup, _, err := tab.PlanFlip("samples", "new", 0)
	if err != nil || len(byGroup) != 9 {
		t.Errorf("flip by group name: %v, %d changes", err, len(byGroup))
	}
	read, _, err := tab.PlanFlip("nanopore.getAll", "new", 0)
	if err != nil || len(read) != 1 {
		t.Errorf("a read should move alone: %v %d", err, len(read))
	}
	rb, err := tab.PlanRollback([]string{"samples"}, false, nil)
	if err != nil || len(rb) != 9 {
		t.Errorf("rollback of the group: %v %d", err, len(rb))
	}

	// Flags that disagree (a hand edit) cannot split the group.
	rt := newRouter(t, tab, nil)
	st := defaultState(tab)
	for _, r := range tab.Group("samples") {
		st.Modes[r.Index] = RouteMode{Mode: ModeNew}
	}
	upd, _ := tab.ByID("nanopore.update")
	st.Modes[upd.Index] = RouteMode{Mode: ModeShadow}
	rt.unifyGroups(tab, st)
	for _, r := range tab.Group("samples") {
		if st.Modes[r.Index].Mode != ModeShadow {
			t.Errorf("%s is %s while its group is split; want the mode closest to legacy", r.ID, st.Modes[r.Index].Mode)
		}
	}
}

func TestWriteGroupsAreValidated(t *testing.T) {
	mut := func(id string) config.Route {
		return config.Route{ID: id, Target: "service:samples", WriteGroup: "g",
			Match: config.Match{Procedures: []config.Procedure{{Name: id, Kind: "mutation"}}}}
	}
	bad := []config.Route{
		mut("a"),
		{ID: "q", Target: "service:samples", WriteGroup: "g", Match: config.Match{Procedures: []config.Procedure{{Name: "q", Kind: "query"}}}},
		{ID: "b", Target: "http://other", WriteGroup: "g", Match: config.Match{Procedures: []config.Procedure{{Name: "b", Kind: "mutation"}}}},
		{ID: "d", Deny: true, WriteGroup: "g", Match: config.Match{Path: "/d"}},
	}
	_, err := Compile(bad, CompileOptions{Services: []string{"samples"}})
	if err == nil {
		t.Fatal("a bad write group compiled")
	}
	for _, want := range []string{`(id "q"): only writes`, `(id "b"): write group "g" mixes targets`, `(id "d"): a deny route cannot be in a write group`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
