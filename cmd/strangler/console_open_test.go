package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// get fetches a URL without following redirects.
func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAdminWithoutAuthenticationIsClosed: with no way in configured (no
// database, tokens, identity provider or break-glass token), only health,
// readiness, metrics and the console's shell, login page and assets
// answer; the API refuses everyone and the login page says how to open it.
func TestAdminWithoutAuthenticationIsClosed(t *testing.T) {
	legacy := newLegacyStub(t)
	cfg := adminConfig(t, legacy.URL, "", nil)
	cfg.AdminTokenHashes = nil
	cfg.FlagsFile = filepath.Join(t.TempDir(), "flags.yaml")
	m := startMain(t, cfg)
	base := m.AdminURL()
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/login", "/static/console.js", "/static/console.css", "/static/favicon.svg"} {
		if code, _, _ := get(t, base+path); code != http.StatusOK {
			t.Errorf("%s answered %d without credentials", path, code)
		}
	}
	if code, h, _ := get(t, base+"/"); code != http.StatusFound || h.Get("Location") != "/login" {
		t.Errorf("/ answered %d to %q, want a redirect to the login page", code, h.Get("Location"))
	}
	_, h, page := get(t, base+"/login")
	if !strings.Contains(page, "The admin API is closed") || !strings.Contains(page, "strangler token create") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("login page: %s", page)
	}
	for _, path := range []string{"/api/routes", "/api/me", "/api/nothing", "/api"} {
		code, _, body := get(t, base+path)
		if code != http.StatusUnauthorized || !strings.Contains(body, "the admin API is closed") {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	if code, body := adminRequest(t, base, http.MethodPost, "/api/rollback", `{"all":true,"reason":"x"}`, credential{bearer: testToken}); code != http.StatusUnauthorized {
		t.Errorf("a write with a token nobody configured: %d %s", code, body)
	}
	for _, path := range []string{"/nothing", "/static/../admin.go", "/auth/callback"} {
		if code, _, body := get(t, base+path); code == http.StatusOK {
			t.Errorf("%s answered 200: %s", path, body)
		}
	}
}

// TestBreakGlassTokenFromTheEnvironment: STRANGLER_ADMIN_BREAK_GLASS_TOKEN
// is a configuration key, so the loader takes it (and refuses a short one).
func TestBreakGlassTokenFromTheEnvironment(t *testing.T) {
	tok := "bg-" + strings.Repeat("k9", 16)
	cfg, err := config.Load(config.Source{Path: "../../config/strangler.yaml", Explicit: true,
		Environ: []string{"STRANGLER_ADMIN_BREAK_GLASS_TOKEN=" + tok, "STRANGLER_ADMIN_TOKEN_ROLE=sre"}})
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Admin; a.BreakGlassToken != tok || a.TokenRole != "sre" {
		t.Fatalf("admin section: %+v", a)
	}
	_, err = config.Load(config.Source{Path: "../../config/strangler.yaml", Explicit: true,
		Environ: []string{"STRANGLER_ADMIN_BREAK_GLASS_TOKEN=short", "STRANGLER_ADMIN_OIDC_ISSUER=ftp://x"}})
	if err == nil || !strings.Contains(err.Error(), "admin.break_glass_token") || !strings.Contains(err.Error(), "admin.oidc.client_id") {
		t.Fatalf("bad admin settings: %v", err)
	}
}

// TestBreakGlassRollsBackWithDatabaseAndIdentityProviderDown: with
// PostgreSQL stopped and the identity provider gone, the break-glass token
// still rolls everything back on the replica (202, applied at once and
// written when the database returns, attributed to break-glass); an ID
// token is refused as unverifiable (503), and an API token seen before
// the outage keeps working from the cache.
func TestBreakGlassRollsBackWithDatabaseAndIdentityProviderDown(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	legacy := newLegacyStub(t)
	cl := testutil.StartCluster(t)
	db := cl.CreateDB("strangler")
	if _, err := store.Migrate(context.Background(), testutil.Pool(t, db)); err != nil {
		t.Fatal(err)
	}
	viewer := newAPIToken(t, db, "dashboard", "viewer")
	breakGlass := "bg-" + strings.Repeat("z3", 16)
	m := startMain(t, adminConfig(t, legacy.URL, db, func(a *config.Admin) {
		a.OIDC = config.AdminOIDC{Issuer: idp.Issuer, ClientID: consoleClientID, RolesClaim: "roles"}
		a.BreakGlassToken = breakGlass
	}))
	base := m.AdminURL()
	if code, body := adminRequest(t, base, http.MethodGet, "/api/me", "", credential{bearer: viewer}); code != http.StatusOK {
		t.Fatalf("viewer token: %d %s", code, body)
	}
	if code, out, errOut := cliRun(t, db, "flip", "nanopore.getAll", "new", "--reason", "cutover"); code != 0 {
		t.Fatalf("flip: %s %s", out, errOut)
	}
	testutil.Eventually(t, 30*time.Second, "replica on the new side", func() bool { return sideOf(t, m) == "service:samples" })

	sre := idToken(idp, "sam", []string{"sre"}, time.Hour)
	idp.Close()
	cl.Stop()
	testutil.Eventually(t, 30*time.Second, "listener noticed the outage", func() bool { return !m.flags.syncer.Connected() })
	if code, body := adminRequest(t, base, http.MethodPost, "/api/rollback", `{"all":true,"reason":"x"}`, credential{bearer: sre}); code != http.StatusServiceUnavailable {
		t.Errorf("ID token with the provider down: %d %s", code, body)
	}
	if code, body := adminRequest(t, base, http.MethodGet, "/api/routes", "", credential{bearer: viewer}); code == http.StatusUnauthorized || code == http.StatusForbidden {
		t.Errorf("cached API token with the database down: %d %s", code, body)
	}
	code, body := adminRequest(t, base, http.MethodPost, "/api/rollback", `{"all":true,"reason":"INC-7: db and idp down"}`, credential{bearer: breakGlass})
	if code != http.StatusAccepted {
		t.Fatalf("break-glass rollback: %d %s", code, body)
	}
	if side := sideOf(t, m); side != "legacy" {
		t.Fatalf("after the break-glass rollback the replica routes to %s", side)
	}
	cl.Start()
	testutil.Eventually(t, 60*time.Second, "rollback written to the database", func() bool {
		code, out, _ := cliRun(t, db, "history", "nanopore.getAll", "--json")
		return code == 0 && strings.Contains(out, `"actor": "break-glass"`) && strings.Contains(out, "INC-7")
	})
}

// TestConsoleStartsWhileTheIdentityProviderIsDown: discovery is lazy, so
// the proxy starts with its provider down; a login then lands on the
// login page with a notice, and the break-glass form is still there.
func TestConsoleStartsWhileTheIdentityProviderIsDown(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	issuer := idp.Issuer
	idp.Close()
	legacy := newLegacyStub(t)
	m := startMain(t, adminConfig(t, legacy.URL, migratedDB(t), func(a *config.Admin) {
		a.OIDC = config.AdminOIDC{Issuer: issuer, ClientID: consoleClientID, RolesClaim: "roles"}
	}))
	code, h, _ := get(t, m.AdminURL()+"/auth/login")
	if code != http.StatusSeeOther || h.Get("Location") != "/login?m=provider-down" {
		t.Fatalf("login with the provider down: %d to %q", code, h.Get("Location"))
	}
	_, _, page := get(t, m.AdminURL()+h.Get("Location"))
	if !strings.Contains(page, "identity provider cannot be reached") || !strings.Contains(page, `action="/auth/token"`) {
		t.Errorf("login page: %s", page)
	}
	if code, _, _ := get(t, m.AdminURL()+"/auth/callback?code=x&state=y"); code != http.StatusSeeOther {
		t.Errorf("a callback nobody started answered %d", code)
	}
}
