package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// DefaultTokenTTL is a new token's lifetime when none is given.
const DefaultTokenTTL = 90 * 24 * time.Hour

// ParseTTL reads a token lifetime: 90d, 12h, 30m ("" = DefaultTokenTTL).
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return DefaultTokenTTL, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &TokenError{"expires: a lifetime such as 90d, 12h or 30m"}
	}
	return d, nil
}

func (s *Server) getTokens(c echo.Context) error {
	list, err := s.opts.Tokens.List(c.Request().Context(), c.QueryParam("all") == "1")
	if err != nil {
		return err
	}
	if list == nil {
		list = []Token{}
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": list})
}

type tokenBody struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Expires string `json:"expires"`
}

// postToken creates a token; the answer is the only time it is shown.
func (s *Server) postToken(c echo.Context) error {
	var b tokenBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	ttl, err := ParseTTL(b.Expires)
	if err != nil {
		return err
	}
	raw, t, err := s.opts.Tokens.Create(c.Request().Context(), b.Name, Role(b.Role), ttl, principal(c).Actor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"token": raw, "info": t})
}

func (s *Server) deleteToken(c echo.Context) error {
	t, err := s.opts.Tokens.Revoke(c.Request().Context(), c.Param("name"), principal(c).Actor, c.QueryParam("reason"))
	if errors.Is(err, ErrNoToken) {
		return echo.NewHTTPError(http.StatusNotFound, "no live token named "+strconv.Quote(c.Param("name")))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"info": t})
}
