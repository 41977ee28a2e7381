package routing

import "strings"

// MaxPathBytes bounds the work the normaliser does; longer paths match no
// route but the default (legacy passthrough), and deny routes still see
// their prefix (see Normalize).
const MaxPathBytes = 16 << 10

// Normalize returns the one canonical spelling of a request path that every
// route match goes through. It resolves a path the way the legacy app (Astro
// on Node, WHATWG URL parsing) could, and, where unsure, errs towards the
// spelling that could reach a denied route:
//   - percent-encoding is decoded, up to eight times (so %252F, %2F and /
//     agree; deeper nesting is left as it is, since legacy decodes once);
//   - a backslash is a slash (WHATWG URL treats them alike for http);
//   - duplicate slashes collapse;
//   - dot segments (".", "..", also spelled %2e) are resolved, never above /;
//   - a trailing slash is dropped;
//   - letters are lower-cased, since route matching might be case-blind.
//
// raw is the path exactly as the client sent it (no query). The result is
// only for matching: requests are forwarded with their original bytes.
func Normalize(raw string) string {
	if len(raw) > MaxPathBytes {
		raw = raw[:MaxPathBytes]
	}
	p := raw
	for i := 0; i < 8 && strings.IndexByte(p, '%') >= 0; i++ {
		d := percentDecode(p)
		if d == p {
			break
		}
		p = d
	}
	if !needsCleaning(p) {
		return p
	}
	return clean(p)
}

// needsCleaning is the fast path: most paths are already canonical.
func needsCleaning(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		return true
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= 'A' && c <= 'Z', c == '\\':
			return true
		case c == '/' && i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.'):
			return true
		}
	}
	return false
}

// clean lower-cases, turns backslashes into slashes, collapses duplicate
// slashes, resolves dot segments and drops a trailing slash, in one pass
// with one allocation.
func clean(p string) string {
	out := make([]byte, 0, len(p)+1)
	for i := 0; i < len(p); {
		for i < len(p) && (p[i] == '/' || p[i] == '\\') {
			i++
		}
		start := i
		for i < len(p) && p[i] != '/' && p[i] != '\\' {
			i++
		}
		seg := p[start:i]
		switch seg {
		case "", ".":
		case "..":
			if j := lastSlash(out); j >= 0 {
				out = out[:j]
			}
		default:
			out = append(out, '/')
			for k := 0; k < len(seg); k++ {
				c := seg[k]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return "/"
	}
	return string(out)
}

func lastSlash(b []byte) int {
	for j := len(b) - 1; j >= 0; j-- {
		if b[j] == '/' {
			return j
		}
	}
	return -1
}

// percentDecode decodes every valid %XX sequence and leaves invalid ones as
// they are, as WHATWG percent-decoding does.
func percentDecode(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
