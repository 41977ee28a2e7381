package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// cell is one measured wrk run against one target in one round.
type cell struct {
	Round    int
	Target   string
	Scenario string
	Wrk      wrkResult
	CPU      float64 // the target's own user+sys seconds while wrk ran
	UpCPU    float64 // the upstream's user+sys seconds while wrk ran
	RSSMax   int64   // highest VmRSS sampled while wrk ran
	HWM      int64   // VmHWM after the run
	LogLines int64   // strangler's access log lines for the run, -1 elsewhere
}

// CPUPerReq is the target's own CPU time per request.
func (c cell) CPUPerReq() time.Duration {
	if c.Wrk.Requests == 0 {
		return 0
	}
	return time.Duration(c.CPU / float64(c.Wrk.Requests) * float64(time.Second))
}

// runRounds measures every scenario against every target, round after
// round. The target order rotates each round so that no target always
// follows the same neighbour.
func runRounds(ctx context.Context, o options, s *setup, lives []*live, up *proc, script string) ([]cell, error) {
	var cells []cell
	total := o.rounds * len(o.scenarios) * len(lives)
	for r := 0; r < o.rounds; r++ {
		order := append(append([]*live{}, lives[r%len(lives):]...), lives[:r%len(lives)]...)
		for _, sc := range o.scenarios {
			for _, l := range order {
				id := fmt.Sprintf("r%d-%s-%s", r+1, strings.TrimPrefix(sc.path, "/"), l.name)
				c, err := runCellRetry(ctx, o, s, sc, l, up, script, id)
				if err != nil {
					return cells, err
				}
				c.Round, c.Scenario = r+1, sc.name
				cells = append(cells, c)
				fmt.Fprintf(os.Stderr, "[%d/%d] round %d %-10s %-9s %9.0f req/s p50 %-9v p99 %-9v cpu %v/req rss %.1f MB\n",
					len(cells), total, r+1, sc.name, l.name, c.Wrk.RPS, c.Wrk.P50, c.Wrk.P99,
					c.CPUPerReq().Round(10*time.Nanosecond), float64(c.RSSMax)/(1<<20))
			}
		}
	}
	return cells, nil
}

// runCellRetry runs one cell; when the target died under it (the machine is
// shared), it restarts the target, notes it for the report, and tries once
// more.
func runCellRetry(ctx context.Context, o options, s *setup, sc scenario, l *live, up *proc, script, id string) (cell, error) {
	for attempt := 0; ; attempt++ {
		w := wrkRun{cores: o.loadCores, threads: o.threads, conns: o.conns, url: l.url + sc.path}
		if sc.script != "" {
			w.script = script
		}
		c, err := runCell(ctx, o, w, l, up, s.workDir, id)
		if err == nil || attempt > 0 || l.start == nil || ctx.Err() != nil || !exited(l.p) {
			return c, err
		}
		note := fmt.Sprintf("%s: %s exited during the cell (%v); restarted and measured again", id, l.name, l.p.err)
		fmt.Fprintln(os.Stderr, note)
		s.restarts = append(s.restarts, note)
		p, addr, serr := l.start(ctx, *s)
		if serr != nil {
			return c, fmt.Errorf("%w; restart: %v", err, serr)
		}
		l.p, l.url = p, "http://"+addr
	}
}

