package validate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

const hexDigits = "0123456789abcdef"

// copied[c] says whether AppendString copies byte c as it is: everything
// but control characters, `"`, `\` and 0xED (the first byte of a UTF-8
// encoded surrogate). One table load per byte instead of four comparisons:
// getAll spends about a tenth of its time here.
var copied = func() (t [256]bool) {
	for c := 0x20; c < len(t); c++ {
		t[c] = true
	}
	t['"'], t['\\'], t[0xED] = false, false, false
	return t
}()

// AppendString appends s quoted as JavaScript's JSON.stringify quotes it:
// only `"`, `\` and control characters are escaped (no HTML escaping, U+2028
// and U+2029 stay raw), and lone surrogates (WTF-8) become \udxxx.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if copied[c] {
			i++
			continue
		}
		if c == 0xED {
			r, w := decodeWTF8(s, i)
			if r < 0xD800 || r > 0xDFFF {
				i += w
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
			i += w
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// FormatNumber formats f as JavaScript's Number.prototype.toString does.
func FormatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, shortest round-trip
	mant, expPart, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expPart)
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := strconv.Itoa(n - 1)
	if n-1 >= 0 {
		es = "+" + es
	}
	if k == 1 {
		return sign + digits + "e" + es
	}
	return sign + digits[:1] + "." + digits[1:] + "e" + es
}

// Stringify encodes a value-model value like JSON.stringify(v). Undefined at
// the top level encodes as nothing (JSON.stringify returns undefined).
func Stringify(v any) []byte {
	return appendValue(nil, v, "", "")
}

// StringifyIndent encodes like JSON.stringify(v, null, 2).
func StringifyIndent(v any) []byte {
	return appendValue(nil, v, "  ", "")
}

// AppendValue appends the compact JSON.stringify encoding of v to dst.
func AppendValue(dst []byte, v any) []byte {
	return appendValue(dst, v, "", "")
}

func appendValue(dst []byte, v any, indent, prefix string) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case undefinedValue:
		return dst
	case bool:
		return strconv.AppendBool(dst, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
		return append(dst, FormatNumber(x)...)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case string:
		return AppendString(dst, x)
	case []any:
		return appendArray(dst, x, indent, prefix)
	case []string:
		arr := make([]any, len(x))
		for i, s := range x {
			arr[i] = s
		}
		return appendArray(dst, arr, indent, prefix)
	case *Object:
		return appendObject(dst, x, indent, prefix)
	}
	panic(fmt.Sprintf("validate: cannot encode %T", v))
}

func appendArray(dst []byte, arr []any, indent, prefix string) []byte {
	if len(arr) == 0 {
		return append(dst, '[', ']')
	}
	inner := prefix + indent
	dst = append(dst, '[')
	for i, e := range arr {
		if i > 0 {
			dst = append(dst, ',')
		}
		if indent != "" {
			dst = append(dst, '\n')
			dst = append(dst, inner...)
		}
		if IsUndefined(e) {
			e = nil // JSON.stringify writes undefined array elements as null
		}
		dst = appendValue(dst, e, indent, inner)
	}
	if indent != "" {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
	}
	return append(dst, ']')
}

func appendObject(dst []byte, o *Object, indent, prefix string) []byte {
	inner := prefix + indent
	dst = append(dst, '{')
	n := 0
	for _, k := range o.keys {
		v := o.vals[k]
		if IsUndefined(v) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if indent != "" {
			dst = append(dst, '\n')
			dst = append(dst, inner...)
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		if indent != "" {
			dst = append(dst, ' ')
		}
		dst = appendValue(dst, v, indent, inner)
	}
	if n > 0 && indent != "" {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
	}
	return append(dst, '}')
}

// MarshalJSON encodes o compactly with JavaScript semantics.
func (o *Object) MarshalJSON() ([]byte, error) {
	return appendObject(nil, o, "", ""), nil
}
