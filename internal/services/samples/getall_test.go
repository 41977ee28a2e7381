package samples

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MustSeed inserts n samples shaped like real ones (every column filled, so
// rows are as large as they get: about 650 bytes of JSON each).
func MustSeed(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	_, err := pool.Exec(context.Background(), `
INSERT INTO samples.nanopore_samples (id, sample_name, project_id, submitter_name, submitter_email,
 lab_name, sample_type, sample_buffer, concentration, volume, total_amount, flow_cell_type,
 flow_cell_count, status, priority, assigned_to, library_prep_by, submitted_at, started_at,
 completed_at, created_at, updated_at, created_by, chart_field)
SELECT gen_random_uuid(), 'Sample ' || g, 'PRJ-' || g, 'Jane Submitter', 'jane.' || g || '@lab.example.org',
 'Genomics Core Lab', 'DNA', 'TE buffer', 12.5, 20, 250, 'R10.4.1', 2, 'sequencing', 'high',
 'Grey Assignee', 'Jenny Prep', now() - g * interval '1 second', now(), now(), now(), now(),
 '`+DemoUserID+`', 'HTSF-001'
FROM generate_series(1, $1::integer) g`, n)
	if err != nil {
		tb.Fatalf("seed %d samples: %v", n, err)
	}
}

// memWriter is an http.ResponseWriter that discards the body and samples
// the live heap every sampleEvery bytes.
type memWriter struct {
	header        http.Header
	status        int
	written, next int
	maxHeap       uint64
}

func (w *memWriter) Header() http.Header    { return w.header }
func (w *memWriter) WriteHeader(status int) { w.status = status }
func (w *memWriter) Flush()                 {}

const sampleEvery = 1 << 20

func (w *memWriter) Write(p []byte) (int, error) {
	w.written += len(p)
	if w.written >= w.next {
		w.next = w.written + sampleEvery
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.maxHeap = max(w.maxHeap, ms.HeapAlloc)
	}
	return len(p), nil
}

// TestGetAllStreamsWithFlatMemory answers getAll over 100,000 rows (about
// 75 MB of JSON) through the service's HTTP handler and requires the heap
// to stay flat: a buffered answer would hold the whole body, and allocate
// at least that much.
//
// Not parallel: MemStats are process-wide, and the other tests of the
// package only start once the sequential ones are done.
func TestGetAllStreamsWithFlatMemory(t *testing.T) {
	svc, pool := MustService(t, nil)
	const rows = 100_000
	MustSeed(t, pool, rows)
	ctx := context.Background()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := &memWriter{header: http.Header{}, maxHeap: before.HeapAlloc}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/trpc/nanopore.getAll", nil)
	svc.Handler().ServeHTTP(w, req)
	runtime.ReadMemStats(&after)
	if w.status != http.StatusOK {
		t.Fatalf("getAll answered %d", w.status)
	}

	allocated := after.TotalAlloc - before.TotalAlloc
	growth := w.maxHeap - before.HeapAlloc
	t.Logf("getAll of %d rows: %d bytes written, %d bytes allocated, live heap grew by at most %d bytes",
		rows, w.written, allocated, growth)
	if w.written < 50<<20 {
		t.Fatalf("only %d bytes written; the bound below assumes an answer over 50 MB", w.written)
	}
	const bound = 8 << 20 // far below the 50+ MB a buffered answer needs
	if allocated > bound {
		t.Errorf("getAll allocated %d bytes for a %d-byte answer; want < %d", allocated, w.written, bound)
	}
	if growth > bound {
		t.Errorf("live heap grew by %d bytes; want < %d", growth, bound)
	}
}
