package flags

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"
)

// FileSource feeds a Provider from a YAML file when no database is
// configured. Changes rewrite the file atomically and append to a history
// file beside it (PATH.history.jsonl); edits by hand are picked up too.
//
//	flags:
//	  nanopore.getAll: {mode: canary, percent: 10, changed_by: ann, reason: "..."}
type FileSource struct {
	Path     string
	Provider *Provider
	Log      zerolog.Logger

	mu       sync.Mutex
	version  int64
	watching atomic.Bool
}

// Watching says whether Run is watching the file.
func (f *FileSource) Watching() bool { return f.watching.Load() }

type fileFlags struct {
	Flags map[string]fileFlag `yaml:"flags"`
}

type fileFlag struct {
	Mode      string    `yaml:"mode"`
	Percent   int       `yaml:"percent,omitempty"`
	ChangedBy string    `yaml:"changed_by,omitempty"`
	Reason    string    `yaml:"reason,omitempty"`
	ChangedAt time.Time `yaml:"changed_at,omitempty"`
}

// Reload reads the file (a missing file is an empty set) and publishes it.
func (f *FileSource) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadLocked()
}

func (f *FileSource) reloadLocked() error {
	ff, err := f.read()
	if err != nil {
		return err
	}
	f.version++
	snap := &Snapshot{Version: f.version, Flags: map[string]Flag{}}
	for k, v := range ff.Flags {
		if err := (Change{Key: k, Mode: v.Mode, Percent: v.Percent}).Validate(); err != nil {
			return fmt.Errorf("%s: flag %s: %w", f.Path, k, err)
		}
		snap.Flags[k] = Flag{Key: k, Mode: v.Mode, Percent: v.Percent, Version: snap.Version,
			ChangedAt: v.ChangedAt, ChangedBy: v.ChangedBy, Reason: v.Reason}
	}
	f.Provider.Set(snap)
	return nil
}

func (f *FileSource) read() (fileFlags, error) {
	var ff fileFlags
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return ff, nil
	}
	if err != nil {
		return ff, fmt.Errorf("read flags file: %w", err)
	}
	if err := yaml.Unmarshal(b, &ff); err != nil {
		return ff, fmt.Errorf("parse flags file %s: %w", f.Path, err)
	}
	return ff, nil
}

// Apply writes changes to the file and publishes them.
func (f *FileSource) Apply(_ context.Context, changes []Change, meta Meta) (Result, error) {
	if meta.Reason == "" {
		return Result{}, errors.New("a reason is required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, err := f.read()
	if err != nil {
		return Result{}, err
	}
	if ff.Flags == nil {
		ff.Flags = map[string]fileFlag{}
	}
	now := time.Now().UTC()
	var res Result
	var hist bytes.Buffer
	for _, c := range changes {
		if err := c.Validate(); err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Key, err)
		}
		o := Outcome{Change: c, Applied: true}
		if cur, ok := ff.Flags[c.Key]; ok {
			o.Before = &State{Mode: cur.Mode, Percent: cur.Percent}
		}
		ff.Flags[c.Key] = fileFlag{Mode: c.Mode, Percent: c.Percent, ChangedBy: meta.Actor, Reason: meta.Reason, ChangedAt: now}
		line, _ := json.Marshal(HistoryEntry{Key: c.Key, At: now, Actor: meta.Actor, Reason: meta.Reason,
			Source: meta.Source, Before: o.Before, After: State{Mode: c.Mode, Percent: c.Percent}})
		hist.Write(append(line, '\n'))
		res.Outcomes = append(res.Outcomes, o)
	}
	if err := writeAtomic(f.Path, ff); err != nil {
		return Result{}, err
	}
	if err := appendFile(f.Path+".history.jsonl", hist.Bytes()); err != nil {
		return Result{}, err
	}
	return res, f.reloadLocked()
}

// History reads the history file, newest first.
func (f *FileSource) History(_ context.Context, key string, limit int) ([]HistoryEntry, error) {
	file, err := os.Open(f.Path + ".history.jsonl")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var all []HistoryEntry
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var h HistoryEntry
		if json.Unmarshal(sc.Bytes(), &h) == nil && (key == "" || h.Key == key) {
			all = append(all, h)
		}
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, sc.Err()
}

// Run reloads the file whenever it changes, until ctx ends.
func (f *FileSource) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	dir := filepath.Dir(f.Path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	f.watching.Store(true)
	defer f.watching.Store(false)
	// Editors write in several steps (truncate, write, rename): wait until
	// the file has been quiet for a moment before reading it.
	const settle = 200 * time.Millisecond
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			if filepath.Clean(ev.Name) == filepath.Clean(f.Path) {
				quiet.Reset(settle)
			}
		case <-quiet.C:
			if err := f.Reload(); err != nil {
				f.Log.Error().Err(err).Msg("flags file changed but cannot be read; keeping the previous flags")
			}
		case err := <-w.Errors:
			f.Log.Warn().Err(err).Msg("flags file watcher")
		}
	}
}

func writeAtomic(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	b = append([]byte("# Route flags, written by strangler (no database configured). Edits by hand are picked up.\n"), b...)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flags-*.yaml")
	if err != nil {
		return fmt.Errorf("write flags file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write flags file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func appendFile(path string, b []byte) error {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = file.Write(b)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}
