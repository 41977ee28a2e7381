// Package admin serves the admin listener: health, readiness, metrics, the
// admin JSON API and the operations console, and decides who may do what.
//
// Only /healthz, /readyz, /metrics and the console's shell, login page and
// static assets answer without credentials. Everything under /api needs
// a principal (Auth.Authenticate: a bearer token or the console's session
// cookie) holding a role that grants the endpoint's permission (roles.go);
// a session's writes also need its CSRF token. With no way in configured
// the API is closed and the login page says how to open it.
package admin

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/routing"
)

// Options configure the admin server. Every part but Gatherer may be nil:
// its endpoints then answer 404 (or, for the API, 401 to strangers).
type Options struct {
	// Gatherer serves /metrics and feeds the console's live figures.
	Gatherer prometheus.Gatherer
	// Health reports the upstreams' last checks (may be nil).
	Health *guard.Checker
	Logger zerolog.Logger
	// Control runs route operations for the admin API (nil: no API).
	Control Control
	// Auth authenticates callers (nil: the API is closed).
	Auth *Auth
	// Diffs serves the mismatch records (also MountDiffs).
	Diffs Diffs
	// Accepted keeps the accepted differences declared at run time.
	Accepted Accepted
	// AcceptedChanged is called after a declaration changed, so that this
	// replica's shadower reloads them at once (others do within
	// shadow.noise_refresh).
	AcceptedChanged func()
	// Guard shows and changes the guard's settings.
	Guard GuardPanel
	// Tokens manages API tokens through the API (role admin).
	Tokens *TokenStore
	// Audit records the API's writes that are not flag changes (nil: not
	// recorded; there is no database).
	Audit AuditFunc
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is the admin listener's handler.
type Server struct {
	opts  Options
	ready atomic.Bool
	since time.Time
	echo  *echo.Echo
	api   *echo.Group
	live  *liveStats
	// lastRoutes is the last routes view read, shown while the routes
	// cannot be read (the database is down).
	lastRoutes atomic.Pointer[routing.RoutesView]
}

// New builds the admin server; it is not ready until SetReady(true).
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, since: time.Now()}
	s.live = newLiveStats(opts.Gatherer, opts.Now)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// The API's door is checked before routing, so that no path or method
	// under /api, known or not, answers a stranger anything but 401.
	e.Pre(s.guardAPI)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})))
	s.echo = e
	s.api = e.Group("/api")
	s.mountConsole(e)
	s.mountAPI()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// SetReady marks the replica ready (config and flags loaded, listeners
// up). A replica that stops being ready also ends its live streams, so
// that consoles reconnect to another one.
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

// principalKey holds the caller in the echo context.
const principalKey = "principal"

// guardAPI authenticates every request under /api, and checks the CSRF
// token of a console session's writes.
func (s *Server) guardAPI(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.URL.Path != "/api" && !strings.HasPrefix(r.URL.Path, "/api/") {
			return next(c)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		a := s.opts.Auth
		if !a.Configured() {
			return unauthorized("the admin API is closed: no authentication is configured (admin.oidc.issuer, " +
				"`strangler token create`, admin_token_hashes or admin.break_glass_token)")
		}
		p, err := a.Authenticate(r)
		if err != nil {
			if ae, ok := err.(*authError); ok && ae.unavailable {
				return echo.NewHTTPError(http.StatusServiceUnavailable, ae.msg)
			}
			return unauthorized(err.Error())
		}
		if p.Session && !safeMethod(r.Method) && !csrfOK(r, a.csrfOf(r)) {
			return echo.NewHTTPError(http.StatusForbidden, "missing or wrong CSRF token (header "+csrfHeader+"), or a foreign Origin")
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func unauthorized(msg string) error { return echo.NewHTTPError(http.StatusUnauthorized, msg) }

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// principal returns the caller (set by guardAPI).
func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}

// need refuses callers without permission p.
func need(p Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := allowed(c, p); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// allowed answers 403 when the caller lacks p.
func allowed(c echo.Context, p Permission) error {
	pr := principal(c)
	if pr.Can(p) {
		return nil
	}
	return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("%s (roles %s) may not %s: that needs role %s",
		pr.Actor, joinRoles(pr.Roles), permVerb[p], rolesGranting(p)))
}

var permVerb = map[Permission]string{
	PermRead: "read the admin API", PermFlip: "flip routes", PermRollback: "roll routes back",
	PermAccept: "declare accepted differences", PermGuard: "change guard settings", PermTokens: "manage API tokens",
}

func rolesGranting(p Permission) string {
	var out []string
	for _, r := range []Role{RoleViewer, RoleEngineer, RoleSRE, RoleAdmin} {
		if (Principal{Roles: []Role{r}}).Can(p) {
			out = append(out, string(r))
		}
	}
	return strings.Join(out, " or ")
}

func joinRoles(rs []Role) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
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
	if code == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="strangler-admin"`)
	}
	_ = c.JSON(code, map[string]string{"error": msg})
}
