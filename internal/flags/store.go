package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NotifyChannel is the LISTEN/NOTIFY channel of flag changes; the payload is
// the new flags version.
const NotifyChannel = "strangler_flags"

// Store reads and writes flags in the `strangler` schema.
type Store struct {
	Pool *pgxpool.Pool
}

// Querier runs a query: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Load reads every flag.
func (s *Store) Load(ctx context.Context) (*Snapshot, error) { return LoadFrom(ctx, s.Pool) }

// LoadFrom reads every flag through q (the listener reads through its own
// connection, so that a busy pool never delays a rollback).
func LoadFrom(ctx context.Context, q Querier) (*Snapshot, error) {
	rows, err := q.Query(ctx, `SELECT key, mode, percent, version, changed_at, changed_by, reason FROM strangler.flags`)
	if err != nil {
		return nil, fmt.Errorf("read strangler.flags: %w", err)
	}
	snap := &Snapshot{Flags: map[string]Flag{}}
	var f Flag
	_, err = pgx.ForEachRow(rows, []any{&f.Key, &f.Mode, &f.Percent, &f.Version, &f.ChangedAt, &f.ChangedBy, &f.Reason}, func() error {
		snap.Flags[f.Key] = f
		snap.Version = max(snap.Version, f.Version)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read strangler.flags: %w", err)
	}
	return snap, nil
}

// Outcome says what Apply did with one change.
type Outcome struct {
	Change  Change `json:"change"`
	Applied bool   `json:"applied"`
	// Skipped explains a change that was not applied (unchanged, or lost a
	// conflict to a newer change).
	Skipped string `json:"skipped,omitempty"`
	Before  *State `json:"before,omitempty"`
}

// Apply writes changes in one transaction: each flag row, one history row per
// change, and one NOTIFY so that every replica reloads. All changes share one
// new version. A change equal to the current state is skipped.
func (s *Store) Apply(ctx context.Context, changes []Change, meta Meta) (version int64, out []Outcome, err error) {
	if meta.Reason == "" {
		return 0, nil, errors.New("a reason is required")
	}
	for _, c := range changes {
		if err := c.Validate(); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", c.Key, err)
		}
	}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT nextval('strangler.flags_version')`).Scan(&version); err != nil {
			return err
		}
		out = out[:0]
		applied := 0
		for _, c := range changes {
			o, err := applyOne(ctx, tx, c, meta, version)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Key, err)
			}
			if o.Applied {
				applied++
			}
			out = append(out, o)
		}
		if applied == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, fmt.Sprint(version))
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("write flags: %w", err)
	}
	return version, out, nil
}

func applyOne(ctx context.Context, tx pgx.Tx, c Change, meta Meta, version int64) (Outcome, error) {
	o := Outcome{Change: c}
	var cur State
	var curVersion int64
	err := tx.QueryRow(ctx, `SELECT mode, percent, version FROM strangler.flags WHERE key = $1 FOR UPDATE`, c.Key).
		Scan(&cur.Mode, &cur.Percent, &curVersion)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return o, err
	default:
		o.Before = &cur
	}
	if o.Before != nil && cur.Mode == c.Mode && cur.Percent == c.Percent {
		o.Skipped = "unchanged"
		return o, nil
	}
	if c.Conditional && curVersion > c.BaseVersion && !c.IsRollback() {
		o.Skipped = fmt.Sprintf("lost to a newer change (version %d) made while this one waited", curVersion)
		return o, nil
	}
	after := State{Mode: c.Mode, Percent: c.Percent}
	_, err = tx.Exec(ctx, `
		INSERT INTO strangler.flags (key, mode, percent, version, changed_at, changed_by, reason)
		VALUES ($1, $2, $3, $4, now(), $5, $6)
		ON CONFLICT (key) DO UPDATE SET mode = $2, percent = $3, version = $4, changed_at = now(), changed_by = $5, reason = $6`,
		c.Key, c.Mode, c.Percent, version, meta.Actor, meta.Reason)
	if err != nil {
		return o, err
	}
	before, _ := json.Marshal(o.Before)
	if o.Before == nil {
		before = nil
	}
	afterJSON, _ := json.Marshal(after)
	_, err = tx.Exec(ctx, `
		INSERT INTO strangler.flag_history (key, version, actor, reason, source, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.Key, version, meta.Actor, meta.Reason, meta.Source, before, afterJSON)
	o.Applied = err == nil
	return o, err
}

// History returns the newest changes first, of one key or of all (key "").
func (s *Store) History(ctx context.Context, key string, limit int) ([]HistoryEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT id, key, version, at, actor, reason, source, before, after
		FROM strangler.flag_history WHERE $1 = '' OR key = $1 ORDER BY id DESC LIMIT $2`, key, limit)
	if err != nil {
		return nil, fmt.Errorf("read strangler.flag_history: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		err := row.Scan(&h.ID, &h.Key, &h.Version, &h.At, &h.Actor, &h.Reason, &h.Source, &h.Before, &h.After)
		return h, err
	})
}

// Replica is one proxy process's heartbeat.
type Replica struct {
	ID           string    `json:"id"`
	Hostname     string    `json:"hostname"`
	ConfigHash   string    `json:"config_hash"`
	FlagsVersion int64     `json:"flags_version"`
	StartedAt    time.Time `json:"started_at"`
	SeenAt       time.Time `json:"seen_at"`
}

// Heartbeat records that a replica is alive and which flags it applied.
func (s *Store) Heartbeat(ctx context.Context, r Replica) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO strangler.replicas (id, hostname, config_hash, flags_version, started_at, seen_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (id) DO UPDATE SET config_hash = $3, flags_version = $4, seen_at = now()`,
		r.ID, r.Hostname, r.ConfigHash, r.FlagsVersion, r.StartedAt)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Replicas lists the replicas seen within maxAge, newest first.
func (s *Store) Replicas(ctx context.Context, maxAge time.Duration) ([]Replica, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, hostname, config_hash, flags_version, started_at, seen_at FROM strangler.replicas
		WHERE seen_at > now() - $1::interval ORDER BY seen_at DESC`, maxAge.String())
	if err != nil {
		return nil, fmt.Errorf("read strangler.replicas: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Replica])
}
