package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/services"
	"github.com/nanopore/strangler/internal/store"
)

// serveServiceCmd runs one Go service alone, so that a route can point at it
// by URL and it can be scaled on its own. Its listener also answers
// /healthz, /readyz (the service's own health check) and /metrics.
func (c *cli) serveServiceCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve-service NAME",
		Short: "Serve one Go service on its own listener (e.g. samples)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			reg := defaultServices()
			factory, ok := reg[args[0]]
			if !ok {
				return usageErr(fmt.Errorf("unknown service %q (registered: %v)", args[0], reg.Names()))
			}
			if cfg.DatabaseURL == "" {
				return usageErr(fmt.Errorf("serve-service needs database_url (STRANGLER_DATABASE_URL)"))
			}
			log := newLogger(c.stdout, cfg.Log.Level).With().Str("service", args[0]).Logger()
			pool, err := store.Open(cmd.Context(), cfg.DatabaseURL, store.Options{ApplicationName: "strangler-" + args[0]})
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := checkMigrated(cmd.Context(), pool); err != nil {
				return err
			}
			svc, err := factory(services.Deps{Pool: pool, Logger: log})
			if err != nil {
				return err
			}
			defer svc.Close()
			ln, err := listen("--listen", addr)
			if err != nil {
				return err
			}
			srv := (&Main{Config: cfg}).httpServer(serviceMux(svc))
			log.Info().Str("listen", ln.Addr().String()).Msg("service serving")
			go func() {
				<-cmd.Context().Done()
				sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownGrace)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "listen", ":3002", "address to serve on")
	return cmd
}

// serviceMux serves the service's own routes plus health and metrics.
func serviceMux(svc services.Service) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "alive"}) })
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := svc.Health(ctx); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	mux := http.NewServeMux()
	mux.Handle("/healthz", e)
	mux.Handle("/readyz", e)
	mux.Handle("/metrics", e)
	svcHandler := svc.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			mux.ServeHTTP(w, r)
		default:
			// Not through ServeMux: it would clean paths and answer 301s.
			svcHandler.ServeHTTP(w, r)
		}
	})
}
