package dualwrite

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// RepairResult says what a repair did.
type RepairResult struct {
	// From is the side copied from (the source of truth).
	From string `json:"from"`
	// Aggregates copied, and those whose copy failed (with why).
	Repaired int               `json:"repaired_aggregates"`
	Rows     int               `json:"repaired_rows"`
	Failed   map[string]string `json:"failed,omitempty"`
}

// repairChunk is how many aggregates one repair transaction copies.
const repairChunk = 100

// Repair copies every aggregate a report found drifting from side from
// (the source of truth for the group's mode) to the other side, through
// the same locked, exact copy as the dual writes, and records each
// repaired row in strangler.dualwrite_audit in the same transaction as
// the copy into the coordination database.
func Repair(ctx context.Context, opts ReconcileOptions, rep *Report, from, actor string) (RepairResult, error) {
	res := RepairResult{From: from}
	if from != SideLegacy && from != SideNew {
		return res, fmt.Errorf("repair from %q: want legacy or new", from)
	}
	byAgg := map[string][]Drift{}
	var aggs []string
	for _, d := range rep.all {
		if _, ok := byAgg[d.Aggregate]; !ok {
			aggs = append(aggs, d.Aggregate)
		}
		byAgg[d.Aggregate] = append(byAgg[d.Aggregate], d)
	}
	slices.Sort(aggs)
	c := newCopier(opts.Spec, opts.Stores)
	for len(aggs) > 0 {
		chunk := aggs[:min(repairChunk, len(aggs))]
		aggs = aggs[len(chunk):]
		err := pgx.BeginFunc(ctx, opts.Stores.New, func(tx pgx.Tx) error {
			failed, err := c.sync(ctx, tx, other(from), chunk, guard{})
			if err != nil {
				return err
			}
			var done []Drift
			for _, a := range chunk {
				if e := failed[a]; e != nil {
					if res.Failed == nil {
						res.Failed = map[string]string{}
					}
					res.Failed[a] = e.Error()
					continue
				}
				res.Repaired++
				done = append(done, byAgg[a]...)
			}
			res.Rows += len(done)
			return audit(ctx, tx, opts.Spec.Group, actor, from, done)
		})
		if err != nil {
			return res, fmt.Errorf("repair: %w", err)
		}
	}
	return res, nil
}

// audit records repaired rows.
func audit(ctx context.Context, tx pgx.Tx, group, actor, from string, drifts []Drift) error {
	if len(drifts) == 0 {
		return nil
	}
	tables := make([]string, len(drifts))
	keys := make([]string, len(drifts))
	kinds := make([]string, len(drifts))
	cols := make([]string, len(drifts))
	for i, d := range drifts {
		tables[i], keys[i], kinds[i] = d.Table, d.Key, d.Kind
		cols[i] = "{" + joinQuoted(d.Columns) + "}"
	}
	_, err := tx.Exec(ctx, `INSERT INTO strangler.dualwrite_audit (actor, action, grp, tbl, row_key, kind, columns, source)
SELECT $1, 'repair', $2, t, k, d, c::text[], $3 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS u(t, k, d, c)`,
		actor, group, from, tables, keys, kinds, cols)
	if err != nil {
		return fmt.Errorf("record repairs: %w", err)
	}
	return nil
}

// joinQuoted writes names as the inside of a text[] literal.
func joinQuoted(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ","
		}
		out += `"` + n + `"`
	}
	return out
}
