package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/testutil"
)

// consoleClientID is the OIDC client the admin listener is in the tests.
const consoleClientID = "strangler-console"

// adminConfig is the shipped configuration on db in front of legacy, with
// the admin section changed by mod.
func adminConfig(t *testing.T, legacy, db string, mod func(*config.Admin)) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Source{Path: "../../config/strangler.yaml", Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.LegacyURL, cfg.DatabaseURL = legacy, db
	cfg.AdminTokenHashes = []string{tokenHash(testToken)}
	cfg.Log.Access = false
	if mod != nil {
		mod(&cfg.Admin)
	}
	if probs := cfg.Admin.Problems(); len(probs) > 0 {
		t.Fatalf("admin config: %v", probs)
	}
	return cfg
}

// startMain runs an in-process proxy until the test ends and waits until
// its admin listener is ready.
func startMain(t *testing.T, cfg *config.Config) *Main {
	t.Helper()
	m := runMain(t, cfg)
	testutil.Eventually(t, 30*time.Second, "admin listener ready", func() bool {
		resp, err := http.Get(m.AdminURL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return m
}

// runMain opens and runs an in-process proxy until the test ends.
func runMain(t *testing.T, cfg *config.Config) *Main {
	t.Helper()
	m := NewMain(cfg, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
	})
	return m
}

// tokenCLI runs `strangler token ...` on database db (registered here as
// well, in case root does not list it yet).
func tokenCLI(t *testing.T, db string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, environ: []string{"STRANGLER_DATABASE_URL=" + db}}
	root := c.root()
	if cmd, _, err := root.Find([]string{"token"}); err != nil || cmd == root {
		root.AddCommand(c.tokenCmd())
	}
	root.SetArgs(append(append([]string{"token"}, args...), "--config", "../../config/strangler.yaml"))
	root.SetOut(&out)
	root.SetErr(&errb)
	code := exitOK
	if err := root.ExecuteContext(context.Background()); err != nil {
		errb.WriteString(err.Error())
		code = exitFailed
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
	}
	return code, out.String(), errb.String()
}

// newAPIToken creates a token through the CLI and returns it.
func newAPIToken(t *testing.T, db, name, role string) string {
	t.Helper()
	code, out, errOut := tokenCLI(t, db, "create", name, "--role", role, "--expires", "1h")
	if code != 0 {
		t.Fatalf("token create %s: %d %s %s", name, code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// idToken is an ID token of idp for a person holding roles.
func idToken(idp *testutil.FakeOIDC, who string, roles []string, ttl time.Duration) string {
	return idp.Sign(map[string]any{"sub": who, "email": who + "@lab.org", "aud": consoleClientID, "roles": roles}, ttl)
}

// credential is how a test request proves who it is.
type credential struct {
	bearer  string
	cookie  *http.Cookie
	csrf    string
	origin  string
	allowed func(perm string) bool // nil: refused with 401 everywhere
}

// adminRequest sends one admin API request with a credential.
func adminRequest(t *testing.T, base, method, path, body string, cr credential) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cr.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+cr.bearer)
	}
	if cr.cookie != nil {
		req.AddCookie(cr.cookie)
	}
	if cr.csrf != "" {
		req.Header.Set("X-CSRF-Token", cr.csrf)
	}
	if cr.origin != "" {
		req.Header.Set("Origin", cr.origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "" // a live stream: its status is the answer
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tokenSession logs in on the console's login page with a token and
// returns the session cookie.
func tokenSession(t *testing.T, base, token string) *http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/token", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("token login: %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == "strangler_admin" {
			return c
		}
	}
	t.Fatal("token login set no session cookie")
	return nil
}
