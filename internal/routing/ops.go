package routing

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/flags"
)

// PlanFlip turns "put route id (or write group id) into mode" into flag
// changes, refusing what the route cannot take with the reason. A route of a
// write group flips its whole group, and the note says so.
func (t *Table) PlanFlip(id, mode string, percent int) (changes []flags.Change, note string, err error) {
	routes, note, err := t.resolve(id)
	if err != nil {
		return nil, "", err
	}
	m, err := ParseMode(mode)
	if err != nil {
		return nil, "", err
	}
	if m == ModeCanary && (percent < 1 || percent > 100) {
		return nil, "", fmt.Errorf("canary mode needs --percent between 1 and 100, got %d", percent)
	}
	for _, r := range routes {
		if err := r.CheckMode(m); err != nil {
			return nil, "", err
		}
		c := flags.Change{Key: r.Flag, Mode: mode, Percent: percent}
		if err := c.Validate(); err != nil {
			return nil, "", err
		}
		changes = append(changes, c)
	}
	return changes, note, nil
}

// resolve names the routes an operation on id applies to: a write group's
// members, the whole group of a member route, or the route alone.
func (t *Table) resolve(id string) ([]*Route, string, error) {
	if rs := t.groups[id]; len(rs) > 0 {
		return rs, fmt.Sprintf("write group %s: %s", id, ids(rs)), nil
	}
	r, ok := t.ByID(id)
	if !ok {
		return nil, "", fmt.Errorf("unknown route or write group %q (see `strangler routes`)", id)
	}
	if r.WriteGroup != "" {
		rs := t.groups[r.WriteGroup]
		return rs, fmt.Sprintf("%s belongs to write group %s, which has one mode: flipping all of %s", id, r.WriteGroup, ids(rs)), nil
	}
	return []*Route{r}, "", nil
}

func ids(rs []*Route) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return strings.Join(out, ", ")
}

// PlanRollback turns routes (or all of them) into changes back to legacy.
// Deny routes are skipped: they have no mode. With all, flags that no route
// of this table names are rolled back too (another replica's config may use
// them).
func (t *Table) PlanRollback(names []string, all bool, current *flags.Snapshot) ([]flags.Change, error) {
	keys := map[string]bool{}
	if all {
		for _, r := range t.Routes {
			if !r.Deny {
				keys[r.Flag] = true
			}
		}
		if current != nil {
			for k := range current.Flags {
				keys[k] = true
			}
		}
	}
	for _, id := range names {
		rs, _, err := t.resolve(id)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Deny {
				return nil, fmt.Errorf("route %s is a deny route: it has no mode to roll back", id)
			}
			keys[r.Flag] = true
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("name the routes to roll back, or --all")
	}
	out := make([]flags.Change, 0, len(keys))
	for k := range keys {
		out = append(out, flags.Change{Key: k, Mode: "legacy"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// RouteView is one route as `strangler routes --json` and GET /api/routes
// show it.
type RouteView struct {
	ID      string       `json:"id"`
	Match   config.Match `json:"match"`
	Target  string       `json:"target"`
	Flag    string       `json:"flag"`
	Mode    string       `json:"mode"`
	Percent int          `json:"percent"`
	Deny    bool         `json:"deny"`
	Safe    bool         `json:"safe"`
	// WriteGroup is the route's write group ("" = none).
	WriteGroup string     `json:"write_group,omitempty"`
	Source     string     `json:"source"`
	ChangedAt  *time.Time `json:"changed_at"`
	ChangedBy  string     `json:"changed_by"`
	Reason     string     `json:"reason"`
	// Local marks a change made while the database was unreachable.
	Local bool `json:"local,omitempty"`
}

// ReplicaView is a replica's heartbeat, compared with this table.
type ReplicaView struct {
	flags.Replica
	// ConfigDiffers: the replica runs another route table.
	ConfigDiffers bool `json:"config_differs"`
}

// RoutesView is the whole answer of `strangler routes --json`.
type RoutesView struct {
	ConfigHash   string        `json:"config_hash"`
	FlagsVersion int64         `json:"flags_version"`
	Routes       []RouteView   `json:"routes"`
	Replicas     []ReplicaView `json:"replicas"`
}

// View describes every route of t under the flags in snap.
func (t *Table) View(routes []config.Route, snap *flags.Snapshot, replicas []flags.Replica) RoutesView {
	v := RoutesView{ConfigHash: t.Hash, Routes: []RouteView{}, Replicas: []ReplicaView{}}
	if snap != nil {
		v.FlagsVersion = snap.Version
	}
	for i, r := range t.Routes {
		rv := RouteView{ID: r.ID, Match: routes[i].Match, Target: r.Target.String(), Flag: r.Flag,
			Mode: r.DefaultMode.String(), Percent: r.DefaultPercent, Deny: r.Deny, Safe: r.Safe, Source: "default",
			WriteGroup: r.WriteGroup}
		if r.Deny {
			rv.Mode, rv.Source = "deny", "config"
		} else if f, ok := snap.Get(r.Flag); ok {
			at := f.ChangedAt
			rv.Mode, rv.Percent, rv.Source = f.Mode, f.Percent, "flag"
			rv.ChangedAt, rv.ChangedBy, rv.Reason, rv.Local = &at, f.ChangedBy, f.Reason, f.Local
		}
		v.Routes = append(v.Routes, rv)
	}
	for _, rep := range replicas {
		v.Replicas = append(v.Replicas, ReplicaView{Replica: rep, ConfigDiffers: rep.ConfigHash != t.Hash})
	}
	return v
}
