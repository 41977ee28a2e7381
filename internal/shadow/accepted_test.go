package shadow

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/testutil"
)

// TestDeclaredDifferencesAreAcceptedOnEveryReplica: a difference declared
// through the store (as the console does) is a mismatch before, accepted
// after the shadower reloads, and a mismatch again once removed.
func TestDeclaredDifferencesAreAcceptedOnEveryReplica(t *testing.T) {
	pool := migratedPool(t)
	st := &Store{Pool: pool}
	r := newRig(t, func(c *config.Shadow) { c.Accepted = nil }, Options{Store: st})
	r.start(t)
	legacy := fixed(200, "application/json", `{"name":"a","n":1}`)
	next := fixed(200, "application/json", `{"name":"b","n":1}`)
	h := r.serve(pathInfo("shadow", true), legacy, next, Handler(legacy), Handler(next))
	send := func(outcome string, want float64) {
		t.Helper()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
		testutil.Eventually(t, 20*time.Second, outcome+" counted", func() bool { return r.outcome("page", "", outcome) == want })
	}
	send(OutcomeMismatch, 1)

	ctx := context.Background()
	d := Declared{Route: "page", Path: "$.name", Reason: "names are fixed", Owner: "samples",
		Expires: time.Now().Add(24 * time.Hour), CreatedBy: "oidc:ann@lab.org", RecordID: 7}
	id, err := st.Declare(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sh.ReloadDeclared(ctx); err != nil {
		t.Fatal(err)
	}
	send(OutcomeAccepted, 1)

	list, err := st.DeclaredList(ctx, false)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].CreatedBy != "oidc:ann@lab.org" || list[0].RecordID != 7 {
		t.Fatalf("list: %+v %v", list, err)
	}
	removed, err := st.Undeclare(ctx, id, "token:ci")
	if err != nil || removed.RemovedBy != "token:ci" || removed.RemovedAt == nil {
		t.Fatalf("undeclare: %+v %v", removed, err)
	}
	if _, err := st.Undeclare(ctx, id, "token:ci"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second undeclare: %v", err)
	}
	if err := r.sh.ReloadDeclared(ctx); err != nil {
		t.Fatal(err)
	}
	send(OutcomeMismatch, 2)
	all, err := st.DeclaredList(ctx, true)
	if err != nil || len(all) != 1 || all[0].RemovedBy != "token:ci" {
		t.Fatalf("history: %+v %v", all, err)
	}
}

func TestDeclaredIsChecked(t *testing.T) {
	now := time.Now()
	ok := Declared{Route: "r", Path: "$.x", Reason: "why", Owner: "o", Expires: now.Add(time.Hour)}
	if err := ok.Check(now); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(d *Declared){
		"route":   func(d *Declared) { d.Route = " " },
		"path":    func(d *Declared) { d.Path = "name" },
		"reason":  func(d *Declared) { d.Reason = "" },
		"owner":   func(d *Declared) { d.Owner = "" },
		"expires": func(d *Declared) { d.Expires = now.Add(-time.Minute) },
	}
	for field, mod := range cases {
		d := ok
		mod(&d)
		err := d.Check(now)
		var inv *InvalidDeclared
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), field+":") {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := (&Store{}).Declare(context.Background(), Declared{}); err == nil {
		t.Error("an empty declaration was stored")
	}
}
