package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"
)

// BackfillOptions configure Backfill; zero fields take the defaults named.
type BackfillOptions struct {
	Spec   *Spec
	Stores Stores
	// Batch is how many rows one transaction copies (default 1000).
	Batch int
	// Rate caps the rows read per second (0: no cap).
	Rate float64
	// DryRun counts what would be copied and writes nothing (no progress
	// either).
	DryRun bool
	// Restart forgets the recorded progress and starts from the first key.
	Restart bool
	// Progress is told after each batch.
	Progress func(Progress)
}

// Progress is a backfill's state after one batch.
type Progress struct {
	Table string `json:"table,omitempty"`
	// Done of Total rows read, over every table.
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// Copied rows were inserted; Skipped were already there (or their
	// parent is gone).
	Copied  int64         `json:"copied"`
	Skipped int64         `json:"skipped"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// RowsPerSecond is this run's read rate.
	RowsPerSecond float64 `json:"rows_per_second"`
}

// BackfillResult is a finished backfill.
type BackfillResult struct {
	Progress
	DryRun bool `json:"dry_run"`
	// Resumed: the run went on from recorded progress.
	Resumed bool `json:"resumed"`
}

// backfillState is the recorded progress of one table.
type backfillState struct {
	lastKey          string
	copied, skipped  int64
	finished         bool
	readBefore, rows int64
}

// Backfill copies the legacy rows of a write group into the new schema,
// table by table in parent order, each in key order, a batch per
// transaction. A row the new store already holds is left alone (dual
// writes keep it current), so it is safe while dual writes run; rows it
// inserted that legacy deleted meanwhile are deleted again right after.
// Progress is recorded in strangler.dualwrite_backfill in the same
// transaction as each batch, so a killed backfill resumes where it
// stopped.
func Backfill(ctx context.Context, opts BackfillOptions) (BackfillResult, error) {
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	b := &backfill{opts: opts, c: newCopier(opts.Spec, opts.Stores), start: time.Now()}
	if opts.Rate > 0 {
		b.limit = rate.NewLimiter(rate.Limit(opts.Rate), max(opts.Batch, int(opts.Rate)))
	}
	if opts.Restart && !opts.DryRun {
		if _, err := opts.Stores.New.Exec(ctx, `DELETE FROM strangler.dualwrite_backfill WHERE grp = $1`, opts.Spec.Group); err != nil {
			return BackfillResult{}, fmt.Errorf("forget progress: %w", err)
		}
	}
	if err := b.load(ctx); err != nil {
		return BackfillResult{}, err
	}
	for i, t := range opts.Spec.Tables {
		if err := b.table(ctx, t, b.states[i]); err != nil {
			return b.result(), err
		}
	}
	return b.result(), nil
}

// backfill is one run.
type backfill struct {
	opts    BackfillOptions
	c       *copier
	limit   *rate.Limiter
	start   time.Time
	states  []*backfillState
	p       Progress
	read    int64 // rows read by this run
	resumed bool
}

func (b *backfill) result() BackfillResult {
	b.tick("")
	return BackfillResult{Progress: b.p, DryRun: b.opts.DryRun, Resumed: b.resumed}
}

// load reads the recorded progress and counts the rows to read.
func (b *backfill) load(ctx context.Context) error {
	for _, t := range b.opts.Spec.Tables {
		st := &backfillState{}
		err := b.opts.Stores.New.QueryRow(ctx, `SELECT last_key, copied, skipped, finished_at IS NOT NULL
FROM strangler.dualwrite_backfill WHERE grp = $1 AND tbl = $2`, b.opts.Spec.Group, t.Name).
			Scan(&st.lastKey, &st.copied, &st.skipped, &st.finished)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read backfill progress: %w", err)
		}
		if b.opts.DryRun {
			*st = backfillState{}
		}
		b.resumed = b.resumed || st.lastKey != ""
		tbl := qualified(b.opts.Spec.LegacySchema, t.Name)
		key := quoteIdent(t.Key)
		err = b.opts.Stores.Legacy.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE $1 <> '' AND `+key+`::text <= $1) FROM `+tbl,
			st.lastKey).Scan(&st.rows, &st.readBefore)
		if err != nil {
			return fmt.Errorf("count legacy %s: %w", t.Name, err)
		}
		if st.finished {
			st.readBefore = st.rows
		}
		b.p.Total += st.rows
		b.p.Done += st.readBefore
		b.p.Copied += st.copied
		b.p.Skipped += st.skipped
		b.states = append(b.states, st)
	}
	return nil
}

// table copies one table from its recorded last key on.
func (b *backfill) table(ctx context.Context, t Table, st *backfillState) error {
	if st.finished {
		return nil
	}
	for {
		batch, err := b.readBatch(ctx, t, st.lastKey)
		if err != nil {
			return err
		}
		if batch.n == 0 {
			return b.finish(ctx, t)
		}
		if b.limit != nil {
			if err := b.limit.WaitN(ctx, batch.n); err != nil {
				return err
			}
		}
		copied, err := b.writeBatch(ctx, t, batch)
		if err != nil {
			return err
		}
		st.lastKey = batch.last
		b.read += int64(batch.n)
		b.p.Done += int64(batch.n)
		b.p.Copied += int64(copied)
		b.p.Skipped += int64(batch.n - copied)
		b.tick(t.Name)
		if batch.n < b.opts.Batch {
			return b.finish(ctx, t)
		}
	}
}

