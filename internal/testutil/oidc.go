package testutil

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// FakeOIDC is an OpenID Connect provider for tests (a real one cannot run
// here). It speaks the real protocol over HTTP: discovery, JWKS, an
// authorization endpoint that approves at once (as the user in Claims) and
// a token endpoint that checks the PKCE verifier.
type FakeOIDC struct {
	*httptest.Server
	Issuer string
	// Claims are added to every token the authorization flow issues.
	Claims map[string]any

	key    *rsa.PrivateKey
	signer jose.Signer
	mu     sync.Mutex
	codes  map[string]pendingCode
}

type pendingCode struct {
	clientID, redirect, challenge, nonce string
}

// StartFakeOIDC starts a provider; it stops when tb ends.
func StartFakeOIDC(tb testing.TB) *FakeOIDC {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	f := &FakeOIDC{key: key, signer: signer, codes: map[string]pendingCode{}, Claims: map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("/jwks", f.jwks)
	mux.HandleFunc("/authorize", f.authorize)
	mux.HandleFunc("/token", f.token)
	f.Server = httptest.NewServer(mux)
	f.Issuer = f.Server.URL
	tb.Cleanup(f.Server.Close)
	return f
}

func (f *FakeOIDC) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                f.Issuer,
		"authorization_endpoint":                f.Issuer + "/authorize",
		"token_endpoint":                        f.Issuer + "/token",
		"jwks_uri":                              f.Issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (f *FakeOIDC) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (f *FakeOIDC) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE (S256) is required", http.StatusBadRequest)
		return
	}
	code := randomString()
	f.mu.Lock()
	f.codes[code] = pendingCode{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	f.mu.Unlock()
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (f *FakeOIDC) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	p, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code"))
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != p.challenge || r.PostForm.Get("redirect_uri") != p.redirect {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	claims := map[string]any{"aud": p.clientID}
	if p.nonce != "" {
		claims["nonce"] = p.nonce
	}
	f.mu.Lock()
	for k, v := range f.Claims {
		claims[k] = v
	}
	f.mu.Unlock()
	id := f.Sign(claims, time.Hour)
	writeJSON(w, map[string]any{"access_token": id, "id_token": id, "token_type": "Bearer", "expires_in": 3600})
}

// Sign mints a token from this provider: iss, iat and exp are added.
func (f *FakeOIDC) Sign(claims map[string]any, ttl time.Duration) string {
	c := map[string]any{"iss": f.Issuer, "iat": time.Now().Unix(), "exp": time.Now().Add(ttl).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	obj, err := f.signer.Sign(b)
	if err != nil {
		panic(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

// SetClaims replaces the claims the next logins get.
func (f *FakeOIDC) SetClaims(c map[string]any) {
	f.mu.Lock()
	f.Claims = c
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
