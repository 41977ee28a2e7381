package validate

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// undefinedValue is the type of Undefined.
type undefinedValue struct{}

// Undefined is JavaScript's undefined: an absent input or an absent object
// key. It is distinct from nil, which is JSON null.
var Undefined any = undefinedValue{}

// IsUndefined reports whether v is Undefined.
func IsUndefined(v any) bool {
	_, ok := v.(undefinedValue)
	return ok
}

// Object is a JSON object with JavaScript property order: integer-like keys
// first in ascending numeric order, then the other keys in insertion order.
// Setting an existing key keeps its position (JSON.parse's "last wins").
//
// Values inside the value model are nil (null), bool, float64, string,
// []any, *Object or Undefined. Strings hold WTF-8: a lone UTF-16 surrogate
// is kept as its 3-byte generalised UTF-8 form, so no input is lost.
type Object struct {
	keys []string
	vals map[string]any
}

// NewObject returns an empty Object with room for n keys.
func NewObject(n int) *Object {
	return &Object{keys: make([]string, 0, n), vals: make(map[string]any, n)}
}

// Len returns the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Keys returns the keys in JavaScript order. The slice must not be modified.
func (o *Object) Keys() []string { return o.keys }

// Get returns the value of key and whether the key is present.
func (o *Object) Get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// Value returns the value of key, or Undefined when the key is absent.
func (o *Object) Value(key string) any {
	if v, ok := o.vals[key]; ok {
		return v
	}
	return Undefined
}

// String returns the string value of key and whether it is a string.
func (o *Object) String(key string) (string, bool) {
	s, ok := o.vals[key].(string)
	return s, ok
}

// Number returns the number value of key and whether it is a number.
func (o *Object) Number(key string) (float64, bool) {
	f, ok := o.vals[key].(float64)
	return f, ok
}

// Set sets key to v, keeping JavaScript property order.
func (o *Object) Set(key string, v any) {
	if o.vals == nil {
		o.vals = make(map[string]any)
	}
	if _, ok := o.vals[key]; ok {
		o.vals[key] = v
		return
	}
	o.vals[key] = v
	idx, isIndex := arrayIndex(key)
	if !isIndex {
		o.keys = append(o.keys, key)
		return
	}
	// Integer-like keys come first, ascending; find the insertion point.
	at := 0
	for at < len(o.keys) {
		k, ok := arrayIndex(o.keys[at])
		if !ok || k > idx {
			break
		}
		at++
	}
	o.keys = append(o.keys, "")
	copy(o.keys[at+1:], o.keys[at:])
	o.keys[at] = key
}

// arrayIndex reports whether key is a canonical array index as JavaScript
// orders it first in objects (0 .. 2^32-2, no leading zeros).
func arrayIndex(key string) (uint64, bool) {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(key, 10, 64)
	if err != nil || n > 4294967294 {
		return 0, false
	}
	return n, true
}

// decodeWTF8 decodes one code point of s at i, accepting encoded lone
// surrogates. It returns the code point and its byte width.
func decodeWTF8(s string, i int) (rune, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2]&0xC0 == 0x80 {
		return rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return r, w
}

// UTF16Len returns the length of s in UTF-16 code units, as JavaScript's
// String.prototype.length counts it.
func UTF16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < 0x80:
			i++
		case c < 0xE0:
			i += 2
		case c < 0xF0:
			i += 3
		default:
			i += 4
			n++ // astral: a surrogate pair
		}
		n++
	}
	return n
}

// isJSSpace reports whether r is in JavaScript's WhiteSpace or
// LineTerminator sets: what String.prototype.trim removes and what the
// regular expression class \s matches.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// TrimJS trims s like JavaScript's String.prototype.trim.
func TrimJS(s string) string {
	start := 0
	for start < len(s) {
		r, w := decodeWTF8(s, start)
		if !isJSSpace(r) {
			break
		}
		start += w
	}
	end := len(s)
	for end > start {
		w := 1
		for w < 4 && end-w > start && s[end-w]&0xC0 == 0x80 {
			w++
		}
		r, _ := decodeWTF8(s, end-w)
		if !isJSSpace(r) {
			break
		}
		end -= w
	}
	return s[start:end]
}

// Decode copies a value of the value model into dst (a pointer to a Go
// value) through its JSON form, so struct tags apply. Undefined leaves dst
// untouched. Lone surrogates become U+FFFD on the way, as encoding/json does.
func Decode(v any, dst any) error {
	if IsUndefined(v) {
		return nil
	}
	return json.Unmarshal(Stringify(v), dst)
}
