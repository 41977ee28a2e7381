package trpc

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/nanopore/strangler/internal/validate"
)

// The JSONL streaming form of a batch answer (tRPC 11.4.3's
// jsonlStreamProducer, asked for with trpc-accept: application/jsonl;
// contract 1.8). The body is a head line and then one line per settled
// promise:
//
//	{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}      head: call i is promise i
//	[0,0,[[{"result":0}],["result",0,2]]]             call 0: result is promise 2
//	[1,0,[[{"error":{...}}]]]                         call 1 failed
//	[2,0,[[{"data":0}],["data",0,3]]]                 promise 2: data is promise 3
//	[3,0,[[<data>]]]                                  promise 3: the data ([[]]: undefined)
//
// Each line is [promise, 0 (fulfilled), [[value], [key, 0, child]...]] where
// a 0 in value is a placeholder that the child promise fills. Promise
// numbers are handed out as lines are encoded, so the order of the lines
// and their numbers depend on when each call settles. The legacy app runs a
// batch's calls concurrently; when all of them settle before the stream
// starts (fast calls: health, unknown procedures, wrong methods, a cached
// getAll) the lines come breadth first: every call's first line in call
// order, then every "data" line, then every value. The Router runs calls one
// after another and always writes that order, so its bytes equal legacy's
// whenever legacy's calls settle together; otherwise the same promises
// arrive in another order, which tRPC's client decodes identically (see
// ParseJSONL). The status is always 200, and every error line carries the
// first call's path in data.path: a bug of tRPC 11.4.3 the legacy app has.

// mediaJSONL is the trpc-accept value that asks for the streaming form.
const mediaJSONL = "application/jsonl"

// streamMode reports whether the request asks for the JSONL form; tRPC
// refuses that for a single call. The header is read as the Fetch API
// reads it (all values joined), and must equal the media type exactly.
func streamMode(req *http.Request, batch bool) (bool, *Error) {
	accept, _ := headerGet(req.Header, "Trpc-Accept")
	if accept != mediaJSONL {
		return false, nil
	}
	if !batch {
		return false, Errorf(BadRequest, "Streaming requests must be batched (you can do a batch of 1)")
	}
	return true, nil
}

// writeJSONL writes results in the JSONL form, breadth first (see above).
// firstPath is the first call's path, which labels every error line.
func writeJSONL(w http.ResponseWriter, firstPath string, results []callResult) {
	h := w.Header()
	h.Set("Vary", "trpc-accept")
	h.Set("Content-Type", "application/json")
	chunked(w)
	w.WriteHeader(http.StatusOK)
	n := len(results)
	ok := 0
	for _, res := range results {
		if res.err == nil {
			ok++
		}
	}
	line := appendJSONLHead(make([]byte, 0, 64), n)
	w.Write(line)
	// Promise numbers: n.. for the successes' "result", n+ok.. for their "data".
	k := 0
	for i, res := range results {
		line = line[:0]
		if res.err != nil {
			line = appendChunkStart(line, i)
			line = AppendError(line, res.err.Code, res.err.Message, firstPath, true)
			line = append(line, "]]]\n"...)
		} else {
			line = appendRef(line, i, "result", n+k)
			k++
		}
		w.Write(line)
	}
	for j := range ok {
		w.Write(appendRef(line[:0], n+j, "data", n+ok+j))
	}
	k = 0
	for _, res := range results {
		if res.err == nil {
			writeJSONLData(w, n+ok+k, res)
			k++
		}
	}
}

// appendJSONLHead appends the head line: call i is promise i.
func appendJSONLHead(dst []byte, n int) []byte {
	dst = append(dst, '{')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `":[[0],[null,0,`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, "]]"...)
	}
	return append(dst, "}\n"...)
}

// appendChunkStart appends `[idx,0,[[`, a fulfilled promise's line start.
func appendChunkStart(dst []byte, idx int) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(idx), 10)
	return append(dst, ",0,[["...)
}

// appendRef appends the line of promise idx whose value is {key: promise child}.
func appendRef(dst []byte, idx int, key string, child int) []byte {
	dst = appendChunkStart(dst, idx)
	dst = append(dst, `{"`+key+`":0}],["`+key+`",0,`...)
	dst = strconv.AppendInt(dst, int64(child), 10)
	return append(dst, "]]]\n"...)
}

