package main

// End-to-end tests of automatic rollback through real replicas (Main, one
// database, LISTEN/NOTIFY) and the real rollback path (control.Rollback,
// PlanRollback, flags.Syncer). Until the executor reports answers to the
// guard, the tests report them themselves, as the executor will.

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// e2eGuardRoutes is the wiring serve.go needs: the router's state and the
// flags, as the guard sees routes.
func e2eGuardRoutes(m *Main) func() []guard.RouteInfo {
	return func() []guard.RouteInfo {
		st := m.router.State()
		snap := m.flags.provider.Snapshot()
		out := make([]guard.RouteInfo, 0, len(st.Table.Routes))
		for _, r := range st.Table.Routes {
			if r.Deny || r.Target.Kind == routing.TargetNone {
				continue
			}
			f, _ := snap.Get(r.Flag)
			out = append(out, guard.RouteInfo{ID: r.ID, Flag: r.Flag, Mode: st.Mode(r).Mode.String(),
				Target: r.Target.String(), Group: r.WriteGroup, Version: f.Version, ChangedAt: f.ChangedAt})
		}
		return out
	}
}

// testClock is a clock the test moves; it starts an hour ahead of the wall
// clock (the database's), so that flags changed now are in its past.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().Add(time.Hour).Truncate(time.Second).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// e2eGuard builds the guard a replica would run, on the same path as
// `strangler rollback`.
func e2eGuard(m *Main, clock *testClock, health func(string) (int, bool)) *guard.Guard {
	cfg := config.DefaultGuard()
	return guard.New(guard.Options{Now: clock.Now,
		Config: &cfg, Pool: m.pool, Replica: m.flags.replica.ID, Routes: e2eGuardRoutes(m),
		Rollback: func(ctx context.Context, routes []string, meta flags.Meta) error {
			_, err := m.control.Rollback(ctx, routes, false, meta)
			return err
		},
		Health: health, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry(),
	})
}

// modes returns the routes' modes on a replica.
func modes(m *Main, ids ...string) []string {
	st := m.router.State()
	out := make([]string, len(ids))
	for i, id := range ids {
		r, _ := st.Table.ByID(id)
		out[i] = st.Mode(r).Mode.String()
	}
	return out
}

var samplesGroup = []string{"nanopore.create", "nanopore.update", "nanopore.assign", "nanopore.updateStatus",
	"nanopore.delete", "nanopore.createDefaultProcessingSteps", "nanopore.updateProcessingStep",
	"nanopore.startProcessingStep", "nanopore.completeProcessingStep"}

func allAre(ms []string, mode string) bool {
	return !slices.ContainsFunc(ms, func(m string) bool { return m != mode })
}

