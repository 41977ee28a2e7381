package routing

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/nanopore/strangler/internal/config"
)

// DefaultTRPCEndpoint is where the legacy app mounts tRPC.
const DefaultTRPCEndpoint = "/api/trpc"

// Table is a compiled, immutable route table. A new config compiles a new
// Table that replaces the old one atomically.
//
// Precedence, for a request:
//  1. deny routes, all of them, in config order: a deny route can never be
//     shadowed by another route;
//  2. on the tRPC endpoint, each call's procedure decides (procedure routes);
//  3. exact paths, then patterns (more literal segments first, then more
//     segments), then prefixes (longest first); on one path, the route with
//     more conditions (methods, query) is tried first;
//  4. no route: legacy passthrough.
type Table struct {
	Routes []*Route
	// Hash identifies the table's content; replicas report it so that a
	// replica running another route table stands out.
	Hash string
	// TRPCEndpoint is the tRPC base path ("/api/trpc").
	TRPCEndpoint string

	deny   []*Route
	exact  map[string][]*Route
	others []*Route // patterns then prefixes, in precedence order
	procs  map[string]procRoute
	byID   map[string]*Route
	groups map[string][]*Route
}

type procRoute struct {
	route *Route
	kind  Kind
}

// RouteError is one refused route, with the route's id and the reason.
type RouteError struct {
	Index  int
	ID     string
	Reason string
}

// RouteErrors lists every refused route; Compile returns it.
type RouteErrors []RouteError

func (es RouteErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = fmt.Sprintf("routes[%d] (id %q): %s", e.Index, e.ID, e.Reason)
	}
	return strings.Join(lines, "\n")
}

// CompileOptions name what the table may refer to.
type CompileOptions struct {
	// Services are the registered in-process service names.
	Services []string
	// TRPCEndpoint overrides DefaultTRPCEndpoint.
	TRPCEndpoint string
}

// Compile validates and compiles routes. Every problem is reported at once,
// each with its route's id.
func Compile(routes []config.Route, opts CompileOptions) (*Table, error) {
	services := map[string]bool{}
	for _, s := range opts.Services {
		services[s] = true
	}
	t := &Table{
		TRPCEndpoint: opts.TRPCEndpoint,
		exact:        map[string][]*Route{},
		procs:        map[string]procRoute{},
		byID:         map[string]*Route{},
		groups:       map[string][]*Route{},
	}
	if t.TRPCEndpoint == "" {
		t.TRPCEndpoint = DefaultTRPCEndpoint
	}
	var errs RouteErrors
	for i, rc := range routes {
		r, err := compileRoute(i, rc, services)
		if err == nil {
			err = t.add(r)
		}
		if err != nil {
			errs = append(errs, RouteError{Index: i, ID: rc.ID, Reason: err.Error()})
		}
	}
	errs = append(errs, t.checkGroups()...)
	if len(errs) > 0 {
		return nil, errs
	}
	t.order()
	t.Hash = hashRoutes(routes, t.TRPCEndpoint)
	return t, nil
}

func compileRoute(i int, rc config.Route, services map[string]bool) (*Route, error) {
	if rc.ID == "" {
		return nil, fmt.Errorf("id is required")
	}
	m, err := compileMatch(rc.Match)
	if err != nil {
		return nil, err
	}
	r := &Route{Index: i, ID: rc.ID, Flag: rc.Flag, Safe: rc.Safe, Deny: rc.Deny, DenyReason: rc.DenyReason, match: m,
		DefaultPercent: rc.DefaultPercent, WriteGroup: rc.WriteGroup, Auth: rc.Auth}
	if rc.Auth != nil {
		if err := checkHTTPURLString(rc.Auth.Issuer); err != nil {
			return nil, fmt.Errorf("auth.issuer: %w", err)
		}
	}
	if r.Flag == "" {
		r.Flag = rc.ID
	}
	if rc.DefaultMode == "" {
		rc.DefaultMode = "legacy"
	}
	if r.DefaultMode, err = ParseMode(rc.DefaultMode); err != nil {
		return nil, fmt.Errorf("default_mode: %w", err)
	}
	if rc.DefaultPercent < 0 || rc.DefaultPercent > 100 {
		return nil, fmt.Errorf("default_percent %d is not within 0..100", rc.DefaultPercent)
	}
	if r.Target, err = parseTarget(rc.Target, services); err != nil {
		return nil, err
	}
	if r.DefaultMode.NeedsNew() && r.Target.Kind == TargetNone {
		return nil, fmt.Errorf("default_mode %s needs a new target, and the route has none", r.DefaultMode)
	}
	for _, n := range rc.AllowFrom {
		p, err := config.ParseNetwork(n)
		if err != nil {
			return nil, fmt.Errorf("allow_from: %w", err)
		}
		r.AllowFrom = append(r.AllowFrom, p)
	}
	if r.Deny {
		if rc.Target != "" || r.DefaultMode != ModeLegacy {
			return nil, fmt.Errorf("a deny route takes no target or mode: deny is not a mode, no flip opens it")
		}
		if r.DenyReason == "" {
			r.DenyReason = "This route is closed at the edge."
		}
	} else if len(rc.AllowFrom) > 0 {
		return nil, fmt.Errorf("allow_from applies only to deny routes")
	}
	if m.kind == matchTRPC {
		if r.Deny {
			return nil, fmt.Errorf("deny a tRPC procedure with a path route, not a procedures match")
		}
		r.Procedures = map[string]Kind{}
		for _, p := range rc.Match.Procedures {
			k, err := parseKind(p)
			if err != nil {
				return nil, err
			}
			r.Procedures[p.Name] = k
		}
	}
	return r, nil
}

