package guard

import (
	"slices"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/trpc"
)

const (
	okEntry       = `{"result":{"data":{"id":"x"}}}`
	notFoundEntry = `{"error":{"message":"Sample not found","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.update"}}}`
	dbDownEntry   = `{"error":{"message":"Database connection failed","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.update"}}}`
	zodEntry      = `{"error":{"message":"[\n  {\n    \"code\": \"invalid_string\"\n  }\n]","code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400,"path":"nanopore.create"}}}`
	timerEntry    = `{"error":{"message":"timer.done is not a function","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":"nanopore.startProcessingStep"}}}`
)

func shippedNormal() *Normal { return NewNormal(config.DefaultGuard().NormalErrors) }

func TestClassifyTRPC(t *testing.T) {
	n := shippedNormal()
	F, O, N, C := OutcomeFailure, OutcomeOK, OutcomeNormalError, OutcomeClientError
	cases := []struct {
		name   string
		side   Side
		procs  []string
		batch  bool
		status int
		body   string
		want   []Outcome
	}{
		{"single success", SideNew, []string{"nanopore.getAll"}, false, 200, okEntry, []Outcome{O}},
		{"single 500 counts", SideNew, []string{"nanopore.update"}, false, 500, dbDownEntry, []Outcome{F}},
		{"Sample not found is a normal answer", SideNew, []string{"nanopore.update"}, false, 500, notFoundEntry, []Outcome{N}},
		{"validation never counts", SideNew, []string{"nanopore.create"}, false, 400, zodEntry, []Outcome{C}},
		{"batch 207 per entry", SideNew, []string{"a", "nanopore.update", "nanopore.update", "nanopore.create"}, true, 207,
			"[" + okEntry + "," + notFoundEntry + ",\n " + dbDownEntry + "," + zodEntry + "]", []Outcome{O, N, F, C}},
		{"legacy's step defect is no baseline", SideLegacy, []string{"nanopore.startProcessingStep"}, false, 500, timerEntry, []Outcome{N}},
		{"the same message fails on the new side", SideNew, []string{"nanopore.startProcessingStep"}, false, 500, timerEntry, []Outcome{F}},
		{"normal errors are per procedure", SideNew, []string{"health"}, false, 500,
			`{"error":{"message":"Sample not found","code":-32603,"data":{"httpStatus":500}}}`, []Outcome{F}},
		{"proxy 502 page", SideNew, []string{"a", "b"}, true, 502, "<html>bad gateway</html>", []Outcome{F, F}},
		{"cut off after the first entry, 500", SideNew, []string{"nanopore.update", "nanopore.update"}, true, 500,
			"[" + notFoundEntry + "," + dbDownEntry[:40], []Outcome{N, F}},
		{"cut off under 207 tells nothing", SideNew, []string{"nanopore.update", "nanopore.update"}, true, 207,
			"[" + dbDownEntry + "," + okEntry[:10], []Outcome{F, O}},
		{"no httpStatus: from the JSON-RPC code", SideNew, []string{"x"}, false, 500,
			`{"error":{"message":"boom","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR"}}}`, []Outcome{F}},
		{"escaped message", SideNew, []string{"nanopore.update"}, false, 500,
			`{"error":{"message":"Sample not \u0066ound","code":-32603,"data":{"httpStatus":500}}}`, []Outcome{N}},
		{"success with error-like data", SideNew, []string{"x"}, false, 200,
			`{"result":{"data":{"error":{"message":"x","data":{"httpStatus":500}}}}}`, []Outcome{O}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := n.ClassifyTRPC(tc.side, tc.procs, tc.batch, tc.status, []byte(tc.body), nil)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassifyHTTPAndWorst(t *testing.T) {
	for status, want := range map[int]Outcome{200: OutcomeOK, 302: OutcomeOK, 400: OutcomeClientError,
		404: OutcomeClientError, 499: OutcomeClientError, 500: OutcomeFailure, 502: OutcomeFailure, 504: OutcomeFailure} {
		if got := ClassifyHTTP(status); got != want {
			t.Errorf("ClassifyHTTP(%d) = %v, want %v", status, got, want)
		}
	}
	if w := Worst([]Outcome{OutcomeOK, OutcomeClientError, OutcomeNormalError}); w != OutcomeClientError {
		t.Errorf("Worst without failure = %v", w)
	}
	if w := Worst([]Outcome{OutcomeOK, OutcomeFailure, OutcomeClientError}); w != OutcomeFailure {
		t.Errorf("Worst with a failure = %v", w)
	}
}

// TestHotPathAllocations: counting and classifying cost no allocation once
// a series exists (issue 7: cheap on the hot path).
func TestHotPathAllocations(t *testing.T) {
	g := New(Options{})
	body := []byte("[" + okEntry + "," + notFoundEntry + "," + dbDownEntry + "]")
	procs := []string{"nanopore.getAll", "nanopore.update", "nanopore.update"}
	g.Observe("nanopore.update", "nanopore.update", SideNew, OutcomeFailure, time.Millisecond)
	routes := procs
	allocs := testing.AllocsPerRun(1000, func() {
		if o := g.ObserveTRPC(SideNew, routes, procs, true, 207, body, 3*time.Millisecond); o != OutcomeFailure {
			t.Fatalf("worst outcome %v", o)
		}
		g.ObserveHTTP("files.list", SideNew, 502, time.Millisecond)
		g.ObserveComparison("nanopore.update", "mismatch")
	})
	if allocs != 0 {
		t.Fatalf("hot path allocates %.1f times per request", allocs)
	}
}

func TestP99(t *testing.T) {
	var c counts
	if _, ok := c.p99(); ok {
		t.Fatal("p99 of nothing")
	}
	for range 99 {
		c.hist[bucketOf(4*time.Millisecond)]++
	}
	c.hist[bucketOf(2*time.Second)]++
	if p, _ := c.p99(); p != 5*time.Millisecond {
		t.Fatalf("p99 of 99 fast and 1 slow = %s, want the 5ms bound", p)
	}
	c.hist[bucketOf(2*time.Second)]++
	if p, _ := c.p99(); p != 2*time.Second {
		t.Fatalf("p99 with 2 slow of 101 = %s, want 2s", p)
	}
	if b := bucketOf(time.Hour); b != numBuckets-1 || len(LatencyBounds)+1 != numBuckets {
		t.Fatalf("overflow bucket %d of %d", b, numBuckets)
	}
}

// FuzzClassifyMatchesParseBatch: for a whole batch answer the scanner finds
// the statuses package trpc finds (the reference parser), and never panics
// on cut-off or hostile bytes.
func FuzzClassifyMatchesParseBatch(f *testing.F) {
	f.Add([]byte("[" + okEntry + "," + dbDownEntry + "," + zodEntry + "]"))
	f.Add([]byte(`[{"error":{"code":-32004,"data":{}}}]`))
	f.Add([]byte(`[{"error":{"message":"\"","data":{"httpStatus":503}}} ]`))
	f.Add([]byte(`[`))
	n := NewNormal(nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		procs := []string{"a", "b", "c", "d"}
		got := n.ClassifyTRPC(SideNew, procs, true, 207, body, nil)
		if len(got) != len(procs) {
			t.Fatalf("%d outcomes for %d procedures", len(got), len(procs))
		}
		entries, err := trpc.ParseBatch(body)
		if err != nil || len(entries) != len(procs) {
			return
		}
		for i, e := range entries {
			want := OutcomeOK
			switch {
			case e.Status >= 500:
				want = OutcomeFailure
			case e.Status >= 400:
				want = OutcomeClientError
			}
			if got[i] != want {
				t.Fatalf("entry %d (%s): got %v, want %v (status %d)", i, e.Raw, got[i], want, e.Status)
			}
		}
	})
}

func BenchmarkObserveParallel(b *testing.B) {
	g := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Observe("nanopore.getAll", "nanopore.getAll", SideNew, OutcomeOK, 3*time.Millisecond)
		}
	})
}

