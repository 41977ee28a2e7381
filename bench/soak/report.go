package main

import (
	"bufio"
	"context"
	"fmt"
	"image/color"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// sample is one sampling period of the proxy process and of the traffic.
type sample struct {
	at         time.Duration // since the load started
	rss        int64         // VmRSS
	heap       float64       // go_memstats_heap_inuse_bytes
	goroutines float64       // go_goroutines
	traffic    interval
	inFlight   int64
}

// sampleEvery samples until ctx ends.
func (r *rig) sampleEvery(ctx context.Context, every time.Duration, l *load) []sample {
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var out []sample
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		m := r.gauges("go_goroutines", "go_memstats_heap_inuse_bytes")
		out = append(out, sample{at: time.Since(start), rss: procRSS(r.proxy.pid()), heap: m[1], goroutines: m[0],
			traffic: l.tally.take(), inFlight: l.inFlight.Load()})
	}
}

// gauges reads unlabelled gauges from the proxy's /metrics.
func (r *rig) gauges(names ...string) []float64 {
	out := make([]float64, len(names))
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		for i, n := range names {
			if v, ok := strings.CutPrefix(sc.Text(), n+" "); ok {
				out[i], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}

// report is the run's outcome.
type report struct {
	opts    options
	elapsed time.Duration
	tally   *tally
	samples []sample
	drift   driftResult
	metrics []string
}

func (rep report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := rep.plot(filepath.Join(dir, "memory.png"), "strangler memory", "MiB",
		series{"RSS", func(s sample) float64 { return float64(s.rss) / (1 << 20) }},
		series{"Go heap in use", func(s sample) float64 { return s.heap / (1 << 20) }}); err != nil {
		return err
	}
	if err := rep.plot(filepath.Join(dir, "goroutines.png"), "strangler goroutines", "goroutines",
		series{"goroutines", func(s sample) float64 { return s.goroutines }}); err != nil {
		return err
	}
	text := rep.markdown()
	fmt.Print(text)
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(text), 0o644)
}

type series struct {
	name string
	y    func(sample) float64
}

func (rep report) plot(path, title, unit string, ss ...series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "minutes under load"
	p.Y.Label.Text = unit
	p.Y.Min = 0
	colors := []color.Color{color.RGBA{R: 37, G: 99, B: 235, A: 255}, color.RGBA{R: 234, G: 88, B: 12, A: 255}}
	for i, s := range ss {
		pts := make(plotter.XYs, len(rep.samples))
		for j, smp := range rep.samples {
			pts[j] = plotter.XY{X: smp.at.Minutes(), Y: s.y(smp)}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = colors[i%len(colors)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}

// spread is a series' first, last, lowest and highest value, and the
// change from the mean of its first fifth to the mean of its last fifth.
func spread(ss []sample, y func(sample) float64) (first, last, lo, hi, change float64) {
	if len(ss) == 0 {
		return
	}
	first, last, lo, hi = y(ss[0]), y(ss[len(ss)-1]), y(ss[0]), y(ss[0])
	for _, s := range ss {
		lo, hi = min(lo, y(s)), max(hi, y(s))
	}
	n := max(1, len(ss)/5)
	var a, b float64
	for i := 0; i < n; i++ {
		a += y(ss[i])
		b += y(ss[len(ss)-1-i])
	}
	if a != 0 {
		change = (b - a) / a * 100
	}
	return
}

func (rep report) markdown() string {
	var b strings.Builder
	commit, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	fmt.Fprintf(&b, "## Soak run %s (commit %s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(string(commit)))
	fmt.Fprintf(&b, "%d requests/s open loop for %s, table held at %d samples; samples routes in shadow, write group in shadow (dual writes); sampled every %s.\n\n",
		rep.opts.rate, rep.elapsed.Round(time.Second), rep.opts.rows, rep.opts.every)
	t := rep.tally
	var sent, errs int64
	b.WriteString("| request | sent | user errors |\n|---|---|---|\n")
	for k := range numKinds {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", kindNames[k], t.total[k], t.totalErrs[k])
		sent += t.total[k]
		errs += t.totalErrs[k]
	}
	fmt.Fprintf(&b, "| **all** | **%d** (%.1f/s) | **%d** |\n\nNot sent (more than %d in flight): %d.\n\n",
		sent, float64(sent)/rep.elapsed.Seconds(), errs, maxInFlight, t.skipped)
	b.WriteString("| proxy | first | last | min | max | last fifth vs first fifth |\n|---|---|---|---|---|---|\n")
	for _, s := range []series{
		{"RSS (MiB)", func(s sample) float64 { return float64(s.rss) / (1 << 20) }},
		{"Go heap in use (MiB)", func(s sample) float64 { return s.heap / (1 << 20) }},
		{"goroutines", func(s sample) float64 { return s.goroutines }},
		{"latency p50 (ms)", func(s sample) float64 { return float64(s.traffic.p50.Microseconds()) / 1000 }},
		{"latency p99 (ms)", func(s sample) float64 { return float64(s.traffic.p99.Microseconds()) / 1000 }},
		{"requests/s", func(s sample) float64 { return float64(s.traffic.sent) / rep.opts.every.Seconds() }},
	} {
		f, l, lo, hi, ch := spread(rep.samples, s.y)
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.1f | %+.1f%% |\n", s.name, f, l, lo, hi, ch)
	}
	d := rep.drift
	fmt.Fprintf(&b, "\nDrift (`strangler reconcile samples --json`): %d drifting samples right after the load, %d after %s",
		d.firstTotal, d.total, d.waited.Round(time.Second))
	if d.err != nil {
		fmt.Fprintf(&b, " (error: %v)", d.err)
	}
	b.WriteString(".\n\n![memory](memory.png)\n![goroutines](goroutines.png)\n\nProxy counters at the end:\n\n```\n")
	b.WriteString(strings.Join(rep.metrics, "\n"))
	b.WriteString("\n```\n")
	if len(t.examples) > 0 {
		b.WriteString("\nFirst user errors:\n\n```\n" + strings.Join(t.examples, "\n") + "\n```\n")
	}
	if d.total > 0 {
		b.WriteString("\nLast reconcile report:\n\n```\n" + d.last + "\n```\n")
	}
	return b.String()
}
