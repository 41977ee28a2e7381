package samples

import (
	"context"
	"encoding/binary"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// typicalRow is a Sample row as the binary protocol delivers it.
func typicalRow() [][]byte {
	ts := binary.BigEndian.AppendUint64(nil, uint64(time.Date(2026, 11, 28, 10, 2, 57, 525678000, time.UTC).UnixMicro()-pgEpochMicros))
	uuid := []byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}
	return [][]byte{
		uuid, []byte("Sample 123"), []byte("PRJ-123"), []byte("Jane Submitter"), []byte("jane.123@lab.example.org"),
		[]byte("Genomics Core Lab"), []byte("DNA"), []byte("TE buffer"), []byte("12.500"), []byte("20.00"),
		[]byte("250.000"), []byte("R10.4.1"), binary.BigEndian.AppendUint32(nil, 2), []byte("sequencing"),
		[]byte("high"), []byte("Grey Assignee"), []byte("Jenny Prep"), ts, ts, nil, ts, ts, uuid, []byte("HTSF-001"),
	}
}

func BenchmarkEncodeSample(b *testing.B) {
	row := typicalRow()
	buf, _ := appendRow(nil, sampleColumns, row)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendRow(buf[:0], sampleColumns, row)
	}
}

// BenchmarkGetAll1000 answers getAll over 1,000 samples (the bench target:
// 270 answers/s through the proxy), fresh from the database every time.
func BenchmarkGetAll1000(b *testing.B) {
	svc, pool := MustService(b, nil)
	MustSeed(b, pool, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &countWriter{}
		for pb.Next() {
			st, err := svc.GetAll(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			if err := st.WriteData(w); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
}

// benchParallelism × GOMAXPROCS callers run at once, as many clients would;
// the test pool allows 8 connections.
const benchParallelism = 4

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// BenchmarkCreate inserts samples from parallel callers (bench target:
// 2,300/s through the proxy).
func BenchmarkCreate(b *testing.B) {
	svc, _ := MustService(b, nil)
	ctx := context.Background()
	in := baseInput()
	in.Concentration, in.Volume, in.TotalAmount = 12.5, 20, 250
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			var err error
			if buf, err = svc.AppendCreate(ctx, buf[:0], in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkUpdateStatus moves samples between statuses from parallel
// callers (bench target: 2,300/s through the proxy).
func BenchmarkUpdateStatus(b *testing.B) {
	svc, pool := MustService(b, nil)
	MustSeed(b, pool, 1000)
	ids := seededIDs(b, pool)
	ctx := context.Background()
	statuses := []string{"prep", "sequencing", "analysis", "completed"}
	b.ReportAllocs()
	b.ResetTimer()
	var calls atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			i := int(calls.Add(1))
			var err error
			buf, err = svc.AppendUpdateStatus(ctx, buf[:0], UpdateStatusInput{ID: ids[i%len(ids)], Status: statuses[i%4]})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// benchHTTP measures one procedure through the service's tRPC Handler over
// real HTTP (loopback), from parallel clients.
func benchHTTP(b *testing.B, method string, path func(i int) (string, string), unit string) {
	b.Helper()
	svc, pool := MustService(b, nil)
	MustSeed(b, pool, 1000)
	c := MustServer(b, svc)
	ids := seededIDs(b, pool)
	var calls atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(calls.Add(1))
			p, body := path(i)
			p = strings.ReplaceAll(p, "{id}", ids[i%len(ids)])
			body = strings.ReplaceAll(body, "{id}", ids[i%len(ids)])
			status, _, resp, err := c.try(method, p, body)
			if err != nil || status != 200 {
				b.Errorf("%s %s: %d %v %.200s", method, p, status, err, resp)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

func BenchmarkHTTPCreate(b *testing.B) {
	benchHTTP(b, "POST", func(int) (string, string) { return "/api/trpc/nanopore.create", createBody }, "creates/s")
}

func BenchmarkHTTPUpdateStatus(b *testing.B) {
	statuses := []string{"prep", "sequencing", "analysis", "completed"}
	benchHTTP(b, "POST", func(i int) (string, string) {
		return "/api/trpc/nanopore.updateStatus", `{"id":"{id}","status":"` + statuses[i%4] + `"}`
	}, "updates/s")
}

func BenchmarkHTTPGetAll1000(b *testing.B) {
	benchHTTP(b, "GET", func(int) (string, string) { return "/api/trpc/nanopore.getAll", "" }, "answers/s")
}

// seededIDs lists the ids of the samples in the database.
func seededIDs(tb testing.TB, pool *pgxpool.Pool) []string {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id::text FROM samples.nanopore_samples`)
	if err != nil {
		tb.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}
