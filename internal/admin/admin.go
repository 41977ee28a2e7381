// Package admin serves the admin listener: health, readiness, metrics, and
// (as they arrive) the admin JSON API and the operations console.
package admin

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/guard"
)

// Options configure the admin server.
type Options struct {
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Health reports the upstreams' last checks (may be nil).
	Health *guard.Checker
	Logger zerolog.Logger
	// Control runs route operations for the admin API (nil: no API).
	Control Control
	// Authorize names the caller of an API request (nil: the API is closed).
	Authorize Authorizer
}

// Server is the admin listener's handler.
type Server struct {
	opts  Options
	ready atomic.Bool
	since time.Time
	echo  *echo.Echo
}

// New builds the admin server; it is not ready until SetReady(true).
func New(opts Options) *Server {
	s := &Server{opts: opts, since: time.Now()}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})))
	if opts.Control != nil {
		s.mountAPI(e)
	}
	s.echo = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// SetReady marks the replica ready (config and flags loaded, listeners up).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "alive"})
}

// readyz reports readiness. The upstreams' health is in the body, but it does
// not make the replica unready: every replica shares the same upstreams, so
// taking replicas out of the load balancer would not help anyone.
func (s *Server) readyz(c echo.Context) error {
	body := map[string]any{"ready": s.ready.Load()}
	if s.opts.Health != nil {
		body["targets"] = s.opts.Health.Statuses()
	}
	if !s.ready.Load() {
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	return c.JSON(http.StatusOK, body)
}

// errorHandler answers echo's own errors (404, 405) with short JSON.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	if he, ok := err.(*echo.HTTPError); ok {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	} else if isBadRequest(err) {
		code, msg = http.StatusBadRequest, err.Error()
	} else {
		s.opts.Logger.Error().Err(err).Str("path", c.Request().URL.Path).Msg("admin request failed")
	}
	_ = c.JSON(code, map[string]string{"error": msg})
}
