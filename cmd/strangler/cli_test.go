package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
)

// run executes the CLI in-process and returns its exit code and output.
func run(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, environ, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "strangler.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfig(t *testing.T) {
	code, out, _ := run(t, nil, "check-config", "--config", "../../config/strangler.yaml")
	if code != 0 || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("shipped config: exit %d, %q", code, out)
	}
	bad := writeConfig(t, "listen: nope\nlegacy_url: ftp://x\nupstream:\n  dial_timeout: soon\nextra: 1\n")
	code, _, errOut := run(t, []string{"STRANGLER_TYPO=1"}, "check-config", "--config", bad)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"listen:", "legacy_url:", "upstream.dial_timeout:", "extra: unknown key", "STRANGLER_TYPO: unknown environment variable"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestServeRefusesAPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := writeConfig(t, "database_url: \"\"\nlisten: \""+ln.Addr().String()+"\"\nadmin_listen: \"127.0.0.1:0\"\n")
	code, _, errOut := run(t, nil, "serve", "--config", cfg)
	if code != exitUsage || !strings.Contains(errOut, "listen: cannot listen on "+ln.Addr().String()+": bind: address already in use") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestMigrateIsIdempotentAndSafeToRace(t *testing.T) {
	db := testutil.CreateDB(t)
	cfg := writeConfig(t, "database_url: \""+db+"\"\n")

	code, _, errOut := run(t, nil, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "migrations are pending (run `strangler migrate`): strangler/0001_init.sql") {
		t.Fatalf("serve on an unmigrated database: exit %d: %s", code, errOut)
	}

	var wg sync.WaitGroup
	codes := make([]int, 4)
	outs := make([]string, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errb bytes.Buffer
			codes[i] = execute(context.Background(), []string{"migrate", "--config", cfg}, nil, &out, &errb)
			outs[i] = out.String() + errb.String()
		}()
	}
	wg.Wait()
	applied := 0
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("migrator %d: exit %d: %s", i, c, outs[i])
		}
		applied += strings.Count(outs[i], "applied strangler/0001_init.sql")
	}
	if applied != 1 {
		t.Errorf("the first migration was applied %d times by racing migrators", applied)
	}
	code, out, _ := run(t, nil, "migrate", "--database-url", db, "--config", cfg)
	if code != 0 || !strings.Contains(out, "database is up to date") {
		t.Fatalf("second migrate: exit %d: %s", code, out)
	}
}
