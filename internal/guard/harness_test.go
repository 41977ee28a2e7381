package guard

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// The guard's tests run against the real PostgreSQL (a fresh database per
// test), with a fake clock: every timing claim is read off recorded events.

// routeDef is one route of the test table: the shipped samples routes, and
// a remote target.
type routeDef struct{ id, target, group string }

var testRoutes = []routeDef{
	{"nanopore.getAll", "service:samples", ""},
	{"nanopore.update", "service:samples", "samples"},
	{"nanopore.create", "service:samples", "samples"},
	{"files.list", "https://files.internal", ""},
}

func members(id string) []string {
	var group string
	for _, r := range testRoutes {
		if r.id == id || r.group == id {
			group = r.group
			if r.id == id && group == "" {
				return []string{id}
			}
		}
	}
	var out []string
	for _, r := range testRoutes {
		if r.group == group {
			out = append(out, r.id)
		}
	}
	return out
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one test's database and clock.
type env struct {
	t     testing.TB
	pool  *pgxpool.Pool
	clock *fakeClock
	flags *flags.Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, testutil.CreateDB(t))
}

func newEnvOn(t testing.TB, url string) *env {
	t.Helper()
	pool := testutil.Pool(t, url)
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return &env{t: t, pool: pool, clock: &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		flags: &flags.Store{Pool: pool}}
}

// flip puts a route (its whole group) into mode, as a person would.
func (e *env) flip(id, mode string) {
	e.t.Helper()
	var changes []flags.Change
	for _, m := range members(id) {
		changes = append(changes, flags.Change{Key: m, Mode: mode})
	}
	if _, _, err := e.flags.Apply(context.Background(), changes, flags.Meta{Actor: "test", Reason: "flip", Source: "cli"}); err != nil {
		e.t.Fatalf("flip %s %s: %v", id, mode, err)
	}
}

func (e *env) mode(id string) string {
	e.t.Helper()
	snap, err := e.flags.Load(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if f, ok := snap.Get(id); ok {
		return f.Mode
	}
	return "legacy"
}

func (e *env) events() []Event {
	e.t.Helper()
	evs, err := Events(context.Background(), e.pool, "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// replica is one proxy's view of the routes: the database's flags (as if
// every notification arrived at once), or, while the database is down, the
// last flags read plus the rollbacks made on this replica alone (what
// flags.Syncer does).
type replica struct {
	e     *env
	mu    sync.Mutex
	last  *flags.Snapshot
	local map[string]bool
}

func (e *env) replica() *replica { return &replica{e: e, local: map[string]bool{}} }

func (r *replica) routes() []RouteInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if snap, err := flags.LoadFrom(ctx, r.e.pool); err == nil {
		r.last = snap
	}
	out := make([]RouteInfo, 0, len(testRoutes))
	for _, d := range testRoutes {
		ri := RouteInfo{ID: d.id, Flag: d.id, Mode: "legacy", Target: d.target, Group: d.group}
		if f, ok := r.last.Get(d.id); ok {
			ri.Mode, ri.Version, ri.ChangedAt = f.Mode, f.Version, f.ChangedAt
		}
		if r.local[d.id] {
			ri.Mode = "legacy"
		}
		out = append(out, ri)
	}
	return out
}

func (r *replica) rollback(ctx context.Context, ids []string, meta flags.Meta) error {
	var changes []flags.Change
	for _, id := range ids {
		for _, m := range members(id) {
			changes = append(changes, flags.Change{Key: m, Mode: "legacy"})
		}
	}
	_, _, err := r.e.flags.Apply(ctx, changes, meta)
	if err != nil && unreachable(err) {
		r.mu.Lock()
		for _, c := range changes {
			r.local[c.Key] = true
		}
		r.mu.Unlock()
		return nil
	}
	return err
}

// guardOn builds a Guard for replica rep named name; opt edits its options.
func (e *env) guardOn(name string, rep *replica, opt func(*Options, *config.Guard)) *Guard {
	cfg := config.DefaultGuard()
	opts := Options{Config: &cfg, Pool: e.pool, Replica: name, Routes: rep.routes, Rollback: rep.rollback,
		Now: e.clock.Now, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()}
	if opt != nil {
		opt(&opts, &cfg)
	}
	return New(opts)
}

func (e *env) guard(opt func(*Options, *config.Guard)) *Guard {
	return e.guardOn("r1", e.replica(), opt)
}

// guards builds one Guard per replica name, with the shipped config.
func (e *env) guards(names ...string) []*Guard {
	out := make([]*Guard, len(names))
	for i, n := range names {
		out[i] = e.guardOn(n, e.replica(), nil)
	}
	return out
}

// observe reports n answers of one route on one side.
func observe(g *Guard, route string, side Side, o Outcome, latency time.Duration, n int) {
	for range n {
		g.Observe(route, route, side, o, latency)
	}
}

func mustFlush(t *testing.T, gs ...*Guard) {
	t.Helper()
	for _, g := range gs {
		if err := g.Flush(context.Background()); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
}

// evaluate flushes and evaluates g once.
func evaluate(t *testing.T, g *Guard) []Event {
	t.Helper()
	mustFlush(t, g)
	return g.Evaluate(context.Background())
}

func signals(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Route + ":" + e.Signal
	}
	slices.Sort(out)
	return out
}
