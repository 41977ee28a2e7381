package flags

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Syncer keeps a Provider equal to the database: it LISTENs for changes,
// re-reads every flag after each notification and after every reconnect, and
// holds the changes made while the database was unreachable until it can
// write them.
type Syncer struct {
	Store    *Store
	Provider *Provider
	// ConnString opens the dedicated LISTEN connection.
	ConnString string
	Log        zerolog.Logger
	// WriteTimeout bounds one attempt to write a change (default 2s); past
	// it the change is applied locally and queued.
	WriteTimeout time.Duration

	mu        sync.Mutex
	db        *Snapshot // last snapshot read from the database
	pending   []pending // local changes not yet in the database
	connected atomic.Bool
	loaded    atomic.Bool
}

type pending struct {
	change Change
	meta   Meta
	at     time.Time
}

// Connected says whether the LISTEN connection is up.
func (s *Syncer) Connected() bool { return s.connected.Load() }

// Loaded says whether flags have been read from the database at least once.
func (s *Syncer) Loaded() bool { return s.loaded.Load() }

// Pending returns how many local changes wait for the database.
func (s *Syncer) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Reload reads every flag and publishes the result (plus local changes).
func (s *Syncer) Reload(ctx context.Context) error { return s.reloadFrom(ctx, s.Store.Pool) }

func (s *Syncer) reloadFrom(ctx context.Context, q Querier) error {
	snap, err := LoadFrom(ctx, q)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.db = snap
	eff := s.effectiveLocked()
	s.mu.Unlock()
	s.loaded.Store(true)
	s.Provider.Set(eff)
	return nil
}

// effectiveLocked overlays the pending local changes on the database view.
func (s *Syncer) effectiveLocked() *Snapshot {
	eff := s.db
	if eff == nil {
		eff = &Snapshot{Flags: map[string]Flag{}}
	}
	for _, p := range s.pending {
		eff = eff.with(Flag{Key: p.change.Key, Mode: p.change.Mode, Percent: p.change.Percent, Version: eff.Version,
			ChangedAt: p.at, ChangedBy: p.meta.Actor, Reason: p.meta.Reason, Local: true})
	}
	return eff
}

// Result says where a change landed.
type Result struct {
	Version  int64     `json:"version"`
	Outcomes []Outcome `json:"outcomes"`
	// Local is true when the database could not be reached: the change
	// applies to this replica now and is written when the database returns.
	Local bool   `json:"local,omitempty"`
	Error string `json:"error,omitempty"`
	// Note explains what the change covered (a whole write group).
	Note string `json:"note,omitempty"`
}

// Apply writes changes to the database and applies them at once; when the
// database is unreachable it applies them to this replica only and queues
// them.
func (s *Syncer) Apply(ctx context.Context, changes []Change, meta Meta) (Result, error) {
	for _, c := range changes {
		if err := c.Validate(); err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Key, err)
		}
	}
	timeout := s.WriteTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	version, out, err := s.Store.Apply(wctx, changes, meta)
	cancel()
	if err == nil {
		if rerr := s.Reload(ctx); rerr != nil {
			s.Log.Warn().Err(rerr).Msg("reload after flag change failed; the notification will retry")
		}
		return Result{Version: version, Outcomes: out}, nil
	}
	if !unreachable(err) {
		return Result{}, err
	}
	s.mu.Lock()
	base := s.effectiveLocked()
	for _, c := range changes {
		if !c.Conditional {
			// Anything written to the database after what this replica
			// last saw carries a higher version.
			c.Conditional, c.BaseVersion = true, base.Version
		}
		s.pending = append(s.pending, pending{change: c, meta: meta, at: time.Now()})
	}
	eff := s.effectiveLocked()
	s.mu.Unlock()
	s.Provider.Set(eff)
	s.Log.Warn().Err(err).Int("changes", len(changes)).Msg("database unreachable: flag change applied to this replica only, queued")
	return Result{Local: true, Error: err.Error()}, nil
}

// unreachable says whether err means the database could not be reached (as
// opposed to refusing the change).
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P03"
	}
	return true // dial errors, timeouts, closed connections
}

// Run listens until ctx ends, reconnecting with backoff.
func (s *Syncer) Run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := s.session(ctx)
		s.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		s.Log.Warn().Err(err).Dur("retry_in", backoff).Msg("flag listener disconnected")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
		if err == nil {
			backoff = 50 * time.Millisecond
		}
	}
}

// session is one LISTEN connection's life: listen, write what waited, read
// everything, then reload on each notification.
func (s *Syncer) session(ctx context.Context) error {
	// The URL may carry the pool's own parameters (pool_max_conns...):
	// parse it as the pool does and take its connection settings.
	pcfg, err := pgxpool.ParseConfig(s.ConnString)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, pcfg.ConnConfig)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := s.replay(ctx); err != nil {
		return err
	}
	if err := s.reloadFrom(ctx, conn); err != nil {
		return err
	}
	s.connected.Store(true)
	s.Log.Info().Int64("flags_version", s.Provider.Snapshot().Version).Msg("flag listener connected")
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		if err := s.reloadFrom(ctx, conn); err != nil {
			return err
		}
	}
}

// replay writes the changes made while the database was unreachable. A
// rollback always wins; another change loses to anything written meanwhile.
func (s *Syncer) replay(ctx context.Context) error {
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.mu.Unlock()
			return nil
		}
		p := s.pending[0]
		s.mu.Unlock()
		meta := p.meta
		meta.Source = "replay"
		meta.Reason = fmt.Sprintf("%s (made at %s while the database was unreachable)", p.meta.Reason, p.at.UTC().Format(time.RFC3339))
		_, out, err := s.Store.Apply(ctx, []Change{p.change}, meta)
		if err != nil {
			return fmt.Errorf("write queued flag change: %w", err)
		}
		for _, o := range out {
			s.Log.Info().Str("key", o.Change.Key).Bool("applied", o.Applied).Str("skipped", o.Skipped).Msg("queued flag change written")
		}
		// Only replay removes from the front; Apply appends at the back.
		s.mu.Lock()
		s.pending = s.pending[1:]
		s.mu.Unlock()
	}
}

// History reads the recorded changes from the database.
func (s *Syncer) History(ctx context.Context, key string, limit int) ([]HistoryEntry, error) {
	return s.Store.History(ctx, key, limit)
}
