package routing

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/trpc"
)

type matchKind uint8

const (
	matchExact matchKind = iota
	matchPattern
	matchPrefix
	matchTRPC
)

// matcher is the compiled Match of a route.
type matcher struct {
	kind     matchKind
	path     string   // exact path or prefix, normalised
	segments []string // pattern segments; ":x" is a parameter
	params   []string // parameter names, in order
	methods  []string // empty: all
	query    []queryTest
}

type queryTest struct {
	param  string
	absent bool
	in     []string
	notIn  []string
}

func (q queryTest) ok(rawQuery string) bool {
	v, present := trpc.QueryGet(rawQuery, q.param)
	switch {
	case q.absent:
		return !present
	case q.in != nil:
		return present && slices.Contains(q.in, v)
	default: // notIn: absent and empty count as "not in" (safe default)
		return !present || v == "" || !slices.Contains(q.notIn, v)
	}
}

// matches tests a normalised path, a method and a raw query.
func (m *matcher) matches(path, method, rawQuery string) bool {
	if len(m.methods) > 0 && !slices.Contains(m.methods, method) {
		return false
	}
	switch m.kind {
	case matchExact:
		if path != m.path {
			return false
		}
	case matchPrefix:
		if path != m.path && !(strings.HasPrefix(path, m.path) && (m.path == "/" || path[len(m.path)] == '/')) {
			return false
		}
	case matchPattern:
		if !matchSegments(m.segments, path) {
			return false
		}
	default:
		return false
	}
	for _, q := range m.query {
		if !q.ok(rawQuery) {
			return false
		}
	}
	return true
}

// matchSegments matches "/a/:id/b" against a normalised path without
// allocating.
func matchSegments(segs []string, path string) bool {
	p := path
	for _, s := range segs {
		if len(p) == 0 || p[0] != '/' {
			return false
		}
		p = p[1:]
		end := strings.IndexByte(p, '/')
		if end < 0 {
			end = len(p)
		}
		seg := p[:end]
		if s[0] == ':' {
			if seg == "" {
				return false
			}
		} else if seg != s {
			return false
		}
		p = p[end:]
	}
	return p == ""
}

// literals counts a pattern's literal segments, its precedence weight.
func (m *matcher) literals() int {
	n := 0
	for _, s := range m.segments {
		if s[0] != ':' {
			n++
		}
	}
	return n
}

// conditions ranks routes on the same path: more conditions first.
func (m *matcher) conditions() int { return len(m.query) + min(len(m.methods), 1) }

// compileMatch validates and compiles one route's Match.
func compileMatch(mc config.Match) (matcher, error) {
	var m matcher
	set := 0
	for _, s := range []string{mc.Path, mc.Prefix, mc.Pattern} {
		if s != "" {
			set++
		}
	}
	if len(mc.Procedures) > 0 {
		set++
	}
	if set != 1 {
		return m, fmt.Errorf("match must set exactly one of path, prefix, pattern, procedures (has %d)", set)
	}
	for _, meth := range mc.Methods {
		up := strings.ToUpper(meth)
		if methodLabelKnown(up) == "" {
			return m, fmt.Errorf("unknown method %q", meth)
		}
		m.methods = append(m.methods, up)
	}
	for i, q := range mc.Query {
		t, err := compileQuery(q)
		if err != nil {
			return m, fmt.Errorf("query[%d]: %w", i, err)
		}
		m.query = append(m.query, t)
	}
	switch {
	case len(mc.Procedures) > 0:
		m.kind = matchTRPC
		if len(mc.Methods) > 0 || len(mc.Query) > 0 {
			return m, fmt.Errorf("a procedures match takes no methods or query conditions (the kind decides the method)")
		}
	case mc.Path != "":
		m.kind, m.path = matchExact, mc.Path
	case mc.Prefix != "":
		m.kind, m.path = matchPrefix, mc.Prefix
	default:
		m.kind = matchPattern
		return m, m.compilePattern(mc.Pattern)
	}
	if m.kind != matchTRPC {
		if !strings.HasPrefix(m.path, "/") {
			return m, fmt.Errorf("path %q must start with /", m.path)
		}
		if n := Normalize(m.path); n != m.path {
			return m, fmt.Errorf("path %q is not in canonical form; write %q", m.path, n)
		}
	}
	return m, nil
}

func (m *matcher) compilePattern(p string) error {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return fmt.Errorf("pattern %q must start with / and have segments", p)
	}
	seen := map[string]bool{}
	for _, s := range strings.Split(p[1:], "/") {
		switch {
		case s == "":
			return fmt.Errorf("pattern %q has an empty segment", p)
		case s == ":":
			return fmt.Errorf("pattern %q has a parameter without a name", p)
		case s[0] == ':':
			if seen[s] {
				return fmt.Errorf("pattern %q repeats parameter %s", p, s)
			}
			seen[s] = true
			m.params = append(m.params, s[1:])
		case Normalize("/"+s) != "/"+s || strings.ContainsAny(s, "*?"):
			return fmt.Errorf("pattern %q: segment %q is not canonical (lower case, no dots, no wildcards)", p, s)
		}
		m.segments = append(m.segments, s)
	}
	m.path = p
	return nil
}

func compileQuery(q config.QueryCondition) (queryTest, error) {
	if q.Param == "" {
		return queryTest{}, fmt.Errorf("param is required")
	}
	tests := 0
	if q.Absent {
		tests++
	}
	if q.In != nil {
		tests++
	}
	if q.NotIn != nil {
		tests++
	}
	if tests != 1 {
		return queryTest{}, fmt.Errorf("param %q: set exactly one of absent, in, not_in", q.Param)
	}
	return queryTest{param: q.Param, absent: q.Absent, in: q.In, notIn: q.NotIn}, nil
}

func methodLabelKnown(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect:
		return m
	}
	return ""
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}

// sameSpec says whether two matchers take exactly the same requests, which
// the table refuses as an ambiguous overlap.
func sameSpec(a, b *matcher) bool {
	if a.kind != b.kind || a.path != b.path || len(a.query) != len(b.query) {
		return false
	}
	am, bm := slices.Clone(a.methods), slices.Clone(b.methods)
	slices.Sort(am)
	slices.Sort(bm)
	if !slices.Equal(am, bm) {
		return false
	}
	for i := range a.query {
		qa, qb := a.query[i], b.query[i]
		if qa.param != qb.param || qa.absent != qb.absent || !slices.Equal(qa.in, qb.in) || !slices.Equal(qa.notIn, qb.notIn) {
			return false
		}
	}
	return true
}
