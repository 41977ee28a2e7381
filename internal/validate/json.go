package validate

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
// JSON.parse itself has no such limit; real inputs never come close.
const maxDepth = 10000

// SyntaxError is a JSON.parse failure. Message follows V8's wording where it
// is cheap to do so; the contract allows the wording to differ.
type SyntaxError struct {
	Message string
	Offset  int // byte offset in the decoded text
}

func (e *SyntaxError) Error() string { return e.Message }

// DecodeUTF8 decodes b as the WHATWG "UTF-8 decode" does: every maximal
// invalid subsequence becomes one U+FFFD. Valid input is returned as is.
func DecodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	needed, seen := 0, 0
	var cp rune
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if needed == 0 {
			switch {
			case c < 0x80:
				sb.WriteByte(c)
			case c >= 0xC2 && c <= 0xDF:
				needed, cp = 1, rune(c&0x1F)
			case c >= 0xE0 && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				} else if c == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(c&0x0F)
			case c >= 0xF0 && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				} else if c == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(c&0x07)
			default:
				sb.WriteRune(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			needed, seen, cp, lower, upper = 0, 0, 0, 0x80, 0xBF
			sb.WriteRune(utf8.RuneError)
			i-- // reprocess this byte as a possible lead byte
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		seen++
		if seen == needed {
			sb.WriteRune(cp)
			needed, seen, cp = 0, 0, 0
		}
	}
	if needed != 0 {
		sb.WriteRune(utf8.RuneError)
	}
	return sb.String()
}

// ParseJSON decodes raw bytes (UTF-8, invalid sequences replaced) and parses
// them like JavaScript's JSON.parse into the value model of Object.
func ParseJSON(raw []byte) (any, error) {
	return ParseJSONText(DecodeUTF8(raw))
}

// ParseJSONText parses text like JavaScript's JSON.parse.
func ParseJSONText(text string) (any, error) {
	p := jsonParser{s: text}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return nil, p.fail("Unexpected non-whitespace character after JSON at position %d")
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

// fail builds a SyntaxError; format takes the UTF-16 position of p.i.
func (p *jsonParser) fail(format string) error {
	pos := UTF16Len(p.s[:p.i])
	msg := strings.Replace(format, "%d", strconv.Itoa(pos), 1)
	return &SyntaxError{Message: msg, Offset: p.i}
}

func (p *jsonParser) eof() error {
	return &SyntaxError{Message: "Unexpected end of JSON input", Offset: p.i}
}

// unexpected reports an unexpected token the way V8 words it: the whole
// text when it is short, else up to 10 characters of context each side.
func (p *jsonParser) unexpected() error {
	if p.i >= len(p.s) {
		return p.eof()
	}
	switch p.s {
	case "undefined", "NaN", "Infinity", "[object Object]":
		return &SyntaxError{Message: "\"" + p.s + "\" is not valid JSON", Offset: p.i}
	}
	r, _ := decodeWTF8(p.s, p.i)
	head := "Unexpected token '" + string(r) + "', "
	units := utf16Units(p.s)
	pos, n := UTF16Len(p.s[:p.i]), len(units)
	var ctx string
	switch {
	case n < 21:
		ctx = "\"" + p.s + "\""
	case pos < 10:
		ctx = "\"" + unitsString(units[:pos+10]) + "\"..."
	case pos >= n-10:
		ctx = "...\"" + unitsString(units[pos-10:]) + "\""
	default:
		ctx = "...\"" + unitsString(units[pos-10:pos+10]) + "\"..."
	}
	return &SyntaxError{Message: head + ctx + " is not valid JSON", Offset: p.i}
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if p.i >= len(p.s) {
		return nil, p.eof()
	}
	if depth > maxDepth {
		return nil, p.fail("JSON nesting too deep at position %d")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.unexpected()
}

// literal consumes word; a mismatch is reported at the first wrong byte.
func (p *jsonParser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.s) {
			return p.eof()
		}
		if p.s[p.i] != word[k] {
			return p.unexpected()
		}
		p.i++
	}
	return nil
}

