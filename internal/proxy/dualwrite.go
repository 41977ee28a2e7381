package proxy

import (
	"net/http"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/routing"
)

// dualBegin starts the dual write of a request that goes to legacy whole:
// nil (a valid *dualwrite.Pending that does nothing) unless a call is a
// mutation of a write group. Begin stores the intent before legacy sees
// the request; Done, after legacy answered, never waits.
func (p *Proxy) dualBegin(r *http.Request, d *routing.Decision, requestID string) *dualwrite.Pending {
	if p.opts.DualWrite == nil {
		return nil
	}
	in, ok := dualInfo(d, requestID)
	if !ok {
		return nil
	}
	return p.opts.DualWrite.Begin(r, in)
}

// dualInfo describes a decided tRPC request for the dual writes; ok is
// false when no call is a mutation of a write group, so that reads cost
// nothing.
func dualInfo(d *routing.Decision, requestID string) (dualwrite.Info, bool) {
	if d.TRPC == nil || !hasGroupWrite(d) {
		return dualwrite.Info{}, false
	}
	in := dualwrite.Info{RequestID: requestID, Primary: dualwrite.SideLegacy, Batch: d.TRPC.Batch,
		Calls: make([]dualwrite.Call, len(d.Calls))}
	writes := false
	for i, c := range d.Calls {
		in.Calls[i] = dualwrite.Call{Procedure: d.TRPC.Names[i], Mode: c.Mode.String()}
		if c.Route != nil && c.Kind == routing.KindMutation && c.Route.WriteGroup != "" {
			in.Calls[i].Route, in.Calls[i].Group = c.Route.ID, c.Route.WriteGroup
			writes = true
		}
		if c.Side == routing.SideNew {
			in.Primary = dualwrite.SideNew
		}
	}
	return in, writes
}

// hasGroupWrite says whether any call is a mutation of a write group,
// without allocating (most requests are reads).
func hasGroupWrite(d *routing.Decision) bool {
	for _, c := range d.Calls {
		if c.Route != nil && c.Kind == routing.KindMutation && c.Route.WriteGroup != "" {
			return true
		}
	}
	return false
}
