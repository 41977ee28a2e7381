package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Cookies of the console. The session cookie is HttpOnly and SameSite=Lax
// (the login comes back from the identity provider as a cross-site
// navigation); writes made with it also need the CSRF token (header
// X-CSRF-Token), which only the console's own script can read (GET
// /api/me), and a matching Origin when the browser sends one.
const (
	sessionCookie = "strangler_admin"
	loginCookie   = "strangler_admin_login"
	csrfHeader    = "X-CSRF-Token"
)

// session is what the signed session cookie carries. A session made from
// a token names the token's hash (Cred), so that revoking the token ends
// the session too.
type session struct {
	Actor string `json:"a"`
	Name  string `json:"n"`
	Roles []Role `json:"r"`
	Via   string `json:"v"`
	Exp   int64  `json:"e"`
	CSRF  string `json:"c"`
	Cred  string `json:"t,omitempty"`
}

// loginState is what the short-lived login cookie carries between the
// redirect to the identity provider and its callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	Exp      int64  `json:"e"`
}

// signer signs and checks cookie values: base64(JSON).base64(HMAC). The
// purpose is part of the MAC, so that one kind of cookie never passes for
// another.
type signer struct{ key []byte }

func newSigner(secret []byte) signer {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	return signer{key: secret}
}

func (s signer) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose + "\x00" + payload))
	return m.Sum(nil)
}

func (s signer) encode(purpose string, v any) string {
	b, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(purpose, payload))
}

var errBadCookie = errors.New("invalid or expired session")

func (s signer) decode(purpose, value string, v any) error {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return errBadCookie
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(purpose, payload)) {
		return errBadCookie
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, v) != nil {
		return errBadCookie
	}
	return nil
}

// randomString returns n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie writes a console cookie; Secure when the request came over
// TLS. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil, MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// sameOrigin says whether a browser's Origin header (when it sent one)
// names this listener, as the request reached it.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return o == scheme+r.Host
}

// csrfOK checks a session write's CSRF token and origin.
func csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.FormValue("csrf")
	}
	return sameOrigin(r) && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
