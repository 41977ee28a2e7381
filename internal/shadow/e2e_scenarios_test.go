package shadow_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/testutil"
)

// TestInjectedDifferencesAreRecorded: with the samples routes in shadow
// mode, every difference injected into the new side is recorded with the
// right route, procedure and path, and nothing else is.
func TestInjectedDifferencesAreRecorded(t *testing.T) {
	s := startScenario(t, nil, shadow.Options{Replica: "e2e"})
	for _, name := range []string{"Sample A", "Sample B", "Sample C"} {
		s.create(name, "jo@lab.org")
	}
	s.converge()
	steps := "/api/trpc/nanopore.getProcessingSteps?input=%22not-a-uuid%22"
	reqs := []struct{ path, inject string }{
		{"/api/trpc/health", ""},
		{"/api/trpc/nanopore.getAll", ""},
		{"/api/trpc/health,nanopore.getAll?batch=1", ""},
		{steps, ""},
		{"/api/trpc/nanopore.getAll", "changed-field"},
		{"/api/trpc/nanopore.getAll", "missing-field"},
		{"/api/trpc/nanopore.getAll", "extra-element"},
		{steps, "error-code"},
		{steps, "zod-issue"},
		{"/api/trpc/health", "status"},
	}
	var legacyAnswers []string
	for _, r := range reqs {
		_, body := s.do("GET", r.path, "", r.inject)
		legacyAnswers = append(legacyAnswers, body)
	}
	s.settled(float64(s.n + 1)) // one outcome per call (the batch has two); the creates are skipped (unsafe)
	if got := s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": "match"}); got != 5 {
		t.Errorf("%v matches, want 5 (the four requests without injection, the batch counting twice)", got)
	}
	s.waitRecords(6)
	want := []string{
		"health health status",
		"nanopore.getAll nanopore.getAll $[*]",
		"nanopore.getAll nanopore.getAll $[*].lab_name",
		"nanopore.getAll nanopore.getAll $[*].sample_name",
		"nanopore.getProcessingSteps nanopore.getProcessingSteps error.code",
		"nanopore.getProcessingSteps nanopore.getProcessingSteps error.issues",
	}
	if got := s.groups(); !reflect.DeepEqual(got, want) {
		t.Fatalf("recorded groups\n got %q\nwant %q", got, want)
	}
	// The users got legacy's answers, whatever the new side did.
	if !strings.Contains(legacyAnswers[9], `"status":"ok"`) || strings.Contains(legacyAnswers[4], `"sample_name":"X`) {
		t.Fatalf("a user saw the new side's answer: %q", legacyAnswers)
	}
	assertNoSecrets(t, s)
	// The writes reached legacy once each: a write is never repeated.
	creates := 0
	for _, r := range s.standin.Requests(t) {
		if strings.Contains(r.URL, "nanopore.create") {
			creates++
		}
	}
	if creates != 3 {
		t.Fatalf("legacy received %d creates, want 3", creates)
	}
}

