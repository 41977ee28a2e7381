package proxy

import (
	"net/http"
	"strings"
	"sync"

	"github.com/nanopore/strangler/internal/auth"
	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/trpc"
)

// Identity headers the proxy sets for upstreams once it has verified a
// token; a client's own values are always dropped first.
const (
	UserIDHeader    = "X-User-Id"
	UserEmailHeader = "X-User-Email"
	UserRoleHeader  = "X-User-Role"
)

// stripClientIdentity drops identity headers a client may have sent: only
// the proxy speaks for who the caller is. It also reports whether the
// request carried the shadow mark (shadow.Marked), one of the X-Strangler-*
// headers it drops. One pass over the keys, which net/http has already put
// in canonical form: the same keys Header.Del would find.
func stripClientIdentity(h http.Header) (shadowMarked bool) {
	for k, v := range h {
		switch {
		case k == UserIDHeader, k == UserEmailHeader, k == UserRoleHeader:
		case strings.HasPrefix(k, "X-Strangler-"):
			if k == shadow.Header && len(v) > 0 && v[0] != "" {
				shadowMarked = true
			}
		default:
			continue
		}
		delete(h, k)
	}
	return shadowMarked
}

// verifiers holds one token verifier per route auth setting.
type verifiers struct {
	mu sync.Mutex
	m  map[config.RouteAuth]*auth.Verifier
}

func (v *verifiers) get(a *config.RouteAuth) *auth.Verifier {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[config.RouteAuth]*auth.Verifier{}
	}
	ver, ok := v.m[*a]
	if !ok {
		ver = &auth.Verifier{Issuer: a.Issuer, Audience: a.Audience, RolesClaim: a.RolesClaim}
		v.m[*a] = ver
	}
	return ver
}

// authenticate enforces a route's token requirement. It returns false after
// answering 401 itself. The Authorization header stays as sent (legacy and
// services may read it); the verified identity is added as headers.
func (p *Proxy) authenticate(w http.ResponseWriter, r *http.Request, d *routing.Decision) bool {
	a := d.Auth()
	if a == nil {
		return true
	}
	tok, ok := auth.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		p.unauthorized(w, r, "A bearer token is required.")
		return false
	}
	id, err := p.verifiers.get(a).Verify(r.Context(), tok)
	if err != nil {
		if sc := ScopeFrom(r.Context()); sc != nil {
			sc.Err = err
		}
		p.unauthorized(w, r, "The bearer token is not valid here.")
		return false
	}
	r.Header.Set(UserIDHeader, id.Subject)
	if id.Email != "" {
		r.Header.Set(UserEmailHeader, id.Email)
	}
	if len(id.Roles) > 0 {
		r.Header.Set(UserRoleHeader, strings.Join(id.Roles, ","))
	}
	return true
}

func (p *Proxy) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	if sc := ScopeFrom(r.Context()); sc != nil {
		sc.Target = "proxy"
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="strangler"`)
	p.refuse(w, r, http.StatusUnauthorized, trpc.Unauthorized, "unauthorized", msg)
}
