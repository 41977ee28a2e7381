package trpc

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/nanopore/strangler/internal/validate"
)

// MsgBatchInputNotObject is tRPC's message for a batch input that is not a
// JSON object (an array, null, a string...).
const MsgBatchInputNotObject = `"input" needs to be an object when doing a batch call`

// InputError is a request whose input container cannot be parsed: not JSON,
// or not an object in a batch. tRPC parses the container lazily, so it
// fails only the calls whose procedure declares an input, each with
// BAD_REQUEST and this message; calls without input still succeed.
type InputError struct {
	Message string
}

func (e *InputError) Error() string { return e.Message }

// ExtractInputs returns each call's raw input as tRPC 11 reads it, nil for
// undefined. GET: the "input" query parameter (absent or empty: all
// undefined); any other method: the body, a leading UTF-8 BOM dropped as
// Request.json() does. Single call: the whole text, JSON null included.
// Batch: the text must be a JSON object whose "0", "1", ... members are the
// inputs; a missing key and a member that is JSON null are both undefined
// (contract 1.3 [OBSERVED]; @trpc/server alone would pass null on, the
// legacy app does not). The returned bytes are slices of the input text,
// never re-encoded. The error is an *InputError.
func ExtractInputs(req Request, method string, body []byte) ([][]byte, error) {
	inputs := make([][]byte, len(req.Names))
	var text []byte
	if method == "GET" {
		q, ok := QueryGet(req.RawQuery, "input")
		if !ok || q == "" {
			return inputs, nil
		}
		text = []byte(q)
	} else {
		text = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
	}
	parsed, err := validate.ParseJSON(text)
	if err != nil {
		return nil, &InputError{Message: err.Error()}
	}
	if !req.Batch {
		if len(inputs) > 0 {
			inputs[0] = text
		}
		return inputs, nil
	}
	if _, isObj := parsed.(*validate.Object); !isObj {
		return nil, &InputError{Message: MsgBatchInputNotObject}
	}
	spans, err := memberSpans(text)
	if err != nil {
		return nil, &InputError{Message: err.Error()}
	}
	for i := range inputs {
		if v := spans[strconv.Itoa(i)]; !bytes.Equal(v, jsonNull) {
			inputs[i] = v
		}
	}
	return inputs, nil
}

var (
	errScan  = errors.New("trpc: malformed JSON")
	jsonNull = []byte("null")
)

// memberSpans returns the raw value of each member of the JSON object in b
// (already known to be valid JSON); for duplicate keys the last one wins,
// as with JSON.parse.
func memberSpans(b []byte) (map[string][]byte, error) {
	spans := map[string][]byte{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errScan
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		end := skipValue(b, i)
		if end < 0 {
			return nil, errScan
		}
		key, err := validate.ParseJSON(b[i:end])
		if err != nil {
			return nil, errScan
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, errScan
		}
		i = skipWS(b, i+1)
		end = skipValue(b, i)
		if end < 0 {
			return nil, errScan
		}
		spans[key.(string)] = b[i:end]
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return spans, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at i, or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			case '"':
				if j = skipValue(b, j); j < 0 {
					return -1
				}
				j-- // the loop's j++ lands after the string
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !bytes.ContainsAny(b[j:j+1], " \t\r\n,:]}") {
		j++
	}
	return j
}