func (b *backfill) tick(table string) {
	b.p.Table = table
	b.p.Elapsed = time.Since(b.start)
	if s := b.p.Elapsed.Seconds(); s > 0 {
		b.p.RowsPerSecond = float64(b.read) / s
	}
	if table != "" && b.opts.Progress != nil {
		b.opts.Progress(b.p)
	}
}

// batch is one batch of legacy rows: a JSON array, its keys in order.
type batch struct {
	rows []byte
	keys []string
	last string
	n    int
}

func (b *backfill) readBatch(ctx context.Context, t Table, after string) (batch, error) {
	tbl := qualified(b.opts.Spec.LegacySchema, t.Name)
	key := quoteIdent(t.Key)
	where := ""
	args := []any{b.opts.Batch}
	if after != "" {
		where = " WHERE " + key + " > $2::uuid"
		args = append(args, after)
	}
	var out batch
	var rows *string
	err := b.opts.Stores.Legacy.QueryRow(ctx, `SELECT jsonb_agg(to_jsonb(x) ORDER BY x.`+key+`)::text,
 coalesce(array_agg(x.`+key+`::text ORDER BY x.`+key+`), '{}')
FROM (SELECT * FROM `+tbl+where+` ORDER BY `+key+` LIMIT $1) x`, args...).Scan(&rows, &out.keys)
	if err != nil {
		return out, fmt.Errorf("read legacy %s: %w", t.Name, err)
	}
	out.n = len(out.keys)
	if out.n > 0 {
		out.rows, out.last = []byte(*rows), out.keys[out.n-1]
	}
	return out, nil
}

// writeBatch inserts the rows the new store lacks (children only under a
// parent it holds) and records the progress, in one transaction; then it
// deletes again the inserted rows that legacy deleted while the batch was
// on its way. A dry run only counts the rows it would insert.
func (b *backfill) writeBatch(ctx context.Context, t Table, bt batch) (int, error) {
	spec := b.opts.Spec
	if b.opts.DryRun {
		var have int
		err := b.opts.Stores.New.QueryRow(ctx, `SELECT count(*) FROM `+qualified(spec.NewSchema, t.Name)+
			` WHERE `+quoteIdent(t.Key)+` = ANY($1::uuid[])`, bt.keys).Scan(&have)
		return bt.n - have, err
	}
	var inserted []string
	err := pgx.BeginFunc(ctx, b.opts.Stores.New, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, backfillInsertSQL(spec, t), string(bt.rows))
		if err != nil {
			return err
		}
		if inserted, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO strangler.dualwrite_backfill (grp, tbl, last_key, copied, skipped)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (grp, tbl) DO UPDATE SET last_key = $3, copied = dualwrite_backfill.copied + $4,
 skipped = dualwrite_backfill.skipped + $5, updated_at = now()`,
			spec.Group, t.Name, bt.last, len(inserted), bt.n-len(inserted))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", t.Name, err)
	}
	return len(inserted), b.recheck(ctx, t, inserted)
}

// backfillInsertSQL inserts a batch's rows that are new, returning their
// parent (aggregate) keys.
func backfillInsertSQL(spec *Spec, t Table) string {
	tbl := qualified(spec.NewSchema, t.Name)
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c)
	}
	list := strings.Join(cols, ", ")
	agg := quoteIdent(t.Key)
	where := ""
	if t.Parent != "" {
		agg = quoteIdent(t.Parent)
		root := spec.Root()
		where = " WHERE EXISTS (SELECT 1 FROM " + qualified(spec.NewSchema, root.Name) + " p WHERE p." +
			quoteIdent(root.Key) + " = r." + quoteIdent(t.Parent) + ")"
	}
	return "INSERT INTO " + tbl + " (" + list + ") SELECT " + list + " FROM jsonb_populate_recordset(NULL::" + tbl +
		", $1::jsonb) r" + where + " ON CONFLICT (" + quoteIdent(t.Key) + ") DO NOTHING RETURNING " + agg + "::text"
}

// recheck converges the aggregates of inserted rows that legacy no longer
// holds: a delete that the dual writes converged before this batch landed
// would otherwise be undone.
func (b *backfill) recheck(ctx context.Context, t Table, aggs []string) error {
	if len(aggs) == 0 {
		return nil
	}
	gone, err := b.c.absent(ctx, SideLegacy, aggs)
	if err != nil {
		return fmt.Errorf("recheck %s: %w", t.Name, err)
	}
	if len(gone) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, b.opts.Stores.New, func(tx pgx.Tx) error {
		_, err := b.c.sync(ctx, tx, SideNew, gone, guard{})
		return err
	})
}

// finish marks a table done.
func (b *backfill) finish(ctx context.Context, t Table) error {
	if b.opts.DryRun {
		return nil
	}
	_, err := b.opts.Stores.New.Exec(ctx, `INSERT INTO strangler.dualwrite_backfill (grp, tbl, finished_at) VALUES ($1, $2, now())
ON CONFLICT (grp, tbl) DO UPDATE SET finished_at = now(), updated_at = now()`, b.opts.Spec.Group, t.Name)
	if err != nil {
		return fmt.Errorf("record %s finished: %w", t.Name, err)
	}
	return nil
}
