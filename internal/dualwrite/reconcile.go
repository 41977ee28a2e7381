package dualwrite

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kinds of drift, named from the new store's point of view.
const (
	// DriftMissing: legacy has the row, the new store does not.
	DriftMissing = "missing"
	// DriftExtra: the new store has the row, legacy does not.
	DriftExtra = "extra"
	// DriftDiffers: both have it and some column differs.
	DriftDiffers = "differs"
)

// Drift is one row that is not equal in both stores.
type Drift struct {
	Table string `json:"table"`
	Key   string `json:"key"`
	// Aggregate is the root key the row belongs to (what a repair copies).
	Aggregate string `json:"aggregate"`
	Kind      string `json:"kind"`
	// Columns are the columns that differ (kind differs).
	Columns []string `json:"columns,omitempty"`
}

// TableReport counts one table's rows and drift.
type TableReport struct {
	Table   string `json:"table"`
	Legacy  int64  `json:"legacy_rows"`
	New     int64  `json:"new_rows"`
	Missing int    `json:"missing"`
	Extra   int    `json:"extra"`
	Differs int    `json:"differs"`
}

// Report is the outcome of comparing a write group's two stores.
type Report struct {
	Group  string        `json:"group"`
	At     time.Time     `json:"at"`
	Tables []TableReport `json:"tables"`
	// Total is the number of drifting rows; Drifts lists the first
	// MaxListed of them (Truncated when there are more).
	Total     int     `json:"drift"`
	Drifts    []Drift `json:"rows"`
	Truncated bool    `json:"truncated,omitempty"`
	// Outbox and Intents are the dual writes still in flight when the
	// comparison ran: their rows may show as drift until they land.
	Outbox  Lag          `json:"outbox"`
	Intents IntentCounts `json:"intents"`

	all []Drift // every drift, for a repair
}

// IntentCounts counts a group's legacy-primary intents.
type IntentCounts struct {
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
}

// ReconcileOptions configure Reconcile.
type ReconcileOptions struct {
	Spec   *Spec
	Stores Stores
	// MaxListed caps Report.Drifts (default 1000).
	MaxListed int
}

// Reconcile compares both stores of a write group row by row and column by
// column: each table is read from both sides in key order (one consistent
// snapshot per side, timestamps printed in UTC with their microseconds) and
// merged. It never writes.
func Reconcile(ctx context.Context, opts ReconcileOptions) (*Report, error) {
	if opts.MaxListed <= 0 {
		opts.MaxListed = 1000
	}
	spec := opts.Spec
	rep := &Report{Group: spec.Group, At: time.Now().UTC()}
	var err error
	if rep.Outbox, err = OutboxLag(ctx, opts.Stores.New, spec); err != nil {
		return nil, err
	}
	st := intents{db: opts.Stores.New}
	if rep.Intents.Pending, rep.Intents.Dead, err = st.counts(ctx, spec.Group); err != nil {
		return nil, fmt.Errorf("count intents: %w", err)
	}
	for _, t := range spec.Tables {
		tr, err := compareTable(ctx, opts.Stores, spec, t, func(d Drift) { rep.all = append(rep.all, d) })
		if err != nil {
			return nil, err
		}
		rep.Tables = append(rep.Tables, tr)
	}
	rep.Total = len(rep.all)
	rep.Drifts = rep.all[:min(len(rep.all), opts.MaxListed)]
	rep.Truncated = len(rep.all) > opts.MaxListed
	return rep, nil
}

// compareSQL selects a table's key, aggregate key and columns as text.
func compareSQL(schema string, t Table) string {
	agg := t.Key
	if t.Parent != "" {
		agg = t.Parent
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c) + "::text"
	}
	return "SELECT " + quoteIdent(t.Key) + "::text, " + quoteIdent(agg) + "::text, " + strings.Join(cols, ", ") +
		" FROM " + qualified(schema, t.Name) + " ORDER BY " + quoteIdent(t.Key)
}

