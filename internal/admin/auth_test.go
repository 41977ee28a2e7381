package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

func TestBreakGlassFileIsReReadWhenItChanges(t *testing.T) {
	p := filepath.Join(t.TempDir(), "break-glass")
	first, second := strings.Repeat("a", 30), strings.Repeat("b", 30)
	bg := BreakGlassSource("", p)
	if bg() != "" {
		t.Fatal("a missing file is a token")
	}
	if err := os.WriteFile(p, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := NewAuth(AuthOptions{BreakGlass: bg})
	check := func(tok string, want bool) {
		t.Helper()
		p, err := a.bearer(context.Background(), tok)
		if (err == nil) != want || want && (p.Actor != "break-glass" || !p.Can(PermRollback) || p.Can(PermFlip) || p.Can(PermTokens)) {
			t.Fatalf("token %.4s…: %+v %v", tok, p, err)
		}
	}
	check(first, true)
	// A rotated secret (a new file content, and a new mtime) replaces it.
	if err := os.WriteFile(p, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	check(first, false)
	check(second, true)
	if err := os.WriteFile(p, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, later.Add(time.Minute), later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("short", false)
	if got := BreakGlassSource("from-env", p)(); got != "from-env" {
		t.Fatalf("the value wins over the file: %q", got)
	}
}

// TestTokensAreCachedAndRevocationsReachTheCache: a token is read once
// per TTL; a revocation made elsewhere stops it once the TTL has passed,
// one made through this store at once.
func TestTokensAreCachedAndRevocationsReachTheCache(t *testing.T) {
	pool := testutil.Pool(t, testutil.CreateDB(t))
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	ctx := context.Background()
	mine := &TokenStore{Pool: pool, TTL: time.Minute, Now: clock}
	other := &TokenStore{Pool: pool}
	raw, tok, err := mine.Create(ctx, "ci", RoleEngineer, time.Hour, "test")
	if err != nil || !strings.HasPrefix(raw, TokenPrefix) || tok.Role != RoleEngineer {
		t.Fatalf("create: %q %+v %v", raw, tok, err)
	}
	if _, _, err := mine.Create(ctx, "ci", RoleViewer, time.Hour, "test"); err == nil {
		t.Fatal("a second live token of one name")
	}
	if _, ok, err := mine.Lookup(ctx, raw); !ok || err != nil {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	if _, err := other.Revoke(ctx, "ci", "test", "rotated"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := mine.Lookup(ctx, raw); !ok {
		t.Fatal("the cache forgot a token within its TTL")
	}
	now = now.Add(2 * time.Minute)
	if _, ok, _ := mine.Lookup(ctx, raw); ok {
		t.Fatal("a revoked token still works after the TTL")
	}
	raw2, _, err := mine.Create(ctx, "ci", RoleSRE, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := mine.Lookup(ctx, raw2); !ok {
		t.Fatal("a new token is not found at once")
	}
	if _, err := mine.Revoke(ctx, "ci", "test", "done"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := mine.Lookup(ctx, raw2); ok {
		t.Fatal("a token revoked through this store still works")
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM strangler.admin_audit WHERE action LIKE 'token.%'`).Scan(&audits); err != nil || audits != 4 {
		t.Fatalf("audit rows: %d %v", audits, err)
	}
}

func TestSessionCookiesAreSignedAndWritesNeedTheirCSRFToken(t *testing.T) {
	a := NewAuth(AuthOptions{ConfigTokenHashes: []string{credOf(HashToken("tok"))}, ConfigTokenRole: RoleSRE})
	p, err := a.bearer(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	value := a.newSession(p, credOf(HashToken("tok")))
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	got, err := a.Authenticate(req)
	if err != nil || !got.Session || got.Actor != p.Actor {
		t.Fatalf("session: %+v %v", got, err)
	}
	csrf := a.csrfOf(req)
	for name, mod := range map[string]func(*http.Request){
		"no token":       func(*http.Request) {},
		"wrong token":    func(r *http.Request) { r.Header.Set(csrfHeader, csrf+"x") },
		"foreign origin": func(r *http.Request) { r.Header.Set(csrfHeader, csrf); r.Header.Set("Origin", "http://evil.example") },
	} {
		w := httptest.NewRequest("POST", "http://admin.local/api/rollback", nil)
		mod(w)
		if csrfOK(w, csrf) {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := httptest.NewRequest("POST", "http://admin.local/api/rollback", nil)
	ok.Header.Set(csrfHeader, csrf)
	ok.Header.Set("Origin", "http://admin.local")
	if !csrfOK(ok, csrf) {
		t.Error("the right token from the right origin was refused")
	}
	forged := strings.Replace(value, ".", "A.", 1)
	req = httptest.NewRequest("GET", "/api/me", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: forged})
	if _, err := a.Authenticate(req); err == nil {
		t.Error("a forged cookie was accepted")
	}
	other := NewAuth(AuthOptions{ConfigTokenHashes: []string{credOf(HashToken("tok"))}})
	req = httptest.NewRequest("GET", "/api/me", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	if _, err := other.Authenticate(req); err == nil {
		t.Error("a cookie signed with another secret was accepted")
	}
}
