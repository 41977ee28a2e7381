package samples

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// fieldWriters each own one field of a shared sample and write it
// updatesPerWriter times; the last value must survive everything else that
// happens to that row at the same time.
var fieldWriters = []struct {
	column string
	set    func(d *UpdateData, v int)
	want   string
}{
	{"sample_name", func(d *UpdateData, v int) { d.SampleName = ptr(fmt.Sprint("name ", v)) }, "name 5"},
	{"project_id", func(d *UpdateData, v int) { d.ProjectID = ptr(fmt.Sprint("P-", v)) }, "P-5"},
	{"submitter_name", func(d *UpdateData, v int) { d.SubmitterName = ptr(fmt.Sprint("Sub ", v)) }, "Sub 5"},
	{"submitter_email", func(d *UpdateData, v int) { d.SubmitterEmail = ptr(fmt.Sprint("s", v, "@lab.org")) }, "s5@lab.org"},
	{"lab_name", func(d *UpdateData, v int) { d.LabName = ptr(fmt.Sprint("Lab ", v)) }, "Lab 5"},
	{"sample_buffer", func(d *UpdateData, v int) { d.SampleBuffer = ptr(fmt.Sprint("TE ", v)) }, "TE 5"},
	{"concentration::text", func(d *UpdateData, v int) { d.Concentration = Number{Set: true, Value: float64(v)} }, "5.000"},
	{"volume::text", func(d *UpdateData, v int) { d.Volume = Number{Set: true, Value: float64(v)} }, "5.00"},
	{"flow_cell_count::text", func(d *UpdateData, v int) { d.FlowCellCount = ptr(v) }, "5"},
	{"priority", func(d *UpdateData, v int) { d.Priority = ptr([]string{"low", "normal", "high", "urgent"}[v%4]) }, "normal"},
}

const (
	clients          = 50
	ownSamples       = 4
	updatesPerWriter = 5
)

// TestConcurrentClientsLoseNoUpdate runs 50 clients at once: each creates,
// updates, assigns, moves and deletes samples of its own, while ten of them
// also write one field each of a shared sample and the others churn that
// sample's status. No call may fail, no write may be lost, and the tables
// must end consistent.
func TestConcurrentClientsLoseNoUpdate(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, nil)
	ctx := context.Background()
	shared := MustCreate(t, svc, baseInput())["id"].(string)

	start := make(chan struct{})
	errs := make(chan error, clients)
	kept := make([][]string, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			kept[c], err = runClient(ctx, svc, c, shared)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkOwnSamples(t, svc, kept)
	for _, w := range fieldWriters {
		var got string
		if err := pool.QueryRow(ctx, `SELECT `+w.column+` FROM samples.nanopore_samples WHERE id = $1`, shared).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != w.want {
			t.Errorf("shared %s = %q, want %q: an update was lost", w.column, got, w.want)
		}
	}
	var samples, steps, orphans int
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM samples.nanopore_samples),
		(SELECT count(*) FROM samples.nanopore_processing_steps),
		(SELECT count(*) FROM samples.nanopore_processing_steps p
		 WHERE NOT EXISTS (SELECT 1 FROM samples.nanopore_samples s WHERE s.id = p.sample_id))`).Scan(&samples, &steps, &orphans)
	if err != nil {
		t.Fatal(err)
	}
	if wantSamples := 1 + clients*ownSamples/2; samples != wantSamples || steps != 8*(wantSamples-1) || orphans != 0 {
		t.Errorf("tables hold %d samples, %d steps, %d orphans; want %d, %d, 0", samples, steps, orphans, wantSamples, 8*(wantSamples-1))
	}
}

// runClient is one client's work; it returns the ids of the samples it kept.
func runClient(ctx context.Context, svc *Service, c int, shared string) ([]string, error) {
	var kept []string
	for s := range ownSamples {
		in := baseInput()
		in.SampleName = fmt.Sprintf("c%d s%d", c, s)
		b, err := svc.AppendCreate(ctx, nil, in)
		if err != nil {
			return nil, fmt.Errorf("client %d create: %w", c, err)
		}
		id := string(b[len(`{"id":"`) : len(`{"id":"`)+36])
		if err := ownWork(ctx, svc, c, s, id); err != nil {
			return nil, fmt.Errorf("client %d sample %d: %w", c, s, err)
		}
		if s%2 == 0 {
			if err := svc.Delete(ctx, id); err != nil {
				return nil, fmt.Errorf("client %d delete: %w", c, err)
			}
		} else {
			kept = append(kept, id)
		}
		if err := sharedWork(ctx, svc, c, s, shared); err != nil {
			return nil, fmt.Errorf("client %d shared: %w", c, err)
		}
	}
	return kept, nil
}

// ownWork updates, assigns and moves one of the client's samples.
func ownWork(ctx context.Context, svc *Service, c, s int, id string) error {
	st, err := svc.CreateDefaultProcessingSteps(ctx, id)
	if err != nil {
		return err
	}
	st.Close()
	for v := 1; v <= updatesPerWriter; v++ {
		name := fmt.Sprintf("c%d s%d v%d", c, s, v)
		if _, err := svc.AppendUpdate(ctx, nil, UpdateInput{ID: id, Data: UpdateData{SampleName: &name}}); err != nil {
			return err
		}
	}
	if _, err := svc.AppendAssign(ctx, nil, AssignInput{ID: id, AssignedTo: fmt.Sprint("Client ", c)}); err != nil {
		return err
	}
	_, err = svc.AppendUpdateStatus(ctx, nil, UpdateStatusInput{ID: id, Status: "sequencing"})
	return err
}

// sharedWork writes the client's field of the shared sample, or its status.
func sharedWork(ctx context.Context, svc *Service, c, s int, shared string) error {
	if c >= len(fieldWriters) {
		status := []string{"prep", "sequencing", "completed", "archived"}[(c+s)%4]
		_, err := svc.AppendUpdateStatus(ctx, nil, UpdateStatusInput{ID: shared, Status: status})
		return err
	}
	if s != ownSamples-1 {
		return nil // writers write their field in one burst, at the end
	}
	for v := 1; v <= updatesPerWriter; v++ {
		var d UpdateData
		fieldWriters[c].set(&d, v)
		if _, err := svc.AppendUpdate(ctx, nil, UpdateInput{ID: shared, Data: d}); err != nil {
			return err
		}
	}
	return nil
}

// checkOwnSamples verifies every kept sample holds its client's last writes.
func checkOwnSamples(t *testing.T, svc *Service, kept [][]string) {
	t.Helper()
	byID := map[string]map[string]any{}
	for _, s := range MustArray(t, streamBytes(t)(svc.GetAll(context.Background()))) {
		byID[s["id"].(string)] = s
	}
	for c, ids := range kept {
		if len(ids) != ownSamples/2 {
			t.Errorf("client %d kept %d samples", c, len(ids))
		}
		for i, id := range ids {
			s := byID[id]
			want := fmt.Sprintf("c%d s%d v%d", c, 2*i+1, updatesPerWriter)
			if s == nil || s["sample_name"] != want || s["assigned_to"] != fmt.Sprint("Client ", c) || s["status"] != "sequencing" {
				t.Errorf("client %d sample %s = %v, want name %q assigned and sequencing", c, id, s, want)
			}
		}
	}
}
