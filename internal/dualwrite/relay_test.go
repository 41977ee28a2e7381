package dualwrite_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/services/samples"
	"github.com/nanopore/strangler/internal/testutil"
)

// waitTimeout is the ceiling of a wait on a loaded machine.
const waitTimeout = 2 * time.Minute

// newService is the samples service on pool.
func newService(tb testing.TB, pool *pgxpool.Pool) *samples.Service {
	tb.Helper()
	svc, err := samples.New(samples.Options{Pool: pool})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// primaryWrites makes n samples through the service as the primary, then
// updates, assigns, gives steps to and deletes some of them; it returns the
// ids that still exist.
func primaryWrites(tb testing.TB, svc *samples.Service, n int) []string {
	tb.Helper()
	ctx := context.Background()
	var live []string
	for i := range n {
		b, err := svc.AppendCreate(ctx, nil, samples.CreateInput{SampleName: fmt.Sprintf("S%d", i), SubmitterName: "Jo",
			SubmitterEmail: "jo@lab.org", SampleType: "DNA", ChartField: "HTSF-001", Concentration: 1.25})
		if err != nil {
			tb.Fatal(err)
		}
		id := string(b[strings.Index(string(b), `"id":"`)+6:][:36])
		switch i % 5 {
		case 1:
			_, err = svc.AppendUpdateStatus(ctx, nil, samples.UpdateStatusInput{ID: id, Status: "prep"})
		case 2:
			_, err = svc.AppendAssign(ctx, nil, samples.AssignInput{ID: id, AssignedTo: "Al", LibraryPrepBy: "Bo"})
		case 3:
			var st *samples.Stream
			if st, err = svc.CreateDefaultProcessingSteps(ctx, id); err == nil {
				st.Close()
			}
		case 4:
			err = svc.Delete(ctx, id)
			id = ""
		}
		if err != nil {
			tb.Fatal(err)
		}
		if id != "" {
			live = append(live, id)
		}
	}
	return live
}

func newRelay(tb testing.TB, opts dualwrite.RelayOptions) *dualwrite.Relay {
	tb.Helper()
	if opts.Spec == nil {
		opts.Spec = dualwrite.Samples
	}
	r, err := dualwrite.NewRelay(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// runRelay runs r until the test ends.
func runRelay(tb testing.TB, r *dualwrite.Relay) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()
	tb.Cleanup(func() { cancel(); wg.Wait() })
}

func waitDrained(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	testutil.Eventually(tb, waitTimeout, "the outbox to drain", func() bool {
		lag, err := dualwrite.OutboxLag(context.Background(), pool, dualwrite.Samples)
		return err == nil && lag.Pending == 0
	})
}

// Three replicas running the relay on one database apply each outbox row
// once, and the legacy tables end equal to the samples schema.
func TestThreeRelaysApplyEachRowOnce(t *testing.T) {
	db := dualwrite.MustTestDB(t, true)
	svc := newService(t, db.Pool)
	for i := range 3 {
		pool := testutil.Pool(t, db.URL)
		runRelay(t, newRelay(t, dualwrite.RelayOptions{Stores: dualwrite.Stores{Legacy: pool, New: pool},
			Replica: fmt.Sprintf("r%d", i), Batch: 7, Poll: time.Millisecond}))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); primaryWrites(t, svc, 60) }()
	}
	wg.Wait()
	waitDrained(t, db.Pool)
	total := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM samples.outbox`)
	once := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM samples.outbox WHERE attempts = 1 AND applied_at IS NOT NULL`)
	replicas := dualwrite.MustCount(t, db.Pool, `SELECT count(DISTINCT applied_by) FROM samples.outbox`)
	if total == 0 || once != total {
		t.Fatalf("%d of %d outbox rows applied exactly once", once, total)
	}
	t.Logf("%d rows applied once each by %d replicas", total, replicas)
	if n := dualwrite.SymmetricDrift(t, db.Pool, dualwrite.Samples); n != 0 {
		t.Fatalf("drift after relay: %d rows", n)
	}
}

