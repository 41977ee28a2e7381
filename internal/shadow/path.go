package shadow

import (
	"strconv"
	"strings"
)

// Paths name where two answers differ. A JSON path starts at $ (for tRPC,
// the procedure's result data), keys are written .key (or ['key'] when the
// key is not an identifier) and array elements [3]. Every path also has a
// general form with each index written [*]: rules, noise, accepted
// differences and the grouping of records all use the general form, so
// that "$[*].updated_at" covers every element.

// Names of the parts of an answer that are not JSON data.
const (
	PathStatus    = "status"     // the HTTP status
	PathOutcome   = "outcome"    // tRPC: result on one side, error on the other
	PathErrCode   = "error.code" // tRPC error data.code
	PathErrHTTP   = "error.httpStatus"
	PathErrNumber = "error.number" // the JSON-RPC code number
	PathErrMsg    = "error.message"
	PathErrIssues = "error.issues" // the zod issues, as a multiset
	PathErrPath   = "error.path"
	PathBody      = "body" // a body that is not JSON, by hash
	PathHeader    = "header."
)

// appendKey appends .key (or ['key']) to a path.
func appendKey(path, key string) string {
	if isIdent(key) {
		return path + "." + key
	}
	return path + "['" + strings.ReplaceAll(strings.ReplaceAll(key, `\`, `\\`), `'`, `\'`) + "']"
}

// appendIndex appends [i] to a path.
func appendIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// General returns the path with every array index written [*].
func General(path string) string {
	if !strings.Contains(path, "[") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '[' && i+1 < len(path) && path[i+1] >= '0' && path[i+1] <= '9' {
			j := i + 1
			for j < len(path) && path[j] >= '0' && path[j] <= '9' {
				j++
			}
			if j < len(path) && path[j] == ']' {
				b.WriteString("[*]")
				i = j
				continue
			}
		}
		if c == '[' && i+1 < len(path) && path[i+1] == '\'' {
			j := quotedEnd(path, i+2)
			b.WriteString(path[i:j])
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// quotedEnd returns the index just after the "']" closing a quoted key that
// starts at i.
func quotedEnd(path string, i int) int {
	for ; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '\'':
			if i+1 < len(path) && path[i+1] == ']' {
				return i + 2
			}
		}
	}
	return len(path)
}

// Glob is a compiled path or name pattern: * matches any run of characters
// but '.' and '[' (within one key or name), ** matches any run, and "..",
// JSONPath's descent, is written for "**." (any depth). The empty pattern
// matches everything.
type Glob struct {
	src  string
	pat  string
	lit  bool // no wildcard: plain comparison
	none bool // the empty pattern: matches everything
}

// NewGlob compiles a pattern.
func NewGlob(p string) Glob {
	g := Glob{src: p, pat: strings.ReplaceAll(p, "..", "**.")}
	g.none = p == ""
	g.lit = !strings.Contains(g.pat, "*")
	return g
}

// String returns the pattern as written.
func (g Glob) String() string { return g.src }

// Match reports whether s matches the pattern.
func (g Glob) Match(s string) bool {
	switch {
	case g.none:
		return true
	case g.lit:
		return g.pat == s
	}
	return globMatch(g.pat, s)
}

// globMatch matches with backtracking over at most one star position per
// kind, which is linear enough for the short patterns of a configuration.
func globMatch(p, s string) bool {
	for len(p) > 0 {
		if p[0] != '*' {
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
			p, s = p[1:], s[1:]
			continue
		}
		deep := len(p) > 1 && p[1] == '*'
		rest := p[1:]
		if deep {
			rest = p[2:]
		}
		for i := 0; i <= len(s); i++ {
			if globMatch(rest, s[i:]) {
				return true
			}
			if i < len(s) && !deep && (s[i] == '.' || s[i] == '[') {
				return false
			}
		}
		return false
	}
	return len(s) == 0
}

// globs is a list of patterns; it matches when one does.
type globs []Glob

func newGlobs(ps []string) globs {
	out := make(globs, len(ps))
	for i, p := range ps {
		out[i] = NewGlob(p)
	}
	return out
}

func (gs globs) Match(s string) bool {
	for _, g := range gs {
		if g.Match(s) {
			return true
		}
	}
	return false
}
