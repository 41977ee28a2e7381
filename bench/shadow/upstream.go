package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// sampleList is the body both sides answer to nanopore.getAll: three
// samples as legacy encodes them (about 2 KiB), built once.
var sampleList = func() []byte {
	const row = `{"id":"%s","sample_name":"Sample %d","project_id":null,"submitter_name":"Jo Smith",` +
		`"submitter_email":"jo@lab.org","lab_name":"Lab A","sample_type":"DNA","sample_buffer":null,` +
		`"concentration":"12.500","volume":"20.00","total_amount":"250.000","flow_cell_type":"R10.4.1",` +
		`"flow_cell_count":1,"status":"submitted","priority":"normal","assigned_to":null,"library_prep_by":null,` +
		`"submitted_at":"2026-11-28T10:02:57.525Z","started_at":null,"completed_at":null,` +
		`"created_at":"2026-11-28T10:02:57.525Z","updated_at":"2026-11-28T10:02:57.525Z",` +
		`"created_by":"550e8400-e29b-41d4-a716-446655440000","chart_field":"HTSF-001"}`
	rows := make([]string, 3)
	for i := range rows {
		rows[i] = fmt.Sprintf(row, fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", i), i)
	}
	return []byte(`{"result":{"data":[` + strings.Join(rows, ",") + `]}}`)
}()

// upstreamMain serves /api/trpc/nanopore.getAll after delay (the new side
// in the 20 ms and 10 s scenarios; legacy with no delay) and /health.
func upstreamMain(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "address")
	delay := fs.Duration("delay", 0, "wait this long before answering")
	_ = fs.Parse(args)
	ctype, vary := []string{"application/json"}, []string{"trpc-accept"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		if *delay > 0 {
			t := time.NewTimer(*delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header()["Content-Type"] = ctype
		w.Header()["Vary"] = vary
		_, _ = w.Write(sampleList)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	fmt.Fprintf(os.Stderr, "upstream listening on %s\n", *addr)
	return srv.ListenAndServe()
}
