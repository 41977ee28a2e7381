package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// summary is one scenario against one target over the rounds: medians of
// each round's figures, the peak of the memory samples.
type summary struct {
	rps, p50, p99, cpu float64 // req/s; ms; ms; µs per request
	dbCPU              float64 // µs per request in its PostgreSQL backends
	maxRSS, hwm        int64
	anonAtPeak         int64 // RssAnon of the peak sample
	failed             int64
	bytes              int64
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(cells []cell, scenario, target string) summary {
	var rps, p50, p99, cpu, db []float64
	var s summary
	for _, c := range cells {
		if c.scenario != scenario || c.target != target {
			continue
		}
		rps = append(rps, c.res.rps())
		p50 = append(p50, float64(c.res.pct(0.5))/float64(time.Millisecond))
		p99 = append(p99, float64(c.res.pct(0.99))/float64(time.Millisecond))
		cpu = append(cpu, float64(c.cpuPerReq)/float64(time.Microsecond))
		db = append(db, float64(c.dbCPUPerReq)/float64(time.Microsecond))
		if c.maxRSS > s.maxRSS {
			s.maxRSS, s.anonAtPeak = c.maxRSS, c.anonAtPeak
		}
		s.hwm = max(s.hwm, c.hwm)
		s.failed += c.res.failed
		s.bytes = max(s.bytes, c.res.bytes)
	}
	s.rps, s.p50, s.p99, s.cpu, s.dbCPU = median(rps), median(p50), median(p99), median(cpu), median(db)
	return s
}

// The legacy app's figures measured on these machines (issue 4).
var realApp = map[string]float64{"getAll": 90, "create": 460, "health": 1100}

const realAppRSS = 135 << 20

// goal is one of issue 4's targets.
type goal struct {
	what, need string
	held       bool
	got        string
}

func goals(o options, cells []cell, goName string) []goal {
	g := func(sc string) summary { return summarize(cells, sc, goName) }
	var peaks []float64
	worst := cell{}
	for _, c := range cells {
		if c.target == goName {
			peaks = append(peaks, mb(c.maxRSS))
			if c.maxRSS > worst.maxRSS {
				worst = c
			}
		}
	}
	open := g(fmt.Sprintf("getAll at %g/s", o.getAllRate))
	return []goal{
		{"create", "≥ 2,300 req/s (5× the real app)", g("create").rps >= 2300, fmt.Sprintf("%.0f req/s", g("create").rps)},
		{"updateStatus", "≥ 2,300 req/s", g("updateStatus").rps >= 2300, fmt.Sprintf("%.0f req/s", g("updateStatus").rps)},
		{"getAll, 1,000 samples, fresh", "≥ 270 req/s (3× the real app)", g("getAll").rps >= 270, fmt.Sprintf("%.0f req/s", g("getAll").rps)},
		{fmt.Sprintf("getAll at %g req/s (open loop)", o.getAllRate), "p99 < 200 ms, no failures",
			open.p99 < 200 && open.failed == 0 && open.rps >= 0.97*o.getAllRate,
			fmt.Sprintf("p99 %.1f ms, %.0f req/s answered, %d failed", open.p99, open.rps, open.failed)},
		{"RSS under load", "≤ 27 MB (a fifth of the real app) in every cell", worst.maxRSS <= 27<<20,
			fmt.Sprintf("peak VmRSS per cell: median %.1f MB, worst %.1f MB = %.1f MB anonymous + %.1f MB of mapped files (%s, round %d, load %.1f)",
				median(peaks), mb(worst.maxRSS), mb(worst.anonAtPeak), mb(worst.maxRSS-worst.anonAtPeak), worst.scenario, worst.round, worst.load1Start)},
	}
}

// report renders the results block of the README.
func report(o options, b *bench, cells []cell, started time.Time) string {
	var gos []string
	legacyName := ""
	for _, t := range b.targets {
		if t.goSide {
			gos = append(gos, t.name)
		} else {
			legacyName = t.name
		}
	}
	var w strings.Builder
	lo, hi := 1e9, 0.0
	for _, c := range cells {
		lo, hi = min(lo, c.load1Start, c.load1E), max(hi, c.load1Start, c.load1E)
	}
	fmt.Fprintf(&w, "Run of %s (%s, %s): %d rounds, %s measured per cell after %s of warm-up, %d connections "+
		"(closed loop), servers on core %s, load generator on core %s, PostgreSQL 15 shared and unpinned. "+
		"1-minute load average during the run: %.1f to %.1f on 2 cores.\n\n",
		started.Format("2006-01-02 15:04"), runtime.Version(), time.Since(started).Round(time.Second), o.rounds,
		o.duration, o.warmup, o.conns, o.serverCores, o.loadCores, lo, hi)
	goalTable(&w, o, cells, gos)
	fmt.Fprintf(&w, "\n### Side by side (medians over the rounds; RSS: peak of the samples)\n\n")
	fmt.Fprintf(&w, "| scenario | target | req/s | p50 | p99 | peak RSS (anonymous) | server CPU/request | its PostgreSQL CPU/request | 1-core ceiling | failed | answer |\n")
	fmt.Fprintf(&w, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range selected(o) {
		for _, t := range append(gos, legacyName) {
			s := summarize(cells, sc.name, t)
			fmt.Fprintf(&w, "| %s | %s | %.0f | %.1f ms | %.1f ms | %.1f MB (%.1f) | %.0f µs | %.0f µs | %.0f req/s | %d | %s |\n",
				sc.name, t, s.rps, s.p50, s.p99, mb(s.maxRSS), mb(s.anonAtPeak), s.cpu, s.dbCPU, 1e6/s.cpu, s.failed, size(s.bytes))
		}
	}
	fmt.Fprintf(&w, "\n1-core ceiling: one second divided by the server's own CPU time per request, what the server "+
		"process could answer with core 0 to itself (PostgreSQL and the load generator elsewhere).\n")
	for _, g := range gos {
		ratios(&w, o, cells, g, legacyName)
	}
	cellTable(&w, cells)
	return w.String()
}

// goalTable says, for each Go target, which of issue 4's targets held.
func goalTable(w *strings.Builder, o options, cells []cell, gos []string) {
	fmt.Fprintf(w, "### Targets\n\n| target | needed |")
	for _, g := range gos {
		fmt.Fprintf(w, " %s | held |", g)
	}
	fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---|---|", len(gos)))
	rows := make([][]goal, len(gos))
	for i, g := range gos {
		rows[i] = goals(o, cells, g)
	}
	for j := range rows[0] {
		fmt.Fprintf(w, "| %s | %s |", rows[0][j].what, rows[0][j].need)
		for i := range gos {
			held := "**no**"
			if rows[i][j].held {
				held = "yes"
			}
			fmt.Fprintf(w, " %s | %s |", rows[i][j].got, held)
		}
		fmt.Fprintln(w)
	}
}

// ratios compares one Go target with the stand-in and with the real app.
func ratios(w *strings.Builder, o options, cells []cell, goName, legacyName string) {
	fmt.Fprintf(w, "\n### Ratios: %s against the %s\n\n", goName, legacyName)
	fmt.Fprintf(w, "| scenario | req/s Go ÷ stand-in | p99 stand-in ÷ Go | server CPU/request stand-in ÷ Go | server+PostgreSQL CPU/request stand-in ÷ Go | req/s Go ÷ real app |\n|---|---|---|---|---|---|\n")
	for _, sc := range selected(o) {
		g, l := summarize(cells, sc.name, goName), summarize(cells, sc.name, legacyName)
		real := "–"
		if r, ok := realApp[sc.name]; ok {
			real = fmt.Sprintf("%.1f×", g.rps/r)
		}
		fmt.Fprintf(w, "| %s | %.1f× | %.1f× | %.1f× | %.1f× | %s |\n", sc.name, g.rps/l.rps, l.p99/g.p99, l.cpu/g.cpu,
			(l.cpu+l.dbCPU)/(g.cpu+g.dbCPU), real)
	}
	var gPeak, lPeak int64
	for _, c := range cells {
		switch c.target {
		case goName:
			gPeak = max(gPeak, c.maxRSS)
		case legacyName:
			lPeak = max(lPeak, c.maxRSS)
		}
	}
	fmt.Fprintf(w, "\nPeak RSS over the whole run: %s %.1f MB, %s %.1f MB (stand-in ÷ Go %.1f×), real app about %.0f MB "+
		"(real app ÷ Go %.1f×).\n", goName, mb(gPeak), legacyName, mb(lPeak), float64(lPeak)/float64(gPeak), mb(realAppRSS),
		float64(realAppRSS)/float64(gPeak))
}

// cellTable lists every cell of the run.
func cellTable(w *strings.Builder, cells []cell) {
	fmt.Fprintf(w, "\n### Every cell\n\n| round | scenario | target | req/s | p50 | p99 | peak RSS (anonymous) | server CPU/req | PostgreSQL CPU/req | failed | load |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cells {
		fmt.Fprintf(w, "| %d | %s | %s | %.0f | %s | %s | %.1f MB (%.1f) | %d µs | %d µs | %d | %.1f |\n", c.round, c.scenario, c.target,
			c.res.rps(), ms(c.res.pct(0.5)), ms(c.res.pct(0.99)), mb(c.maxRSS), mb(c.anonAtPeak), c.cpuPerReq.Microseconds(),
			c.dbCPUPerReq.Microseconds(), c.res.failed, c.load1Start)
	}
}

func size(b int64) string {
	if b >= 1<<10 {
		return fmt.Sprintf("%.0f KiB", float64(b)/1024)
	}
	return fmt.Sprintf("%d B", b)
}

const (
	blockBegin = "<!-- samples-results:begin -->"
	blockEnd   = "<!-- samples-results:end -->"
)

// replaceBlock writes text between the result markers of the README.
func replaceBlock(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, blockBegin), strings.Index(s, blockEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s lacks the markers %s and %s", path, blockBegin, blockEnd)
	}
	s = s[:i+len(blockBegin)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
