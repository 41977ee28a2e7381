package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// runDiffs runs the CLI with the diffs command registered (root.go may not
// register it yet).
func runDiffs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb}
	root := c.root()
	if sub, _, err := root.Find([]string{"diffs"}); err != nil || sub == root {
		root.AddCommand(c.diffsCmd())
	}
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	code := exitOK
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(&errb, "strangler:", err)
		code = exitFailed
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return code, out.String(), errb.String()
}

func TestDiffsCommand(t *testing.T) {
	db := testutil.CreateDB(t)
	pool := testutil.Pool(t, db)
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "database_url: \""+db+"\"\n")

	code, out, errOut := runDiffs(t, "diffs", "--config", cfg)
	if code != 0 || !strings.Contains(out, "no mismatches") {
		t.Fatalf("empty: exit %d: %s%s", code, out, errOut)
	}
	st := &shadow.Store{Pool: pool}
	var id int64
	for i := 0; i < 2; i++ {
		var err error
		id, err = st.Insert(context.Background(), &shadow.Record{
			Route: "nanopore.getAll", Procedure: "nanopore.getAll", PrimarySide: "legacy", Method: "GET",
			Path: "/api/trpc/nanopore.getAll", LegacyStatus: 200, NewStatus: 200,
			LegacyBody: `{"result":{"data":[{"sample_name":"a"}]}}`, NewBody: `{"result":{"data":[{"sample_name":"b"}]}}`,
			Paths: []string{"$[*].sample_name"},
			Diffs: []shadow.Diff{{Path: "$[0].sample_name", General: "$[*].sample_name", Kind: "changed", Legacy: `"a"`, New: `"b"`, Class: shadow.ClassMismatch}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runDiffs(t, "diffs", "--config", cfg, "--since", "2h")
	if code != 0 || !strings.Contains(out, "nanopore.getAll  nanopore.getAll  $[*].sample_name  2") || !strings.Contains(out, `"a"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runDiffs(t, "diffs", "--config", cfg, "--json", "--route", "nanopore.getAll")
	var rep shadow.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Groups) != 1 || rep.Groups[0].Count != 2 {
		t.Fatalf("json: exit %d: %s", code, out)
	}
	code, out, _ = runDiffs(t, "diffs", "--config", cfg, "--route", "health")
	if code != 0 || !strings.Contains(out, "no mismatches") {
		t.Fatalf("other route: exit %d: %s", code, out)
	}
	code, out, _ = runDiffs(t, "diffs", "show", fmt.Sprint(id), "--config", cfg)
	if code != 0 || !strings.Contains(out, "mismatch #"+fmt.Sprint(id)) || !strings.Contains(out, `|       {`) && !strings.Contains(out, `"sample_name": "b"`) {
		t.Fatalf("show: exit %d:\n%s", code, out)
	}
	if code, _, _ = runDiffs(t, "diffs", "show", "999999", "--config", cfg); code != exitUsage {
		t.Fatalf("show of a missing record: exit %d", code)
	}
	if code, _, _ = runDiffs(t, "diffs", "--config", cfg, "--since", "soon"); code != exitUsage {
		t.Fatalf("bad --since: exit %d", code)
	}
	noDB := writeConfig(t, "database_url: \"\"\n")
	if code, _, _ = runDiffs(t, "diffs", "--config", noDB); code != exitUsage {
		t.Fatalf("no database: exit %d", code)
	}
	down := writeConfig(t, "database_url: \"postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2\"\n")
	if code, _, _ = runDiffs(t, "diffs", "--config", down); code != exitFailed {
		t.Fatalf("unreachable database: exit %d", code)
	}
}
