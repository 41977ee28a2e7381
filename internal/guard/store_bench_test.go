package guard

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkWindows measures one evaluation's read: 50 routes, each with a
// new and a legacy side on three replicas, 30 seconds of counts (9,000
// rows), summed into 100 (route, side) rows with their histograms.
func BenchmarkWindows(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	now := e.clock.Now().Unix()
	var bs []bounds
	for r := range 50 {
		route := fmt.Sprintf("route.%d", r)
		bs = append(bs, bounds{route: route, since: now - 29, until: now})
		for _, rep := range []string{"a", "b", "c"} {
			var samples []sample
			for sec := now - 29; sec <= now; sec++ {
				for _, k := range []kind{kindLegacy, kindNew} {
					c := counts{requests: 10, failures: 1}
					c.hist[bucketOf(3*time.Millisecond)] = 10
					samples = append(samples, sample{key: cellKey{route: route, procedure: route, kind: k}, sec: sec, c: c})
				}
			}
			if err := (&pgStore{pool: e.pool}).addSamples(ctx, rep, samples); err != nil {
				b.Fatal(err)
			}
		}
	}
	st := &pgStore{pool: e.pool}
	b.ResetTimer()
	for b.Loop() {
		wins, err := st.windows(ctx, bs)
		if err != nil || wins["route.7"].new["route.7"].requests != 900 {
			b.Fatalf("%v %+v", err, wins["route.7"])
		}
	}
}

// BenchmarkFlush measures one replica's flush of 50 routes' counts of one
// second, both sides.
func BenchmarkFlush(b *testing.B) {
	e := newEnv(b)
	g := e.guardOn("a", e.replica(), nil)
	b.ResetTimer()
	for b.Loop() {
		for r := range 50 {
			route := fmt.Sprintf("route.%d", r)
			g.Observe(route, route, SideNew, OutcomeOK, time.Millisecond)
			g.Observe(route, route, SideLegacy, OutcomeOK, time.Millisecond)
		}
		if err := g.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
