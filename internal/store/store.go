// Package store opens the proxy's PostgreSQL pools and applies the embedded
// migrations of package migrations.
package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune a pool; zero fields take defaults.
type Options struct {
	// ApplicationName shows in pg_stat_activity (default "strangler").
	ApplicationName string
	// MaxConns caps the pool (default pgx's: max(4, NumCPU)); a
	// pool_max_conns parameter in the URL is more specific and wins.
	MaxConns int32
}

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.ApplicationName == "" {
		opts.ApplicationName = "strangler"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	if opts.MaxConns > 0 && !strings.Contains(url, "pool_max_conns=") {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	return pool, nil
}

// Redact returns url without its password, for messages and logs.
func Redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "(unparsable database url)"
	}
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
