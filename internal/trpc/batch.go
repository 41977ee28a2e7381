package trpc

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/nanopore/strangler/internal/validate"
)

// Endpoint is the path the legacy app mounts tRPC at.
const Endpoint = "/api/trpc"

// SubRequest is one side's part of a split batch.
type SubRequest struct {
	Path     string // escaped, e.g. /api/trpc/a,b
	RawQuery string // batch=1 (and, for GET, input) after the other parameters
	Body     []byte // POST: the re-indexed input object; GET: nil
	Calls    []int  // indices of the calls in the original request
}

// Split builds the batch request that carries only the calls at idx (in the
// given order), re-indexed from 0. inputs are the raw inputs of every call
// of req (ExtractInputs), copied untouched. Other query parameters are kept;
// "batch" is set to 1 and, for GET, "input" carries the inputs.
func Split(req Request, method string, inputs [][]byte, idx []int) SubRequest {
	names := make([]string, len(idx))
	for i, k := range idx {
		names[i] = escapeName(req.Names[k])
	}
	obj := reindex(inputs, idx)
	sub := SubRequest{Path: Endpoint + "/" + strings.Join(names, ","), Calls: append([]int(nil), idx...)}
	q := queryWithout(req.RawQuery, "batch", "input")
	if method != "GET" {
		q = queryWithout(req.RawQuery, "batch")
		sub.Body = obj
	}
	if q != "" {
		q += "&"
	}
	q += "batch=1"
	if method == "GET" && len(obj) > 2 {
		q += "&input=" + url.QueryEscape(string(obj))
	}
	sub.RawQuery = q
	return sub
}

// reindex writes {"0":<raw>,"1":<raw>,...}, leaving out undefined inputs.
func reindex(inputs [][]byte, idx []int) []byte {
	out := []byte{'{'}
	for i, k := range idx {
		if k >= len(inputs) || inputs[k] == nil {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, '"', ':')
		out = append(out, inputs[k]...)
	}
	return append(out, '}')
}

// Entry is one element of a batch answer: its raw envelope and the HTTP
// status tRPC counts for it.
type Entry struct {
	Raw    []byte
	Status int
}

// ErrNotBatch means a side's answer is not a JSON array of envelopes (a
// proxy 502 page, a single error object...). The caller then synthesises
// one error entry per call of that side with ErrorEntry.
var ErrNotBatch = errors.New("trpc: answer is not a batch array")

// ParseBatch splits a batch answer body into its entries, raw bytes kept.
func ParseBatch(body []byte) ([]Entry, error) {
	v, err := validate.ParseJSON(body)
	if err != nil {
		return nil, ErrNotBatch
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, ErrNotBatch
	}
	entries := make([]Entry, 0, len(arr))
	i := skipWS(body, bytes.IndexByte(body, '[')+1)
	for _, el := range arr {
		end := skipValue(body, i)
		if end < 0 {
			return nil, ErrNotBatch
		}
		obj, isObj := el.(*validate.Object)
		if !isObj {
			return nil, ErrNotBatch
		}
		entries = append(entries, Entry{Raw: body[i:end], Status: envelopeStatus(obj)})
		i = skipWS(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipWS(body, i+1)
		}
	}
	return entries, nil
}

// EnvelopeStatus returns the HTTP status tRPC counts for one envelope.
func EnvelopeStatus(raw []byte) (int, error) {
	v, err := validate.ParseJSON(raw)
	if err != nil {
		return 0, err
	}
	obj, isObj := v.(*validate.Object)
	if !isObj {
		return 0, ErrNotBatch
	}
	return envelopeStatus(obj), nil
}

// envelopeStatus is tRPC's getHTTPStatusCode for one response: 200 unless
// it has an "error" whose "data" is an object; then data.httpStatus when a
// number, else the status of the JSON-RPC code.
func envelopeStatus(env *validate.Object) int {
	e, ok := env.Get("error")
	if !ok {
		return 200
	}
	errObj, _ := e.(*validate.Object)
	if errObj == nil {
		return 200 // JS: res.error.data on a non-object is not an object either
	}
	data, _ := errObj.Value("data").(*validate.Object)
	if data == nil {
		return 200
	}
	if s, ok := data.Number("httpStatus"); ok {
		return int(s)
	}
	n, _ := errObj.Number("code")
	return byNumber[int(n)].HTTPStatus()
}

// ErrorEntry synthesises the entry of a call that a side failed to answer.
func ErrorEntry(code Code, message, path string) Entry {
	return Entry{Raw: AppendError(nil, code, message, path, true), Status: code.HTTPStatus()}
}

// Join writes entries as one batch body, in the given order.
func Join(entries []Entry) []byte {
	n := 2
	for _, e := range entries {
		n += len(e.Raw) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, e := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e.Raw...)
	}
	return append(out, ']')
}

// BatchStatus is contract 1.6 (tRPC's getHTTPStatusCode): 200 when every
// entry succeeded, the common status when all entries share one, 207
// otherwise (also for no entries at all, as in tRPC).
func BatchStatus(entries []Entry) int {
	if len(entries) == 0 {
		return 207
	}
	s := entries[0].Status
	for _, e := range entries[1:] {
		if e.Status != s {
			return 207
		}
	}
	return s
}
