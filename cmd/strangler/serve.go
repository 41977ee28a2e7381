package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/nanopore/strangler/internal/admin"
	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/logging"
	"github.com/nanopore/strangler/internal/proxy"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/services"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/store"
)

func (c *cli) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the public and admin listeners",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			// Batch log writes: one write(2) per access-log line would cost
			// more than routing the request.
			out := logging.NewBufferedWriter(c.stdout, 100*time.Millisecond, 64<<10)
			defer out.Close()
			m := NewMain(cfg, newLogger(out, cfg.Log.Level))
			if cmd.Flags().Changed("config") {
				m.ConfigPath = c.configPath
			} else if _, err := os.Stat(c.configPath); err == nil {
				m.ConfigPath = c.configPath
			}
			defer m.Close()
			if err := m.Open(cmd.Context()); err != nil {
				return err
			}
			return m.Run(cmd.Context())
		},
	}
}

func newLogger(w interface{ Write([]byte) (int, error) }, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// Main is one running proxy: its listeners, pools and background loops. The
// e2e tests reuse it with listeners on port 0.
type Main struct {
	Config   *config.Config
	Logger   zerolog.Logger
	Registry *prometheus.Registry
	// Services are the Go services this binary can mount (default: all).
	Services services.Registry
	// ConfigPath is the file reloaded on SIGHUP or change ("" = none).
	ConfigPath string

	pool    *pgxpool.Pool
	mounted map[string]services.Service
	flags   *flagsRuntime
	router  *routing.Router
	control *control
	proxy   *proxy.Proxy
	admin   *admin.Server
	health  *guard.Checker
	guard   *guard.Guard
	// guardView applies the guard's run-time on/off setting.
	guardView *admin.GuardView
	shadow    *shadow.Shadower
	// dualwrite converges legacy's answered writes into the service
	// schemas and relays the services' outboxes to legacy.
	dualwrite      *dualwrite.Writer
	closeDualwrite func()
	publicLn       net.Listener
	adminLn        net.Listener
	public         *http.Server
	adminSrv       *http.Server
	reload         reloader
}

// NewMain prepares a Main; Open connects and binds, Run serves.
func NewMain(cfg *config.Config, log zerolog.Logger) *Main {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Main{Config: cfg, Logger: log, Registry: reg, Services: defaultServices()}
}

// Open checks the database, builds the handlers and binds both listeners.
// Whether a port is free is checked only here, so that the other
// subcommands run beside a live proxy.
func (m *Main) Open(ctx context.Context) error {
	cfg := m.Config
	table, err := compileRoutes(cfg, m.Services)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		if err := m.openDatabase(ctx); err != nil {
			return err
		}
	}
	if err := m.openServices(); err != nil {
		return err
	}
	if m.flags, err = openFlags(ctx, m.Config, m.pool, m.Logger); err != nil {
		return err
	}
	if err := m.openRouter(table); err != nil {
		return err
	}
	m.flags.register(m.Registry, m.router)
	m.openGuard()
	if m.dualwrite, m.closeDualwrite, err = openDualWriter(ctx, m, m.judgeDualWrite); err != nil {
		return err
	}
	m.openProxy()
	if m.publicLn, err = listen("listen", cfg.Listen); err != nil {
		return err
	}
	if m.adminLn, err = listen("admin_listen", cfg.AdminListen); err != nil {
		return err
	}
	m.public = m.httpServer(m.proxy)
	m.adminSrv = m.httpServer(m.admin)
	m.armReload()
	return nil
}

// compileRoutes compiles the route table; a bad route is a usage error.
func compileRoutes(cfg *config.Config, reg services.Registry) (*routing.Table, error) {
	t, err := routing.Compile(cfg.Routes, routing.CompileOptions{Services: reg.Names(), TRPCEndpoint: cfg.TRPCEndpoint})
	if err != nil {
		return nil, usageErr(fmt.Errorf("invalid routes:\n%w", err))
	}
	return t, nil
}

// openServices builds every registered service on the proxy's pool, so that
// routes can name them as service:NAME.
func (m *Main) openServices() error {
	m.mounted = map[string]services.Service{}
	if m.pool == nil {
		return nil // no database: no in-process service (their routes stay legacy)
	}
	for _, name := range m.Services.Names() {
		svc, err := m.Services[name](services.Deps{Pool: m.pool, Logger: m.Logger.With().Str("service", name).Logger()})
		if err != nil {
			return fmt.Errorf("start service %s: %w", name, err)
		}
		m.mounted[name] = svc
	}
	return nil
}