// Legacy refuses one sample (a column too short): its rows are retried and
// marked dead with the reason, while the other samples still flow.
func TestRelayRetriesThenMarksDead(t *testing.T) {
	db := dualwrite.MustTestDB(t, true)
	dualwrite.MustExec(t, db.Pool, `ALTER TABLE public.nanopore_samples ALTER COLUMN sample_name TYPE varchar(20)`)
	svc := newService(t, db.Pool)
	ctx := context.Background()
	for _, name := range []string{"ok one", strings.Repeat("x", 30), "ok two"} {
		if _, err := svc.AppendCreate(ctx, nil, samples.CreateInput{SampleName: name, SubmitterName: "Jo",
			SubmitterEmail: "jo@lab.org", SampleType: "DNA", ChartField: "HTSF-001"}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	r := newRelay(t, dualwrite.RelayOptions{Stores: dualwrite.Stores{Legacy: db.Pool, New: db.Pool}, Registerer: reg,
		Retry: dualwrite.Retry{Base: time.Millisecond, Max: time.Millisecond, MaxAttempts: 3}})
	testutil.Eventually(t, waitTimeout, "the bad row to die", func() bool {
		if _, err := r.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		return dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM samples.outbox WHERE dead_at IS NOT NULL`) == 1
	})
	var reason string
	var attempts int
	db.Pool.QueryRow(ctx, `SELECT dead_reason, attempts FROM samples.outbox WHERE dead_at IS NOT NULL`).Scan(&reason, &attempts)
	if !strings.Contains(reason, "value too long") || attempts != 3 {
		t.Fatalf("dead row: reason %q after %d attempts", reason, attempts)
	}
	if n := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM public.nanopore_samples`); n != 2 {
		t.Fatalf("legacy has %d samples, want the 2 good ones", n)
	}
	lag, _ := dualwrite.OutboxLag(ctx, db.Pool, dualwrite.Samples)
	if lag.Dead != 1 || lag.Pending != 0 {
		t.Fatalf("lag = %+v", lag)
	}
}

// The relay's role needs no superuser: GRANT SET ON PARAMETER
// session_replication_role (PostgreSQL 15) is enough, and without it the
// relay fails with PostgreSQL's permission error.
func TestRelayRoleNeedsOnlyTheGrant(t *testing.T) {
	db := dualwrite.MustTestDB(t, true)
	svc := newService(t, db.Pool)
	primaryWrites(t, svc, 5)
	role := fmt.Sprintf("relay_%d", time.Now().UnixNano())
	dualwrite.MustExec(t, db.Pool, `CREATE ROLE `+role+` LOGIN`)
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = db.Pool.Exec(context.Background(), `DROP ROLE `+role)
	})
	dualwrite.MustExec(t, db.Pool, `GRANT USAGE ON SCHEMA public, samples TO `+role+`;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, samples TO `+role)
	url := strings.Replace(db.URL, "postgres@", role+"@", 1)
	pool := testutil.Pool(t, url)
	r := newRelay(t, dualwrite.RelayOptions{Stores: dualwrite.Stores{Legacy: pool, New: pool}})
	_, err := r.Step(context.Background())
	if err == nil || !strings.Contains(err.Error(), "session_replication_role") {
		t.Fatalf("relay without the grant: %v, want a permission error on session_replication_role", err)
	}
	dualwrite.MustExec(t, db.Pool, `UPDATE samples.outbox SET next_at = now(), attempts = 0`)
	dualwrite.MustExec(t, db.Pool, `GRANT SET ON PARAMETER session_replication_role TO `+role)
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatalf("relay with the grant: %v", err)
	}
	if n := dualwrite.SymmetricDrift(t, db.Pool, dualwrite.Samples); n != 0 {
		t.Fatalf("drift: %d", n)
	}
}

// statementCounter counts the statements a pool sends, by first word.
type statementCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	word, _, _ := strings.Cut(strings.TrimSpace(d.SQL), " ")
	c.mu.Lock()
	c.n[strings.ToLower(word)]++
	c.mu.Unlock()
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) count(word string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[word]
}

// An idle relay polls with one statement, not a transaction (after the
// first, empty batch), and still applies a write as soon as one is due.
func TestIdleRelayProbesWithOneStatement(t *testing.T) {
	db := dualwrite.MustTestDB(t, true)
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	counter := &statementCounter{n: map[string]int{}}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	runRelay(t, newRelay(t, dualwrite.RelayOptions{Stores: dualwrite.Stores{Legacy: db.Pool, New: pool},
		Replica: "idle", Parallel: 1, Poll: 5 * time.Millisecond}))
	testutil.Eventually(t, waitTimeout, "20 idle polls", func() bool { return counter.count("select") >= 21 })
	if n := counter.count("begin"); n != 1 {
		t.Fatalf("%d transactions begun over %d idle polls, want only the first batch's", n, counter.count("select")-1)
	}
	svc := newService(t, db.Pool)
	primaryWrites(t, svc, 3)
	waitDrained(t, db.Pool)
	if n := dualwrite.SymmetricDrift(t, db.Pool, dualwrite.Samples); n != 0 {
		t.Fatalf("drift after the idle relay woke: %d rows", n)
	}
}