// assertNoSecrets: no stored record holds the client's Authorization,
// Cookie, or an e-mail address.
func assertNoSecrets(t *testing.T, s *scenario) {
	t.Helper()
	var dump string
	err := s.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(m::text, ' '), '') FROM strangler.shadow_mismatches m`).Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"client-secret-token", "0sy3yrnbaqdo", "jo@lab.org", "lab.org"} {
		if strings.Contains(dump, secret) {
			t.Errorf("a stored record holds %q", secret)
		}
	}
	if dump != "" && !strings.Contains(dump, shadow.Redacted) {
		t.Error("records stored without any <redacted> marker")
	}
}

// TestDeclaredFixesAreAccepted: DESIGN.md's fixes (processing steps, fresh
// getAll, e-mails) are counted as accepted differences, not mismatches.
func TestDeclaredFixesAreAccepted(t *testing.T) {
	s := startScenario(t, nil, shadow.Options{})
	id := s.create("Sample A", "jo.update@lab.org") // legacy stores jo.@lab.org
	s.create("Sample B", "kim@lab.org")
	s.converge()
	// The Go service stores the address as given.
	if _, err := s.pool.Exec(context.Background(), `UPDATE samples.nanopore_samples SET submitter_email = 'jo.update@lab.org' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	s.do("GET", "/api/trpc/nanopore.getAll", "", "")
	s.do("GET", "/api/trpc/nanopore.getProcessingSteps?input=%22"+id+"%22", "", "")
	// A status change: legacy's getAll snapshot is now stale, the Go
	// service's fresh once the rows converge.
	code, body := s.do("POST", "/api/trpc/nanopore.updateStatus", `{"id":"`+id+`","status":"prep"}`, "")
	if code != 200 {
		t.Fatalf("updateStatus: %d %s", code, body)
	}
	s.converge()
	if _, err := s.pool.Exec(context.Background(), `UPDATE samples.nanopore_samples SET submitter_email = 'jo.update@lab.org' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	s.do("GET", "/api/trpc/nanopore.getAll", "", "")
	s.settled(float64(s.n)) // one call each; the writes count as skipped (unsafe)
	accepted := func(proc string) float64 {
		return s.counter("strangler_shadow_comparisons_total", map[string]string{"procedure": proc, "outcome": "accepted"})
	}
	if accepted("nanopore.getAll") != 2 || accepted("nanopore.getProcessingSteps") != 1 {
		t.Fatalf("accepted: getAll %v (want 2), getProcessingSteps %v (want 1); mismatches %q", accepted("nanopore.getAll"), accepted("nanopore.getProcessingSteps"), s.groups())
	}
	if m := s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": "mismatch"}); m != 0 {
		t.Fatalf("%v mismatches, want none; recorded: %q", m, s.groups())
	}
}

// TestUnconfiguredTimestampBecomesNoise: a clock field nobody configured
// is a mismatch until the learning sample sees it differ between two
// legacy answers; from then on it is noise, shown as such, not reported.
func TestUnconfiguredTimestampBecomesNoise(t *testing.T) {
	var learn atomic.Bool
	s := startScenario(t, func(c *config.Shadow) {
		c.RelearnFraction = 0.5
		for i := range c.Rules {
			if c.Rules[i].Route == "health" {
				c.Rules[i].Presence = nil // nobody configured health's timestamp
			}
		}
	}, shadow.Options{Rand: func() float64 {
		if learn.Load() {
			return 0
		}
		return 0.99
	}})
	health := func(n int) {
		for i := 0; i < n; i++ {
			s.do("GET", "/api/trpc/health", "", "clock")
		}
	}
	health(2)
	s.settled(float64(s.n))
	s.waitRecords(2)
	if got := s.groups(); !reflect.DeepEqual(got, []string{"health health $.timestamp"}) {
		t.Fatalf("before learning: %q", got)
	}
	learn.Store(true)
	testutil.Eventually(t, 30*time.Second, "the timestamp to be learnt as noise", func() bool {
		health(1)
		return s.counter("strangler_shadow_noise_learned_total", map[string]string{"route": "health"}) > 0
	})
	learn.Store(false)
	s.settled(float64(s.n))
	before := s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": "noise"})
	mismatches := s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": "mismatch"})
	all := s.counter("strangler_shadow_comparisons_total", nil)
	health(5)
	s.settled(all + 5)
	if got := s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": "noise"}) - before; got != 5 {
		t.Fatalf("%v noise outcomes after learning, want 5", got)
	}
	if got := s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": "mismatch"}); got != mismatches {
		t.Fatalf("mismatches went on after learning: %v -> %v", mismatches, got)
	}
	rep, err := s.st.Report(context.Background(), shadow.Filter{Since: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Noise) != 1 || rep.Noise[0].Path != "$.timestamp" || rep.Noise[0].Route != "health" {
		t.Fatalf("noise shown: %+v", rep.Noise)
	}
	// The learning copies went to legacy marked as shadow requests.
	s.standin.WaitForRequest(t, 10*time.Second, "a marked copy", func(r testutil.StandinRequest) bool {
		return r.Header(shadow.Header) == "1" && strings.Contains(r.URL, "/api/trpc/health")
	})
}

// TestLargeUploadIsServedAndSkipped: a 100 MB upload in shadow mode is
// served in full and its comparison skipped with the reason counted.
func TestLargeUploadIsServedAndSkipped(t *testing.T) {
	s := startScenario(t, nil, shadow.Options{})
	const size = 100 << 20
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 1<<20)
		_, _ = rand.Read(buf)
		for sent := 0; sent < size; sent += len(buf) {
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", s.front.URL+"/__standin/upload", pr)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"bytes":104857600`) {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	if got := s.counter("strangler_shadow_skipped_total", map[string]string{"route": "upload", "reason": shadow.SkipBodyTooLarge}); got != 1 {
		t.Fatalf("skipped{body_too_large} = %v, want 1", got)
	}
	// Unknown length (chunked): buffered up to the cap, then streamed on.
	pr2, pw2 := io.Pipe()
	go func() {
		buf := make([]byte, 1<<20)
		for sent := 0; sent < 8<<20; sent += len(buf) {
			if _, err := pw2.Write(buf); err != nil {
				return
			}
		}
		pw2.Close()
	}()
	req, _ = http.NewRequest("POST", s.front.URL+"/__standin/upload", pr2)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"bytes":8388608`) {
		t.Fatalf("chunked upload: %d %s", resp.StatusCode, body)
	}
	if got := s.counter("strangler_shadow_skipped_total", map[string]string{"route": "upload", "reason": shadow.SkipBodyTooLarge}); got != 2 {
		t.Fatalf("skipped{body_too_large} = %v, want 2", got)
	}
}
