package flags

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/testutil"
)

func TestFileSourceAppliesRecordsAndFollowsHandEdits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "flags.yaml")
	p := NewProvider()
	fs := &FileSource{Path: path, Provider: p, Log: zerolog.Nop()}
	if err := fs.Reload(); err != nil {
		t.Fatalf("a missing file is an empty set: %v", err)
	}
	res, err := fs.Apply(ctx, []Change{{Key: "nanopore.getAll", Mode: "canary", Percent: 5}}, Meta{Actor: "ann", Reason: "try", Source: "admin-api"})
	if err != nil || len(res.Outcomes) != 1 || !res.Outcomes[0].Applied {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if f, _ := p.Snapshot().Get("nanopore.getAll"); f.Mode != "canary" || f.Percent != 5 || f.ChangedBy != "ann" {
		t.Fatalf("provider holds %+v", f)
	}
	h, err := fs.History(ctx, "nanopore.getAll", 10)
	if err != nil || len(h) != 1 || h[0].Reason != "try" {
		t.Fatalf("history: %v %+v", err, h)
	}
	go func() { _ = fs.Run(ctx) }()
	testutil.Eventually(t, 30*time.Second, "watcher started", fs.Watching)
	// Edit by hand (atomically, as editors do) and wait for the watcher.
	if err := os.WriteFile(path+".tmp", []byte("flags:\n  nanopore.getAll: {mode: new}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "hand edit picked up", func() bool {
		f, _ := p.Snapshot().Get("nanopore.getAll")
		return f.Mode == "new"
	})
	if err := os.WriteFile(path+".tmp", []byte("flags:\n  x: {mode: sideways}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	if err := fs.Reload(); err == nil {
		t.Error("a flags file with an unknown mode was accepted")
	}
	if f, _ := p.Snapshot().Get("nanopore.getAll"); f.Mode != "new" {
		t.Errorf("a bad file replaced the flags: %+v", f)
	}
}
