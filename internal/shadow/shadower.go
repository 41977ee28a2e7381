package shadow

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
)

// Options configure a Shadower; zero fields take the defaults named.
type Options struct {
	// Config is the shadow section (default config.DefaultShadow()).
	Config *config.Shadow
	// Store keeps records and noise; nil keeps noise in memory and stores
	// no records (they are still counted).
	Store *Store
	// Registerer receives the metrics (default: a private registry).
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand draws the relearn and record samples (default math/rand/v2).
	Rand func() float64
	// Replica names this process in records.
	Replica string
	// OnVerdict, when set, hears every judged call (route, outcome: match,
	// mismatch, accepted, noise): the guard counts the mismatch rate with it.
	OnVerdict func(route, outcome string)
}

// Shadower sends copies of safe requests to the side that does not answer,
// off the hot path, compares the answers, and counts and records the
// differences. Begin and Submit never block on the comparison.
type Shadower struct {
	cfg     config.Shadow
	rules   *RuleSet
	redact  *Redactor
	store   *Store
	log     zerolog.Logger
	now     func() time.Time
	rand    func() float64
	replica string
	verdict func(route, outcome string)

	metrics  *metrics
	window   *rateWindow
	noise    *noiseSet
	writes   sync.Map // procedure -> *atomic.Int64 (unix nanoseconds of its last call)
	breakers sync.Map // target -> *breaker
	caps     recordCaps

	queue    chan *job
	inflight atomic.Int64
	quit     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	running  atomic.Bool
	runDone  chan struct{}

	// Workers start on demand (see spawn) and leave after workerIdle
	// without a job.
	poolMu     sync.Mutex
	poolCtx    context.Context // nil before Run and after it stopped
	workers    atomic.Int64    // started and not yet gone
	idle       atomic.Int64    // waiting for a job
	workerIdle time.Duration
}

// New builds a Shadower; Run starts its workers.
func New(opts Options) *Shadower {
	cfg := config.DefaultShadow()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	s := &Shadower{
		cfg: cfg, rules: NewRuleSet(cfg), redact: NewRedactor(cfg.Redact), store: opts.Store,
		log: opts.Logger, now: opts.Now, rand: opts.Rand, replica: opts.Replica, verdict: opts.OnVerdict,
		window: newRateWindow(), noise: newNoiseSet(),
		queue: make(chan *job, cfg.Queue), quit: make(chan struct{}), runDone: make(chan struct{}),
		workerIdle: defaultWorkerIdle,
	}
	s.caps.m = map[string]*hourCount{}
	s.metrics = newMetrics(opts.Registerer,
		func() float64 { return float64(len(s.queue)) },
		func() float64 { return float64(s.inflight.Load()) },
		func() float64 { return float64(s.workers.Load()) })
	return s
}

// Rules returns the compiled rules (for Compare on answers obtained
// elsewhere, such as dual writes).
func (s *Shadower) Rules() *RuleSet { return s.rules }

// Info describes a decided request; the proxy fills it from its routing
// decision (the shadower knows nothing of routing).
type Info struct {
	// Route labels the request (the route id, or a batch label).
	Route string
	// Mode of the route: legacy, shadow, canary or new. For tRPC each call
	// carries its own.
	Mode string
	// Primary is the side that answers the client: "legacy" or "new".
	Primary string
	// Target is the new side ("service:samples", a URL) the request is
	// compared with; empty: none.
	Target string
	// Safe: a route that is not tRPC is declared safe to repeat.
	Safe bool
	// Calls has one entry per tRPC call, nil for other requests.
	Calls []Call
	// Batch: a tRPC batch (?batch=1).
	Batch bool
	// Split: the proxy splits this batch between sides (not compared).
	Split bool
	// Marked: the client request carried the shadow Header. The proxy
	// reads it before stripping its X-Strangler-* headers, and calls Begin
	// after the strip and its authentication, so that a copy carries the
	// verified identity and never a client's own identity headers.
	Marked bool
}

// Call is one tRPC call of a decided request.
type Call struct {
	Route     string // "" for an unknown procedure
	Procedure string
	Kind      string // query or mutation (declared by the route)
	Mode      string
	Target    string
}

