package trpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nanopore/strangler/internal/validate"
)

// info is tRPC's TRPCRequestInfo: the calls of one request, with the input
// container parsed lazily (only when a call's procedure takes input).
type info struct {
	req     Request
	content contentKind
	calls   []*Procedure // nil: no procedure at that path
	body    *http.Request
	maxBody int64
	stream  bool // answer in the JSONL form (jsonl.go)

	parsed    bool
	inputs    [][]byte
	inputsErr error
}

func (r *Router) requestInfo(req *http.Request, rest string) (*info, *Error) {
	parsed, err := ParseURL(rest, req.URL.RawQuery)
	if err != nil {
		return nil, urlError(err)
	}
	content, cerr := pickContent(req)
	if cerr != nil {
		return nil, cerr
	}
	in := &info{req: parsed, content: content, body: req, maxBody: r.opts.MaxBodyBytes}
	if content != contentJSON {
		// The form and octet-stream handlers take the whole path as one
		// mutation call, batch or not.
		if req.Method != http.MethodPost {
			kind := "multipart/form-data"
			if content == contentOctet {
				kind = "application/octet-stream"
			}
			return nil, Errorf(MethodNotSupported, "Only POST requests are supported for "+kind+" requests")
		}
		in.req = Request{Names: []string{strings.Join(parsed.Names, ",")}, RawQuery: parsed.RawQuery}
	}
	var kinds []string
	for _, name := range in.req.Names {
		p, ok := r.procs[name]
		if !ok {
			in.calls = append(in.calls, nil)
			continue
		}
		in.calls = append(in.calls, &p)
		if !containsStr(kinds, string(p.Kind)) {
			kinds = append(kinds, string(p.Kind))
		}
	}
	if content == contentJSON {
		if len(kinds) > 1 {
			return nil, Errorf(BadRequest, "Cannot mix procedure types in call: "+strings.Join(kinds, ", "))
		}
		if e := checkConnectionParams(parsed.RawQuery); e != nil {
			return nil, e
		}
	}
	stream, serr := streamMode(req, in.req.Batch)
	if serr != nil {
		return nil, serr
	}
	in.stream = stream
	return in, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// input returns call i's raw input, reading and parsing the container once.
func (in *info) input(i int) (any, error) {
	if in.content != contentJSON {
		// FormData or a stream: zod sees an object without own keys.
		return validate.NewObject(0), nil
	}
	if !in.parsed {
		in.parsed = true
		var body []byte
		if in.body.Method != http.MethodGet {
			var err error
			body, err = io.ReadAll(io.LimitReader(in.body.Body, in.maxBody+1))
			switch {
			case err != nil:
				in.inputsErr = &InputError{Message: err.Error()}
			case int64(len(body)) > in.maxBody:
				in.inputsErr = Errorf(PayloadTooLarge, "Request body too large")
			}
		}
		if in.inputsErr == nil {
			in.inputs, in.inputsErr = ExtractInputs(in.req, in.body.Method, body)
		}
	}
	if in.inputsErr != nil {
		return nil, in.inputsErr
	}
	if in.inputs[i] == nil {
		return validate.Undefined, nil
	}
	return validate.ParseJSON(in.inputs[i])
}

// callResult is one call's outcome: data (JSON text), a stream, undefined
// (JSON.stringify then leaves "data" out), or an error.
type callResult struct {
	path      string
	data      []byte
	stream    StreamData
	undefined bool
	err       *Error
}

func (r *Router) runCall(req *http.Request, in *info, i int) callResult {
	res := callResult{path: in.req.Names[i]}
	p := in.calls[i]
	if p == nil {
		res.err = Errorf(NotFound, `No procedure found on path "`+res.path+`"`)
		return res
	}
	want := http.MethodGet
	if p.Kind == Mutation {
		want = http.MethodPost
	}
	if req.Method != want {
		res.err = Errorf(MethodNotSupported, "Unsupported "+req.Method+"-request to "+string(p.Kind)+` procedure at path "`+res.path+`"`)
		return res
	}
	input := Input{}
	if p.Input != nil {
		raw, err := in.input(i)
		if err == nil {
			input.Value, err = validate.Validate(p.Input, raw)
		}
		if err != nil {
			res.err = toError(err, BadRequest)
			return res
		}
		if in.content == contentJSON {
			input.Raw = in.inputs[i]
		}
	}
	out, err := callHandler(req, p.Handler, input)
	if err != nil {
		res.err = toError(err, InternalServerError)
		return res
	}
	if s, ok := out.(StreamData); ok {
		res.stream = s
		return res
	}
	if validate.IsUndefined(out) {
		res.undefined = true
		return res
	}
	if res.data, err = marshalOutput(out); err != nil {
		res.err = Errorf(InternalServerError, err.Error())
	}
	return res
}

// callHandler runs h, turning a panic into an error: a handler bug answers
// 500 instead of crashing the process.
func callHandler(req *http.Request, h Handler, in Input) (out any, err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", v)
		}
	}()
	return h(req.Context(), in)
}

// toError maps an error to its tRPC code: a *Error keeps its own, anything
// else gets def with the error's own message.
func toError(err error, def Code) *Error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return Errorf(def, err.Error())
}

// marshalOutput encodes a handler result as JSON text (see Router).
func marshalOutput(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case json.RawMessage:
		return x, nil
	case nil, string, float64, bool, []any, *validate.Object:
		return validate.AppendValue(nil, x), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return unescapeLineSeparators(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// unescapeLineSeparators turns encoding/json's \u2028 and \u2029 escapes
// back into the raw characters JSON.stringify writes.
func unescapeLineSeparators(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			out = append(out, 0xE2, 0x80, 0xA8+b[i+5]-'8')
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1]) // keep any other escape whole
		i++
	}
	return out
}

// writeResults writes the envelopes: one object for a single call, an array
// for a batch, with tRPC's status rule.
func writeResults(w http.ResponseWriter, batch bool, results []callResult) {
	entries := make([]Entry, len(results))
	for i, res := range results {
		entries[i].Status = 200
		if res.err != nil {
			entries[i].Status = res.err.Code.HTTPStatus()
		}
	}
	h := w.Header()
	h.Set("Vary", "trpc-accept")
	h.Set("Content-Type", "application/json")
	status := entries[0].Status
	if batch {
		status = BatchStatus(entries)
	}
	chunked(w)
	w.WriteHeader(status)
	if batch {
		io.WriteString(w, "[")
	}
	for i, res := range results {
		if i > 0 {
			io.WriteString(w, ",")
		}
		writeResult(w, res)
	}
	if batch {
		io.WriteString(w, "]")
	}
}

func writeResult(w io.Writer, res callResult) {
	switch {
	case res.err != nil:
		w.Write(AppendError(nil, res.err.Code, res.err.Message, res.path, true))
	case res.undefined:
		io.WriteString(w, `{"result":{}}`)
	case res.stream != nil:
		io.WriteString(w, `{"result":{"data":`)
		if err := res.stream.WriteData(w); err != nil {
			panic(http.ErrAbortHandler) // the status is sent: cut the body short
		}
		io.WriteString(w, "}}")
	default:
		w.Write(AppendSuccess(nil, res.data))
	}
}
