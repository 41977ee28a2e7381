package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/nanopore/strangler/internal/config"
)

// reloader holds what watches for config changes; it is armed in Open, so
// that neither an early SIGHUP (which would kill the process) nor an early
// file change is missed.
type reloader struct {
	hup     chan os.Signal
	watcher *fsnotify.Watcher
}

func (m *Main) armReload() {
	m.reload.hup = make(chan os.Signal, 1)
	signal.Notify(m.reload.hup, syscall.SIGHUP)
	if m.ConfigPath == "" {
		return
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		m.Logger.Warn().Err(err).Msg("cannot watch the config file; SIGHUP still reloads")
		return
	}
	if err := w.Add(filepath.Dir(m.ConfigPath)); err != nil {
		w.Close()
		m.Logger.Warn().Err(err).Msg("cannot watch the config file; SIGHUP still reloads")
		return
	}
	m.reload.watcher = w
}

func (m *Main) disarmReload() {
	if m.reload.hup != nil {
		signal.Stop(m.reload.hup)
	}
	if m.reload.watcher != nil {
		m.reload.watcher.Close()
	}
}

// watchConfig reloads the route table on SIGHUP and whenever the config file
// changes. A table that does not compile is refused and logged; the running
// one stays. Only routes reload: listeners, upstreams and the database need
// a restart.
func (m *Main) watchConfig(ctx context.Context) {
	hup := m.reload.hup
	var events <-chan fsnotify.Event
	if m.reload.watcher != nil {
		events = m.reload.watcher.Events
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			m.Reload("SIGHUP")
		case ev := <-events:
			if filepath.Clean(ev.Name) == filepath.Clean(m.ConfigPath) && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				m.Reload("file changed")
			}
		}
	}
}

// Reload re-reads the configuration and swaps in its route table.
func (m *Main) Reload(why string) bool {
	cfg, err := config.Load(config.Source{Path: m.ConfigPath, Explicit: true, Environ: os.Environ()})
	if err != nil {
		m.Logger.Error().Str("why", why).Err(err).Msg("config reload refused; keeping the running route table")
		return false
	}
	table, err := compileRoutes(cfg, m.Services)
	if err != nil {
		m.Logger.Error().Str("why", why).Err(err).Msg("config reload refused; keeping the running route table")
		return false
	}
	if table.Hash == m.router.State().Table.Hash {
		return true
	}
	m.router.SetTable(table)
	m.control.setTable(cfg.Routes, table)
	m.Logger.Info().Str("why", why).Str("config_hash", table.Hash).Int("routes", len(table.Routes)).Msg("route table reloaded")
	return true
}
