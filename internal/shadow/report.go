package shadow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filter selects records for a report.
type Filter struct {
	// Route keeps one route ("" = all).
	Route string
	// Since keeps records at or after this time.
	Since time.Time
	// Limit caps the number of groups (default 100).
	Limit int
}

// Group is the mismatches of one route, procedure and general path.
type Group struct {
	Route     string    `json:"route"`
	Procedure string    `json:"procedure"`
	Path      string    `json:"path"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// ExampleID is the newest record of the group; Example holds its
	// differences at Path and Request names its request.
	ExampleID int64  `json:"example_id"`
	Request   string `json:"request"`
	Example   []Diff `json:"example"`
}

// Report is what `strangler diffs` and the admin API show.
type Report struct {
	Since  time.Time `json:"since"`
	Route  string    `json:"route,omitempty"`
	Groups []Group   `json:"groups"`
	// Records is how many records the filter selects.
	Records int64       `json:"records"`
	Noise   []NoisePath `json:"noise"`
}

// Report groups the records selected by f by route, procedure and path,
// with one redacted example each, and lists the learnt noise.
func (s *Store) Report(ctx context.Context, f Filter) (*Report, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rep := &Report{Since: f.Since, Route: f.Route, Groups: []Group{}}
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM strangler.shadow_mismatches
		WHERE at >= $1 AND ($2 = '' OR route = $2)`, f.Since, f.Route).Scan(&rep.Records)
	if err != nil {
		return nil, fmt.Errorf("read strangler.shadow_mismatches: %w", err)
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT route, procedure, p, count(*), min(at), max(at), max(id)
		FROM strangler.shadow_mismatches, unnest(paths) AS p
		WHERE at >= $1 AND ($2 = '' OR route = $2)
		GROUP BY route, procedure, p ORDER BY count(*) DESC, route, procedure, p LIMIT $3`,
		f.Since, f.Route, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("group strangler.shadow_mismatches: %w", err)
	}
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Route, &g.Procedure, &g.Path, &g.Count, &g.FirstSeen, &g.LastSeen, &g.ExampleID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("group strangler.shadow_mismatches: %w", err)
		}
		rep.Groups = append(rep.Groups, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("group strangler.shadow_mismatches: %w", err)
	}
	if err := s.fillExamples(ctx, rep.Groups); err != nil {
		return nil, err
	}
	if rep.Noise, err = s.Noise(ctx, f.Route); err != nil {
		return nil, err
	}
	if rep.Noise == nil {
		rep.Noise = []NoisePath{}
	}
	return rep, nil
}

// fillExamples reads each group's example record once and keeps its
// differences at the group's path.
func (s *Store) fillExamples(ctx context.Context, groups []Group) error {
	cache := map[int64]*Record{}
	for i := range groups {
		g := &groups[i]
		r, ok := cache[g.ExampleID]
		if !ok {
			var err error
			if r, err = s.Get(ctx, g.ExampleID); err != nil && err != ErrNotFound {
				return err
			}
			cache[g.ExampleID] = r
		}
		if r == nil {
			continue // deleted meanwhile by the retention job
		}
		g.Request = r.Method + " " + r.Path
		if r.Query != "" {
			g.Request += "?" + r.Query
		}
		for _, d := range r.Diffs {
			if d.General == g.Path && d.Class == ClassMismatch {
				g.Example = append(g.Example, d)
			}
		}
	}
	return nil
}

// ParseSince reads a look-back such as 30m, 1h or 7d (empty: 1h).
func ParseSince(s string) (time.Duration, error) {
	if s == "" {
		return time.Hour, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("must be a positive duration such as 30m, 1h or 7d")
	}
	return d, nil
}
