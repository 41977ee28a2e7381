package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/routing"
)

// flagSource is where flag changes go: the database through a Syncer (a
// replica), the Store directly (the CLI), or the flags file.
type flagSource interface {
	Apply(ctx context.Context, changes []flags.Change, meta flags.Meta) (flags.Result, error)
	History(ctx context.Context, key string, limit int) ([]flags.HistoryEntry, error)
}

// storeSource applies changes straight to the database (the CLI, whose
// authority is the database credentials).
type storeSource struct{ store *flags.Store }

func (s storeSource) Apply(ctx context.Context, changes []flags.Change, meta flags.Meta) (flags.Result, error) {
	v, out, err := s.store.Apply(ctx, changes, meta)
	return flags.Result{Version: v, Outcomes: out}, err
}

func (s storeSource) History(ctx context.Context, key string, limit int) ([]flags.HistoryEntry, error) {
	return s.store.History(ctx, key, limit)
}

// control carries out route operations for the CLI and the admin API.
type control struct {
	cur      atomic.Pointer[routeTable]
	source   flagSource
	store    *flags.Store           // nil without a database: no replicas
	snapshot func() *flags.Snapshot // the flags to show
	// applied, when set, rebuilds this replica's router at once, so that an
	// admin API answer means the change is already in force here.
	applied func()
}

// apply writes changes and brings this replica's router up to date.
func (c *control) apply(ctx context.Context, changes []flags.Change, meta flags.Meta) (flags.Result, error) {
	res, err := c.source.Apply(ctx, changes, meta)
	if err == nil && c.applied != nil {
		c.applied()
	}
	return res, err
}

// routeTable is a compiled table with the config it came from.
type routeTable struct {
	routes []config.Route
	table  *routing.Table
}

func (c *control) setTable(routes []config.Route, t *routing.Table) {
	c.cur.Store(&routeTable{routes: routes, table: t})
}

func (c *control) table() *routing.Table { return c.cur.Load().table }

// Routes describes every route and the replicas seen in the last minute.
func (c *control) Routes(ctx context.Context) (routing.RoutesView, error) {
	var reps []flags.Replica
	if c.store != nil {
		var err error
		if reps, err = c.store.Replicas(ctx, time.Minute); err != nil {
			return routing.RoutesView{}, err
		}
	}
	cur := c.cur.Load()
	return cur.table.View(cur.routes, c.snapshot(), reps), nil
}

// Flip puts one route into a mode.
func (c *control) Flip(ctx context.Context, id, mode string, percent int, meta flags.Meta) (flags.Result, error) {
	changes, note, err := c.table().PlanFlip(id, mode, percent)
	if err != nil {
		return flags.Result{}, &opError{err}
	}
	res, err := c.apply(ctx, changes, meta)
	res.Note = joinNotes(note, c.relayNotes(ctx, res))
	return res, err
}

// Rollback puts routes (or every route) back to legacy.
func (c *control) Rollback(ctx context.Context, ids []string, all bool, meta flags.Meta) (flags.Result, error) {
	changes, err := c.table().PlanRollback(ids, all, c.snapshot())
	if err != nil {
		return flags.Result{}, &opError{err}
	}
	res, err := c.apply(ctx, changes, meta)
	res.Note = joinNotes(res.Note, c.relayNotes(ctx, res))
	return res, err
}

// relayNotes reports, for each write group a change took out of new mode,
// the relay's backlog at that moment: the flip waits for nothing, and the
// relay keeps applying the new side's writes to legacy.
func (c *control) relayNotes(ctx context.Context, res flags.Result) string {
	if c.store == nil {
		return ""
	}
	seen := map[string]bool{}
	var notes []string
	for _, o := range res.Outcomes {
		if !o.Applied || o.Before == nil || o.Before.Mode != "new" || o.Change.Mode == "new" {
			continue
		}
		for _, r := range c.table().Routes {
			if r.Flag == o.Change.Key && r.WriteGroup != "" && !seen[r.WriteGroup] {
				seen[r.WriteGroup] = true
				notes = append(notes, relayLagNote(ctx, c.store.Pool, r.WriteGroup))
			}
		}
	}
	return strings.Join(notes, "\n")
}

func joinNotes(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "\n" + b
}

// History lists flag changes of one route (or all).
func (c *control) History(ctx context.Context, id string, limit int) ([]flags.HistoryEntry, error) {
	key := ""
	if id != "" {
		r, ok := c.table().ByID(id)
		if !ok {
			return nil, &opError{fmt.Errorf("unknown route %q", id)}
		}
		key = r.Flag
	}
	return c.source.History(ctx, key, limit)
}

// opError is a request the operation refuses (bad route, mode, percent):
// a usage error for the CLI, a 400 for the admin API.
type opError struct{ err error }

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// isOpError says whether err is a refused request.
func isOpError(err error) bool {
	var oe *opError
	return errors.As(err, &oe)
}

// cliActor names the person running the CLI in the flag history.
func cliActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return "cli:" + name + "@" + host
}

// BadRequest marks the error as the caller's for the admin API.
func (e *opError) BadRequest() bool { return true }
