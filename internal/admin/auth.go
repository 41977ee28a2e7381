package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nanopore/strangler/internal/auth"
)

// AuthOptions configure how the admin listener knows its callers.
type AuthOptions struct {
	// ConfigTokenHashes are admin_token_hashes (SHA-256 hex), given
	// ConfigTokenRole; their actor is token:<first 8 hex digits>.
	ConfigTokenHashes []string
	ConfigTokenRole   Role
	// BreakGlass returns the break-glass token ("" = none); see
	// BreakGlassSource.
	BreakGlass func() string
	// Tokens are the API tokens in the database (nil: none).
	Tokens *TokenStore
	// OIDC is the identity provider people log in with (nil: none).
	OIDC *OIDCOptions
	// SessionSecret signs console cookies (empty: random per process).
	SessionSecret []byte
	// SessionTTL is how long a console login lasts (default 8 h).
	SessionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Auth authenticates admin callers: a bearer token (API token, config
// token, break-glass token or an ID token of the identity provider) or
// the console's session cookie.
type Auth struct {
	opts     AuthOptions
	signer   signer
	verifier *auth.Verifier // ID tokens as bearer tokens; nil without OIDC
}

// NewAuth builds an authenticator.
func NewAuth(o AuthOptions) *Auth {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ConfigTokenRole == "" {
		o.ConfigTokenRole = RoleAdmin
	}
	a := &Auth{opts: o, signer: newSigner(o.SessionSecret)}
	if o.OIDC != nil {
		a.verifier = &auth.Verifier{Issuer: o.OIDC.Issuer, Audience: o.OIDC.ClientID, RolesClaim: o.OIDC.RolesClaim, Now: o.Now}
	}
	return a
}

// Configured says whether any way in exists; without one the API is
// closed and the console says how to open it.
func (a *Auth) Configured() bool {
	return a != nil && (len(a.opts.ConfigTokenHashes) > 0 || a.opts.Tokens != nil || a.opts.OIDC != nil || a.breakGlass() != "")
}

// OIDCEnabled says whether people can log in through the identity provider.
func (a *Auth) OIDCEnabled() bool { return a != nil && a.opts.OIDC != nil }

// authError is a refused authentication; its message goes to the caller.
type authError struct {
	msg         string
	unavailable bool // the check could not be made (database or provider down)
}

func (e *authError) Error() string { return e.msg }

var errNoCredentials = &authError{msg: "credentials required: log in to the console, or send Authorization: Bearer <token>"}

// Authenticate names the caller of r. A bearer token wins over the session
// cookie.
func (a *Auth) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := auth.BearerToken(h)
		if !ok {
			return Principal{}, &authError{msg: "the Authorization header must be Bearer <token>"}
		}
		return a.bearer(r.Context(), tok)
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return a.fromSession(r.Context(), c.Value)
	}
	return Principal{}, errNoCredentials
}

var errBadToken = &authError{msg: "invalid, expired or revoked token"}

func (a *Auth) bearer(ctx context.Context, tok string) (Principal, error) {
	if p, ok := a.configToken(tok); ok {
		return p, nil
	}
	if p, ok := a.breakGlassPrincipal(tok); ok {
		return p, nil
	}
	switch {
	case strings.HasPrefix(tok, TokenPrefix) && a.opts.Tokens != nil:
		t, ok, err := a.opts.Tokens.Lookup(ctx, tok)
		if err != nil {
			return Principal{}, &authError{msg: err.Error(), unavailable: true}
		}
		if !ok {
			return Principal{}, errBadToken
		}
		return tokenPrincipal(t), nil
	case strings.Count(tok, ".") == 2 && a.verifier != nil:
		return a.idToken(ctx, tok)
	}
	return Principal{}, errBadToken
}

func tokenPrincipal(t Token) Principal {
	return Principal{Actor: "token:" + t.Name, Name: t.Name, Roles: []Role{t.Role}, Via: "token"}
}

// configToken admits an admin_token_hashes token.
func (a *Auth) configToken(tok string) (Principal, bool) {
	sum := sha256.Sum256([]byte(tok))
	got := hex.EncodeToString(sum[:])
	for _, h := range a.opts.ConfigTokenHashes {
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(h)), []byte(got)) == 1 {
			return Principal{Actor: "token:" + got[:8], Name: "config token " + got[:8],
				Roles: []Role{a.opts.ConfigTokenRole}, Via: "config-token"}, true
		}
	}
	return Principal{}, false
}

func (a *Auth) breakGlass() string {
	if a.opts.BreakGlass == nil {
		return ""
	}
	return a.opts.BreakGlass()
}

