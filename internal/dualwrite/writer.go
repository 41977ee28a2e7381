package dualwrite

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/trpc"
)

// Options configure a Writer; zero fields take the defaults named.
type Options struct {
	// Specs are the write groups handled (default: Samples).
	Specs []*Spec
	// Stores are the legacy and new databases (required).
	Stores Stores
	// Intents is the pool that stores intents on the hot path (default
	// Stores.New). A small pool of its own keeps the users' writes from
	// waiting for a connection behind the workers.
	Intents *pgxpool.Pool
	// Services are the in-process services by name, for secondary
	// executions. A group whose service is missing (a remote target) is
	// converged without executing (counted as skipped, no_service).
	Services map[string]http.Handler
	// Compare receives each secondary execution's answer with legacy's
	// (for example JudgeWith(shadower)); nil compares nothing.
	Compare CompareFunc
	// Mode tells a group's current mode, for work done after the request
	// (retries, relay). Default: the mode the request was decided with.
	Mode ModeFunc
	// SkipLegacyMode turns off converging the writes of a group in legacy
	// mode. By default legacy-mode writes are converged too (no secondary
	// execution, no comparison), so that the new store stays equal through
	// a rollback and a later flip needs no backfill.
	SkipLegacyMode bool
	// Replica names this process in intent rows and applied_by.
	Replica string
	// Workers run secondary executions and converges (default 8).
	Workers int
	// Queue bounds the jobs waiting for a worker (default 10000); a job
	// that does not fit is left to the retry loop (skipped: queue_full),
	// which finds its intent once its lease ends.
	Queue int
	// MaxBody is the largest request body dual-written (default 1 MiB);
	// MaxAnswer the largest legacy answer read (default 1 MiB).
	MaxBody, MaxAnswer int
	// StoreTimeout bounds storing an intent on the hot path (default 1s).
	StoreTimeout time.Duration
	// Lease is how long an unanswered intent is left to the replica that
	// sent it before a recovery takes it over (default 1m; keep it above
	// the upstream response timeout).
	Lease time.Duration
	// Poll is the retry loop's period (default 1s).
	Poll time.Duration
	// Retry is the policy of failed converges (default 1s doubling to 5m,
	// dead after 20 attempts).
	Retry Retry
	// SweepMargin is how far before an unanswered create's intent a
	// recovery looks for legacy creates the new store lacks (default 10m,
	// for clock skew between the proxy's database and the legacy app).
	SweepMargin time.Duration
	// MemoryLimit bounds the intents kept in memory while the coordination
	// database is down (default 100000); past it they are dropped, counted
	// and left to reconcile.
	MemoryLimit int
	// SecondaryTimeout bounds one secondary execution (default 10s).
	SecondaryTimeout time.Duration
	// NoRelay: Run does not run the relays (another process does).
	NoRelay bool
	// Relay tunes the relays Run starts (Spec, Stores, Mode, Replica,
	// Registerer and Logger are filled in).
	Relay RelayOptions
	// Registerer receives the metrics (default: a private registry).
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) fill() error {
	if o.Stores.New == nil || o.Stores.Legacy == nil {
		return errors.New("dualwrite: Options.Stores needs both pools")
	}
	if len(o.Specs) == 0 {
		o.Specs = []*Spec{Samples}
	}
	if o.Intents == nil {
		o.Intents = o.Stores.New
	}
	for _, s := range o.Specs {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	setDefault(&o.Workers, 8)
	setDefault(&o.Queue, 10000)
	setDefault(&o.MaxBody, 1<<20)
	setDefault(&o.MaxAnswer, 1<<20)
	setDefault(&o.StoreTimeout, time.Second)
	setDefault(&o.Lease, time.Minute)
	setDefault(&o.Poll, time.Second)
	setDefault(&o.SweepMargin, 10*time.Minute)
	setDefault(&o.MemoryLimit, 100000)
	setDefault(&o.SecondaryTimeout, 10*time.Second)
	o.Retry.fill()
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Writer carries out the legacy-primary half of the dual writes (shadow,
// canary, and legacy mode unless SkipLegacyMode) and runs the relays of
// the new-primary half. Begin and Done are the hot path; they never wait
// for the new side.
type Writer struct {
	opts   Options
	groups map[string]*group
	m      *metrics
	log    zerolog.Logger
	store  intents // the workers' and the retry loop's
	hot    intents // Begin's

	jobs     jobQueue
	memory   memoryQueue
	dbDown   atomic.Int64 // unix nanoseconds until which the hot path skips the database
	closed   atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	running  atomic.Bool
	runDone  chan struct{}
	// claimFailing: the retry loop's last claim failed (logged on change).
	claimFailing bool
}

// group is one write group's machinery.
type group struct {
	spec *Spec
	c    *copier
}

// NewWriter builds a Writer; Run starts its workers and loops.
func NewWriter(opts Options) (*Writer, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	w := &Writer{
		opts: opts, groups: map[string]*group{}, m: newMetrics(opts.Registerer),
		log:   opts.Logger.With().Str("component", "dualwrite").Logger(),
		store: intents{db: opts.Stores.New, replica: opts.Replica},
		hot:   intents{db: opts.Intents, replica: opts.Replica},
		stop:  make(chan struct{}), runDone: make(chan struct{}),
	}
	w.memory.limit = opts.MemoryLimit
	w.jobs = jobQueue{limit: opts.Queue, wake: make(chan struct{}, 1)}
	for _, s := range opts.Specs {
		w.groups[s.Group] = &group{spec: s, c: newCopier(s, opts.Stores)}
		// Every reason exists from the start at 0, so that a rate over it
		// (the dashboard, an alert) has a series before the first skip.
		for _, reason := range skipReasons {
			w.m.skipped.WithLabelValues(s.Group, reason)
		}
	}
	return w, nil
}

// skipReasons are the reasons of strangler_dualwrite_skipped_total.
var skipReasons = []string{"body_too_large", "unknown_procedure", "not_recorded", "queue_full", "memory_full"}

// Info describes a decided request; the proxy fills it from its routing
// decision.
type Info struct {
	// RequestID is the proxy's request id.
	RequestID string
	// Primary is the side that answers the client: legacy or new.
	Primary string
	// Batch: a tRPC batch (?batch=1).
	Batch bool
	// Calls has one entry per tRPC call, in order.
	Calls []Call
}

// Call is one tRPC call of a decided request.
type Call struct {
	// Route is the id of the route taking the call (for comparisons).
	Route     string
	Procedure string
	// Group is the route's write group ("" for none).
	Group string
	// Mode is the route's mode: legacy, shadow, canary or new.
	Mode string
}

// Pending is a write request on its way to legacy. A nil *Pending (nothing
// to dual-write) is valid: Wrap returns the writer, Done does nothing.
type Pending struct {
	w       *Writer
	info    Info
	inputs  [][]byte
	intents []*intent
	modes   map[string]string // group -> mode at decision time
	capt    *capture
	start   time.Time
}

// Begin decides whether the request dual-writes and, if so, reads its body
// (putting it back for the primary) and stores one intent per write group
// before the primary sees the request. Call it for every tRPC request with
// a mutation of a write group that goes to legacy, whatever the mode; it
// returns nil when there is nothing to do (new primary, legacy mode with
// SkipLegacyMode, no group).
func (w *Writer) Begin(r *http.Request, in Info) *Pending {
	if w == nil || w.closed.Load() || in.Primary != SideLegacy {
		return nil
	}
	modes := w.wanted(in)
	if len(modes) == 0 {
		return nil
	}
	body, ok := w.readBody(r, modes)
	if !ok {
		return nil
	}
	names := make([]string, len(in.Calls))
	for i, c := range in.Calls {
		names[i] = c.Procedure
	}
	inputs, err := trpc.ExtractInputs(trpc.Request{Names: names, Batch: in.Batch, RawQuery: r.URL.RawQuery}, r.Method, body)
	if err != nil {
		return nil // legacy refuses every call of it: nothing is written
	}
	p := &Pending{w: w, info: in, inputs: inputs, modes: modes, start: w.opts.Now()}
	for g := range modes {
		p.intents = append(p.intents, w.newIntent(g, in, inputs, body))
	}
	w.storeIntents(r.Context(), p.intents)
	return p
}

// wanted returns the groups the request dual-writes, with their modes.
func (w *Writer) wanted(in Info) map[string]string {
	var modes map[string]string
	for _, c := range in.Calls {
		if _, ok := w.groups[c.Group]; !ok {
			continue
		}
		switch c.Mode {
		case "shadow", "canary":
		case "legacy":
			if w.opts.SkipLegacyMode {
				continue
			}
		case "new":
			// Legacy primary in new mode: a request an admin forced to
			// legacy. Its rows are converged (legacy's newer rows win).
		default:
			continue
		}
		if modes == nil {
			modes = map[string]string{}
		}
		modes[c.Group] = c.Mode
	}
	return modes
}

// readBody reads the request body (bounded) and puts it back.
func (w *Writer) readBody(r *http.Request, modes map[string]string) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(w.opts.MaxBody)+1))
	rest := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	if err != nil || len(body) > w.opts.MaxBody {
		for g := range modes {
			w.m.skipped.WithLabelValues(g, "body_too_large").Inc()
		}
		w.log.Warn().Int("limit", w.opts.MaxBody).Msg("write request too large to dual-write; reconcile will find its drift")
		return nil, false
	}
	return body, true
}