func (p *jsonParser) object(depth int) (any, error) {
	p.i++ // {
	obj := NewObject(4)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return obj, nil
	}
	first := true
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			if first {
				return nil, p.fail("Expected property name or '}' in JSON at position %d")
			}
			return nil, p.fail("Expected double-quoted property name in JSON at position %d")
		}
		first = false
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.fail("Expected ':' after property name in JSON at position %d")
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		obj.Set(key.(string), v)
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.skipSpace()
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return obj, nil
		}
		return nil, p.fail("Expected ',' or '}' after property value in JSON at position %d")
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	p.i++ // [
	arr := make([]any, 0, 4)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return arr, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.skipSpace()
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return arr, nil
		}
		return nil, p.fail("Expected ',' or ']' after array element in JSON at position %d")
	}
}

func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return nil, p.fail("No number after minus sign in JSON at position %d")
		}
	}
	if p.s[p.i] == '0' {
		p.i++
		if p.i < len(p.s) && isDigit(p.s[p.i]) {
			return nil, p.fail("Unexpected number in JSON at position %d")
		}
	} else {
		p.digits()
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return nil, p.fail("Unterminated fractional number in JSON at position %d")
		}
		p.digits()
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return nil, p.fail("Exponent part is missing a number in JSON at position %d")
		}
		p.digits()
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, p.fail("Unexpected number in JSON at position %d")
	}
	return f, nil // out of range parses to ±Inf or 0, as in JavaScript
}

func (p *jsonParser) digits() {
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// str parses a JSON string; lone surrogate escapes become WTF-8.
func (p *jsonParser) str() (any, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			return s, nil
		}
		if c == '\\' {
			return p.escapedStr(start)
		}
		if c < 0x20 {
			return nil, p.fail("Bad control character in string literal in JSON at position %d")
		}
		p.i++
	}
	return nil, p.fail("Unterminated string in JSON at position %d")
}

func (p *jsonParser) escapedStr(start int) (any, error) {
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return nil, p.fail("Bad control character in string literal in JSON at position %d")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			return nil, p.eof()
		}
		e := p.s[p.i]
		if simple, ok := simpleEscapes[e]; ok {
			buf = append(buf, simple)
			p.i++
			continue
		}
		if e != 'u' {
			return nil, p.fail("Bad escaped character in JSON at position %d")
		}
		u, ok := p.hex4(p.i + 1)
		if !ok {
			p.i++
			for p.i < len(p.s) && isHex(p.s[p.i]) {
				p.i++
			}
			return nil, p.fail("Bad Unicode escape in JSON at position %d")
		}
		p.i += 5
		if u >= 0xD800 && u <= 0xDBFF && strings.HasPrefix(p.s[p.i:], `\u`) {
			if lo, ok := p.hex4(p.i + 2); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				buf = utf8.AppendRune(buf, 0x10000+(u-0xD800)<<10+(lo-0xDC00))
				p.i += 6
				continue
			}
		}
		buf = appendWTF8(buf, u)
	}
	return nil, p.fail("Unterminated string in JSON at position %d")
}

var simpleEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func (p *jsonParser) hex4(at int) (rune, bool) {
	if at+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[at : at+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// utf16Units splits s into UTF-16 code units, for V8's error context.
func utf16Units(s string) []uint16 {
	units := make([]uint16, 0, len(s))
	for i := 0; i < len(s); {
		r, w := decodeWTF8(s, i)
		i += w
		if r >= 0x10000 {
			r -= 0x10000
			units = append(units, uint16(0xD800+(r>>10)), uint16(0xDC00+r&0x3FF))
			continue
		}
		units = append(units, uint16(r))
	}
	return units
}

func unitsString(units []uint16) string {
	buf := make([]byte, 0, len(units))
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		if u >= 0xD800 && u <= 0xDBFF && i+1 < len(units) && units[i+1] >= 0xDC00 && units[i+1] <= 0xDFFF {
			buf = utf8.AppendRune(buf, 0x10000+(u-0xD800)<<10+(rune(units[i+1])-0xDC00))
			i++
			continue
		}
		buf = appendWTF8(buf, u)
	}
	return string(buf)
}

// appendWTF8 appends r, encoding a surrogate code point as three bytes
// (which utf8.AppendRune would replace with U+FFFD).
func appendWTF8(buf []byte, r rune) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(buf, 0xED, byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
	}
	return utf8.AppendRune(buf, r)
}
