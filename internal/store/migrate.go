package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/migrations"
)

// migrateLockKey is the advisory lock that serialises migrators, so that
// replicas starting together can all run `strangler migrate` safely.
const migrateLockKey = 0x5354524e47 // "STRNG"

// Migration is one embedded SQL file.
type Migration struct {
	Name     string // "strangler/0001_init.sql"
	SQL      string
	Checksum string
}

// Migrations lists the embedded migrations in the order they are applied.
func Migrations() ([]Migration, error) {
	return loadMigrations(migrations.FS, migrations.Order)
}

func loadMigrations(fsys fs.FS, order []string) ([]Migration, error) {
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if d.IsDir() && !slices.Contains(order, d.Name()) {
			return nil, fmt.Errorf("migrations/%s is not listed in migrations.Order", d.Name())
		}
	}
	var out []Migration
	for _, dir := range order {
		files, err := fs.Glob(fsys, dir+"/*.sql")
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(b)
			out = append(out, Migration{Name: path.Clean(f), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
		}
	}
	return out, nil
}

const bootstrapSQL = `
CREATE SCHEMA IF NOT EXISTS strangler;
CREATE TABLE IF NOT EXISTS strangler.schema_migrations (
	name       text PRIMARY KEY,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies every pending migration, one transaction each, holding an
// advisory lock so that concurrent migrators wait for each other. It returns
// the names it applied. An applied migration whose file changed is an error.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck
	if _, err := conn.Exec(ctx, bootstrapSQL); err != nil {
		return nil, fmt.Errorf("create strangler.schema_migrations: %w", err)
	}
	pending, err := pendingOn(ctx, conn.Conn(), all)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range pending {
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO strangler.schema_migrations (name, checksum) VALUES ($1, $2)", m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply %s: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// Pending returns the names of the migrations not yet applied to the database.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	pending, err := pendingOn(ctx, conn.Conn(), all)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(pending))
	for i, m := range pending {
		names[i] = m.Name
	}
	return names, nil
}

func pendingOn(ctx context.Context, conn *pgx.Conn, all []Migration) ([]Migration, error) {
	rows, err := conn.Query(ctx, "SELECT name, checksum FROM strangler.schema_migrations")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") {
		return all, nil // never migrated: no table, or no schema yet
	}
	if err != nil {
		return nil, fmt.Errorf("read strangler.schema_migrations: %w", err)
	}
	done := map[string]string{}
	var name, sum string
	_, err = pgx.ForEachRow(rows, []any{&name, &sum}, func() error {
		done[name] = sum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read strangler.schema_migrations: %w", err)
	}
	var pending []Migration
	var changed []string
	for _, m := range all {
		s, ok := done[m.Name]
		switch {
		case !ok:
			pending = append(pending, m)
		case s != m.Checksum:
			changed = append(changed, m.Name)
		}
	}
	if len(changed) > 0 {
		return nil, fmt.Errorf("applied migrations were edited afterwards (write a new migration instead): %s", strings.Join(changed, ", "))
	}
	return pending, nil
}
