package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nanopore/strangler/internal/flags"
)

// tripLockKey is the advisory lock that serialises trips across replicas:
// the replica holding it re-reads the route's flag, so that a route is
// rolled back and recorded once however many replicas see it fail.
const tripLockKey = 0x5354524e4755 // "STRNGU"

// tripTimeout bounds one trip: the lock, the rollback and the event.
const tripTimeout = 10 * time.Second

// errStale means the route's flag changed since the round began (another
// replica tripped it, or a person flipped it): nothing to do.
var errStale = errors.New("route's flag changed since it was evaluated")

// errNoDatabase: no database configured, or it was unreachable this round.
var errNoDatabase = errors.New("database unavailable")

// rollbackError is a refused rollback (not an unreachable database).
type rollbackError struct{ err error }

func (e *rollbackError) Error() string { return "rollback: " + e.err.Error() }
func (e *rollbackError) Unwrap() error { return e.err }

// trip rolls a route (its whole write group) back to legacy and records,
// logs, counts and announces the event. It reports whether it tripped.
func (g *Guard) trip(ctx context.Context, w *watched, v verdict, now time.Time) (Event, bool) {
	e := Event{At: now, Replica: g.opts.Replica, Route: w.ID, TripKey: w.tripKey, RolledBack: w.members,
		Signal: v.signal, Value: v.value, Threshold: v.threshold, Window: v.window, WindowSecs: v.window.Seconds(),
		Samples: v.samples, FlagVersion: w.Version, Detail: v.detail}
	if !g.enabled.Load() || g.opts.Rollback == nil {
		if !w.state.dryRun {
			w.state.dryRun = true
			g.log.Warn().Str("route", e.Route).Str("signal", e.Signal).Float64("value", e.Value).
				Float64("threshold", e.Threshold).Str("detail", e.Detail).Msg("guard would roll back (guard.enabled is off)")
		}
		return Event{}, false
	}
	meta := flags.Meta{Actor: "guard:" + g.opts.Replica, Source: "guard", Reason: e.reason()}
	cctx, cancel := context.WithTimeout(ctx, tripTimeout)
	defer cancel()
	rolledBack, recorded, err := g.tripLocked(cctx, w, &e, meta)
	var rbErr *rollbackError
	switch {
	case errors.Is(err, errStale):
		return Event{}, false
	case errors.As(err, &rbErr):
		g.metrics.tripFailures.WithLabelValues(w.ID).Inc()
		g.log.Error().Err(err).Str("route", w.ID).Str("signal", e.Signal).Msg("guard: rollback refused")
		return Event{}, false
	case err != nil && rolledBack:
		g.keepPending(e) // rolled back; only the event waits
	case err != nil && unreachable(err):
		// The database is out of reach: roll back on this replica now (the
		// flags layer writes it when the database returns), record later.
		rctx, rcancel := context.WithTimeout(ctx, tripTimeout)
		rerr := g.opts.Rollback(rctx, []string{w.ID}, meta)
		rcancel()
		if rerr != nil {
			g.metrics.tripFailures.WithLabelValues(w.ID).Inc()
			g.log.Error().Err(rerr).Str("route", w.ID).Msg("guard: rollback failed")
			return Event{}, false
		}
		g.keepPending(e)
	case err != nil:
		g.metrics.tripFailures.WithLabelValues(w.ID).Inc()
		g.log.Error().Err(err).Str("route", w.ID).Str("signal", e.Signal).Msg("guard: trip failed")
		return Event{}, false
	case !recorded:
		return Event{}, false // already recorded by a replica that tripped it first
	}
	w.state.tripped = true
	g.announce(e, err)
	return e, true
}

// tripLocked takes the trip lock, checks the route's flag is still the one
// judged, rolls back and records the event in the lock's transaction.
func (g *Guard) tripLocked(ctx context.Context, w *watched, e *Event, meta flags.Meta) (rolledBack, recorded bool, err error) {
	if g.store == nil || g.dbDown {
		return false, false, errNoDatabase
	}
	err = pgx.BeginFunc(ctx, g.store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, tripLockKey); err != nil {
			return err
		}
		snap, err := flags.LoadFrom(ctx, tx)
		if err != nil {
			return err
		}
		f, ok := snap.Get(w.Flag)
		if ok && (f.Mode == "legacy" || f.Version != w.Version) || !ok && w.Version != 0 {
			return errStale
		}
		if err := g.opts.Rollback(ctx, []string{w.ID}, meta); err != nil {
			return &rollbackError{err}
		}
		rolledBack = true
		recorded, err = insertEvent(ctx, tx, e)
		return err
	})
	return rolledBack, recorded, err
}

// maxPending bounds the trips kept for the database; a trip is rare, so
// reaching it means the database has been gone for very long.
const maxPending = 1000

func (g *Guard) keepPending(e Event) {
	if g.store != nil && len(g.pending) < maxPending {
		g.pending = append(g.pending, e)
	}
}

// writePending records the trips made while the database was down. The
// unique trip key and flag version keep a trip that several replicas made
// apart to one row.
func (g *Guard) writePending(ctx context.Context) {
	if g.store == nil || len(g.pending) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(g.pending) > 0 {
		if _, err := insertEvent(cctx, g.store.pool, &g.pending[0]); err != nil {
			return
		}
		g.pending = g.pending[1:]
	}
}

// announce logs, counts and posts a trip.
func (g *Guard) announce(e Event, dbErr error) {
	g.metrics.trips.WithLabelValues(e.Route, e.Signal).Inc()
	ev := g.log.Warn()
	if dbErr != nil {
		ev = ev.AnErr("database", dbErr).Bool("recorded_later", true)
	}
	ev.Str("route", e.Route).Strs("rolled_back", e.RolledBack).Str("signal", e.Signal).
		Float64("value", e.Value).Float64("threshold", e.Threshold).Float64("window_seconds", e.WindowSecs).
		Int64("samples", e.Samples).Int64("flag_version", e.FlagVersion).Str("detail", e.Detail).
		Msg("guard rolled back to legacy")
	g.hook.enqueue(e)
}

// reason is the flag history's reason of a trip.
func (e *Event) reason() string {
	s := fmt.Sprintf("automatic rollback: %s %.4g reached %.4g", e.Signal, e.Value, e.Threshold)
	if e.Window > 0 {
		s += fmt.Sprintf(" over %s", e.Window)
	}
	return s + " (" + e.Detail + ")"
}

// unreachable says whether err means the database could not be reached.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P03"
	}
	return true // dial errors, timeouts, closed connections
}