// newIntent describes what a request will do to one group before legacy
// runs it: the rows its inputs name, and how many creates it makes.
func (w *Writer) newIntent(g string, in Info, inputs [][]byte, body []byte) *intent {
	spec := w.groups[g].spec
	it := &intent{ID: uuid.NewString(), Group: g, RequestID: in.RequestID, Input: string(body), Created: w.opts.Now()}
	seen := map[string]bool{}
	for i, c := range in.Calls {
		if c.Group != g {
			continue
		}
		it.Procedures = append(it.Procedures, c.Procedure)
		if spec.Creates(c.Procedure) {
			it.Creates++
			continue
		}
		if _, known := spec.Procedures[c.Procedure]; !known {
			w.m.skipped.WithLabelValues(g, "unknown_procedure").Inc()
			continue
		}
		if ref, ok := spec.InputRef(c.Procedure, inputs[i]); ok && !seen[ref.String()] {
			seen[ref.String()] = true
			it.addRef(spec, ref)
		}
	}
	return it
}

// addRef adds a row: a root is an aggregate id, a child row waits for its
// aggregate to be resolved.
func (it *intent) addRef(spec *Spec, ref Ref) {
	if ref.Table == spec.Root().Name {
		it.IDs = appendUnique(it.IDs, ref.Key)
		return
	}
	it.Refs = appendUnique(it.Refs, ref.String())
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// storeIntents writes the intents before the primary runs. A database that
// just failed is not asked again for a second, so that its outage costs
// the users no latency; those intents live in memory until it is back.
func (w *Writer) storeIntents(ctx context.Context, its []*intent) {
	if time.Now().UnixNano() < w.dbDown.Load() {
		w.countNotStored(its)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.StoreTimeout)
	defer cancel()
	for _, it := range its {
		if err := w.hot.insert(ctx, it, w.opts.Lease); err != nil {
			w.dbDown.Store(time.Now().Add(time.Second).UnixNano())
			w.log.Warn().Err(err).Str("group", it.Group).Msg("intent not stored before the write; kept in memory")
			w.countNotStored(its)
			return
		}
		it.Stored = true
	}
}

func (w *Writer) countNotStored(its []*intent) {
	for _, it := range its {
		if !it.Stored {
			w.m.skipped.WithLabelValues(it.Group, "not_recorded").Inc()
		}
	}
}

// Wrap returns the writer the primary answers into: the client's, with a
// copy of the answer kept for Done.
func (p *Pending) Wrap(rw http.ResponseWriter) http.ResponseWriter {
	if p == nil {
		return rw
	}
	p.capt = &capture{w: rw, limit: p.w.opts.MaxAnswer}
	return p.capt
}

// Done hands legacy's answer to the workers. It never blocks: with the
// queue full, the intents are left to the retry loop.
func (p *Pending) Done() {
	if p == nil {
		return
	}
	if !p.w.jobs.push(p.job()) {
		for _, it := range p.intents {
			p.w.m.skipped.WithLabelValues(it.Group, "queue_full").Inc()
			if !it.Stored {
				p.w.remember(it)
			}
		}
	}
}

// jobQueue holds jobs for the workers: bounded, never blocking its
// producers.
type jobQueue struct {
	mu    sync.Mutex
	items []*job
	limit int
	wake  chan struct{}
}

// push queues j unless the queue is full, and wakes a worker.
func (q *jobQueue) push(j *job) bool {
	q.mu.Lock()
	if len(q.items) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, j)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest job, or nil.
func (q *jobQueue) pop() *job {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil
	}
	j := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	if len(q.items) > 0 {
		// Another worker may take the next one.
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return j
}
