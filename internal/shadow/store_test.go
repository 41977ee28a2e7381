package shadow

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// migratedPool is a fresh database of this test with every migration
// applied; it is dropped when the test ends. PostgreSQL missing fails the
// test.
func migratedPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testutil.Pool(t, testutil.CreateDB(t))
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// Secrets a client sends; none may reach a stored record.
const (
	secretAuth   = "Bearer s3cr3t-t0ken-value"
	secretCookie = "admin_session=session-1795861499889-0sy3yrnbaqdo"
	secretEmail  = "jo.update@lab.org"
)

func TestRecordsAreRedactedCappedAndGrouped(t *testing.T) {
	pool := migratedPool(t)
	st := &Store{Pool: pool}
	r := newRig(t, func(c *config.Shadow) {
		c.Record.PerRoutePerHour = 3
		c.Accepted = append(c.Accepted, config.AcceptedDiff{Route: "page", Path: "$..submitter_email",
			Reason: "emails are fixed", Owner: "test", Expires: "2999-01-01"})
	}, Options{Store: st, Replica: "r1"})
	r.start(t)
	legacy := fixed(200, "application/json", `{"name":"a","submitter_email":"`+secretEmail+`","n":1}`)
	next := fixed(200, "application/json", `{"name":"b","submitter_email":"jo.@lab.org","n":1}`)
	h := r.serve(pathInfo("shadow", true), legacy, next, Handler(legacy), Handler(next))
	for i := 0; i < 5; i++ {
		q := httptest.NewRequest("POST", "/p?token=abc&email="+secretEmail, strings.NewReader(`{"password":"hunter2","submitterEmail":"`+secretEmail+`"}`))
		q.Header.Set("Content-Type", "application/json")
		q.Header.Set("Authorization", secretAuth)
		q.Header.Set("Cookie", secretCookie)
		q.Header.Set("X-Request-Id", "req-"+itoa(i))
		h.ServeHTTP(httptest.NewRecorder(), q)
	}
	testutil.Eventually(t, 20*time.Second, "five mismatches recorded or capped", func() bool {
		return promtestRecords(r, "page", "stored")+promtestRecords(r, "page", "capped")+promtestRecords(r, "page", "failed") == 5
	})
	if got := promtestRecords(r, "page", "capped"); got != 2 {
		t.Fatalf("capped = %v, want 2 (3 per route and hour)", got)
	}
	var n int
	var dump string
	err := pool.QueryRow(context.Background(), `SELECT count(*), string_agg(m::text, ' ') FROM strangler.shadow_mismatches m`).Scan(&n, &dump)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d records stored, want 3", n)
	}
	for _, secret := range []string{"s3cr3t", "0sy3yrnbaqdo", "hunter2", secretEmail, "jo.@lab.org", "token=abc"} {
		if strings.Contains(dump, secret) {
			t.Errorf("a stored record holds %q", secret)
		}
	}
	if !strings.Contains(dump, Redacted) {
		t.Error("no <redacted> marker stored")
	}
	rep, err := st.Report(context.Background(), Filter{Since: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || len(rep.Groups) != 1 {
		t.Fatalf("report: %d records, groups %+v", rep.Records, rep.Groups)
	}
	g := rep.Groups[0]
	if g.Route != "page" || g.Path != "$.name" || g.Count != 3 || len(g.Example) != 1 || g.Example[0].New != `"b"` {
		t.Fatalf("group %+v", g)
	}
	rec, err := st.Get(context.Background(), g.ExampleID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Replica != "r1" || !strings.HasPrefix(rec.RequestID, "req-") || rec.Method != "POST" || rec.LegacyStatus != 200 {
		t.Fatalf("record %+v", rec)
	}
	// The accepted e-mail difference is kept in the diffs, classed, but
	// does not make a group of its own.
	var classes []string
	for _, d := range rec.Diffs {
		classes = append(classes, d.General+"="+d.Class)
	}
	if strings.Join(classes, " ") != "$.name=mismatch $.submitter_email=accepted" {
		t.Fatalf("diffs %v", classes)
	}
	var out strings.Builder
	RenderRecord(&out, rec)
	RenderReport(&out, rep)
	if !strings.Contains(out.String(), "$.name") || !strings.Contains(out.String(), `"password":"<redacted>"`) ||
		!strings.Contains(out.String(), "token=<redacted>") || strings.Contains(out.String(), "hunter2") {
		t.Fatalf("rendered:\n%s", out.String())
	}
	deleted, err := st.DeleteBefore(context.Background(), time.Now().Add(time.Hour))
	if err != nil || deleted != 3 {
		t.Fatalf("retention deleted %d: %v", deleted, err)
	}
	if _, err := st.Get(context.Background(), g.ExampleID); err != ErrNotFound {
		t.Fatalf("deleted record still read: %v", err)
	}
}

func promtestRecords(r *rig, route, result string) float64 {
	return promtest.ToFloat64(r.sh.metrics.records.WithLabelValues(route, result))
}

// TestNoiseSharedThroughTheDatabase: what one replica learns, another
// loads.
func TestNoiseSharedThroughTheDatabase(t *testing.T) {
	pool := migratedPool(t)
	st := &Store{Pool: pool}
	a := newRig(t, func(c *config.Shadow) { c.RelearnFraction = 1 }, Options{Store: st})
	a.start(t)
	var n atomic.Int64
	clock := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"at":`+itoa(int(n.Add(1)))+`}`)
	})
	same := fixed(200, "application/json", `{"at":0}`)
	h := a.serve(pathInfo("shadow", true), clock, same, Handler(clock), Handler(same))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	testutil.Eventually(t, 20*time.Second, "noise learnt", func() bool { return a.sh.noise.has("page", "", "$.at") })
	b := newRig(t, func(c *config.Shadow) { c.NoiseRefresh = 10 * time.Millisecond }, Options{Store: st})
	b.start(t)
	testutil.Eventually(t, 20*time.Second, "the other replica to load the noise", func() bool { return b.sh.noise.has("page", "", "$.at") })
}
