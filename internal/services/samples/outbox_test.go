package samples

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/dualwrite"
)

// outboxRow is one row of samples.outbox.
type outboxRow struct {
	Aggregate, Table, Row, Op string
}

func outboxRows(tb testing.TB, pool *pgxpool.Pool) []outboxRow {
	tb.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT aggregate_id::text, tbl, row_id::text, op FROM samples.outbox ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[outboxRow])
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// As the primary, every write commits one outbox row per row it wrote, in
// the same statement; the row names the sample (the aggregate) to relay.
func TestPrimaryWritesOutboxRows(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, newClock(t0).Now)
	ctx := context.Background()
	id := MustCreate(t, svc, baseInput())["id"].(string)
	update(t, svc, id, UpdateData{Priority: ptr("high")})
	if _, err := svc.AppendAssign(ctx, nil, AssignInput{ID: id, AssignedTo: "Al"}); err != nil {
		t.Fatal(err)
	}
	steps := MustArray(t, streamBytes(t)(svc.CreateDefaultProcessingSteps(ctx, id)))
	if _, err := svc.AppendStartProcessingStep(ctx, nil, StartStepInput{StepID: steps[0]["id"].(string)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	// A failed write (unknown id) writes nothing.
	if err := svc.Delete(ctx, id); err == nil {
		t.Fatal("second delete succeeded")
	}
	got := outboxRows(t, pool)
	want := []string{"nanopore_samples upsert", "nanopore_samples upsert", "nanopore_samples upsert"}
	for range 8 {
		want = append(want, "nanopore_processing_steps upsert")
	}
	want = append(want, "nanopore_processing_steps upsert", "nanopore_samples delete")
	if len(got) != len(want) {
		t.Fatalf("%d outbox rows, want %d: %+v", len(got), len(want), got)
	}
	for i, r := range got {
		if r.Table+" "+r.Op != want[i] || r.Aggregate != id {
			t.Errorf("row %d = %+v, want %s of aggregate %s", i, r, want[i], id)
		}
	}
}

// A secondary execution writes no outbox row (legacy already holds the
// change) and a create takes legacy's id.
func TestSecondaryWritesNoOutboxRowAndKeepsLegacyID(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, newClock(t0).Now)
	legacyID := uuid.NewString()
	ctx := dualwrite.WithSecondary(context.Background(), dualwrite.Secondary{CreateID: legacyID})
	b, err := svc.AppendCreate(ctx, nil, baseInput())
	if err != nil {
		t.Fatal(err)
	}
	if got := MustObject(t, b)["id"]; got != legacyID {
		t.Fatalf("id = %v, want legacy's %s", got, legacyID)
	}
	if _, err := svc.AppendUpdateStatus(ctx, nil, UpdateStatusInput{ID: legacyID, Status: "prep"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, legacyID); err != nil {
		t.Fatal(err)
	}
	if rows := outboxRows(t, pool); len(rows) != 0 {
		t.Fatalf("secondary writes left outbox rows: %+v", rows)
	}
}
