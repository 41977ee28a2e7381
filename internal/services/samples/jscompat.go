package samples

// JavaScript compatibility: what node-postgres and JSON.stringify would do
// with the values the legacy app handles, built on package validate.

import (
	"regexp"
	"unicode/utf8"

	"github.com/nanopore/strangler/internal/validate"
)

// formatJSNumber is the text a JS app sends to PostgreSQL for a number
// parameter (node-postgres uses String(n)): the shortest round-trip digits,
// so that numeric rounds the decimal the user typed (1.0005 to 1.001), not
// its binary approximation.
func formatJSNumber(f float64) string { return validate.FormatNumber(f) }

// appendJSONText appends jsonb text from the database as
// JSON.stringify(JSON.parse(text)) writes it, what node-postgres and the
// legacy app would answer: compact, numbers in JS form ("1.50" is 1.5).
func appendJSONText(buf, text []byte) ([]byte, error) {
	v, err := validate.ParseJSON(text)
	if err != nil {
		return buf, err
	}
	return validate.AppendValue(buf, v), nil
}

// wellFormed returns s with every lone UTF-16 surrogate (which the value
// model keeps as WTF-8) replaced by U+FFFD, as node-postgres encodes a JS
// string; PostgreSQL would refuse the raw bytes.
func wellFormed(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF {
			out = append(out, "\uFFFD"...)
			i += 3
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		out = utf8.AppendRune(out, r)
		i += n
	}
	return string(out)
}

// mustJSRegexp compiles a JS regular expression of this package's source.
func mustJSRegexp(src string) *regexp.Regexp {
	re, err := validate.CompileJSRegexp(src)
	if err != nil {
		panic(err)
	}
	return re
}
