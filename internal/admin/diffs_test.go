package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

func TestDiffsAPI(t *testing.T) {
	pool := testutil.Pool(t, testutil.CreateDB(t))
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	st := &shadow.Store{Pool: pool}
	id, err := st.Insert(context.Background(), &shadow.Record{
		Route: "health", Procedure: "health", PrimarySide: "legacy", Method: "GET", Path: "/api/trpc/health",
		LegacyStatus: 200, NewStatus: 500, Paths: []string{"status"},
		Diffs: []shadow.Diff{{Path: "status", General: "status", Kind: "changed", Legacy: "200", New: "500", Class: shadow.ClassMismatch}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Gatherer: prometheus.NewRegistry(), Diffs: st,
		Auth: NewAuth(AuthOptions{ConfigTokenHashes: []string{credOf(HashToken("ok"))}, ConfigTokenRole: RoleViewer})})
	get := func(path, auth string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, _ := get("/api/diffs", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	code, body := get("/api/diffs?since=1h", "Bearer ok")
	var rep shadow.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || len(rep.Groups) != 1 || rep.Groups[0].Path != "status" {
		t.Fatalf("report: %d %s", code, body)
	}
	if code, body = get("/api/diffs?format=text", "Bearer ok"); code != 200 || !strings.Contains(body, "health") {
		t.Fatalf("text report: %d %s", code, body)
	}
	if code, body = get(fmt.Sprintf("/api/diffs/%d?format=text", id), "Bearer ok"); code != 200 || !strings.Contains(body, "mismatch #") {
		t.Fatalf("record: %d %s", code, body)
	}
	for path, want := range map[string]int{"/api/diffs/999999": 404, "/api/diffs/x": 400, "/api/diffs?since=soon": 400} {
		if code, _ := get(path, "Bearer ok"); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}
