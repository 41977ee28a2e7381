package guard

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Signals that trip a route.
const (
	SignalErrorRate     = "error_rate"
	SignalLatency       = "latency_p99"
	SignalMismatch      = "mismatch_rate"
	SignalHealth        = "health"
	SignalBreakerOpen   = "breaker_open"
	SignalBreakerProbes = "breaker_probes"
)

// Event is one automatic rollback: which route tripped on which signal,
// what was measured against which threshold over which window, and what
// was rolled back (the route's whole write group).
type Event struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Replica    string    `json:"replica"`
	Route      string    `json:"route"`
	TripKey    string    `json:"trip_key"`
	RolledBack []string  `json:"rolled_back"`
	Signal     string    `json:"signal"`
	Value      float64   `json:"value"`
	Threshold  float64   `json:"threshold"`
	// Window is how far back the value was measured (0 for the signals
	// that are a state: health, breaker).
	Window      time.Duration `json:"-"`
	WindowSecs  float64       `json:"window_seconds"`
	Samples     int64         `json:"samples"`
	FlagVersion int64         `json:"flag_version"`
	Detail      string        `json:"detail"`
}

// execer runs a statement: a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertEvent writes e unless the same trip (trip key and flag version) is
// already recorded; it says whether it wrote.
func insertEvent(ctx context.Context, q execer, e *Event) (bool, error) {
	tag, err := q.Exec(ctx, `
		INSERT INTO strangler.guard_events (at, replica, route, trip_key, rolled_back, signal, value, threshold,
			window_seconds, samples, flag_version, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (trip_key, flag_version) DO NOTHING`,
		e.At, e.Replica, e.Route, e.TripKey, e.RolledBack, e.Signal, e.Value, e.Threshold,
		e.Window.Seconds(), e.Samples, e.FlagVersion, e.Detail)
	if err != nil {
		return false, fmt.Errorf("record guard event: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Querier reads rows: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Events returns the newest automatic rollbacks first, of one route or of
// all (route ""), for the CLI and the admin API.
func Events(ctx context.Context, q Querier, route string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := q.Query(ctx, `
		SELECT id, at, replica, route, trip_key, rolled_back, signal, value, threshold, window_seconds,
			samples, flag_version, detail
		FROM strangler.guard_events WHERE $1 = '' OR route = $1 ORDER BY at DESC, id DESC LIMIT $2`, route, limit)
	if err != nil {
		return nil, fmt.Errorf("read guard events: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.ID, &e.At, &e.Replica, &e.Route, &e.TripKey, &e.RolledBack, &e.Signal, &e.Value,
			&e.Threshold, &e.WindowSecs, &e.Samples, &e.FlagVersion, &e.Detail)
		e.Window = time.Duration(e.WindowSecs * float64(time.Second))
		return e, err
	})
}
