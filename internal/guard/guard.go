package guard

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/flags"
)

// RouteInfo is what the guard needs to know of one route right now (the
// router's state and the route's flag).
type RouteInfo struct {
	ID   string
	Flag string
	// Mode is the route's effective mode: legacy, shadow, canary or new.
	Mode string
	// Target is the new side ("service:samples", a URL); "" = none.
	Target string
	// Group is the route's write group ("" = none): a trip rolls back all
	// of it.
	Group string
	// Version and ChangedAt are those of the route's flag (0 and zero time
	// when it has never been flipped).
	Version   int64
	ChangedAt time.Time
}

// RollbackFunc puts routes back to legacy through the same path as
// `strangler rollback` (a write group member takes its whole group).
type RollbackFunc func(ctx context.Context, routes []string, meta flags.Meta) error

// Options configure a Guard; zero fields take the defaults named.
type Options struct {
	// Config is the guard section (default config.DefaultGuard()).
	Config *config.Guard
	// Pool is the proxy's database. Nil: counts stay in memory and only the
	// breaker and health signals trip.
	Pool *pgxpool.Pool
	// Replica names this process in samples and events.
	Replica string
	// Routes lists the routes and their current modes. Required to evaluate.
	Routes func() []RouteInfo
	// Rollback rolls routes back. Required to trip.
	Rollback RollbackFunc
	// Health returns the consecutive failed health checks of a target
	// (Checker.Failures); nil switches the health signal off.
	Health func(target string) (failures int, known bool)
	// HTTPClient posts the webhook (default: a client with the webhook's
	// timeout).
	HTTPClient *http.Client
	Logger     zerolog.Logger
	// Registerer receives the metrics (default: a private registry).
	Registerer prometheus.Registerer
	// Now is the clock of samples, windows and events (default time.Now).
	Now func() time.Time
}

// Guard watches the new side of every route and rolls a route back to
// legacy when one of its signals trips. The proxy reports answers to it
// (Observe, ObserveComparison) and asks its breakers (Allow); Run flushes
// the counts to the database and evaluates the windows of every replica.
// Every method is safe on a nil *Guard (no guard: nothing is counted,
// every request allowed).
type Guard struct {
	opts     Options
	cfg      config.Guard
	now      func() time.Time
	log      zerolog.Logger
	normal   *Normal
	obs      *observer
	breakers *Breakers
	store    *pgStore
	metrics  *metrics
	hook     *webhook

	evalMu    sync.Mutex // one evaluation at a time
	routes    map[string]*routeState
	pending   []Event // trips made while the database was down
	baselined map[string]time.Time
	dbDown    bool
	lastPrune time.Time
	lastRound time.Time // the previous evaluation's now

	flushMu sync.Mutex
	// enabled starts as guard.enabled and can be switched at run time.
	enabled atomic.Bool
}

// SetEnabled lets the guard roll routes back (true) or only count (false),
// while it runs.
func (g *Guard) SetEnabled(on bool) { g.enabled.Store(on) }

// Enabled says whether the guard may roll routes back.
func (g *Guard) Enabled() bool { return g.enabled.Load() }

// routeState is what the evaluator remembers of a route between rounds.
type routeState struct {
	version int64
	// epoch is when the route's flag last changed as far as this replica
	// knows: counts before it belong to another mode (or to the failure a
	// trip already answered) and are left out.
	epoch   time.Time
	tripped bool // this replica tripped the route at version
	dryRun  bool // a trip was logged but not made (guard.enabled off)
}

// New builds a Guard; Run starts its loops.
func New(opts Options) *Guard {
	cfg := config.DefaultGuard()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Guard{opts: opts, cfg: cfg, now: opts.Now, log: opts.Logger.With().Str("component", "guard").Logger(),
		normal: NewNormal(cfg.NormalErrors), routes: map[string]*routeState{}, baselined: map[string]time.Time{}}
	g.enabled.Store(cfg.Enabled)
	g.obs = newObserver(opts.Now, ringLen(cfg), 4096)
	g.breakers = newBreakers(cfg.Breaker, opts.Now, opts.Registerer)
	if opts.Pool != nil {
		g.store = &pgStore{pool: opts.Pool}
	}
	g.metrics = newMetrics(opts.Registerer, g.obs)
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cfg.Webhook.Timeout}
	}
	g.hook = newWebhook(cfg.Webhook, client, g.log, g.metrics.webhook)
	return g
}