func exited(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// runCell warms the target up, then measures one wrk run, reading CPU time
// before and after and sampling memory while it runs.
func runCell(ctx context.Context, o options, w wrkRun, l *live, up *proc, rawDir, id string) (cell, error) {
	c := cell{Target: l.name, LogLines: -1}
	if o.warmup > 0 {
		warm := w
		warm.duration = o.warmup
		if _, err := warm.run(ctx, ""); err != nil {
			return c, fmt.Errorf("warm-up: %w", err)
		}
	}
	accessLog := filepath.Join(rawDir, l.name+".out")
	if l.logs {
		if err := os.Truncate(accessLog, 0); err != nil {
			return c, err
		}
	}
	cpu0, err1 := l.p.cpuSeconds()
	up0, err2 := up.cpuSeconds()
	stop := sampleRSS(l.p, &c.RSSMax)
	w.duration = o.duration
	res, err := w.run(ctx, filepath.Join(rawDir, "wrk-"+id+".txt"))
	stop()
	cpu1, err3 := l.p.cpuSeconds()
	up1, err4 := up.cpuSeconds()
	for _, e := range []error{err, err1, err2, err3, err4} {
		if e != nil {
			return c, fmt.Errorf("%s %s: %w", l.name, w.url, e)
		}
	}
	c.Wrk, c.CPU, c.UpCPU = res, cpu1-cpu0, up1-up0
	_, c.HWM, _ = l.p.memory()
	if l.logs {
		if c.LogLines, err = countLines(accessLog, []byte(`"message":"request"`)); err != nil {
			return c, err
		}
	}
	return c, nil
}

// sampleRSS records the highest VmRSS of p every 250 ms until stopped.
func sampleRSS(p *proc, max *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := p.memory(); err == nil && rss > *max {
				*max = rss
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// countLines counts the lines of path that contain needle.
func countLines(path string, needle []byte) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), needle) {
			n++
		}
	}
	return n, sc.Err()
}

// verify checks that a target answers every scenario with the upstream's
// bytes before any number is taken.
func verify(ctx context.Context, name, base string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	checks := []struct {
		method, path string
		body         string
		size         int
	}{
		{http.MethodGet, "/1k", "", 1 << 10},
		{http.MethodGet, "/64k", "", 64 << 10},
		{http.MethodPost, "/echo1k", `{"data":"` + strings.Repeat("x", 1024-11) + `"}`, 1 << 10},
	}
	for _, ch := range checks {
		req, _ := http.NewRequestWithContext(ctx, ch.method, base+ch.path, strings.NewReader(ch.body))
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("verify %s %s: %w", name, ch.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(b) != ch.size {
			return fmt.Errorf("verify %s %s %s: status %d, %d bytes (want 200, %d): %v",
				name, ch.method, ch.path, resp.StatusCode, len(b), ch.size, err)
		}
	}
	return nil
}

// meta describes the run's conditions for the report. It is saved with the
// cells (raw/<date>/cells.json) so that -from can rewrite the report.
type meta struct {
	Start, End            time.Time
	LoadBefore, LoadAfter string
	Kernel, Commit        string
	Versions              []string
	Rounds, Conns         int
	Threads               int
	Duration, Warmup      time.Duration
	ProxyCores, LoadCores string
	Scenarios             []string // names, in run order
	Targets               []string // names, in base order
	Restarts              []string // targets that died mid-run
}

func collectMeta(o options, start time.Time) *meta {
	m := &meta{Start: start, LoadBefore: readTrim("/proc/loadavg"), Kernel: readTrim("/proc/sys/kernel/osrelease"),
		Rounds: o.rounds, Conns: o.conns, Threads: o.threads, Duration: o.duration, Warmup: o.warmup,
		ProxyCores: o.proxyCores, LoadCores: o.loadCores}
	for _, sc := range o.scenarios {
		m.Scenarios = append(m.Scenarios, sc.name)
	}
	m.Commit = cmdLine("git", "describe", "--always", "--dirty")
	m.Versions = []string{
		"go " + strings.TrimPrefix(runtime.Version(), "go"),
		cmdLine("nginx", "-v"),
		"caddy " + cmdLine("caddy", "version"),
		cmdLine("wrk", "-v"),
	}
	return m
}

func (m *meta) finish(s *setup, lives []*live) {
	m.End, m.LoadAfter, m.Restarts = time.Now(), readTrim("/proc/loadavg"), s.restarts
	for _, l := range lives {
		m.Targets = append(m.Targets, l.name)
	}
}

// saved is what cells.json holds.
type saved struct {
	Meta  *meta
	Cells []cell
}

func saveCells(path string, m *meta, cells []cell) error {
	b, err := json.MarshalIndent(saved{m, cells}, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func loadCells(path string) (*meta, []cell, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var sv saved
	if err := json.Unmarshal(b, &sv); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if sv.Meta == nil {
		return nil, nil, fmt.Errorf("%s: no meta", path)
	}
	return sv.Meta, sv.Cells, nil
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// cmdLine is the first line a command prints (on either stream).
func cmdLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
