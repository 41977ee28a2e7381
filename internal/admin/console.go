package admin

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The console is served from files embedded in the binary: no CDN, it
// works offline.
//
//go:embed console/static console/login.html
var consoleFS embed.FS

var loginPage = template.Must(template.ParseFS(consoleFS, "console/login.html"))

// mountConsole serves the console's shell at /, its login page and
// assets (the only pages open to strangers), and the login endpoints.
func (s *Server) mountConsole(e *echo.Echo) {
	static, _ := fs.Sub(consoleFS, "console/static")
	assets := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	e.GET("/static/*", echo.WrapHandler(assets), consoleHeaders)
	e.GET("/", s.shell, consoleHeaders)
	e.GET("/login", s.login, consoleHeaders)
	e.GET("/auth/login", s.authLogin)
	e.GET("/auth/callback", s.authCallback)
	e.POST("/auth/token", s.authToken)
	e.POST("/auth/logout", s.authLogout)
}

// consoleHeaders keeps the console's pages to their own scripts and
// origin, out of frames, and the login's code out of Referer headers.
func consoleHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// shell serves the console to a logged-in browser, and sends anyone else
// to the login page.
func (s *Server) shell(c echo.Context) error {
	r := c.Request()
	if _, err := r.Cookie(sessionCookie); err != nil {
		return c.Redirect(http.StatusFound, "/login")
	}
	if _, err := s.opts.Auth.Authenticate(r); err != nil {
		return c.Redirect(http.StatusFound, "/login?m=expired")
	}
	b, err := consoleFS.ReadFile("console/static/index.html")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, b)
}

// loginData fills the login page.
type loginData struct {
	Notice     string
	Configured bool
	OIDC       bool
	Tokens     bool
}

func (s *Server) login(c echo.Context) error {
	a := s.opts.Auth
	d := loginData{Notice: loginNotice(c.QueryParams()), Configured: a.Configured(),
		OIDC: a.OIDCEnabled()}
	d.Tokens = d.Configured
	c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	return loginPage.Execute(c.Response(), d)
}
