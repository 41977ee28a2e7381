package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/routing"
)

// heartbeatEvery is how often a replica records that it is alive; it also
// records at once after applying a new flags version.
const heartbeatEvery = 2 * time.Second

// flagsRuntime is a replica's flag machinery: the provider, the OpenFeature
// client the router evaluates with, and what feeds the provider.
type flagsRuntime struct {
	provider *flags.Provider
	api      *of.EvaluationAPI
	client   *of.Client
	source   flagSource
	store    *flags.Store // nil without a database
	syncer   *flags.Syncer
	file     *flags.FileSource
	replica  flags.Replica
	applied  chan struct{}
}

// openFlags loads the flags once (from the database, or the flags file when
// there is none) and registers the provider with an isolated OpenFeature API.
func openFlags(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, log zerolog.Logger) (*flagsRuntime, error) {
	f := &flagsRuntime{provider: flags.NewProvider(), api: isolated.NewAPI(), applied: make(chan struct{}, 1)}
	if pool != nil {
		f.store = &flags.Store{Pool: pool}
		f.syncer = &flags.Syncer{Store: f.store, Provider: f.provider, ConnString: cfg.DatabaseURL,
			Log: log.With().Str("component", "flags").Logger()}
		if err := f.syncer.Reload(ctx); err != nil {
			return nil, fmt.Errorf("load flags: %w", err)
		}
		f.source = f.syncer
	} else {
		f.file = &flags.FileSource{Path: cfg.FlagsFile, Provider: f.provider, Log: log.With().Str("component", "flags").Logger()}
		if err := f.file.Reload(); err != nil {
			return nil, usageErr(fmt.Errorf("flags_file: %w", err))
		}
		f.source = f.file
	}
	if err := f.api.SetProviderAndWait(ctx, f.provider); err != nil {
		return nil, fmt.Errorf("start flag provider: %w", err)
	}
	f.client = f.api.NewClient()
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	f.replica = flags.Replica{ID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		Hostname: host, StartedAt: time.Now()}
	return f, nil
}

// follow rebuilds the router's state on every flag change event, and wakes
// the heartbeat when a new state is in place.
func (f *flagsRuntime) follow(rt *routing.Router) {
	cb := func(of.EventDetails) { rt.Rebuild() }
	f.client.AddHandler(of.ProviderConfigChange, &cb)
	rt.OnApplied(func(*routing.State) {
		select {
		case f.applied <- struct{}{}:
		default:
		}
	})
	rt.Rebuild()
}

// register exports the applied flags version and, with a database, whether
// the LISTEN session is up (while it is down, flags serve from memory).
func (f *flagsRuntime) register(reg prometheus.Registerer, rt *routing.Router) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strangler_flags_version",
		Help: "The flags version this replica applies.",
	}, func() float64 { return float64(rt.State().FlagsVersion) }))
	if f.syncer != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_flags_listener_up",
			Help: "1 while the LISTEN session that carries flag changes is connected.",
		}, func() float64 {
			if f.syncer.Connected() {
				return 1
			}
			return 0
		}))
	}
}

// ready says whether flags have been loaded.
func (f *flagsRuntime) ready() bool {
	return f.syncer == nil || f.syncer.Loaded()
}

// run starts the listener (or file watcher) and the heartbeat.
func (f *flagsRuntime) run(ctx context.Context, rt *routing.Router, log zerolog.Logger) {
	if f.syncer != nil {
		go f.syncer.Run(ctx)
	}
	if f.file != nil {
		go func() {
			if err := f.file.Run(ctx); err != nil {
				log.Error().Err(err).Msg("flags file watcher stopped")
			}
		}()
	}
	if f.store != nil {
		go f.heartbeat(ctx, rt, log)
	}
}

// heartbeat records the replica's config hash and applied flags version.
func (f *flagsRuntime) heartbeat(ctx context.Context, rt *routing.Router, log zerolog.Logger) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	failing := false
	for {
		st := rt.State()
		r := f.replica
		r.ConfigHash, r.FlagsVersion = st.Table.Hash, st.FlagsVersion
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f.store.Heartbeat(hctx, r)
		cancel()
		if (err != nil) != failing && ctx.Err() == nil {
			failing = err != nil
			log.Warn().Err(err).Bool("failing", failing).Msg("replica heartbeat")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.applied:
		}
	}
}

func (f *flagsRuntime) close() {
	_ = f.api.Shutdown(context.Background())
}
