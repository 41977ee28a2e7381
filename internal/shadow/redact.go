package shadow

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/validate"
)

// Redacted is what a stored record holds in place of a secret or a piece
// of personal data.
const Redacted = "<redacted>"

// Redactor removes secrets and personal data from what a record stores:
// configured headers, JSON keys and query or form parameters by name, and
// text patterns (e-mail addresses, bearer tokens, legacy session ids)
// inside any stored string.
type Redactor struct {
	headers map[string]bool
	fields  globs
	text    []*regexp.Regexp
}

// NewRedactor compiles the redaction rules; patterns were validated by
// config.Load, a bad one is skipped.
func NewRedactor(cfg config.ShadowRedact) *Redactor {
	r := &Redactor{headers: map[string]bool{}}
	for _, h := range cfg.Headers {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, f := range cfg.Fields {
		r.fields = append(r.fields, NewGlob(normField(f)))
	}
	for _, p := range cfg.TextPatterns {
		if re, err := regexp.Compile(p); err == nil {
			r.text = append(r.text, re)
		}
	}
	return r
}

// normField folds a key for matching: lower case, without '_' and '-', so
// that submitter_email, submitterEmail and Submitter-Email are one field.
func normField(s string) string {
	s = strings.ToLower(s)
	if strings.ContainsAny(s, "_-") {
		s = strings.NewReplacer("_", "", "-", "").Replace(s)
	}
	return s
}

// Field says whether a key's value is redacted.
func (r *Redactor) Field(key string) bool {
	return r.fields.Match(normField(key))
}

// Text redacts the text patterns inside s.
func (r *Redactor) Text(s string) string {
	for _, re := range r.text {
		s = re.ReplaceAllLiteralString(s, Redacted)
	}
	return s
}

// Header returns a copy of h with redacted values replaced.
func (r *Redactor) Header(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		if r.headers[http.CanonicalHeaderKey(k)] {
			out[k] = []string{Redacted}
			continue
		}
		cp := make([]string, len(vs))
		for i, v := range vs {
			cp[i] = r.Text(v)
		}
		out[k] = cp
	}
	return out
}

// JSON redacts a parsed JSON value in place: values under redacted keys,
// and the text patterns inside every other string. Object keys never hold
// personal data worth keeping; they are kept.
func (r *Redactor) JSON(v any) any {
	switch t := v.(type) {
	case *validate.Object:
		for _, k := range t.Keys() {
			if r.Field(k) {
				t.Set(k, Redacted)
				continue
			}
			t.Set(k, r.JSON(t.Value(k)))
		}
		return t
	case []any:
		for i := range t {
			t[i] = r.JSON(t[i])
		}
		return t
	case string:
		return r.Text(t)
	}
	return v
}

// Body redacts a body for storage: JSON structurally, form data by
// parameter, other text by pattern; binary bodies are not stored at all.
func (r *Redactor) Body(b []byte, contentType string) string {
	if len(b) == 0 {
		return ""
	}
	ct := strings.ToLower(contentType)
	if v, err := validate.ParseJSON(b); err == nil {
		return string(validate.Stringify(r.JSON(v)))
	}
	switch {
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		return r.Query(string(b))
	case strings.HasPrefix(ct, "text/"), strings.Contains(ct, "json"), strings.Contains(ct, "xml"), ct == "":
		if isText(b) {
			return r.Text(string(b))
		}
	}
	return Redacted + " (" + bodyHash(b) + ")"
}

// Query redacts a query string (or form body) parameter by parameter; a
// parameter holding JSON (tRPC's input) is redacted inside.
func (r *Redactor) Query(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if r.Field(name) {
			parts[i] = k + "=" + Redacted
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			parts[i] = k + "=" + url.QueryEscape(r.Text(v))
			continue
		}
		if j, err := validate.ParseJSONText(val); err == nil {
			val = string(validate.Stringify(r.JSON(j)))
		} else {
			val = r.Text(val)
		}
		parts[i] = k + "=" + url.QueryEscape(val)
	}
	return strings.Join(parts, "&")
}

// Diff redacts the values shown in a difference: both when any key on its
// path is a redacted field, else the text patterns.
func (r *Redactor) Diff(d Diff) Diff {
	if r.pathRedacted(d.Path) {
		if d.Legacy != "" {
			d.Legacy = Redacted
		}
		if d.New != "" {
			d.New = Redacted
		}
		return d
	}
	d.Legacy, d.New = r.Text(d.Legacy), r.Text(d.New)
	return d
}

// pathRedacted says whether a key on the path is a redacted field.
func (r *Redactor) pathRedacted(path string) bool {
	if strings.HasPrefix(path, PathHeader) {
		return r.headers[http.CanonicalHeaderKey(strings.TrimPrefix(path, PathHeader))]
	}
	for _, seg := range strings.FieldsFunc(path, func(c rune) bool { return c == '.' || c == '[' || c == ']' || c == '\'' }) {
		if seg != "$" && r.Field(seg) {
			return true
		}
	}
	return false
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x09 || c > 0x0d && c < 0x20 {
			return false
		}
	}
	return true
}