// openRouter builds the router over the flags and the control surface the
// CLI and the admin API share.
func (m *Main) openRouter(table *routing.Table) error {
	cfg := m.Config
	rt, err := routing.NewRouter(table, routing.Options{
		Flags:            m.flags.client,
		FlagsVersion:     func() int64 { return m.flags.provider.Snapshot().Version },
		CanaryKeys:       cfg.Canary.Keys,
		CanaryCookie:     cfg.Canary.Cookie,
		TrustedProxies:   trustedNetworks(cfg),
		AdminTokenHashes: cfg.AdminTokenHashes,
		Logger:           m.Logger,
	})
	if err != nil {
		return usageErr(err)
	}
	m.router = rt
	m.flags.follow(rt)
	m.control = &control{source: m.flags.source, store: m.flags.store, snapshot: m.flags.provider.Snapshot, applied: rt.Rebuild}
	m.control.setTable(cfg.Routes, table)
	return nil
}

func trustedNetworks(cfg *config.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range cfg.TrustedProxies {
		p, _ := config.ParseNetwork(n) // validated by config.Load
		out = append(out, p)
	}
	return out
}

// openGuard builds the automatic-rollback guard: it counts answers, keeps a
// breaker per new target, shares its windows through the database and rolls
// routes back through the same path as `strangler rollback`.
func (m *Main) openGuard() {
	m.health = guard.NewChecker(m.Config.Health.Interval, m.Config.Health.Timeout, m.Logger, m.Registry)
	m.guard = guard.New(guard.Options{
		Config:  &m.Config.Guard,
		Pool:    m.pool,
		Replica: m.flags.replica.ID,
		Routes:  m.guardRoutes,
		Rollback: func(ctx context.Context, routes []string, meta flags.Meta) error {
			_, err := m.control.Rollback(ctx, routes, false, meta)
			return err
		},
		Health:     m.health.Failures,
		Logger:     m.Logger.With().Str("component", "guard").Logger(),
		Registerer: m.Registry,
	})
}

// guardRoutes describes the routes to the guard: their modes and flags.
func (m *Main) guardRoutes() []guard.RouteInfo {
	st := m.router.State()
	snap := m.flags.provider.Snapshot()
	out := make([]guard.RouteInfo, 0, len(st.Table.Routes))
	for _, r := range st.Table.Routes {
		if r.Deny || r.Target.Kind == routing.TargetNone {
			continue
		}
		f, _ := snap.Get(r.Flag)
		out = append(out, guard.RouteInfo{ID: r.ID, Flag: r.Flag, Mode: st.Mode(r).Mode.String(),
			Target: r.Target.String(), Group: r.WriteGroup, Version: f.Version, ChangedAt: f.ChangedAt})
	}
	return out
}

func (m *Main) openProxy() {
	cfg := m.Config
	legacy, _ := routing.ParseURLs(cfg.LegacyURL) // validated by config.Load
	handlers := map[string]http.Handler{}
	for name, svc := range m.mounted {
		handlers[name] = svc.Handler()
	}
	var records *shadow.Store
	if m.pool != nil {
		records = &shadow.Store{Pool: m.pool}
	}
	m.shadow = shadow.New(shadow.Options{Config: &cfg.Shadow, Store: records, Registerer: m.Registry,
		Logger: m.Logger.With().Str("component", "shadow").Logger(), Replica: m.flags.replica.ID,
		OnVerdict: m.guard.ObserveComparison})
	m.proxy = proxy.New(proxy.Options{
		Shadow:                m.shadow,
		DualWrite:             m.dualwrite,
		Legacy:                legacy[0],
		MoreLegacy:            legacy[1:],
		DialTimeout:           cfg.Upstream.DialTimeout,
		ResponseHeaderTimeout: cfg.Upstream.ResponseHeaderTimeout,
		IdleConnTimeout:       cfg.Upstream.IdleConnTimeout,
		MaxIdleConnsPerHost:   cfg.Upstream.MaxIdleConnsPerHost,
		TrustedProxies:        trustedNetworks(cfg),
		AccessLog:             cfg.Log.Access,
		Logger:                m.Logger,
		Registerer:            m.Registry,
		Router:                m.router,
		Services:              handlers,
		TRPCEndpoint:          cfg.TRPCEndpoint,
		CanaryCookie:          cfg.Canary.Cookie,
		CanaryCookieMaxAge:    cfg.Canary.CookieMaxAge,
		Limiter:               m.limiter(),
		MaxInFlightPerTarget:  cfg.Limits.MaxInFlightPerTarget,
		Breaker:               m.guard,
		Observer:              m.guard,
	})
	client := &http.Client{Transport: m.proxy.Transport()}
	for _, inst := range m.proxy.Instances() {
		m.health.Add(inst.Name, guard.HTTPProbe(client, strings.TrimSuffix(inst.URL.String(), "/")+cfg.Health.LegacyPath))
	}
	for name, svc := range m.mounted {
		m.health.Add("service:"+name, svc.Health)
	}
	m.openAdmin()
}

