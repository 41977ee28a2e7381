package dualwrite

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// intent is one legacy-primary write of one group: what the proxy knows of
// it, stored in strangler.dualwrite_intents before legacy sees the request.
type intent struct {
	ID         string
	Group      string
	RequestID  string
	Procedures []string
	Input      string
	// IDs are the aggregates known to be affected; Refs name child rows
	// (table:key) whose aggregate is resolved at converge time.
	IDs, Refs []string
	// Creates counts creates whose key legacy has not told (a recovery
	// sweeps legacy's recent roots for them).
	Creates  int
	Answered bool
	Attempts int
	Created  time.Time
	// Stored: the row is in the database (false while it is down).
	Stored bool
}

// maxStoredInput caps the input kept in an intent row.
const maxStoredInput = 64 << 10

const intentColumns = `id::text, grp, request_id, procedures, input, ids, refs, creates, answered, attempts, created_at`

func scanIntent(row pgx.CollectableRow) (*intent, error) {
	in := &intent{Stored: true}
	err := row.Scan(&in.ID, &in.Group, &in.RequestID, &in.Procedures, &in.Input, &in.IDs, &in.Refs,
		&in.Creates, &in.Answered, &in.Attempts, &in.Created)
	return in, err
}

// intents reads and writes strangler.dualwrite_intents.
type intents struct {
	db      *pgxpool.Pool
	replica string
}

// insert stores a new intent whose lease runs until leaseEnd.
func (s intents) insert(ctx context.Context, in *intent, lease time.Duration) error {
	_, err := s.db.Exec(ctx, `INSERT INTO strangler.dualwrite_intents
 (id, grp, request_id, replica, procedures, input, ids, refs, creates, answered, attempts, created_at, next_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now() + $13 * interval '1 millisecond')`,
		in.ID, in.Group, in.RequestID, s.replica, in.Procedures, capInput(in.Input), nonNil(in.IDs), nonNil(in.Refs),
		in.Creates, in.Answered, in.Attempts, in.Created, lease.Milliseconds())
	if err != nil {
		return fmt.Errorf("store intent: %w", err)
	}
	return nil
}

// save records a failed attempt: the intent (inserted if the database was
// down when it began) is due again after the retry delay, or dead after
// the last attempt. It returns whether the intent is now dead.
func (s intents) save(ctx context.Context, in *intent, cause error, p Retry) (dead bool, err error) {
	err = s.db.QueryRow(ctx, `INSERT INTO strangler.dualwrite_intents AS i
 (id, grp, request_id, replica, procedures, input, ids, refs, creates, answered, attempts, created_at, next_at, last_error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
 now() + least($13 * power(2, greatest($11 - 1, 0)), $14) * interval '1 millisecond', $15)
ON CONFLICT (id) DO UPDATE SET ids = EXCLUDED.ids, refs = EXCLUDED.refs, creates = EXCLUDED.creates,
 answered = EXCLUDED.answered, attempts = greatest(i.attempts, EXCLUDED.attempts),
 next_at = EXCLUDED.next_at, last_error = EXCLUDED.last_error
RETURNING attempts >= $16`,
		in.ID, in.Group, in.RequestID, s.replica, in.Procedures, capInput(in.Input), nonNil(in.IDs), nonNil(in.Refs),
		in.Creates, in.Answered, max(in.Attempts, 1), in.Created, p.Base.Milliseconds(), p.Max.Milliseconds(),
		errText(cause), p.MaxAttempts).Scan(&dead)
	if err != nil {
		return false, fmt.Errorf("record intent failure: %w", err)
	}
	if dead {
		_, err = s.db.Exec(ctx, `UPDATE strangler.dualwrite_intents SET state = 'dead', dead_at = now() WHERE id = $1`, in.ID)
	}
	return dead, err
}

// done deletes a converged intent.
func (s intents) done(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM strangler.dualwrite_intents WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete intent: %w", err)
	}
	return nil
}

// claim takes up to limit due intents of groups, extending their lease so
// that no other replica takes them meanwhile, and counts the attempt.
func (s intents) claim(ctx context.Context, groups []string, limit int, lease time.Duration) ([]*intent, error) {
	rows, err := s.db.Query(ctx, `UPDATE strangler.dualwrite_intents
SET attempts = attempts + 1, next_at = now() + $3 * interval '1 millisecond'
WHERE id IN (SELECT id FROM strangler.dualwrite_intents
 WHERE grp = ANY($1) AND state = 'pending' AND next_at <= now()
 ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING `+intentColumns, groups, limit, lease.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim intents: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanIntent)
	if err != nil {
		return nil, fmt.Errorf("claim intents: %w", err)
	}
	return out, nil
}

// counts returns the pending and dead intents of a group.
func (s intents) counts(ctx context.Context, group string) (pending, dead int, err error) {
	err = s.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'dead')
FROM strangler.dualwrite_intents WHERE grp = $1`, group).Scan(&pending, &dead)
	return pending, dead, err
}

func capInput(s string) string {
	if len(s) > maxStoredInput {
		return s[:maxStoredInput]
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