// compares says whether a mode sends copies to the other side.
func (s *Shadower) compares(mode string) bool {
	return mode == "shadow" || mode == "canary" || mode == "new" && s.cfg.CompareInNewMode
}

// Pending is a request being shadowed: Wrap the client's writer, run the
// primary, then Submit. A nil *Pending (not shadowed) is valid: Wrap
// returns the writer and Submit does nothing.
type Pending struct {
	s     *Shadower
	info  Info
	req   *Request
	calls []int // compared calls (tRPC)
	tee   *Tee
	start time.Time
}

// Begin decides whether to compare r and, if so, snapshots it (buffering
// its body up to shadow.max_body_bytes). It returns nil when r is not
// compared; a skipped comparison is counted with its reason. Call it
// before the primary reads the body, and before the proxy strips its
// X-Strangler-* headers (the loop guard reads one).
func (s *Shadower) Begin(r *http.Request, in Info) *Pending {
	s.noteWrites(in.Calls)
	calls, wanted := s.wanted(in)
	if !wanted {
		return nil
	}
	if reason := s.precheck(r, in, calls); reason != "" {
		s.skip(in, calls, reason)
		return nil
	}
	req, reason := capture(r, s.cfg.MaxBodyBytes)
	if reason != "" {
		s.skip(in, calls, reason)
		return nil
	}
	return &Pending{s: s, info: in, req: req, calls: calls, start: s.now()}
}

// wanted returns the tRPC calls to compare and whether the request is
// meant for comparison at all (some call or route in a comparing mode,
// with a new side).
func (s *Shadower) wanted(in Info) ([]int, bool) {
	if in.Calls == nil {
		return nil, in.Target != "" && s.compares(in.Mode)
	}
	var calls []int
	for i, c := range in.Calls {
		if c.Route != "" && c.Target != "" && s.compares(c.Mode) {
			calls = append(calls, i)
		}
	}
	return calls, len(calls) > 0
}

// precheck finds a reason to skip before anything is copied.
func (s *Shadower) precheck(r *http.Request, in Info, calls []int) string {
	switch {
	case in.Marked || Marked(r.Header):
		return SkipLoop
	case in.Split:
		return SkipSplit
	case !s.safe(in):
		return SkipUnsafe
	case r.Header.Get("Upgrade") != "":
		return SkipUpgrade
	case strings.Contains(r.Header.Get("Trpc-Accept"), "jsonl"):
		return SkipStreaming
	case in.Calls != nil && !sameTarget(in, calls):
		return SkipMixedTargets
	case s.breaker(secondaryName(in)).open(s.now()):
		return SkipSecondaryDown
	case len(s.queue) >= cap(s.queue):
		return SkipQueueFull
	case s.inflight.Load() >= s.cfg.MaxInflightBytes:
		return SkipMemory
	}
	return ""
}

// safe: a request may be repeated only when declared safe: tRPC by every
// call's declared kind (query), anything else by the route's declaration.
// The method proves nothing: legacy has destructive GETs.
func (s *Shadower) safe(in Info) bool {
	if in.Calls == nil {
		return in.Safe
	}
	for _, c := range in.Calls {
		if c.Kind != "query" {
			return false
		}
	}
	return true
}

func sameTarget(in Info, calls []int) bool {
	for _, i := range calls {
		if in.Calls[i].Target != in.Target {
			return false
		}
	}
	return true
}

// skip counts a comparison that will not happen.
func (s *Shadower) skip(in Info, calls []int, reason string) {
	s.metrics.skipped.WithLabelValues(in.Route, reason).Inc()
	if in.Calls == nil {
		s.metrics.comparisons.WithLabelValues(in.Route, "", OutcomeSkipped).Inc()
		return
	}
	for _, i := range calls {
		c := in.Calls[i]
		s.metrics.comparisons.WithLabelValues(c.Route, c.Procedure, OutcomeSkipped).Inc()
	}
}