// snapshotSQL opens the read of one side: one snapshot, and a text form of
// values that does not depend on the session (UTC, ISO dates).
const snapshotSQL = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'"

// compareTable merges one table of both sides.
func compareTable(ctx context.Context, stores Stores, spec *Spec, t Table, emit func(Drift)) (TableReport, error) {
	tr := TableReport{Table: t.Name}
	txOpts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	lt, err := stores.Legacy.BeginTx(ctx, txOpts)
	if err != nil {
		return tr, fmt.Errorf("read legacy: %w", err)
	}
	defer lt.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	nt, err := stores.New.BeginTx(ctx, txOpts)
	if err != nil {
		return tr, fmt.Errorf("read new: %w", err)
	}
	defer nt.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	a, err := openCursor(ctx, lt, compareSQL(spec.LegacySchema, t))
	if err != nil {
		return tr, fmt.Errorf("read legacy %s: %w", t.Name, err)
	}
	defer a.rows.Close()
	b, err := openCursor(ctx, nt, compareSQL(spec.NewSchema, t))
	if err != nil {
		return tr, fmt.Errorf("read new %s: %w", t.Name, err)
	}
	defer b.rows.Close()
	if err := merge(a, b, t, &tr, emit); err != nil {
		return tr, fmt.Errorf("compare %s: %w", t.Name, err)
	}
	tr.Legacy, tr.New = a.n, b.n
	return tr, nil
}

// merge walks both sorted sides at once.
func merge(a, b *cursor, t Table, tr *TableReport, emit func(Drift)) error {
	if err := a.next(); err != nil {
		return err
	}
	if err := b.next(); err != nil {
		return err
	}
	for a.ok || b.ok {
		switch {
		case !b.ok || a.ok && a.key < b.key:
			tr.Missing++
			emit(Drift{Table: t.Name, Key: a.key, Aggregate: a.agg, Kind: DriftMissing})
			if err := a.next(); err != nil {
				return err
			}
		case !a.ok || b.key < a.key:
			tr.Extra++
			emit(Drift{Table: t.Name, Key: b.key, Aggregate: b.agg, Kind: DriftExtra})
			if err := b.next(); err != nil {
				return err
			}
		default:
			if cols := differing(t, a.vals, b.vals); len(cols) > 0 {
				tr.Differs++
				emit(Drift{Table: t.Name, Key: a.key, Aggregate: a.agg, Kind: DriftDiffers, Columns: cols})
			}
			if err := a.next(); err != nil {
				return err
			}
			if err := b.next(); err != nil {
				return err
			}
		}
	}
	return nil
}

// differing names the columns whose values (or NULL-ness) differ.
func differing(t Table, a, b [][]byte) []string {
	var cols []string
	for i, c := range t.Columns {
		if (a[i] == nil) != (b[i] == nil) || !bytes.Equal(a[i], b[i]) {
			cols = append(cols, c)
		}
	}
	return cols
}

// cursor is one side's rows of a table, one row held at a time.
type cursor struct {
	rows     pgx.Rows
	ok       bool
	key, agg string
	vals     [][]byte
	n        int64
}

func openCursor(ctx context.Context, tx pgx.Tx, sql string) (*cursor, error) {
	if _, err := tx.Exec(ctx, snapshotSQL); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, err
	}
	return &cursor{rows: rows}, nil
}

// next moves to the next row, copying its values (pgx reuses its buffers).
func (c *cursor) next() error {
	if !c.rows.Next() {
		c.ok = false
		return c.rows.Err()
	}
	raw := c.rows.RawValues()
	c.ok, c.n = true, c.n+1
	c.key, c.agg = string(raw[0]), string(raw[1])
	if c.vals == nil {
		c.vals = make([][]byte, len(raw)-2)
	}
	for i, v := range raw[2:] {
		if v == nil {
			c.vals[i] = nil
			continue
		}
		c.vals[i] = bytes.Clone(v)
	}
	return nil
}
