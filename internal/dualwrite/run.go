package dualwrite

import (
	"context"
	"sync"
	"time"
)

// Run starts the workers, the relays (unless NoRelay) and the retry loop,
// and returns when ctx ends or Close is called, after every goroutine it
// started has stopped. Jobs still queued then are left to a recovery
// (their intents are stored; the ones only in memory are stored now if
// the database answers).
func (w *Writer) Run(ctx context.Context) {
	w.running.Store(true)
	defer close(w.runDone)
	if w.closed.Load() {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	for range w.opts.Workers {
		wg.Go(func() { w.worker(ctx) })
	}
	if !w.opts.NoRelay {
		for _, g := range w.groups {
			r, err := w.relay(g.spec)
			if err != nil {
				w.log.Error().Err(err).Msg("relay not started")
				continue
			}
			wg.Go(func() { r.Run(ctx) })
		}
	}
	w.retryLoop(ctx)
	wg.Wait()
	w.shutdown()
}

// relay builds the relay Run starts for one group.
func (w *Writer) relay(spec *Spec) (*Relay, error) {
	o := w.opts.Relay
	o.Spec, o.Stores, o.Mode, o.Replica = spec, w.opts.Stores, w.opts.Mode, w.opts.Replica
	o.Registerer, o.Logger = w.opts.Registerer, w.opts.Logger
	return NewRelay(o)
}

// Close stops Run and waits for it. Begin returns nil from then on.
func (w *Writer) Close() {
	w.closed.Store(true)
	w.stopOnce.Do(func() { close(w.stop) })
	if w.running.Load() {
		<-w.runDone
	}
}

// retryLoop converges, every Poll, the intents that are due: failed ones
// after their delay, and unanswered ones whose lease ran out (their proxy
// died, or their job did not fit the queue). It also stores the intents
// kept in memory once the database answers again.
func (w *Writer) retryLoop(ctx context.Context) {
	groups := make([]string, 0, len(w.groups))
	for g := range w.groups {
		groups = append(groups, g)
	}
	t := time.NewTicker(w.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.safely(func() {
			w.flushMemory(ctx)
			w.retryDue(ctx, groups)
			w.refreshStats(ctx, groups)
		})
	}
}

// retryDue claims the due intents, a batch at a time, and converges them.
func (w *Writer) retryDue(ctx context.Context, groups []string) {
	for ctx.Err() == nil {
		its, err := w.store.claim(ctx, groups, 50, w.opts.Lease)
		if failing := err != nil; failing != w.claimFailing {
			w.claimFailing = failing
			w.log.Warn().Err(err).Bool("failing", failing).Msg("claim due intents")
		}
		if err != nil || len(its) == 0 {
			return
		}
		// The workers converge them, so that the database sees no more
		// sessions than Workers whatever the backlog; a full queue leaves
		// the rest for the next round (their lease runs meanwhile).
		for _, it := range its {
			if !w.jobs.push(&job{intents: []*intent{it}, done: w.opts.Now()}) {
				// The workers are behind: the rest wait for a later round.
				return
			}
		}
		if len(its) < 50 {
			return
		}
	}
}

func (w *Writer) refreshStats(ctx context.Context, groups []string) {
	for _, g := range groups {
		w.m.intents.WithLabelValues(g, "memory").Set(float64(w.memory.len(g)))
		pending, dead, err := w.store.counts(ctx, g)
		if err != nil {
			continue
		}
		w.m.intents.WithLabelValues(g, "pending").Set(float64(pending))
		w.m.intents.WithLabelValues(g, "dead").Set(float64(dead))
	}
}

// shutdown hands the queued jobs' intents to the memory queue and stores
// what it can.
func (w *Writer) shutdown() {
	for j := w.jobs.pop(); j != nil; j = w.jobs.pop() {
		for _, it := range j.intents {
			if !it.Stored {
				w.remember(it)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.flushMemory(ctx)
	if n := w.memory.len(""); n > 0 {
		w.log.Error().Int("intents", n).Msg("stopping with dual writes the database never recorded; run `strangler reconcile --repair`")
	}
}

// remember keeps an intent the database could not take, for flushMemory.
func (w *Writer) remember(it *intent) {
	if !w.memory.add(it) {
		w.m.skipped.WithLabelValues(it.Group, "memory_full").Inc()
		w.log.Error().Str("group", it.Group).Strs("ids", it.IDs).
			Msg("dual-write intent dropped (memory queue full while the database is down); reconcile will repair")
	}
}

// flushMemory stores the remembered intents, due at once.
func (w *Writer) flushMemory(ctx context.Context) {
	for _, it := range w.memory.take() {
		it.Attempts = 0
		if _, err := w.store.save(ctx, it, errNotRecorded, w.opts.Retry); err != nil {
			w.memory.add(it)
			continue
		}
		it.Stored = true
	}
}

// errNotRecorded is the reason stored with an intent that waited in memory.
var errNotRecorded = errorString("stored after the database was back")

type errorString string

func (e errorString) Error() string { return string(e) }

// memoryQueue holds intents while the coordination database is down.
type memoryQueue struct {
	mu    sync.Mutex
	items []*intent
	limit int
}

func (q *memoryQueue) add(it *intent) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= q.limit {
		return false
	}
	q.items = append(q.items, it)
	return true
}

func (q *memoryQueue) take() []*intent {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

// len counts the intents of a group ("" for all).
func (q *memoryQueue) len(group string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, it := range q.items {
		if group == "" || it.Group == group {
			n++
		}
	}
	return n
}
