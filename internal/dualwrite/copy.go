package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The two stores of a write group.
const (
	SideLegacy = "legacy"
	SideNew    = "new"
)

// Stores are the two databases of the dual writes. New is also the
// coordination database: the strangler schema (intents, progress, audit)
// and the per-aggregate locks live there. Legacy may be the same pool.
type Stores struct {
	Legacy, New *pgxpool.Pool
}

func (s Stores) pool(side string) *pgxpool.Pool {
	if side == SideLegacy {
		return s.Legacy
	}
	return s.New
}

func (s Stores) shared() bool { return s.Legacy == s.New }

func other(side string) string {
	if side == SideLegacy {
		return SideNew
	}
	return SideLegacy
}

// exactSQL makes a transaction's copies exact on a side: legacy's
// updated_at trigger is an ordinary trigger, which session_replication_role
// = replica switches off without any lock (it needs a superuser or, on
// PostgreSQL 15, GRANT SET ON PARAMETER session_replication_role; it also
// switches off foreign-key actions, so copies delete child rows
// themselves). The samples schema's trigger skips rows while
// strangler.copying is on (migrations/samples/0003_outbox.sql), which needs
// no privilege.
var exactSQL = map[string]string{
	SideLegacy: "SET LOCAL session_replication_role = replica",
	SideNew:    "SET LOCAL strangler.copying = 'on'",
}

// guard limits a copy that runs against a group's current direction (the
// leftover of a flip): it overwrites or deletes only rows of the target
// that are not newer than the source (Version column), or, for deletes,
// not written after since.
type guard struct {
	on    bool
	since time.Time
}

// copier copies whole aggregates (a root row and its child rows) from one
// store to the other, exactly: the same keys, every column as stored,
// updated_at included.
type copier struct {
	spec   *Spec
	stores Stores
	read   map[string]string // side -> read SQL
	write  map[string][]stmt // side+guard -> statements of one aggregate
}

func newCopier(spec *Spec, stores Stores) *copier {
	c := &copier{spec: spec, stores: stores, read: map[string]string{}, write: map[string][]stmt{}}
	for _, side := range []string{SideLegacy, SideNew} {
		schema := spec.schema(side)
		c.read[side] = readSQL(spec, schema)
		c.write[side] = writeSQL(spec, schema, false)
		c.write[side+"+guard"] = writeSQL(spec, schema, true)
	}
	return c
}

func (s *Spec) schema(side string) string {
	if side == SideLegacy {
		return s.LegacySchema
	}
	return s.NewSchema
}

// readSQL reads aggregates: one row per root key given in $1, holding one
// JSON array per table (NULL when the table has no row for it).
func readSQL(spec *Spec, schema string) string {
	var b strings.Builder
	b.WriteString("SELECT g.k::text")
	for _, t := range spec.Tables {
		col := t.Key
		if t.Parent != "" {
			col = t.Parent
		}
		fmt.Fprintf(&b, ",\n (SELECT jsonb_agg(to_jsonb(x) ORDER BY x.%s) FROM %s x WHERE x.%s = g.k)",
			quoteIdent(t.Key), qualified(schema, t.Name), quoteIdent(col))
	}
	b.WriteString("\nFROM unnest($1::uuid[]) AS g(k)")
	return b.String()
}

// stmt is one statement of an aggregate's write; args are indexes into
// the aggregate's arguments: 0 the root key, 1..n the source's JSON arrays
// in table order, n+1 since.
type stmt struct {
	sql  string
	args []int
}

// writeSQL returns the statements that make one aggregate of schema equal
// to its source. Children go first on delete and last on insert, so that
// foreign keys hold.
func writeSQL(spec *Spec, schema string, guarded bool) []stmt {
	n := len(spec.Tables)
	var out []stmt
	for i := n - 1; i >= 0; i-- {
		t := spec.Tables[i]
		tbl := qualified(schema, t.Name)
		s := stmt{args: []int{0, i + 1}}
		var where string
		if t.Parent == "" {
			where = quoteIdent(t.Key) + " = $1::uuid AND $2::jsonb IS NULL"
		} else {
			where = fmt.Sprintf("%s = $1::uuid AND %s NOT IN (SELECT r.%s FROM jsonb_populate_recordset(NULL::%s, coalesce($2::jsonb, '[]')) r)",
				quoteIdent(t.Parent), quoteIdent(t.Key), quoteIdent(t.Key), tbl)
		}
		if guarded && t.Version != "" {
			where += " AND " + quoteIdent(t.Version) + " <= $3::timestamptz"
			s.args = append(s.args, n+1)
		}
		s.sql = "DELETE FROM " + tbl + " WHERE " + where
		out = append(out, s)
	}
	for i, t := range spec.Tables {
		out = append(out, stmt{sql: upsertSQL(schema, t, guarded), args: []int{i + 1}})
	}
	return out
}

