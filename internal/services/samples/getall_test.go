package samples

import (
	"context"
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

// memWriter discards what it is given and samples the live heap every
// sampleEvery bytes.
type memWriter struct {
	written, next int
	maxHeap       uint64
}

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

// TestGetAllStreamsWithFlatMemory writes getAll over 100,000 rows (about
// 65 MB of JSON) and requires the heap to stay flat: a buffered answer
// would hold the whole body, and allocate at least that much.
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
	w := &memWriter{maxHeap: before.HeapAlloc}
	st, err := svc.GetAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteData(w); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)

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
