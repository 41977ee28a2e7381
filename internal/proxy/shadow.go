package proxy

import (
	"net/http"

	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/shadow"
)

// shadowBegin hands a decided request to the shadower, which decides
// whether to compare it. marked is whether the client request carried the
// shadow header (read before stripClientIdentity removed it).
func (p *Proxy) shadowBegin(r *http.Request, d *routing.Decision, marked bool) *shadow.Pending {
	if p.opts.Shadow == nil || !anyRouteOutOfLegacy(d) {
		return nil
	}
	if p.opts.DualWrite != nil && !d.Safe() && hasGroupWrite(d) {
		// The dual writes execute and compare it: counting it here as a
		// skipped comparison too would count every write twice.
		return nil
	}
	in := ShadowInfo(d)
	in.Marked = marked
	return p.opts.Shadow.Begin(r, in)
}

// anyRouteOutOfLegacy is the cheap test that keeps the shadower off
// requests whose routes are all in legacy mode (nearly all of them, for
// most of a migration).
func anyRouteOutOfLegacy(d *routing.Decision) bool {
	if d.Route != nil && d.Mode != routing.ModeLegacy {
		return true
	}
	for _, c := range d.Calls {
		if c.Route != nil && c.Mode != routing.ModeLegacy {
			return true
		}
	}
	return false
}

// submit queues the comparison, unless the proxy answered the request
// itself (an upstream error, a shed): its own error page is nothing to
// compare.
func (p *Proxy) submit(sh *shadow.Pending, sc *Scope, t routing.Target) {
	if sc.Err != nil {
		sh.Skip("proxy_error")
	}
	sh.Submit(p.legacy.shadow, p.newCaller(t))
}

// ShadowInfo translates a routing decision for the shadower (which does
// not import routing); harnesses that wire a shadower themselves use it too.
func ShadowInfo(d *routing.Decision) shadow.Info {
	in := shadow.Info{Route: d.Label, Mode: d.Mode.String(), Primary: d.Side.String(), Split: d.Split, Safe: d.Safe()}
	if d.Route != nil {
		in.Target = d.Route.Target.String()
	}
	if d.TRPC == nil {
		return in
	}
	in.Batch = d.TRPC.Batch
	in.Calls = make([]shadow.Call, len(d.Calls))
	for i, c := range d.Calls {
		sc := shadow.Call{Procedure: d.TRPC.Names[i], Kind: c.Kind.String(), Mode: c.Mode.String()}
		if c.Route != nil {
			sc.Route, sc.Target = c.Route.ID, c.Route.Target.String()
			if in.Target == "" {
				in.Target = sc.Target
			}
		}
		in.Calls[i] = sc
	}
	return in
}

// shadowTarget is the new side a request answered by legacy is compared
// with: its route's, or the first call's that has one.
func shadowTarget(d *routing.Decision) routing.Target {
	if d.Route != nil {
		return d.Route.Target
	}
	for _, c := range d.Calls {
		if c.Route != nil && c.Route.Target.Kind != routing.TargetNone {
			return c.Route.Target
		}
	}
	return routing.Target{}
}

// newCaller sends shadow copies to a new target: the in-process service,
// or one of the remote target's instances over its own transport.
func (p *Proxy) newCaller(t routing.Target) shadow.Caller {
	switch t.Kind {
	case routing.TargetService:
		if h, ok := p.opts.Services[t.Name]; ok {
			return shadow.Handler(h)
		}
	case routing.TargetURL:
		return p.newSide(t).(*instances).shadow
	}
	return nil
}

// shadowCaller picks an instance as requests are picked and sends the copy
// with that instance's transport.
func (in *instances) shadowCaller() shadow.Caller {
	return shadow.CallerFunc(func(req *http.Request, limit int) (shadow.Exchange, error) {
		return in.pick(req).shadow.Call(req, limit)
	})
}