// ringLen keeps enough seconds in memory to cover the longest window while
// the database is down.
func ringLen(cfg config.Guard) int {
	longest := cfg.Defaults.Window
	for _, o := range cfg.Routes {
		if o.Window != nil {
			longest = max(longest, *o.Window)
		}
	}
	return int(longest/time.Second) + 8
}

// Observe counts one answered request (or one tRPC call) of a route. It
// never blocks on I/O and allocates nothing once the route, procedure and
// side have been seen. procedure is "" for routes that are not tRPC.
func (g *Guard) Observe(route, procedure string, side Side, o Outcome, latency time.Duration) {
	if g == nil || route == "" {
		return
	}
	k := kindLegacy
	if side == SideNew {
		k = kindNew
	}
	g.obs.answer(cellKey{route: route, procedure: procedure, kind: k}, o, latency)
}

// ObserveComparison counts one shadow comparison of a route by its outcome
// (package shadow's outcome names): mismatch counts against the new side;
// match, accepted and noise for it; skipped and error not at all.
func (g *Guard) ObserveComparison(route, outcome string) {
	if g == nil || route == "" {
		return
	}
	switch outcome {
	case "mismatch":
		g.obs.comparison(route, true)
	case "match", "accepted", "noise":
		g.obs.comparison(route, false)
	}
}

// ObserveHTTP counts the answer of a route that is not tRPC by its status
// and returns its outcome (for the breaker: ok unless OutcomeFailure).
func (g *Guard) ObserveHTTP(route string, side Side, status int, latency time.Duration) Outcome {
	o := ClassifyHTTP(status)
	g.Observe(route, "", side, o, latency)
	return o
}

// ObserveTRPC classifies a tRPC answer (or its first bytes) per call and
// counts each call under its route: routes[i] is the route of procs[i]
// ("" skips the call: an unknown procedure). It returns the worst outcome,
// for the breaker. Nothing is allocated for batches of up to 16 calls.
func (g *Guard) ObserveTRPC(side Side, routes, procs []string, batch bool, status int, body []byte, latency time.Duration) Outcome {
	if g == nil {
		return OutcomeOK
	}
	var buf [16]Outcome
	outs := g.normal.ClassifyTRPC(side, procs, batch, status, body, buf[:0])
	for i, o := range outs {
		if i < len(routes) {
			g.Observe(routes[i], procs[i], side, o, latency)
		}
	}
	return Worst(outs)
}

// ClassifyTRPC classifies each call of a tRPC answer with the configured
// normal errors (see Normal.ClassifyTRPC).
func (g *Guard) ClassifyTRPC(side Side, procs []string, batch bool, status int, body []byte, out []Outcome) []Outcome {
	var n *Normal
	if g != nil {
		n = g.normal
	}
	return n.ClassifyTRPC(side, procs, batch, status, body, out)
}

// Allow asks the breaker of a new target (see Breakers.Allow); Guard
// satisfies package proxy's Breaker. A nil Guard allows everything.
func (g *Guard) Allow(target string) (done func(ok bool), allowed bool) {
	if g == nil {
		return func(bool) {}, true
	}
	return g.breakers.Allow(target)
}

// Breakers returns the per-target breakers.
func (g *Guard) Breakers() *Breakers { return g.breakers }

// Flush adds this replica's counts to the database. Counts the database
// does not take stay in memory for the next flush.
func (g *Guard) Flush(ctx context.Context) error {
	if g.store == nil {
		return nil
	}
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	samples := g.obs.take()
	if err := g.store.addSamples(ctx, g.opts.Replica, samples); err != nil {
		g.obs.restore(samples)
		g.metrics.flushErrors.Inc()
		return err
	}
	return nil
}
