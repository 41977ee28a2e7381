package guard

import (
	"context"
	"time"

	"github.com/nanopore/strangler/internal/config"
)

// watched is a route the guard evaluates this round.
type watched struct {
	RouteInfo
	rule config.GuardRule
	// since is the window's first second: window seconds up to now's, or
	// the second after the route's epoch when later.
	since   time.Time
	epoch   time.Time
	tripKey string
	// members are the routes a trip rolls back (the write group).
	members []string
	state   *routeState
	// baselineOnly: the route is in legacy mode; its window only updates
	// legacy's baseline.
	baselineOnly bool
}

// Evaluate runs one round: it sums every replica's window of each route
// that is not in legacy mode, measures each signal and trips the routes
// that cross a threshold. It returns the events of the trips it made.
// While the database is down it still trips on the breaker and health
// signals (the rollback then holds on this replica until the database
// returns) and records those events later.
func (g *Guard) Evaluate(ctx context.Context) []Event {
	if g.opts.Routes == nil {
		return nil
	}
	g.evalMu.Lock()
	defer g.evalMu.Unlock()
	now := g.now()
	g.writePending(ctx)
	routes := g.watch(now)
	g.lastRound = now
	wins, base := g.readWindows(ctx, routes, now)
	var events []Event
	done := map[string]bool{}
	for _, w := range routes {
		if done[w.tripKey] || w.state.tripped || w.baselineOnly {
			continue
		}
		v, ok := g.judge(w, wins, base)
		if !ok {
			continue
		}
		if e, ok := g.trip(ctx, w, v, now); ok {
			events = append(events, e)
			done[w.tripKey] = true
		}
	}
	g.saveBaselines(ctx, routes, wins, now)
	g.prune(ctx, now)
	return events
}

// watch lists the guarded routes out of legacy, and the routes in legacy
// mode whose baseline is due (legacy serves them: its error rate and p99
// are recorded for when it no longer does), and moves each route's epoch
// when its flag changed.
func (g *Guard) watch(now time.Time) []*watched {
	all := g.opts.Routes()
	groups := map[string][]string{}
	for _, r := range all {
		if r.Group != "" {
			groups[r.Group] = append(groups[r.Group], r.ID)
		}
	}
	var out []*watched
	for _, r := range all {
		st := g.routes[r.ID]
		switch {
		case st == nil:
			st = &routeState{version: r.Version, epoch: r.ChangedAt}
			g.routes[r.ID] = st
		case st.version != r.Version:
			*st = routeState{version: r.Version, epoch: changedAt(r.ChangedAt, g.lastRound, now)}
		}
		rule, on := g.cfg.Rule(r.ID)
		legacy := r.Mode == "legacy" || r.Mode == ""
		if !on || r.Target == "" || legacy && now.Sub(g.baselined[r.ID]) < baselineEvery {
			continue
		}
		w := &watched{RouteInfo: r, rule: rule, state: st, epoch: st.epoch, tripKey: r.ID, members: []string{r.ID},
			baselineOnly: legacy}
		w.since = now.Add(time.Second - rule.Window) // whole seconds: the current one and window-1 before it
		// Counts are per second: the second of the change may hold counts
		// from before it (failures a trip already answered, when a person
		// re-enables the route at once), so the window starts after it.
		if after := st.epoch.Truncate(time.Second).Add(time.Second); after.After(w.since) {
			w.since = after
		}
		if r.Group != "" {
			w.tripKey, w.members = r.Group, groups[r.Group]
		}
		out = append(out, w)
	}
	return out
}

// changedAt is when a flag change seen this round was made: its recorded
// time, kept within the span since the previous round (it was not there
// then), which also bounds a clock that disagrees with the database's.
func changedAt(recorded, prevRound, now time.Time) time.Time {
	switch {
	case recorded.IsZero() || recorded.After(now):
		return now
	case recorded.Before(prevRound):
		return prevRound
	}
	return recorded
}

