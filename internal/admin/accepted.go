package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/shadow"
)

// Accepted keeps the accepted differences declared at run time (a
// *shadow.Store).
type Accepted interface {
	DeclaredList(ctx context.Context, all bool) ([]shadow.Declared, error)
	Declare(ctx context.Context, d shadow.Declared) (int64, error)
	Undeclare(ctx context.Context, id int64, actor string) (shadow.Declared, error)
}

var _ Accepted = (*shadow.Store)(nil)

// AuditFunc records a write that is not a flag change.
type AuditFunc func(ctx context.Context, actor, action, subject, reason string, detail map[string]any) error

// defaultAcceptFor is how long a declaration lasts when none is given.
const defaultAcceptFor = 90 * 24 * time.Hour

type acceptBody struct {
	Route     string `json:"route"`
	Procedure string `json:"procedure"`
	Path      string `json:"path"`
	Reason    string `json:"reason"`
	Owner     string `json:"owner"`
	// Expires is a date (2027-06-30) or an RFC 3339 time; empty: in 90 days.
	Expires  string `json:"expires"`
	RecordID int64  `json:"record_id"`
}

// getAccepted lists the declared differences in force (?all=1: every one
// ever made) and, for reference, the configured ones.
func (s *Server) getAccepted(c echo.Context) error {
	list, err := s.opts.Accepted.DeclaredList(c.Request().Context(), c.QueryParam("all") == "1")
	if err != nil {
		return err
	}
	if list == nil {
		list = []shadow.Declared{}
	}
	return c.JSON(http.StatusOK, map[string]any{"accepted": list})
}

// postAccepted declares a difference accepted (from the console's
// mismatch explorer, usually with the record it came from).
func (s *Server) postAccepted(c echo.Context) error {
	var b acceptBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	p := principal(c)
	d := shadow.Declared{Route: b.Route, Procedure: b.Procedure, Path: b.Path, Reason: strings.TrimSpace(b.Reason),
		Owner: strings.TrimSpace(b.Owner), RecordID: b.RecordID, CreatedBy: p.Actor, Expires: s.opts.Now().Add(defaultAcceptFor)}
	if d.Owner == "" {
		d.Owner = p.Name
	}
	if b.Expires != "" {
		t, err := config.ParseExpiry(b.Expires)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "expires: "+err.Error())
		}
		d.Expires = t
	}
	ctx := c.Request().Context()
	id, err := s.opts.Accepted.Declare(ctx, d)
	if err != nil {
		return err
	}
	d.ID = id
	s.audit(c, "accepted.declare", strconv.FormatInt(id, 10), d.Reason,
		map[string]any{"route": d.Route, "procedure": d.Procedure, "path": d.Path, "expires": d.Expires, "record_id": d.RecordID})
	s.acceptedChanged()
	return c.JSON(http.StatusCreated, map[string]any{"accepted": d})
}

func (s *Server) deleteAccepted(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "id: must be a declaration number")
	}
	d, err := s.opts.Accepted.Undeclare(c.Request().Context(), id, principal(c).Actor)
	if errors.Is(err, shadow.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "no declared difference in force with that id")
	}
	if err != nil {
		return err
	}
	s.audit(c, "accepted.remove", c.Param("id"), c.QueryParam("reason"), map[string]any{"route": d.Route, "path": d.Path})
	s.acceptedChanged()
	return c.JSON(http.StatusOK, map[string]any{"accepted": d})
}

func (s *Server) acceptedChanged() {
	if s.opts.AcceptedChanged != nil {
		s.opts.AcceptedChanged()
	}
}

// audit records a write; a failure is logged, never more: the write it
// describes has happened.
func (s *Server) audit(c echo.Context, action, subject, reason string, detail map[string]any) {
	if s.opts.Audit == nil {
		return
	}
	if err := s.opts.Audit(c.Request().Context(), principal(c).Actor, action, subject, reason, detail); err != nil {
		s.opts.Logger.Warn().Err(err).Str("action", action).Msg("admin audit not recorded")
	}
}
