package samples

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/trpc"
)

// update is AppendUpdate decoded.
func update(tb testing.TB, svc *Service, id any, d UpdateData) map[string]any {
	tb.Helper()
	b, err := svc.AppendUpdate(context.Background(), nil, UpdateInput{ID: id.(string), Data: d})
	if err != nil {
		tb.Fatalf("update: %v", err)
	}
	return MustObject(tb, b)
}

func updateStatus(tb testing.TB, svc *Service, id any, status string) map[string]any {
	tb.Helper()
	b, err := svc.AppendUpdateStatus(context.Background(), nil, UpdateStatusInput{ID: id.(string), Status: status})
	if err != nil {
		tb.Fatalf("updateStatus %s: %v", status, err)
	}
	return MustObject(tb, b)
}

func TestUpdateWritesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, newClock(t0).Now)
	in := baseInput()
	in.Concentration, in.Volume, in.TotalAmount, in.SampleBuffer = 5, 2, 10, "TE"
	before := MustCreate(t, svc, in)
	after := update(t, svc, before["id"], UpdateData{
		SampleName:    ptr("Renamed"),
		Concentration: Number{Set: true, Null: true},
		Volume:        Number{Set: true, Value: 3.456},
		FlowCellCount: ptr(4),
		SampleBuffer:  ptr(""), // update stores "" as given; only create turns it into null
	})
	want := map[string]any{"sample_name": "Renamed", "concentration": nil, "volume": "3.46",
		"flow_cell_count": json.Number("4"), "sample_buffer": ""}
	for k, v := range after {
		w, changed := want[k]
		switch {
		case k == "updated_at":
		case changed && v != w:
			t.Errorf("%s = %v, want %v", k, v, w)
		case !changed && v != before[k]:
			t.Errorf("%s changed from %v to %v", k, before[k], v)
		}
	}
	if after["updated_at"].(string) <= before["updated_at"].(string) {
		t.Errorf("updated_at %v not after %v", after["updated_at"], before["updated_at"])
	}
}

func TestUpdateEmptyDataBumpsUpdatedAt(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, newClock(t0).Now)
	before := MustCreate(t, svc, baseInput())
	after := update(t, svc, before["id"], UpdateData{})
	for k, v := range after {
		if k != "updated_at" && v != before[k] {
			t.Errorf("%s changed from %v to %v", k, before[k], v)
		}
	}
	// updated_at comes from the trigger's now(), not the app clock (t0).
	got, err := time.Parse(time.RFC3339, after["updated_at"].(string))
	if err != nil || !got.After(t0.Add(time.Hour)) {
		t.Errorf("updated_at %v should be the database's now(), not the app clock", after["updated_at"])
	}
}

func TestStatusSideTimestamps(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	svc, _ := MustService(t, clk.Now)
	s := MustCreate(t, svc, baseInput())
	id := s["id"]
	at := func(d time.Duration) string { clk.Set(t0.Add(d)); return FormatTime(t0.Add(d)) }

	t1 := at(time.Second)
	got := updateStatus(t, svc, id, "prep")
	if got["started_at"] != t1 || got["completed_at"] != nil {
		t.Fatalf("prep: started %v completed %v, want %s and null", got["started_at"], got["completed_at"], t1)
	}
	t2 := at(2 * time.Second)
	got = updateStatus(t, svc, id, "prep") // prep -> prep stamps again
	if got["started_at"] != t2 {
		t.Errorf("prep again: started %v, want %s", got["started_at"], t2)
	}
	t3 := at(3 * time.Second)
	got = updateStatus(t, svc, id, "completed")
	if got["started_at"] != t2 || got["completed_at"] != t3 {
		t.Errorf("completed: started %v completed %v, want %s %s", got["started_at"], got["completed_at"], t2, t3)
	}
	t4 := at(4 * time.Second)
	got = update(t, svc, id, UpdateData{Status: ptr("prep")}) // update's status has the same effects
	if got["status"] != "prep" || got["started_at"] != t4 || got["completed_at"] != t3 {
		t.Errorf("completed -> prep: %v %v %v; nothing is ever cleared", got["status"], got["started_at"], got["completed_at"])
	}
	for _, st := range []string{"archived", "submitted", "completed", "sequencing"} { // not enforced
		if got = updateStatus(t, svc, id, st); got["status"] != st {
			t.Errorf("status %v, want %s", got["status"], st)
		}
	}
}

