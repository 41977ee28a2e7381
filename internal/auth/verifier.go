// Package auth verifies identities: OIDC/JWT bearer tokens on public routes
// that require them, and (for the admin listener) people and machines.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Identity is a verified caller.
type Identity struct {
	Subject string
	Email   string
	Roles   []string
	Issuer  string
}

// Verifier checks bearer tokens issued by one OIDC provider. Discovery is
// lazy: the proxy starts while the provider is down, and a token that
// arrives while discovery fails is refused (never let through).
type Verifier struct {
	Issuer     string
	Audience   string
	RolesClaim string
	// Now is the clock for expiry checks (default time.Now).
	Now func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
	lastErr  error
}

// ErrProviderDown means the identity provider could not be discovered.
var ErrProviderDown = errors.New("identity provider unavailable")

// retryDiscovery is how long a failed discovery is remembered, so that a
// burst of requests does not hammer a provider that is down.
const retryDiscovery = 5 * time.Second

func (v *Verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.failedAt.IsZero() && time.Since(v.failedAt) < retryDiscovery {
		return nil, fmt.Errorf("%w: %v", ErrProviderDown, v.lastErr)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(dctx, nil), v.Issuer)
	if err != nil {
		v.failedAt, v.lastErr = time.Now(), err
		return nil, fmt.Errorf("%w: %v", ErrProviderDown, err)
	}
	cfg := &oidc.Config{ClientID: v.Audience, SkipClientIDCheck: v.Audience == ""}
	if v.Now != nil {
		cfg.Now = v.Now
	}
	// The key set outlives this request: it is fetched and refreshed in the
	// background, not under the discovery timeout.
	v.verifier = p.VerifierContext(context.Background(), cfg)
	return v.verifier, nil
}

// Verify checks a raw token and returns the identity it carries.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	ver, err := v.get(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return Identity{}, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, err
	}
	id := Identity{Subject: tok.Subject, Issuer: tok.Issuer}
	id.Email, _ = claims["email"].(string)
	id.Roles = rolesFrom(claims, v.RolesClaim)
	return id, nil
}

// rolesFrom reads a roles claim: a list of strings, one string, or a
// space-separated string; a dotted name reaches into nested objects
// ("realm_access.roles").
func rolesFrom(claims map[string]any, name string) []string {
	if name == "" {
		name = "roles"
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	switch v := cur.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// BearerToken returns the token of an "Authorization: Bearer X" header.
func BearerToken(h string) (string, bool) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return strings.TrimSpace(tok), ok && strings.TrimSpace(tok) != ""
}
