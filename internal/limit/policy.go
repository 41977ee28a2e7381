package limit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Policy says which buckets a request draws from.
type Policy struct {
	// PerClient limits each client address (from trusted forwarding
	// headers only; the caller resolves it).
	PerClient Rule
	// PerUser limits each user key (UserKey names it: cookie:NAME or
	// header:NAME); requests without the key draw only from PerClient.
	PerUser Rule
	UserKey string
	// LoginPath is legacy's admin login, limited harder: per address and
	// per username (read from the JSON body), against password spraying and
	// against the legacy lockout (5 failures lock an account for 30 min)
	// being used to lock people out.
	LoginPath        string
	LoginPerClient   Rule
	LoginPerUsername Rule
}

// Verdict is the outcome of Check.
type Verdict struct {
	Allowed    bool
	RetryAfter time.Duration
	// Rule names the bucket that refused: per_client, per_user,
	// login_per_client, login_per_username.
	Rule string
}

// Limiter applies a Policy with a Store.
type Limiter struct {
	Policy Policy
	Store  Store
}

// Applies says whether any bucket could take a token from the request, so
// that the common case (only the login limited) costs a string compare.
func (l *Limiter) Applies(r *http.Request, normPath string) bool {
	p := &l.Policy
	return p.PerClient.Enabled() || p.PerUser.Enabled() ||
		p.LoginPath != "" && normPath == p.LoginPath && r.Method == http.MethodPost
}

// maxLoginBody bounds what is read to find a username.
const maxLoginBody = 64 << 10

// Check takes one token from every bucket the request draws from. normPath is
// the request's normalised path; client its address. It never fails a
// request because of the store: Store errors count as allowed.
func (l *Limiter) Check(ctx context.Context, r *http.Request, normPath string, client netip.Addr) Verdict {
	p := &l.Policy
	var addr string
	if client.IsValid() {
		addr = client.String()
	}
	if p.LoginPath != "" && normPath == p.LoginPath && r.Method == http.MethodPost {
		if v := l.take(ctx, "login_per_client", "lc:"+addr, p.LoginPerClient); !v.Allowed {
			return v
		}
		if name := loginUsername(r); name != "" {
			if v := l.take(ctx, "login_per_username", "lu:"+name, p.LoginPerUsername); !v.Allowed {
				return v
			}
		}
	}
	if v := l.take(ctx, "per_client", "c:"+addr, p.PerClient); !v.Allowed {
		return v
	}
	if key := userKey(r, p.UserKey); key != "" {
		if v := l.take(ctx, "per_user", "u:"+key, p.PerUser); !v.Allowed {
			return v
		}
	}
	return Verdict{Allowed: true}
}

func (l *Limiter) take(ctx context.Context, rule, key string, r Rule) Verdict {
	if !r.Enabled() {
		return Verdict{Allowed: true}
	}
	ok, wait, err := l.Store.Take(ctx, key, r)
	if err != nil || ok {
		return Verdict{Allowed: true}
	}
	return Verdict{RetryAfter: wait, Rule: rule}
}

// userKey reads the configured user key from the request.
func userKey(r *http.Request, spec string) string {
	kind, name, _ := strings.Cut(spec, ":")
	switch kind {
	case "cookie":
		if c, err := r.Cookie(name); err == nil {
			return c.Value
		}
	case "header":
		return r.Header.Get(name)
	}
	return ""
}

// loginUsername reads the username of a login body and puts the body back
// untouched for legacy.
func loginUsername(r *http.Request) string {
	if r.Body == nil || r.Body == http.NoBody {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxLoginBody))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil {
		return ""
	}
	var v struct {
		Username any `json:"username"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	if s, ok := v.Username.(string); ok {
		return s
	}
	return ""
}
