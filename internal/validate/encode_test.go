package validate

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// appendStringByRule is AppendString written from its definition, byte by
// byte with the four comparisons, as the reference for the table-driven
// loop.
func appendStringByRule(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0xED:
			r, w := decodeWTF8(s, i)
			if r >= 0xD800 && r <= 0xDFFF {
				dst = append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
			} else {
				dst = append(dst, s[i:i+w]...)
			}
			i += w
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

func TestAppendStringMatchesItsRule(t *testing.T) {
	var cases []string
	for c := 0; c < 256; c++ { // every byte alone, and inside text
		cases = append(cases, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)})+"cd")
	}
	cases = append(cases, "", "Ann O'Neil <ann@lab.org>", "line\nbreak\ttab", "\u2028\u2029 stay raw",
		"\xed\xa0\x80 lone high", "\xed\xbf\xbf lone low", "\xed\x9f\xbf U+D7FF", strings.Repeat(`"\`, 50))
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", `"`, `\`, "\x00", "\x1f", "\x7f", "é", "\u2028", "\xed\xa0\x80", "\xed\x9f\xbf", "😀", "\xff"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		got, want := AppendString([]byte("x"), s), appendStringByRule([]byte("x"), s)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %q, want %q", s, got, want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := "Sample 42 of the Smith lab, submitted by Ann O'Neil <ann@lab.org>"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
