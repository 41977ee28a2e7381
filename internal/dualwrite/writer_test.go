package dualwrite_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// Values legacy changes on the way (the e-mail mangling) and a batch that
// touches one sample three times, entries run concurrently by legacy, end
// with both stores equal; the secondary executions are compared, and the
// e-mail difference shows in the comparison.
func TestShadowConvergesWhatLegacyStored(t *testing.T) {
	db := dualwrite.MustTestDB(t, false)
	r := newRig(t, db.URL, db.Pool, rigOptions{})
	id := r.create("Mangled", "jo.update@lab.org")
	r.waitSettled()
	if got := field(t, db.Pool, "samples", "submitter_email", id); got != "jo.@lab.org" {
		t.Fatalf("new store e-mail %q, want legacy's mangled jo.@lab.org", got)
	}
	status, b := r.call(jsonBody(
		`{"id":"`+id+`","assignedTo":"Al Smith","libraryPrepBy":"Bo Lee"}`,
		`{"id":"`+id+`","status":"prep"}`,
		`{"id":"`+id+`","data":{"priority":"urgent","submitterEmail":"x.select@lab.org"}}`),
		"nanopore.assign", "nanopore.updateStatus", "nanopore.update")
	if status != http.StatusOK {
		t.Fatalf("batch: %d %s", status, b)
	}
	r.waitSettled()
	r.wantNoDrift()
	var sawEmail bool
	for _, c := range r.compared() {
		if c.Procedure == "nanopore.create" && bytes.Contains(c.New.Body, []byte("jo.update@lab.org")) &&
			bytes.Contains(c.Legacy.Body, []byte(`"jo.@lab.org"`)) {
			sawEmail = true
		}
	}
	if len(r.compared()) != 4 || !sawEmail {
		t.Fatalf("comparisons: %d (want 4), e-mail difference seen: %v", len(r.compared()), sawEmail)
	}
	if n := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM samples.outbox`); n != 0 {
		t.Fatalf("secondary executions wrote %d outbox rows", n)
	}
}

// A write legacy refuses changes nothing on the new side and is never
// replayed; deleting a sample the new store never had is a no-op.
func TestLegacyFailureAppliesNothing(t *testing.T) {
	db := dualwrite.MustTestDB(t, false)
	r := newRig(t, db.URL, db.Pool, rigOptions{})
	r.mode.Store("legacy") // converge only
	orphan := r.create("Only legacy", "a@lab.org")
	r.waitSettled()
	dualwrite.MustExec(t, db.Pool, `DELETE FROM samples.nanopore_samples WHERE id = $1`, orphan)
	r.mode.Store("shadow")
	status, _ := r.call(`{"id":"00000000-0000-4000-8000-000000000000","data":{"priority":"high"}}`, "nanopore.update")
	if status != http.StatusInternalServerError {
		t.Fatalf("update of an unknown id: %d, want legacy's 500", status)
	}
	status, _ = r.call(`"`+orphan+`"`, "nanopore.delete")
	if status != http.StatusOK {
		t.Fatalf("delete: %d", status)
	}
	r.waitSettled()
	r.wantNoDrift()
	if n := counter(r.reg, "strangler_dualwrite_secondary_total", "nanopore.update"); n != 0 {
		t.Fatalf("a refused update was replayed %v times", n)
	}
}

// A proxy that dies after legacy answered (or before it sent the request)
// leaves stored intents; another replica takes them over when their lease
// ends: the known ids are converged, and a create whose answer was lost is
// found by the sweep.
func TestRecoveryAfterTheProxyDied(t *testing.T) {
	db := dualwrite.MustTestDB(t, false)
	dead := newRig(t, db.URL, db.Pool, rigOptions{noRun: true, opts: dualwrite.Options{Lease: time.Second}})
	id := dead.create("Before", "a@lab.org") // job queued, never run: the "killed" proxy
	// Writes that reach legacy but whose jobs are lost with the process.
	dead.call(`{"id":"`+id+`","status":"completed"}`, "nanopore.updateStatus")
	dead.call(createInput("Lost answer", "b@lab.org"), "nanopore.create")
	if n := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM strangler.dualwrite_intents`); n != 3 {
		t.Fatalf("%d intents stored before legacy answered, want 3", n)
	}
	if n := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM samples.nanopore_samples`); n != 0 {
		t.Fatalf("the dead proxy converged %d samples", n)
	}
	// A second replica, with the same database, recovers them.
	next, err := dualwrite.NewWriter(dualwrite.Options{Stores: dead.stores, Poll: 50 * time.Millisecond, Lease: time.Second,
		Retry: dualwrite.Retry{Base: 100 * time.Millisecond, Max: time.Second}, NoRelay: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); next.Run(context.Background()) }()
	defer func() { next.Close(); <-done }()
	testutil.Eventually(t, waitTimeout, "the recovery", func() bool {
		return dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM strangler.dualwrite_intents`) == 0
	})
	dead.wantNoDrift()
	if n := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM samples.nanopore_samples`); n != 2 {
		t.Fatalf("new store has %d samples after recovery, want 2", n)
	}
}

// The new side down for 30 seconds during shadow: its database (the
// coordination database, which also holds the intents) is stopped while
// users keep writing through legacy. No user sees an error; the intents
// wait in memory, are stored and converged once it is back, and both
// stores end equal.
func TestNewSideDownThirtySeconds(t *testing.T) {
	cluster := testutil.StartCluster(t)
	newURL := cluster.CreateDB("coord")
	newPool := testutil.Pool(t, newURL)
	migrate(t, newPool)
	legacyURL := testutil.CreateDB(t)
	r := newRig(t, newURL, newPool, rigOptions{legacyURL: legacyURL,
		opts: dualwrite.Options{StoreTimeout: 200 * time.Millisecond}})
	var ids []string
	for i := range 5 {
		ids = append(ids, r.create(fmt.Sprintf("Before %d", i), "a@lab.org"))
	}
	r.waitSettled()

	cluster.Stop()
	down := time.Now()
	var errs []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(down) < 30*time.Second; i++ {
				status, b := writeOne(r, ids, c, i)
				if status != http.StatusOK {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%d %s", status, b))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d users saw errors while the new side was down, first: %s", len(errs), errs[0])
	}
	if n := gauge(r.reg, "strangler_dualwrite_intents", "memory"); n == 0 {
		t.Fatal("no intent waited in memory: was the database really down?")
	}
	cluster.Start()
	r.waitSettled()
	r.wantNoDrift()
	t.Logf("writes during the outage: %.0f intents kept in memory", counter(r.reg, "strangler_dualwrite_skipped_total", "not_recorded"))
}

// writeOne is one user write: a create, or a change of a known sample.
func writeOne(r *rig, ids []string, c, i int) (int, []byte) {
	id := ids[(c+i)%len(ids)]
	switch i % 4 {
	case 0:
		return r.call(createInput(fmt.Sprintf("During %d-%d", c, i), "c.drop@lab.org"), "nanopore.create")
	case 1:
		return r.call(`{"id":"`+id+`","status":"prep"}`, "nanopore.updateStatus")
	case 2:
		return r.call(`{"id":"`+id+`","assignedTo":"Al Smith"}`, "nanopore.assign")
	}
	return r.call(`{"id":"`+id+`","data":{"volume":`+fmt.Sprint(i%9+1)+`}}`, "nanopore.update")
}

// A job that does not fit the queue is left to the retry loop: its intent
// is stored, so it converges once its lease ends.
func TestQueueFullLeavesTheJobToTheRetryLoop(t *testing.T) {
	db := dualwrite.MustTestDB(t, false)
	r := newRig(t, db.URL, db.Pool, rigOptions{noRun: true, opts: dualwrite.Options{Queue: 1, Lease: 500 * time.Millisecond}})
	for i := range 3 {
		r.create(fmt.Sprintf("Q%d", i), "q@lab.org")
	}
	if n := counter(r.reg, "strangler_dualwrite_skipped_total", "queue_full"); n != 2 {
		t.Fatalf("queue_full = %v, want 2", n)
	}
	r.run()
	r.waitSettled()
	r.wantNoDrift()
}

// migrate applies the embedded migrations.
func migrate(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		tb.Fatal(err)
	}
}
