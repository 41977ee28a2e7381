package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nanopore/strangler/internal/flags"
	"github.com/nanopore/strangler/internal/routing"
)

// Control carries out route operations (the same ones the CLI runs).
type Control interface {
	Routes(ctx context.Context) (routing.RoutesView, error)
	Flip(ctx context.Context, id, mode string, percent int, meta flags.Meta) (flags.Result, error)
	Rollback(ctx context.Context, ids []string, all bool, meta flags.Meta) (flags.Result, error)
	History(ctx context.Context, id string, limit int) ([]flags.HistoryEntry, error)
}

// badRequest is implemented by errors that are the caller's fault.
type badRequest interface{ BadRequest() bool }

// mountAPI registers the API's endpoints with the permission each needs
// (guardAPI has authenticated the caller already).
func (s *Server) mountAPI() {
	api, read := s.api, need(PermRead)
	api.GET("/me", s.getMe)
	if s.opts.Control != nil {
		api.GET("/routes", s.getRoutes, read)
		api.PUT("/routes/:id", s.putRoute)
		api.POST("/rollback", s.postRollback, need(PermRollback))
		api.GET("/history", s.getHistory, read)
		api.GET("/live", s.getLive, read)
		api.GET("/live/stream", s.streamLive, read)
	}
	if s.opts.Diffs != nil {
		s.MountDiffs(s.opts.Diffs)
	}
	if s.opts.Accepted != nil {
		api.GET("/accepted", s.getAccepted, read)
		api.POST("/accepted", s.postAccepted, need(PermAccept))
		api.DELETE("/accepted/:id", s.deleteAccepted, need(PermAccept))
	}
	if s.opts.Guard != nil {
		api.GET("/guard", s.getGuard, read)
		api.PUT("/guard", s.putGuard, need(PermGuard))
	}
	if s.opts.Tokens != nil {
		api.GET("/tokens", s.getTokens, need(PermTokens))
		api.POST("/tokens", s.postToken, need(PermTokens))
		api.DELETE("/tokens/:name", s.deleteToken, need(PermTokens))
	}
}

// getMe tells the console who is logged in, what they may do and the
// CSRF token of their session.
func (s *Server) getMe(c echo.Context) error {
	p := principal(c)
	body := map[string]any{"actor": p.Actor, "name": p.Name, "roles": p.Roles, "via": p.Via,
		"permissions": p.Permissions()}
	if p.Session {
		body["csrf"] = s.opts.Auth.csrfOf(c.Request())
	}
	return c.JSON(http.StatusOK, body)
}

func (s *Server) getRoutes(c echo.Context) error {
	v, err := s.opts.Control.Routes(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

type flipBody struct {
	Mode    string `json:"mode"`
	Percent int    `json:"percent"`
	Reason  string `json:"reason"`
}

// putRoute flips a route. Back to legacy it is a rollback, which an SRE
// may do too; any other mode needs the flip permission.
func (s *Server) putRoute(c echo.Context) error {
	p := principal(c)
	if !p.Can(PermFlip) && !p.Can(PermRollback) {
		return allowed(c, PermFlip)
	}
	var b flipBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	if b.Mode != "legacy" {
		if err := allowed(c, PermFlip); err != nil {
			return err
		}
	}
	if strings.TrimSpace(b.Reason) == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "reason: a reason is required")
	}
	res, err := s.opts.Control.Flip(c.Request().Context(), c.Param("id"), b.Mode, b.Percent, meta(c, b.Reason))
	return s.result(c, res, err)
}

type rollbackBody struct {
	Routes []string `json:"routes"`
	All    bool     `json:"all"`
	Reason string   `json:"reason"`
}

func (s *Server) postRollback(c echo.Context) error {
	var b rollbackBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Reason) == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "reason: a reason is required")
	}
	if b.All == (len(b.Routes) > 0) {
		return echo.NewHTTPError(http.StatusBadRequest, "give either routes or all: true")
	}
	res, err := s.opts.Control.Rollback(c.Request().Context(), b.Routes, b.All, meta(c, b.Reason))
	return s.result(c, res, err)
}

func (s *Server) getHistory(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	h, err := s.opts.Control.History(c.Request().Context(), c.QueryParam("route"), limit)
	if err != nil {
		return err
	}
	if h == nil {
		h = []flags.HistoryEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"history": h})
}

// queryLimit reads ?limit= (default 100).
func queryLimit(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "limit: must be a number from 1 to 10000")
	}
	return n, nil
}

// meta attributes a write to its caller: the console's or the API's.
func meta(c echo.Context, reason string) flags.Meta {
	p := principal(c)
	source := "admin-api"
	if p.Session {
		source = "console"
	}
	return flags.Meta{Actor: p.Actor, Reason: reason, Source: source}
}

// result answers a flag change: 200 when written to the database, 202 when
// applied to this replica only (the database was unreachable).
func (s *Server) result(c echo.Context, res flags.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Local {
		return c.JSON(http.StatusAccepted, res)
	}
	return c.JSON(http.StatusOK, res)
}

// decodeStrict reads a JSON body, refusing unknown fields by name.
func decodeStrict(c echo.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("invalid JSON body: %v", err))
	}
	return nil
}

func isBadRequest(err error) bool {
	var br badRequest
	return errors.As(err, &br) && br.BadRequest()
}
