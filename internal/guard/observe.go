package guard

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the latency histogram every replica
// counts in and the database sums; a latency above the last bound falls in
// one more bucket. p99 is read as the bound of the bucket holding it.
var LatencyBounds = []time.Duration{
	1 * ms, 2 * ms, 3 * ms, 5 * ms, 7500 * time.Microsecond, 10 * ms, 15 * ms, 20 * ms, 30 * ms, 50 * ms,
	75 * ms, 100 * ms, 150 * ms, 200 * ms, 300 * ms, 500 * ms, 750 * ms, time.Second, 1500 * ms,
	2 * time.Second, 3 * time.Second, 5 * time.Second, 7500 * ms, 10 * time.Second, 15 * time.Second,
	20 * time.Second, 30 * time.Second, 60 * time.Second,
}

const ms = time.Millisecond

// numBuckets is len(LatencyBounds) plus the overflow bucket.
const numBuckets = 29

func bucketOf(d time.Duration) int {
	return sort.Search(len(LatencyBounds), func(i int) bool { return d <= LatencyBounds[i] })
}

// counts are one cell's counts over some seconds.
type counts struct {
	requests, failures, normal, client int64
	compared, mismatched               int64
	hist                               [numBuckets]int64
}

func (c *counts) add(o *counts) {
	c.requests += o.requests
	c.failures += o.failures
	c.normal += o.normal
	c.client += o.client
	c.compared += o.compared
	c.mismatched += o.mismatched
	for i := range c.hist {
		c.hist[i] += o.hist[i]
	}
}

func (c *counts) empty() bool { return c.requests == 0 && c.compared == 0 }

// p99 returns the bound of the bucket holding the 99th percentile, and
// false when nothing was counted.
func (c *counts) p99() (time.Duration, bool) {
	var total int64
	for _, n := range c.hist {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := (total*99 + 99) / 100 // ceil(0.99 * total)
	var seen int64
	for i, n := range c.hist {
		if seen += n; seen >= rank {
			if i < len(LatencyBounds) {
				return LatencyBounds[i], true
			}
			break
		}
	}
	return 2 * LatencyBounds[len(LatencyBounds)-1], true
}

// kind is what a cell counts: answers of one side, or shadow comparisons.
type kind uint8

const (
	kindLegacy kind = iota
	kindNew
	kindShadow
)

var kindNames = [...]string{"legacy", "new", "shadow"}

func (k kind) String() string { return kindNames[k] }

type cellKey struct {
	route, procedure string
	kind             kind
}

// slot holds the counts of one second not yet written to the database.
type slot struct {
	sec int64
	c   counts
}

// cell counts one route, procedure and kind, per second, in a ring that
// keeps what the database has not taken yet (while it is down, the last
// len(ring) seconds).
type cell struct {
	key  cellKey
	mu   sync.Mutex
	ring []slot
}

// at returns the slot of sec, emptying a slot left by an older second (its
// counts are lost: the database was down for longer than the ring) and
// reporting how many requests and comparisons were dropped with it.
func (c *cell) at(sec int64) (*slot, int64) {
	s := &c.ring[uint64(sec)%uint64(len(c.ring))]
	if s.sec == sec {
		return s, 0
	}
	dropped := s.c.requests + s.c.compared
	*s = slot{sec: sec}
	return s, dropped
}

// observer is the in-memory side of the guard: lock-free lookup of a cell
// (copy-on-write map), one uncontended mutex per cell per observation, no
// allocation once a cell exists.
type observer struct {
	now      func() time.Time
	ringLen  int
	maxCells int

	cells   atomic.Pointer[map[cellKey]*cell]
	mu      sync.Mutex // serialises cell creation
	dropped atomic.Int64
}

func newObserver(now func() time.Time, ringLen, maxCells int) *observer {
	o := &observer{now: now, ringLen: ringLen, maxCells: maxCells}
	m := map[cellKey]*cell{}
	o.cells.Store(&m)
	return o
}

func (o *observer) cell(k cellKey) *cell {
	if c := (*o.cells.Load())[k]; c != nil {
		return c
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.cells.Load()
	if c := old[k]; c != nil {
		return c
	}
	if len(old) >= o.maxCells {
		return nil
	}
	m := make(map[cellKey]*cell, len(old)+1)
	for kk, v := range old {
		m[kk] = v
	}
	c := &cell{key: k, ring: make([]slot, o.ringLen)}
	m[k] = c
	o.cells.Store(&m)
	return c
}

// answer counts one answered request or call.
func (o *observer) answer(k cellKey, out Outcome, latency time.Duration) {
	c := o.cell(k)
	if c == nil {
		o.dropped.Add(1)
		return
	}
	b := bucketOf(latency)
	c.mu.Lock()
	s, dropped := c.at(o.now().Unix())
	s.c.requests++
	switch out {
	case OutcomeFailure:
		s.c.failures++
	case OutcomeNormalError:
		s.c.normal++
	case OutcomeClientError:
		s.c.client++
	}
	s.c.hist[b]++
	c.mu.Unlock()
	if dropped > 0 {
		o.dropped.Add(dropped)
	}
}

// comparison counts one shadow comparison of a route.
func (o *observer) comparison(route string, mismatch bool) {
	c := o.cell(cellKey{route: route, kind: kindShadow})
	if c == nil {
		o.dropped.Add(1)
		return
	}
	c.mu.Lock()
	s, dropped := c.at(o.now().Unix())
	s.c.compared++
	if mismatch {
		s.c.mismatched++
	}
	c.mu.Unlock()
	if dropped > 0 {
		o.dropped.Add(dropped)
	}
}

// sample is one cell's counts of one second, on their way to the database.
type sample struct {
	key cellKey
	sec int64
	c   counts
}

// take removes and returns every count not yet written.
func (o *observer) take() []sample {
	var out []sample
	for _, c := range *o.cells.Load() {
		c.mu.Lock()
		for i := range c.ring {
			s := &c.ring[i]
			if !s.c.empty() {
				out = append(out, sample{key: c.key, sec: s.sec, c: s.c})
				s.c = counts{}
			}
		}
		c.mu.Unlock()
	}
	return out
}

// restore puts back counts the database did not take, unless their slot has
// moved on to a later second meanwhile.
func (o *observer) restore(samples []sample) {
	for i := range samples {
		sm := &samples[i]
		c := o.cell(sm.key)
		if c == nil {
			continue
		}
		c.mu.Lock()
		s := &c.ring[uint64(sm.sec)%uint64(len(c.ring))]
		switch {
		case s.sec == sm.sec:
			s.c.add(&sm.c)
		case s.c.empty() && sm.sec > s.sec:
			*s = slot{sec: sm.sec, c: sm.c}
		default:
			o.dropped.Add(sm.c.requests + sm.c.compared)
		}
		c.mu.Unlock()
	}
}
