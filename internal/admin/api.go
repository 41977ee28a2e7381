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

// Authorizer names the caller of an admin API request, or refuses it.
type Authorizer func(r *http.Request) (actor string, ok bool)

// badRequest is implemented by errors that are the caller's fault.
type badRequest interface{ BadRequest() bool }

func (s *Server) mountAPI(e *echo.Echo) {
	api := e.Group("/api", s.requireAuth)
	api.GET("/routes", s.getRoutes)
	api.PUT("/routes/:id", s.putRoute)
	api.POST("/rollback", s.postRollback)
	api.GET("/history", s.getHistory)
}

// requireAuth closes the API to callers without credentials; with no
// authorizer configured it is closed to everyone.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.opts.Authorize == nil {
			return echo.NewHTTPError(http.StatusUnauthorized, "the admin API is closed: configure admin_token_hashes")
		}
		actor, ok := s.opts.Authorize(c.Request())
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "a valid admin token is required (Authorization: Bearer <token>)")
		}
		c.Set("actor", actor)
		return next(c)
	}
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

func (s *Server) putRoute(c echo.Context) error {
	var b flipBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Reason) == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "reason: a reason is required")
	}
	res, err := s.opts.Control.Flip(c.Request().Context(), c.Param("id"), b.Mode, b.Percent, s.meta(c, b.Reason))
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
	res, err := s.opts.Control.Rollback(c.Request().Context(), b.Routes, b.All, s.meta(c, b.Reason))
	return s.result(c, res, err)
}

func (s *Server) getHistory(c echo.Context) error {
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return echo.NewHTTPError(http.StatusBadRequest, "limit: must be a number from 1 to 10000")
		}
		limit = n
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

func (s *Server) meta(c echo.Context, reason string) flags.Meta {
	actor, _ := c.Get("actor").(string)
	return flags.Meta{Actor: actor, Reason: reason, Source: "admin-api"}
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
