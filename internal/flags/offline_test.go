package flags

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/testutil"
)

// TestRollbackWhileDatabaseDownIsWrittenWhenItReturns runs a private
// cluster, stops it, rolls back on the replica (applied in memory at once),
// starts it again and checks the rollback reached the database, winning over
// a flip made by another process meanwhile... and that a plain flip made
// offline loses to a newer database change.
func TestRollbackWhileDatabaseDownIsWrittenWhenItReturns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := testutil.StartCluster(t)
	url := cl.CreateDB("flags")
	st := migrated(t, url)
	meta := Meta{Actor: "eng", Reason: "cutover", Source: "cli"}
	if _, _, err := st.Apply(ctx, []Change{{Key: "a", Mode: "new"}, {Key: "b", Mode: "shadow"}}, meta); err != nil {
		t.Fatal(err)
	}
	p := NewProvider()
	sy := &Syncer{Store: st, Provider: p, ConnString: url, Log: zerolog.Nop(), WriteTimeout: 500 * time.Millisecond}
	go sy.Run(ctx)
	testutil.Eventually(t, 30*time.Second, "listener connected", sy.Connected)

	cl.Stop()
	testutil.Eventually(t, 30*time.Second, "listener noticed the outage", func() bool { return !sy.Connected() })

	res, err := sy.Apply(ctx, []Change{{Key: "a", Mode: "legacy"}}, Meta{Actor: "sre", Reason: "outage rollback", Source: "admin-api"})
	if err != nil || !res.Local {
		t.Fatalf("rollback with the database down: %v %+v", err, res)
	}
	if f, _ := p.Snapshot().Get("a"); f.Mode != "legacy" || !f.Local {
		t.Fatalf("rollback not applied in memory: %+v", f)
	}
	if _, err := sy.Apply(ctx, []Change{{Key: "b", Mode: "canary", Percent: 30}}, Meta{Actor: "eng", Reason: "offline flip", Source: "admin-api"}); err != nil {
		t.Fatal(err)
	}

	// Meanwhile another process changes both flags: the cluster runs on
	// another port for it, so that this replica still sees the outage.
	alt := testutil.FreePort(t)
	cl.StartOnPort(alt)
	other := migrated(t, cl.URLOnPort(alt, "flags"))
	if _, _, err := other.Apply(ctx, []Change{{Key: "a", Mode: "canary", Percent: 50}, {Key: "b", Mode: "new"}}, meta); err != nil {
		t.Fatal(err)
	}
	other.Pool.Close()
	cl.Stop()
	cl.Start()
	other = migrated(t, url)
	testutil.Eventually(t, 60*time.Second, "queued changes written", func() bool { return sy.Connected() && sy.Pending() == 0 })

	db, err := other.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f := db.Flags["a"]; f.Mode != "legacy" {
		t.Errorf("offline rollback must win over the change made meanwhile; database has %+v", f)
	}
	if f := db.Flags["b"]; f.Mode != "new" {
		t.Errorf("an offline flip must lose to a newer change; database has %+v", f)
	}
	testutil.Eventually(t, 30*time.Second, "replica converged", func() bool {
		a, _ := p.Snapshot().Get("a")
		b, _ := p.Snapshot().Get("b")
		return a.Mode == "legacy" && !a.Local && b.Mode == "new"
	})
	h, _ := other.History(ctx, "a", 1)
	if len(h) != 1 || h[0].Source != "replay" || h[0].Actor != "sre" {
		t.Errorf("the replayed rollback is not attributed: %+v", h)
	}
}