// upsertSQL inserts the source rows of one table, or updates the rows that
// differ (an identical row is not rewritten).
func upsertSQL(schema string, t Table, guarded bool) string {
	tbl := qualified(schema, t.Name)
	cols := make([]string, len(t.Columns))
	sets := make([]string, 0, len(t.Columns))
	dst := make([]string, len(t.Columns))
	src := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		q := quoteIdent(c)
		cols[i], dst[i], src[i] = q, "d."+q, "EXCLUDED."+q
		if c != t.Key {
			sets = append(sets, q+" = EXCLUDED."+q)
		}
	}
	list := strings.Join(cols, ", ")
	where := "(" + strings.Join(dst, ", ") + ") IS DISTINCT FROM (" + strings.Join(src, ", ") + ")"
	if guarded && t.Version != "" {
		where += " AND d." + quoteIdent(t.Version) + " <= EXCLUDED." + quoteIdent(t.Version)
	}
	return "INSERT INTO " + tbl + " AS d (" + list + ") SELECT " + list +
		" FROM jsonb_populate_recordset(NULL::" + tbl + ", coalesce($1::jsonb, '[]'))" +
		" ON CONFLICT (" + quoteIdent(t.Key) + ") DO UPDATE SET " + strings.Join(sets, ", ") + " WHERE " + where
}

