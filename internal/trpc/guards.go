package trpc

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/nanopore/strangler/internal/validate"
)

// securityHeaders is the header set the legacy app's middleware adds to
// every response it produces (contract 1.8), server and x-powered-by
// present with empty values.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; img-src 'self' data: https:; connect-src 'self' ws: wss:; font-src 'self' https://fonts.gstatic.com; object-src 'none'; media-src 'self'; frame-src 'none'"},
	{"Cross-Origin-Embedder-Policy", "unsafe-none"},
	{"Cross-Origin-Opener-Policy", "same-origin-allow-popups"},
	{"Cross-Origin-Resource-Policy", "same-site"},
	{"Permissions-Policy", "camera=(), microphone=(), geolocation=(), gyroscope=(), magnetometer=(), accelerometer=(), payment=(), usb=()"},
	{"Referrer-Policy", "strict-origin-when-cross-origin"},
	{"Server", ""},
	{"Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Dns-Prefetch-Control", "off"},
	{"X-Download-Options", "noopen"},
	{"X-Frame-Options", "DENY"},
	{"X-Permitted-Cross-Domain-Policies", "none"},
	{"X-Powered-By", ""},
	{"X-Xss-Protection", "1; mode=block"},
}

func setSecurityHeaders(h http.Header) {
	for _, kv := range securityHeaders {
		h[kv[0]] = []string{kv[1]}
	}
}

// headerGet is the Fetch API's Headers.get: all values joined by ", ".
func headerGet(h http.Header, name string) (string, bool) {
	vals := h.Values(name)
	return strings.Join(vals, ", "), len(vals) > 0
}

// forbiddenCrossSite is Astro 5's origin check, which runs before tRPC:
// an unsafe method whose content type is missing or form-like, without an
// Origin equal to the server's own origin (http:// and the Host header).
func forbiddenCrossSite(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	origin, _ := headerGet(req.Header, "Origin")
	same := origin == requestOrigin(req.Host)
	ct, hasCT := headerGet(req.Header, "Content-Type")
	if !hasCT {
		return !same
	}
	lower := strings.ToLower(ct)
	formLike := strings.Contains(lower, "application/x-www-form-urlencoded") ||
		strings.Contains(lower, "multipart/form-data") || strings.Contains(lower, "text/plain")
	return formLike && !same
}

// requestOrigin is new URL("http://" + host).origin: host lower-cased and
// the default port dropped.
func requestOrigin(host string) string {
	host = strings.ToLower(host)
	host = strings.TrimSuffix(host, ":80")
	return "http://" + host
}

// writeForbidden is Astro's origin-check answer. Astro streams even this
// short body, so it goes out chunked like every other answer (contract 1.8).
func writeForbidden(w http.ResponseWriter, method string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	chunked(w)
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, "Cross-site "+method+" form submissions are forbidden")
}

// writeEarlyError answers an error raised before any call ran (tRPC's outer
// catch): no path in the envelope and, since tRPC sets no content type on
// that path, the Fetch API's default text/plain.
func writeEarlyError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Vary", "trpc-accept")
	h.Set("Content-Type", "text/plain;charset=UTF-8")
	chunked(w)
	w.WriteHeader(e.Code.HTTPStatus())
	w.Write(AppendError(nil, e.Code, e.Message, "", false))
}

// chunked makes the answer go out chunked with no Content-Length, as the
// legacy app's Node adapter streams it. Every Router answer with a body
// calls it before WriteHeader. Declaring the encoding (rather than flushing
// the header early) costs no extra write: net/http only needs to know.
func chunked(w http.ResponseWriter) {
	w.Header().Set("Transfer-Encoding", "chunked")
}

// contentKind is the content-type handler tRPC picks.
type contentKind uint8

const (
	contentJSON contentKind = iota
	contentForm
	contentOctet
)

// pickContent is tRPC's getContentTypeHandler (prefix matches, case-sensitive).
func pickContent(req *http.Request) (contentKind, *Error) {
	ct, has := headerGet(req.Header, "Content-Type")
	switch {
	case has && strings.HasPrefix(ct, "application/json"):
		return contentJSON, nil
	case has && strings.HasPrefix(ct, "multipart/form-data"):
		return contentForm, nil
	case has && strings.HasPrefix(ct, "application/octet-stream"):
		return contentOctet, nil
	case req.Method == http.MethodGet:
		return contentJSON, nil
	case has:
		// sic: tRPC's message lacks the closing quote
		return 0, Errorf(UnsupportedMediaType, `Unsupported content-type "`+ct)
	}
	return 0, Errorf(UnsupportedMediaType, "Missing content-type header")
}

// checkConnectionParams is tRPC's parseConnectionParamsFromString.
func checkConnectionParams(rawQuery string) *Error {
	s, ok := QueryGet(rawQuery, "connectionParams")
	if !ok {
		return nil
	}
	v, err := validate.ParseJSONText(s)
	if err != nil {
		return Errorf(ParseError, "Not JSON-parsable query params")
	}
	if v == nil {
		return nil
	}
	obj, isObj := v.(*validate.Object)
	if !isObj {
		return Errorf(ParseError, "Invalid connection params shape")
	}
	for _, k := range obj.Keys() {
		if _, isStr := obj.Value(k).(string); !isStr {
			return Errorf(ParseError, "Invalid connection params shape")
		}
	}
	return nil
}

// urlError maps a ParseURL failure to tRPC's answer.
func urlError(err error) *Error {
	if errors.Is(err, ErrMalformedPath) {
		return Errorf(InternalServerError, err.Error())
	}
	return Errorf(PayloadTooLarge, err.Error())
}
