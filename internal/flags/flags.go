// Package flags holds the routes' modes: an OpenFeature provider of our own
// whose source of truth is the `strangler` schema (current flags plus an
// append-only history), heard through LISTEN/NOTIFY, with a file-backed
// source when no database is configured. Evaluation reads an in-memory
// snapshot; it never calls the database.
package flags

import (
	"fmt"
	"maps"
	"time"
)

// Modes a flag may hold.
var Modes = []string{"legacy", "shadow", "canary", "new"}

// ValidMode says whether m names a mode.
func ValidMode(m string) bool {
	for _, x := range Modes {
		if m == x {
			return true
		}
	}
	return false
}

// Flag is the current state of one flag key.
type Flag struct {
	Key       string    `json:"key"`
	Mode      string    `json:"mode"`
	Percent   int       `json:"percent"`
	Version   int64     `json:"version"`
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by"`
	Reason    string    `json:"reason"`
	// Local is true for a change made while the database was unreachable,
	// not yet written to it.
	Local bool `json:"local,omitempty"`
}

// Snapshot is an immutable set of flags. Version is the highest version of
// any flag: the flags version a replica reports.
type Snapshot struct {
	Version int64
	Flags   map[string]Flag
}

// Get returns a flag and whether it exists.
func (s *Snapshot) Get(key string) (Flag, bool) {
	if s == nil {
		return Flag{}, false
	}
	f, ok := s.Flags[key]
	return f, ok
}

// with returns a copy of s with f set.
func (s *Snapshot) with(f Flag) *Snapshot {
	n := &Snapshot{Version: s.Version, Flags: maps.Clone(s.Flags)}
	if n.Flags == nil {
		n.Flags = map[string]Flag{}
	}
	n.Flags[f.Key] = f
	return n
}

// changed lists the keys whose state differs between two snapshots.
func changed(a, b *Snapshot) []string {
	var keys []string
	for k, fb := range b.Flags {
		if fa, ok := a.Flags[k]; !ok || fa.Mode != fb.Mode || fa.Percent != fb.Percent {
			keys = append(keys, k)
		}
	}
	for k := range a.Flags {
		if _, ok := b.Flags[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// Change asks for one flag to take a mode.
type Change struct {
	Key     string `json:"key"`
	Mode    string `json:"mode"`
	Percent int    `json:"percent"`
	// Conditional changes apply only if the flag's version is still at most
	// BaseVersion (the flags version they were decided on), unless they are
	// rollbacks: a rollback wins any conflict. Changes made while the
	// database was unreachable are conditional.
	Conditional bool  `json:"conditional,omitempty"`
	BaseVersion int64 `json:"base_version,omitempty"`
}

// IsRollback says whether the change takes the flag back to legacy.
func (c Change) IsRollback() bool { return c.Mode == "legacy" }

// Validate checks the mode and percentage.
func (c Change) Validate() error {
	if !ValidMode(c.Mode) {
		return fmt.Errorf("unknown mode %q: use legacy, shadow, canary or new", c.Mode)
	}
	if c.Percent < 0 || c.Percent > 100 {
		return fmt.Errorf("percent %d is not within 0..100", c.Percent)
	}
	if c.Mode != "canary" && c.Percent != 0 {
		return fmt.Errorf("percent applies only to canary mode")
	}
	return nil
}

// Meta says who changes flags, why, and through what.
type Meta struct {
	Actor  string
	Reason string
	// Source is cli, admin-api, guard or replay.
	Source string
}

// HistoryEntry is one recorded change.
type HistoryEntry struct {
	ID      int64     `json:"id"`
	Key     string    `json:"key"`
	Version int64     `json:"version"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason"`
	Source  string    `json:"source"`
	Before  *State    `json:"before"`
	After   State     `json:"after"`
}

// State is a flag's mode and percentage, as history records it.
type State struct {
	Mode    string `json:"mode"`
	Percent int    `json:"percent"`
}
