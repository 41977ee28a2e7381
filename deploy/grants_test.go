package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/testutil"
)

// TestGrantsSufficeForANonSuperuserRole applies deploy/sql/ to a fresh
// role, a proxy database and a separate legacy database (the legacy
// stand-in's tables, owned by someone else), then does as that role what
// the proxy and the CLI do: migrate, flip and roll back, backfill, relay
// a new-side change into the legacy tables with their timestamps exact,
// and reconcile with no drift. Without the parameter grant the relay's
// copy is refused, which is why it is there.
func TestGrantsSufficeForANonSuperuserRole(t *testing.T) {
	ctx := context.Background()
	role := newRole(t)
	proxyDB, legacyDB := testutil.CreateDB(t), testutil.CreateDB(t)
	standin := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: legacyDB})
	psql(t, proxyDB, "sql/10-proxy-database.sql", role)
	psql(t, legacyDB, "sql/20-legacy-database.sql", role)
	proxyURL, legacyURL := asRole(t, proxyDB, role), asRole(t, legacyDB, role)

	env := []string{"STRANGLER_DATABASE_URL=" + proxyURL, "STRANGLER_LEGACY_DATABASE_URL=" + legacyURL,
		"STRANGLER_LEGACY_URL=" + standin.URL}
	for _, args := range [][]string{{"migrate"}, {"flip", "nanopore.getAll", "shadow", "--reason", "grants"},
		{"rollback", "--all", "--reason", "grants"}, {"history"}} {
		if out, err := runCLI(t, env, args...); err != nil {
			t.Fatalf("strangler %s as %s: %v\n%s", strings.Join(args, " "), role, err, out)
		}
	}

	id := createLegacySample(t, standin.URL)
	stores := dualwrite.Stores{Legacy: testutil.Pool(t, legacyURL), New: testutil.Pool(t, proxyURL)}
	res, err := dualwrite.Backfill(ctx, dualwrite.BackfillOptions{Spec: dualwrite.Samples, Stores: stores})
	if err != nil || res.Copied == 0 {
		t.Fatalf("backfill as %s: %+v %v", role, res, err)
	}
	changeOnNewSide(t, stores.New, id, "Relayed")
	relay, err := dualwrite.NewRelay(dualwrite.RelayOptions{Spec: dualwrite.Samples, Stores: stores, Replica: "grants"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.Drain(ctx); err != nil {
		t.Fatalf("relay as %s: %v", role, err)
	}
	wantRelayed(t, stores, id, "Relayed")
	rep, err := dualwrite.Reconcile(ctx, dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: stores})
	if err != nil || rep.Total != 0 {
		t.Fatalf("reconcile as %s: %v, drift %+v", role, err, rep)
	}

	admin(t, legacyDB, `REVOKE SET ON PARAMETER session_replication_role FROM `+pgx.Identifier{role}.Sanitize())
	changeOnNewSide(t, stores.New, id, "Refused")
	_, _ = relay.Drain(ctx)
	var lastErr string
	if err := stores.New.QueryRow(ctx, `SELECT last_error FROM samples.outbox ORDER BY id DESC LIMIT 1`).Scan(&lastErr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastErr, "session_replication_role") {
		t.Errorf("without the parameter grant the relay's error is %q; want it refused on session_replication_role", lastErr)
	}
}

// newRole creates a login role with deploy/sql/00-role.sql and drops it
// when the test ends (after its databases: cleanups run last first).
func newRole(t *testing.T) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "strangler_grants_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testutil.AdminURL())
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		id := pgx.Identifier{role}.Sanitize()
		for _, q := range []string{"REVOKE SET ON PARAMETER session_replication_role FROM " + id, "DROP ROLE " + id} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Logf("%s: %v", q, err)
			}
		}
	})
	psql(t, testutil.AdminURL(), "sql/00-role.sql", role)
	return role
}

// psql runs one of deploy/sql/ as the administrator, as the docs say.
func psql(t *testing.T, dbURL, file, role string) {
	t.Helper()
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "role="+role,
		"-d", dbURL, "-f", filepath.Join(deployDir(t), file))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", file, err, out)
	}
}

func admin(t *testing.T, dbURL, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// asRole is dbURL with the role as its user.
func asRole(t *testing.T, dbURL, role string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

func runCLI(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testutil.StranglerBinary(t), append(args, "--config", filepath.Join(testutil.RepoRoot(t), "config", "strangler.yaml"))...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// createLegacySample creates a sample through the legacy app's API.
func createLegacySample(t *testing.T, legacy string) string {
	t.Helper()
	resp, err := http.Post(legacy+"/api/trpc/nanopore.create", "application/json", strings.NewReader(createInput))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result struct{ Data struct{ ID string } } `json:"result"`
	}
	if err := decodeJSON(resp, &env); err != nil || env.Result.Data.ID == "" {
		t.Fatalf("create a legacy sample: %d %v", resp.StatusCode, err)
	}
	return env.Result.Data.ID
}

// changeOnNewSide writes what the samples service writes in new mode: the
// change and its outbox row in one statement.
func changeOnNewSide(t *testing.T, pool *pgxpool.Pool, id, name string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `WITH c AS (
  UPDATE samples.nanopore_samples SET sample_name = $2 WHERE id = $1 RETURNING id)
INSERT INTO samples.outbox (aggregate_id, tbl, row_id, op) SELECT id, 'nanopore_samples', id, 'upsert' FROM c`, id, name)
	if err != nil {
		t.Fatalf("new-side change: %v", err)
	}
}

// wantRelayed: legacy holds the new side's row exactly, updated_at
// included (legacy's trigger would have rewritten it without the replica
// role), and the outbox row is applied.
func wantRelayed(t *testing.T, stores dualwrite.Stores, id, name string) {
	t.Helper()
	ctx := context.Background()
	var newAt, legacyAt time.Time
	var legacyName string
	if err := stores.New.QueryRow(ctx, `SELECT updated_at FROM samples.nanopore_samples WHERE id = $1`, id).Scan(&newAt); err != nil {
		t.Fatal(err)
	}
	if err := stores.Legacy.QueryRow(ctx, `SELECT sample_name, updated_at FROM public.nanopore_samples WHERE id = $1`, id).
		Scan(&legacyName, &legacyAt); err != nil {
		t.Fatal(err)
	}
	if legacyName != name || !legacyAt.Equal(newAt) {
		t.Errorf("legacy row: %q at %s; want %q at %s", legacyName, legacyAt, name, newAt)
	}
	var pending int
	if err := stores.New.QueryRow(ctx, `SELECT count(*) FROM samples.outbox WHERE applied_at IS NULL`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("outbox rows not applied: %d %v", pending, err)
	}
}

func decodeJSON(resp *http.Response, v any) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
