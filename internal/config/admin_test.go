package config

import (
	"strings"
	"testing"
)

func TestAdminProblems(t *testing.T) {
	a := DefaultAdmin()
	if ps := a.Problems(); len(ps) != 0 {
		t.Fatalf("defaults: %v", ps)
	}
	a.TokenRole = "root"
	a.BreakGlassToken = "short"
	a.SessionSecret = "also-short"
	a.SessionTTL = 0
	a.OIDC = AdminOIDC{Issuer: "ftp://idp", RedirectURL: "/callback"}
	got := a.Problems().Error()
	for _, key := range []string{"admin.token_role", "admin.break_glass_token", "admin.session_secret", "admin.session_ttl",
		"admin.oidc.issuer", "admin.oidc.client_id", "admin.oidc.redirect_url", "admin.oidc.roles_claim"} {
		if !strings.Contains(got, key+":") {
			t.Errorf("no problem for %s in:\n%s", key, got)
		}
	}
}
