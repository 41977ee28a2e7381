package samples

import (
	"errors"
	"math"
	"strconv"
)

// errBadJSON says a jsonb text from the database did not parse as JSON.
var errBadJSON = errors.New("samples: malformed JSON from the database")

// appendJSNumber appends f formatted like JS Number.prototype.toString, which
// is what JSON.stringify writes and what node-postgres sends for a number
// parameter: the shortest round-trip digits, plain decimal notation for
// 1e-6 <= |f| < 1e21 and exponent notation (1e+21, 1.5e-7) outside it, -0 as
// 0. NaN and the infinities become null, as in JSON.stringify.
func appendJSNumber(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(buf, "null"...)
	case f == 0:
		return append(buf, '0')
	case f < 0:
		buf = append(buf, '-')
		f = -f
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d[.ddd]e±xx
	mant, exp := splitExp(e)
	digits := make([]byte, 0, 20)
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	k, n := len(digits), exp+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		buf = append(buf, digits...)
		for i := 0; i < n-k; i++ {
			buf = append(buf, '0')
		}
	case 0 < n && n <= 21:
		buf = append(buf, digits[:n]...)
		buf = append(buf, '.')
		buf = append(buf, digits[n:]...)
	case -6 < n && n <= 0:
		buf = append(buf, '0', '.')
		for i := 0; i < -n; i++ {
			buf = append(buf, '0')
		}
		buf = append(buf, digits...)
	default:
		buf = append(buf, digits[0])
		if k > 1 {
			buf = append(buf, '.')
			buf = append(buf, digits[1:]...)
		}
		buf = append(buf, 'e')
		if n-1 >= 0 {
			buf = append(buf, '+')
		}
		buf = strconv.AppendInt(buf, int64(n-1), 10)
	}
	return buf
}

// splitExp splits Go's 'e' format into mantissa text and exponent.
func splitExp(e []byte) ([]byte, int) {
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] == 'e' {
			exp, _ := strconv.Atoi(string(e[i+1:]))
			return e[:i], exp
		}
	}
	return e, 0
}

// formatJSNumber is appendJSNumber into a new string: the text a JS app
// would send to PostgreSQL for a numeric parameter.
func formatJSNumber(f float64) string {
	var b [32]byte
	return string(appendJSNumber(b[:0], f))
}

// appendCompactJSON appends the JSON text src (PostgreSQL's jsonb output) the
// way JSON.stringify(JSON.parse(src)) would write it: no whitespace and
// numbers in JS form (jsonb keeps "1.50"; JS writes 1.5). Strings are copied
// as they are, because PostgreSQL escapes exactly the characters
// JSON.stringify escapes, with the same lower-case \u00xx form.
func appendCompactJSON(buf []byte, src []byte) ([]byte, error) {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			end, ok := stringEnd(src, i)
			if !ok {
				return buf, errBadJSON
			}
			buf = append(buf, src[i:end]...)
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && isNumberByte(src[j]) {
				j++
			}
			f, err := strconv.ParseFloat(string(src[i:j]), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return buf, errBadJSON
			}
			buf = appendJSNumber(buf, f)
			i = j
		default:
			buf = append(buf, c)
			i++
		}
	}
	return buf, nil
}

// stringEnd returns the index just past the JSON string starting at src[i].
func stringEnd(src []byte, i int) (int, bool) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}