func TestAssignAlwaysOverwritesLibraryPrepBy(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	id := MustCreate(t, svc, baseInput())["id"].(string)
	ctx := context.Background()
	b, err := svc.AppendAssign(ctx, nil, AssignInput{ID: id, AssignedTo: "Grey", LibraryPrepBy: "Jenny"})
	if err != nil {
		t.Fatal(err)
	}
	if got := MustObject(t, b); got["assigned_to"] != "Grey" || got["library_prep_by"] != "Jenny" {
		t.Errorf("assign: %v %v", got["assigned_to"], got["library_prep_by"])
	}
	b, err = svc.AppendAssign(ctx, nil, AssignInput{ID: id, AssignedTo: "Stephanie"})
	if err != nil {
		t.Fatal(err)
	}
	if got := MustObject(t, b); got["assigned_to"] != "Stephanie" || got["library_prep_by"] != nil {
		t.Errorf("assign without libraryPrepBy: %v %v, want Stephanie and null", got["assigned_to"], got["library_prep_by"])
	}
}

func TestUnknownSampleErrors(t *testing.T) {
	t.Parallel()
	svc, _ := MustService(t, nil)
	ctx := context.Background()
	missing := "00000000-0000-4000-8000-000000000000"
	_, err := svc.AppendUpdate(ctx, nil, UpdateInput{ID: missing, Data: UpdateData{SampleName: ptr("x")}})
	wantError(t, err, trpc.InternalServerError, "Sample not found")
	_, err = svc.AppendAssign(ctx, nil, AssignInput{ID: missing, AssignedTo: "Grey"})
	wantError(t, err, trpc.InternalServerError, "Sample not found")
	_, err = svc.AppendUpdateStatus(ctx, nil, UpdateStatusInput{ID: missing, Status: "prep"})
	wantError(t, err, trpc.InternalServerError, "Sample not found")
	err = svc.Delete(ctx, "00000000-0000-0000-0000-000000000000")
	wantError(t, err, trpc.NotFound, "Sample with ID '00000000-0000-0000-0000-000000000000' not found")
	err = svc.Delete(ctx, "ABCDEF00-0000-4000-8000-000000000000")
	wantError(t, err, trpc.NotFound, "Sample with ID 'ABCDEF00-0000-4000-8000-000000000000' not found")
	_, err = svc.AppendUpdate(ctx, nil, UpdateInput{ID: "not-a-uuid"})
	wantError(t, err, trpc.BadRequest, "Invalid ID format")
}

func TestDeleteCascades(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, nil)
	ctx := context.Background()
	id := MustCreate(t, svc, baseInput())["id"].(string)
	keep := MustCreate(t, svc, baseInput())["id"].(string)
	streamBytes(t)(svc.CreateDefaultProcessingSteps(ctx, id))
	streamBytes(t)(svc.CreateDefaultProcessingSteps(ctx, keep))
	for _, q := range []string{
		`INSERT INTO samples.nanopore_sample_details (sample_id, organism) VALUES ($1, 'E. coli')`,
		`INSERT INTO samples.nanopore_attachments (sample_id, file_name) VALUES ($1, 'form.pdf')`,
	} {
		if _, err := pool.Exec(ctx, q, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Delete(ctx, upperID(id)); err != nil { // the id as a client may send it
		t.Fatal(err)
	}
	var n int
	err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM samples.nanopore_samples WHERE id = $1) +
		(SELECT count(*) FROM samples.nanopore_processing_steps WHERE sample_id = $1) +
		(SELECT count(*) FROM samples.nanopore_sample_details WHERE sample_id = $1) +
		(SELECT count(*) FROM samples.nanopore_attachments WHERE sample_id = $1)`, id).Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("%d rows of the deleted sample remain (%v)", n, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM samples.nanopore_processing_steps WHERE sample_id = $1`, keep).Scan(&n); err != nil || n != 8 {
		t.Errorf("the other sample has %d steps, want 8 (%v)", n, err)
	}
	wantError(t, svc.Delete(ctx, id), trpc.NotFound, "Sample with ID '"+id+"' not found")
}

func TestGetAllIsFreshAndOrdered(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	svc, _ := MustService(t, clk.Now)
	ctx := context.Background()
	if got := streamBytes(t)(svc.GetAll(ctx)); string(got) != "[]" {
		t.Errorf("empty getAll = %s, want []", got)
	}
	var ids []string
	for i := range 3 {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		ids = append(ids, MustCreate(t, svc, baseInput())["id"].(string))
	}
	all := MustArray(t, streamBytes(t)(svc.GetAll(ctx)))
	if len(all) != 3 || all[0]["id"] != ids[2] || all[1]["id"] != ids[1] || all[2]["id"] != ids[0] {
		t.Fatalf("getAll order wrong: %v", all)
	}
	updateStatus(t, svc, ids[1], "prep")
	if err := svc.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	all = MustArray(t, streamBytes(t)(svc.GetAll(ctx)))
	if len(all) != 2 || all[1]["status"] != "prep" {
		t.Errorf("getAll is not fresh after update and delete: %v", all)
	}
}
