package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nanopore/strangler/internal/shadow"
)

// Diffs reads the shadow comparison's mismatch records (a *shadow.Store).
type Diffs interface {
	Report(ctx context.Context, f shadow.Filter) (*shadow.Report, error)
	Get(ctx context.Context, id int64) (*shadow.Record, error)
}

var _ Diffs = (*shadow.Store)(nil)

// MountDiffs serves the mismatch records to callers who may read, as
// `strangler diffs` shows them (also Options.Diffs):
//
//	GET /api/diffs?route=R&since=1h&limit=N[&format=text]
//	GET /api/diffs/ID[?format=text]
//
// Call it once, before the server serves.
func (s *Server) MountDiffs(d Diffs) {
	read := need(PermRead)
	s.api.GET("/diffs", func(c echo.Context) error { return s.getDiffs(c, d) }, read)
	s.api.GET("/diffs/:id", func(c echo.Context) error { return s.getDiff(c, d) }, read)
}

func (s *Server) getDiffs(c echo.Context, d Diffs) error {
	since, err := shadow.ParseSince(c.QueryParam("since"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "since: "+err.Error())
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	rep, err := d.Report(c.Request().Context(), shadow.Filter{Route: c.QueryParam("route"), Since: time.Now().Add(-since), Limit: limit})
	if err != nil {
		return err
	}
	return textOrJSON(c, rep, func(w io.Writer) { shadow.RenderReport(w, rep) })
}

// textOrJSON answers v as JSON, or rendered for a person with ?format=text.
func textOrJSON(c echo.Context, v any, render func(io.Writer)) error {
	if c.QueryParam("format") != "text" {
		return c.JSON(http.StatusOK, v)
	}
	var b strings.Builder
	render(&b)
	return c.String(http.StatusOK, b.String())
}

func (s *Server) getDiff(c echo.Context, d Diffs) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "id: must be a record number")
	}
	rec, err := d.Get(c.Request().Context(), id)
	if errors.Is(err, shadow.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	if err != nil {
		return err
	}
	return textOrJSON(c, rec, func(w io.Writer) { shadow.RenderRecord(w, rec) })
}
