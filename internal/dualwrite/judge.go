package dualwrite

import (
	"context"
	"net/http"

	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/trpc"
)

// JudgeWith returns a CompareFunc that judges each secondary execution as
// the shadower judges a shadow read: compared under the route's rules,
// classified (declared differences such as the e-mail fix are accepted,
// learnt noise is noise), counted, and recorded when it mismatches, with
// legacy as the primary. Each call is compared alone, as a single call.
func JudgeWith(sh *shadow.Shadower) CompareFunc {
	return func(ctx context.Context, c Comparison) {
		route := c.Route
		if route == "" {
			route = c.Procedure
		}
		path := trpc.Endpoint + "/" + c.Procedure
		req := &shadow.Request{Method: http.MethodPost, Path: path, Body: c.Input, ID: c.RequestID,
			Header: http.Header{"Content-Type": {"application/json"}}}
		sh.Judge(ctx, req, SideLegacy, shadow.Pair{
			Route:  route,
			Calls:  []shadow.CallRef{{Route: route, Procedure: c.Procedure}},
			Legacy: shadow.Exchange{Status: c.Legacy.Status, Body: c.Legacy.Body, Latency: c.Legacy.Latency},
			New:    shadow.Exchange{Status: c.New.Status, Body: c.New.Body, Latency: c.New.Latency},
			Inputs: [][]byte{c.Input},
		})
	}
}
