package trpc_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/services/samples"
	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/internal/trpc"
	"github.com/nanopore/strangler/internal/validate"
)

// standinProcedures answer like the legacy stand-in on an empty database,
// without one: health, getAll (no samples), the processing-step query
// (broken once its input is valid, contract 4.8), delete (404 for any id)
// and create (never reached here but for its kind).
func standinProcedures(t *testing.T) *httptest.Server {
	t.Helper()
	health := func(context.Context, trpc.Input) (any, error) {
		o := validate.NewObject(2)
		o.Set("status", "ok")
		o.Set("timestamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
		return o, nil
	}
	r, err := trpc.NewRouter(trpc.Options{},
		trpc.Procedure{Name: "health", Kind: trpc.Query, Handler: health},
		trpc.Procedure{Name: "nanopore.getAll", Kind: trpc.Query, Handler: func(context.Context, trpc.Input) (any, error) {
			return []any{}, nil
		}},
		trpc.Procedure{Name: "nanopore.getProcessingSteps", Kind: trpc.Query, Input: samples.Schemas["nanopore.getProcessingSteps"],
			Handler: func(context.Context, trpc.Input) (any, error) { return nil, errors.New("timer.done is not a function") }},
		trpc.Procedure{Name: "nanopore.delete", Kind: trpc.Mutation, Input: samples.Schemas["nanopore.delete"],
			Handler: func(_ context.Context, in trpc.Input) (any, error) {
				return nil, trpc.Errorf(trpc.NotFound, "Sample with ID '"+in.String()+"' not found")
			}},
		trpc.Procedure{Name: "nanopore.create", Kind: trpc.Mutation, Input: samples.Schemas["nanopore.create"],
			Handler: func(context.Context, trpc.Input) (any, error) { return nil, errors.New("not in this test") }},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// standinJSONL are JSONL batches compared with the stand-in. Outside
// anyOrder, every call of the batch is one the stand-in settles within the
// same turn of the event loop (getAll from its warm snapshot), so its line
// order is fixed: breadth first, the order the Router writes.
var standinJSONL = []jsonlCase{
	jsonlGet("batch of one", "/api/trpc/health?batch=1"),
	jsonlGet("query batch (the differential step)", "/api/trpc/health,nanopore.getAll?batch=1"),
	jsonlGet("error entry labelled with the first path", "/api/trpc/health,nope,health?batch=1"),
	jsonlGet("error first", "/api/trpc/nope,nanopore.getAll?batch=1"),
	jsonlGet("mutation by GET", "/api/trpc/nanopore.delete,nanopore.delete?batch=1"),
	jsonlGet("validation error alone", "/api/trpc/nanopore.getProcessingSteps?batch=1&input=%7B%220%22%3A%22x%22%7D"),
	jsonlGet("broken step alone", "/api/trpc/nanopore.getProcessingSteps?batch=1&input=%7B%220%22%3A%2200000000-0000-0000-0000-000000000000%22%7D"),
	jsonlGet("null member is undefined", "/api/trpc/nanopore.getProcessingSteps?batch=1&input=%7B%220%22%3Anull%7D"),
	jsonlGet("single call refused", "/api/trpc/health"),
	jsonlGet("mixed kinds", "/api/trpc/health,nanopore.delete?batch=1"),
	{refCase: jsonlGet("getAll settles after health", "/api/trpc/nanopore.getAll,health?batch=1").refCase, anyOrder: true},
	{refCase: jsonlGet("validation error and a query", "/api/trpc/nanopore.getProcessingSteps,health?batch=1&input=%7B%220%22%3A%22x%22%7D").refCase, anyOrder: true},
	{refCase: refCase{name: "mutations: invalid, 404 from the database, null", method: "POST", target: "/api/trpc/nanopore.delete,nanopore.delete,nanopore.delete?batch=1",
		ctype: jsonCT, body: `{"0":"x","1":"00000000-0000-4000-8000-000000000000","2":null}`, header: jsonl}, anyOrder: true},
}

// TestRouterAnswersJSONLLikeTheStandin diffs the Router's JSONL answers
// with the legacy stand-in's (real @trpc/server 11.4.3 behind its Astro
// layer), timestamps masked: byte for byte where the stand-in's order is
// fixed, decoded envelopes otherwise.
func TestRouterAnswersJSONLLikeTheStandin(t *testing.T) {
	t.Parallel()
	standin := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t)})
	gosrv := standinProcedures(t)
	warm := refCase{name: "warm the getAll snapshot", method: "GET", target: "/api/trpc/nanopore.getAll"}
	if ex := doExchange(t, standin.URL, warm); ex.status != 200 || ex.body != `{"result":{"data":[]}}` {
		t.Fatalf("stand-in getAll: %d %s", ex.status, ex.body)
	}
	compareJSONL(t, standin.URL, gosrv.URL, standinJSONL)
}

// TestRouterFramesGuardAnswersLikeTheStandin compares the framing of every
// guard answer (chunked or not, Content-Length or not) and its status with
// the stand-in's, on raw connections.
func TestRouterFramesGuardAnswersLikeTheStandin(t *testing.T) {
	t.Parallel()
	standin := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: testutil.CreateDB(t)})
	gosrv := standinProcedures(t)
	for _, c := range guardCases {
		t.Run(c.name, func(t *testing.T) {
			ws, wc, wl, wraw := rawAnswer(t, standin.Addr, c)
			gs, gc, gl, graw := rawAnswer(t, strings.TrimPrefix(gosrv.URL, "http://"), c)
			if gs != ws || gc != wc || gl != wl {
				t.Errorf("go: %d chunked=%v length=%v, stand-in: %d chunked=%v length=%v\ngo:\n%s\nstand-in:\n%s",
					gs, gc, gl, ws, wc, wl, graw, wraw)
			}
		})
	}
}
