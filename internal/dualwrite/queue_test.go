package dualwrite_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/nanopore/strangler/internal/dualwrite"
)

func TestQueuesListRetryDrop(t *testing.T) {
	db := dualwrite.MustTestDB(t, true)
	ctx := context.Background()
	agg := uuid.NewString()
	dualwrite.MustExec(t, db.Pool, `INSERT INTO samples.outbox (aggregate_id, tbl, row_id, op, attempts, dead_at, dead_reason)
VALUES ($1, 'nanopore_samples', $1, 'upsert', 20, now(), 'value too long'), ($1, 'nanopore_samples', $1, 'delete', 0, NULL, '')`, agg)
	intent := uuid.NewString()
	dualwrite.MustExec(t, db.Pool, `INSERT INTO strangler.dualwrite_intents (id, grp, procedures, ids, state, attempts, next_at, dead_at, last_error)
VALUES ($1, 'samples', '{nanopore.update}', ARRAY[$2], 'dead', 20, now(), now(), 'boom')`, intent, agg)

	all, err := dualwrite.ListQueues(ctx, db.Pool, dualwrite.Samples, dualwrite.QueueFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("list: %+v, %v", all, err)
	}
	dead, _ := dualwrite.ListQueues(ctx, db.Pool, dualwrite.Samples, dualwrite.QueueFilter{DeadOnly: true})
	if len(dead) != 2 || dead[0].Error != "value too long" || dead[1].Queue != dualwrite.QueueIntent || dead[1].Error != "boom" {
		t.Fatalf("dead rows: %+v", dead)
	}
	n, err := dualwrite.RetryQueues(ctx, db.Pool, dualwrite.Samples, nil, true, "test")
	if err != nil || n != 2 {
		t.Fatalf("retry --dead: %d, %v", n, err)
	}
	if dead, _ = dualwrite.ListQueues(ctx, db.Pool, dualwrite.Samples, dualwrite.QueueFilter{DeadOnly: true}); len(dead) != 0 {
		t.Fatalf("dead after retry: %+v", dead)
	}
	if _, err := dualwrite.DropQueues(ctx, db.Pool, dualwrite.Samples, []string{"nope"}, false, "x", "test"); err == nil {
		t.Fatal("a bad id was accepted")
	}
	n, err = dualwrite.DropQueues(ctx, db.Pool, dualwrite.Samples, []string{all[0].ID, intent}, false, "bad data", "test")
	if err != nil || n != 2 {
		t.Fatalf("drop: %d, %v", n, err)
	}
	if n := dualwrite.MustCount(t, db.Pool, `SELECT count(*) FROM strangler.dualwrite_audit WHERE action IN ('retry', 'drop')`); n != 4 {
		t.Fatalf("%d audit rows, want 4", n)
	}
}
