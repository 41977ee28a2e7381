// Command dualwrite measures the dual writes of issue 6:
//
//   - write: the latency users see for sample writes through the proxy
//     with the samples write group in legacy mode and no dual write (what
//     they get today), in shadow (intent stored before legacy, replay on
//     the new service, comparison, converge), and in legacy mode with the
//     default converge, under open-loop load at a fixed rate, cells
//     interleaved over several rounds;
//   - backfill: rows per second of `strangler backfill` over N legacy
//     samples (legacy and service schema in two databases), and of
//     reconcile over the result.
//
// Usage (PostgreSQL server binaries for a private cluster, Node for the
// legacy stand-in; as root the bench raises its priority with -nice):
//
//	go run ./bench/dualwrite [-rate 50] [-cell 20s] [-rounds 3] [-backfill 100000] [-out FILE] [-pg URL] [-nice -10]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nanopore/strangler/internal/pgcluster"
)

func main() {
	rate := flag.Float64("rate", 50, "writes per second (open loop)")
	cellDur := flag.Duration("cell", 20*time.Second, "duration of one cell")
	rounds := flag.Int("rounds", 3, "rounds (each runs every cell, in rotated order)")
	backfillN := flag.Int("backfill", 100000, "legacy samples to backfill (0: skip)")
	out := flag.String("out", "", "also write the report to this file")
	admin := flag.String("pg", "", "maintenance database URL of a server to use (default: a private cluster of the bench's own)")
	nice := flag.Int("nice", -10, "scheduling priority of the bench and what it starts (root only; 0: leave it)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *nice != 0 && os.Geteuid() == 0 {
		// Inherited by the cluster and the stand-in: the machine's other
		// work then lands less in the numbers.
		if err := syscall.Setpriority(syscall.PRIO_PGRP, 0, *nice); err != nil {
			fmt.Fprintln(os.Stderr, "setpriority:", err)
		}
	}
	if *admin == "" {
		// A private cluster, so that other work on the machine's shared
		// server does not land in the numbers; durable, as a real one is.
		c, err := pgcluster.Start(pgcluster.Options{Prefix: "bench-dualwrite-pg-", Durable: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "private cluster:", err)
			os.Exit(1)
		}
		defer c.Remove()
		*admin = c.URL("postgres")
	}
	var report strings.Builder
	w := io.MultiWriter(os.Stdout, &report)
	fmt.Fprintf(w, "# Dual-write bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if err := runWrite(ctx, w, *admin, *rate, *cellDur, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "write bench:", err)
		os.Exit(1)
	}
	if *backfillN > 0 {
		if err := runBackfill(ctx, w, *admin, *backfillN); err != nil {
			fmt.Fprintln(os.Stderr, "backfill bench:", err)
			os.Exit(1)
		}
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// sample is one cell's measurements.
type sample struct {
	cell      string
	round     int
	lat       []time.Duration
	hot       []time.Duration // Begin + Done of each write
	errors    int
	settle    time.Duration
	converges uint64
}

func runWrite(ctx context.Context, w io.Writer, admin string, rate float64, cellDur time.Duration, rounds int) error {
	db, err := createDB(ctx, admin, "bench_dualwrite")
	if err != nil {
		return err
	}
	defer db.drop()
	st, err := startStandin(db.URL)
	if err != nil {
		return err
	}
	defer st.stop()
	b, done, err := newWriteBench(ctx, db.URL, st.URL)
	if err != nil {
		return err
	}
	defer done()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	cells := []string{cellLegacy, cellShadow, cellConverge}
	if err := b.cell(cellShadow); err != nil {
		return err
	}
	openLoop(ctx, b, client, rate, 5*time.Second, 0) // warm up (not recorded)
	b.settle(ctx)
	var all []sample
	for r := range rounds {
		for k := range cells {
			name := cells[(k+r)%len(cells)] // rotate the order every round
			if err := b.cell(name); err != nil {
				return err
			}
			before, _, _ := b.convergeSeconds()
			b.takeHot()
			s := openLoop(ctx, b, client, rate, cellDur, (r*len(cells)+k+1)*1_000_000)
			s.cell, s.round, s.hot = name, r+1, b.takeHot()
			s.settle = b.settle(ctx)
			after, _, _ := b.convergeSeconds()
			s.converges = after - before
			all = append(all, s)
			fmt.Fprintf(os.Stderr, "round %d %-16s %s\n", r+1, name, summary(s.lat))
		}
	}
	writeReport(w, b, all, rate, cellDur, rounds)
	return ctx.Err()
}

// openLoop sends writes at a fixed rate for d, each due at start + i/rate
// and timed from that moment (a late send counts against it: no
// coordinated omission). seq numbers the writes of this cell.
func openLoop(ctx context.Context, b *writeBench, c *http.Client, rate float64, d time.Duration, seq int) sample {
	var s sample
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; i < int(rate*d.Seconds()) && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		wg.Go(func() {
			_, ok := b.op(c, seq+i)
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				s.errors++
				return
			}
			s.lat = append(s.lat, took)
		})
	}
	wg.Wait()
	return s
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func summary(lat []time.Duration) string {
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s", len(lat), ms(pct(lat, 0.5)), ms(pct(lat, 0.9)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func writeReport(w io.Writer, b *writeBench, all []sample, rate float64, cellDur time.Duration, rounds int) {
	fmt.Fprintf(w, "## Write latency (open loop, %.0f writes/s, %s per cell, %d rounds, cells rotated)\n\n", rate, cellDur, rounds)
	fmt.Fprintln(w, "Mix: 20% create, 20% update volume, 20% updateStatus, 20% assign, 20% update priority (creates first until 50 samples exist); latency from the moment a write was due to the end of its answer.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| round | cell | writes | errors | p50 | p90 | p99 | max | settle after | converges |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	pooled := map[string][]time.Duration{}
	p99s := map[string][]time.Duration{}
	hot := map[string][]time.Duration{}
	for _, s := range all {
		fmt.Fprintf(w, "| %d | %s | %d | %d | %s | %s | %s | %s | %s | %d |\n", s.round, s.cell, len(s.lat), s.errors,
			ms(pct(s.lat, 0.5)), ms(pct(s.lat, 0.9)), ms(pct(s.lat, 0.99)), ms(pct(s.lat, 1)), ms(s.settle), s.converges)
		pooled[s.cell] = append(pooled[s.cell], s.lat...)
		hot[s.cell] = append(hot[s.cell], s.hot...)
		p99s[s.cell] = append(p99s[s.cell], pct(s.lat, 0.99))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| cell | writes | p50 | p99 (pooled) | p99 vs legacy | median of round p99s | vs legacy | dual-write hot path p50 / p99 |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	base, baseMed := pct(pooled[cellLegacy], 0.99), pct(p99s[cellLegacy], 0.5)
	for _, c := range []string{cellLegacy, cellShadow, cellConverge} {
		p99, med := pct(pooled[c], 0.99), pct(p99s[c], 0.5)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %+.1f%% | %s | %+.1f%% | %s / %s |\n", c, len(pooled[c]), ms(pct(pooled[c], 0.5)), ms(p99),
			100*(float64(p99)/float64(base)-1), ms(med), 100*(float64(med)/float64(baseMed)-1), ms(pct(hot[c], 0.5)), ms(pct(hot[c], 0.99)))
	}
	if len(b.errs) > 0 {
		fmt.Fprintln(w, "\nFailed writes:")
		for what, n := range b.errs {
			fmt.Fprintf(w, "- %d x %s\n", n, what)
		}
	}
	n, mean, p99 := b.convergeSeconds()
	fmt.Fprintf(w, "\nConverge lag (legacy's answer to the new store holding its rows), all cells: %d converges, mean %.1f ms, p99 <= %.0f ms (histogram bucket).\n\n",
		n, mean*1000, p99*1000)
}
