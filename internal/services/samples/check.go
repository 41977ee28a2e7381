package samples

import (
	"strings"
	"unicode/utf8"
)

// checkCreate is the legacy service's own re-check after zod (contract 4.3):
// it runs on the transformed input, so a name of spaces, which passes zod's
// min(1) before being trimmed to "", fails here. Problems are joined with
// ", " after "Validation failed: ", in legacy's order.
func checkCreate(in CreateInput) error {
	var problems []string
	required := []struct{ value, msg string }{
		{in.SampleName, "Sample name is required"},
		{in.SubmitterName, "Submitter name is required"},
		{in.SubmitterEmail, "Submitter email is required"},
		{in.SampleType, "Sample type is required"},
		{in.ChartField, "Chart field is required"},
	}
	for _, r := range required {
		if jsTrim(r.value) == "" {
			problems = append(problems, r.msg)
		}
	}
	if in.SubmitterEmail != "" && !simpleEmail(in.SubmitterEmail) {
		problems = append(problems, "Invalid email format")
	}
	if in.Concentration < 0 {
		problems = append(problems, "Concentration must be positive")
	}
	if in.Volume < 0 {
		problems = append(problems, "Volume must be positive")
	}
	if in.FlowCellCount < 0 {
		problems = append(problems, "Flow cell count must be at least 1")
	}
	if len(problems) > 0 {
		return badRequest("Validation failed: " + strings.Join(problems, ", "))
	}
	return nil
}

// simpleEmail is legacy's JS test /^[^\s@]+@[^\s@]+\.[^\s@]+$/: no white
// space, one '@' with something before it, and after it a '.' that is neither
// the first nor the last character.
func simpleEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s[at+1:], '@') >= 0 || strings.IndexFunc(s, isJSSpace) >= 0 {
		return false
	}
	domain := s[at+1:]
	dot := strings.IndexByte(domain[min(1, len(domain)):], '.')
	return dot >= 0 && dot+1 < len(domain)-1
}

// jsTrim is JS String.prototype.trim: it strips JS white space and line
// terminators, a set that differs from Go's unicode.IsSpace (U+FEFF is
// stripped, U+0085 is not).
func jsTrim(s string) string {
	start, end := 0, len(s)
	for start < end {
		r, n := utf8.DecodeRuneInString(s[start:])
		if !isJSSpace(r) {
			break
		}
		start += n
	}
	for end > start {
		r, n := utf8.DecodeLastRuneInString(s[start:end])
		if !isJSSpace(r) {
			break
		}
		end -= n
	}
	return s[start:end]
}

// isJSSpace reports JS's \s: WhiteSpace (including every Zs character) and
// LineTerminator.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
