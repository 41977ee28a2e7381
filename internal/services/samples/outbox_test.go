package samples

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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

// secondaryCall runs one mutation through the Handler as the proxy's
// internal channel does: a context marked with dualwrite.WithSecondary.
func secondaryCall(tb testing.TB, svc *Service, createID, proc, body string) *httptest.ResponseRecorder {
	tb.Helper()
	ctx := dualwrite.WithSecondary(context.Background(), dualwrite.Secondary{CreateID: createID})
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/trpc/"+proc, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	return rec
}

// A secondary execution answers as the primary would, with legacy's id for
// a create, and leaves nothing behind: no row, no outbox row (the proxy's
// converge writes legacy's rows instead).
func TestSecondaryExecutionAnswersAndRollsBack(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, newClock(t0).Now)
	legacyID := uuid.NewString()
	rec := secondaryCall(t, svc, legacyID, "nanopore.create",
		`{"sampleName":"S","submitterName":"Jo","submitterEmail":"jo.update@lab.org","sampleType":"DNA","chartField":"HTSF-001"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"id":"`+legacyID+`"`) ||
		!strings.Contains(rec.Body.String(), `"submitter_email":"jo.update@lab.org"`) {
		t.Fatalf("secondary create: %d %s", rec.Code, rec.Body)
	}
	existing := MustCreate(t, svc, baseInput())["id"].(string)
	before := len(outboxRows(t, pool))
	steps := secondaryCall(t, svc, "", "nanopore.createDefaultProcessingSteps", `"`+existing+`"`)
	status := secondaryCall(t, svc, "", "nanopore.updateStatus", `{"id":"`+existing+`","status":"prep"}`)
	del := secondaryCall(t, svc, "", "nanopore.delete", `"`+existing+`"`)
	for _, r := range []*httptest.ResponseRecorder{steps, status, del} {
		if r.Code != http.StatusOK {
			t.Fatalf("secondary call: %d %s", r.Code, r.Body)
		}
	}
	if !strings.Contains(steps.Body.String(), `"step_name":"Data Delivery"`) || !strings.Contains(status.Body.String(), `"status":"prep"`) {
		t.Fatalf("secondary answers: %s / %s", steps.Body, status.Body)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM samples.nanopore_samples WHERE id = $1)
 + (SELECT count(*) FROM samples.nanopore_processing_steps)`, legacyID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("secondary executions left %d rows (%v)", n, err)
	}
	all := MustArray(t, streamBytes(t)(svc.GetAll(context.Background())))
	if len(all) != 1 || all[0]["id"] != existing || all[0]["status"] != "submitted" {
		t.Fatalf("after secondary updateStatus and delete: %v", all)
	}
	if rows := outboxRows(t, pool); len(rows) != before {
		t.Fatalf("secondary executions left outbox rows: %+v", rows[before:])
	}
}