// breakGlassPrincipal admits the break-glass token: role sre, touching
// neither the database nor the identity provider.
func (a *Auth) breakGlassPrincipal(tok string) (Principal, bool) {
	bg := a.breakGlass()
	if bg == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(bg)) != 1 {
		return Principal{}, false
	}
	return Principal{Actor: "break-glass", Name: "break-glass", Roles: []Role{RoleSRE}, Via: "break-glass"}, true
}

// idToken admits an ID token of the identity provider as a bearer token.
func (a *Auth) idToken(ctx context.Context, raw string) (Principal, error) {
	id, err := a.verifier.Verify(ctx, raw)
	if errors.Is(err, auth.ErrProviderDown) {
		return Principal{}, &authError{msg: err.Error() + " (use an API token or the break-glass token)", unavailable: true}
	}
	if err != nil {
		return Principal{}, &authError{msg: "invalid ID token: " + err.Error()}
	}
	return a.personPrincipal(id)
}

// personPrincipal maps a verified identity to a principal; an identity
// without a strangler role is refused.
func (a *Auth) personPrincipal(id auth.Identity) (Principal, error) {
	roles := rolesFromClaim(id.Roles, a.opts.OIDC.RolePrefix)
	if len(roles) == 0 {
		return Principal{}, &authError{msg: "the identity provider grants this user no strangler role (claim " +
			a.opts.OIDC.RolesClaim + " needs " + a.opts.OIDC.RolePrefix + "viewer, engineer, sre or admin)"}
	}
	name := id.Email
	if name == "" {
		name = id.Subject
	}
	return Principal{Actor: "oidc:" + name, Name: name, Roles: roles, Via: "oidc"}, nil
}

// newSession returns the cookie value of a console session for p, and its
// CSRF token. cred names the token it was made from, if any.
func (a *Auth) newSession(p Principal, cred string) string {
	s := session{Actor: p.Actor, Name: p.Name, Roles: p.Roles, Via: p.Via, Cred: cred,
		Exp: a.opts.Now().Add(a.opts.SessionTTL).Unix(), CSRF: randomString(18)}
	return a.signer.encode(sessionCookie, s)
}

// fromSession checks a session cookie. A session made from a token ends
// when the token does (revoked, expired, or a new break-glass token).
func (a *Auth) fromSession(ctx context.Context, value string) (Principal, error) {
	var s session
	if err := a.signer.decode(sessionCookie, value, &s); err != nil || a.opts.Now().Unix() >= s.Exp {
		return Principal{}, &authError{msg: "your console session has expired: log in again"}
	}
	p := Principal{Actor: s.Actor, Name: s.Name, Roles: s.Roles, Via: s.Via, Session: true}
	switch s.Via {
	case "token":
		h, err := hex.DecodeString(s.Cred)
		if err != nil || len(h) != 32 || a.opts.Tokens == nil {
			return Principal{}, errBadToken
		}
		t, ok, err := a.opts.Tokens.lookupHash(ctx, [32]byte(h))
		if err != nil {
			return Principal{}, &authError{msg: err.Error(), unavailable: true}
		}
		if !ok {
			return Principal{}, errBadToken
		}
		p.Roles = []Role{t.Role}
	case "break-glass", "config-token":
		if s.Cred == "" || !a.credStillValid(s.Via, s.Cred) {
			return Principal{}, errBadToken
		}
	}
	return p, nil
}

// credStillValid says whether the break-glass or config token a session
// was made from is still configured.
func (a *Auth) credStillValid(via, cred string) bool {
	if via == "break-glass" {
		bg := a.breakGlass()
		return bg != "" && cred == credOf(HashToken(bg))
	}
	for _, h := range a.opts.ConfigTokenHashes {
		if strings.EqualFold(h, cred) {
			return true
		}
	}
	return false
}

// csrfOf returns the CSRF token of a valid session cookie ("" if none).
func (a *Auth) csrfOf(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	var s session
	if a.signer.decode(sessionCookie, c.Value, &s) != nil {
		return ""
	}
	return s.CSRF
}

// BreakGlassSource returns the break-glass token: value when set,
// otherwise the file's content (trimmed), re-read when the file changes.
// A file that cannot be read means no break-glass token.
func BreakGlassSource(value, file string) func() string {
	if value != "" || file == "" {
		return func() string { return value }
	}
	var mu sync.Mutex
	var mod time.Time
	var size int64
	var cur string
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		st, err := os.Stat(file)
		if err != nil {
			return ""
		}
		if !st.ModTime().Equal(mod) || st.Size() != size {
			b, err := os.ReadFile(file)
			if err != nil {
				return ""
			}
			cur, mod, size = strings.TrimSpace(string(b)), st.ModTime(), st.Size()
		}
		if len(cur) < 24 {
			return "" // too short to guard rollbacks: refused as if absent
		}
		return cur
	}
}