func BenchmarkClassifyTRPCBatch(b *testing.B) {
	n := shippedNormal()
	body := []byte("[" + okEntry + "," + notFoundEntry + "," + dbDownEntry + "," + zodEntry + "]")
	procs := []string{"nanopore.getAll", "nanopore.update", "nanopore.update", "nanopore.create"}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var buf [8]Outcome
		_ = n.ClassifyTRPC(SideNew, procs, true, 207, body, buf[:0])
	}
}

// BenchmarkClassifyTRPCLarge reads a 1 MiB getAll answer (the scanner skips
// the data without building it).
func BenchmarkClassifyTRPCLarge(b *testing.B) {
	n := shippedNormal()
	row := `{"id":"3f2c9a4e-1b7d-4c1a-9e0b-8a7f6d5c4b3a","sample_name":"S-1","status":"submitted","notes":"a \"quoted\" note"},`
	body := []byte(`[{"result":{"data":[`)
	for len(body) < 1<<20 {
		body = append(body, row...)
	}
	body = append(body[:len(body)-1], "]}}]"...)
	procs := []string{"nanopore.getAll"}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var buf [1]Outcome
		if o := n.ClassifyTRPC(SideNew, procs, true, 200, body, buf[:0]); o[0] != OutcomeOK {
			b.Fatal(o)
		}
	}
}

// TestObserveTRPCCountsPerCall: each call of a batch counts under its own
// route and procedure; unknown procedures (route "") are skipped.
func TestObserveTRPCCountsPerCall(t *testing.T) {
	g := New(Options{})
	body := []byte("[" + okEntry + "," + notFoundEntry + "," + dbDownEntry + "," + zodEntry + "]")
	routes := []string{"nanopore.getAll", "nanopore.update", "nanopore.update", ""}
	procs := []string{"nanopore.getAll", "nanopore.update", "nanopore.update", "nanopore.nope"}
	g.ObserveTRPC(SideNew, routes, procs, true, 207, body, time.Millisecond)
	got := map[string]counts{}
	for _, s := range g.obs.take() {
		c := got[s.key.route+"/"+s.key.procedure+"/"+s.key.kind.String()]
		c.add(&s.c)
		got[s.key.route+"/"+s.key.procedure+"/"+s.key.kind.String()] = c
	}
	u, a := got["nanopore.update/nanopore.update/new"], got["nanopore.getAll/nanopore.getAll/new"]
	if len(got) != 2 || u.requests != 2 || u.failures != 1 || u.normal != 1 || a.requests != 1 || a.failures != 0 {
		t.Fatalf("counts %+v", got)
	}
	if left := g.obs.take(); len(left) != 0 {
		t.Fatalf("take leaves %d samples behind", len(left))
	}
}
