package dualwrite_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/dualwrite"
)

// post sends one tRPC mutation to a handler as the primary would get it.
func post(h http.Handler, proc, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/trpc/"+proc, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// A primary write of a sample only legacy holds (its converge has not run
// yet) copies it first and succeeds; a sample the new side deleted, whose
// delete is not relayed yet, is not brought back.
func TestRescueCopiesOnlyWhatIsNotBeingRelayed(t *testing.T) {
	db := dualwrite.MustTestDB(t, true)
	w, err := dualwrite.NewWriter(dualwrite.Options{Stores: dualwrite.Stores{Legacy: db.Pool, New: db.Pool}})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, db.Pool)
	svc.SetMissing(w.Rescue("samples"))
	onlyLegacy := dualwrite.InsertLegacySample(t, db.Pool, "public", nil)
	if rec := post(svc.Handler(), "nanopore.updateStatus", `{"id":"`+strings.ToUpper(onlyLegacy)+`","status":"prep"}`); rec.Code != http.StatusOK {
		t.Fatalf("update of a sample only legacy has: %d %s", rec.Code, rec.Body)
	}
	if got := field(t, db.Pool, "samples", "status", onlyLegacy); got != "prep" {
		t.Fatalf("status %q after the rescued update", got)
	}
	// Deleted on the new side, not relayed: legacy's row is stale.
	if rec := post(svc.Handler(), "nanopore.delete", `"`+onlyLegacy+`"`); rec.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	rec := post(svc.Handler(), "nanopore.assign", `{"id":"`+onlyLegacy+`","assignedTo":"Al Smith"}`)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Sample not found") {
		t.Fatalf("write of a deleted sample: %d %s", rec.Code, rec.Body)
	}
	if rec := post(svc.Handler(), "nanopore.delete", `"00000000-0000-4000-8000-000000000000"`); rec.Code != http.StatusNotFound {
		t.Fatalf("delete of a sample nobody has: %d %s", rec.Code, rec.Body)
	}
}
