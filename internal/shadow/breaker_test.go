package shadow

import (
	"testing"
	"time"
)

// TestBreakerProbesOneAtATimeAndBacksOff: n failures open the breaker for
// the pause; failures of calls made before it opened add nothing; after
// the pause one probe at a time may call the secondary, and each failed
// probe opens it for twice as long, up to 32 times the pause; a successful
// probe closes it.
func TestBreakerProbesOneAtATimeAndBacksOff(t *testing.T) {
	var b breaker
	now := time.Unix(1000, 0)
	const n, pause = 3, time.Second
	pausedFor := func() time.Duration { return time.Duration(b.openUntil.Load() - now.UnixNano()) }
	for range n {
		if probe, ok := b.allow(now); !ok || probe {
			t.Fatalf("closed breaker: allow = %v, %v", probe, ok)
		}
		b.failure(now, false, n, pause)
	}
	if got := pausedFor(); got != pause {
		t.Fatalf("after %d failures paused %s, want %s", n, got, pause)
	}
	for range 2 * n {
		b.failure(now, false, n, pause) // calls under way when it opened
	}
	if got := pausedFor(); got != pause {
		t.Fatalf("failures while open moved the pause to %s", got)
	}
	if _, ok := b.allow(now); ok || !b.open(now) {
		t.Fatal("a call allowed during the pause")
	}
	for i, want := range []time.Duration{2, 4, 8, 16, 32, 32} {
		now = now.Add(pausedFor())
		probe, ok := b.allow(now)
		if !ok || !probe {
			t.Fatalf("after pause %d: allow = %v, %v, want the probe", i+1, probe, ok)
		}
		if _, ok := b.allow(now); ok || !b.open(now) {
			t.Fatal("a second call allowed while the probe is under way")
		}
		b.failure(now, true, n, pause)
		if got := pausedFor(); got != want*time.Second {
			t.Fatalf("failed probe %d: paused %s, want %s", i+1, got, want*time.Second)
		}
	}
	now = now.Add(pausedFor())
	probe, _ := b.allow(now)
	b.success(probe)
	if probe, ok := b.allow(now); !ok || probe || b.open(now) {
		t.Fatalf("after a successful probe: allow = %v, %v; want closed", probe, ok)
	}
	for range n {
		b.failure(now, false, n, pause)
	}
	if got := pausedFor(); got != pause {
		t.Fatalf("after closing, the next opening pauses %s, want %s", got, pause)
	}
}
