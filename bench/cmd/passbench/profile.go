package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// profileMatch picks the perf report lines worth reading for a Go proxy:
// strangler's own packages, logging, metrics, the stdlib proxy and server
// paths, and the garbage collector.
var profileMatch = regexp.MustCompile(`strangler/internal|zerolog|prometheus|net/http\.\(\*conn\)\.serve$|serverHandler|httputil\.\(\*ReverseProxy\)\.ServeHTTP|persistConn\)\.(readLoop|writeLoop)$|gcBgMarkWorker$|gcAssistAlloc$|bgsweep$|os\.\(\*File\)\.Write$`)

// runProfile records a perf profile of one target while wrk loads it with
// the 1 KiB GET, and writes the inclusive share of the interesting
// functions, also as microseconds of the target's CPU per request.
func runProfile(ctx context.Context, o options, l *live, rawDir string) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return fmt.Errorf("perf is missing: apt-get install -y linux-perf")
	}
	w := wrkRun{cores: o.loadCores, threads: o.threads, conns: o.conns, url: l.url + "/1k", duration: o.warmup}
	if _, err := w.run(ctx, ""); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	w.duration = o.duration + 2*time.Second
	type wrkDone struct {
		r   wrkResult
		err error
	}
	done := make(chan wrkDone, 1)
	go func() {
		r, err := w.run(ctx, filepath.Join(rawDir, "wrk-profile-"+l.name+".txt"))
		done <- wrkDone{r, err}
	}()
	time.Sleep(time.Second) // let wrk open its connections first
	data := filepath.Join(rawDir, "perf-"+l.name+".data")
	cpu0, _ := l.p.cpuSeconds()
	t0 := time.Now()
	rec := exec.CommandContext(ctx, "perf", "record", "-F", "4999", "-g", "-p", strconv.Itoa(l.p.pid()),
		"-o", data, "--", "sleep", strconv.Itoa(int(o.duration.Seconds())))
	if out, err := rec.CombinedOutput(); err != nil {
		return fmt.Errorf("perf record: %w: %s", err, out)
	}
	cpu1, _ := l.p.cpuSeconds()
	elapsed := time.Since(t0).Seconds()
	res := <-done
	if res.err != nil {
		return res.err
	}
	// wrk ran longer than perf; scale its count to perf's window.
	reqs := res.r.RPS * elapsed
	perReq := (cpu1 - cpu0) / reqs * 1e6
	report, err := exec.CommandContext(ctx, "perf", "report", "-i", data, "--children", "--sort", "symbol",
		"--stdio", "-g", "none").Output()
	if err != nil {
		return fmt.Errorf("perf report: %w", err)
	}
	full := filepath.Join(rawDir, "perf-"+l.name+".txt")
	if err := os.WriteFile(full, report, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s under wrk -c%d GET /1k: %.0f req/s, %.1f µs CPU per request while perf recorded (perf adds some)\n",
		l.name, o.conns, res.r.RPS, perReq)
	fmt.Printf("%9s %9s  %s\n", "inclusive", "µs/req", "function")
	sc := bufio.NewScanner(strings.NewReader(string(report)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasSuffix(f[0], "%") || !profileMatch.MatchString(f[3]) {
			continue
		}
		share, _ := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		fmt.Printf("%8.2f%% %9.2f  %s\n", share, share/100*perReq, f[3])
	}
	fmt.Println("full report:", full)
	return nil
}
