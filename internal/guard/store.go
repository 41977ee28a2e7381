package guard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore reads and writes the guard's tables in the strangler schema.
type pgStore struct {
	pool *pgxpool.Pool
}

const addSampleSQL = `
INSERT INTO strangler.guard_samples AS s
	(route, second, procedure, side, replica, requests, failures, normal_errors, client_errors, compared, mismatched, hist)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (route, second, procedure, side, replica) DO UPDATE SET
	requests = s.requests + EXCLUDED.requests,
	failures = s.failures + EXCLUDED.failures,
	normal_errors = s.normal_errors + EXCLUDED.normal_errors,
	client_errors = s.client_errors + EXCLUDED.client_errors,
	compared = s.compared + EXCLUDED.compared,
	mismatched = s.mismatched + EXCLUDED.mismatched,
	hist = ARRAY(SELECT a + b FROM unnest(s.hist, EXCLUDED.hist) WITH ORDINALITY AS u(a, b, i) ORDER BY i)`

// addSamples adds a replica's counts to the rows of their seconds, in one
// transaction: all of them or none (then the caller keeps them).
func (st *pgStore) addSamples(ctx context.Context, replica string, samples []sample) error {
	if len(samples) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := range samples {
			s := &samples[i]
			c := &s.c
			b.Queue(addSampleSQL, s.key.route, s.sec, s.key.procedure, s.key.kind.String(), replica,
				c.requests, c.failures, c.normal, c.client, c.compared, c.mismatched, c.hist[:])
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// windowSQL sums every replica's rows of each route within its own bounds,
// histogram bucket by bucket.
var windowSQL = func() string {
	var b strings.Builder
	b.WriteString(`SELECT s.route, s.procedure, s.side, sum(requests)::bigint, sum(failures)::bigint,
	sum(normal_errors)::bigint, sum(client_errors)::bigint, sum(compared)::bigint, sum(mismatched)::bigint`)
	for i := 1; i <= numBuckets; i++ {
		fmt.Fprintf(&b, ", coalesce(sum(hist[%d]), 0)::bigint", i)
	}
	b.WriteString(`
FROM strangler.guard_samples s
JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS w(route, since, until)
	ON s.route = w.route AND s.second >= w.since AND s.second <= w.until
GROUP BY s.route, s.procedure, s.side`)
	return b.String()
}()

// bounds are the seconds of one route's window, both included.
type bounds struct {
	route        string
	since, until int64
}

// window is one route's counts over its window, summed over every replica.
type window struct {
	bounds
	legacy, new map[string]*counts // by procedure
	shadow      counts
}

func (st *pgStore) windows(ctx context.Context, bs []bounds) (map[string]*window, error) {
	out := make(map[string]*window, len(bs))
	routes, since, until := make([]string, len(bs)), make([]int64, len(bs)), make([]int64, len(bs))
	for i, b := range bs {
		routes[i], since[i], until[i] = b.route, b.since, b.until
		out[b.route] = &window{bounds: b, legacy: map[string]*counts{}, new: map[string]*counts{}}
	}
	rows, err := st.pool.Query(ctx, windowSQL, routes, since, until)
	if err != nil {
		return nil, fmt.Errorf("read guard windows: %w", err)
	}
	defer rows.Close()
	var route, proc, side string
	for rows.Next() {
		c := &counts{}
		dst := []any{&route, &proc, &side, &c.requests, &c.failures, &c.normal, &c.client, &c.compared, &c.mismatched}
		for i := range c.hist {
			dst = append(dst, &c.hist[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("read guard windows: %w", err)
		}
		w := out[route]
		switch side {
		case "legacy":
			w.legacy[proc] = c
		case "new":
			w.new[proc] = c
		case "shadow":
			w.shadow.add(c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read guard windows: %w", err)
	}
	return out, nil
}

// baseline is legacy's last measured error rate of one procedure, or its
// p99 for the whole route (procedure "").
type baseline struct {
	requests, failures int64
	p99                time.Duration
	at                 time.Time
}

func (st *pgStore) baselines(ctx context.Context, routes []string) (map[string]map[string]baseline, error) {
	rows, err := st.pool.Query(ctx, `SELECT route, procedure, requests, failures, p99_ms, measured_at
		FROM strangler.guard_baselines WHERE route = ANY($1)`, routes)
	if err != nil {
		return nil, fmt.Errorf("read guard baselines: %w", err)
	}
	out := map[string]map[string]baseline{}
	var route, proc string
	var b baseline
	var p99ms float64
	_, err = pgx.ForEachRow(rows, []any{&route, &proc, &b.requests, &b.failures, &p99ms, &b.at}, func() error {
		b.p99 = time.Duration(p99ms * float64(time.Millisecond))
		if out[route] == nil {
			out[route] = map[string]baseline{}
		}
		out[route][proc] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read guard baselines: %w", err)
	}
	return out, nil
}

func (st *pgStore) saveBaseline(ctx context.Context, route, proc string, b baseline) error {
	_, err := st.pool.Exec(ctx, `
		INSERT INTO strangler.guard_baselines (route, procedure, requests, failures, p99_ms, measured_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (route, procedure) DO UPDATE SET requests = $3, failures = $4, p99_ms = $5, measured_at = $6`,
		route, proc, b.requests, b.failures, float64(b.p99)/float64(time.Millisecond), b.at)
	if err != nil {
		return fmt.Errorf("save guard baseline: %w", err)
	}
	return nil
}

// deleteBefore drops sample rows older than sec.
func (st *pgStore) deleteBefore(ctx context.Context, sec int64) error {
	if _, err := st.pool.Exec(ctx, `DELETE FROM strangler.guard_samples WHERE second < $1`, sec); err != nil {
		return fmt.Errorf("delete old guard samples: %w", err)
	}
	return nil
}
