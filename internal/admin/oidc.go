package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
)

// OIDCOptions name the identity provider people log in with.
type OIDCOptions struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback as browsers reach it; empty: built from
	// the request (scheme and Host) + /auth/callback.
	RedirectURL string
	Scopes      []string
	// RolesClaim names the claim holding the roles (dotted for nesting);
	// a value RolePrefix+ROLE grants ROLE.
	RolesClaim string
	RolePrefix string
}

// loginTTL bounds the round trip through the identity provider.
const loginTTL = 10 * time.Minute

// discover reads the provider's configuration. It runs on each login
// only: discovery is lazy, so the proxy starts while the provider is
// down, and a login then fails with a page that says so.
func discover(ctx context.Context, issuer string) (*oidc.Provider, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("identity provider unavailable: %w", err)
	}
	return p, nil
}

func (o *OIDCOptions) oauth(p *oidc.Provider, r *http.Request) *oauth2.Config {
	redirect := o.RedirectURL
	if redirect == "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		redirect = scheme + r.Host + "/auth/callback"
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: scopes}
}

// authLogin sends the browser to the identity provider (authorization
// code flow with PKCE, state and nonce kept in a signed short-lived cookie).
func (s *Server) authLogin(c echo.Context) error {
	a := s.opts.Auth
	if !a.OIDCEnabled() {
		return c.Redirect(http.StatusSeeOther, "/login?m=no-oidc")
	}
	r := c.Request()
	p, err := discover(r.Context(), a.opts.OIDC.Issuer)
	if err != nil {
		s.opts.Logger.Warn().Err(err).Msg("admin login: identity provider unavailable")
		return c.Redirect(http.StatusSeeOther, "/login?m=provider-down")
	}
	st := loginState{State: randomString(18), Nonce: randomString(18), Verifier: oauth2.GenerateVerifier(),
		Exp: a.opts.Now().Add(loginTTL).Unix()}
	setCookie(c.Response(), r, loginCookie, a.signer.encode(loginCookie, st), "/auth/", loginTTL)
	u := a.opts.OIDC.oauth(p, r).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return c.Redirect(http.StatusFound, u)
}

// authCallback completes a login: it checks state, exchanges the code
// with the PKCE verifier, verifies the ID token and its nonce, maps the
// roles claim and opens a console session.
func (s *Server) authCallback(c echo.Context) error {
	a := s.opts.Auth
	r := c.Request()
	if !a.OIDCEnabled() {
		return c.Redirect(http.StatusSeeOther, "/login?m=no-oidc")
	}
	setCookie(c.Response(), r, loginCookie, "", "/auth/", -1)
	var st loginState
	ck, err := r.Cookie(loginCookie)
	if err != nil || a.signer.decode(loginCookie, ck.Value, &st) != nil || a.opts.Now().Unix() >= st.Exp ||
		r.URL.Query().Get("state") != st.State {
		return c.Redirect(http.StatusSeeOther, "/login?m=login-expired")
	}
	if r.URL.Query().Get("error") != "" {
		s.opts.Logger.Warn().Str("error", r.URL.Query().Get("error")).Msg("admin login refused by the identity provider")
		return c.Redirect(http.StatusSeeOther, "/login?m=login-refused")
	}
	p, err := s.exchange(r, st)
	if err != nil {
		s.opts.Logger.Warn().Err(err).Msg("admin login failed")
		if ae, ok := err.(*authError); ok && !ae.unavailable {
			return c.Redirect(http.StatusSeeOther, "/login?m=no-role")
		}
		return c.Redirect(http.StatusSeeOther, "/login?m=login-failed")
	}
	setCookie(c.Response(), r, sessionCookie, a.newSession(p, ""), "/", a.opts.SessionTTL)
	s.opts.Logger.Info().Str("actor", p.Actor).Interface("roles", p.Roles).Msg("admin login")
	return c.Redirect(http.StatusSeeOther, "/")
}

func (s *Server) exchange(r *http.Request, st loginState) (Principal, error) {
	a := s.opts.Auth
	p, err := discover(r.Context(), a.opts.OIDC.Issuer)
	if err != nil {
		return Principal{}, err
	}
	tok, err := a.opts.OIDC.oauth(p, r).Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return Principal{}, fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Principal{}, fmt.Errorf("the token answer holds no id_token")
	}
	idt, err := p.VerifierContext(context.WithoutCancel(r.Context()), &oidc.Config{ClientID: a.opts.OIDC.ClientID, Now: a.opts.Now}).Verify(r.Context(), raw)
	if err != nil {
		return Principal{}, fmt.Errorf("verify the ID token: %w", err)
	}
	if idt.Nonce != st.Nonce {
		return Principal{}, fmt.Errorf("the ID token's nonce does not match this login")
	}
	id, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		return Principal{}, fmt.Errorf("verify the ID token: %w", err)
	}
	return a.personPrincipal(id)
}

// authToken opens a console session with a token typed into the login
// page (an API token, or the break-glass token while the identity
// provider or the database is down).
func (s *Server) authToken(c echo.Context) error {
	a := s.opts.Auth
	r := c.Request()
	if !a.Configured() || !sameOrigin(r) {
		return c.Redirect(http.StatusSeeOther, "/login?m=bad-token")
	}
	tok := r.PostFormValue("token")
	p, err := a.bearer(r.Context(), tok)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login?m=bad-token")
	}
	if p.Via == "oidc" {
		return c.Redirect(http.StatusSeeOther, "/login?m=bad-token") // people log in through the provider
	}
	setCookie(c.Response(), r, sessionCookie, a.newSession(p, credOf(HashToken(tok))), "/", a.opts.SessionTTL)
	s.opts.Logger.Info().Str("actor", p.Actor).Msg("admin login with a token")
	return c.Redirect(http.StatusSeeOther, "/")
}

// authLogout ends the console session (a write: it needs the CSRF token).
func (s *Server) authLogout(c echo.Context) error {
	r := c.Request()
	if want := s.opts.Auth.csrfOf(r); want == "" || !csrfOK(r, want) {
		return echo.NewHTTPError(http.StatusForbidden, "missing or wrong CSRF token")
	}
	setCookie(c.Response(), r, sessionCookie, "", "/", -1)
	return c.Redirect(http.StatusSeeOther, "/login?m=logged-out")
}

// loginMessages are the login page's notices, by code (the page never
// shows text taken from the URL).
var loginMessages = map[string]string{
	"no-oidc":       "No identity provider is configured: log in with a token.",
	"provider-down": "The identity provider cannot be reached. An SRE can log in with the break-glass token.",
	"login-expired": "The login took too long or was not started here. Try again.",
	"login-refused": "The identity provider refused the login.",
	"login-failed":  "The login could not be completed. Try again.",
	"no-role":       "You are logged in at the identity provider, but it grants you no strangler role.",
	"bad-token":     "That token is unknown, expired or revoked.",
	"logged-out":    "You are logged out.",
	"expired":       "Your session has expired: log in again.",
}

// loginNotice returns the notice for a code, or "".
func loginNotice(q url.Values) string { return loginMessages[q.Get("m")] }