// lockKeys are the advisory lock keys of aggregates, sorted so that
// concurrent lockers always take them in one order (no deadlock).
func lockKeys(group string, ids []string) []int64 {
	keys := make([]int64, 0, len(ids))
	for _, id := range ids {
		h := fnv.New64a()
		h.Write([]byte(group))
		h.Write([]byte{0})
		h.Write([]byte(id))
		keys = append(keys, int64(h.Sum64()))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// lock takes the transaction-level locks of aggregates on the coordination
// database. Every copy of an aggregate (converge, relay, repair) holds its
// lock from before it reads the source until its write commits, so the
// last copy to run always reads the latest source: copies of one aggregate
// apply in order whatever order their jobs ran in.
func (c *copier) lock(ctx context.Context, coord pgx.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := coord.Exec(ctx, `SELECT pg_advisory_xact_lock(u.k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY u.n`,
		lockKeys(c.spec.Group, ids))
	if err != nil {
		return fmt.Errorf("lock aggregates: %w", err)
	}
	return nil
}

// aggregate is one aggregate as read from a side: its root key and one
// JSON array per table (nil: no row).
type aggregate struct {
	key    string
	tables [][]byte
}

// readAggregates reads aggregates from side through q.
func (c *copier) readAggregates(ctx context.Context, q querier, side string, ids []string) ([]aggregate, error) {
	rows, err := q.Query(ctx, c.read[side], ids)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", side, err)
	}
	defer rows.Close()
	var out []aggregate
	for rows.Next() {
		a := aggregate{tables: make([][]byte, len(c.spec.Tables))}
		dst := make([]any, 0, 1+len(a.tables))
		dst = append(dst, &a.key)
		for i := range a.tables {
			dst = append(dst, &a.tables[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("read %s: %w", side, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", side, err)
	}
	return out, nil
}

// querier runs a query: a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// sync copies the aggregates ids into side to from the other side. coord is
// a transaction on the coordination database; sync takes the aggregates'
// locks in it, and writes in it too when to is that database (so they
// commit with it). When to is another database, sync writes in a
// transaction of its own and commits it before returning. The map holds
// the aggregates whose copy failed (the others are copied); err is a
// failure of the whole call.
func (c *copier) sync(ctx context.Context, coord pgx.Tx, to string, ids []string, g guard) (map[string]error, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if err := c.lock(ctx, coord, ids); err != nil {
		return nil, err
	}
	from := other(to)
	var src querier = c.stores.pool(from)
	if from == SideNew || c.stores.shared() {
		src = coord
	}
	aggs, err := c.readAggregates(ctx, src, from, ids)
	if err != nil {
		return nil, err
	}
	if to == SideNew || c.stores.shared() {
		return c.writeAll(ctx, coord, to, aggs, g)
	}
	var failed map[string]error
	err = pgx.BeginFunc(ctx, c.stores.pool(to), func(tx pgx.Tx) error {
		var err error
		failed, err = c.writeAll(ctx, tx, to, aggs, g)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", to, err)
	}
	return failed, nil
}

// writeAll writes aggregates into side to within tx, each under a savepoint
// so that one bad aggregate fails alone.
func (c *copier) writeAll(ctx context.Context, tx pgx.Tx, to string, aggs []aggregate, g guard) (map[string]error, error) {
	stmts := c.write[to]
	if g.on {
		stmts = c.write[to+"+guard"]
	}
	var failed map[string]error
	for _, a := range aggs {
		args := make([]any, 0, len(a.tables)+2)
		args = append(args, a.key)
		for _, t := range a.tables {
			args = append(args, nullJSON(t))
		}
		args = append(args, g.since)
		err := c.writeOne(ctx, tx, to, stmts, args)
		if err == nil {
			continue
		}
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT agg"); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		if failed == nil {
			failed = map[string]error{}
		}
		failed[a.key] = err
	}
	return failed, nil
}

// writeOne sends one aggregate's statements in one round trip, after the
// setting that makes copies exact (repeated for each: harmless, and it
// saves a round trip).
func (c *copier) writeOne(ctx context.Context, tx pgx.Tx, to string, stmts []stmt, args []any) error {
	b := &pgx.Batch{}
	b.Queue(exactSQL[to])
	b.Queue("SAVEPOINT agg")
	for _, s := range stmts {
		a := make([]any, len(s.args))
		for i, k := range s.args {
			a[i] = args[k]
		}
		b.Queue(s.sql, a...)
	}
	b.Queue("RELEASE SAVEPOINT agg")
	return tx.SendBatch(ctx, b).Close()
}

// nullJSON passes a JSON array as a jsonb parameter, or NULL.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// parents returns the aggregates a row belongs to, looked up on both sides
// (a side that lacks the row is no help, and one may have deleted it).
func (c *copier) parents(ctx context.Context, ref Ref) ([]string, error) {
	t, ok := c.spec.Table(ref.Table)
	if !ok {
		return nil, fmt.Errorf("unknown table %q", ref.Table)
	}
	if t.Parent == "" {
		return []string{ref.Key}, nil
	}
	var out []string
	for _, side := range []string{SideLegacy, SideNew} {
		sql := "SELECT " + quoteIdent(t.Parent) + "::text FROM " + qualified(c.spec.schema(side), t.Name) +
			" WHERE " + quoteIdent(t.Key) + " = $1::uuid"
		var p string
		err := c.stores.pool(side).QueryRow(ctx, sql, ref.Key).Scan(&p)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("find the aggregate of %s on %s: %w", ref, side, err)
		case !slices.Contains(out, p):
			out = append(out, p)
		}
	}
	return out, nil
}

// missingSince returns the roots legacy created at or after since (by the
// Spec's Sweep column) that the new store lacks.
func (c *copier) missingSince(ctx context.Context, since time.Time) ([]string, error) {
	root := c.spec.Root()
	rows, err := c.stores.Legacy.Query(ctx, "SELECT "+quoteIdent(root.Key)+"::text FROM "+
		qualified(c.spec.LegacySchema, root.Name)+" WHERE "+quoteIdent(c.spec.Sweep)+" >= $1", since)
	if err != nil {
		return nil, fmt.Errorf("sweep legacy creates: %w", err)
	}
	recent, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(recent) == 0 {
		return nil, err
	}
	missing, err := c.absent(ctx, SideNew, recent)
	if err != nil {
		return nil, fmt.Errorf("sweep legacy creates: %w", err)
	}
	return missing, nil
}

// absent returns the root keys among ids that side does not hold.
func (c *copier) absent(ctx context.Context, side string, ids []string) ([]string, error) {
	root := c.spec.Root()
	rows, err := c.stores.pool(side).Query(ctx, "SELECT "+quoteIdent(root.Key)+"::text FROM "+
		qualified(c.spec.schema(side), root.Name)+" WHERE "+quoteIdent(root.Key)+" = ANY($1::uuid[])", ids)
	if err != nil {
		return nil, err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	held := make(map[string]bool, len(have))
	for _, id := range have {
		held[id] = true
	}
	var out []string
	for _, id := range ids {
		if !held[id] {
			out = append(out, id)
		}
	}
	return out, nil
}
