package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/testutil"
)

// endpoint is one admin API operation and the permission it needs.
type endpoint struct {
	method, path, body string
	perm               string // read, flip, flip|rollback, rollback, accept, guard, tokens, any, missing
	ok                 int
}

// principalCase is a credential and the roles it should carry (nil: it
// must be refused with 401).
type principalCase struct {
	name   string
	cred   credential
	roles  []string
	noCSRF bool // a console session whose writes lack a valid CSRF token and origin
}

var permsOf = map[string][]string{
	"viewer":   {"read"},
	"engineer": {"read", "flip", "flip|rollback", "accept"},
	"sre":      {"read", "rollback", "flip|rollback", "guard"},
	"admin":    {"read", "flip", "flip|rollback", "rollback", "accept", "guard", "tokens"},
}

func (p principalCase) want(e endpoint) int {
	switch {
	case p.roles == nil:
		return http.StatusUnauthorized
	case p.noCSRF && e.method != http.MethodGet:
		return http.StatusForbidden
	case e.perm == "any" || e.perm == "missing":
		return e.ok
	}
	for _, r := range p.roles {
		if slices.Contains(permsOf[r], e.perm) {
			return e.ok
		}
	}
	return http.StatusForbidden
}

// TestAdminAuthorizationMatrix sends every admin endpoint with every kind
// of credential: API tokens of each role, the config token, the
// break-glass token, ID tokens of each role, console sessions (with and
// without the CSRF token), and expired, revoked, forged, wrong-audience
// and foreign-issuer tokens. Only the allowed combinations succeed, and
// every write is attributed to its actor in the flag history.
func TestAdminAuthorizationMatrix(t *testing.T) {
	idp := testutil.StartFakeOIDC(t)
	other := testutil.StartFakeOIDC(t)
	legacy := newLegacyStub(t)
	db := migratedDB(t)
	breakGlass := "bg-" + strings.Repeat("x7", 16)
	toks := map[string]string{}
	for _, role := range []string{"viewer", "engineer", "sre", "admin"} {
		toks[role] = newAPIToken(t, db, "m-"+role, role)
	}
	revoked := newAPIToken(t, db, "m-revoked", "admin")
	if code, out, errOut := tokenCLI(t, db, "revoke", "m-revoked", "--reason", "leaked"); code != 0 {
		t.Fatalf("revoke: %s %s", out, errOut)
	}
	expired := newAPIToken(t, db, "m-expired", "admin")
	pool := testutil.Pool(t, db)
	if _, err := pool.Exec(context.Background(), `UPDATE strangler.admin_tokens SET expires_at = now() - interval '1 minute' WHERE name = 'm-expired'`); err != nil {
		t.Fatal(err)
	}
	m := startMain(t, adminConfig(t, legacy.URL, db, func(a *config.Admin) {
		a.OIDC = config.AdminOIDC{Issuer: idp.Issuer, ClientID: consoleClientID, RolesClaim: "roles"}
		a.BreakGlassToken = breakGlass
	}))
	base := m.AdminURL()
	recID, err := (&shadow.Store{Pool: pool}).Insert(context.Background(), &shadow.Record{Route: "nanopore.getAll",
		Procedure: "nanopore.getAll", PrimarySide: "legacy", Method: "GET", Path: "/api/trpc/nanopore.getAll",
		LegacyStatus: 200, NewStatus: 200, Paths: []string{"$[*].name"}, Diffs: []shadow.Diff{}})
	if err != nil {
		t.Fatal(err)
	}
	cases := principalCases(t, base, idp, other, toks, breakGlass, revoked, expired)
	for _, p := range cases {
		for _, e := range adminEndpoints(t, base, p.name, recID) {
			code, body := adminRequest(t, base, e.method, e.path, e.body, p.cred)
			if want := p.want(e); code != want {
				t.Errorf("%s: %s %s answered %d, want %d: %s", p.name, e.method, e.path, code, want, body)
			}
		}
	}
	checkActors(t, db)
}

