package guard

import (
	"encoding/json"
	"path"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/trpc"
)

// Side is the side that answered a request or call.
type Side uint8

// Sides.
const (
	SideLegacy Side = iota
	SideNew
)

func (s Side) String() string {
	if s == SideNew {
		return "new"
	}
	return "legacy"
}

// Outcome classifies one answered request or tRPC call.
type Outcome uint8

// Outcomes. Only OutcomeFailure counts against a side.
const (
	// OutcomeOK is a success (or a 1xx-3xx answer).
	OutcomeOK Outcome = iota
	// OutcomeFailure is an HTTP 5xx (the proxy's own 502/504 for connection
	// failures and timeouts included) or a tRPC entry of status 500 or more
	// that is not a normal error.
	OutcomeFailure
	// OutcomeNormalError is an error the contract makes a normal answer
	// (500 "Sample not found"): it never counts.
	OutcomeNormalError
	// OutcomeClientError is a validation error or another 4xx: the caller's
	// fault, it never counts.
	OutcomeClientError
)

var outcomeNames = [...]string{"ok", "failure", "normal_error", "client_error"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Worst returns the outcome a breaker should hear for a request whose calls
// had outs: a failure if any call failed.
func Worst(outs []Outcome) Outcome {
	w := OutcomeOK
	for _, o := range outs {
		if o == OutcomeFailure {
			return o
		}
		if o > w {
			w = o
		}
	}
	return w
}

// ClassifyHTTP classifies a whole answer by its status: 5xx fails, 4xx
// (499, a client gone, included) is the client's.
func ClassifyHTTP(status int) Outcome {
	switch {
	case status >= 500:
		return OutcomeFailure
	case status >= 400:
		return OutcomeClientError
	}
	return OutcomeOK
}

// Normal matches error messages that are normal answers of a procedure.
type Normal struct {
	rules []config.NormalError
}

// NewNormal compiles the declared normal errors.
func NewNormal(rules []config.NormalError) *Normal { return &Normal{rules: rules} }

// Is says whether message is a normal answer of procedure on side.
func (n *Normal) Is(side Side, procedure string, message []byte) bool {
	if n == nil {
		return false
	}
	for i := range n.rules {
		r := &n.rules[i]
		if r.Side != "" && r.Side != side.String() {
			continue
		}
		if ok, _ := path.Match(r.Procedure, procedure); !ok {
			continue
		}
		for _, m := range r.Messages {
			if string(message) == m {
				return true
			}
		}
	}
	return false
}

// ClassifyTRPC classifies each call of a tRPC answer and appends one outcome
// per procedure to out (pass a stack buffer: nothing is allocated for
// answers whose messages need no unescaping). body may be only the first
// bytes of the answer (a tee's copy): calls whose entries are cut off, or an
// answer that is not tRPC JSON at all (a 502 page), are classified by the
// HTTP status, except under a 207, which says nothing about them (then they
// count as OK: no evidence either way).
func (n *Normal) ClassifyTRPC(side Side, procs []string, batch bool, status int, body []byte, out []Outcome) []Outcome {
	start := len(out)
	i := skipSpace(body, 0)
	if batch {
		if i < len(body) && body[i] == '[' {
			i = skipSpace(body, i+1)
			for k := 0; k < len(procs) && i < len(body) && body[i] == '{'; k++ {
				o, end := n.entry(side, procs[k], body, i)
				if end < 0 {
					break
				}
				out = append(out, o)
				i = skipSpace(body, end)
				if i < len(body) && body[i] == ',' {
					i = skipSpace(body, i+1)
				}
			}
		}
	} else if len(procs) > 0 && i < len(body) && body[i] == '{' {
		if o, end := n.entry(side, procs[0], body, i); end >= 0 {
			out = append(out, o)
		}
	}
	fallback := ClassifyHTTP(status)
	if status == 207 {
		fallback = OutcomeOK
	}
	for len(out)-start < len(procs) {
		out = append(out, fallback)
	}
	return out
}

// entry classifies one envelope starting at b[i] ('{') and returns where it
// ends, or -1 when it is cut off or malformed.
func (n *Normal) entry(side Side, proc string, b []byte, i int) (Outcome, int) {
	errObj, end := scanObject(b, i, "error")
	if end < 0 {
		return OutcomeOK, -1
	}
	if errObj < 0 {
		return OutcomeOK, end
	}
	status, ok := httpStatus(b, errObj)
	if !ok {
		// No data.httpStatus: tRPC derives it from the JSON-RPC code.
		s, err := trpc.EnvelopeStatus(b[i:end])
		if err != nil {
			return OutcomeFailure, end
		}
		status = s
	}
	switch {
	case status < 400:
		return OutcomeOK, end
	case status < 500:
		return OutcomeClientError, end
	}
	if msg, ok := member(b, errObj, "message"); ok && n.Is(side, proc, stringValue(b, msg)) {
		return OutcomeNormalError, end
	}
	return OutcomeFailure, end
}

// httpStatus reads error.data.httpStatus of the error object at b[i].
func httpStatus(b []byte, i int) (int, bool) {
	data, ok := member(b, i, "data")
	if !ok || b[data] != '{' {
		return 0, false
	}
	v, ok := member(b, data, "httpStatus")
	if !ok {
		return 0, false
	}
	n, digits := 0, 0
	for ; v < len(b) && b[v] >= '0' && b[v] <= '9' && digits < 4; v++ {
		n = n*10 + int(b[v]-'0')
		digits++
	}
	return n, digits > 0
}

// stringValue returns the content of the JSON string at b[i], unescaped
// (allocating only when it holds escapes), or nil when it is not a string.
func stringValue(b []byte, i int) []byte {
	end := skipValue(b, i)
	if end < 0 || b[i] != '"' {
		return nil
	}
	raw := b[i+1 : end-1]
	for _, c := range raw {
		if c == '\\' {
			var s string
			if json.Unmarshal(b[i:end], &s) != nil {
				return nil
			}
			return []byte(s)
		}
	}
	return raw
}
