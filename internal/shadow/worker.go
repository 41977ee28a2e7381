package shadow

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nanopore/strangler/internal/trpc"
)

// job is one queued comparison.
type job struct {
	info    Info
	req     *Request
	calls   []int // compared tRPC calls
	primary Exchange
	legacy  Caller
	next    Caller
	size    int64
}

// defaultWorkerIdle is how long a worker waits for a job before it leaves.
const defaultWorkerIdle = 30 * time.Second

// spawn starts workers while queued comparisons outnumber the idle workers,
// up to shadow.workers. The pool is elastic rather than fixed: a proxy with
// no route in shadow or canary mode keeps no worker at all (a fixed pool
// of 256 parked goroutines cost about 2 MB of stacks and work for every
// garbage collection), and a burst gets its workers within a Submit.
func (s *Shadower) spawn() {
	if int64(len(s.queue)) <= s.idle.Load() {
		return // the common case, without the lock
	}
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	// poolCtx is nil before Run (Run spawns what is queued) and once it
	// stops. Workers only ever decrease the counts outside the lock.
	for s.poolCtx != nil && int64(len(s.queue)) > s.idle.Load() && s.workers.Load() < int64(s.cfg.Workers) {
		s.workers.Add(1)
		s.idle.Add(1) // counted idle until it takes its first job
		s.wg.Add(1)
		go s.worker(s.poolCtx)
	}
}

// leave uncounts an idle worker that stops.
func (s *Shadower) leave() {
	s.idle.Add(-1)
	s.workers.Add(-1)
}

// worker runs comparisons until ctx ends or no job came for workerIdle. A
// panic in one comparison is logged and the worker goes on.
func (s *Shadower) worker(ctx context.Context) {
	defer s.wg.Done()
	idle := time.NewTimer(s.workerIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.leave()
			return
		case j := <-s.queue:
			s.idle.Add(-1)
			s.safely(ctx, j)
			s.idle.Add(1)
			idle.Reset(s.workerIdle)
		case <-idle.C:
			s.leave()
			// A job queued while this worker was leaving may have
			// counted on it: make sure someone takes it.
			s.spawn()
			return
		}
	}
}

func (s *Shadower) safely(ctx context.Context, j *job) {
	defer s.inflight.Add(-j.size)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error().Interface("panic", v).Str("route", j.info.Route).Msg("shadow: comparison panicked")
			s.count(j, OutcomeError)
		}
	}()
	s.process(ctx, j)
}

// shape is what the secondary (and a relearn) receives, and which entries
// of the primary's answer it is compared with.
type shape struct {
	path, rawQuery string
	body           []byte
	refs           []CallRef
	batch          bool
	// pick: the primary answered more calls than are compared; its entries
	// at these positions are compared.
	pick []int
	// inputs are the compared calls' raw inputs (for records).
	inputs [][]byte
}

// process sends the secondary call, learns noise now and then, compares
// and judges.
func (s *Shadower) process(ctx context.Context, j *job) {
	sh, err := s.shapeOf(j)
	if err != nil {
		s.skipJob(j, "unsplittable")
		return
	}
	secondary := j.next
	if j.info.Primary == "new" {
		secondary = j.legacy
	}
	b := s.breaker(secondaryName(j.info))
	probe, ok := b.allow(s.now())
	if !ok {
		s.skipJob(j, SkipSecondaryDown)
		return
	}
	ex, err := s.call(ctx, j, sh, secondary)
	if err != nil {
		b.failure(s.now(), probe, s.cfg.BreakerFailures, s.cfg.BreakerPause)
		s.count(j, OutcomeError)
		return
	}
	b.success(probe)
	if ex.Truncated {
		s.skipJob(j, SkipResponseLarge)
		return
	}
	primary, err := pickEntries(j.primary, sh)
	if err != nil {
		s.skipJob(j, "primary_not_trpc")
		return
	}
	pair := Pair{Route: j.info.Route, Calls: sh.refs, Batch: sh.batch, Legacy: primary, New: ex, Inputs: sh.inputs}
	if j.info.Primary == "new" {
		pair.Legacy, pair.New = ex, primary
	}
	if s.cfg.RelearnFraction > 0 && s.rand() < s.cfg.RelearnFraction {
		if again, err := s.call(ctx, j, sh, j.legacy); err == nil && !again.Truncated {
			s.learn(ctx, Pair{Route: pair.Route, Calls: pair.Calls, Batch: pair.Batch, Legacy: pair.Legacy, New: again})
		}
	}
	s.judge(ctx, j.req, j.info.Primary, pair)
}

