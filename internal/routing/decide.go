package routing

import (
	"net/http"
	"strings"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/trpc"
)

// Headers the router reads and the proxy writes.
const (
	// TokenHeader carries an admin token on a public request.
	TokenHeader = "X-Strangler-Token"
	// ForceHeader forces a side (legacy or new), honoured only with a valid
	// admin token.
	ForceHeader = "X-Strangler-Force"
	// TargetHeader tells an admin which side answered.
	TargetHeader = "X-Strangler-Target"
)

// Call is the decision for one call of a tRPC request.
type Call struct {
	Route *Route // nil for an unknown procedure
	Kind  Kind
	Side  Side
	Mode  Mode
}

// Dest names where the call goes: "legacy" or its new target.
func (c Call) Dest() string {
	if c.Side == SideNew {
		return c.Route.Target.String()
	}
	return "legacy"
}

// Safe says whether repeating the request has no effect: every call is a
// tRPC query, or the route is declared safe. It is never guessed from the
// method (legacy has destructive GETs).
func (d *Decision) Safe() bool {
	if d.TRPC != nil {
		for _, c := range d.Calls {
			if c.Kind != KindQuery {
				return false
			}
		}
		return len(d.Calls) > 0
	}
	return d.Route != nil && d.Route.Safe
}

// Auth returns the token requirement of the request's routes: the route's,
// or the first call's that has one.
func (d *Decision) Auth() *config.RouteAuth {
	if d.Route != nil && d.Route.Auth != nil {
		return d.Route.Auth
	}
	for _, c := range d.Calls {
		if c.Route != nil && c.Route.Auth != nil {
			return c.Route.Auth
		}
	}
	return nil
}

// Plain says whether the request is a plain passthrough: no route and no
// tRPC call, so nothing to count, compare, convert or send elsewhere.
func (d *Decision) Plain() bool { return d.Route == nil && d.TRPC == nil }

// Target is where a request that is not split goes when Side is SideNew.
func (d *Decision) Target() Target {
	if d.Route != nil {
		return d.Route.Target
	}
	for _, c := range d.Calls {
		if c.Side == SideNew {
			return c.Route.Target
		}
	}
	return Target{}
}

// Decision is what the router decided for one request.
type Decision struct {
	// Route is the route taking the request (for tRPC, the route shared by
	// every call, if any); nil means legacy passthrough.
	Route *Route
	// Label names the route in metrics and logs.
	Label string
	// Side is where the whole request goes, unless Split.
	Side Side
	Mode Mode
	// TRPC is the parsed tRPC URL on the tRPC endpoint, with one Call each.
	TRPC  *trpc.Request
	Calls []Call
	// Split: the calls go to different sides and the executor splits the
	// batch (or sends it to legacy whole if its input cannot be split).
	Split bool
	// Reason explains a notable decision ("forced", "mixed kinds", ...).
	Reason string
	// Admin: the request carried a valid admin token.
	Admin bool
	// BucketCookie, when set, is a new canary bucket id to set as a cookie.
	BucketCookie string
	// TooLong: the path exceeds what the proxy parses; answer 414.
	TooLong bool
}

// Labels used when no single route applies.
const (
	LabelPassthrough = "passthrough"
	LabelBatch       = "trpc.batch"
	LabelTRPCUnknown = "trpc.unknown"
)

// Decide decides one request from the in-memory state. It never touches the
// database or the request body.
func (rt *Router) Decide(r *http.Request) Decision {
	st := rt.state.Load()
	raw := rawPath(r)
	if len(raw) > MaxPathBytes {
		return Decision{Label: LabelPassthrough, TooLong: true}
	}
	d := Decision{Label: LabelPassthrough}
	// net/http keeps header keys canonical: index the map instead of
	// canonicalising the name again on every request.
	if tok := r.Header[TokenHeader]; len(tok) > 0 && tok[0] != "" {
		d.Admin = rt.ValidToken(tok[0])
	}
	norm := Normalize(raw)
	if dr := st.Table.Deny(norm, r.Method, r.URL.RawQuery); dr != nil {
		d.Route, d.Label = dr, dr.ID
		d.Side = SideDeny
		if len(dr.AllowFrom) > 0 && dr.Allowed(ClientAddr(r.RemoteAddr, r.Header, rt.opts.TrustedProxies)) {
			d.Side, d.Reason = SideLegacy, "operator network"
		}
		return d
	}
	if rest, ok := trpcRest(raw, st.Table.TRPCEndpoint); ok {
		rt.decideTRPC(st, r, rest, &d)
		return d
	}
	if pr := st.Table.Path(norm, r.Method, r.URL.RawQuery); pr != nil {
		d.Route, d.Label = pr, pr.ID
		rm := st.Mode(pr)
		d.Mode = rm.Mode
		d.Side = rt.side(r, &d, pr, rm, pr.Safe)
	}
	return d
}

