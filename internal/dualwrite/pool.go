package dualwrite

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPool opens a pool of the dual writes' own (so that their backlog
// never takes the connections users wait on) on url. On the coordination
// database (durable false) its sessions commit without waiting for the
// WAL flush (synchronous_commit = off): an intent or a converge is then
// visible at once and survives any proxy crash, and only a crash of
// PostgreSQL itself within its WAL writer's delay can lose one, which
// reconcile repairs; users' writes stop paying a flush for it. Writes into
// the legacy database of its own (durable true) keep the server's
// setting, since a relayed row is marked applied only after it committed.
func OpenPool(ctx context.Context, url string, maxConns int32, durable bool) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["application_name"] = "strangler-dualwrite"
	if !durable {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}