// call sends the request shaped by sh to one side with the shadow timeout,
// detached from the client (the job's ctx is the shadower's own).
func (s *Shadower) call(ctx context.Context, j *job, sh shape, c Caller) (Exchange, error) {
	if c == nil {
		return Exchange{}, errNoSide
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := j.req.build(ctx, sh.path, sh.rawQuery, sh.body)
	if err != nil {
		return Exchange{}, err
	}
	start := s.now()
	ex, err := c.Call(req, int(s.cfg.MaxResponseBytes))
	ex.Latency = s.now().Sub(start)
	return ex, err
}

// shapeOf builds the secondary request: the original one, or for a tRPC
// request of which only some calls are compared, the batch of those calls
// (package trpc's Split, inputs copied untouched).
func (s *Shadower) shapeOf(j *job) (shape, error) {
	q := j.req
	sh := shape{path: q.Path, rawQuery: q.RawQuery, body: q.Body, batch: j.info.Batch}
	if j.info.Calls == nil {
		return sh, nil
	}
	sh.refs = make([]CallRef, len(j.calls))
	for k, i := range j.calls {
		sh.refs[k] = CallRef{Route: j.info.Calls[i].Route, Procedure: j.info.Calls[i].Procedure}
	}
	names := make([]string, len(j.info.Calls))
	for i, c := range j.info.Calls {
		names[i] = c.Procedure
	}
	treq := trpc.Request{Names: names, Batch: j.info.Batch, RawQuery: q.RawQuery}
	inputs, err := trpc.ExtractInputs(treq, q.Method, q.Body)
	if err == nil {
		sh.inputs = make([][]byte, len(j.calls))
		for k, i := range j.calls {
			sh.inputs[k] = inputs[i]
		}
	}
	if len(j.calls) == len(j.info.Calls) {
		return sh, nil // the request as the client sent it, untouched
	}
	if err != nil || !j.info.Batch {
		return shape{}, fmt.Errorf("shadow: cannot split: %v", err)
	}
	sub := trpc.Split(treq, q.Method, inputs, j.calls)
	sh.path, sh.rawQuery, sh.body, sh.batch, sh.pick = sub.Path, sub.RawQuery, sub.Body, true, j.calls
	return sh, nil
}

// pickEntries turns the primary's batch answer into the answer of the
// compared calls alone: their entries joined, with tRPC's status rule.
func pickEntries(ex Exchange, sh shape) (Exchange, error) {
	if sh.pick == nil {
		return ex, nil
	}
	entries, err := trpc.ParseBatch(ex.Body)
	if err != nil {
		return Exchange{}, err
	}
	picked := make([]trpc.Entry, len(sh.pick))
	for k, i := range sh.pick {
		if i >= len(entries) {
			return Exchange{}, fmt.Errorf("answer has %d entries", len(entries))
		}
		picked[k] = entries[i]
	}
	out := ex
	out.Body = trpc.Join(picked)
	out.Status = trpc.BatchStatus(picked)
	return out, nil
}

// count counts every compared call of a job with one outcome.
func (s *Shadower) count(j *job, outcome string) {
	if j.info.Calls == nil {
		s.metrics.comparisons.WithLabelValues(j.info.Route, "", outcome).Inc()
		return
	}
	for _, i := range j.calls {
		c := j.info.Calls[i]
		s.metrics.comparisons.WithLabelValues(c.Route, c.Procedure, outcome).Inc()
	}
}

func (s *Shadower) skipJob(j *job, reason string) { s.skip(j.info, j.calls, reason) }

// breaker pauses comparisons with a secondary that keeps failing, so that
// a dead or stalled new side costs neither workers nor dials: after n
// consecutive failures it opens for a pause; then one comparison at a time
// probes the secondary (half-open) until one succeeds, which closes it, or
// fails, which opens it again for twice the pause, up to
// maxPauseDoublings. A stalled side, whose failures each take the shadow
// timeout, thus holds one worker, not the whole pool and queue.
type breaker struct {
	failures  atomic.Int64
	trips     atomic.Int64 // openings since the last success
	openUntil atomic.Int64 // unix nanoseconds
	probing   atomic.Bool  // a half-open probe is under way
}

// maxPauseDoublings caps the pause at 32 times shadow.breaker_pause.
const maxPauseDoublings = 5

// secondaryName names the side that does not answer: the new target, or
// legacy when the new side answers.
func secondaryName(in Info) string {
	if in.Primary == "new" {
		return "legacy"
	}
	return in.Target
}

func (s *Shadower) breaker(target string) *breaker {
	if v, ok := s.breakers.Load(target); ok {
		return v.(*breaker)
	}
	v, _ := s.breakers.LoadOrStore(target, &breaker{})
	return v.(*breaker)
}

// open says whether comparisons with the secondary are skipped now: during
// a pause, and while a half-open probe is under way.
func (b *breaker) open(now time.Time) bool {
	return now.UnixNano() < b.openUntil.Load() || b.trips.Load() > 0 && b.probing.Load()
}

// allow says whether a comparison may call the secondary, and whether that
// call is the half-open probe (then it must report with probe true).
func (b *breaker) allow(now time.Time) (probe, ok bool) {
	if now.UnixNano() < b.openUntil.Load() {
		return false, false
	}
	if b.trips.Load() == 0 {
		return false, true
	}
	if b.probing.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false
}

func (b *breaker) failure(now time.Time, probe bool, n int, pause time.Duration) {
	if probe {
		b.reopen(now, pause)
		b.probing.Store(false)
		return
	}
	if b.failures.Add(1) < int64(n) || b.trips.Load() > 0 {
		return // closed and under n; or calls from before it opened
	}
	b.reopen(now, pause)
}

func (b *breaker) reopen(now time.Time, pause time.Duration) {
	b.failures.Store(0)
	t := b.trips.Add(1)
	b.openUntil.Store(now.Add(pause << min(t-1, maxPauseDoublings)).UnixNano())
}

func (b *breaker) success(probe bool) {
	b.failures.Store(0)
	if probe || b.trips.Load() == 0 {
		b.trips.Store(0)
		b.probing.Store(false)
	}
}

// retain deletes records older than the retention, now and then, until
// ctx ends.
func (s *Shadower) retain(ctx context.Context) {
	if s.store == nil {
		return
	}
	t := time.NewTicker(s.cfg.Record.RetentionInterval)
	defer t.Stop()
	for {
		if n, err := s.store.DeleteBefore(ctx, s.now().Add(-s.cfg.Record.Retention)); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("shadow: retention failed")
		} else if n > 0 {
			s.log.Info().Int64("deleted", n).Msg("shadow: old mismatch records deleted")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
