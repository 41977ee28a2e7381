package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nanopore/strangler/internal/routing"
)

// LiveView is what the console shows of the routes: their modes (as
// GET /api/routes) and this replica's live figures.
type LiveView struct {
	At time.Time `json:"at"`
	// WindowSeconds is the span of the figures (0 until this replica has
	// sampled twice).
	WindowSeconds float64              `json:"window_seconds"`
	Routes        routing.RoutesView   `json:"routes"`
	Live          map[string]RouteLive `json:"live"`
	// Error says why the routes could not be read completely (the
	// database is down: the modes shown are this replica's).
	Error string `json:"error,omitempty"`
}

// streamEvery is how often the live stream sends; streamFor bounds one
// stream, after which the browser reconnects (to any replica).
const (
	streamEvery   = time.Second
	streamFor     = 5 * time.Minute
	routesTimeout = 2 * time.Second
)

// liveView reads the routes (within routesTimeout: a database that does
// not answer must not stall the console) and the live figures. When the
// routes cannot be read, the last view read is shown with the error.
func (s *Server) liveView(ctx context.Context) LiveView {
	v := LiveView{At: s.opts.Now()}
	rctx, cancel := context.WithTimeout(ctx, routesTimeout)
	rv, err := s.opts.Control.Routes(rctx)
	cancel()
	if err != nil {
		v.Error = "routes not read (" + err.Error() + "): showing the last ones read"
		if last := s.lastRoutes.Load(); last != nil {
			rv = *last
		}
	} else {
		s.lastRoutes.Store(&rv)
	}
	v.Routes = rv
	groups := map[string]string{}
	for _, r := range rv.Routes {
		if r.WriteGroup != "" {
			groups[r.ID] = r.WriteGroup
		}
	}
	v.Live, v.WindowSeconds = s.live.figures(groups)
	return v
}

func (s *Server) getLive(c echo.Context) error {
	return c.JSON(http.StatusOK, s.liveView(c.Request().Context()))
}

// streamLive sends the live view every second as server-sent events
// (event "live"), until the client leaves, the replica stops being ready
// or streamFor passes.
func (s *Server) streamLive(c echo.Context) error {
	w := c.Response()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	ctx := c.Request().Context()
	t := time.NewTicker(streamEvery)
	defer t.Stop()
	end := time.Now().Add(streamFor)
	for {
		b, _ := json.Marshal(s.liveView(ctx))
		if _, err := fmt.Fprintf(w, "event: live\ndata: %s\n\n", b); err != nil {
			return nil
		}
		w.Flush()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !s.ready.Load() || time.Now().After(end) {
			return nil
		}
	}
}
