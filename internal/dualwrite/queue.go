package dualwrite

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Queues of a write group, as `strangler outbox` shows them.
const (
	// QueueRelay is the service's outbox (new primary), applied to legacy.
	QueueRelay = "relay"
	// QueueIntent is the proxy's intents (legacy primary), converged into
	// the new store.
	QueueIntent = "intent"
)

// QueueRow is one pending or dead row of either queue.
type QueueRow struct {
	Queue string `json:"queue"`
	// ID is the row's id: a number for the relay, a uuid for an intent.
	ID    string `json:"id"`
	State string `json:"state"` // pending or dead
	// What names the change: table, op and sample for the relay; the
	// procedures and samples for an intent.
	What     string    `json:"what"`
	Attempts int       `json:"attempts"`
	Created  time.Time `json:"created_at"`
	Next     time.Time `json:"next_at"`
	Error    string    `json:"error,omitempty"`
}

// QueueFilter selects rows to list.
type QueueFilter struct {
	// DeadOnly lists dead rows only.
	DeadOnly bool
	// Limit caps each queue's rows (default 100).
	Limit int
}

// ListQueues lists the pending and dead rows of a group's two queues,
// oldest first.
func ListQueues(ctx context.Context, pool *pgxpool.Pool, spec *Spec, f QueueFilter) ([]QueueRow, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	ob := qualified(spec.NewSchema, spec.Outbox)
	relay, err := pool.Query(ctx, `SELECT 'relay', id::text, CASE WHEN dead_at IS NULL THEN 'pending' ELSE 'dead' END,
 tbl || ' ' || op || ' of ' || aggregate_id::text, attempts, created_at, next_at,
 CASE WHEN dead_at IS NULL THEN last_error ELSE dead_reason END
FROM `+ob+` WHERE applied_at IS NULL AND ($1 = false OR dead_at IS NOT NULL) ORDER BY id LIMIT $2`, f.DeadOnly, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list relay rows: %w", err)
	}
	out, err := pgx.CollectRows(relay, pgx.RowToStructByPos[QueueRow])
	if err != nil {
		return nil, fmt.Errorf("list relay rows: %w", err)
	}
	its, err := pool.Query(ctx, `SELECT 'intent', id::text, state,
 array_to_string(procedures, ',') || CASE WHEN cardinality(ids) > 0 THEN ' of ' || array_to_string(ids, ',') ELSE '' END,
 attempts, created_at, next_at, last_error
FROM strangler.dualwrite_intents WHERE grp = $1 AND ($2 = false OR state = 'dead') ORDER BY created_at LIMIT $3`,
		spec.Group, f.DeadOnly, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list intents: %w", err)
	}
	in, err := pgx.CollectRows(its, pgx.RowToStructByPos[QueueRow])
	if err != nil {
		return nil, fmt.Errorf("list intents: %w", err)
	}
	return append(out, in...), nil
}

// splitIDs sorts row ids into relay row ids (numbers) and intent ids
// (uuids); anything else is an error naming it.
func splitIDs(ids []string) (relay []int64, intent []string, err error) {
	for _, id := range ids {
		if n, perr := strconv.ParseInt(id, 10, 64); perr == nil {
			relay = append(relay, n)
			continue
		}
		if u, perr := uuid.Parse(id); perr == nil {
			intent = append(intent, u.String())
			continue
		}
		return nil, nil, fmt.Errorf("%q is neither a relay row (a number) nor an intent (a uuid)", id)
	}
	return relay, intent, nil
}

// RetryQueues makes rows due again with a fresh count of attempts: the
// rows named, or with allDead every dead row of the group. It returns how
// many rows it changed, and records each in strangler.dualwrite_audit.
func RetryQueues(ctx context.Context, pool *pgxpool.Pool, spec *Spec, ids []string, allDead bool, actor string) (int, error) {
	relay, intent, err := splitIDs(ids)
	if err != nil {
		return 0, err
	}
	ob := qualified(spec.NewSchema, spec.Outbox)
	return handleQueues(ctx, pool, spec, "retry", actor, "",
		`UPDATE `+ob+` SET dead_at = NULL, dead_reason = '', attempts = 0, next_at = now()
WHERE applied_at IS NULL AND (id = ANY($1) OR ($2 AND dead_at IS NOT NULL)) RETURNING id::text`, relay,
		`UPDATE strangler.dualwrite_intents SET state = 'pending', dead_at = NULL, attempts = 0, next_at = now()
WHERE grp = $3 AND (id::text = ANY($1) OR ($2 AND state = 'dead')) RETURNING id::text`, intent, allDead)
}

// DropQueues deletes rows the operator gives up on (reconcile repairs
// their drift), recording each with the reason.
func DropQueues(ctx context.Context, pool *pgxpool.Pool, spec *Spec, ids []string, allDead bool, reason, actor string) (int, error) {
	relay, intent, err := splitIDs(ids)
	if err != nil {
		return 0, err
	}
	ob := qualified(spec.NewSchema, spec.Outbox)
	return handleQueues(ctx, pool, spec, "drop", actor, reason,
		`DELETE FROM `+ob+` WHERE applied_at IS NULL AND (id = ANY($1) OR ($2 AND dead_at IS NOT NULL)) RETURNING id::text`, relay,
		`DELETE FROM strangler.dualwrite_intents WHERE grp = $3 AND (id::text = ANY($1) OR ($2 AND state = 'dead')) RETURNING id::text`,
		intent, allDead)
}

// handleQueues runs one statement on each queue and audits the rows.
func handleQueues(ctx context.Context, pool *pgxpool.Pool, spec *Spec, action, actor, reason string,
	relaySQL string, relay []int64, intentSQL string, intent []string, allDead bool) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var done []string
		for _, q := range []struct {
			name, sql string
			args      []any
		}{
			{QueueRelay, relaySQL, []any{nonNilInts(relay), allDead}},
			{QueueIntent, intentSQL, []any{nonNil(intent), allDead, spec.Group}},
		} {
			rows, err := tx.Query(ctx, q.sql, q.args...)
			if err != nil {
				return fmt.Errorf("%s %s rows: %w", action, q.name, err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("%s %s rows: %w", action, q.name, err)
			}
			for _, id := range ids {
				done = append(done, q.name+":"+id)
			}
		}
		n = len(done)
		_, err := tx.Exec(ctx, `INSERT INTO strangler.dualwrite_audit (actor, action, grp, row_key, reason)
SELECT $1, $2, $3, k, $4 FROM unnest($5::text[]) AS k`, actor, action, spec.Group, reason, done)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func nonNilInts(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}
