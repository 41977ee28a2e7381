package flags

import (
	"context"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

func migrated(t *testing.T, url string) *Store {
	t.Helper()
	pool := testutil.Pool(t, url)
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return &Store{Pool: pool}
}

func TestApplyRecordsHistoryAndSkipsNoops(t *testing.T) {
	ctx := context.Background()
	st := migrated(t, testutil.CreateDB(t))
	meta := Meta{Actor: "ann", Reason: "try canary", Source: "cli"}
	v1, out, err := st.Apply(ctx, []Change{{Key: "nanopore.getAll", Mode: "canary", Percent: 10}}, meta)
	if err != nil || !out[0].Applied || out[0].Before != nil {
		t.Fatalf("first flip: %v %+v", err, out)
	}
	_, out, err = st.Apply(ctx, []Change{{Key: "nanopore.getAll", Mode: "canary", Percent: 10}}, meta)
	if err != nil || out[0].Applied || out[0].Skipped != "unchanged" {
		t.Fatalf("no-op flip: %v %+v", err, out)
	}
	v3, _, err := st.Apply(ctx, []Change{{Key: "nanopore.getAll", Mode: "legacy"}}, Meta{Actor: "bob", Reason: "rollback", Source: "cli"})
	if err != nil || v3 <= v1 {
		t.Fatalf("rollback: %v, versions %d then %d", err, v1, v3)
	}
	h, err := st.History(ctx, "nanopore.getAll", 10)
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %v %+v", err, h)
	}
	if h[0].Actor != "bob" || h[0].Before == nil || h[0].Before.Mode != "canary" || h[0].Before.Percent != 10 || h[0].After.Mode != "legacy" {
		t.Errorf("newest entry: %+v", h[0])
	}
	if h[1].Before != nil || h[1].After != (State{"canary", 10}) || h[1].Reason != "try canary" {
		t.Errorf("oldest entry: %+v", h[1])
	}
	if _, _, err := st.Apply(ctx, []Change{{Key: "k", Mode: "sideways"}}, meta); err == nil {
		t.Error("an unknown mode was accepted")
	}
	if _, _, err := st.Apply(ctx, []Change{{Key: "k", Mode: "new"}}, Meta{Actor: "x"}); err == nil {
		t.Error("a change without a reason was accepted")
	}
}

func TestConditionalChangeLosesUnlessRollback(t *testing.T) {
	ctx := context.Background()
	st := migrated(t, testutil.CreateDB(t))
	meta := Meta{Actor: "a", Reason: "r", Source: "cli"}
	base, _, _ := st.Apply(ctx, []Change{{Key: "k", Mode: "shadow"}}, meta)
	_, _, _ = st.Apply(ctx, []Change{{Key: "k", Mode: "new"}}, meta) // made meanwhile

	_, out, err := st.Apply(ctx, []Change{{Key: "k", Mode: "canary", Percent: 5, Conditional: true, BaseVersion: base}}, meta)
	if err != nil || out[0].Applied {
		t.Fatalf("a stale flip overwrote a newer change: %v %+v", err, out)
	}
	_, out, err = st.Apply(ctx, []Change{{Key: "k", Mode: "legacy", Conditional: true, BaseVersion: base}}, meta)
	if err != nil || !out[0].Applied {
		t.Fatalf("a stale rollback must still win: %v %+v", err, out)
	}
}

// TestSyncerHearsChangesThroughOpenFeature: a change written by another
// process reaches an OpenFeature client through LISTEN/NOTIFY and a
// configuration-changed event.
func TestSyncerHearsChangesThroughOpenFeature(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := testutil.CreateDB(t)
	st := migrated(t, url)
	p := NewProvider()
	sy := &Syncer{Store: st, Provider: p, ConnString: url, Log: zerolog.Nop()}
	go sy.Run(ctx)
	testutil.Eventually(t, 30*time.Second, "listener connected", sy.Connected)

	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		t.Fatal(err)
	}
	client := api.NewClient()
	changed := make(chan []string, 8)
	cb := func(d of.EventDetails) { changed <- d.FlagChanges }
	client.AddHandler(of.ProviderConfigChange, &cb)

	other := migrated(t, url) // a second "process"
	if _, _, err := other.Apply(ctx, []Change{{Key: "nanopore.getAll", Mode: "canary", Percent: 20}}, Meta{Actor: "x", Reason: "r", Source: "cli"}); err != nil {
		t.Fatal(err)
	}
	select {
	case keys := <-changed:
		if len(keys) != 1 || keys[0] != "nanopore.getAll" {
			t.Errorf("event names %v", keys)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no configuration-changed event")
	}
	v, err := client.ObjectValue(ctx, "nanopore.getAll", nil, of.EvaluationContext{})
	m, _ := v.(map[string]any)
	if err != nil || m["mode"] != "canary" || m["percent"] != int64(20) {
		t.Fatalf("evaluated %v, %v", v, err)
	}
	mode, err := client.StringValue(ctx, "never.set", "legacy", of.EvaluationContext{})
	if mode != "legacy" || err == nil {
		t.Errorf("unknown flag: %q, %v (want the default and a not-found error)", mode, err)
	}
}