// writeJSONLData writes the line of promise idx holding a call's data.
func writeJSONLData(w io.Writer, idx int, res callResult) {
	line := appendChunkStart(make([]byte, 0, 16+len(res.data)), idx)
	switch {
	case res.undefined:
		line = line[:len(line)-1] // undefined is [[]]
		w.Write(append(line, "[]]]\n"...))
	case res.stream != nil:
		w.Write(line)
		if err := res.stream.WriteData(w); err != nil {
			panic(http.ErrAbortHandler) // the status is sent: cut the body short
		}
		io.WriteString(w, "]]]\n")
	default:
		line = append(line, res.data...)
		w.Write(append(line, "]]]\n"...))
	}
}

// ErrNotJSONL means a body is not a JSONL batch answer that ParseJSONL
// understands (promises only: the legacy app streams no async iterables).
var ErrNotJSONL = errors.New("trpc: answer is not a JSONL batch")

// ParseJSONL decodes a JSONL batch answer into one envelope per call, in
// call order, as tRPC's client rebuilds them: the raw envelope is
// re-encoded with JSON.stringify's rules, whatever the order of the lines.
// An error entry keeps the data.path it was sent with.
func ParseJSONL(body []byte) ([]Entry, error) {
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	head, err := validate.ParseJSON(bytes.TrimSpace(lines[0]))
	obj, isObj := head.(*validate.Object)
	if err != nil || !isObj {
		return nil, ErrNotJSONL
	}
	chunks := map[int][]any{}
	for _, l := range lines[1:] {
		l = bytes.TrimSpace(l) // pings are spaces without a newline
		if len(l) == 0 {
			continue
		}
		v, err := validate.ParseJSON(l)
		arr, _ := v.([]any)
		if err != nil || len(arr) != 3 || arr[1] != 0.0 {
			return nil, ErrNotJSONL
		}
		idx, _ := arr[0].(float64)
		enc, _ := arr[2].([]any)
		chunks[int(idx)] = enc
	}
	entries := make([]Entry, obj.Len())
	d := jsonlDecoder{chunks: chunks, used: map[int]bool{}}
	for i := range entries {
		env, err := d.decode(obj.Value(strconv.Itoa(i)), 0)
		envObj, _ := env.(*validate.Object)
		if err != nil || envObj == nil {
			return nil, ErrNotJSONL
		}
		entries[i] = Entry{Raw: validate.AppendValue(nil, envObj), Status: envelopeStatus(envObj)}
	}
	return entries, nil
}

// jsonlDecoder holds the lines of a JSONL answer by promise number. Each
// promise settles once, so each line is used once: a body that refers to
// one twice (or in a cycle) is refused instead of decoded exponentially.
type jsonlDecoder struct {
	chunks map[int][]any
	used   map[int]bool
}

// decode rebuilds one encoded value, [[value] or [], [key, 0, promise]...],
// filling each placeholder from the promise's own line.
func (d jsonlDecoder) decode(e any, depth int) (any, error) {
	enc, _ := e.([]any)
	if len(enc) == 0 || depth > 64 {
		return nil, ErrNotJSONL
	}
	wrap, _ := enc[0].([]any)
	var value any = validate.Undefined
	if len(wrap) == 1 {
		value = wrap[0]
	}
	for _, r := range enc[1:] {
		ref, _ := r.([]any)
		if len(ref) != 3 || ref[1] != 0.0 {
			return nil, ErrNotJSONL
		}
		idx, _ := ref[2].(float64)
		child, ok := d.chunks[int(idx)]
		if !ok || d.used[int(idx)] {
			return nil, ErrNotJSONL
		}
		d.used[int(idx)] = true
		v, err := d.decode(child, depth+1)
		if err != nil {
			return nil, err
		}
		key, isKey := ref[0].(string)
		o, isObj := value.(*validate.Object)
		switch {
		case ref[0] == nil:
			value = v
		case isKey && isObj:
			o.Set(key, v)
		default:
			return nil, ErrNotJSONL
		}
	}
	return value, nil
}
