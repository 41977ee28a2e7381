package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// summary is the median of one target's cells in one scenario.
type summary struct {
	RPS, P50, P99, CPU, UpCPU float64 // P50/P99/CPU/UpCPU in microseconds
	RSSMax, HWM               int64
	Rounds                    int
	Errors                    int64 // non-2xx answers and socket errors
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

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// summarize takes the medians per metric; RSS and HWM keep the highest
// value seen, since a memory limit is about the peak.
func summarize(cells []cell, scenario, target string) (summary, bool) {
	var s summary
	var rps, p50, p99, cpu, upc []float64
	for _, c := range cells {
		if c.Scenario != scenario || c.Target != target {
			continue
		}
		s.Rounds++
		rps, p50, p99 = append(rps, c.Wrk.RPS), append(p50, us(c.Wrk.P50)), append(p99, us(c.Wrk.P99))
		cpu = append(cpu, us(c.CPUPerReq()))
		upc = append(upc, c.UpCPU/float64(max(c.Wrk.Requests, 1))*1e6)
		s.RSSMax, s.HWM = max(s.RSSMax, c.RSSMax), max(s.HWM, c.HWM)
		s.Errors += c.Wrk.Non2xx + c.Wrk.SockErrors
	}
	s.RPS, s.P50, s.P99, s.CPU, s.UpCPU = median(rps), median(p50), median(p99), median(cpu), median(upc)
	return s, s.Rounds > 0
}

func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// ratio3 is ratio with the precision a pass/fail verdict near a limit needs.
func ratio3(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3fx", a/b)
}

func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// scenarioTable is one scenario's medians with ratios to the Go reference
// and to nginx. The bare upstream's CPU column is the upstream's own.
func scenarioTable(b *strings.Builder, cells []cell, sc string, names []string) {
	ref, _ := summarize(cells, sc, "refproxy")
	ngx, _ := summarize(cells, sc, "nginx")
	fmt.Fprintf(b, "\n**%s**\n\n", sc)
	b.WriteString("| target | req/s | p50 µs | p99 µs | CPU µs/req | upstream CPU µs/req | RSS peak MB | req/s ÷ ref | CPU ÷ ref | CPU ÷ nginx | p99 ÷ ref |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range names {
		s, ok := summarize(cells, sc, n)
		if !ok {
			continue
		}
		cpuRef, cpuNgx := ratio(s.CPU, ref.CPU), ratio(s.CPU, ngx.CPU)
		if n == "upstream" {
			cpuRef, cpuNgx = "—", "—"
		}
		errs := ""
		if s.Errors > 0 {
			errs = fmt.Sprintf(" (%d errors)", s.Errors)
		}
		fmt.Fprintf(b, "| %s%s | %.0f | %.0f | %.0f | %.1f | %.1f | %s | %s | %s | %s | %s |\n",
			n, errs, s.RPS, s.P50, s.P99, s.CPU, s.UpCPU, mb(s.RSSMax),
			ratio(s.RPS, ref.RPS), cpuRef, cpuNgx, ratio(s.P99, ref.P99))
	}
}

// goal is one of the targets and whether it held.
type goal struct {
	name, measured string
	held, ok       bool
}

// goals checks the targets on the 1 KiB GET medians.
func goals(cells []cell) []goal {
	const sc = "GET 1 KiB"
	st, ok1 := summarize(cells, sc, "strangler")
	ref, ok2 := summarize(cells, sc, "refproxy")
	ngx, ok3 := summarize(cells, sc, "nginx")
	cdy, ok4 := summarize(cells, sc, "caddy")
	// The targets are all on the 1 KiB GET; memory over every
	// scenario is shown beside it.
	var peakAll, hwmAll int64
	for _, c := range cells {
		if c.Target == "strangler" {
			peakAll, hwmAll = max(peakAll, c.RSSMax), max(hwmAll, c.HWM)
		}
	}
	return []goal{
		{"CPU per request ≤ 1.25x the Go reference's", fmt.Sprintf("%.1f vs %.1f µs = %s", st.CPU, ref.CPU, ratio3(st.CPU, ref.CPU)), st.CPU <= 1.25*ref.CPU, ok1 && ok2},
		{"stretch: CPU per request ≤ 3x nginx's", fmt.Sprintf("%.1f vs %.1f µs = %s", st.CPU, ngx.CPU, ratio3(st.CPU, ngx.CPU)), st.CPU <= 3*ngx.CPU, ok1 && ok3},
		{"requests/s ≥ tuned Caddy's", fmt.Sprintf("%.0f vs %.0f = %s", st.RPS, cdy.RPS, ratio3(st.RPS, cdy.RPS)), st.RPS >= cdy.RPS, ok1 && ok4},
		{"p99 ≤ 1.25x the Go reference's", fmt.Sprintf("%.0f vs %.0f µs = %s", st.P99, ref.P99, ratio3(st.P99, ref.P99)), st.P99 <= 1.25*ref.P99, ok1 && ok2},
		{"RSS < 40 MB at 64 connections (peak VmRSS sampled during the 1 KiB GET)", fmt.Sprintf("%s MB (all scenarios: peak VmRSS %s MB, VmHWM %s MB)", mb(st.RSSMax), mb(peakAll), mb(hwmAll)), st.RSSMax < 40<<20, ok1},
	}
}

func goalTable(b *strings.Builder, cells []cell) {
	b.WriteString("\n**Targets of issue 2 for strangler, 1 KiB GET, medians**\n\n| target | measured | held |\n|---|---|---|\n")
	for _, g := range goals(cells) {
		verdict := "no"
		switch {
		case !g.ok:
			verdict = "not measured"
		case g.held:
			verdict = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", g.name, g.measured, verdict)
	}
}

// perRoundRatios shows the strangler ÷ reference CPU ratio of each round,
// which says how steady the median is, and the median of those ratios.
func perRoundRatios(b *strings.Builder, cells []cell, m *meta) {
	fmt.Fprintf(b, "\nstrangler ÷ refproxy CPU per request, per round (%s):", strings.Join(m.Scenarios, " / "))
	perScenario := make([][]float64, len(m.Scenarios))
	for r := 1; r <= m.Rounds; r++ {
		var parts []string
		for i, sc := range m.Scenarios {
			st, ref := roundCPU(cells, r, sc, "strangler"), roundCPU(cells, r, sc, "refproxy")
			if ref > 0 {
				perScenario[i] = append(perScenario[i], st/ref)
			}
			parts = append(parts, ratio(st, ref))
		}
		fmt.Fprintf(b, " round %d: %s;", r, strings.Join(parts, " / "))
	}
	var meds []string
	for _, v := range perScenario {
		meds = append(meds, fmt.Sprintf("%.3fx", median(v)))
	}
	fmt.Fprintf(b, " median of the per-round ratios: %s.\n", strings.Join(meds, " / "))
}

// roundCPU is a target's CPU µs per request in one round's cell.
func roundCPU(cells []cell, round int, scenario, target string) float64 {
	for _, c := range cells {
		if c.Round == round && c.Scenario == scenario && c.Target == target {
			return us(c.CPUPerReq())
		}
	}
	return 0
}

// summaryBlock is the part shared by the report and the README.
func summaryBlock(m *meta, cells []cell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s (%s, commit %s), %d interleaved rounds, %d connections, wrk -t%d, %s per cell after a %s warm-up; proxies on core %s, wrk and the upstream on core %s. Load average before: %s; after: %s.\n",
		m.Start.Format("2006-01-02 15:04"), m.End.Sub(m.Start).Round(time.Second), m.Commit, m.Rounds, m.Conns, m.Threads,
		m.Duration, m.Warmup, m.ProxyCores, m.LoadCores, m.LoadBefore, m.LoadAfter)
	for _, sc := range m.Scenarios {
		scenarioTable(&b, cells, sc, m.Targets)
	}
	goalTable(&b, cells)
	perRoundRatios(&b, cells, m)
	if len(m.Restarts) > 0 {
		fmt.Fprintf(&b, "\nRestarts during the run: %s.\n", strings.Join(m.Restarts, "; "))
	}
	return b.String()
}

// cellTable lists every measured cell.
func cellTable(b *strings.Builder, cells []cell) {
	b.WriteString("\n## Every cell\n\n| round | scenario | target | req/s | p50 µs | p99 µs | CPU µs/req | upstream CPU µs/req | RSS MB | VmHWM MB | non-2xx | socket errors | access log lines / requests |\n")
	b.WriteString("|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, c := range cells {
		logs := ""
		if c.LogLines >= 0 {
			logs = fmt.Sprintf("%d / %d", c.LogLines, c.Wrk.Requests)
		}
		fmt.Fprintf(b, "| %d | %s | %s | %.0f | %.0f | %.0f | %.1f | %.1f | %s | %s | %d | %d | %s |\n",
			c.Round, c.Scenario, c.Target, c.Wrk.RPS, us(c.Wrk.P50), us(c.Wrk.P99), us(c.CPUPerReq()),
			c.UpCPU/float64(max(c.Wrk.Requests, 1))*1e6, mb(c.RSSMax), mb(c.HWM), c.Wrk.Non2xx, c.Wrk.SockErrors, logs)
	}
}

// README markers around the generated block.
const (
	readmeBegin = "<!-- passthrough-results:begin -->"
	readmeEnd   = "<!-- passthrough-results:end -->"
)

// writeReports writes results/passthrough-<stamp>.md and replaces the
// README's results block.
func writeReports(o options, m *meta, cells []cell) error {
	stamp := m.Start.Format("2006-01-02T1504")
	block := summaryBlock(m, cells)
	var b strings.Builder
	fmt.Fprintf(&b, "# Passthrough benchmark, %s\n\nGenerated by `bench/passthrough.sh`; method in `bench/README.md`. Versions: %s; kernel %s.\n\n",
		m.Start.Format("2006-01-02 15:04"), strings.Join(m.Versions, "; "), m.Kernel)
	b.WriteString(block)
	cellTable(&b, cells)
	report := filepath.Join(o.resultsDir, "passthrough-"+stamp+".md")
	if err := os.WriteFile(report, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", report)
	if o.readme == "" {
		return nil
	}
	link := fmt.Sprintf("\nFull report with every cell: [%s](results/%s).\n", filepath.Base(report), filepath.Base(report))
	return replaceBlock(o.readme, block+link)
}

// replaceBlock puts text between the README's markers, appending the
// markers when they are missing.
func replaceBlock(path, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		s = strings.TrimRight(s, "\n") + "\n\n" + readmeBegin + "\n" + readmeEnd + "\n"
		i, j = strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	}
	s = s[:i+len(readmeBegin)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
