package samples

import (
	"context"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/migrations"
)

// MustTestDB creates a database of its own (testutil.CreateDB: dropped when
// the test ends, a loud failure when PostgreSQL is missing) and, when
// migrate is set, applies the SQL files of migrations/samples to it in name
// order, one transaction each, as `strangler migrate` does.
func MustTestDB(tb testing.TB, migrate bool) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(testutil.CreateDB(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	if migrate {
		MustMigrate(tb, pool)
	}
	return pool
}

// MustMigrate runs migrations/samples/*.sql in order, each in a transaction.
func MustMigrate(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	files, err := fs.Glob(migrations.FS, "samples/*.sql")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no samples migrations: %v", err)
	}
	slices.Sort(files)
	ctx := context.Background()
	for _, f := range files {
		sql, err := fs.ReadFile(migrations.FS, f)
		if err != nil {
			tb.Fatal(err)
		}
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, string(sql))
			return err
		})
		if err != nil {
			tb.Fatalf("apply %s: %v", f, err)
		}
	}
}

// MustService returns a Service on a fresh migrated database, with a clock
// the test controls when now is not nil.
func MustService(tb testing.TB, now func() time.Time) (*Service, *pgxpool.Pool) {
	tb.Helper()
	pool := MustTestDB(tb, true)
	svc, err := New(Options{Pool: pool, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(svc.Close)
	return svc, pool
}
