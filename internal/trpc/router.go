package trpc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nanopore/strangler/internal/validate"
)

// Kind is a procedure's type.
type Kind string

// The procedure kinds a Router serves (no subscriptions).
const (
	Query    Kind = "query"
	Mutation Kind = "mutation"
)

// Input is what a handler receives.
type Input struct {
	// Value is the validated, transformed input in validate's value model
	// (e.g. *validate.Object, string), or nil when the procedure has no
	// schema (its input is then never parsed).
	Value any
	// Raw is the call's raw input JSON, nil when undefined.
	Raw []byte
}

// Decode copies Value into dst (a pointer) through JSON; see validate.Decode.
func (in Input) Decode(dst any) error { return validate.Decode(in.Value, dst) }

// Object returns Value as an object, or nil.
func (in Input) Object() *validate.Object {
	o, _ := in.Value.(*validate.Object)
	return o
}

// String returns Value as a string (bare-string inputs such as an id).
func (in Input) String() string {
	s, _ := in.Value.(string)
	return s
}

// Handler runs a procedure. It returns a value that marshals to JSON (see
// Router for the accepted forms) or an error (see Error).
type Handler func(ctx context.Context, in Input) (any, error)

// Procedure is one declared procedure.
type Procedure struct {
	Name    string          // dotted name, e.g. "nanopore.getAll"
	Kind    Kind            // Query or Mutation
	Input   validate.Schema // nil: no input, never parsed
	Handler Handler
}

// StreamData is a handler result that writes its own data JSON, so that a
// large array never sits in memory. The Router writes the envelope around
// it. An error after the first byte aborts the connection: the status line
// is gone by then, and a truncated body is better than a wrong one.
type StreamData interface {
	WriteData(w io.Writer) error
}

// Options tunes a Router. Zero values take the defaults.
type Options struct {
	Endpoint     string // default "/api/trpc"
	MaxBodyBytes int64  // default 16 MiB; larger bodies get 413
}

// Router serves procedures over HTTP exactly as the legacy app (tRPC 11.4.3
// behind Astro 5) answers, guards and quirks included. Mount it at
// Endpoint + "/". Calls of a batch run one after another, in order.
//
// Handler results are encoded as: StreamData (streamed), []byte or
// json.RawMessage (trusted JSON text, written as is), validate value-model
// values (JSON.stringify rules), anything else through encoding/json
// without HTML escaping and with U+2028/U+2029 left raw, as JavaScript
// writes them.
//
// A batch asking for the JSONL streaming form (trpc-accept:
// application/jsonl) gets it, as tRPC 11.4.3 writes it (jsonl.go); a single
// (non-batch) call asking for it gets tRPC's 400.
//
// A handler may return validate.Undefined: the envelope then has no "data"
// key, as JSON.stringify leaves undefined out.
type Router struct {
	procs map[string]Procedure
	opts  Options
}

var _ http.Handler = (*Router)(nil)

// NewRouter checks the declarations and builds a Router.
func NewRouter(opts Options, procs ...Procedure) (*Router, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = Endpoint
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	r := &Router{procs: make(map[string]Procedure, len(procs)), opts: opts}
	for _, p := range procs {
		switch {
		case p.Kind != Query && p.Kind != Mutation:
			return nil, fmt.Errorf("trpc: procedure %q: unknown kind %q", p.Name, p.Kind)
		case p.Handler == nil:
			return nil, fmt.Errorf("trpc: procedure %q has no handler", p.Name)
		}
		if _, dup := r.procs[p.Name]; dup {
			return nil, fmt.Errorf("trpc: duplicate procedure %q", p.Name)
		}
		r.procs[p.Name] = p
	}
	return r, nil
}

// Lookup returns the procedure named name.
func (r *Router) Lookup(name string) (Procedure, bool) {
	p, ok := r.procs[name]
	return p, ok
}

// ServeHTTP answers one tRPC request.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if forbiddenCrossSite(req) {
		writeForbidden(w, req.Method)
		return
	}
	setSecurityHeaders(w.Header())
	if req.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent) // tRPC's lambda warm-up answer
		return
	}
	rest, _ := strings.CutPrefix(req.URL.EscapedPath(), r.opts.Endpoint)
	info, terr := r.requestInfo(req, rest)
	if terr != nil {
		writeEarlyError(w, terr)
		return
	}
	results := make([]callResult, len(info.calls))
	for i := range info.calls {
		results[i] = r.runCall(req, info, i)
	}
	if info.stream {
		writeJSONL(w, info.req.Names[0], results)
		return
	}
	writeResults(w, info.req.Batch, results)
}