func checkHTTPURLString(s string) error {
	if _, err := ParseURLs(s); err != nil || strings.Contains(s, ",") {
		return fmt.Errorf("must be one http(s) URL, got %q", s)
	}
	return nil
}

func parseKind(p config.Procedure) (Kind, error) {
	if p.Name == "" {
		return 0, fmt.Errorf("a procedure needs a name")
	}
	switch p.Kind {
	case "query":
		return KindQuery, nil
	case "mutation":
		return KindMutation, nil
	}
	return 0, fmt.Errorf("procedure %q: kind must be query or mutation, got %q", p.Name, p.Kind)
}

// add files a route under its match kind, refusing duplicates and overlaps.
func (t *Table) add(r *Route) error {
	if prev, dup := t.byID[r.ID]; dup {
		return fmt.Errorf("duplicate id (also routes[%d])", prev.Index)
	}
	for _, o := range t.Routes {
		if o.match.kind != matchTRPC && sameSpec(&o.match, &r.match) && o.Deny == r.Deny {
			return fmt.Errorf("matches exactly the same requests as route %q; merge them or add a condition", o.ID)
		}
	}
	for name, k := range r.Procedures {
		if prev, dup := t.procs[name]; dup {
			return fmt.Errorf("procedure %q is already taken by route %q", name, prev.route.ID)
		}
		t.procs[name] = procRoute{route: r, kind: k}
	}
	t.byID[r.ID] = r
	t.Routes = append(t.Routes, r)
	if r.WriteGroup != "" {
		t.groups[r.WriteGroup] = append(t.groups[r.WriteGroup], r)
	}
	switch {
	case r.Deny:
		t.deny = append(t.deny, r)
	case r.match.kind == matchExact:
		t.exact[r.match.path] = append(t.exact[r.match.path], r)
	case r.match.kind == matchPattern || r.match.kind == matchPrefix:
		t.others = append(t.others, r)
	}
	return nil
}

// checkGroups refuses write groups that could not hold one mode: members
// must be writes (mutations or unsafe routes, never deny routes), share one
// new target and one default mode, and a group may not share a route id.
func (t *Table) checkGroups() RouteErrors {
	var errs RouteErrors
	for name, rs := range t.groups {
		if _, clash := t.byID[name]; clash {
			errs = append(errs, RouteError{Index: rs[0].Index, ID: rs[0].ID, Reason: fmt.Sprintf("write group %q has the name of a route", name)})
		}
		for _, r := range rs {
			var why string
			switch {
			case r.Deny:
				why = "a deny route cannot be in a write group"
			case r.Safe || r.hasKind(KindQuery):
				why = "only writes (mutations, unsafe routes) belong to a write group; reads move alone"
			case r.Target.String() != rs[0].Target.String():
				why = fmt.Sprintf("write group %q mixes targets %s and %s", name, rs[0].Target, r.Target)
			case r.DefaultMode != rs[0].DefaultMode:
				why = fmt.Sprintf("write group %q mixes default modes %s and %s", name, rs[0].DefaultMode, r.DefaultMode)
			}
			if why != "" {
				errs = append(errs, RouteError{Index: r.Index, ID: r.ID, Reason: why})
			}
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Index < errs[j].Index })
	return errs
}

func (r *Route) hasKind(k Kind) bool {
	for _, rk := range r.Procedures {
		if rk == k {
			return true
		}
	}
	return false
}

// Group returns the routes of a write group.
func (t *Table) Group(name string) []*Route { return t.groups[name] }

// order sorts each bucket by the documented precedence.
func (t *Table) order() {
	for _, rs := range t.exact {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].match.conditions() > rs[j].match.conditions() })
	}
	sort.SliceStable(t.others, func(i, j int) bool {
		a, b := &t.others[i].match, &t.others[j].match
		if a.kind != b.kind {
			return a.kind < b.kind // patterns before prefixes
		}
		if a.kind == matchPattern {
			if a.literals() != b.literals() {
				return a.literals() > b.literals()
			}
			if len(a.segments) != len(b.segments) {
				return len(a.segments) > len(b.segments)
			}
		} else if len(a.path) != len(b.path) {
			return len(a.path) > len(b.path)
		}
		return a.conditions() > b.conditions()
	})
}

// ByID returns a route by id.
func (t *Table) ByID(id string) (*Route, bool) {
	r, ok := t.byID[id]
	return r, ok
}

// Procedure returns the route taking a tRPC procedure, and its kind.
func (t *Table) Procedure(name string) (*Route, Kind, bool) {
	p, ok := t.procs[name]
	return p.route, p.kind, ok
}

func hashRoutes(routes []config.Route, endpoint string) string {
	b, _ := json.Marshal(struct {
		Endpoint string
		Routes   []config.Route
	}{endpoint, routes})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Deny returns the first deny route that takes the request, or nil.
func (t *Table) Deny(norm, method, rawQuery string) *Route {
	for _, r := range t.deny {
		if r.match.matches(norm, method, rawQuery) {
			return r
		}
	}
	return nil
}

// Path returns the non-deny, non-tRPC route that takes the request, or nil
// (then the request passes through to legacy).
func (t *Table) Path(norm, method, rawQuery string) *Route {
	for _, r := range t.exact[norm] {
		if r.match.matches(norm, method, rawQuery) {
			return r
		}
	}
	for _, r := range t.others {
		if r.match.matches(norm, method, rawQuery) {
			return r
		}
	}
	return nil
}
