package dualwrite

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Rescue returns a group's missing-row hook for its service (for samples,
// samples.Service.SetMissing). The service calls it when a write it runs
// as the primary names a sample its store lacks. Right after a flip to new
// that sample may be one legacy wrote an instant before, whose converge
// has not run yet; the hook then copies it from legacy, under the
// sample's lock, and the service runs the write once more. It copies only
// when legacy has the sample and no relay row of it is pending (otherwise
// legacy's row is the stale one: a delete on the new side not yet
// relayed).
func (w *Writer) Rescue(group string) func(ctx context.Context, id string) bool {
	g := w.groups[group]
	if g == nil {
		return func(context.Context, string) bool { return false }
	}
	root := g.spec.Root()
	inNew := "SELECT EXISTS (SELECT 1 FROM " + qualified(g.spec.NewSchema, root.Name) + " WHERE " + quoteIdent(root.Key) + " = $1::uuid)"
	pending := "SELECT EXISTS (SELECT 1 FROM " + qualified(g.spec.NewSchema, g.spec.Outbox) +
		" WHERE aggregate_id = $1::uuid AND applied_at IS NULL AND dead_at IS NULL)"
	inLegacy := "SELECT EXISTS (SELECT 1 FROM " + qualified(g.spec.LegacySchema, root.Name) + " WHERE " + quoteIdent(root.Key) + " = $1::uuid)"
	return func(ctx context.Context, id string) bool {
		u, err := uuid.Parse(id)
		if err != nil {
			return false
		}
		id = u.String()
		rescued := false
		err = pgx.BeginFunc(ctx, w.opts.Stores.New, func(tx pgx.Tx) error {
			if err := g.c.lock(ctx, tx, []string{id}); err != nil {
				return err
			}
			var here, relaying, there bool
			if err := tx.QueryRow(ctx, inNew, id).Scan(&here); err != nil || here {
				rescued = here // converged meanwhile
				return err
			}
			if err := tx.QueryRow(ctx, pending, id).Scan(&relaying); err != nil || relaying {
				return err
			}
			// Never a second connection of the pool this transaction holds
			// one of: concurrent rescues would wait for each other.
			var legacy querier = w.opts.Stores.Legacy
			if w.opts.Stores.shared() {
				legacy = tx
			}
			if err := queryRow(ctx, legacy, inLegacy, id).Scan(&there); err != nil || !there {
				return err
			}
			failed, err := g.c.sync(ctx, tx, SideNew, []string{id}, guard{})
			rescued = err == nil && failed == nil
			return err
		})
		if err != nil {
			w.log.Warn().Err(err).Str("id", id).Msg("rescue of a sample the new store lacks")
			return false
		}
		if rescued {
			w.m.converge.WithLabelValues(group, "rescued").Inc()
		}
		return rescued
	}
}

// queryRow is QueryRow through a querier.
func queryRow(ctx context.Context, q querier, sql string, args ...any) pgx.Row {
	rows, err := q.Query(ctx, sql, args...)
	return rowOf{rows, err}
}

// rowOf scans the first row of rows, as pgx.Row does.
type rowOf struct {
	rows pgx.Rows
	err  error
}

func (r rowOf) Scan(dst ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dst...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