// TestGuardRollsBackTheWriteGroupOnEveryReplica: a mutation failing on the
// new side of three replicas (too few failures on each alone) rolls the
// whole samples write group back to legacy on all three, with one event
// and one guard entry per flag in the history; the guard never re-enables
// it, a person's flip does, and the failures from before do not trip again.
func TestGuardRollsBackTheWriteGroupOnEveryReplica(t *testing.T) {
	legacy := newLegacyStub(t)
	db := migratedDB(t)
	reps := []*Main{startReplica(t, legacy.URL, db), startReplica(t, legacy.URL, db), startReplica(t, legacy.URL, db)}
	if code, out, errOut := cliRun(t, db, "flip", "samples", "new", "--reason", "cutover"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	var gs []*guard.Guard
	clock := newTestClock()
	for _, m := range reps {
		testutil.Eventually(t, 30*time.Second, "group on the new side", func() bool { return allAre(modes(m, samplesGroup...), "new") })
		g := e2eGuard(m, clock, nil)
		g.Evaluate(context.Background()) // sees the flip
		for range 4 {
			g.Observe("nanopore.update", "nanopore.update", guard.SideNew, guard.OutcomeFailure, 3*time.Millisecond)
		}
		gs = append(gs, g)
	}
	for _, g := range gs {
		if err := g.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	trips := make(chan []guard.Event, len(gs))
	for _, g := range gs {
		go func() { trips <- g.Evaluate(context.Background()) }()
	}
	var all []guard.Event
	for range gs {
		all = append(all, <-trips...)
	}
	if len(all) != 1 || all[0].Signal != guard.SignalErrorRate || all[0].Samples != 12 || all[0].TripKey != "samples" {
		t.Fatalf("trips: %+v", all)
	}
	for _, m := range reps {
		testutil.Eventually(t, 30*time.Second, "group back on legacy", func() bool { return allAre(modes(m, samplesGroup...), "legacy") })
	}
	events, err := guard.Events(context.Background(), reps[0].pool, "", 10)
	if err != nil || len(events) != 1 || !slices.Equal(sorted(events[0].RolledBack), sorted(samplesGroup)) {
		t.Fatalf("events %+v %v", events, err)
	}
	code, out, _ := cliRun(t, db, "history", "nanopore.delete", "--json")
	if code != 0 || strings.Count(out, `"source": "guard"`) != 1 || !strings.Contains(out, "automatic rollback: error_rate") {
		t.Fatalf("history of a group member: %s", out)
	}

	// The guard never re-enables; a person does, and old failures stay old.
	for _, g := range gs {
		if evs := g.Evaluate(context.Background()); len(evs) != 0 {
			t.Fatalf("evaluated again: %+v", evs)
		}
	}
	if code, out, errOut := cliRun(t, db, "flip", "samples", "new", "--reason", "fixed"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	for i, m := range reps {
		testutil.Eventually(t, 30*time.Second, "group on the new side again", func() bool { return allAre(modes(m, samplesGroup...), "new") })
		if evs := gs[i].Evaluate(context.Background()); len(evs) != 0 {
			t.Fatalf("failures from before the person's flip tripped again: %+v", evs)
		}
	}
	clock.Advance(time.Second)
	for _, g := range gs {
		if evs := g.Evaluate(context.Background()); len(evs) != 0 {
			t.Fatalf("failures from before the person's flip tripped again: %+v", evs)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestGuardTripsWithTheDatabaseDown: with the database gone, a failing
// health check of the new target still rolls the route back on the
// replica (the flags layer's local rollback), and when the database
// returns the rollback is replayed and the event recorded once.
func TestGuardTripsWithTheDatabaseDown(t *testing.T) {
	legacy := newLegacyStub(t)
	cl := testutil.StartCluster(t)
	db := cl.CreateDB("strangler")
	if _, err := store.Migrate(context.Background(), testutil.Pool(t, db)); err != nil {
		t.Fatal(err)
	}
	m := startReplica(t, legacy.URL, db)
	if code, out, errOut := cliRun(t, db, "flip", "nanopore.getAll", "new", "--reason", "cutover"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	testutil.Eventually(t, 30*time.Second, "replica on the new side", func() bool { return sideOf(t, m) == "service:samples" })
	var failures atomic.Int64
	g := e2eGuard(m, newTestClock(), func(target string) (int, bool) { return int(failures.Load()), target == "service:samples" })
	if evs := g.Evaluate(context.Background()); len(evs) != 0 {
		t.Fatalf("healthy target tripped: %+v", evs)
	}

	cl.Stop()
	testutil.Eventually(t, 30*time.Second, "listener noticed the outage", func() bool { return !m.flags.syncer.Connected() })
	failures.Store(3)
	evs := g.Evaluate(context.Background())
	if len(evs) != 1 || evs[0].Signal != guard.SignalHealth || evs[0].Route != "nanopore.getAll" {
		t.Fatalf("trips with the database down: %+v", evs)
	}
	if side := sideOf(t, m); side != "legacy" {
		t.Fatalf("after the guard's local rollback the replica routes to %s", side)
	}

	cl.Start()
	testutil.Eventually(t, 60*time.Second, "rollback replayed and event recorded", func() bool {
		g.Evaluate(context.Background())
		evs, err := guard.Events(context.Background(), m.pool, "nanopore.getAll", 10)
		code, out, _ := cliRun(t, db, "history", "nanopore.getAll", "--json")
		return err == nil && len(evs) == 1 && code == 0 && strings.Contains(out, `"source": "replay"`)
	})
	if side := sideOf(t, m); side != "legacy" {
		t.Errorf("after the database returned the replica routes to %s", side)
	}
}