// readWindows sums the windows and reads the baselines; on a database error
// both are nil and only the local signals are judged.
func (g *Guard) readWindows(ctx context.Context, routes []*watched, now time.Time) (map[string]*window, map[string]map[string]baseline) {
	if g.store == nil || len(routes) == 0 {
		return nil, nil
	}
	bs := make([]bounds, len(routes))
	ids := make([]string, len(routes))
	for i, w := range routes {
		bs[i] = bounds{route: w.ID, since: w.since.Unix(), until: now.Unix()}
		ids[i] = w.ID
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	wins, err := g.store.windows(cctx, bs)
	var base map[string]map[string]baseline
	if err == nil {
		base, err = g.store.baselines(cctx, ids)
	}
	g.setDatabase(err)
	if err != nil {
		return nil, nil
	}
	return wins, base
}

// setDatabase logs when the database goes away or comes back.
func (g *Guard) setDatabase(err error) {
	down := err != nil
	if down != g.dbDown {
		if down {
			g.log.Warn().Err(err).Msg("guard: database unreachable; counting in memory, only breaker and health signals trip")
		} else {
			g.log.Info().Msg("guard: database back; evaluating every replica's windows again")
		}
	}
	g.dbDown = down
	if down {
		g.metrics.dbUp.Set(0)
	} else {
		g.metrics.dbUp.Set(1)
	}
}

// judge measures every signal of one route and returns the first that
// trips, in order: health, breaker, error rate, latency, mismatch.
func (g *Guard) judge(w *watched, wins map[string]*window, base map[string]map[string]baseline) (verdict, bool) {
	var vs []verdict
	if g.opts.Health != nil {
		if n, known := g.opts.Health(w.Target); known {
			vs = append(vs, health(w.rule, w.Target, n))
		}
	}
	vs = append(vs, breakerSignals(w.rule, g.breakers.Status(w.Target), w.epoch)...)
	if win := wins[w.ID]; win != nil {
		for _, f := range []func() (verdict, bool){
			func() (verdict, bool) { return errorRate(w.rule, win, base[w.ID]) },
			func() (verdict, bool) { return latency(w.rule, win, base[w.ID]) },
			func() (verdict, bool) { return mismatch(w.rule, win) },
		} {
			if v, ok := f(); ok {
				vs = append(vs, v)
			}
		}
	}
	for _, v := range vs {
		g.metrics.value.WithLabelValues(w.ID, v.signal).Set(v.value)
	}
	for _, v := range vs {
		if v.trip {
			return v, true
		}
	}
	return verdict{}, false
}

// baselineEvery is how often a replica records legacy's baseline of a
// route while legacy serves it.
const baselineEvery = 10 * time.Second

// saveBaselines records legacy's error rate per procedure and p99 per route
// from the windows where legacy served enough of them, at most once per
// baselineEvery per route.
func (g *Guard) saveBaselines(ctx context.Context, routes []*watched, wins map[string]*window, now time.Time) {
	for _, w := range routes {
		win := wins[w.ID]
		if win == nil || now.Sub(g.baselined[w.ID]) < baselineEvery {
			continue
		}
		g.baselined[w.ID] = now // tried: next in baselineEvery, saved or not
		var all counts
		for proc, c := range win.legacy {
			all.add(c)
			if c.requests >= int64(w.rule.MinSamples) {
				g.saveBaseline(ctx, w.ID, proc, baseline{requests: c.requests, failures: c.failures, at: now})
			}
		}
		if p, ok := all.p99(); ok && all.requests >= int64(w.rule.LatencyMinSamples) {
			g.saveBaseline(ctx, w.ID, "", baseline{requests: all.requests, failures: all.failures, p99: p, at: now})
		}
	}
}

func (g *Guard) saveBaseline(ctx context.Context, route, proc string, b baseline) {
	if err := g.store.saveBaseline(ctx, route, proc, b); err != nil {
		g.log.Warn().Err(err).Str("route", route).Msg("guard: legacy baseline not saved")
	}
}

// prune deletes sample rows past the retention, once a minute.
func (g *Guard) prune(ctx context.Context, now time.Time) {
	if g.store == nil || g.dbDown || now.Sub(g.lastPrune) < time.Minute {
		return
	}
	g.lastPrune = now
	if err := g.store.deleteBefore(ctx, now.Add(-g.cfg.Retention).Unix()); err != nil {
		g.log.Warn().Err(err).Msg("guard: old samples not deleted")
	}
}
