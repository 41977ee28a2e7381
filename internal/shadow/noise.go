package shadow

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// noiseSet holds the general paths learnt as noise per route and
// procedure. Reads are lock-free (a copy-on-write map behind an atomic
// pointer); learning is rare. With a Store, what one replica learns is
// written to strangler.shadow_noise and every replica reloads that table,
// so replicas share it.
type noiseSet struct {
	mu  sync.Mutex
	cur atomic.Pointer[map[string]bool]
}

func newNoiseSet() *noiseSet {
	n := &noiseSet{}
	m := map[string]bool{}
	n.cur.Store(&m)
	return n
}

func noiseKey(route, procedure, path string) string {
	return route + "\x00" + procedure + "\x00" + path
}

// has reports whether a path is noise for a route and procedure.
func (n *noiseSet) has(route, procedure, path string) bool {
	return (*n.cur.Load())[noiseKey(route, procedure, path)]
}

// add learns paths; it returns those that were new.
func (n *noiseSet) add(route, procedure string, paths []string) []string {
	cur := *n.cur.Load()
	var fresh []string
	for _, p := range paths {
		if !cur[noiseKey(route, procedure, p)] {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	keys := make([]string, len(fresh))
	for i, p := range fresh {
		keys[i] = noiseKey(route, procedure, p)
	}
	n.store(keys)
	return fresh
}

// store publishes a copy of the set with keys added.
func (n *noiseSet) store(keys []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	next := make(map[string]bool, len(*n.cur.Load())+len(keys))
	for k := range *n.cur.Load() {
		next[k] = true
	}
	for _, k := range keys {
		next[k] = true
	}
	n.cur.Store(&next)
}

// merge adds what the database holds (learnt by any replica).
func (n *noiseSet) merge(paths []NoisePath) {
	keys := make([]string, len(paths))
	for i, p := range paths {
		keys[i] = noiseKey(p.Route, p.Procedure, p.Path)
	}
	n.store(keys)
}

// learn compares two legacy answers to the same request and learns, per
// call, the paths of scalar values that differ between them. Structural
// differences (a missing key, an extra element) are not learnt: they
// would hide real mismatches of whole elements.
func (s *Shadower) learn(ctx context.Context, p Pair) {
	for _, v := range Compare(p, s.rules) {
		var paths []string
		examples := map[string]string{}
		for _, d := range v.Diffs {
			if d.scalar {
				paths = append(paths, d.General)
				examples[d.General] = d.Path
			}
		}
		for _, path := range s.noise.add(v.Route, v.Procedure, paths) {
			s.metrics.noise.WithLabelValues(v.Route).Inc()
			s.log.Info().Str("route", v.Route).Str("procedure", v.Procedure).Str("path", path).
				Msg("shadow: learnt a noisy path (it differs between two legacy answers)")
			if s.store != nil {
				np := NoisePath{Route: v.Route, Procedure: v.Procedure, Path: path, Example: examples[path]}
				if err := s.store.AddNoise(ctx, np); err != nil {
					s.log.Warn().Err(err).Msg("shadow: noise not persisted")
				}
			}
		}
	}
}

// refreshNoise reloads the noise every replica learnt and the accepted
// differences declared at run time, until ctx ends.
func (s *Shadower) refreshNoise(ctx context.Context) {
	if s.store == nil {
		return
	}
	t := time.NewTicker(s.cfg.NoiseRefresh)
	defer t.Stop()
	for {
		if paths, err := s.store.Noise(ctx, ""); err == nil {
			s.noise.merge(paths)
		} else if ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("shadow: noise not reloaded")
		}
		if err := s.ReloadDeclared(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("shadow: declared accepted differences not reloaded")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
