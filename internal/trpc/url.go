package trpc

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/nanopore/strangler/internal/validate"
)

// Limits of ParseURL. tRPC itself has none, but Node's default 16 KiB
// header limit refuses longer request lines before tRPC runs anyway.
const (
	MaxPathBytes = 64 << 10
	MaxCalls     = 10000
)

var (
	// ErrMalformedPath is decodeURIComponent's URIError: a bad %-escape or
	// escapes that are not UTF-8. tRPC answers it with a 500 "URI malformed".
	ErrMalformedPath = errors.New("URI malformed")
	// ErrTooLarge refuses a path over MaxPathBytes or with over MaxCalls calls.
	ErrTooLarge = errors.New("trpc: request path too large")
)

// Request is the procedure part of a tRPC request: what tRPC 11's fetch
// adapter derives from the URL before it looks at the method or body.
type Request struct {
	Names    []string // one procedure name per call, decoded
	Batch    bool     // the first "batch" query value is exactly "1"
	RawQuery string   // the query string, kept for Split
}

// ParseURL parses rest, the escaped path after "/api/trpc" (for example
// "/nanopore.getAll,health/", "" or "/"), and the raw query the way tRPC 11
// does: one trailing slash of the pathname and then one leading and one
// trailing slash of the rest are dropped, the rest is percent-decoded
// (decodeURIComponent), and only in batch mode is it split on commas. Names
// are substrings of rest when it holds no escapes, so parsing allocates
// once for the slice.
func ParseURL(rest, rawQuery string) (Request, error) {
	if len(rest) > MaxPathBytes {
		return Request{}, ErrTooLarge
	}
	rest = strings.TrimSuffix(rest, "/") // the adapter trims the pathname first
	rest = strings.TrimPrefix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	path, err := decodeURIComponent(rest)
	if err != nil {
		return Request{}, err
	}
	req := Request{RawQuery: rawQuery}
	if v, ok := QueryGet(rawQuery, "batch"); ok && v == "1" {
		req.Batch = true
	}
	if !req.Batch {
		req.Names = []string{path}
		return req, nil
	}
	n := strings.Count(path, ",") + 1
	if n > MaxCalls {
		return Request{}, ErrTooLarge
	}
	req.Names = make([]string, 0, n)
	for {
		i := strings.IndexByte(path, ',')
		if i < 0 {
			req.Names = append(req.Names, path)
			return req, nil
		}
		req.Names = append(req.Names, path[:i])
		path = path[i+1:]
	}
}

// decodeURIComponent decodes %XX escapes; the decoded bytes of each run of
// escapes must be UTF-8, else it fails like JavaScript's URIError. A path
// is ASCII on the wire; raw bytes that are not UTF-8 are refused the same
// way, so that every name it returns is valid UTF-8.
func decodeURIComponent(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrMalformedPath
	}
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	buf := make([]byte, 0, len(s))
	buf = append(buf, s[:i]...)
	for i < len(s) {
		if s[i] != '%' {
			buf = append(buf, s[i])
			i++
			continue
		}
		start := len(buf)
		for i < len(s) && s[i] == '%' {
			b, ok := unhex2(s, i+1)
			if !ok {
				return "", ErrMalformedPath
			}
			buf = append(buf, b)
			i += 3
		}
		if !utf8.Valid(buf[start:]) {
			return "", ErrMalformedPath
		}
	}
	return string(buf), nil
}

func unhex2(s string, at int) (byte, bool) {
	if at+2 > len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[at])
	lo, ok2 := unhex(s[at+1])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// QueryGet returns the first value of name in rawQuery, decoded as
// URLSearchParams.get does (application/x-www-form-urlencoded: '+' is a
// space, bad escapes stay literal, invalid UTF-8 becomes U+FFFD). It does
// not allocate unless the matching value holds escapes.
func QueryGet(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		if formDecode(k) == name {
			return formDecode(val), true
		}
	}
	return "", false
}

// formDecode is the urlencoded parser's byte decoding.
func formDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			buf = append(buf, ' ')
		case c == '%':
			if b, ok := unhex2(s, i+1); ok {
				buf = append(buf, b)
				i += 2
				continue
			}
			buf = append(buf, c)
		default:
			buf = append(buf, c)
		}
	}
	return validate.DecodeUTF8(buf)
}

// queryWithout returns rawQuery without the parameters whose decoded name is
// in drop, other parameters kept byte for byte.
func queryWithout(rawQuery string, drop ...string) string {
	var kept []string
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		name := formDecode(k)
		skip := false
		for _, d := range drop {
			skip = skip || name == d
		}
		if !skip {
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "&")
}

// escapeName percent-encodes a procedure name for a path segment so that
// decodeURIComponent gives it back; ordinary names come back unchanged.
func escapeName(name string) string {
	const safe = "-._~!$&'()*+;=:@"
	needs := false
	for i := 0; i < len(name) && !needs; i++ {
		c := name[i]
		needs = !(isAlnum(c) || strings.IndexByte(safe, c) >= 0)
	}
	if !needs {
		return name
	}
	var sb strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAlnum(c) || strings.IndexByte(safe, c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte("0123456789ABCDEF"[c>>4])
		sb.WriteByte("0123456789ABCDEF"[c&0xF])
	}
	return sb.String()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
