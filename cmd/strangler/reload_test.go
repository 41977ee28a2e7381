package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/testutil"
)

// TestRouteTableReloadsWithoutDroppingRequests rewrites the config file
// while clients keep sending requests: a new deny route takes effect on file
// change, a broken file is refused (the running table stays), SIGHUP reloads
// too, and no request fails meanwhile.
func TestRouteTableReloadsWithoutDroppingRequests(t *testing.T) {
	legacy := newLegacyStub(t)
	shipped, err := os.ReadFile("../../config/strangler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "strangler.yaml")
	write := func(extra string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, append(append([]byte{}, shipped...), extra...), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	env := []string{"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0", "STRANGLER_LEGACY_URL=" + legacy.URL,
		"STRANGLER_DATABASE_URL=", "STRANGLER_FLAGS_FILE=" + filepath.Join(t.TempDir(), "flags.yaml"), "STRANGLER_LOG_ACCESS=false"}
	cfg, err := config.Load(config.Source{Path: path, Explicit: true, Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	m := NewMain(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	m.ConfigPath = path
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done; m.Close() }()

	var failures, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(m.PublicURL() + "/api/trpc/health")
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	status := func(path string) int {
		resp, err := http.Get(m.PublicURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	newDeny := "  - id: deny.samples-export\n    deny: true\n    match: {path: /api/export}\n"
	write(newDeny)
	testutil.Eventually(t, 30*time.Second, "the new deny route after a file change", func() bool { return status("/api/export") == 403 })
	hash := m.router.State().Table.Hash

	write(newDeny + "  - id: broken\n    match: {path: /x, prefix: /x}\n")
	if m.Reload("test") {
		t.Error("a table that does not compile was accepted")
	}
	if m.router.State().Table.Hash != hash || status("/api/export") != 403 {
		t.Error("a refused reload changed the running table")
	}

	write("")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the deny route gone after SIGHUP", func() bool { return status("/api/export") == 200 })
	close(stop)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during reloads", n, sent.Load())
	}
	t.Logf("%d requests during reloads, none failed", sent.Load())
}
