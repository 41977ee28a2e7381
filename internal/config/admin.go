package config

import (
	"fmt"
	"net/url"
	"time"
)

// AdminRoles are the roles of the admin listener, from least to most:
// viewer reads everything; engineer also flips routes and declares
// accepted differences; sre also rolls back and changes guard settings
// (but does not flip a route out of legacy); admin does everything,
// tokens included.
var AdminRoles = []string{"viewer", "engineer", "sre", "admin"}

// Admin configures who may use the admin listener's API and console.
// Health, readiness, metrics and the console's shell, login page and
// assets answer without credentials; everything else needs a person
// logged in through OIDC, an API token (strangler token create), an
// admin_token_hashes token or the break-glass token. With none of them
// configured the API is closed.
type Admin struct {
	OIDC AdminOIDC `mapstructure:"oidc"`
	// TokenRole is the role of the admin_token_hashes tokens on the admin
	// API (default admin).
	TokenRole string `mapstructure:"token_role"`
	// BreakGlassToken lets an SRE roll back while PostgreSQL or the
	// identity provider is down (role sre, actor break-glass). Prefer
	// the environment (STRANGLER_ADMIN_BREAK_GLASS_TOKEN) or the file.
	// Empty: none. At least 24 characters.
	BreakGlassToken string `mapstructure:"break_glass_token"`
	// BreakGlassTokenFile holds the break-glass token (a mounted secret);
	// it is re-read when it changes. Empty: none.
	BreakGlassTokenFile string `mapstructure:"break_glass_token_file"`
	// SessionTTL is how long a console login lasts.
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	// SessionSecret signs console sessions. Replicas behind one load
	// balancer need the same secret; empty: a random one per process, so
	// a login holds on that replica only. At least 32 characters.
	SessionSecret string `mapstructure:"session_secret"`
	// TokenCache is how long the API tokens read from the database are
	// trusted: a revoked token stops working within it. While the
	// database is down the last tokens read keep working.
	TokenCache time.Duration `mapstructure:"token_cache"`
}

// AdminOIDC is the identity provider people log in with (authorization
// code flow with PKCE). Discovery is lazy: the proxy starts while the
// provider is down. Issuer empty: no OIDC login.
type AdminOIDC struct {
	Issuer       string `mapstructure:"issuer"`
	ClientID     string `mapstructure:"client_id"`
	ClientSecret string `mapstructure:"client_secret"`
	// RedirectURL is the callback as browsers reach it
	// (https://strangler-admin.example/auth/callback); empty: built from
	// the request's host.
	RedirectURL string   `mapstructure:"redirect_url"`
	Scopes      []string `mapstructure:"scopes"`
	// RolesClaim names the ID token claim that holds the roles (a list or
	// a space-separated string; a dotted name reaches into objects:
	// realm_access.roles).
	RolesClaim string `mapstructure:"roles_claim"`
	// RolePrefix: a claim value RolePrefix+ROLE grants ROLE
	// ("strangler-sre" with prefix "strangler-"); values without it are
	// ignored. Empty: the values are the role names.
	RolePrefix string `mapstructure:"role_prefix"`
}

// DefaultAdmin returns the admin defaults: no OIDC, config tokens as
// admin, 8 h console sessions, tokens re-read every 30 s.
func DefaultAdmin() Admin {
	return Admin{
		OIDC:       AdminOIDC{Scopes: []string{"openid", "email", "profile"}, RolesClaim: "roles"},
		TokenRole:  "admin",
		SessionTTL: 8 * time.Hour,
		TokenCache: 30 * time.Second,
	}
}

// ValidAdminRole says whether r names a role.
func ValidAdminRole(r string) bool {
	for _, x := range AdminRoles {
		if r == x {
			return true
		}
	}
	return false
}

// Problems checks the admin section; keys are prefixed "admin.".
func (a *Admin) Problems() Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: "admin." + key, Reason: fmt.Sprintf(format, args...)})
	}
	if !ValidAdminRole(a.TokenRole) {
		add("token_role", "unknown role %q: use viewer, engineer, sre or admin", a.TokenRole)
	}
	if a.BreakGlassToken != "" && len(a.BreakGlassToken) < 24 {
		add("break_glass_token", "must be at least 24 characters (it opens rollbacks to whoever holds it)")
	}
	if a.SessionSecret != "" && len(a.SessionSecret) < 32 {
		add("session_secret", "must be at least 32 characters")
	}
	for key, d := range map[string]time.Duration{"session_ttl": a.SessionTTL, "token_cache": a.TokenCache} {
		if d <= 0 {
			add(key, "must be a positive duration, got %s", d)
		}
	}
	o := a.OIDC
	if o.Issuer == "" {
		return ps
	}
	if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("oidc.issuer", "must be an http(s) URL, got %q", o.Issuer)
	}
	if o.ClientID == "" {
		add("oidc.client_id", "is required with oidc.issuer")
	}
	if o.RedirectURL != "" {
		if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" {
			add("oidc.redirect_url", "must be an absolute URL, got %q", o.RedirectURL)
		}
	}
	if o.RolesClaim == "" {
		add("oidc.roles_claim", "is required with oidc.issuer")
	}
	return ps
}