func principalCases(t *testing.T, base string, idp, other *testutil.FakeOIDC, toks map[string]string, breakGlass, revoked, expired string) []principalCase {
	good := idToken(idp, "eve", []string{"engineer"}, time.Hour)
	cases := []principalCase{
		{name: "no credentials"},
		{name: "config token", cred: credential{bearer: testToken}, roles: []string{"admin"}},
		{name: "break-glass token", cred: credential{bearer: breakGlass}, roles: []string{"sre"}},
		{name: "revoked API token", cred: credential{bearer: revoked}},
		{name: "expired API token", cred: credential{bearer: expired}},
		{name: "forged API token", cred: credential{bearer: "stg_" + strings.Repeat("A", 43)}},
		{name: "expired ID token", cred: credential{bearer: idToken(idp, "eve", []string{"admin"}, -time.Minute)}},
		{name: "forged ID token", cred: credential{bearer: good[:len(good)-6] + "AAAAAA"}},
		{name: "ID token of another issuer", cred: credential{bearer: idToken(other, "eve", []string{"admin"}, time.Hour)}},
		{name: "ID token for another audience", cred: credential{bearer: idp.Sign(map[string]any{"sub": "eve", "aud": "other-app", "roles": []string{"admin"}}, time.Hour)}},
		{name: "ID token without a strangler role", cred: credential{bearer: idToken(idp, "eve", []string{"lab-member"}, time.Hour)}},
		{name: "ID token viewer and sre", cred: credential{bearer: idToken(idp, "vic", []string{"viewer", "sre"}, time.Hour)}, roles: []string{"viewer", "sre"}},
	}
	for _, role := range []string{"viewer", "engineer", "sre", "admin"} {
		cases = append(cases,
			principalCase{name: "API token " + role, cred: credential{bearer: toks[role]}, roles: []string{role}},
			principalCase{name: "ID token " + role, cred: credential{bearer: idToken(idp, role, []string{role}, time.Hour)}, roles: []string{role}})
	}
	cookie := tokenSession(t, base, toks["engineer"])
	csrf := sessionCSRF(t, base, cookie)
	cases = append(cases,
		principalCase{name: "console session with CSRF token", cred: credential{cookie: cookie, csrf: csrf, origin: base}, roles: []string{"engineer"}},
		principalCase{name: "console session without CSRF token", cred: credential{cookie: cookie}, roles: []string{"engineer"}, noCSRF: true},
		principalCase{name: "console session from another origin", cred: credential{cookie: cookie, csrf: csrf, origin: "http://evil.example"}, roles: []string{"engineer"}, noCSRF: true},
		principalCase{name: "forged console session", cred: credential{cookie: &http.Cookie{Name: "strangler_admin", Value: strings.Replace(cookie.Value, ".", "x.", 1)}}},
	)
	return cases
}

