package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

const testToken = "test-admin-token"

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// legacyStub is an HTTP legacy that counts what reaches it.
type legacyStub struct {
	*httptest.Server
	hits  atomic.Int64
	paths chan string
}

func newLegacyStub(t *testing.T) *legacyStub {
	t.Helper()
	s := &legacyStub{paths: make(chan string, 1024)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		select {
		case s.paths <- r.Method + " " + r.RequestURI:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":{"data":"legacy"}}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// startReplica runs one in-process proxy on dbURL in front of legacy.
func startReplica(t *testing.T, legacy, dbURL string) *Main {
	t.Helper()
	cfg, err := config.Load(config.Source{Path: "../../config/strangler.yaml", Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.LegacyURL, cfg.DatabaseURL = legacy, dbURL
	cfg.AdminTokenHashes = []string{tokenHash(testToken)}
	cfg.Log.Access = false
	return runMain(t, cfg)
}

// sideOf asks a replica, with the admin token, which side answers getAll.
func sideOf(t *testing.T, m *Main) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.PublicURL()+"/api/trpc/nanopore.getAll", nil)
	req.Header.Set("X-Strangler-Token", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("X-Strangler-Target")
}

func migratedDB(t *testing.T) string {
	t.Helper()
	url := testutil.CreateDB(t)
	if _, err := store.Migrate(context.Background(), testutil.Pool(t, url)); err != nil {
		t.Fatal(err)
	}
	return url
}

// TestRollbackAllReachesEveryReplica runs three replicas on one database:
// a flip and then `strangler rollback --all` from the CLI (database only)
// reach all three, and denied routes stay denied throughout.
func TestRollbackAllReachesEveryReplica(t *testing.T) {
	legacy := newLegacyStub(t)
	db := migratedDB(t)
	reps := []*Main{startReplica(t, legacy.URL, db), startReplica(t, legacy.URL, db), startReplica(t, legacy.URL, db)}
	code, out, errOut := cliRun(t, db, "flip", "nanopore.getAll", "new", "--reason", "cutover")
	if code != 0 {
		t.Fatalf("flip: %d %s %s", code, out, errOut)
	}
	for _, m := range reps {
		testutil.Eventually(t, 30*time.Second, "replica on the new side", func() bool { return sideOf(t, m) == "service:samples" })
	}
	code, out, errOut = cliRun(t, db, "rollback", "--all", "--reason", "incident")
	if code != 0 {
		t.Fatalf("rollback: %d %s %s", code, out, errOut)
	}
	for _, m := range reps {
		testutil.Eventually(t, 30*time.Second, "replica back on legacy", func() bool { return sideOf(t, m) == "legacy" })
	}
	// Every replica reports the flags version it applied.
	code, out, _ = cliRun(t, db, "routes", "--json")
	if code != 0 {
		t.Fatal(out)
	}
	var v struct {
		FlagsVersion int64 `json:"flags_version"`
		Replicas     []struct {
			FlagsVersion  int64 `json:"flags_version"`
			ConfigDiffers bool  `json:"config_differs"`
		} `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "three heartbeats at the latest flags version", func() bool {
		_, out, _ := cliRun(t, db, "routes", "--json")
		_ = json.Unmarshal([]byte(out), &v)
		n := 0
		for _, r := range v.Replicas {
			if r.FlagsVersion == v.FlagsVersion && !r.ConfigDiffers {
				n++
			}
		}
		return n == 3
	})
	// Denied routes never reached legacy, before or after the rollback.
	before := legacy.hits.Load()
	for _, m := range reps {
		for _, target := range []string{"/api/migrate", "/api/%6Digrate/", "/api/audit-trail"} {
			resp, err := http.Get(m.PublicURL() + target)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s answered %d after rollback --all", target, resp.StatusCode)
			}
		}
	}
	if legacy.hits.Load() != before {
		t.Errorf("a denied request reached legacy")
	}
}

// TestAdminAPIRollsBackItsReplicaWithTheDatabaseDown stops a private
// cluster, rolls back through one replica's admin API (applied in memory at
// once, answered 202), and finds the rollback in the database once it is back.
func TestAdminAPIRollsBackItsReplicaWithTheDatabaseDown(t *testing.T) {
	legacy := newLegacyStub(t)
	cl := testutil.StartCluster(t)
	db := cl.CreateDB("strangler")
	if _, err := store.Migrate(context.Background(), testutil.Pool(t, db)); err != nil {
		t.Fatal(err)
	}
	m := startReplica(t, legacy.URL, db)
	if code, out, errOut := cliRun(t, db, "flip", "nanopore.getAll", "new", "--reason", "cutover"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	testutil.Eventually(t, 30*time.Second, "replica on the new side", func() bool { return sideOf(t, m) == "service:samples" })

	cl.Stop()
	testutil.Eventually(t, 30*time.Second, "listener noticed the outage", func() bool { return !m.flags.syncer.Connected() })
	resp := adminCall(t, m, http.MethodPost, "/api/rollback", `{"all":true,"reason":"database down, rolling back"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("rollback with the database down answered %d", resp.StatusCode)
	}
	if side := sideOf(t, m); side != "legacy" {
		t.Fatalf("after the local rollback the replica routes to %s", side)
	}
	cl.Start()
	testutil.Eventually(t, 60*time.Second, "rollback written to the database", func() bool {
		code, out, _ := cliRun(t, db, "history", "nanopore.getAll", "--json")
		return code == 0 && strings.Contains(out, `"source": "replay"`) && strings.Contains(out, "database down, rolling back")
	})
	if side := sideOf(t, m); side != "legacy" {
		t.Errorf("after the database returned the replica routes to %s", side)
	}
}

func TestAdminAPIRefusesWithoutTokenAndExplainsBadInput(t *testing.T) {
	legacy := newLegacyStub(t)
	m := startReplica(t, legacy.URL, migratedDB(t))
	req, _ := http.NewRequest(http.MethodGet, m.AdminURL()+"/api/routes", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	cases := []struct{ method, path, body, want string }{
		{http.MethodPut, "/api/routes/nanopore.getAll", `{"mode":"sideways","reason":"x"}`, `unknown mode \"sideways\"`},
		{http.MethodPut, "/api/routes/nanopore.getAll", `{"mode":"new"}`, "reason: a reason is required"},
		{http.MethodPut, "/api/routes/nope", `{"mode":"new","reason":"x"}`, `unknown route or write group \"nope\"`},
		{http.MethodPut, "/api/routes/nanopore.getAll", `{"mode":"new","reason":"x","percentt":3}`, `unknown field \"percentt\"`},
		{http.MethodPost, "/api/rollback", `{"reason":"x"}`, "give either routes or all"},
		{http.MethodPut, "/api/routes/deny.migrate-run", `{"mode":"new","reason":"x"}`, "deny is not a mode"},
	}
	for _, c := range cases {
		resp := adminCall(t, m, c.method, c.path, c.body)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s %s: %d %s (want 400 with %q)", c.method, c.path, c.body, resp.StatusCode, body, c.want)
		}
	}
}

func adminCall(t *testing.T, m *Main, method, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, m.AdminURL()+path, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// cliRun runs the CLI with the shipped configuration on database db.
func cliRun(t *testing.T, db string, args ...string) (int, string, string) {
	t.Helper()
	return run(t, []string{"STRANGLER_DATABASE_URL=" + db}, append(args, "--config", "../../config/strangler.yaml")...)
}
