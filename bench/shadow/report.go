package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// writeReport writes every cell, the medians per scenario over the rounds
// with their ratio to legacy-only, each round's p99 ratio, and the
// sustained-load table.
func writeReport(o runOptions, capRes *result, rate float64, cells, sustained []cell) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Shadow comparison under load (%s)\n\n", time.Now().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "`shadowbench run -rounds %d -duration %s` on %d CPUs (proxies on core %s; upstreams and load generator on core %s).\n\n",
		o.rounds, o.duration, numCPU(), o.proxyCores, o.otherCores)
	fmt.Fprintf(&b, "Legacy-only capacity: %.0f req/s (closed loop, %d connections, median of three %s runs). Open-loop rate: %.0f req/s.\n\n",
		capRes.rps(), o.conns, o.calib, rate)
	b.WriteString("## Open loop at a fixed rate, interleaved rounds\n\n")
	writeMedians(&b, cells)
	b.WriteString("\nEvery cell (latency from the moment each request was due):\n\n")
	writeCells(&b, cells, true)
	b.WriteString("\n## Sustained load (closed loop), legacy-only and shadow with a new side answering in 20 ms\n\n")
	writeMedians(&b, sustained)
	b.WriteString("\n")
	writeCells(&b, sustained, false)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.out, "shadow-"+time.Now().Format("2006-01-02T1504")+".md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("\n%s\nreport: %s\n", b.String(), path)
	return nil
}

// writeMedians writes one line per scenario: medians over the rounds, and
// the ratio of each median to legacy-only's.
func writeMedians(b *strings.Builder, cells []cell) {
	by := map[string][]cell{}
	var names []string
	for _, c := range cells {
		if _, ok := by[c.Scenario]; !ok {
			names = append(names, c.Scenario)
		}
		by[c.Scenario] = append(by[c.Scenario], c)
	}
	sort.Strings(names)
	med := func(cs []cell, f func(cell) float64) float64 {
		v := make([]float64, len(cs))
		for i, c := range cs {
			v[i] = f(c)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	p99 := func(c cell) float64 { return float64(c.P99) }
	cpu := func(c cell) float64 { return float64(c.CPUPerReq) }
	rps := func(c cell) float64 { return c.RPS }
	base := by["legacy-only"]
	b.WriteString("| scenario (median of rounds) | req/s | p50 | p99 | p99.9 | p99 ÷ legacy-only | rounds with p99 within 25% of legacy-only | proxy CPU/req | CPU ÷ legacy-only | compared | max goroutines | max RSS MiB | max queued | max in-flight MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range names {
		cs := by[n]
		ratio, cpuRatio := "-", "-"
		if len(base) > 0 {
			ratio = fmt.Sprintf("%.2f", med(cs, p99)/med(base, p99))
			cpuRatio = fmt.Sprintf("%.2f", med(cs, cpu)/med(base, cpu))
		}
		maxG, maxRSS, maxQ, maxIn := 0, int64(0), 0.0, 0.0
		for _, c := range cs {
			maxG, maxRSS = max(maxG, c.MaxGoroutines), max(maxRSS, c.MaxRSS)
			maxQ, maxIn = max(maxQ, c.MaxQueue), max(maxIn, c.MaxInflight)
		}
		fmt.Fprintf(b, "| %s | %.0f | %v | %v | %v | %s | %s | %v | %s | %.1f%% | %d | %.1f | %.0f | %.1f |\n", n, med(cs, rps),
			time.Duration(med(cs, func(c cell) float64 { return float64(c.P50) })).Round(time.Microsecond),
			time.Duration(med(cs, p99)).Round(time.Microsecond),
			time.Duration(med(cs, func(c cell) float64 { return float64(c.P999) })).Round(time.Microsecond),
			ratio, within(cs, base), time.Duration(med(cs, cpu)).Round(time.Microsecond), cpuRatio,
			100*med(cs, func(c cell) float64 { return c.coverage() }), maxG, float64(maxRSS)/(1<<20), maxQ, maxIn/(1<<20))
	}
}

// writeCells writes every cell; with perRound, each cell's p99 as a ratio
// to legacy-only in the same round.
func writeCells(b *strings.Builder, cells []cell, perRound bool) {
	base := map[string]time.Duration{}
	for _, c := range cells {
		if c.Scenario == "legacy-only" {
			base[c.Round] = c.P99
		}
	}
	b.WriteString("| round | scenario | load avg | req/s | p50 | p99 | p99.9 | p99 ÷ legacy-only (round) | CPU/req | failed | max goroutines | max heap MiB | max RSS MiB | compared | skipped | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cells {
		ratio := "-"
		if perRound && base[c.Round] > 0 {
			ratio = fmt.Sprintf("%.2f", float64(c.P99)/float64(base[c.Round]))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.0f | %v | %v | %v | %s | %v | %d | %d | %.1f | %.1f | %.1f%% | %s | %.0f |\n",
			c.Round, c.Scenario, c.Load, c.RPS, c.P50.Round(time.Microsecond), c.P99.Round(time.Microsecond),
			c.P999.Round(time.Microsecond), ratio, c.CPUPerReq.Round(time.Microsecond), c.Failed, c.MaxGoroutines,
			float64(c.MaxHeap)/(1<<20), float64(c.MaxRSS)/(1<<20), 100*c.coverage(), skips(c.Skipped), c.Errors)
	}
}

// within counts the rounds in which a scenario's p99 stayed within 25% of
// legacy-only's in the same round: on a shared machine a round that one
// burst of other work hit shows up here as one round, not as the median.
func within(cs, base []cell) string {
	byRound := map[string]time.Duration{}
	for _, c := range base {
		byRound[c.Round] = c.P99
	}
	n, ok := 0, 0
	for _, c := range cs {
		if b, has := byRound[c.Round]; has {
			n++
			if float64(c.P99) <= 1.25*float64(b) {
				ok++
			}
		}
	}
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d", ok, n)
}
