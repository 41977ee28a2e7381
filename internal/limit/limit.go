// Package limit holds the proxy's rate limits: token buckets (GCRA) per
// client address, per user key and, stricter, per address and per username
// on the legacy admin login, kept in memory or shared through Redis.
package limit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Rule is a token bucket: Requests per Per on average, Burst at once.
type Rule struct {
	Requests int
	Per      time.Duration
	Burst    int
}

// Enabled says whether the rule limits anything.
func (r Rule) Enabled() bool { return r.Requests > 0 && r.Per > 0 && r.Burst > 0 }

// interval is the time one token takes to come back.
func (r Rule) interval() time.Duration { return r.Per / time.Duration(r.Requests) }

// Store takes tokens from buckets identified by key.
type Store interface {
	// Take takes one token; when none is left it returns false and how
	// long until one is.
	Take(ctx context.Context, key string, r Rule) (ok bool, retryAfter time.Duration, err error)
}

// Local is an in-memory Store (one replica's buckets). It keeps each
// bucket's theoretical arrival time (GCRA) and forgets full buckets.
type Local struct {
	Now func() time.Time

	mu    sync.Mutex
	tat   map[string]time.Time
	swept time.Time
}

// NewLocal makes an empty in-memory store.
func NewLocal() *Local { return &Local{Now: time.Now, tat: map[string]time.Time{}} }

var _ Store = (*Local)(nil)

// Take implements Store.
func (l *Local) Take(_ context.Context, key string, r Rule) (bool, time.Duration, error) {
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	ok, wait, next := gcra(l.tat[key], now, r)
	if ok {
		l.tat[key] = next
	}
	return ok, wait, nil
}

// sweep drops buckets that have refilled completely, at most once a second,
// so that memory follows the number of recently active clients.
func (l *Local) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Second {
		return
	}
	l.swept = now
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
}

// gcra is the generic cell rate algorithm: a request is allowed when the
// bucket's theoretical arrival time, pushed one interval on, stays within
// burst intervals of now.
func gcra(tat, now time.Time, r Rule) (ok bool, retryAfter time.Duration, next time.Time) {
	if tat.Before(now) {
		tat = now
	}
	t := r.interval()
	next = tat.Add(t)
	limit := t * time.Duration(r.Burst)
	if over := next.Sub(now) - limit; over > 0 {
		return false, over, tat
	}
	return true, 0, next
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, for the
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