// noteWrites remembers when the procedures named by accepted differences'
// after_writes were last called (whatever their mode).
func (s *Shadower) noteWrites(calls []Call) {
	for _, c := range calls {
		if c.Route == "" || c.Kind != "mutation" || !s.rules.writeWatched(c.Procedure) {
			continue
		}
		v, _ := s.writes.LoadOrStore(c.Procedure, new(atomic.Int64))
		v.(*atomic.Int64).Store(s.now().UnixNano())
	}
}

// wroteWithin says whether a call of a procedure matching g went through
// this replica within d.
func (s *Shadower) wroteWithin(g globs, d time.Duration) bool {
	since := s.now().Add(-d).UnixNano()
	found := false
	s.writes.Range(func(k, v any) bool {
		if v.(*atomic.Int64).Load() >= since && g.Match(k.(string)) {
			found = true
		}
		return !found
	})
	return found
}

// Wrap returns the writer the primary answers into: the client's, teed.
func (p *Pending) Wrap(w http.ResponseWriter) http.ResponseWriter {
	if p == nil {
		return w
	}
	p.tee = NewTee(w, int(p.s.cfg.MaxResponseBytes))
	return p.tee
}

// Skip gives the comparison up, counted with reason: for example when the
// new side failed and legacy answered instead (a fallback), so that the
// answer teed is not the side Info.Primary names.
func (p *Pending) Skip(reason string) {
	if p == nil {
		return
	}
	p.s.skip(p.info, p.calls, reason)
	p.tee = nil
}

// Submit queues the comparison once the primary has answered: legacy and
// next are the callers of the two sides (the one that answered is used
// again only for noise learning, and only legacy). It never blocks: with
// the queue full the comparison is skipped and counted.
func (p *Pending) Submit(legacy, next Caller) {
	if p == nil || p.tee == nil {
		return
	}
	s := p.s
	ex, err := p.tee.exchange()
	if err != nil {
		s.skip(p.info, p.calls, err.Error())
		return
	}
	ex.Latency = s.now().Sub(p.start)
	j := &job{info: p.info, req: p.req, calls: p.calls, primary: ex, legacy: legacy, next: next}
	j.size = p.req.size() + int64(len(ex.Body))
	if s.inflight.Add(j.size) > s.cfg.MaxInflightBytes {
		s.inflight.Add(-j.size)
		s.skip(p.info, p.calls, SkipMemory)
		return
	}
	select {
	case s.queue <- j:
		s.spawn()
	default:
		s.inflight.Add(-j.size)
		s.skip(p.info, p.calls, SkipQueueFull)
	}
}

// Run starts the workers, the noise reload and the retention job, and
// returns when ctx ends or Close is called, after the workers stopped.
// Queued comparisons left then are dropped (counted as skipped, shutdown).
func (s *Shadower) Run(ctx context.Context) {
	if !s.running.CompareAndSwap(false, true) {
		return
	}
	defer close(s.runDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.refreshNoise(ctx) }()
	go func() { defer s.wg.Done(); s.retain(ctx) }()
	s.poolMu.Lock()
	s.poolCtx = ctx
	s.poolMu.Unlock()
	s.spawn() // for comparisons queued before Run
	<-ctx.Done()
	s.poolMu.Lock()
	s.poolCtx = nil // no worker starts from now on, so Wait is safe
	s.poolMu.Unlock()
	s.wg.Wait()
	s.drain()
}

// Close stops Run and waits for it: in-flight comparisons finish (each is
// bounded by shadow.timeout), queued ones are dropped.
func (s *Shadower) Close() {
	s.stopOnce.Do(func() { close(s.quit) })
	if s.running.Load() {
		<-s.runDone
	}
}

func (s *Shadower) drain() {
	for {
		select {
		case j := <-s.queue:
			s.inflight.Add(-j.size)
			s.skip(j.info, j.calls, SkipShutdown)
		default:
			return
		}
	}
}

// MismatchRate returns a route's share of mismatching calls over the last
// five minutes and how many calls were compared then (for the guard).
func (s *Shadower) MismatchRate(route string) (float64, int64) {
	return s.window.ratio(route, s.now())
}