// adminEndpoints lists every API operation; the ones that consume
// something (a declaration, a token) get a fresh one for each principal.
func adminEndpoints(t *testing.T, base, who string, recID int64) []endpoint {
	slug := strings.NewReplacer(" ", "-", "'", "").Replace(who)
	accepted := declareWithConfigToken(t, base)
	tokName := fmt.Sprintf("tmp-%d", time.Now().UnixNano())
	if code, body := adminRequest(t, base, http.MethodPost, "/api/tokens", `{"name":"`+tokName+`","role":"viewer","expires":"1h"}`, credential{bearer: testToken}); code != http.StatusCreated {
		t.Fatalf("create a token: %d %s", code, body)
	}
	// The route leaves legacy before each principal's turn, so that a
	// rollback by any of them changes something (and is recorded).
	if code, body := adminRequest(t, base, http.MethodPut, "/api/routes/nanopore.getAll", `{"mode":"shadow","reason":"matrix setup"}`, credential{bearer: testToken}); code != http.StatusOK {
		t.Fatalf("setup flip: %d %s", code, body)
	}
	acceptBody := `{"route":"nanopore.getAll","procedure":"nanopore.getAll","path":"$[*].name","reason":"names differ by design","expires":"` +
		time.Now().AddDate(0, 1, 0).Format("2006-01-02") + `"}`
	return []endpoint{
		{"GET", "/api/me", "", "any", 200},
		{"GET", "/api/routes", "", "read", 200},
		{"GET", "/api/history", "", "read", 200},
		{"GET", "/api/diffs?since=1h", "", "read", 200},
		{"GET", fmt.Sprintf("/api/diffs/%d", recID), "", "read", 200},
		{"GET", "/api/accepted", "", "read", 200},
		{"GET", "/api/guard", "", "read", 200},
		{"GET", "/api/live", "", "read", 200},
		{"GET", "/api/live/stream", "", "read", 200},
		{"GET", "/api/no-such-endpoint", "", "missing", 404},
		{"DELETE", "/api/routes", "", "missing", 405},
		{"PUT", "/api/routes/nanopore.getAll", `{"mode":"shadow","reason":"matrix: ` + who + `"}`, "flip", 200},
		{"PUT", "/api/routes/nanopore.getAll", `{"mode":"legacy","reason":"matrix: ` + who + `"}`, "flip|rollback", 200},
		{"POST", "/api/rollback", `{"routes":["nanopore.getAll"],"reason":"matrix: ` + who + `"}`, "rollback", 200},
		{"POST", "/api/rollback", `{"all":true,"reason":"matrix: ` + who + `"}`, "rollback", 200},
		{"POST", "/api/accepted", acceptBody, "accept", 201},
		{"DELETE", fmt.Sprintf("/api/accepted/%d", accepted), "", "accept", 200},
		{"PUT", "/api/guard", `{"enabled":true,"reason":"matrix: ` + who + `"}`, "guard", 200},
		{"GET", "/api/tokens", "", "tokens", 200},
		{"POST", "/api/tokens", `{"name":"` + slug + `","role":"viewer","expires":"1h"}`, "tokens", 201},
		{"DELETE", "/api/tokens/" + tokName, "", "tokens", 200},
	}
}

func declareWithConfigToken(t *testing.T, base string) int64 {
	t.Helper()
	code, body := adminRequest(t, base, http.MethodPost, "/api/accepted",
		`{"route":"nanopore.getAll","path":"$.x","reason":"to be removed","owner":"test"}`, credential{bearer: testToken})
	var out struct {
		Accepted shadow.Declared `json:"accepted"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("declare: %d %s", code, body)
	}
	return out.Accepted.ID
}

// sessionCSRF reads a console session's CSRF token from /api/me.
func sessionCSRF(t *testing.T, base string, cookie *http.Cookie) string {
	t.Helper()
	code, body := adminRequest(t, base, http.MethodGet, "/api/me", "", credential{cookie: cookie})
	var me struct {
		CSRF string `json:"csrf"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &me) != nil || me.CSRF == "" {
		t.Fatalf("/api/me with a session: %d %s", code, body)
	}
	return me.CSRF
}

// checkActors: every flip and rollback of the matrix names who made it.
func checkActors(t *testing.T, db string) {
	t.Helper()
	code, out, errOut := cliRun(t, db, "history", "--json", "--limit", "1000")
	if code != 0 {
		t.Fatalf("history: %s %s", out, errOut)
	}
	var h struct {
		History []struct{ Actor, Source, Reason string } `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range h.History {
		seen[e.Actor+" through "+e.Source] = true
	}
	for _, w := range []string{"token:m-engineer through admin-api", "token:m-engineer through console",
		"token:m-sre through admin-api", "token:m-admin through admin-api", "oidc:engineer@lab.org through admin-api",
		"oidc:sre@lab.org through admin-api", "oidc:vic@lab.org through admin-api", "break-glass through admin-api",
		"token:" + tokenHash(testToken)[:8] + " through admin-api"} {
		if !seen[w] {
			t.Errorf("no flag change by %s in the history (seen %v)", w, seen)
		}
	}
	for actor := range seen {
		if strings.Contains(actor, "viewer") || actor == "" {
			t.Errorf("a flag change is attributed to %q", actor)
		}
	}
}
