//go:build faultinject

package faultinject

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nanopore/strangler/internal/testutil"
)

// TestRateLimitedClientGets429WithRetryAfterOthersUnaffected: with
// limits.per_client at 5 per minute (burst 5), a client sending 12
// requests gets 429s carrying Retry-After once its burst is spent, and
// another client (told apart by X-Forwarded-For from the trusted loopback)
// is not limited at all. That the rate holds over 30 s is bench/ratelimit's
// measure.
func TestRateLimitedClientGets429WithRetryAfterOthersUnaffected(t *testing.T) {
	t.Parallel()
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(legacy.Close)
	proxy := testutil.StartStrangler(t, testutil.StranglerOptions{Env: []string{
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0", "STRANGLER_DATABASE_URL=",
		"STRANGLER_FLAGS_FILE=" + filepath.Join(t.TempDir(), "flags.yaml"), "STRANGLER_LEGACY_URL=" + legacy.URL,
		"STRANGLER_TRUSTED_PROXIES=127.0.0.1/32", "STRANGLER_LIMITS_PER_CLIENT_REQUESTS=5",
		"STRANGLER_LIMITS_PER_CLIENT_PER=1m", "STRANGLER_LIMITS_PER_CLIENT_BURST=5"}})
	get := func(from string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, proxy.PublicURL+"/api/version-info", nil)
		req.Header.Set("X-Forwarded-For", from)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	var ok, limited int
	for range 12 {
		status, retry := get("203.0.113.1")
		switch status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if s, err := strconv.Atoi(retry); err != nil || s < 1 {
				t.Errorf("429 with Retry-After %q, want whole seconds", retry)
			}
		default:
			t.Errorf("greedy client got %d", status)
		}
	}
	// One more token may come in while the 12 run on a slow machine (one
	// every 12 s).
	if ok < 5 || ok > 6 || limited != 12-ok {
		t.Errorf("greedy client: %d let through, %d limited; want the burst of 5 (6 on a slow machine)", ok, limited)
	}
	for range 5 {
		if status, _ := get("203.0.113.2"); status != http.StatusOK {
			t.Errorf("the other client got %d", status)
		}
	}
}
