package validate

import (
	"fmt"
	"regexp"
	"strings"
)

// StringSchema is zod's z.string() with its checks, run in declaration order
// (Trim is itself a check, so the checks declared before it see the
// untrimmed value). Lengths count UTF-16 code units, as in JavaScript.
type StringSchema struct {
	checks []strCheck
	em     *errorMap
}

type strCheck struct {
	kind string // "min", "max", "regex", "email", "uuid", "trim"
	n    int
	re   *regexp.Regexp
	msg  *string
}

// String returns z.string().
func String(params ...Params) *StringSchema {
	s := &StringSchema{}
	if len(params) > 0 {
		s.em = params[0].errorMap()
	}
	return s
}

func (s *StringSchema) with(c strCheck) *StringSchema {
	out := &StringSchema{em: s.em, checks: make([]strCheck, len(s.checks), len(s.checks)+1)}
	copy(out.checks, s.checks)
	out.checks = append(out.checks, c)
	return out
}

// Min adds .min(n, msg?).
func (s *StringSchema) Min(n int, msg ...string) *StringSchema {
	return s.with(strCheck{kind: "min", n: n, msg: optMsg(msg)})
}

// Max adds .max(n, msg?).
func (s *StringSchema) Max(n int, msg ...string) *StringSchema {
	return s.with(strCheck{kind: "max", n: n, msg: optMsg(msg)})
}

// Email adds .email(msg?) with zod 3.25's e-mail pattern.
func (s *StringSchema) Email(msg ...string) *StringSchema {
	return s.with(strCheck{kind: "email", msg: optMsg(msg)})
}

// UUID adds .uuid(msg?) with zod 3.25's (version-agnostic) UUID pattern.
func (s *StringSchema) UUID(msg ...string) *StringSchema {
	return s.with(strCheck{kind: "uuid", msg: optMsg(msg)})
}

// Trim adds .trim(): JavaScript's String.prototype.trim at this point.
func (s *StringSchema) Trim() *StringSchema {
	return s.with(strCheck{kind: "trim"})
}

// Regex adds .regex(pattern, msg?). The pattern is JavaScript regular
// expression source without flags (see CompileJSRegexp); it panics on a
// pattern that cannot be translated, since schemas are declared statically.
func (s *StringSchema) Regex(jsPattern string, msg ...string) *StringSchema {
	re, err := CompileJSRegexp(jsPattern)
	if err != nil {
		panic(err)
	}
	return s.with(strCheck{kind: "regex", re: re, msg: optMsg(msg)})
}

func (s *StringSchema) parse(p *parser, data any, path []any) *result {
	str, isStr := data.(string)
	if !isStr {
		return invalidType(p, data, path, "string", s.em)
	}
	st := statusValid
	for _, c := range s.checks {
		var is Issue
		switch c.kind {
		case "trim":
			str = TrimJS(str)
			continue
		case "min":
			if UTF16Len(str) >= c.n {
				continue
			}
			is = Issue{Code: CodeTooSmall, Minimum: float64(c.n), Type: "string", Inclusive: true, layout: layoutSize}
		case "max":
			if UTF16Len(str) <= c.n {
				continue
			}
			is = Issue{Code: CodeTooBig, Maximum: float64(c.n), Type: "string", Inclusive: true, layout: layoutSize}
		case "email", "uuid", "regex":
			if stringMatches(c, str) {
				continue
			}
			is = Issue{Code: CodeInvalidString, Validation: c.kind, layout: layoutString}
		}
		p.addIssue(is, path, data, s.em, c.msg)
		st = statusDirty
	}
	return &result{st: st, value: str}
}

func stringMatches(c strCheck, s string) bool {
	switch c.kind {
	case "email":
		return isEmail(s)
	case "uuid":
		return isUUID(s)
	}
	return c.re.MatchString(s)
}

// emailBody is zod 3.25's e-mail regex without its two lookaheads, which
// RE2 lacks; isEmail checks them by hand. The /i flag is spelled out as
// ASCII ranges: JavaScript's non-unicode case folding never maps a non-ASCII
// letter onto A-Z, while RE2's (?i) would (U+212A KELVIN SIGN, U+017F).
var emailBody = regexp.MustCompile(`^[A-Za-z0-9_'+\-.]*[A-Za-z0-9_+\-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`)

// isEmail is /^(?!\.)(?!.*\.\.)([A-Z0-9_'+\-\.]*)[A-Z0-9_+-]@([A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}$/i.
// The body admits no line terminator, so (?!.*\.\.) is "contains no ..".
func isEmail(s string) bool {
	return !strings.HasPrefix(s, ".") && !strings.Contains(s, "..") && emailBody.MatchString(s)
}

// isUUID is zod 3.25's /^[0-9a-fA-F]{8}\b-[0-9a-fA-F]{4}\b-...{12}$/i: the
// \b between a hex digit and '-' always holds.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// jsSpace is JavaScript's \s set (WhiteSpace and LineTerminator) in RE2
// class syntax; RE2's own \s is only [\t\n\f\r ].
const jsSpace = `\t\n\x0B\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`

// CompileJSRegexp compiles JavaScript regular expression source (no flags,
// non-unicode mode) into an equivalent RE2 expression: \s and \S become
// JavaScript's whitespace set, '.' excludes all four line terminators, and
// \d, \w, \b, ^ and $ already mean the same in both. Lookarounds, back
// references and \S inside a class are refused. Strings are matched by code
// point, which only differs from JavaScript's code-unit matching in how many
// times '.' or a negated class consumes an astral character.
func CompileJSRegexp(src string) (*regexp.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				return nil, fmt.Errorf("validate: regex %q ends with a backslash", src)
			}
			i++
			if err := translateEscape(&b, src, &i, inClass); err != nil {
				return nil, err
			}
		case c == '[' && !inClass:
			if strings.HasPrefix(src[i:], "[]") || strings.HasPrefix(src[i:], "[^]") {
				return nil, fmt.Errorf("validate: regex %q: empty class is not supported", src)
			}
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '.' && !inClass:
			b.WriteString(`[^\n\r\x{2028}\x{2029}]`)
		case c == '(' && !inClass && strings.HasPrefix(src[i:], "(?") && !strings.HasPrefix(src[i:], "(?:"):
			return nil, fmt.Errorf("validate: regex %q: lookarounds are not supported", src)
		default:
			b.WriteByte(c)
		}
	}
	return regexp.Compile(b.String())
}

func translateEscape(b *strings.Builder, src string, i *int, inClass bool) error {
	e := src[*i]
	switch {
	case e == 's' && inClass:
		b.WriteString(jsSpace)
	case e == 's':
		b.WriteString("[" + jsSpace + "]")
	case e == 'S' && !inClass:
		b.WriteString("[^" + jsSpace + "]")
	case e == 'S' || (e >= '1' && e <= '9') || e == 'c' || e == 'k':
		return fmt.Errorf("validate: regex %q: escape \\%c is not supported", src, e)
	case e == 'u' && *i+4 < len(src):
		fmt.Fprintf(b, `\x{%s}`, src[*i+1:*i+5])
		*i += 4
	case e == '/':
		b.WriteByte('/')
	default:
		b.WriteByte('\\')
		b.WriteByte(e)
	}
	return nil
}