// openDatabase connects the proxy's pool and refuses to go on while
// migrations are pending, naming them.
func (m *Main) openDatabase(ctx context.Context) error {
	pool, err := store.Open(ctx, m.Config.DatabaseURL, store.Options{ApplicationName: "strangler",
		MaxConns: int32(m.Config.DatabaseMaxConns)})
	if err != nil {
		return err
	}
	m.pool = pool
	return checkMigrated(ctx, pool)
}

// checkMigrated refuses to go on while migrations are pending, naming them.
func checkMigrated(ctx context.Context, pool *pgxpool.Pool) error {
	pending, err := store.Pending(ctx, pool)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d migrations are pending (run `strangler migrate`): %s", len(pending), strings.Join(pending, ", "))
	}
	return nil
}

func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var se interface{ Unwrap() error }
		reason := err.Error()
		if errors.As(err, &se) {
			if u := se.Unwrap(); u != nil {
				reason = u.Error()
			}
		}
		return nil, usageErr(fmt.Errorf("%s: cannot listen on %s: %s", key, addr, reason))
	}
	return ln, nil
}

func (m *Main) httpServer(h http.Handler) *http.Server {
	s := m.Config.Server
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          nil,
	}
}

// PublicAddr is the bound public address (useful with port 0).
func (m *Main) PublicAddr() string { return m.publicLn.Addr().String() }

// AdminAddr is the bound admin address.
func (m *Main) AdminAddr() string { return m.adminLn.Addr().String() }

// Run serves until ctx ends, then stops accepting and lets in-flight requests
// finish within the shutdown grace period.
func (m *Main) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go m.health.Run(bg)
	go m.shadow.Run(bg)
	if m.dualwrite != nil {
		go m.dualwrite.Run(bg)
	}
	go m.guard.Run(bg) // with guard.enabled false it counts but never trips
	go m.followGuardSetting(bg)
	go m.followHealth(bg)
	m.flags.run(bg, m.router, m.Logger)
	go m.watchConfig(bg)
	g.Go(func() error { return serve(m.public, m.publicLn, m.Config.TLS) })
	g.Go(func() error { return serve(m.adminSrv, m.adminLn, m.Config.AdminTLS) })
	g.Go(func() error {
		<-gctx.Done()
		m.admin.SetReady(false)
		grace := m.Config.Server.ShutdownGrace
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		m.Logger.Info().Dur("grace", grace).Msg("shutting down: draining in-flight requests")
		err := m.public.Shutdown(sctx)
		_ = m.adminSrv.Shutdown(sctx)
		if err != nil {
			return fmt.Errorf("drain public listener within %s: %w", grace, err)
		}
		return nil
	})
	m.admin.SetReady(m.flags.ready())
	m.Logger.Info().Str("listen", m.PublicAddr()).Str("admin_listen", m.AdminAddr()).
		Str("legacy", m.Config.LegacyURL).Msg("strangler serving")
	err := g.Wait()
	if err != nil && ctx.Err() == nil {
		return err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	m.Logger.Info().Msg("stopped")
	return nil
}

// followHealth hands the health checks' results to the load balancer, so
// that unhealthy instances stop getting requests.
func (m *Main) followHealth(ctx context.Context) {
	t := time.NewTicker(m.Config.Health.Interval / 2)
	defer t.Stop()
	for {
		for _, st := range m.health.Statuses() {
			if st.Checked {
				m.proxy.SetHealthy(st.Target, st.Healthy)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serve serves one listener, over TLS when it is configured.
func serve(s *http.Server, ln net.Listener, t config.TLS) error {
	var err error
	if t.Enabled() {
		err = s.ServeTLS(ln, t.CertFile, t.KeyFile)
	} else {
		err = s.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases what Open acquired.
func (m *Main) Close() error {
	for _, ln := range []net.Listener{m.publicLn, m.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	m.disarmReload()
	if m.shadow != nil {
		m.shadow.Close() // in-flight comparisons end within shadow.timeout
	}
	if m.dualwrite != nil {
		m.dualwrite.Close() // queued converges stay as intents for a recovery
	}
	if m.closeDualwrite != nil {
		m.closeDualwrite()
	}
	for _, svc := range m.mounted {
		svc.Close()
	}
	if m.flags != nil {
		m.flags.close()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return nil
}

// PublicURL is the public listener's base URL.
func (m *Main) PublicURL() string { return scheme(m.Config.TLS) + m.PublicAddr() }

// AdminURL is the admin listener's base URL.
func (m *Main) AdminURL() string { return scheme(m.Config.AdminTLS) + m.AdminAddr() }

func scheme(t config.TLS) string {
	if t.Enabled() {
		return "https://"
	}
	return "http://"
}

// judgeDualWrite judges a dual write's replay like a shadow read.
func (m *Main) judgeDualWrite(ctx context.Context, c dualwrite.Comparison) {
	if m.shadow != nil {
		dualwrite.JudgeWith(m.shadow)(ctx, c)
	}
}
