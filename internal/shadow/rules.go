package shadow

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanopore/strangler/internal/config"
)

// Rules are the normalisation rules that apply to one route and procedure:
// every configured rule whose route and procedure globs match, merged.
type Rules struct {
	ignore    globs
	presence  globs
	mapIDs    globs
	unordered []unorderedRule
	tolerance []toleranceRule
	headers   []string
}

type unorderedRule struct {
	path Glob
	key  string
}

type toleranceRule struct {
	path Glob
	abs  float64
}

// nodeRule is what the rules say about one general path.
type nodeRule struct {
	ignore, presence, mapID bool
	unorderedKey            string
	tolerance               float64
	hasTolerance            bool
}

func (r *Rules) at(gen string) nodeRule {
	var n nodeRule
	if r == nil {
		return n
	}
	n.ignore = r.ignore.Match(gen)
	n.presence = r.presence.Match(gen)
	n.mapID = r.mapIDs.Match(gen)
	for _, u := range r.unordered {
		if u.path.Match(gen) {
			n.unorderedKey = u.key
		}
	}
	for _, t := range r.tolerance {
		if t.path.Match(gen) {
			n.tolerance, n.hasTolerance = t.abs, true
		}
	}
	return n
}

// defaultHeaders are the answer headers compared when no rule names any:
// the contract calls content types and vary stable.
var defaultHeaders = []string{"content-type", "vary"}

// ruleSource is one configured rule, compiled.
type ruleSource struct {
	route, procedure Glob
	rules            Rules
}

// RuleSet holds the compiled rules and accepted differences of a
// configuration. Lookups are cached per route and procedure: both come from
// the route table (never from raw request text), so the cache is bounded.
type RuleSet struct {
	sources  []ruleSource
	accepted []accepted
	cache    sync.Map // route + "\x00" + procedure -> *Rules
	writes   map[string]bool
	// declared are the accepted differences declared at run time
	// (strangler.shadow_accepted), replaced whole by SetDeclared.
	declared atomic.Pointer[[]accepted]
}

// accepted is one declared difference, compiled.
type accepted struct {
	route, procedure, path Glob
	afterWrites            globs
	within                 time.Duration
	legacyMessage          string
	expires                time.Time
	cfg                    config.AcceptedDiff
}

// NewRuleSet compiles the rules and accepted differences of cfg. The
// configuration is validated by config.Load; a bad expiry here lapses at once.
func NewRuleSet(cfg config.Shadow) *RuleSet {
	rs := &RuleSet{writes: map[string]bool{}}
	for _, r := range cfg.Rules {
		src := ruleSource{route: NewGlob(r.Route), procedure: NewGlob(r.Procedure)}
		src.rules = Rules{ignore: newGlobs(r.Ignore), presence: newGlobs(r.Presence), mapIDs: newGlobs(r.MapIDs)}
		for _, u := range r.Unordered {
			src.rules.unordered = append(src.rules.unordered, unorderedRule{path: NewGlob(u.Path), key: u.Key})
		}
		for _, t := range r.Tolerance {
			src.rules.tolerance = append(src.rules.tolerance, toleranceRule{path: NewGlob(t.Path), abs: t.Abs})
		}
		for _, h := range r.Headers {
			src.rules.headers = append(src.rules.headers, strings.ToLower(h))
		}
		rs.sources = append(rs.sources, src)
	}
	for _, a := range cfg.Accepted {
		exp, _ := config.ParseExpiry(a.Expires)
		rs.accepted = append(rs.accepted, accepted{
			route: NewGlob(a.Route), procedure: NewGlob(a.Procedure), path: NewGlob(a.Path),
			afterWrites: newGlobs(a.AfterWrites), within: a.Within, legacyMessage: a.LegacyMessage,
			expires: exp, cfg: a,
		})
	}
	return rs
}

// For returns the merged rules of a route and procedure.
func (rs *RuleSet) For(route, procedure string) *Rules {
	key := route + "\x00" + procedure
	if v, ok := rs.cache.Load(key); ok {
		return v.(*Rules)
	}
	r := &Rules{}
	for _, s := range rs.sources {
		if !s.route.Match(route) || !s.procedure.Match(procedure) {
			continue
		}
		r.ignore = append(r.ignore, s.rules.ignore...)
		r.presence = append(r.presence, s.rules.presence...)
		r.mapIDs = append(r.mapIDs, s.rules.mapIDs...)
		r.unordered = append(r.unordered, s.rules.unordered...)
		r.tolerance = append(r.tolerance, s.rules.tolerance...)
		r.headers = append(r.headers, s.rules.headers...)
	}
	if len(r.headers) == 0 {
		r.headers = defaultHeaders
	}
	v, _ := rs.cache.LoadOrStore(key, r)
	return v.(*Rules)
}

// writeWatched says whether a procedure is named by some accepted
// difference's after_writes, so that its calls are worth remembering.
func (rs *RuleSet) writeWatched(procedure string) bool {
	for _, a := range rs.accepted {
		if a.afterWrites.Match(procedure) {
			return true
		}
	}
	return false
}

// acceptContext is what an accepted difference's conditions look at.
type acceptContext struct {
	now           time.Time
	legacyMessage string // the legacy error message, if legacy failed
	lastWrite     func(glob globs, within time.Duration) bool
}

// accept returns the declared difference that covers a diff, if any.
func (rs *RuleSet) accept(route, procedure, gen string, ac acceptContext) (config.AcceptedDiff, bool) {
	if a, ok := acceptFrom(rs.accepted, route, procedure, gen, ac); ok {
		return a, true
	}
	if d := rs.declared.Load(); d != nil {
		return acceptFrom(*d, route, procedure, gen, ac)
	}
	return config.AcceptedDiff{}, false
}

// acceptFrom returns the first difference of list that covers a diff.
func acceptFrom(list []accepted, route, procedure, gen string, ac acceptContext) (config.AcceptedDiff, bool) {
	for _, a := range list {
		if !a.route.Match(route) || !a.procedure.Match(procedure) || !a.path.Match(gen) {
			continue
		}
		if !ac.now.Before(a.expires) {
			continue // lapsed: a mismatch again
		}
		if a.legacyMessage != "" && a.legacyMessage != ac.legacyMessage {
			continue
		}
		if a.within > 0 && (ac.lastWrite == nil || !ac.lastWrite(a.afterWrites, a.within)) {
			continue
		}
		return a.cfg, true
	}
	return config.AcceptedDiff{}, false
}
