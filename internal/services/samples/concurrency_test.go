package samples

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// fieldWriters each own one field of a shared sample and write it
// updatesPerWriter times; the last value must survive everything else that
// happens to that row at the same time.
var fieldWriters = []struct {
	column string
	data   func(v int) string // the update's data member
	want   string
}{
	{"sample_name", func(v int) string { return fmt.Sprintf(`"sampleName":"name %d"`, v) }, "name 5"},
	{"project_id", func(v int) string { return fmt.Sprintf(`"projectId":"P-%d"`, v) }, "P-5"},
	{"submitter_name", func(v int) string { return `"submitterName":"Sub ` + letters(v) + `"` }, "Sub F"},
	{"submitter_email", func(v int) string { return fmt.Sprintf(`"submitterEmail":"s%d@lab.org"`, v) }, "s5@lab.org"},
	{"lab_name", func(v int) string { return fmt.Sprintf(`"labName":"Lab %d"`, v) }, "Lab 5"},
	{"sample_buffer", func(v int) string { return fmt.Sprintf(`"sampleBuffer":"TE %d"`, v) }, "TE 5"},
	{"concentration::text", func(v int) string { return fmt.Sprintf(`"concentration":%d`, v) }, "5.000"},
	{"volume::text", func(v int) string { return fmt.Sprintf(`"volume":%d`, v) }, "5.00"},
	{"flow_cell_count::text", func(v int) string { return fmt.Sprintf(`"flowCellCount":%d`, v) }, "5"},
	{"priority", func(v int) string { return `"priority":"` + []string{"low", "normal", "high", "urgent"}[v%4] + `"` }, "normal"},
}

// letters spells n in letters (person names allow no digits): 0 is A.
func letters(n int) string {
	s := string(rune('A' + n%26))
	if n >= 26 {
		s = letters(n/26-1) + s
	}
	return s
}

const (
	clients          = 50
	ownSamples       = 4
	updatesPerWriter = 5
)

// TestConcurrentClientsLoseNoUpdate runs 50 HTTP clients at once: each creates,
// updates, assigns, moves and deletes samples of its own, while ten of them
// also write one field each of a shared sample and the others churn that
// sample's status. No call may fail, no write may be lost, and the tables
// must end consistent.
func TestConcurrentClientsLoseNoUpdate(t *testing.T) {
	t.Parallel()
	svc, pool := MustService(t, nil)
	c := MustServer(t, svc)
	shared := MustCreate(t, svc, baseInput())["id"].(string)

	start := make(chan struct{})
	errs := make(chan error, clients)
	kept := make([][]string, clients)
	var wg sync.WaitGroup
	for n := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			kept[n], err = runClient(c, n, shared)
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
	checkShared(t, pool, shared)
	checkConsistent(t, pool)
}

// checkShared verifies every field writer's last write survived.
func checkShared(t *testing.T, pool *pgxpool.Pool, shared string) {
	t.Helper()
	for _, w := range fieldWriters {
		var got string
		err := pool.QueryRow(context.Background(), `SELECT `+w.column+` FROM samples.nanopore_samples WHERE id = $1`, shared).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got != w.want {
			t.Errorf("shared %s = %q, want %q: an update was lost", w.column, got, w.want)
		}
	}
}

// checkConsistent counts what must remain: the shared sample, the samples
// each client kept, their steps and no orphan.
func checkConsistent(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var samples, steps, orphans int
	err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM samples.nanopore_samples),
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

// call is one tRPC mutation from a client goroutine: it reports failures
// as errors (t.Fatal belongs to the test goroutine).
func call(c *client, proc, input string) ([]byte, error) {
	status, _, body, err := c.try("POST", "/api/trpc/"+proc, input)
	if err != nil {
		return nil, err
	}
	inner, ok := strings.CutPrefix(body, `{"result":{"data":`)
	if status != 200 || !ok {
		return nil, fmt.Errorf("%s %s: %d %s", proc, input, status, body)
	}
	return []byte(strings.TrimSuffix(inner, "}}")), nil
}

// runClient is client n's work; it returns the ids of the samples it kept.
func runClient(c *client, n int, shared string) ([]string, error) {
	var kept []string
	for s := range ownSamples {
		b, err := call(c, "nanopore.create", fmt.Sprintf(`{"sampleName":"c%d s%d","submitterName":"Jo",`+
			`"submitterEmail":"jo@lab.org","sampleType":"RNA","chartField":"NANO-002"}`, n, s))
		if err != nil {
			return nil, err
		}
		id := string(b[len(`{"id":"`) : len(`{"id":"`)+36])
		if err := ownWork(c, n, s, id); err != nil {
			return nil, err
		}
		if s%2 == 0 {
			if _, err := call(c, "nanopore.delete", `"`+id+`"`); err != nil {
				return nil, err
			}
		} else {
			kept = append(kept, id)
		}
		if err := sharedWork(c, n, s, shared); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// ownWork adds steps to one of the client's samples, renames, assigns and
// moves it.
func ownWork(c *client, n, s int, id string) error {
	if _, err := call(c, "nanopore.createDefaultProcessingSteps", `"`+id+`"`); err != nil {
		return err
	}
	for v := 1; v <= updatesPerWriter; v++ {
		if _, err := call(c, "nanopore.update", fmt.Sprintf(`{"id":"%s","data":{"sampleName":"c%d s%d v%d"}}`, id, n, s, v)); err != nil {
			return err
		}
	}
	if _, err := call(c, "nanopore.assign", `{"id":"`+id+`","assignedTo":"Client `+letters(n)+`"}`); err != nil {
		return err
	}
	_, err := call(c, "nanopore.updateStatus", `{"id":"`+id+`","status":"sequencing"}`)
	return err
}

// sharedWork writes the client's field of the shared sample, or its status.
func sharedWork(c *client, n, s int, shared string) error {
	if n >= len(fieldWriters) {
		status := []string{"prep", "sequencing", "completed", "archived"}[(n+s)%4]
		_, err := call(c, "nanopore.updateStatus", `{"id":"`+shared+`","status":"`+status+`"}`)
		return err
	}
	if s != ownSamples-1 {
		return nil // writers write their field in one burst, at the end
	}
	for v := 1; v <= updatesPerWriter; v++ {
		if _, err := call(c, "nanopore.update", `{"id":"`+shared+`","data":{`+fieldWriters[n].data(v)+`}}`); err != nil {
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
			if s == nil || s["sample_name"] != want || s["assigned_to"] != "Client "+letters(c) || s["status"] != "sequencing" {
				t.Errorf("client %d sample %s = %v, want name %q assigned and sequencing", c, id, s, want)
			}
		}
	}
}
