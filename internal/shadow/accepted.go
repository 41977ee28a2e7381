package shadow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nanopore/strangler/internal/config"
)

// Declared is an accepted difference declared at run time (from the
// console's mismatch explorer or the admin API) and kept in
// strangler.shadow_accepted. It counts like a configured one
// (config.AcceptedDiff) without conditions on writes or legacy messages:
// a difference at Path of Route and Procedure is accepted until Expires.
type Declared struct {
	ID        int64     `json:"id"`
	Route     string    `json:"route"`
	Procedure string    `json:"procedure"`
	Path      string    `json:"path"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	Expires   time.Time `json:"expires"`
	// RecordID is the mismatch record it was declared from (0: none).
	RecordID  int64      `json:"record_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
	RemovedBy string     `json:"removed_by,omitempty"`
}

// InvalidDeclared is a declaration refused for its content.
type InvalidDeclared struct{ Reason string }

func (e *InvalidDeclared) Error() string { return e.Reason }

// BadRequest marks the error as the caller's.
func (e *InvalidDeclared) BadRequest() bool { return true }

// Check refuses a declaration that would not mean anything: no route, a
// path that names nothing an answer has, no reason or owner, or an expiry
// that has passed (or lies more than two years ahead: a declared
// difference is a decision, re-read at least that often).
func (d Declared) Check(now time.Time) error {
	var probs []string
	if strings.TrimSpace(d.Route) == "" {
		probs = append(probs, "route: required (a route id or glob)")
	}
	if err := config.CheckPathGlob(d.Path); err != nil {
		probs = append(probs, "path: "+err.Error())
	}
	if strings.TrimSpace(d.Reason) == "" {
		probs = append(probs, "reason: say why this difference is accepted")
	}
	if strings.TrimSpace(d.Owner) == "" {
		probs = append(probs, "owner: required")
	}
	switch {
	case !d.Expires.After(now):
		probs = append(probs, "expires: must lie in the future")
	case d.Expires.After(now.AddDate(2, 0, 0)):
		probs = append(probs, "expires: at most two years ahead")
	}
	if len(probs) > 0 {
		return &InvalidDeclared{Reason: strings.Join(probs, "; ")}
	}
	return nil
}

// Declare stores a declaration (checked first) and returns its id.
func (s *Store) Declare(ctx context.Context, d Declared) (int64, error) {
	if err := d.Check(time.Now()); err != nil {
		return 0, err
	}
	var rec *int64
	if d.RecordID > 0 {
		rec = &d.RecordID
	}
	var id int64
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO strangler.shadow_accepted (route, procedure, path, reason, owner, expires_at, record_id, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		d.Route, d.Procedure, d.Path, d.Reason, d.Owner, d.Expires, rec, d.CreatedBy).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert strangler.shadow_accepted: %w", err)
	}
	return id, nil
}

// DeclaredList returns the declarations that are in force (not removed,
// not expired), or every one ever made with all.
func (s *Store) DeclaredList(ctx context.Context, all bool) ([]Declared, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, route, procedure, path, reason, owner, expires_at, coalesce(record_id, 0),
			created_at, created_by, removed_at, removed_by
		FROM strangler.shadow_accepted
		WHERE $1 OR (removed_at IS NULL AND expires_at > now()) ORDER BY id`, all)
	if err != nil {
		return nil, fmt.Errorf("read strangler.shadow_accepted: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Declared])
}

// Undeclare removes a declaration in force; ErrNotFound when there is none
// with that id (or it was removed already).
func (s *Store) Undeclare(ctx context.Context, id int64, actor string) (Declared, error) {
	rows, err := s.Pool.Query(ctx, `
		UPDATE strangler.shadow_accepted SET removed_at = now(), removed_by = $2
		WHERE id = $1 AND removed_at IS NULL
		RETURNING id, route, procedure, path, reason, owner, expires_at, coalesce(record_id, 0),
			created_at, created_by, removed_at, removed_by`, id, actor)
	if err != nil {
		return Declared{}, fmt.Errorf("remove from strangler.shadow_accepted: %w", err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Declared])
	if errors.Is(err, pgx.ErrNoRows) {
		return Declared{}, ErrNotFound
	}
	if err != nil {
		return Declared{}, fmt.Errorf("remove from strangler.shadow_accepted: %w", err)
	}
	return d, nil
}

// SetDeclared replaces the run-time declarations the rule set accepts
// (besides the configured ones). Safe while comparisons run.
func (rs *RuleSet) SetDeclared(ds []Declared) {
	list := make([]accepted, 0, len(ds))
	for _, d := range ds {
		list = append(list, accepted{
			route: NewGlob(d.Route), procedure: NewGlob(d.Procedure), path: NewGlob(d.Path), expires: d.Expires,
			cfg: config.AcceptedDiff{Route: d.Route, Procedure: d.Procedure, Path: d.Path, Reason: d.Reason,
				Owner: d.Owner, Expires: d.Expires.UTC().Format(time.RFC3339)},
		})
	}
	rs.declared.Store(&list)
}

// ReloadDeclared reads the declarations in force into the rule set, so
// that a difference declared through any replica counts as accepted here.
// Run does it every shadow.noise_refresh; the admin API calls it at once
// after a change.
func (s *Shadower) ReloadDeclared(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	ds, err := s.store.DeclaredList(ctx, false)
	if err != nil {
		return err
	}
	s.rules.SetDeclared(ds)
	return nil
}
