package samples

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/trpc"
)

// A secondary execution (dualwrite.WithSecondary) is the proxy replaying,
// for comparison, a write legacy has already answered. It runs exactly as
// a primary call would (same statements, legacy's id for a create, no
// outbox row), inside a transaction that is rolled back once its answer is
// encoded: the answer is compared, and the rows are then written by the
// proxy's converge, which copies exactly what legacy stored. Nothing the
// replay does survives it, so a replay that runs late (after a later
// converge of the same sample, or whose converge was lost with its proxy)
// cannot leave the new store different from legacy.

// dbtx runs statements: the pool, or a secondary execution's transaction.
type dbtx interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type txKey struct{}

// db returns the secondary execution's transaction, or the pool.
func (s *Service) db(ctx context.Context) dbtx {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return s.pool
}

// rolledBack runs a mutation's handler in a transaction it rolls back when
// ctx marks a secondary execution; the answer is encoded before that.
func (s *Service) rolledBack(h trpc.Handler) trpc.Handler {
	return func(ctx context.Context, in trpc.Input) (any, error) {
		if _, secondary := dualwrite.SecondaryFrom(ctx); !secondary {
			return h(ctx, in)
		}
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, mapError(err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to keep
		out, err := h(context.WithValue(ctx, txKey{}, tx), in)
		if err != nil {
			return nil, err
		}
		if sd, ok := out.(trpc.StreamData); ok {
			var buf bytes.Buffer
			if err := sd.WriteData(&buf); err != nil {
				return nil, mapError(err)
			}
			return buf.Bytes(), nil
		}
		return out, nil
	}
}
