package shadow

import (
	"testing"
	"time"
)

// TestBreakerPauseDoublesWhileTheSecondaryKeepsFailing: each opening
// without a success in between pauses twice as long, up to 32 times the
// configured pause; failures of calls made while it was open add nothing;
// a success starts afresh.
func TestBreakerPauseDoublesWhileTheSecondaryKeepsFailing(t *testing.T) {
	var b breaker
	now := time.Unix(1000, 0)
	const n, pause = 3, time.Second
	fail := func(times int) {
		for range times {
			b.failure(now, n, pause)
		}
	}
	for i, want := range []time.Duration{1, 2, 4, 8, 16, 32, 32} {
		fail(n)
		got := time.Duration(b.openUntil.Load() - now.UnixNano())
		if got != want*time.Second {
			t.Fatalf("opening %d: paused %s, want %s", i+1, got, want*time.Second)
		}
		fail(n) // calls already under way when it opened
		if again := time.Duration(b.openUntil.Load() - now.UnixNano()); again != got {
			t.Fatalf("failures while open moved the pause from %s to %s", got, again)
		}
		now = now.Add(got) // the pause is over: comparisons try again
		if b.open(now) {
			t.Fatalf("still open after its pause")
		}
	}
	b.success()
	fail(n)
	if got := time.Duration(b.openUntil.Load() - now.UnixNano()); got != pause {
		t.Fatalf("after a success the pause is %s, want %s", got, pause)
	}
}
