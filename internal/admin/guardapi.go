package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/guard"
)

// GuardPanel shows the guard (settings, breakers, automatic rollbacks)
// and changes its run-time settings.
type GuardPanel interface {
	Status(ctx context.Context) (GuardStatus, error)
	SetEnabled(ctx context.Context, enabled bool, actor, reason string) (GuardStatus, error)
}

// GuardStatus is what GET /api/guard shows.
type GuardStatus struct {
	// Enabled: the guard may roll routes back on this replica now.
	Enabled bool `json:"enabled"`
	// ConfiguredEnabled is guard.enabled from the configuration.
	ConfiguredEnabled bool `json:"configured_enabled"`
	// Setting is the run-time setting made through the admin API (nil:
	// none, the configuration holds).
	Setting *GuardSetting `json:"setting"`
	// RuntimeSwitch says whether this replica's guard follows the
	// run-time setting (else only a restart with guard.enabled changes it).
	RuntimeSwitch bool                   `json:"runtime_switch"`
	Defaults      config.GuardRule       `json:"defaults"`
	Overrides     []config.GuardOverride `json:"overrides"`
	Breakers      []guard.BreakerStatus  `json:"breakers"`
	Events        []guard.Event          `json:"events"`
}

// GuardSetting is the guard's run-time setting (strangler.admin_settings).
type GuardSetting struct {
	Enabled   bool      `json:"enabled"`
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by"`
	Reason    string    `json:"reason"`
}

// GuardView is the GuardPanel of a running proxy.
type GuardView struct {
	Guard  *guard.Guard
	Config config.Guard
	// Pool holds the events and the setting (nil: neither).
	Pool *pgxpool.Pool
}

var _ GuardPanel = (*GuardView)(nil)

// switcher is a guard that can be turned on and off while it runs.
type switcher interface{ SetEnabled(bool) }

func (g *GuardView) switcher() (switcher, bool) {
	sw, ok := any(g.Guard).(switcher)
	return sw, ok && g.Guard != nil
}

// Status reads the guard's state; the events and the setting need the
// database, the breakers do not.
func (g *GuardView) Status(ctx context.Context) (GuardStatus, error) {
	st := GuardStatus{ConfiguredEnabled: g.Config.Enabled, Enabled: g.Config.Enabled, Defaults: g.Config.Defaults,
		Overrides: g.Config.Routes, Breakers: []guard.BreakerStatus{}, Events: []guard.Event{}}
	if st.Overrides == nil {
		st.Overrides = []config.GuardOverride{}
	}
	_, st.RuntimeSwitch = g.switcher()
	if g.Guard != nil {
		st.Breakers = append(st.Breakers, g.Guard.Breakers().Statuses()...)
	}
	if g.Pool == nil {
		return st, nil
	}
	ev, err := guard.Events(ctx, g.Pool, "", 50)
	if err != nil {
		return st, err
	}
	st.Events = append(st.Events, ev...)
	if st.Setting, err = readGuardSetting(ctx, g.Pool); err != nil {
		return st, err
	}
	if st.Setting != nil && st.RuntimeSwitch {
		st.Enabled = st.Setting.Enabled
	}
	return st, nil
}

func readGuardSetting(ctx context.Context, pool *pgxpool.Pool) (*GuardSetting, error) {
	var gs GuardSetting
	var value []byte
	err := pool.QueryRow(ctx, `SELECT value, changed_at, changed_by, reason FROM strangler.admin_settings WHERE key = 'guard'`).
		Scan(&value, &gs.ChangedAt, &gs.ChangedBy, &gs.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read strangler.admin_settings: %w", err)
	}
	if err := json.Unmarshal(value, &gs); err != nil {
		return nil, fmt.Errorf("read strangler.admin_settings: %w", err)
	}
	return &gs, nil
}

// SetEnabled records the run-time setting (with its audit row) and
// applies it to this replica's guard when it can switch.
func (g *GuardView) SetEnabled(ctx context.Context, enabled bool, actor, reason string) (GuardStatus, error) {
	if g.Pool == nil {
		return GuardStatus{}, echo.NewHTTPError(http.StatusConflict, "guard settings live in the database, and there is none")
	}
	value, _ := json.Marshal(map[string]bool{"enabled": enabled})
	err := pgx.BeginFunc(ctx, g.Pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO strangler.admin_settings (key, value, changed_by, reason) VALUES ('guard', $1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET value = $1, changed_at = now(), changed_by = $2, reason = $3`,
			value, actor, reason)
		if err != nil {
			return err
		}
		return Audit(ctx, tx, actor, "guard.set", "enabled", reason, map[string]any{"enabled": enabled})
	})
	if err != nil {
		return GuardStatus{}, fmt.Errorf("write the guard setting: %w", err)
	}
	g.Apply(ctx)
	return g.Status(ctx)
}

// Apply gives this replica's guard the recorded setting, if it can switch
// while it runs. Call it at start, and after a change.
func (g *GuardView) Apply(ctx context.Context) {
	sw, ok := g.switcher()
	if !ok || g.Pool == nil {
		return
	}
	if gs, err := readGuardSetting(ctx, g.Pool); err == nil && gs != nil {
		sw.SetEnabled(gs.Enabled)
	}
}

func (s *Server) getGuard(c echo.Context) error {
	st, err := s.opts.Guard.Status(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

type guardBody struct {
	Enabled *bool  `json:"enabled"`
	Reason  string `json:"reason"`
}

func (s *Server) putGuard(c echo.Context) error {
	var b guardBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	if b.Enabled == nil {
		return echo.NewHTTPError(http.StatusBadRequest, "enabled: true or false is required")
	}
	if strings.TrimSpace(b.Reason) == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "reason: a reason is required")
	}
	st, err := s.opts.Guard.SetEnabled(c.Request().Context(), *b.Enabled, principal(c).Actor, b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}
