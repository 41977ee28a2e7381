package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Record is one stored mismatch: the request, both answers and the
// differences, redacted.
type Record struct {
	ID            int64               `json:"id"`
	At            time.Time           `json:"at"`
	Replica       string              `json:"replica"`
	RequestID     string              `json:"request_id"`
	Route         string              `json:"route"`
	Procedure     string              `json:"procedure"`
	PrimarySide   string              `json:"primary_side"`
	Method        string              `json:"method"`
	Path          string              `json:"path"`
	Query         string              `json:"query"`
	Input         string              `json:"input"`
	RequestHeader map[string][]string `json:"request_headers"`
	LegacyStatus  int                 `json:"legacy_status"`
	NewStatus     int                 `json:"new_status"`
	LegacyHeader  map[string][]string `json:"legacy_headers"`
	NewHeader     map[string][]string `json:"new_headers"`
	LegacyBody    string              `json:"legacy_body"`
	NewBody       string              `json:"new_body"`
	LegacyMS      float64             `json:"legacy_ms"`
	NewMS         float64             `json:"new_ms"`
	Paths         []string            `json:"paths"`
	Diffs         []Diff              `json:"diffs"`
}

// Store keeps records and learnt noise in the strangler schema.
type Store struct {
	Pool *pgxpool.Pool
}

// ErrNotFound is a record id that does not exist (or was deleted).
var ErrNotFound = errors.New("no such mismatch record")

// Insert writes one record and returns its id.
func (s *Store) Insert(ctx context.Context, r *Record) (int64, error) {
	diffs, err := json.Marshal(r.Diffs)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.Pool.QueryRow(ctx, `
		INSERT INTO strangler.shadow_mismatches (replica, request_id, route, procedure, primary_side,
			method, path, query, input, request_headers, legacy_status, new_status, legacy_headers,
			new_headers, legacy_body, new_body, legacy_ms, new_ms, paths, diffs)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
		RETURNING id`,
		r.Replica, r.RequestID, r.Route, r.Procedure, r.PrimarySide, r.Method, r.Path, r.Query, r.Input,
		headerJSON(r.RequestHeader), r.LegacyStatus, r.NewStatus, headerJSON(r.LegacyHeader),
		headerJSON(r.NewHeader), r.LegacyBody, r.NewBody, r.LegacyMS, r.NewMS, r.Paths, diffs).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert strangler.shadow_mismatches: %w", err)
	}
	return id, nil
}

func headerJSON(h map[string][]string) []byte {
	if h == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(h)
	return b
}

const recordColumns = `id, at, replica, request_id, route, procedure, primary_side, method, path, query,
	input, request_headers, legacy_status, new_status, legacy_headers, new_headers, legacy_body,
	new_body, legacy_ms, new_ms, paths, diffs`

func scanRecord(row pgx.Row) (*Record, error) {
	r := &Record{}
	var reqH, legH, newH, diffs []byte
	err := row.Scan(&r.ID, &r.At, &r.Replica, &r.RequestID, &r.Route, &r.Procedure, &r.PrimarySide,
		&r.Method, &r.Path, &r.Query, &r.Input, &reqH, &r.LegacyStatus, &r.NewStatus, &legH, &newH,
		&r.LegacyBody, &r.NewBody, &r.LegacyMS, &r.NewMS, &r.Paths, &diffs)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		b []byte
		v any
	}{{reqH, &r.RequestHeader}, {legH, &r.LegacyHeader}, {newH, &r.NewHeader}, {diffs, &r.Diffs}} {
		if err := json.Unmarshal(p.b, p.v); err != nil {
			return nil, fmt.Errorf("record %d: %w", r.ID, err)
		}
	}
	return r, nil
}

// Get reads one record.
func (s *Store) Get(ctx context.Context, id int64) (*Record, error) {
	r, err := scanRecord(s.Pool.QueryRow(ctx, `SELECT `+recordColumns+` FROM strangler.shadow_mismatches WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read strangler.shadow_mismatches: %w", err)
	}
	return r, nil
}

// DeleteBefore deletes the records older than t, in batches so that no
// transaction holds many rows, and returns how many went.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.Pool.Exec(ctx, `
			DELETE FROM strangler.shadow_mismatches WHERE id IN (
				SELECT id FROM strangler.shadow_mismatches WHERE at < $1 LIMIT 5000)`, t)
		if err != nil {
			return total, fmt.Errorf("delete old shadow mismatches: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}

// NoisePath is a path learnt as noise for a route and procedure.
type NoisePath struct {
	Route     string    `json:"route"`
	Procedure string    `json:"procedure"`
	Path      string    `json:"path"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Hits      int64     `json:"hits"`
	Example   string    `json:"example"`
}

// AddNoise records that a path differed between two legacy answers.
func (s *Store) AddNoise(ctx context.Context, n NoisePath) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO strangler.shadow_noise (route, procedure, path, example) VALUES ($1, $2, $3, $4)
		ON CONFLICT (route, procedure, path) DO UPDATE
		SET last_seen = now(), hits = strangler.shadow_noise.hits + 1, example = $4`,
		n.Route, n.Procedure, n.Path, n.Example)
	if err != nil {
		return fmt.Errorf("write strangler.shadow_noise: %w", err)
	}
	return nil
}

// Noise lists the learnt noise paths, of one route or of all (route "").
func (s *Store) Noise(ctx context.Context, route string) ([]NoisePath, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT route, procedure, path, first_seen, last_seen, hits, example FROM strangler.shadow_noise
		WHERE $1 = '' OR route = $1 ORDER BY route, procedure, path`, route)
	if err != nil {
		return nil, fmt.Errorf("read strangler.shadow_noise: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[NoisePath])
}
