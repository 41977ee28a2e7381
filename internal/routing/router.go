package routing

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/rs/zerolog"
)

// RouteMode is a route's effective mode in one State.
type RouteMode struct {
	Mode    Mode
	Percent int
	// Source says where it came from: "flag", "default", or "invalid" when
	// the flag named a mode the route cannot take (then legacy).
	Source string
}

// State is what the hot path reads: an immutable route table with the mode
// of each route, swapped atomically whenever the table or a flag changes.
type State struct {
	Table        *Table
	Modes        []RouteMode // indexed by Route.Index
	FlagsVersion int64
}

// Mode returns a route's effective mode.
func (s *State) Mode(r *Route) RouteMode { return s.Modes[r.Index] }

// Options configure a Router.
type Options struct {
	// Flags evaluates route flags (an OpenFeature client whose provider is
	// internal/flags).
	Flags *of.Client
	// FlagsVersion reports the flags version the provider currently holds.
	FlagsVersion func() int64
	// Canary keys and cookie (see config.Canary).
	CanaryKeys   []string
	CanaryCookie string
	// TrustedProxies are the networks whose forwarding headers are believed.
	TrustedProxies []netip.Prefix
	// AdminTokenHashes are SHA-256 hex digests of admin tokens.
	AdminTokenHashes []string
	Logger           zerolog.Logger
}

// Router decides, for each request, which side answers. It decides; it never
// forwards (package proxy does). Decisions read only the in-memory State.
type Router struct {
	opts   Options
	state  atomic.Pointer[State]
	keys   []canaryKey
	tokens [][32]byte

	mu      sync.Mutex // serialises rebuilds
	applied func(*State)
}

// NewRouter makes a Router over table; call Rebuild (or let flag events do
// it) to apply flags.
func NewRouter(table *Table, opts Options) (*Router, error) {
	rt := &Router{opts: opts}
	var err error
	if rt.keys, err = parseCanaryKeys(opts.CanaryKeys); err != nil {
		return nil, err
	}
	if rt.tokens, err = parseTokenHashes(opts.AdminTokenHashes); err != nil {
		return nil, err
	}
	rt.state.Store(defaultState(table))
	return rt, nil
}

func defaultState(t *Table) *State {
	s := &State{Table: t, Modes: make([]RouteMode, len(t.Routes))}
	for i, r := range t.Routes {
		s.Modes[i] = RouteMode{Mode: r.DefaultMode, Percent: r.DefaultPercent, Source: "default"}
	}
	return s
}

// State returns the current state.
func (rt *Router) State() *State { return rt.state.Load() }

// OnApplied registers a function called after each new State is in place.
func (rt *Router) OnApplied(f func(*State)) {
	rt.mu.Lock()
	rt.applied = f
	rt.mu.Unlock()
}

// SetTable swaps in a new route table (config reload) and re-applies flags.
func (rt *Router) SetTable(t *Table) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.rebuildLocked(t)
}

// Rebuild re-evaluates every route's flag and swaps the State.
func (rt *Router) Rebuild() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.rebuildLocked(rt.state.Load().Table)
}

func (rt *Router) rebuildLocked(t *Table) {
	var version int64
	if rt.opts.FlagsVersion != nil {
		version = rt.opts.FlagsVersion()
	}
	s := defaultState(t)
	s.FlagsVersion = version
	if rt.opts.Flags != nil {
		for i, r := range t.Routes {
			if !r.Deny {
				s.Modes[i] = rt.evaluate(r)
			}
		}
	}
	rt.unifyGroups(t, s)
	rt.state.Store(s)
	if rt.applied != nil {
		rt.applied(s)
	}
}

// evaluate reads one route's flag through OpenFeature.
func (rt *Router) evaluate(r *Route) RouteMode {
	def := RouteMode{Mode: r.DefaultMode, Percent: r.DefaultPercent, Source: "default"}
	d, err := rt.opts.Flags.ObjectValueDetails(context.Background(), r.Flag, nil, of.EvaluationContext{})
	if err != nil {
		if d.ErrorCode != of.FlagNotFoundCode {
			rt.opts.Logger.Error().Err(err).Str("route", r.ID).Msg("flag evaluation failed; using the route's default mode")
		}
		return def
	}
	m, _ := d.Value.(map[string]any)
	modeName, _ := m["mode"].(string)
	percent, _ := m["percent"].(int64)
	mode, perr := ParseMode(modeName)
	if perr == nil {
		perr = r.CheckMode(mode)
	}
	if perr != nil {
		rt.opts.Logger.Error().Err(perr).Str("route", r.ID).Msg("flag holds a mode this route cannot take; routing to legacy")
		return RouteMode{Mode: ModeLegacy, Source: "invalid"}
	}
	return RouteMode{Mode: mode, Percent: int(percent), Source: "flag"}
}

// unifyGroups keeps each write group on one mode. Flips always write a whole
// group, but if its flags disagree anyway (a hand edit, a half-applied
// change), every member takes the member mode closest to legacy, so that two
// mutations of one group never land on different sides.
func (rt *Router) unifyGroups(t *Table, s *State) {
	for name, rs := range t.groups {
		lowest := s.Modes[rs[0].Index]
		for _, r := range rs[1:] {
			if m := s.Modes[r.Index]; m.Mode < lowest.Mode {
				lowest = m
			}
		}
		for _, r := range rs {
			if s.Modes[r.Index].Mode != lowest.Mode {
				rt.opts.Logger.Error().Str("write_group", name).Str("route", r.ID).
					Str("flag_mode", s.Modes[r.Index].Mode.String()).Str("group_mode", lowest.Mode.String()).
					Msg("write group members disagree; the whole group takes the mode closest to legacy")
				s.Modes[r.Index] = RouteMode{Mode: lowest.Mode, Percent: lowest.Percent, Source: "write-group"}
			}
		}
	}
}

// CheckMode says whether the route can take mode: deny routes take no mode,
// and every mode but legacy needs a new target.
func (r *Route) CheckMode(m Mode) error {
	if r.Deny {
		return fmt.Errorf("route %s is a deny route: deny is not a mode, no flip opens it", r.ID)
	}
	if m.NeedsNew() && r.Target.Kind == TargetNone {
		return fmt.Errorf("route %s has no new target yet, so it cannot be in %s mode", r.ID, m)
	}
	return nil
}