// side decides one route's side: canary moves only safe requests (reads),
// and a valid admin token may force a side.
func (rt *Router) side(r *http.Request, d *Decision, rr *Route, rm RouteMode, safe bool) Side {
	if d.Admin {
		switch r.Header.Get(ForceHeader) {
		case "legacy":
			d.Reason = "forced"
			return SideLegacy
		case "new":
			if rr.Target.Kind != TargetNone {
				d.Reason = "forced"
				return SideNew
			}
		}
	}
	switch rm.Mode {
	case ModeNew:
		return SideNew
	case ModeCanary:
		if !safe || rm.Percent <= 0 {
			return SideLegacy
		}
		key := rt.userKey(r)
		if key == "" {
			if d.BucketCookie == "" {
				d.BucketCookie = NewBucketID()
			}
			key = d.BucketCookie
		}
		if InCanary(Bucket(rr.Flag, key), rm.Percent) {
			return SideNew
		}
	}
	return SideLegacy
}

// decideTRPC decides each call of a tRPC request.
func (rt *Router) decideTRPC(st *State, r *http.Request, rest string, d *Decision) {
	req, err := trpc.ParseURL(rest, r.URL.RawQuery)
	if err != nil {
		// Malformed or oversized: legacy answers it as tRPC would.
		d.Label, d.Reason = LabelTRPCUnknown, err.Error()
		return
	}
	d.TRPC = &req
	d.Calls = make([]Call, len(req.Names))
	var first *Route
	same, sameSide, kinds := true, true, Kind(0)
	for i, name := range req.Names {
		rr, kind, ok := st.Table.Procedure(name)
		if !ok {
			d.Calls[i] = Call{Side: SideLegacy}
			same = false
			sameSide = sameSide && d.Calls[0].Dest() == "legacy"
			d.Reason = "unknown procedure"
			continue
		}
		rm := st.Mode(rr)
		c := Call{Route: rr, Kind: kind, Mode: rm.Mode, Side: rt.side(r, d, rr, rm, kind == KindQuery)}
		d.Calls[i] = c
		if i == 0 {
			first = rr
		} else if rr != first {
			same = false
		}
		if c.Dest() != d.Calls[0].Dest() {
			sameSide = false
		}
		kinds |= 1 << kind
	}
	switch {
	case same && first != nil:
		d.Route, d.Label = first, first.ID
	case len(req.Names) > 1:
		d.Label = LabelBatch
	default:
		d.Label = LabelTRPCUnknown
	}
	if d.Route != nil {
		d.Mode = st.Mode(d.Route).Mode
	}
	if sameSide {
		d.Side = d.Calls[0].Side
		return
	}
	// The calls go to different places. Legacy takes the request whole when it answers it
	// as a whole anyway; otherwise the executor splits it.
	d.Side = SideLegacy
	switch {
	case d.Reason == "unknown procedure":
	case kinds == 1<<KindQuery|1<<KindMutation:
		d.Reason = "batch mixes queries and mutations"
	case !methodFits(r.Method, kinds):
		d.Reason = "method does not fit the procedures' kind"
	case strings.Contains(r.Header.Get("Trpc-Accept"), "application/jsonl"):
		d.Reason = "streaming (jsonl) batch"
	case !req.Batch:
		d.Reason = "not a batch"
	default:
		d.Split = true
	}
}

func methodFits(method string, kinds Kind) bool {
	switch kinds {
	case 1 << KindQuery:
		return method == http.MethodGet
	case 1 << KindMutation:
		return method == http.MethodPost
	}
	return false
}

// trpcRest returns the escaped path after the tRPC endpoint.
func trpcRest(raw, endpoint string) (string, bool) {
	if !strings.HasPrefix(raw, endpoint) {
		return "", false
	}
	rest := raw[len(endpoint):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

// rawPath is the path exactly as the client sent it.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
}
