package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/testutil"
)

func TestVerifierAcceptsOnlyValidTokensOfItsIssuer(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	other := testutil.StartFakeOIDC(t)
	v := &Verifier{Issuer: idp.Issuer, Audience: "strangler", RolesClaim: "realm.roles"}
	ctx := context.Background()
	good := idp.Sign(map[string]any{"sub": "ann", "aud": "strangler", "email": "ann@lab.org",
		"realm": map[string]any{"roles": []string{"engineer", "viewer"}}}, time.Hour)
	id, err := v.Verify(ctx, good)
	if err != nil || id.Subject != "ann" || id.Email != "ann@lab.org" || strings.Join(id.Roles, ",") != "engineer,viewer" {
		t.Fatalf("good token: %+v %v", id, err)
	}
	bad := map[string]string{
		"expired":        idp.Sign(map[string]any{"sub": "ann", "aud": "strangler"}, -time.Minute),
		"wrong audience": idp.Sign(map[string]any{"sub": "ann", "aud": "someone-else"}, time.Hour),
		"other issuer":   other.Sign(map[string]any{"sub": "ann", "aud": "strangler"}, time.Hour),
		"forged":         good[:len(good)-4] + "AAAA",
		"garbage":        "not-a-token",
	}
	for name, tok := range bad {
		if _, err := v.Verify(ctx, tok); err == nil {
			t.Errorf("%s token accepted", name)
		}
	}
}

func TestVerifierStartsWhileTheProviderIsDown(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	issuer := idp.Issuer
	tok := idp.Sign(map[string]any{"sub": "ann"}, time.Hour)
	idp.Close()
	v := &Verifier{Issuer: issuer}
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "identity provider unavailable") {
		t.Fatalf("with the provider down: %v", err)
	}
}
