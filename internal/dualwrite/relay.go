package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ModeFunc returns a write group's current mode: legacy, shadow, canary or
// new (the proxy answers from its in-memory routing state).
type ModeFunc func(group string) string

// Retry is a retry policy: attempt n waits Base*2^(n-1), at most Max, and
// the row is dead after MaxAttempts.
type Retry struct {
	Base, Max   time.Duration
	MaxAttempts int
}

func (r *Retry) fill() {
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Minute
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 20
	}
}

// delay is the wait before the attempt after the attempts-th, with a
// little jitter so that replicas do not retry in step.
func (r Retry) delay(attempts int) time.Duration {
	d := r.Base
	for i := 1; i < attempts && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// RelayOptions configure a Relay; zero fields take the defaults named.
type RelayOptions struct {
	Spec   *Spec
	Stores Stores
	// Mode tells the group's current mode (default: always new). Out of
	// new mode (after a rollback) the relay still drains, but overwrites
	// only legacy rows older than the new side's (see guard).
	Mode ModeFunc
	// Replica names this process in applied_by.
	Replica string
	// Batch is how many outbox rows one transaction claims (default 100).
	Batch int
	// Parallel is how many batches this replica applies at once (default
	// 2).
	Parallel int
	// Poll is the wait between two empty polls (default 100ms).
	Poll time.Duration
	// Retry is the policy of failed rows (default 1s doubling to 5m, dead
	// after 20 attempts).
	Retry Retry
	// Retention keeps applied rows this long before deleting them
	// (default 1h).
	Retention time.Duration
	// Registerer receives the metrics (default: a private registry).
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
}

// Relay applies a service's outbox to the legacy tables: it claims pending
// rows with FOR UPDATE SKIP LOCKED (so several replicas never take the same
// row), copies each changed aggregate's CURRENT state from the new store
// into legacy exactly (keys, every column, updated_at; deleting what the
// new store deleted, child rows first), and marks the rows applied in the
// same transaction that claimed them. With both stores in one database the
// copy commits in that transaction too, so each row applies exactly once;
// across two databases a replica killed between the two commits leaves the
// row to be applied again, which rewrites the same state (idempotent).
type Relay struct {
	opts RelayOptions
	c    *copier
	m    *metrics
	log  zerolog.Logger

	dueSQL, claimSQL, doneSQL, failSQL string
}

// NewRelay returns a Relay; Run drives it.
func NewRelay(opts RelayOptions) (*Relay, error) {
	if err := opts.Spec.Validate(); err != nil {
		return nil, err
	}
	if opts.Stores.New == nil || opts.Stores.Legacy == nil {
		return nil, errors.New("dualwrite: relay needs both stores")
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Retention <= 0 {
		opts.Retention = time.Hour
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	opts.Retry.fill()
	ob := qualified(opts.Spec.NewSchema, opts.Spec.Outbox)
	return &Relay{
		opts: opts, c: newCopier(opts.Spec, opts.Stores), m: newMetrics(opts.Registerer),
		log: opts.Logger.With().Str("component", "relay").Str("group", opts.Spec.Group).Logger(),
		dueSQL: `SELECT EXISTS (SELECT 1 FROM ` + ob + `
WHERE applied_at IS NULL AND dead_at IS NULL AND next_at <= now())`,
		claimSQL: `SELECT id, aggregate_id::text, created_at FROM ` + ob + `
WHERE applied_at IS NULL AND dead_at IS NULL AND next_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
		doneSQL: `UPDATE ` + ob + ` SET applied_at = now(), applied_by = $2, attempts = attempts + 1 WHERE id = ANY($1)`,
		failSQL: `UPDATE ` + ob + ` SET attempts = attempts + 1, last_error = $2,
 next_at = now() + least($3 * power(2, attempts), $5) * (1 + random() / 5) * interval '1 millisecond',
 dead_at = CASE WHEN attempts + 1 >= $4 THEN now() END,
 dead_reason = CASE WHEN attempts + 1 >= $4 THEN $2 ELSE '' END
WHERE id = ANY($1) RETURNING dead_at IS NOT NULL`,
	}, nil
}

// Run relays until ctx ends with Parallel loops, each a batch at a time
// while rows are due and, when idle, one probe (a single statement) every
// Poll (they never take the same row: SKIP LOCKED). It also refreshes the
// lag metrics every second and deletes applied rows past the retention
// every minute.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range r.opts.Parallel {
		wg.Go(func() { r.applyLoop(ctx) })
	}
	defer wg.Wait()
	stats := time.NewTicker(time.Second)
	clean := time.NewTicker(time.Minute)
	defer stats.Stop()
	defer clean.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stats.C:
			r.refreshStats(ctx)
		case <-clean.C:
			r.cleanup(ctx)
		}
	}
}

// applyLoop applies batches until ctx ends.
func (r *Relay) applyLoop(ctx context.Context) {
	poll := time.NewTimer(0)
	defer poll.Stop()
	failing := false
	idle := false // the last batch was empty: probe before opening a transaction
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		if idle && !r.due(ctx) {
			poll.Reset(r.opts.Poll)
			continue
		}
		n, err := r.safeStep(ctx)
		idle = err == nil && n == 0
		if (err != nil) != failing && ctx.Err() == nil {
			failing = err != nil
			r.log.Warn().Err(err).Bool("failing", failing).Msg("relay")
		}
		wait := r.opts.Poll
		if err == nil && n == r.opts.Batch {
			wait = 0 // more rows are due
		}
		poll.Reset(wait)
	}
}

// due says whether a row may be ready to claim: one autocommit statement on
// the pending index, so that an idle outbox costs each loop one round trip
// per poll instead of a transaction of three (BEGIN, claim, COMMIT). On an
// error it says yes, and Step reports the error.
func (r *Relay) due(ctx context.Context) bool {
	var due bool
	if err := r.opts.Stores.New.QueryRow(ctx, r.dueSQL).Scan(&due); err != nil {
		return true
	}
	return due
}

// safeStep is Step with a panic turned into an error: the loop survives a
// bug in one batch.
func (r *Relay) safeStep(ctx context.Context) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("relay panic: %v", v)
		}
	}()
	return r.Step(ctx)
}

// Drain applies batches until no row is due, and returns how many rows it
// handled (applied or failed).
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := r.Step(ctx)
		total += n
		if err != nil || n < r.opts.Batch {
			return total, err
		}
	}
}

// claimed is one outbox row a batch holds.
type claimed struct {
	id      int64
	agg     string
	created time.Time
}

// Step claims one batch of due rows and applies it; it returns how many
// rows it claimed.
func (r *Relay) Step(ctx context.Context) (int, error) {
	var n int
	var failed map[string]error
	var rows []claimed
	err := pgx.BeginFunc(ctx, r.opts.Stores.New, func(tx pgx.Tx) error {
		var err error
		if rows, err = r.claim(ctx, tx); err != nil || len(rows) == 0 {
			return err
		}
		n = len(rows)
		if failed, err = r.apply(ctx, tx, rows); err != nil {
			return err
		}
		return r.markDone(ctx, tx, rows, failed)
	})
	if err != nil {
		if len(rows) > 0 {
			r.markFailed(ctx, rows, err)
		}
		return n, err
	}
	r.m.relayed.WithLabelValues(r.opts.Spec.Group, "applied").Add(float64(n - countFailed(rows, failed)))
	if len(failed) > 0 {
		r.recordFailures(ctx, rows, failed)
	}
	return n, nil
}

func (r *Relay) claim(ctx context.Context, tx pgx.Tx) ([]claimed, error) {
	rows, err := tx.Query(ctx, r.claimSQL, r.opts.Batch)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	var out []claimed
	var c claimed
	_, err = pgx.ForEachRow(rows, []any{&c.id, &c.agg, &c.created}, func() error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return out, nil
}

// apply copies the claimed rows' aggregates to legacy. In new mode the
// copy is plain; out of it (rows left over after a rollback) each
// aggregate is copied on its own with the guard, since legacy may already
// hold newer writes.
func (r *Relay) apply(ctx context.Context, tx pgx.Tx, rows []claimed) (map[string]error, error) {
	byAgg := map[string]time.Time{}
	for _, c := range rows {
		if byAgg[c.agg].Before(c.created) {
			byAgg[c.agg] = c.created
		}
	}
	ids := make([]string, 0, len(byAgg))
	for id := range byAgg {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if r.opts.Mode == nil || r.opts.Mode(r.opts.Spec.Group) == "new" {
		return r.c.sync(ctx, tx, SideLegacy, ids, guard{})
	}
	if err := r.c.lock(ctx, tx, ids); err != nil {
		return nil, err
	}
	failed := map[string]error{}
	for _, id := range ids {
		f, err := r.c.sync(ctx, tx, SideLegacy, []string{id}, guard{on: true, since: byAgg[id]})
		if err != nil {
			return nil, err
		}
		for k, v := range f {
			failed[k] = v
		}
	}
	return failed, nil
}

// markDone stamps the rows whose aggregate was copied.
func (r *Relay) markDone(ctx context.Context, tx pgx.Tx, rows []claimed, failed map[string]error) error {
	var ids []int64
	for _, c := range rows {
		if failed[c.agg] == nil {
			ids = append(ids, c.id)
		}
	}
	if _, err := tx.Exec(ctx, r.doneSQL, ids, r.opts.Replica); err != nil {
		return fmt.Errorf("mark outbox rows applied: %w", err)
	}
	return nil
}

func countFailed(rows []claimed, failed map[string]error) int {
	n := 0
	for _, c := range rows {
		if failed[c.agg] != nil {
			n++
		}
	}
	return n
}

// recordFailures records the error of each aggregate that failed alone.
func (r *Relay) recordFailures(ctx context.Context, rows []claimed, failed map[string]error) {
	for agg, err := range failed {
		var batch []claimed
		for _, c := range rows {
			if c.agg == agg {
				batch = append(batch, c)
			}
		}
		r.markFailed(ctx, batch, err)
	}
}

// markFailed schedules rows for a retry, or marks them dead after the
// last attempt. It runs in its own transaction: the batch's was rolled back.
func (r *Relay) markFailed(ctx context.Context, rows []claimed, cause error) {
	ids := make([]int64, len(rows))
	for i, c := range rows {
		ids[i] = c.id
	}
	p := r.opts.Retry
	dbRows, err := r.opts.Stores.New.Query(ctx, r.failSQL, ids, cause.Error(), p.Base.Milliseconds(), p.MaxAttempts, p.Max.Milliseconds())
	if err != nil {
		r.log.Warn().Err(err).Msg("record relay failure")
		return
	}
	var dead bool
	_, err = pgx.ForEachRow(dbRows, []any{&dead}, func() error {
		outcome := "retry"
		if dead {
			outcome = "dead"
		}
		r.m.relayed.WithLabelValues(r.opts.Spec.Group, outcome).Inc()
		return nil
	})
	if err != nil {
		r.log.Warn().Err(err).Msg("record relay failure")
	}
	r.log.Warn().Err(cause).Int("rows", len(rows)).Msg("outbox rows not applied; retrying")
}

// refreshStats sets the lag, pending and dead gauges.
func (r *Relay) refreshStats(ctx context.Context) {
	lag, err := OutboxLag(ctx, r.opts.Stores.New, r.opts.Spec)
	if err != nil {
		return
	}
	g := r.opts.Spec.Group
	r.m.lag.WithLabelValues(g).Set(lag.Seconds)
	r.m.pending.WithLabelValues(g).Set(float64(lag.Pending))
	r.m.dead.WithLabelValues(g).Set(float64(lag.Dead))
}

func (r *Relay) cleanup(ctx context.Context) {
	ob := qualified(r.opts.Spec.NewSchema, r.opts.Spec.Outbox)
	_, err := r.opts.Stores.New.Exec(ctx, `DELETE FROM `+ob+` WHERE applied_at < now() - $1 * interval '1 second'`,
		r.opts.Retention.Seconds())
	if err != nil && ctx.Err() == nil {
		r.log.Warn().Err(err).Msg("delete applied outbox rows")
	}
}

// Lag describes a relay's backlog at one moment.
type Lag struct {
	// Pending rows wait for the relay; Dead ones were given up.
	Pending, Dead int
	// Oldest is the creation time of the oldest pending row (zero: none).
	Oldest time.Time `json:",omitzero"`
	// Seconds is the age of the oldest pending row (0: none).
	Seconds float64
}

// OutboxLag reads a write group's relay backlog.
func OutboxLag(ctx context.Context, q querier, spec *Spec) (Lag, error) {
	ob := qualified(spec.NewSchema, spec.Outbox)
	rows, err := q.Query(ctx, `SELECT count(*) FILTER (WHERE dead_at IS NULL), count(*) FILTER (WHERE dead_at IS NOT NULL),
 min(created_at) FILTER (WHERE dead_at IS NULL), coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE dead_at IS NULL)), 0)
FROM `+ob+` WHERE applied_at IS NULL`)
	if err != nil {
		return Lag{}, fmt.Errorf("read outbox lag: %w", err)
	}
	var l Lag
	var oldest *time.Time
	_, err = pgx.ForEachRow(rows, []any{&l.Pending, &l.Dead, &oldest, &l.Seconds}, func() error { return nil })
	if err != nil {
		return Lag{}, fmt.Errorf("read outbox lag: %w", err)
	}
	if oldest != nil {
		l.Oldest = *oldest
	}
	return l, nil
}
